// The config's legal_profiles entries applied to the built-in profiles.
#include "daemon/configured_profiles.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace takedown {
namespace {

using ::testing::HasSubstr;

const LegalProfile& Named(const std::vector<LegalProfile>& profiles, std::string_view name) {
  for (const LegalProfile& p : profiles) {
    if (p.name == name) return p;
  }
  static const LegalProfile kNone;
  ADD_FAILURE() << "no profile " << name;
  return kNone;
}

TEST(ConfiguredProfiles, NoEntriesGiveTheBuiltins) {
  absl::StatusOr<std::vector<LegalProfile>> profiles = ConfiguredProfiles({});
  ASSERT_TRUE(profiles.ok()) << profiles.status();
  EXPECT_EQ(*profiles, BuiltinProfiles());
}

TEST(ConfiguredProfiles, AnEntryChangesItsBuiltinAndLeavesTheRest) {
  LegalProfileConfig entry;
  entry.name = "nl-csam-instruction";
  entry.removal_deadline_seconds = 3600;
  entry.reminder_seconds = std::vector<int64_t>{600};
  EscalationStepConfig penalty;
  penalty.kind = "penalty_order";
  penalty.after_deadline_seconds = 86400;
  penalty.amount_cents = 500000;
  penalty.cap_cents = 5000000;
  penalty.period_seconds = 86400;
  penalty.basis = "dwangsom";
  entry.escalation = std::vector<EscalationStepConfig>{penalty};
  entry.inform_content_provider = true;
  absl::StatusOr<std::vector<LegalProfile>> profiles = ConfiguredProfiles({entry});
  ASSERT_TRUE(profiles.ok()) << profiles.status();
  ASSERT_EQ(profiles->size(), BuiltinProfiles().size());
  const LegalProfile& csam = Named(*profiles, "nl-csam-instruction");
  const LegalProfile builtin = FindProfile("nl-csam-instruction").value();
  EXPECT_EQ(csam.removal_deadline, absl::Hours(1));
  EXPECT_EQ(csam.reminders, std::vector<absl::Duration>{absl::Minutes(10)});
  ASSERT_EQ(csam.escalation.size(), 1u);
  EXPECT_EQ(csam.escalation[0].amount_cents, 500000);
  EXPECT_EQ(csam.escalation[0].penalty_period, absl::Hours(24));
  EXPECT_FALSE(csam.escalation[0].amount_is_placeholder);
  EXPECT_TRUE(csam.inform_content_provider_by_default);
  // Untouched fields keep the built-in values; other profiles are unchanged.
  EXPECT_EQ(csam.legal_basis, builtin.legal_basis);
  EXPECT_EQ(csam.preservation_period, builtin.preservation_period);
  EXPECT_EQ(Named(*profiles, "tco-removal-order"), FindProfile("tco-removal-order").value());
}

TEST(ConfiguredProfiles, BaseAddsANewProfile) {
  LegalProfileConfig entry;
  entry.name = "nl-csam-fast";
  entry.base = "nl-csam-instruction";
  entry.removal_deadline_seconds = 900;
  absl::StatusOr<std::vector<LegalProfile>> profiles = ConfiguredProfiles({entry});
  ASSERT_TRUE(profiles.ok()) << profiles.status();
  ASSERT_EQ(profiles->size(), BuiltinProfiles().size() + 1);
  EXPECT_EQ(profiles->back().name, "nl-csam-fast");
  EXPECT_EQ(profiles->back().removal_deadline, absl::Minutes(15));
  EXPECT_EQ(profiles->back().regime, LegalRegime::kNlCsamInstruction);
  EXPECT_EQ(Named(*profiles, "nl-csam-instruction"), FindProfile("nl-csam-instruction").value());
}

TEST(ConfiguredProfiles, TheLawsLimitsAndUnknownNamesAreRefused) {
  LegalProfileConfig too_long;
  too_long.name = "tco-removal-order";
  too_long.removal_deadline_seconds = 2 * 3600;
  absl::StatusOr<std::vector<LegalProfile>> refused = ConfiguredProfiles({too_long});
  ASSERT_TRUE(absl::IsInvalidArgument(refused.status()));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("legal_profiles[0] (tco-removal-order)"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("removal_deadline"));

  LegalProfileConfig csam = too_long;
  csam.name = "nl-csam-fast";
  csam.base = "nl-csam-instruction";
  csam.removal_deadline_seconds = 13 * 3600;  // beyond the act's 12 hours, also for a derived profile
  EXPECT_TRUE(absl::IsInvalidArgument(ConfiguredProfiles({csam}).status()));

  LegalProfileConfig unknown;
  unknown.name = "my-profile";
  EXPECT_THAT(std::string(ConfiguredProfiles({unknown}).status().message()), HasSubstr("give `base:`"));
  unknown.base = "no-such-base";
  EXPECT_THAT(std::string(ConfiguredProfiles({unknown}).status().message()),
              HasSubstr("no legal profile named"));

  LegalProfileConfig builtin_with_base;
  builtin_with_base.name = "provider-voluntary";
  builtin_with_base.base = "nl-csam-instruction";
  EXPECT_THAT(std::string(ConfiguredProfiles({builtin_with_base}).status().message()),
              HasSubstr("changed in place"));

  LegalProfileConfig bad_review;
  bad_review.name = "provider-voluntary";
  bad_review.review = "whenever";
  EXPECT_TRUE(absl::IsInvalidArgument(ConfiguredProfiles({bad_review}).status()));
}

}  // namespace
}  // namespace takedown
