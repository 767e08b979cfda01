#include "notices/legal_profile.h"

#include <algorithm>
#include <array>
#include <string>
#include <utility>

#include "fmt/format.h"

namespace takedown {
namespace {

constexpr size_t kMaxProfileName = 64;
constexpr size_t kMaxLegalBasis = 1024;

// Every number below is documented with its source in docs/legal-profiles.md;
// keep the two in step.

// Six calendar months are at most 184 days (e.g. 1 July to 1 January), so 184
// days never preserves for less than six months.
constexpr absl::Duration kSixMonths = absl::Hours(24 * 184);

LegalProfile TcoRemovalOrder() {
  LegalProfile p;
  p.name = std::string(kTcoRemovalOrderProfile);
  p.regime = LegalRegime::kTcoRemovalOrder;
  p.legal_basis =
      "Regulation (EU) 2021/784 (terrorist content online), Art. 3: removal or disabling "
      "of access as soon as possible and at the latest within one hour of receipt";
  p.removal_deadline = absl::Hours(1);
  p.deadline_from_receipt = true;
  p.reminders = {absl::Minutes(30), absl::Minutes(10)};
  EscalationStep overdue;
  overdue.kind = std::string(kEscalationReminder);
  overdue.after_deadline = absl::ZeroDuration();
  overdue.basis = "Regulation (EU) 2021/784 Art. 3(3): one-hour deadline passed";
  EscalationStep fine;
  fine.kind = std::string(kEscalationFineProposal);
  fine.after_deadline = absl::Hours(24);
  fine.cap_turnover_basis_points = 400;
  fine.basis =
      "Regulation (EU) 2021/784 Art. 18(3): systematic or persistent failure to comply with "
      "one-hour removal orders, penalties up to 4 % of global turnover";
  p.escalation = {overdue, fine};
  p.preservation_period = kSixMonths;
  p.preserve_content = true;
  p.inform_content_provider_by_default = true;
  p.feedback_to_issuer = true;
  p.statement_of_reasons = false;
  p.review = ReviewPolicy::kAuthorityDecided;
  return p;
}

LegalProfile NlCsamInstruction() {
  LegalProfile p;
  p.name = std::string(kNlCsamInstructionProfile);
  p.regime = LegalRegime::kNlCsamInstruction;
  p.legal_basis =
      "Wet bestuursrechtelijke aanpak online kinderpornografisch materiaal (Stb. 2024, 186): "
      "aanwijzing of the ATKM, removal within the term it sets, at most 12 hours";
  p.removal_deadline = absl::Hours(12);
  p.deadline_from_receipt = true;
  p.reminders = {absl::Hours(2), absl::Minutes(30)};
  EscalationStep overdue;
  overdue.kind = std::string(kEscalationReminder);
  overdue.after_deadline = absl::ZeroDuration();
  overdue.basis = "aanwijzing: term passed";
  EscalationStep penalty;
  penalty.kind = std::string(kEscalationPenaltyOrder);
  penalty.after_deadline = absl::Hours(24);
  penalty.amount_cents = 1'000'00;  // placeholder: EUR 1,000 per period
  penalty.cap_cents = 50'000'00;    // placeholder: at most EUR 50,000 in total
  penalty.penalty_period = absl::Hours(24);
  penalty.amount_is_placeholder = true;
  penalty.basis = "last onder dwangsom to enforce the aanwijzing (amounts set by the ATKM per order)";
  EscalationStep fine;
  fine.kind = std::string(kEscalationFineProposal);
  fine.after_deadline = absl::Hours(24 * 7);
  fine.cap_turnover_basis_points = 1000;
  fine.amount_is_placeholder = true;
  fine.basis = "bestuurlijke boete: turnover-dependent, up to 10 % of turnover for repeated violations";
  p.escalation = {overdue, penalty, fine};
  p.preservation_period = absl::ZeroDuration();
  p.inform_content_provider_by_default = false;
  p.feedback_to_issuer = true;
  p.statement_of_reasons = false;
  p.review = ReviewPolicy::kAuthorityDecided;
  return p;
}

LegalProfile ProviderVoluntary() {
  LegalProfile p;
  p.name = std::string(kProviderVoluntaryProfile);
  p.regime = LegalRegime::kProviderVoluntary;
  p.legal_basis =
      "Provider's terms and conditions; Regulation (EU) 2022/2065 (Digital Services Act) "
      "Art. 16 and 17";
  p.removal_deadline = absl::Hours(24);
  p.deadline_from_receipt = true;
  p.reminders = {absl::Hours(4), absl::Hours(1)};
  EscalationStep overdue;
  overdue.kind = std::string(kEscalationReminder);
  overdue.after_deadline = absl::ZeroDuration();
  overdue.basis = "internal deadline passed";
  p.escalation = {overdue};
  p.preservation_period = absl::ZeroDuration();
  p.inform_content_provider_by_default = true;
  p.feedback_to_issuer = false;
  p.statement_of_reasons = true;
  p.review = ReviewPolicy::kReviewPerceptual;
  return p;
}

LegalProfile AuthorityNoticeCycle() {
  LegalProfile p;
  p.name = std::string(kAuthorityNoticeCycleProfile);
  p.regime = LegalRegime::kAuthorityNoticeCycle;
  p.legal_basis =
      "Notice and re-notify until removed (hotline practice; Project Arachnid re-sends "
      "every 24 hours)";
  p.removal_deadline = absl::Hours(24);
  p.deadline_from_receipt = true;
  EscalationStep overdue;
  overdue.kind = std::string(kEscalationReminder);
  overdue.after_deadline = absl::ZeroDuration();
  overdue.basis = "first notice not acted on within 24 hours";
  EscalationStep referral;
  referral.kind = std::string(kEscalationReferral);
  referral.after_deadline = absl::Hours(48);  // after three 24-hour cycles
  referral.basis = "still online after three notice cycles: refer to the competent authority";
  p.escalation = {overdue, referral};
  p.preservation_period = absl::ZeroDuration();
  p.inform_content_provider_by_default = false;
  p.feedback_to_issuer = false;
  p.statement_of_reasons = false;
  p.review = ReviewPolicy::kHumanReview;
  p.recheck_interval = absl::Hours(24);
  p.max_recheck_cycles = 30;
  return p;
}

std::string Where(const LegalProfile& p) {
  return fmt::format("legal profile '{}'", p.name.size() <= kMaxProfileName ? p.name : p.name.substr(0, 64));
}

absl::Status FieldError(const LegalProfile& p, std::string_view field, std::string_view problem) {
  return absl::InvalidArgumentError(fmt::format("{}: field '{}' {}", Where(p), field, problem));
}

std::string DurationText(absl::Duration d) { return absl::FormatDuration(d); }

bool IsFiniteNonNegative(absl::Duration d) { return d >= absl::ZeroDuration() && d <= kMaxProfileDuration; }

bool IsKnownEscalationKind(std::string_view kind) {
  return kind == kEscalationReminder || kind == kEscalationPenaltyOrder || kind == kEscalationFineProposal ||
         kind == kEscalationReferral;
}

absl::Status ValidateStep(const LegalProfile& p, size_t i, const EscalationStep& s) {
  const std::string field = fmt::format("escalation[{}]", i);
  auto error = [&](std::string_view sub, std::string_view problem) {
    return FieldError(p, fmt::format("{}.{}", field, sub), problem);
  };
  if (!IsKnownEscalationKind(s.kind)) {
    return error("kind", fmt::format("is '{}'; use reminder, penalty_order, fine_proposal or referral",
                                     s.kind.substr(0, 64)));
  }
  if (!IsFiniteNonNegative(s.after_deadline)) {
    return error("after_deadline", fmt::format("is {}; it must be in [0, {}]", DurationText(s.after_deadline),
                                               DurationText(kMaxProfileDuration)));
  }
  if (s.amount_cents < 0) return error("amount_cents", "must not be negative");
  if (s.cap_cents < 0) return error("cap_cents", "must not be negative");
  if (s.cap_turnover_basis_points < 0 || s.cap_turnover_basis_points > 10'000) {
    return error("cap_turnover_basis_points",
                 fmt::format("is {}; it must be in [0, 10000] (10000 = 100 %)", s.cap_turnover_basis_points));
  }
  if (s.cap_cents > 0 && s.amount_cents > s.cap_cents) {
    return error("amount_cents", fmt::format("({}) exceeds cap_cents ({})", s.amount_cents, s.cap_cents));
  }
  if (s.currency.size() != 3 ||
      !std::all_of(s.currency.begin(), s.currency.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return error("currency", "must be a three-letter ISO 4217 code such as EUR");
  }
  if (s.basis.size() > kMaxLegalBasis) {
    return error("basis", fmt::format("is {} bytes long; the limit is {}", s.basis.size(), kMaxLegalBasis));
  }
  if (s.penalty_period != absl::ZeroDuration()) {
    if (s.kind != kEscalationPenaltyOrder) {
      return error("penalty_period", "is only allowed for penalty_order steps");
    }
    if (s.penalty_period < absl::Minutes(1) || s.penalty_period > kMaxProfileDuration) {
      return error("penalty_period",
                   fmt::format("is {}; it must be in [1m, {}]", DurationText(s.penalty_period),
                               DurationText(kMaxProfileDuration)));
    }
    if (s.amount_cents <= 0)
      return error("amount_cents", "must be positive for a penalty order with a period");
    // A penalty payment order must state the amount above which nothing more is
    // forfeited (Awb art. 5:32b), and it bounds the number of timers.
    if (s.cap_cents <= 0) return error("cap_cents", "must be positive for a penalty order with a period");
    int64_t periods = (s.cap_cents + s.amount_cents - 1) / s.amount_cents;
    if (periods > kMaxPenaltyPeriods) {
      return error("cap_cents", fmt::format("allows {} penalty periods of {} cents; at most {} are supported",
                                            periods, s.amount_cents, kMaxPenaltyPeriods));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view LegalRegimeName(LegalRegime regime) {
  switch (regime) {
    case LegalRegime::kTcoRemovalOrder:
      return "tco";
    case LegalRegime::kNlCsamInstruction:
      return "nl_csam";
    case LegalRegime::kProviderVoluntary:
      return "provider_voluntary";
    case LegalRegime::kAuthorityNoticeCycle:
      return "authority_notice_cycle";
  }
  return "unknown";
}

absl::StatusOr<LegalRegime> ParseLegalRegime(std::string_view name) {
  for (LegalRegime r : {LegalRegime::kTcoRemovalOrder, LegalRegime::kNlCsamInstruction,
                        LegalRegime::kProviderVoluntary, LegalRegime::kAuthorityNoticeCycle}) {
    if (name == LegalRegimeName(r)) return r;
  }
  return absl::InvalidArgumentError(
      fmt::format("unknown legal regime '{}'; use tco, nl_csam, provider_voluntary or authority_notice_cycle",
                  name.substr(0, 64)));
}

std::optional<absl::Duration> StatutoryMaxRemovalTerm(LegalRegime regime) {
  switch (regime) {
    case LegalRegime::kTcoRemovalOrder:
      return absl::Hours(1);
    case LegalRegime::kNlCsamInstruction:
      return absl::Hours(12);
    case LegalRegime::kProviderVoluntary:
    case LegalRegime::kAuthorityNoticeCycle:
      return std::nullopt;
  }
  return std::nullopt;
}

std::string_view ReviewPolicyName(ReviewPolicy policy) {
  switch (policy) {
    case ReviewPolicy::kHumanReview:
      return "human_review";
    case ReviewPolicy::kReviewPerceptual:
      return "review_perceptual";
    case ReviewPolicy::kAuthorityDecided:
      return "authority_decided";
  }
  return "unknown";
}

absl::StatusOr<ReviewPolicy> ParseReviewPolicy(std::string_view name) {
  for (ReviewPolicy p :
       {ReviewPolicy::kHumanReview, ReviewPolicy::kReviewPerceptual, ReviewPolicy::kAuthorityDecided}) {
    if (name == ReviewPolicyName(p)) return p;
  }
  return absl::InvalidArgumentError(
      fmt::format("unknown review policy '{}'; use human_review, review_perceptual or authority_decided",
                  name.substr(0, 64)));
}

absl::StatusOr<LegalProfile> ValidateProfile(LegalProfile p) {
  if (p.name.empty() || p.name.size() > kMaxProfileName ||
      !std::all_of(p.name.begin(), p.name.end(),
                   [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; })) {
    return FieldError(p, "name", "must be 1..64 characters of [a-z0-9-]");
  }
  if (p.legal_basis.empty() || p.legal_basis.size() > kMaxLegalBasis) {
    return FieldError(p, "legal_basis", fmt::format("must be 1..{} bytes", kMaxLegalBasis));
  }
  if (p.removal_deadline <= absl::ZeroDuration() || p.removal_deadline > kMaxProfileDuration) {
    return FieldError(p, "removal_deadline",
                      fmt::format("is {}; it must be positive and at most {}",
                                  DurationText(p.removal_deadline), DurationText(kMaxProfileDuration)));
  }
  if (std::optional<absl::Duration> max = StatutoryMaxRemovalTerm(p.regime);
      max.has_value() && p.removal_deadline > *max) {
    return FieldError(p, "removal_deadline",
                      fmt::format("is {}; the {} regime allows at most {}", DurationText(p.removal_deadline),
                                  LegalRegimeName(p.regime), DurationText(*max)));
  }

  if (p.reminders.size() > kMaxProfileReminders) {
    return FieldError(p, "reminders",
                      fmt::format("has {} entries; at most {}", p.reminders.size(), kMaxProfileReminders));
  }
  for (size_t i = 0; i < p.reminders.size(); ++i) {
    // A reminder longer than the deadline is allowed: an authority may set a
    // longer term per order, and the schedule skips alerts before receipt.
    if (p.reminders[i] <= absl::ZeroDuration() || p.reminders[i] > kMaxProfileDuration) {
      return FieldError(p, fmt::format("reminders[{}]", i),
                        fmt::format("is {}; a reminder is a positive offset before the deadline, at most {}",
                                    DurationText(p.reminders[i]), DurationText(kMaxProfileDuration)));
    }
  }
  // Earliest alert first: the largest offset before the deadline.
  std::sort(p.reminders.begin(), p.reminders.end(), std::greater<>());
  if (auto dup = std::adjacent_find(p.reminders.begin(), p.reminders.end()); dup != p.reminders.end()) {
    return FieldError(p, "reminders", fmt::format("lists {} twice", DurationText(*dup)));
  }

  if (p.escalation.size() > kMaxEscalationSteps) {
    return FieldError(p, "escalation",
                      fmt::format("has {} steps; at most {}", p.escalation.size(), kMaxEscalationSteps));
  }
  for (size_t i = 0; i < p.escalation.size(); ++i) {
    if (absl::Status s = ValidateStep(p, i, p.escalation[i]); !s.ok()) return s;
    if (i > 0 && p.escalation[i].after_deadline < p.escalation[i - 1].after_deadline) {
      return FieldError(
          p, fmt::format("escalation[{}].after_deadline", i),
          fmt::format("is {}, earlier than the previous step's {}; order steps by after_deadline",
                      DurationText(p.escalation[i].after_deadline),
                      DurationText(p.escalation[i - 1].after_deadline)));
    }
  }

  if (!IsFiniteNonNegative(p.preservation_period)) {
    return FieldError(p, "preservation_period",
                      fmt::format("is {}; it must be in [0, {}]", DurationText(p.preservation_period),
                                  DurationText(kMaxProfileDuration)));
  }
  if (p.preserve_content && p.preservation_period <= absl::ZeroDuration()) {
    return FieldError(p, "preserve_content",
                      "is on but preservation_period is 0: preserved content needs a retention period, "
                      "after which it is erased");
  }
  if (!IsFiniteNonNegative(p.recheck_interval) ||
      (p.recheck_interval != absl::ZeroDuration() && p.recheck_interval < absl::Minutes(1))) {
    return FieldError(p, "recheck_interval",
                      fmt::format("is {}; use 0 (no re-checks) or 1m..{}", DurationText(p.recheck_interval),
                                  DurationText(kMaxProfileDuration)));
  }
  if (p.max_recheck_cycles < 0 || p.max_recheck_cycles > kMaxRecheckCycles) {
    return FieldError(p, "max_recheck_cycles",
                      fmt::format("is {}; it must be in [0, {}]", p.max_recheck_cycles, kMaxRecheckCycles));
  }
  if ((p.recheck_interval == absl::ZeroDuration()) != (p.max_recheck_cycles == 0)) {
    return FieldError(p, "max_recheck_cycles",
                      "and recheck_interval must both be zero (no re-checks) or both be positive");
  }
  return p;
}

const std::vector<LegalProfile>& BuiltinProfiles() {
  static const std::vector<LegalProfile>* const kProfiles = [] {
    auto* profiles = new std::vector<LegalProfile>;
    for (LegalProfile p :
         {TcoRemovalOrder(), NlCsamInstruction(), ProviderVoluntary(), AuthorityNoticeCycle()}) {
      absl::StatusOr<LegalProfile> valid = ValidateProfile(std::move(p));
      // The built-ins are constants checked by the tests; a failure here is a
      // programming error, so keep the unvalidated form out of reach.
      if (valid.ok()) profiles->push_back(*std::move(valid));
    }
    return profiles;
  }();
  return *kProfiles;
}

absl::StatusOr<LegalProfile> FindProfile(std::string_view name, const LegalProfileOverrides& o) {
  const std::vector<LegalProfile>& builtins = BuiltinProfiles();
  auto it =
      std::find_if(builtins.begin(), builtins.end(), [&](const LegalProfile& p) { return p.name == name; });
  if (it == builtins.end()) {
    std::string known;
    for (const LegalProfile& p : builtins) known += (known.empty() ? "" : ", ") + p.name;
    return absl::NotFoundError(
        fmt::format("no legal profile named '{}'; the built-in profiles are {}", name.substr(0, 64), known));
  }
  LegalProfile p = *it;
  if (o.legal_basis) p.legal_basis = *o.legal_basis;
  if (o.removal_deadline) p.removal_deadline = *o.removal_deadline;
  if (o.reminders) p.reminders = *o.reminders;
  if (o.escalation) p.escalation = *o.escalation;
  if (o.preservation_period) p.preservation_period = *o.preservation_period;
  if (o.preserve_content) p.preserve_content = *o.preserve_content;
  if (o.inform_content_provider_by_default)
    p.inform_content_provider_by_default = *o.inform_content_provider_by_default;
  if (o.feedback_to_issuer) p.feedback_to_issuer = *o.feedback_to_issuer;
  if (o.statement_of_reasons) p.statement_of_reasons = *o.statement_of_reasons;
  if (o.review) p.review = *o.review;
  if (o.recheck_interval) p.recheck_interval = *o.recheck_interval;
  if (o.max_recheck_cycles) p.max_recheck_cycles = *o.max_recheck_cycles;
  return ValidateProfile(std::move(p));
}

std::optional<CaseState> StateAfterEscalation(std::string_view kind) {
  if (kind == kEscalationReminder) return CaseState::kReminded;
  if (kind == kEscalationPenaltyOrder || kind == kEscalationReferral) return CaseState::kEscalated;
  return std::nullopt;
}

}  // namespace takedown
