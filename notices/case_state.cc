#include "notices/case_state.h"

#include <array>
#include <string>

#include "fmt/format.h"

namespace takedown {
namespace {

using S = CaseState;

constexpr std::array kAllStates = {
    S::kDetected, S::kInReview, S::kConfirmed, S::kNotified, S::kAcknowledged, S::kRemoved, S::kClosed,
    S::kRejected, S::kDisputed, S::kOverdue,   S::kReminded, S::kEscalated,    S::kFined,
};

// One row per source state. docs/cases.md explains each edge; keep it in step.
constexpr std::array kFromDetected = {S::kInReview, S::kConfirmed, S::kRejected};
constexpr std::array kFromInReview = {S::kConfirmed, S::kRejected};
constexpr std::array kFromConfirmed = {S::kNotified, S::kRemoved};
constexpr std::array kFromNotified = {S::kAcknowledged, S::kRemoved, S::kOverdue, S::kDisputed};
constexpr std::array kFromAcknowledged = {S::kRemoved, S::kOverdue, S::kDisputed};
// overdue -> escalated: profiles without a reminder step (EU 2021/784's one-hour
// removal orders) escalate straight away.
constexpr std::array kFromOverdue = {S::kReminded, S::kEscalated, S::kRemoved, S::kDisputed};
constexpr std::array kFromReminded = {S::kReminded, S::kEscalated, S::kRemoved, S::kDisputed};
constexpr std::array kFromEscalated = {S::kEscalated, S::kFined, S::kRemoved, S::kDisputed};
constexpr std::array kFromFined = {S::kRemoved, S::kDisputed, S::kClosed};
constexpr std::array kFromDisputed = {S::kConfirmed, S::kRejected, S::kClosed};
constexpr std::array kFromRemoved = {S::kClosed};
constexpr std::array kFromRejected = {S::kClosed};

}  // namespace

std::span<const CaseState> AllCaseStates() { return kAllStates; }

std::string_view CaseStateName(CaseState state) {
  switch (state) {
    case S::kDetected:
      return "detected";
    case S::kInReview:
      return "in_review";
    case S::kConfirmed:
      return "confirmed";
    case S::kNotified:
      return "notified";
    case S::kAcknowledged:
      return "acknowledged";
    case S::kRemoved:
      return "removed";
    case S::kClosed:
      return "closed";
    case S::kRejected:
      return "rejected";
    case S::kDisputed:
      return "disputed";
    case S::kOverdue:
      return "overdue";
    case S::kReminded:
      return "reminded";
    case S::kEscalated:
      return "escalated";
    case S::kFined:
      return "fined";
  }
  return "unknown";
}

absl::StatusOr<CaseState> ParseCaseState(std::string_view name) {
  for (CaseState state : kAllStates) {
    if (CaseStateName(state) == name) return state;
  }
  std::string valid;
  for (CaseState state : kAllStates) {
    if (!valid.empty()) valid += ", ";
    valid += CaseStateName(state);
  }
  return absl::InvalidArgumentError(
      fmt::format("unknown case state '{}'; expected one of: {}", name.substr(0, 64), valid));
}

std::span<const CaseState> AllowedTransitions(CaseState from) {
  switch (from) {
    case S::kDetected:
      return kFromDetected;
    case S::kInReview:
      return kFromInReview;
    case S::kConfirmed:
      return kFromConfirmed;
    case S::kNotified:
      return kFromNotified;
    case S::kAcknowledged:
      return kFromAcknowledged;
    case S::kRemoved:
      return kFromRemoved;
    case S::kClosed:
      return {};
    case S::kRejected:
      return kFromRejected;
    case S::kDisputed:
      return kFromDisputed;
    case S::kOverdue:
      return kFromOverdue;
    case S::kReminded:
      return kFromReminded;
    case S::kEscalated:
      return kFromEscalated;
    case S::kFined:
      return kFromFined;
  }
  return {};
}

bool IsTransitionAllowed(CaseState from, CaseState to) {
  for (CaseState allowed : AllowedTransitions(from)) {
    if (allowed == to) return true;
  }
  return false;
}

absl::Status ValidateTransition(CaseState from, CaseState to) {
  if (IsTransitionAllowed(from, to)) return absl::OkStatus();
  std::string allowed;
  for (CaseState target : AllowedTransitions(from)) {
    if (!allowed.empty()) allowed += ", ";
    allowed += CaseStateName(target);
  }
  if (allowed.empty()) allowed = "none (terminal state)";
  return absl::FailedPreconditionError(
      fmt::format("case transition {} -> {} is not allowed; allowed from {}: {}", CaseStateName(from),
                  CaseStateName(to), CaseStateName(from), allowed));
}

}  // namespace takedown
