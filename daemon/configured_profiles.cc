#include "daemon/configured_profiles.h"

#include <algorithm>
#include <string>

#include "fmt/format.h"

namespace takedown {
namespace {

absl::StatusOr<LegalProfileOverrides> ToOverrides(const LegalProfileConfig& entry) {
  LegalProfileOverrides o;
  o.legal_basis = entry.legal_basis;
  if (entry.removal_deadline_seconds) o.removal_deadline = absl::Seconds(*entry.removal_deadline_seconds);
  if (entry.reminder_seconds) {
    o.reminders.emplace();
    for (int64_t s : *entry.reminder_seconds) o.reminders->push_back(absl::Seconds(s));
  }
  if (entry.escalation) {
    o.escalation.emplace();
    for (const EscalationStepConfig& c : *entry.escalation) {
      EscalationStep step;
      step.kind = c.kind;
      step.after_deadline = absl::Seconds(c.after_deadline_seconds);
      step.amount_cents = c.amount_cents;
      step.cap_cents = c.cap_cents;
      step.cap_turnover_basis_points = c.cap_turnover_basis_points;
      step.penalty_period = absl::Seconds(c.period_seconds);
      step.currency = c.currency;
      step.amount_is_placeholder = false;  // set by the operator
      step.basis = c.basis;
      o.escalation->push_back(std::move(step));
    }
  }
  if (entry.preservation_period_seconds)
    o.preservation_period = absl::Seconds(*entry.preservation_period_seconds);
  o.preserve_content = entry.preserve_content;
  o.inform_content_provider_by_default = entry.inform_content_provider;
  o.feedback_to_issuer = entry.feedback_to_issuer;
  o.statement_of_reasons = entry.statement_of_reasons;
  if (entry.review) {
    absl::StatusOr<ReviewPolicy> review = ParseReviewPolicy(*entry.review);
    if (!review.ok()) return review.status();
    o.review = *review;
  }
  if (entry.recheck_interval_seconds) o.recheck_interval = absl::Seconds(*entry.recheck_interval_seconds);
  o.max_recheck_cycles = entry.max_recheck_cycles;
  return o;
}

}  // namespace

absl::StatusOr<std::vector<LegalProfile>> ConfiguredProfiles(const std::vector<LegalProfileConfig>& entries) {
  std::vector<LegalProfile> profiles = BuiltinProfiles();
  auto builtin = [&](const std::string& name) {
    return std::find_if(profiles.begin(), profiles.begin() + static_cast<long>(BuiltinProfiles().size()),
                        [&](const LegalProfile& p) { return p.name == name; });
  };
  const auto builtin_end = [&] { return profiles.begin() + static_cast<long>(BuiltinProfiles().size()); };
  for (size_t i = 0; i < entries.size(); ++i) {
    const LegalProfileConfig& entry = entries[i];
    const std::string where = fmt::format("legal_profiles[{}] ({})", i, entry.name);
    auto fail = [&](const absl::Status& status) {
      return absl::InvalidArgumentError(fmt::format("{}: {}", where, std::string(status.message())));
    };
    absl::StatusOr<LegalProfileOverrides> overrides = ToOverrides(entry);
    if (!overrides.ok()) return fail(overrides.status());
    const bool is_builtin = builtin(entry.name) != builtin_end();
    if (entry.base.empty() && !is_builtin) {
      return fail(
          absl::InvalidArgumentError("not a built-in profile; to add a profile, give `base:` (one of "
                                     "tco-removal-order, nl-csam-instruction, "
                                     "provider-voluntary, authority-notice-cycle)"));
    }
    if (!entry.base.empty() && is_builtin) {
      return fail(absl::InvalidArgumentError(
          "a built-in profile is changed in place: remove `base:` or choose a new name"));
    }
    absl::StatusOr<LegalProfile> made = FindProfile(entry.base.empty() ? entry.name : entry.base, *overrides);
    if (!made.ok()) return fail(made.status());
    if (entry.base.empty()) {
      *builtin(entry.name) = *std::move(made);
      continue;
    }
    made->name = entry.name;
    absl::StatusOr<LegalProfile> renamed = ValidateProfile(*std::move(made));
    if (!renamed.ok()) return fail(renamed.status());
    profiles.push_back(*std::move(renamed));
  }
  return profiles;
}

}  // namespace takedown
