#include "daemon/compliance_stats.h"

#include <algorithm>
#include <cmath>

#include "common/status_macros.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace takedown {
namespace {

absl::Duration NearestRank(const std::vector<absl::Duration>& sorted, double p) {
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

}  // namespace

void ComplianceAccumulator::Add(const Case& c, absl::Time now) {
  if (c.terms.deadline == absl::InfinitePast() || c.state == CaseState::kRejected) return;
  auto it = std::find_if(providers_.begin(), providers_.end(),
                         [&](const Running& r) { return r.figures.provider == c.terms.provider; });
  if (it == providers_.end()) {
    providers_.push_back(Running{});
    providers_.back().figures.provider = c.terms.provider;
    it = providers_.end() - 1;
  }
  ProviderCompliance& f = it->figures;
  ++f.cases;
  const bool removed = c.terms.removed_at != absl::InfinitePast();
  if (removed) {
    ++f.removed;
    ++f.decided;
    if (c.terms.removed_at <= c.terms.deadline) ++f.removed_on_time;
    if (c.terms.received_at != absl::InfinitePast())
      it->times.push_back(c.terms.removed_at - c.terms.received_at);
  } else if (c.terms.deadline < now) {
    ++f.overdue_open;
    ++f.decided;
  }
  if (std::any_of(c.history.begin(), c.history.end(), [](const CaseTransition& t) {
        return t.to == CaseState::kEscalated || t.to == CaseState::kFined;
      })) {
    ++f.escalated;
  }
}

std::vector<ProviderCompliance> ComplianceAccumulator::Finish() const {
  std::vector<ProviderCompliance> out;
  for (const Running& r : providers_) {
    ProviderCompliance f = r.figures;
    if (f.decided > 0)
      f.share_within_deadline = static_cast<double>(f.removed_on_time) / static_cast<double>(f.decided);
    if (!r.times.empty()) {
      std::vector<absl::Duration> sorted = r.times;
      std::sort(sorted.begin(), sorted.end());
      f.median_time_to_removal = NearestRank(sorted, 0.5);
      f.p95_time_to_removal = NearestRank(sorted, 0.95);
    }
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(),
            [](const ProviderCompliance& a, const ProviderCompliance& b) { return a.provider < b.provider; });
  return out;
}

absl::StatusOr<std::vector<ProviderCompliance>> ComputeComplianceStats(const Store& store, absl::Time now) {
  ComplianceAccumulator accumulator;
  absl::Status inner;
  RETURN_IF_ERROR(store.Scan(Cf::kCases, "", [&](std::string_view key, std::string_view value) {
    nlohmann::json json = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
    absl::StatusOr<Case> c = json.is_discarded()
                                 ? absl::StatusOr<Case>(absl::InvalidArgumentError("not JSON"))
                                 : CaseFromJson(json);
    if (!c.ok()) {
      inner = absl::DataLossError(
          fmt::format("case {}: {}", std::string(key).substr(0, 64), std::string(c.status().message())));
      return false;
    }
    accumulator.Add(*c, now);
    return true;
  }));
  RETURN_IF_ERROR(inner);
  return accumulator.Finish();
}

}  // namespace takedown
