// LegalProfile: the deadlines, reminders, escalation steps, penalty amounts
// and retention rules that one legal basis imposes on a case. Profiles are
// plain data; the deadline schedule (notices/deadline_schedule.h) turns a
// profile plus a receipt time into timers.
//
// Four built-in profiles (BuiltinProfiles) carry the defaults documented, with
// their sources, in docs/legal-profiles.md: tco-removal-order,
// nl-csam-instruction, provider-voluntary and authority-notice-cycle. Amounts
// the law leaves to the authority are placeholders (EscalationStep::
// amount_is_placeholder) that an operator or the authority must set.
//
// Every function is pure and thread-safe. BuiltinProfiles() returns a
// reference to immutable data that lives for the whole program.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "notices/case_state.h"

namespace takedown {

// Names of the built-in profiles.
inline constexpr std::string_view kTcoRemovalOrderProfile = "tco-removal-order";
inline constexpr std::string_view kNlCsamInstructionProfile = "nl-csam-instruction";
inline constexpr std::string_view kProviderVoluntaryProfile = "provider-voluntary";
inline constexpr std::string_view kAuthorityNoticeCycleProfile = "authority-notice-cycle";

// EscalationStep::kind values.
inline constexpr std::string_view kEscalationReminder = "reminder";
inline constexpr std::string_view kEscalationPenaltyOrder = "penalty_order";  // last onder dwangsom
inline constexpr std::string_view kEscalationFineProposal = "fine_proposal";  // bestuurlijke boete, Art. 18
inline constexpr std::string_view kEscalationReferral = "referral";  // hand over to the competent authority

// Bounds that keep a profile (and the timers it produces) small.
inline constexpr size_t kMaxProfileReminders = 16;
inline constexpr size_t kMaxEscalationSteps = 16;
inline constexpr int kMaxRecheckCycles = 1000;
inline constexpr int kMaxPenaltyPeriods = 1000;
// Longest duration accepted anywhere in a profile (deadlines, offsets, periods).
inline constexpr absl::Duration kMaxProfileDuration = absl::Hours(24 * 366 * 10);

// Which law's hard limits apply. A profile configured under a regime can
// change the defaults but not exceed the statutory maximum removal term.
enum class LegalRegime {
  kTcoRemovalOrder,       // EU 2021/784 Art. 3: at the latest one hour from receipt
  kNlCsamInstruction,     // Dutch CSAM act, aanwijzing: term at most 12 hours
  kProviderVoluntary,     // DSA: the provider's own terms; no statutory term
  kAuthorityNoticeCycle,  // notice and re-notify; no statutory term
};

// "tco", "nl_csam", "provider_voluntary", "authority_notice_cycle".
std::string_view LegalRegimeName(LegalRegime regime);
absl::StatusOr<LegalRegime> ParseLegalRegime(std::string_view name);

// The longest removal term the law allows under `regime` (1 h, 12 h), or
// nullopt when the law sets none.
std::optional<absl::Duration> StatutoryMaxRemovalTerm(LegalRegime regime);

// Who decides that a match is actionable before anything leaves the system.
enum class ReviewPolicy {
  kHumanReview,       // a reviewer confirms every case
  kReviewPerceptual,  // exact matches on lists that allow it act at once; perceptual ones need review
  kAuthorityDecided,  // the order is the decision; the provider only checks for manifest errors
};

// "human_review", "review_perceptual", "authority_decided".
std::string_view ReviewPolicyName(ReviewPolicy policy);
absl::StatusOr<ReviewPolicy> ParseReviewPolicy(std::string_view name);

// One step taken when a case is still not resolved `after_deadline` past its
// removal deadline.
struct EscalationStep {
  std::string
      kind;  // kEscalationReminder | kEscalationPenaltyOrder | kEscalationFineProposal | kEscalationReferral
  absl::Duration after_deadline;  // >= 0; steps are ordered by this
  // Penalty order: the sum forfeited per penalty_period the order is not
  // complied with. Fine proposal: the proposed fine (0: left to the authority).
  int64_t amount_cents = 0;
  // Penalty order: the total above which nothing more is forfeited (required
  // when penalty_period > 0). Fine: an absolute maximum, 0 if none.
  int64_t cap_cents = 0;
  // Maximum as a share of the provider's annual turnover, in basis points
  // (400 = 4 %), 0 if none. The law states fine caps this way; the turnover is
  // not known to takedownd, so this is carried to the notice, not computed.
  int cap_turnover_basis_points = 0;
  // Penalty order: the period per which amount_cents is forfeited; zero for a
  // one-off step. Each period produces a kPenaltyPeriod timer.
  absl::Duration penalty_period;
  std::string currency = "EUR";  // ISO 4217, three upper-case letters
  // True when amount_cents/cap_cents are takedownd placeholders rather than
  // amounts from the law or the authority; notices must say so.
  bool amount_is_placeholder = false;
  std::string basis;  // the provision this step rests on, for notices and audit

  friend bool operator==(const EscalationStep&, const EscalationStep&) = default;
};

struct LegalProfile {
  std::string name;  // 1..64 of [a-z0-9-]
  LegalRegime regime = LegalRegime::kProviderVoluntary;
  std::string legal_basis;  // citation shown in notices, 1..1024 bytes
  // Time allowed for removal or disabling, counted from receipt of the order or
  // notice (or from its time of issue when deadline_from_receipt is false).
  // An authority may set a shorter term per order (RemovalDeadline).
  absl::Duration removal_deadline;
  bool deadline_from_receipt = true;
  // Alerts before the deadline, as offsets before it (e.g. 15 min before), to
  // whoever must act. Alerts that would fall before receipt are skipped.
  std::vector<absl::Duration> reminders;
  // Steps after the deadline, ordered by after_deadline.
  std::vector<EscalationStep> escalation;
  // How long removed content and related data are kept after removal; zero
  // for no preservation timer.
  absl::Duration preservation_period;
  // The removed content itself must be kept (TCO Art. 6(1)), not only the
  // related data: before an order's action destroys it at the source, it is
  // sealed in the preservation vault (daemon/preservation_vault.h).
  bool preserve_content = false;
  bool inform_content_provider_by_default = false;
  bool feedback_to_issuer = false;    // send removal feedback to the issuing authority
  bool statement_of_reasons = false;  // DSA Art. 17 statement to the affected user
  ReviewPolicy review = ReviewPolicy::kHumanReview;
  // Re-check (fetch again; re-notify if still present) every recheck_interval
  // from receipt, max_recheck_cycles times. Zero interval: no re-checks.
  absl::Duration recheck_interval;
  int max_recheck_cycles = 0;

  friend bool operator==(const LegalProfile&, const LegalProfile&) = default;
};

// Changes an operator (or the config module) applies to a built-in profile.
// Unset members keep the built-in value.
struct LegalProfileOverrides {
  std::optional<std::string> legal_basis;
  std::optional<absl::Duration> removal_deadline;
  std::optional<std::vector<absl::Duration>> reminders;
  std::optional<std::vector<EscalationStep>> escalation;
  std::optional<absl::Duration> preservation_period;
  std::optional<bool> preserve_content;
  std::optional<bool> inform_content_provider_by_default;
  std::optional<bool> feedback_to_issuer;
  std::optional<bool> statement_of_reasons;
  std::optional<ReviewPolicy> review;
  std::optional<absl::Duration> recheck_interval;
  std::optional<int> max_recheck_cycles;
};

// Checks `profile` and returns it normalised (reminders sorted, earliest
// alert first). InvalidArgument naming the profile and field when: the name
// or legal basis is malformed; removal_deadline is not in (0,
// kMaxProfileDuration] or exceeds the regime's statutory maximum (e.g. more
// than 12 h for nl-csam-instruction); a reminder is not positive or repeats
// (one at or beyond the deadline is kept: the schedule skips alerts that
// would fall before receipt); escalation steps are unknown, unordered, or
// have negative amounts; a penalty order with a period lacks an amount or a
// cap, or would need more than kMaxPenaltyPeriods periods; the currency is
// not three upper-case letters; recheck settings are inconsistent;
// preserve_content is on without a preservation period.
absl::StatusOr<LegalProfile> ValidateProfile(LegalProfile profile);

// The four built-in profiles, in the order named in the header comment.
const std::vector<LegalProfile>& BuiltinProfiles();

// The built-in profile `name` with `overrides` applied, validated.
// NotFound naming the built-in profiles for an unknown name; the errors of
// ValidateProfile for overrides that break the profile.
absl::StatusOr<LegalProfile> FindProfile(std::string_view name, const LegalProfileOverrides& overrides = {});

// The case state an escalation step moves an overdue case to: reminder ->
// reminded; penalty_order and referral -> escalated. nullopt for
// fine_proposal (a human imposes the fine and moves the case to fined) and
// unknown kinds.
std::optional<CaseState> StateAfterEscalation(std::string_view kind);

}  // namespace takedown
