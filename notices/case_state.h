// CaseState: where a case stands, and which moves between states are legal.
//
// The transition table is the single source of truth for the case engine, the
// API (which review actions to offer) and the dashboard. docs/cases.md shows it
// as a table. A transition to the same state is illegal unless the table lists
// it (reminded -> reminded for repeated reminders, escalated -> escalated for
// further penalty periods).
//
// All functions are pure and thread-safe.
#pragma once

#include <span>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace takedown {

enum class CaseState {
  kDetected,
  kInReview,
  kConfirmed,
  kNotified,
  kAcknowledged,
  kRemoved,
  kClosed,
  kRejected,
  kDisputed,
  kOverdue,
  kReminded,
  kEscalated,
  kFined,
};

// Every state, in declaration order.
std::span<const CaseState> AllCaseStates();

// "detected", "in_review", ..., "fined": the stable names used in JSON, the API
// and logs.
std::string_view CaseStateName(CaseState state);

// Parses a name produced by CaseStateName (exact, lower-case). InvalidArgument
// naming the valid names otherwise.
absl::StatusOr<CaseState> ParseCaseState(std::string_view name);

// The states reachable from `from` in one transition, in a fixed order. Empty
// for closed, the only terminal state.
std::span<const CaseState> AllowedTransitions(CaseState from);

bool IsTransitionAllowed(CaseState from, CaseState to);

// OK if the table allows from -> to; otherwise FailedPrecondition such as
// "case transition in_review -> notified is not allowed; allowed from
// in_review: confirmed, rejected".
absl::Status ValidateTransition(CaseState from, CaseState to);

}  // namespace takedown
