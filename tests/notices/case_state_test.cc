#include "notices/case_state.h"

#include <deque>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace takedown {
namespace {

using S = CaseState;
using ::testing::HasSubstr;

// States reachable from `from` following allowed transitions, never entering
// `avoid` (pass `from` itself to forbid nothing).
std::set<CaseState> Reachable(CaseState from, std::set<CaseState> avoid = {}) {
  std::set<CaseState> seen = {from};
  std::deque<CaseState> todo = {from};
  while (!todo.empty()) {
    CaseState state = todo.front();
    todo.pop_front();
    for (CaseState next : AllowedTransitions(state)) {
      if (avoid.count(next) || seen.count(next)) continue;
      seen.insert(next);
      todo.push_back(next);
    }
  }
  return seen;
}

TEST(CaseState, NamesRoundTripAndAreDistinct) {
  std::set<std::string> names;
  for (CaseState state : AllCaseStates()) {
    std::string name(CaseStateName(state));
    names.insert(name);
    absl::StatusOr<CaseState> parsed = ParseCaseState(name);
    ASSERT_TRUE(parsed.ok()) << name;
    EXPECT_EQ(*parsed, state);
  }
  EXPECT_EQ(names.size(), 13u);
  EXPECT_EQ(CaseStateName(S::kInReview), "in_review");
  EXPECT_EQ(CaseStateName(S::kFined), "fined");
}

TEST(CaseState, ParseRejectsUnknownNamesListingValidOnes) {
  for (std::string bad : {"", "Detected", "in-review", "open", "closed "}) {
    absl::StatusOr<CaseState> parsed = ParseCaseState(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("in_review"));
  }
}

TEST(CaseState, EveryListedTransitionValidates) {
  int allowed = 0;
  for (CaseState from : AllCaseStates()) {
    for (CaseState to : AllCaseStates()) {
      bool listed = IsTransitionAllowed(from, to);
      EXPECT_EQ(ValidateTransition(from, to).ok(), listed)
          << CaseStateName(from) << " -> " << CaseStateName(to);
      allowed += listed;
    }
    for (CaseState to : AllowedTransitions(from)) {
      EXPECT_TRUE(ValidateTransition(from, to).ok()) << CaseStateName(from) << " -> " << CaseStateName(to);
    }
  }
  EXPECT_GT(allowed, 0);
}

TEST(CaseState, MainPathIsAllowed) {
  const std::vector<CaseState> path = {S::kDetected,     S::kInReview, S::kConfirmed, S::kNotified,
                                       S::kAcknowledged, S::kRemoved,  S::kClosed};
  for (size_t i = 1; i < path.size(); ++i) {
    EXPECT_TRUE(ValidateTransition(path[i - 1], path[i]).ok())
        << CaseStateName(path[i - 1]) << " -> " << CaseStateName(path[i]);
  }
}

TEST(CaseState, ExplicitSideBranches) {
  EXPECT_TRUE(ValidateTransition(S::kDetected, S::kConfirmed).ok());  // auto-action
  EXPECT_TRUE(ValidateTransition(S::kDetected, S::kRejected).ok());
  EXPECT_TRUE(ValidateTransition(S::kInReview, S::kRejected).ok());
  EXPECT_TRUE(ValidateTransition(S::kRejected, S::kClosed).ok());
  EXPECT_TRUE(ValidateTransition(S::kNotified, S::kOverdue).ok());
  EXPECT_TRUE(ValidateTransition(S::kAcknowledged, S::kOverdue).ok());
  EXPECT_TRUE(ValidateTransition(S::kOverdue, S::kReminded).ok());
  EXPECT_TRUE(ValidateTransition(S::kOverdue, S::kEscalated).ok());  // profiles without reminders
  EXPECT_TRUE(ValidateTransition(S::kReminded, S::kReminded).ok());
  EXPECT_TRUE(ValidateTransition(S::kReminded, S::kEscalated).ok());
  EXPECT_TRUE(ValidateTransition(S::kEscalated, S::kEscalated).ok());
  EXPECT_TRUE(ValidateTransition(S::kEscalated, S::kFined).ok());
  EXPECT_TRUE(ValidateTransition(S::kFined, S::kClosed).ok());
  EXPECT_TRUE(ValidateTransition(S::kDisputed, S::kConfirmed).ok());
  EXPECT_TRUE(ValidateTransition(S::kDisputed, S::kRejected).ok());
  EXPECT_TRUE(ValidateTransition(S::kDisputed, S::kClosed).ok());
  for (CaseState from :
       {S::kNotified, S::kAcknowledged, S::kOverdue, S::kReminded, S::kEscalated, S::kFined}) {
    EXPECT_TRUE(ValidateTransition(from, S::kDisputed).ok()) << CaseStateName(from);
  }
}

TEST(CaseState, IllegalTransitionMessageNamesAllowedTargets) {
  absl::Status status = ValidateTransition(S::kInReview, S::kNotified);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      std::string(status.message()),
      "case transition in_review -> notified is not allowed; allowed from in_review: confirmed, rejected");
}

TEST(CaseState, SampleOfIllegalTransitionsIsRejected) {
  const std::vector<std::pair<CaseState, CaseState>> illegal = {
      {S::kDetected, S::kNotified},  {S::kDetected, S::kRemoved}, {S::kInReview, S::kNotified},
      {S::kNotified, S::kConfirmed}, {S::kRemoved, S::kNotified}, {S::kRejected, S::kConfirmed},
      {S::kReminded, S::kOverdue},   {S::kFined, S::kEscalated},  {S::kAcknowledged, S::kNotified},
      {S::kClosed, S::kDetected},    {S::kRemoved, S::kDisputed}, {S::kConfirmed, S::kClosed},
  };
  for (const auto& [from, to] : illegal) {
    absl::Status status = ValidateTransition(from, to);
    ASSERT_FALSE(status.ok()) << CaseStateName(from) << " -> " << CaseStateName(to);
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
    std::string message(status.message());
    EXPECT_THAT(message,
                HasSubstr(std::string(CaseStateName(from)) + " -> " + std::string(CaseStateName(to))));
    for (CaseState target : AllowedTransitions(from)) {
      EXPECT_THAT(message, HasSubstr(std::string(CaseStateName(target))));
    }
  }
}

TEST(CaseState, SameStateOnlyForRepeatedRemindersAndPenaltyPeriods) {
  for (CaseState state : AllCaseStates()) {
    bool expected = state == S::kReminded || state == S::kEscalated;
    EXPECT_EQ(IsTransitionAllowed(state, state), expected) << CaseStateName(state);
  }
}

TEST(CaseState, ClosedIsTheOnlyTerminalState) {
  EXPECT_TRUE(AllowedTransitions(S::kClosed).empty());
  absl::Status status = ValidateTransition(S::kClosed, S::kClosed);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()), HasSubstr("allowed from closed: none"));
  for (CaseState state : AllCaseStates()) {
    if (state != S::kClosed) {
      EXPECT_FALSE(AllowedTransitions(state).empty()) << CaseStateName(state);
    }
  }
}

TEST(CaseState, EveryStateIsReachableFromDetected) {
  std::set<CaseState> reachable = Reachable(S::kDetected);
  for (CaseState state : AllCaseStates()) EXPECT_TRUE(reachable.count(state)) << CaseStateName(state);
}

TEST(CaseState, EveryStateCanEndClosed) {
  for (CaseState state : AllCaseStates()) {
    EXPECT_TRUE(Reachable(state).count(S::kClosed)) << CaseStateName(state);
  }
}

TEST(CaseState, ContentCanBeRemovedAtAnyPointAfterConfirmation) {
  // Every state a confirmed case can be in before its outcome (removed,
  // rejected, closed) is a step away from removed, except disputed, which
  // first needs the objection decided.
  for (CaseState state : Reachable(S::kConfirmed)) {
    if (state == S::kRemoved || state == S::kRejected || state == S::kClosed) continue;
    EXPECT_TRUE(Reachable(state).count(S::kRemoved)) << CaseStateName(state);
    if (state != S::kDisputed) {
      EXPECT_TRUE(IsTransitionAllowed(state, S::kRemoved)) << CaseStateName(state);
    }
  }
}

TEST(CaseState, NothingIsNotifiedOrRemovedWithoutConfirmation) {
  std::set<CaseState> without_confirmation = Reachable(S::kDetected, {S::kConfirmed});
  EXPECT_FALSE(without_confirmation.count(S::kNotified));
  EXPECT_FALSE(without_confirmation.count(S::kRemoved));
  EXPECT_FALSE(without_confirmation.count(S::kFined));
}

TEST(CaseState, RejectedCasesOnlyClose) {
  std::set<CaseState> after_rejection = Reachable(S::kRejected);
  EXPECT_EQ(after_rejection, (std::set<CaseState>{S::kRejected, S::kClosed}));
}

TEST(CaseState, PenaltiesNeedAnOverdueCase) {
  std::set<CaseState> without_overdue = Reachable(S::kDetected, {S::kOverdue});
  EXPECT_FALSE(without_overdue.count(S::kEscalated));
  EXPECT_FALSE(without_overdue.count(S::kFined));
  EXPECT_FALSE(without_overdue.count(S::kReminded));
}

}  // namespace
}  // namespace takedown
