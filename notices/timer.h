// Timer: one persistent, clock-driven event of a case (deadline, reminder,
// re-check, escalation step, penalty period, end of preservation, end of an
// order's confidentiality), and its
// storage form in the RocksDB `timers` column family.
//
// Keys sort by due time, so the daemon finds everything due by scanning from
// the first key up to TimerScanLimit(now):
//
//   8 bytes  due time, microseconds since the Unix epoch, unsigned big-endian
//   n bytes  case id (no 0x00 byte)
//   1 byte   0x00
//   1 byte   kind code (TimerKindCode)
//   4 bytes  step, unsigned big-endian
//   4 bytes  period, unsigned big-endian
//
// The value is JSON (TimerToJson) carrying the same fields plus the exact due
// time and the profile; DecodeTimer checks that key and value agree. A timer
// key is unique per (due, case, kind, step, period), so writing the same timer
// twice (e.g. re-scheduling after a crash) is idempotent.
//
// Every function is pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace takedown {

enum class TimerKind {
  kDeadline,            // the removal deadline; not resolved by now -> overdue
  kReminder,            // an alert before the deadline (step = index into profile.reminders)
  kRecheck,             // fetch again, re-notify if still present (step = cycle, 1-based)
  kEscalation,          // profile.escalation[step] is due
  kPenaltyPeriod,       // period `period` (1-based) of the penalty order escalation[step] ended
  kPreservationExpiry,  // preserved data of a removed case may now be deleted
  kSecrecyEnd,          // an order's confidentiality ended: inform the content provider
};

// "deadline", "reminder", "recheck", "escalation", "penalty_period",
// "preservation_expiry", "secrecy_end".
std::string_view TimerKindName(TimerKind kind);
absl::StatusOr<TimerKind> ParseTimerKind(std::string_view name);
// The stable one-byte code in keys. Among timers of one case due at the same
// microsecond, lower codes fire first: reminder 1, deadline 2, recheck 3,
// escalation 4, penalty_period 5, preservation_expiry 6, secrecy_end 7.
uint8_t TimerKindCode(TimerKind kind);

inline constexpr size_t kMaxTimerCaseIdLength = 128;
inline constexpr size_t kMaxTimerProfileLength = 64;
inline constexpr size_t kMaxTimerActionLength = 32;

struct Timer {
  absl::Time due;
  std::string case_id;
  TimerKind kind = TimerKind::kDeadline;
  int step = 0;
  int period = 0;
  std::string profile;  // the legal profile that produced the timer
  // For kEscalation and kPenaltyPeriod: the escalation step's kind
  // ("reminder", "penalty_order", ...), so the daemon can act even if the
  // configured profile changed since scheduling. Empty otherwise.
  std::string action;

  friend bool operator==(const Timer&, const Timer&) = default;
};

// OK if the timer can be stored: due in [Unix epoch, year 10000);
// case_id 1..kMaxTimerCaseIdLength bytes without 0x00; step and period >= 0;
// profile and action within their bounds. InvalidArgument naming the field.
absl::Status ValidateTimer(const Timer& timer);

// The key described in the header comment. Errors of ValidateTimer.
absl::StatusOr<std::string> EncodeTimerKey(const Timer& timer);
// The value: {"due", "case_id", "kind", "step", "period", "profile", "action"}.
nlohmann::json TimerToJson(const Timer& timer);
std::string EncodeTimerValue(const Timer& timer);
// Parses TimerToJson's form (e.g. a case's pending timers); InvalidArgument
// prefixed by `where` for a missing or malformed field or an invalid timer.
absl::StatusOr<Timer> TimerFromJson(const nlohmann::json& json, std::string_view where);

// Parses a stored key and value back into the timer. DataLoss naming the key
// (printable) when either is malformed or they disagree.
absl::StatusOr<Timer> DecodeTimer(std::string_view key, std::string_view value);

// The smallest key of any timer due after `now`: every timer with due <= now
// (to the microsecond) has a key that sorts before it. Scan [begin, limit).
std::string TimerScanLimit(absl::Time now);

// How late a timer fires at `now`: now - due, or zero if not late.
absl::Duration FiredLate(const Timer& timer, absl::Time now);

}  // namespace takedown
