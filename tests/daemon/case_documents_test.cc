// The notices/ additions the case engine stores and sends: case terms in the
// case record, case and document notices, enforcement documents.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "notices/case.h"
#include "notices/enforcement_document.h"
#include "notices/legal_profile.h"
#include "notices/notice.h"
#include "notices/removal_order.h"

namespace takedown {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

absl::Time At(int day, int hour) {
  return absl::FromCivil(absl::CivilSecond(2027, 3, day, hour, 0, 0), absl::UTCTimeZone());
}

RemovalOrder SampleOrder() {
  const std::string json = R"({"schema_version":1,"profile":"nl-csam-instruction","order_reference":"ATKM-1",
    "issuing_authority":{"name":"ATKM","member_state":"NL"},"provider":{"name":"Hoster"},
    "legal_basis":"Wet","locations":[{"url":"https://h.example/a.jpg"}],"reasons":"CSAM",
    "issued_at":"2027-03-01T10:00:00Z","deadline":null,"redress":"bezwaar","secrecy":true,
    "atkm":{"instruction_reference":"AW-1","term_minutes":60}})";
  absl::StatusOr<RemovalOrder> order = ParseRemovalOrderJson(json, "sample");
  EXPECT_TRUE(order.ok()) << order.status();
  return order.value_or(RemovalOrder{});
}

Case SampleCase() {
  Case c = NewCase(CaseObject{"uploads", "a.jpg", "v1", 10, "", "", std::string(64, 'e'), "image/jpeg"},
                   At(1, 10));
  c.category = "csam";
  return c;
}

TEST(CaseTerms, RoundTripThroughTheCaseRecordIsLossless) {
  Case c = SampleCase();
  c.terms.profile = "nl-csam-instruction";
  c.terms.received_at = At(1, 10) + absl::Nanoseconds(7);
  c.terms.deadline = At(1, 11);
  c.terms.order = SampleOrder();
  c.terms.location = "https://h.example/a.jpg";
  c.terms.provider = "hoster";
  Timer t;
  t.due = At(1, 11);
  t.case_id = c.id;
  t.kind = TimerKind::kPenaltyPeriod;
  t.step = 1;
  t.period = 3;
  t.profile = "nl-csam-instruction";
  t.action = "penalty_order";
  c.terms.timers = {t};
  c.terms.removed_at = At(2, 9);
  c.terms.removal = "gone";
  c.terms.penalty_accrued_cents = 300000;
  c.terms.penalty_periods = 3;
  c.terms.penalty_currency = "EUR";
  c.terms.fine_proposed_at = At(8, 11);
  c.terms.rechecks = 4;
  c.terms.renotices = 2;
  c.terms.purged_at = At(20, 0);
  absl::StatusOr<Case> back = CaseFromJson(nlohmann::json::parse(CaseToJson(c).dump()));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, c);
}

TEST(CaseTerms, ACaseWithoutTermsHasNoTermsMemberAndReadsBackEmpty) {
  Case c = SampleCase();
  nlohmann::json json = CaseToJson(c);
  EXPECT_FALSE(json.contains("terms"));
  absl::StatusOr<Case> back = CaseFromJson(json);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(IsEmpty(back->terms));
}

TEST(CaseTerms, MalformedTermsAreRejectedNamingTheField) {
  Case c = SampleCase();
  c.terms.profile = "x";
  nlohmann::json json = CaseToJson(c);
  json["terms"]["removal"] = "vanished";
  absl::StatusOr<Case> bad = CaseFromJson(json);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("terms: field 'removal'"));
  json["terms"]["removal"] = "";
  json["terms"]["timers"] = nlohmann::json::array({{{"due", "2027-01-01T00:00:00Z"}}});
  EXPECT_THAT(std::string(CaseFromJson(json).status().message()), HasSubstr("timers[0]"));
}

TEST(CaseNotice, CarriesTheCasePayloadPlusExtraMembersUnderADeterministicId) {
  Case c = SampleCase();
  c.state = CaseState::kOverdue;
  Notice n = MakeCaseNotice(c, "case.escalation.reminder", "smtp-desk", 100002, At(1, 12),
                            nlohmann::json{{"deadline", "2027-03-01T11:00:00Z"}, {"legal_profile", "p"}});
  EXPECT_EQ(n.id, NoticeIdFor(c.id, "case.escalation.reminder", "smtp-desk", 100002));
  EXPECT_EQ(n.payload["kind"], "case.escalation.reminder");
  EXPECT_EQ(n.payload["state"], "overdue");
  EXPECT_EQ(n.payload["deadline"], "2027-03-01T11:00:00Z");
  EXPECT_EQ(n.payload["object"]["sha256"], std::string(64, 'e'));
  EXPECT_EQ(n.payload["content_included"], false);
  EXPECT_EQ(MakeDetectionNotice(c, At(1, 12)).id,
            NoticeIdFor(c.id, kDetectionNoticeKind, kDefaultNoticeChannel, 0));

  Notice doc = MakeDocumentNotice(c.id, "removal_order.feedback", "authority", 1, At(1, 12),
                                  nlohmann::json{{"kind", "removal_order.feedback"}, {"annex", "II"}});
  EXPECT_EQ(doc.payload["annex"], "II");
  EXPECT_EQ(doc.payload["case_id"], c.id);
  EXPECT_EQ(doc.payload["notice_id"], doc.id);
  absl::StatusOr<Notice> stored = NoticeFromJson(NoticeToJson(doc));
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(*stored, doc);
}

TEST(EnforcementDocument, MoneyIsGroupedWithTwoDecimals) {
  EXPECT_EQ(FormatMoney(100000, "EUR"), "EUR 1,000.00");
  EXPECT_EQ(FormatMoney(5, "EUR"), "EUR 0.05");
  EXPECT_EQ(FormatMoney(123456789, "USD"), "USD 1,234,567.89");
  EXPECT_EQ(FormatMoney(-250, "EUR"), "-EUR 2.50");
}

TEST(EnforcementDocument, PenaltyOrderAndFineProposalCiteTheStepAndLabelPlaceholders) {
  EnforcementContext ctx;
  ctx.case_id = "c-1";
  ctx.profile = "nl-csam-instruction";
  ctx.legal_basis = "Wet";
  ctx.instruction_reference = "AW-1";
  ctx.location = "https://h.example/a.jpg";
  ctx.deadline = At(1, 11);
  ctx.issued_at = At(8, 11);
  absl::StatusOr<LegalProfile> nl = FindProfile(kNlCsamInstructionProfile);
  ASSERT_TRUE(nl.ok());
  const EscalationStep& penalty = nl->escalation[1];
  nlohmann::json order = RenderPenaltyOrder(ctx, penalty, 1);
  EXPECT_EQ(order["kind"], kPenaltyOrderDocumentKind);
  EXPECT_EQ(order["penalty_period_seconds"], 24 * 3600);
  EXPECT_EQ(order["max_periods"], 50);
  EXPECT_THAT(order["text_en"].get<std::string>(), HasSubstr("EUR 50,000.00"));
  EXPECT_THAT(order["text_en"].get<std::string>(), HasSubstr("AW-1"));
  EXPECT_THAT(order["text_nl"].get<std::string>(), HasSubstr("VOORLOPIGE BEDRAGEN"));

  EscalationStep fixed = penalty;
  fixed.amount_is_placeholder = false;
  EXPECT_THAT(RenderPenaltyOrder(ctx, fixed, 1)["text_en"].get<std::string>(), Not(HasSubstr("PLACEHOLDER")));

  nlohmann::json fine = RenderFineProposal(ctx, nl->escalation[2], 2, 600000);
  EXPECT_EQ(fine["status"], "proposal");
  EXPECT_EQ(fine["cap_turnover_percent"], "10 %");
  EXPECT_EQ(fine["overdue_seconds"], 7 * 24 * 3600);
  EXPECT_EQ(fine["proposed_amount_cents"], 0);
  EXPECT_THAT(fine["text_en"].get<std::string>(), HasSubstr("an amount to be set by the authority"));
  EscalationStep odd = nl->escalation[2];
  odd.cap_turnover_basis_points = 1050;
  EXPECT_EQ(RenderFineProposal(ctx, odd, 2, 0)["cap_turnover_percent"], "10.50 %");

  nlohmann::json cap = RenderPenaltyCapReached(ctx, penalty, 1, 50, 5000000);
  EXPECT_EQ(cap["forfeited_cents"], 5000000);
  EXPECT_THAT(cap["text_en"].get<std::string>(), HasSubstr("after 50 penalty periods"));
}

}  // namespace
}  // namespace takedown
