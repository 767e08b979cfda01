#include "notices/legal_profile.h"

#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace takedown {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(BuiltinProfiles, AreTheFourDocumentedProfilesInOrder) {
  const std::vector<LegalProfile>& profiles = BuiltinProfiles();
  ASSERT_EQ(profiles.size(), 4u);
  EXPECT_EQ(profiles[0].name, "tco-removal-order");
  EXPECT_EQ(profiles[1].name, "nl-csam-instruction");
  EXPECT_EQ(profiles[2].name, "provider-voluntary");
  EXPECT_EQ(profiles[3].name, "authority-notice-cycle");
  for (const LegalProfile& p : profiles) {
    absl::StatusOr<LegalProfile> valid = ValidateProfile(p);
    ASSERT_TRUE(valid.ok()) << valid.status();
    EXPECT_EQ(*valid, p) << p.name << " is not in normalised form";
  }
}

TEST(BuiltinProfiles, TcoRemovalOrderHasTheRegulationsNumbers) {
  absl::StatusOr<LegalProfile> p = FindProfile("tco-removal-order");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->regime, LegalRegime::kTcoRemovalOrder);
  EXPECT_EQ(p->removal_deadline, absl::Hours(1));
  EXPECT_TRUE(p->deadline_from_receipt);
  // Six calendar months are at most 184 days.
  EXPECT_EQ(p->preservation_period, absl::Hours(24 * 184));
  // Art. 6(1): the removed content itself is preserved, not only related data.
  EXPECT_TRUE(p->preserve_content);
  EXPECT_TRUE(p->feedback_to_issuer);
  EXPECT_TRUE(p->inform_content_provider_by_default);
  EXPECT_EQ(p->review, ReviewPolicy::kAuthorityDecided);
  ASSERT_EQ(p->escalation.size(), 2u);
  EXPECT_EQ(p->escalation[1].kind, "fine_proposal");
  EXPECT_EQ(p->escalation[1].cap_turnover_basis_points, 400);  // 4 % of global turnover
  EXPECT_EQ(p->escalation[1].amount_cents, 0);                 // no invented euro amount
  EXPECT_EQ(p->escalation[1].cap_cents, 0);
  EXPECT_THAT(p->escalation[1].basis, HasSubstr("Art. 18"));
}

TEST(BuiltinProfiles, NlCsamInstructionEscalatesFromReminderToPenaltyToFine) {
  absl::StatusOr<LegalProfile> p = FindProfile("nl-csam-instruction");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->regime, LegalRegime::kNlCsamInstruction);
  EXPECT_EQ(p->removal_deadline, absl::Hours(12));
  ASSERT_EQ(p->escalation.size(), 3u);
  EXPECT_EQ(p->escalation[0].kind, "reminder");
  EXPECT_EQ(p->escalation[1].kind, "penalty_order");
  EXPECT_EQ(p->escalation[2].kind, "fine_proposal");
  // The law leaves the amounts to the ATKM: the defaults say they are placeholders.
  EXPECT_TRUE(p->escalation[1].amount_is_placeholder);
  EXPECT_TRUE(p->escalation[2].amount_is_placeholder);
  EXPECT_EQ(p->escalation[2].cap_turnover_basis_points, 1000);  // 10 % for repeated violations
  // Keeping CSAM is an offence unless a law requires it: no content is preserved.
  EXPECT_FALSE(p->preserve_content);
}

TEST(BuiltinProfiles, AuthorityNoticeCycleRechecksDaily) {
  absl::StatusOr<LegalProfile> p = FindProfile("authority-notice-cycle");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->recheck_interval, absl::Hours(24));
  EXPECT_EQ(p->max_recheck_cycles, 30);
  ASSERT_EQ(p->escalation.size(), 2u);
  EXPECT_EQ(p->escalation[1].kind, "referral");
  EXPECT_EQ(p->escalation[1].after_deadline, absl::Hours(48));
}

TEST(BuiltinProfiles, ProviderVoluntaryGivesStatementOfReasons) {
  absl::StatusOr<LegalProfile> p = FindProfile("provider-voluntary");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->statement_of_reasons);
  EXPECT_EQ(p->review, ReviewPolicy::kReviewPerceptual);
  EXPECT_EQ(StatutoryMaxRemovalTerm(p->regime), std::nullopt);
}

TEST(FindProfile, UnknownNameIsNotFoundAndListsTheBuiltins) {
  absl::StatusOr<LegalProfile> p = FindProfile("gdpr-erasure");
  EXPECT_EQ(p.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(p.status()), HasSubstr("'gdpr-erasure'"));
  EXPECT_THAT(Message(p.status()), HasSubstr("tco-removal-order, nl-csam-instruction"));
}

TEST(FindProfile, AppliesOverridesAndKeepsTheRest) {
  LegalProfileOverrides o;
  o.removal_deadline = absl::Hours(6);
  o.reminders = std::vector<absl::Duration>{absl::Minutes(15), absl::Hours(1)};
  o.inform_content_provider_by_default = true;
  absl::StatusOr<LegalProfile> p = FindProfile("provider-voluntary", o);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->removal_deadline, absl::Hours(6));
  // Normalised: earliest alert (largest offset) first.
  EXPECT_THAT(p->reminders, ElementsAre(absl::Hours(1), absl::Minutes(15)));
  EXPECT_TRUE(p->inform_content_provider_by_default);
  EXPECT_EQ(p->escalation, BuiltinProfiles()[2].escalation);
}

TEST(FindProfile, NlCsamTermAbove12HoursIsRejected) {
  LegalProfileOverrides o;
  o.removal_deadline = absl::Hours(13);
  absl::StatusOr<LegalProfile> p = FindProfile("nl-csam-instruction", o);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(p.status()), HasSubstr("'removal_deadline' is 13h"));
  EXPECT_THAT(Message(p.status()), HasSubstr("at most 12h"));

  o.removal_deadline = absl::Hours(12);
  EXPECT_TRUE(FindProfile("nl-csam-instruction", o).ok());
  o.removal_deadline = absl::Hours(1);
  EXPECT_TRUE(FindProfile("nl-csam-instruction", o).ok());
}

TEST(FindProfile, TcoDeadlineCannotBeLengthened) {
  LegalProfileOverrides o;
  o.removal_deadline = absl::Minutes(61);
  EXPECT_THAT(Message(FindProfile("tco-removal-order", o).status()), HasSubstr("allows at most 1h"));
}

LegalProfile Minimal() {
  LegalProfile p;
  p.name = "custom";
  p.legal_basis = "house rules";
  p.removal_deadline = absl::Hours(2);
  return p;
}

TEST(ValidateProfile, RejectsBadFieldsNamingThem) {
  struct Case {
    std::string label;
    std::function<void(LegalProfile&)> mutate;
    std::string expected;
  };
  EscalationStep reminder;
  reminder.kind = "reminder";
  const std::vector<Case> cases = {
      {"empty name", [](LegalProfile& p) { p.name = ""; }, "field 'name'"},
      {"content kept forever",
       [](LegalProfile& p) {
         p.preserve_content = true;
         p.preservation_period = absl::ZeroDuration();
       },
       "field 'preserve_content'"},
      {"upper-case name", [](LegalProfile& p) { p.name = "Custom"; }, "field 'name'"},
      {"no basis", [](LegalProfile& p) { p.legal_basis = ""; }, "field 'legal_basis'"},
      {"zero deadline", [](LegalProfile& p) { p.removal_deadline = absl::ZeroDuration(); },
       "'removal_deadline' is 0"},
      {"negative deadline", [](LegalProfile& p) { p.removal_deadline = -absl::Hours(1); },
       "'removal_deadline'"},
      {"infinite deadline", [](LegalProfile& p) { p.removal_deadline = absl::InfiniteDuration(); },
       "'removal_deadline'"},
      {"zero reminder",
       [](LegalProfile& p) {
         p.reminders = {absl::Minutes(5), absl::ZeroDuration()};
       },
       "'reminders[1]' is 0"},
      {"duplicate reminder",
       [](LegalProfile& p) {
         p.reminders = {absl::Hours(1), absl::Hours(1)};
       },
       "lists 1h twice"},
      {"unknown step",
       [](LegalProfile& p) {
         EscalationStep s;
         s.kind = "jail";
         p.escalation = {s};
       },
       "'escalation[0].kind' is 'jail'"},
      {"unordered steps",
       [&](LegalProfile& p) {
         EscalationStep late = reminder, early = reminder;
         late.after_deadline = absl::Hours(5);
         early.after_deadline = absl::Hours(1);
         p.escalation = {late, early};
       },
       "'escalation[1].after_deadline' is 1h, earlier than the previous step's 5h"},
      {"penalty without cap",
       [](LegalProfile& p) {
         EscalationStep s;
         s.kind = "penalty_order";
         s.amount_cents = 100;
         s.penalty_period = absl::Hours(24);
         p.escalation = {s};
       },
       "'escalation[0].cap_cents' must be positive"},
      {"too many penalty periods",
       [](LegalProfile& p) {
         EscalationStep s;
         s.kind = "penalty_order";
         s.amount_cents = 1;
         s.cap_cents = 1'000'000;
         s.penalty_period = absl::Hours(1);
         p.escalation = {s};
       },
       "allows 1000000 penalty periods"},
      {"period on a reminder",
       [&](LegalProfile& p) {
         EscalationStep s = reminder;
         s.penalty_period = absl::Hours(1);
         p.escalation = {s};
       },
       "only allowed for penalty_order"},
      {"bad currency",
       [&](LegalProfile& p) {
         EscalationStep s = reminder;
         s.currency = "euro";
         p.escalation = {s};
       },
       "'escalation[0].currency'"},
      {"turnover above 100 %",
       [&](LegalProfile& p) {
         EscalationStep s = reminder;
         s.cap_turnover_basis_points = 10'001;
         p.escalation = {s};
       },
       "'escalation[0].cap_turnover_basis_points' is 10001"},
      {"recheck without cycles", [](LegalProfile& p) { p.recheck_interval = absl::Hours(24); },
       "'max_recheck_cycles' and recheck_interval"},
      {"too many cycles",
       [](LegalProfile& p) {
         p.recheck_interval = absl::Hours(24);
         p.max_recheck_cycles = 1001;
       },
       "'max_recheck_cycles' is 1001"},
  };
  for (const Case& c : cases) {
    LegalProfile p = Minimal();
    c.mutate(p);
    absl::StatusOr<LegalProfile> v = ValidateProfile(p);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << c.label;
    EXPECT_THAT(Message(v.status()), HasSubstr(c.expected)) << c.label;
  }
  EXPECT_TRUE(ValidateProfile(Minimal()).ok());
}

TEST(LegalRegime, NamesRoundTripAndStatutoryMaximaAreTheLaws) {
  for (LegalRegime r : {LegalRegime::kTcoRemovalOrder, LegalRegime::kNlCsamInstruction,
                        LegalRegime::kProviderVoluntary, LegalRegime::kAuthorityNoticeCycle}) {
    absl::StatusOr<LegalRegime> parsed = ParseLegalRegime(LegalRegimeName(r));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, r);
  }
  EXPECT_FALSE(ParseLegalRegime("TCO").ok());
  EXPECT_EQ(StatutoryMaxRemovalTerm(LegalRegime::kTcoRemovalOrder), absl::Hours(1));
  EXPECT_EQ(StatutoryMaxRemovalTerm(LegalRegime::kNlCsamInstruction), absl::Hours(12));
  EXPECT_EQ(StatutoryMaxRemovalTerm(LegalRegime::kAuthorityNoticeCycle), std::nullopt);
}

TEST(ReviewPolicy, NamesRoundTrip) {
  for (ReviewPolicy p :
       {ReviewPolicy::kHumanReview, ReviewPolicy::kReviewPerceptual, ReviewPolicy::kAuthorityDecided}) {
    absl::StatusOr<ReviewPolicy> parsed = ParseReviewPolicy(ReviewPolicyName(p));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, p);
  }
  EXPECT_THAT(Message(ParseReviewPolicy("auto").status()), HasSubstr("human_review"));
}

TEST(StateAfterEscalation, MapsStepsOntoTheCaseStateMachine) {
  EXPECT_EQ(StateAfterEscalation("reminder"), CaseState::kReminded);
  EXPECT_EQ(StateAfterEscalation("penalty_order"), CaseState::kEscalated);
  EXPECT_EQ(StateAfterEscalation("referral"), CaseState::kEscalated);
  EXPECT_EQ(StateAfterEscalation("fine_proposal"), std::nullopt);
  // Each mapped state is reachable from overdue, as the case engine needs.
  EXPECT_TRUE(IsTransitionAllowed(CaseState::kOverdue, CaseState::kReminded));
  EXPECT_TRUE(IsTransitionAllowed(CaseState::kReminded, CaseState::kEscalated));
  EXPECT_TRUE(IsTransitionAllowed(CaseState::kEscalated, CaseState::kEscalated));
}

}  // namespace
}  // namespace takedown
