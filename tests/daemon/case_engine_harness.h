// Test helpers for the case engine: an engine over the pipeline harness
// (tests/daemon/pipeline_harness.h) with a fake clock, fakes of the injected
// interfaces (content checker, content action, location resolver), order
// JSON builders and readers of timers, notices and audit records.
// Header-only; for tests in tests/daemon/.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/case_engine.h"
#include "daemon/content_action.h"
#include "daemon/content_checker.h"
#include "daemon/location_resolver.h"
#include "daemon/order_intake.h"
#include "fmt/format.h"
#include "gtest/gtest.h"
#include "notices/json_fields.h"
#include "notices/timer.h"
#include "tests/daemon/pipeline_harness.h"

namespace takedown::testing {

// Re-check outcomes handed out in order; kError once they run out.
class ScriptedChecker final : public ContentChecker {
 public:
  void Push(RecheckOutcome outcome, std::string reason = "scripted") {
    std::lock_guard lock(mu_);
    script_.push_back(ContentCheck{outcome, std::move(reason)});
  }
  absl::StatusOr<ContentCheck> Recheck(const Case& c) override {
    std::lock_guard lock(mu_);
    checked_.push_back(c.id);
    if (script_.empty()) return ContentCheck{RecheckOutcome::kError, "script exhausted"};
    ContentCheck next = script_.front();
    script_.pop_front();
    return next;
  }
  std::vector<std::string> checked() const {
    std::lock_guard lock(mu_);
    return checked_;
  }

 private:
  mutable std::mutex mu_;
  std::deque<ContentCheck> script_;
  std::vector<std::string> checked_;
};

// Records what it was asked to do; fails with `failure` while it is set.
class FakeContentAction final : public ContentAction {
 public:
  absl::Status Execute(const ContentTarget& target, ContentActionKind kind) override {
    std::lock_guard lock(mu_);
    if (!failure.ok()) return failure;
    done.push_back(fmt::format("{} {}:{}", ContentActionKindName(kind), target.source_id, target.key));
    return absl::OkStatus();
  }
  std::mutex mu_;
  absl::Status failure;
  std::vector<std::string> done;
};

// https://host.example/<key> -> source "uploads", key <key>; other hosts are not served.
class FakeResolver final : public LocationResolver {
 public:
  absl::StatusOr<ResolvedLocation> Resolve(std::string_view url) const override {
    constexpr std::string_view kPrefix = "https://files.example-hosting.example/";
    if (!url.starts_with(kPrefix)) return absl::NotFoundError(fmt::format("{} is not hosted here", url));
    return ResolvedLocation{"uploads", std::string(url.substr(kPrefix.size()))};
  }
};

inline std::string TcoOrderJson(const std::string& reference, const std::vector<std::string>& urls,
                                absl::Time issued_at) {
  nlohmann::json locations = nlohmann::json::array();
  for (const std::string& url : urls) locations.push_back({{"url", url}});
  nlohmann::json order{
      {"schema_version", 1},
      {"profile", "tco-removal-order"},
      {"order_reference", reference},
      {"issuing_authority", {{"name", "Example competent authority"}, {"member_state", "DE"}}},
      {"provider", {{"name", "Example Hosting B.V."}}},
      {"legal_basis", "Regulation (EU) 2021/784, Art. 3"},
      {"locations", locations},
      {"reasons", "Incitement to commit terrorist offences."},
      {"issued_at", TimeToJson(issued_at)},
      {"deadline", nullptr},
      {"redress", "Administrative appeal within one month."},
      {"secrecy", false}};
  return order.dump();
}

inline std::string AtkmInstructionJson(const std::string& reference, const std::vector<std::string>& urls,
                                       absl::Time issued_at, int term_minutes) {
  nlohmann::json order = nlohmann::json::parse(TcoOrderJson(reference, urls, issued_at));
  order["profile"] = "nl-csam-instruction";
  order["issuing_authority"] = {{"name", "Autoriteit online Terroristisch en Kinderpornografisch Materiaal"},
                                {"member_state", "NL"}};
  order["legal_basis"] = "Wet bestuursrechtelijke aanpak online kinderpornografisch materiaal";
  order["reasons"] = "The file was assessed as child sexual abuse material.";
  order["secrecy"] = true;
  order["atkm"] = {{"instruction_reference", "AW-" + reference}, {"term_minutes", term_minutes}};
  return order.dump();
}

inline std::vector<Timer> StoredTimers(const Store& store) {
  std::vector<Timer> timers;
  for (const auto& [key, value] : ScanAll(store, Cf::kTimers)) {
    absl::StatusOr<Timer> t = DecodeTimer(key, value);
    EXPECT_TRUE(t.ok()) << t.status();
    if (t.ok()) timers.push_back(*t);
  }
  return timers;
}

inline std::vector<Timer> StoredTimersOf(const Store& store, const std::string& case_id) {
  std::vector<Timer> out;
  for (Timer& t : StoredTimers(store)) {
    if (t.case_id == case_id) out.push_back(std::move(t));
  }
  return out;
}

// Outbox notices of one case by kind -> count.
inline std::map<std::string, int> NoticeKinds(const Store& store, const std::string& case_id) {
  std::map<std::string, int> kinds;
  for (const auto& [id, record] : ReadOutbox(store)) {
    if (record.notice.case_id == case_id) kinds[record.notice.kind]++;
  }
  return kinds;
}

inline std::vector<Notice> NoticesOfKind(const Store& store, const std::string& case_id,
                                         std::string_view kind) {
  std::vector<Notice> out;
  for (const auto& [id, record] : ReadOutbox(store)) {
    if (record.notice.case_id == case_id && record.notice.kind == kind) out.push_back(record.notice);
  }
  return out;
}

// "from->to" of every case.transition audit record of `case_id`, in order.
inline std::vector<std::string> AuditedTransitions(const AuditLog& audit, const std::string& case_id) {
  std::vector<std::string> out;
  for (const AuditRecord& r : ReadAudit(audit)) {
    if (r.action == "case.transition" && r.subject == case_id) {
      out.push_back(r.details.value("from", "?") + "->" + r.details.value("to", "?"));
    }
  }
  return out;
}

inline std::vector<std::string> HistoryPath(const Case& c) {
  std::vector<std::string> out;
  for (const CaseTransition& t : c.history) {
    out.push_back(std::string(CaseStateName(t.from)) + "->" + std::string(CaseStateName(t.to)));
  }
  return out;
}

// The value of one sample line of the Prometheus text, or -1 when absent.
inline double MetricValue(const MetricsRegistry& registry, const std::string& sample) {
  const std::string text = registry.RenderText();
  size_t at = 0;
  while ((at = text.find(sample + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      size_t end = text.find('\n', at);
      return std::stod(text.substr(at + sample.size() + 1, end - at - sample.size() - 1));
    }
    at += sample.size();
  }
  return -1;
}

}  // namespace takedown::testing
