// Deadline arithmetic for cases under a legal profile: the removal deadline of
// an order or notice, every timer it implies (reminders before the deadline,
// the deadline itself, re-checks, escalation steps, penalty periods, end of
// preservation), and whether an action met the deadline.
//
// All arithmetic is on absl::Time (UTC, from the injected clock); nothing here
// reads the clock or depends on the local time zone, so a deadline across a
// daylight-saving change is exactly as long as the law says. Results are
// deterministic: the same inputs always give the same timers in the same
// order. Every function is pure and thread-safe.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "notices/case_state.h"
#include "notices/legal_profile.h"
#include "notices/removal_order.h"
#include "notices/timer.h"

namespace takedown {

// The removal deadline: start + (authority_term if given, else
// profile.removal_deadline), where start is `received_at`, or `issued_at` for
// a profile with deadline_from_receipt == false.
// InvalidArgument when: a time is not finite; the profile counts from issue
// and issued_at is unset; authority_term is not positive, or exceeds the
// regime's statutory maximum (more than 1 h for a TCO order, more than 12 h
// for a Dutch CSAM instruction). An authority term may be longer than the
// profile's default as long as the law allows it.
absl::StatusOr<absl::Time> RemovalDeadline(const LegalProfile& profile, absl::Time received_at,
                                           std::optional<absl::Duration> authority_term = std::nullopt,
                                           absl::Time issued_at = absl::InfinitePast());

// The binding deadline of a parsed order received at `received_at`:
// RemovalDeadline with the order's ATKM term (if any) and time of issue. A
// deadline stated in the order is used only when it is stricter and still
// after receipt; a stated deadline can never extend the legal one.
// InvalidArgument if order.profile is not profile.name, or RemovalDeadline
// fails.
absl::StatusOr<absl::Time> OrderDeadline(const LegalProfile& profile, const RemovalOrder& order,
                                         absl::Time received_at);

// Every timer of a case received at `received_at` with removal deadline
// `deadline`, sorted by (due, kind code, step, period):
//  - kReminder   step i at deadline - profile.reminders[i], only if after received_at;
//  - kDeadline   step 0 at deadline;
//  - kRecheck    step k at received_at + k * recheck_interval, k = 1..max_recheck_cycles;
//  - kEscalation step i at deadline + escalation[i].after_deadline, action = its kind;
//  - kPenaltyPeriod step i, period k at that step's time + k * penalty_period,
//    k = 1..ceil(cap_cents / amount_cents), for penalty orders with a period.
// Every timer carries case_id and profile.name. InvalidArgument if deadline
// is before received_at, or a timer would be invalid (ValidateTimer: e.g. an
// empty case id or a time past year 9999).
absl::StatusOr<std::vector<Timer>> ScheduleCaseTimers(const LegalProfile& profile, std::string_view case_id,
                                                      absl::Time received_at, absl::Time deadline);

// The kPreservationExpiry timer for a case whose content was removed at
// `removed_at`, or nullopt if the profile preserves nothing
// (preservation_period zero). InvalidArgument for an invalid timer.
absl::StatusOr<std::optional<Timer>> PreservationExpiryTimer(const LegalProfile& profile,
                                                             std::string_view case_id, absl::Time removed_at);

// True if a timer no longer needs to act because the case is resolved:
// removed, closed or rejected end deadlines, reminders, re-checks, escalation
// and penalty periods. A preservation expiry or the end of an order's
// secrecy (both after the removal) is never stale. The daemon drops
// stale timers when they fire instead of hunting them down at resolution.
bool TimerIsStale(const Timer& timer, CaseState state);

struct DeadlineOutcome {
  bool on_time = false;    // done_at <= deadline ("at the latest within")
  absl::Duration late_by;  // done_at - deadline when late, zero otherwise
  absl::Duration margin;   // deadline - done_at when on time, zero otherwise

  friend bool operator==(const DeadlineOutcome&, const DeadlineOutcome&) = default;
};

DeadlineOutcome Evaluate(absl::Time deadline, absl::Time done_at);

}  // namespace takedown
