#include "notices/deadline_schedule.h"

#include <algorithm>
#include <string>
#include <tuple>
#include <utility>

#include "fmt/format.h"

namespace takedown {
namespace {

bool IsFinite(absl::Time t) { return t != absl::InfinitePast() && t != absl::InfiniteFuture(); }

std::string Utc(absl::Time t) { return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone()); }

std::string RegimeLaw(LegalRegime regime) {
  switch (regime) {
    case LegalRegime::kTcoRemovalOrder:
      return "Regulation (EU) 2021/784 Art. 3 (one hour from receipt)";
    case LegalRegime::kNlCsamInstruction:
      return "the Dutch act on online CSAM (term of an aanwijzing at most 12 hours)";
    default:
      return std::string(LegalRegimeName(regime));
  }
}

}  // namespace

absl::StatusOr<absl::Time> RemovalDeadline(const LegalProfile& profile, absl::Time received_at,
                                           std::optional<absl::Duration> authority_term,
                                           absl::Time issued_at) {
  const std::string where = fmt::format("legal profile '{}'", profile.name);
  if (!IsFinite(received_at)) {
    return absl::InvalidArgumentError(fmt::format("{}: the receipt time is not set", where));
  }
  absl::Time start = received_at;
  if (!profile.deadline_from_receipt) {
    if (!IsFinite(issued_at)) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: the deadline counts from the time of issue, but the order or notice has none", where));
    }
    start = issued_at;
  }
  if (!authority_term.has_value()) return start + profile.removal_deadline;

  const absl::Duration term = *authority_term;
  if (term <= absl::ZeroDuration() || term > kMaxProfileDuration) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: the term set by the authority is {}; it must be positive", where, absl::FormatDuration(term)));
  }
  if (std::optional<absl::Duration> max = StatutoryMaxRemovalTerm(profile.regime);
      max.has_value() && term > *max) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: the term set by the authority is {}, longer than the {} allowed by {}; the order is defective "
        "(answer with an inability-to-comply feedback, reason manifest_error)",
        where, absl::FormatDuration(term), absl::FormatDuration(*max), RegimeLaw(profile.regime)));
  }
  return start + term;
}

absl::StatusOr<absl::Time> OrderDeadline(const LegalProfile& profile, const RemovalOrder& order,
                                         absl::Time received_at) {
  if (order.profile != profile.name) {
    return absl::InvalidArgumentError(fmt::format("order '{}' is a '{}' order, not '{}'",
                                                  order.order_reference.substr(0, 128), order.profile,
                                                  profile.name));
  }
  std::optional<absl::Duration> term;
  if (order.term != absl::ZeroDuration()) term = order.term;
  absl::StatusOr<absl::Time> legal = RemovalDeadline(profile, received_at, term, order.issued_at);
  if (!legal.ok()) return legal.status();
  if (IsFinite(order.deadline) && order.deadline > received_at && order.deadline < *legal)
    return order.deadline;
  return *legal;
}

absl::StatusOr<std::vector<Timer>> ScheduleCaseTimers(const LegalProfile& profile, std::string_view case_id,
                                                      absl::Time received_at, absl::Time deadline) {
  if (!IsFinite(received_at) || !IsFinite(deadline) || deadline < received_at) {
    return absl::InvalidArgumentError(fmt::format("case '{}': deadline {} must not be before receipt {}",
                                                  case_id.substr(0, 128), Utc(deadline), Utc(received_at)));
  }
  std::vector<Timer> timers;
  auto add = [&](absl::Time due, TimerKind kind, int step, int period, std::string_view action) {
    Timer t;
    t.due = due;
    t.case_id = std::string(case_id);
    t.kind = kind;
    t.step = step;
    t.period = period;
    t.profile = profile.name;
    t.action = std::string(action);
    timers.push_back(std::move(t));
  };

  for (size_t i = 0; i < profile.reminders.size(); ++i) {
    absl::Time due = deadline - profile.reminders[i];
    if (due > received_at) add(due, TimerKind::kReminder, static_cast<int>(i), 0, "");
  }
  add(deadline, TimerKind::kDeadline, 0, 0, "");
  if (profile.recheck_interval > absl::ZeroDuration()) {
    for (int k = 1; k <= profile.max_recheck_cycles; ++k) {
      add(received_at + k * profile.recheck_interval, TimerKind::kRecheck, k, 0, "");
    }
  }
  for (size_t i = 0; i < profile.escalation.size(); ++i) {
    const EscalationStep& step = profile.escalation[i];
    const absl::Time step_due = deadline + step.after_deadline;
    add(step_due, TimerKind::kEscalation, static_cast<int>(i), 0, step.kind);
    if (step.kind == kEscalationPenaltyOrder && step.penalty_period > absl::ZeroDuration() &&
        step.amount_cents > 0 && step.cap_cents > 0) {
      int64_t periods =
          std::min<int64_t>((step.cap_cents + step.amount_cents - 1) / step.amount_cents, kMaxPenaltyPeriods);
      for (int64_t k = 1; k <= periods; ++k) {
        add(step_due + k * step.penalty_period, TimerKind::kPenaltyPeriod, static_cast<int>(i),
            static_cast<int>(k), step.kind);
      }
    }
  }

  for (const Timer& t : timers) {
    if (absl::Status s = ValidateTimer(t); !s.ok()) return s;
  }
  std::stable_sort(timers.begin(), timers.end(), [](const Timer& a, const Timer& b) {
    return std::make_tuple(a.due, TimerKindCode(a.kind), a.step, a.period) <
           std::make_tuple(b.due, TimerKindCode(b.kind), b.step, b.period);
  });
  return timers;
}

absl::StatusOr<std::optional<Timer>> PreservationExpiryTimer(const LegalProfile& profile,
                                                             std::string_view case_id,
                                                             absl::Time removed_at) {
  if (profile.preservation_period <= absl::ZeroDuration()) return std::optional<Timer>();
  Timer t;
  t.due = removed_at + profile.preservation_period;
  t.case_id = std::string(case_id);
  t.kind = TimerKind::kPreservationExpiry;
  t.profile = profile.name;
  if (absl::Status s = ValidateTimer(t); !s.ok()) return s;
  return std::optional<Timer>(std::move(t));
}

bool TimerIsStale(const Timer& timer, CaseState state) {
  if (timer.kind == TimerKind::kPreservationExpiry || timer.kind == TimerKind::kSecrecyEnd) return false;
  return state == CaseState::kRemoved || state == CaseState::kClosed || state == CaseState::kRejected;
}

DeadlineOutcome Evaluate(absl::Time deadline, absl::Time done_at) {
  DeadlineOutcome outcome;
  outcome.on_time = done_at <= deadline;
  if (outcome.on_time) {
    outcome.margin = deadline - done_at;
  } else {
    outcome.late_by = done_at - deadline;
  }
  return outcome;
}

}  // namespace takedown
