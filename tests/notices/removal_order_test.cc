#include "notices/removal_order.h"

#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "notices/deadline_schedule.h"
#include "notices/json_fields.h"
#include "notices/legal_profile.h"

namespace takedown {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

absl::Time Utc(int y, int m, int d, int hh, int mm, int ss = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, ss), absl::UTCTimeZone());
}

std::string Message(const absl::Status& s) { return std::string(s.message()); }

Json TcoOrderJson() {
  return Json::parse(R"({
    "schema_version": 1,
    "profile": "tco-removal-order",
    "order_reference": "TCO-DE-2027-77",
    "issuing_authority": {"name": "Example authority", "member_state": "DE"},
    "provider": {"name": "Example Hosting B.V."},
    "legal_basis": "Regulation (EU) 2021/784, Article 3",
    "locations": [{"url": "https://files.example-hosting.example/v/1.mp4"},
                  {"url": "https://files.example-hosting.example/v/2.mp4", "details": "mirror"}],
    "reasons": "Incitement to commit a terrorist offence.",
    "issued_at": "2027-03-28T01:10:00+01:00",
    "redress": "Administrative appeal within four weeks.",
    "secrecy": false
  })");
}

absl::StatusOr<RemovalOrder> Parse(const Json& json) {
  return ParseRemovalOrderJson(json.dump(), "order.json");
}

// The "## Full example" JSON block of docs/removal-orders.md.
std::string DocumentedExample() {
  std::ifstream file(std::string(TAKEDOWN_SOURCE_DIR) + "/docs/removal-orders.md");
  std::stringstream text;
  text << file.rdbuf();
  const std::string doc = text.str();
  size_t section = doc.find("## Full example");
  size_t start = doc.find("```json\n", section);
  size_t end = doc.find("```", start + 8);
  if (section == std::string::npos || start == std::string::npos || end == std::string::npos) return "";
  return doc.substr(start + 8, end - start - 8);
}

TEST(ParseRemovalOrderJson, ReadsTheDocumentedExample) {
  const std::string example = DocumentedExample();
  ASSERT_FALSE(example.empty()) << "docs/removal-orders.md lost its full example";
  absl::StatusOr<RemovalOrder> order = ParseRemovalOrderJson(example, "removal-orders.md");
  ASSERT_TRUE(order.ok()) << order.status();
  EXPECT_EQ(order->profile, "nl-csam-instruction");
  EXPECT_EQ(order->order_reference, "ATKM-2027-000123");
  EXPECT_EQ(order->issuing_authority.name,
            "Autoriteit online Terroristisch en Kinderpornografisch Materiaal");
  EXPECT_EQ(order->issuing_authority.member_state, "NL");
  EXPECT_EQ(order->issuing_authority.contact, "meldingen@atkm.example");
  EXPECT_EQ(order->provider.name, "Example Hosting B.V.");
  EXPECT_EQ(order->provider.contact_point, "abuse@example-hosting.example");
  ASSERT_EQ(order->locations.size(), 2u);
  EXPECT_EQ(order->locations[0].url, "https://files.example-hosting.example/u/8812/a.jpg");
  EXPECT_EQ(order->locations[0].details, "also reachable as /u/8812/a.jpg?dl=1");
  EXPECT_EQ(order->locations[1].details, "");
  EXPECT_EQ(order->issued_at, Utc(2027, 3, 28, 0, 10));
  EXPECT_EQ(order->deadline, absl::InfinitePast());
  EXPECT_TRUE(order->secrecy);
  EXPECT_EQ(order->instruction_reference, "AW-2027-0042");
  EXPECT_EQ(order->term, absl::Hours(1));

  absl::StatusOr<LegalProfile> nl = FindProfile(order->profile);
  ASSERT_TRUE(nl.ok());
  const absl::Time received = Utc(2027, 3, 28, 0, 12);
  absl::StatusOr<absl::Time> deadline = OrderDeadline(*nl, *order, received);
  ASSERT_TRUE(deadline.ok()) << deadline.status();
  EXPECT_EQ(*deadline, Utc(2027, 3, 28, 1, 12));
}

TEST(ParseRemovalOrderJson, TcoOrderWithOffsetTimeAndRoundTrip) {
  absl::StatusOr<RemovalOrder> order = Parse(TcoOrderJson());
  ASSERT_TRUE(order.ok()) << order.status();
  EXPECT_EQ(order->issued_at, Utc(2027, 3, 28, 0, 10));
  EXPECT_EQ(order->term, absl::ZeroDuration());
  EXPECT_TRUE(order->instruction_reference.empty());
  EXPECT_FALSE(order->secrecy);

  absl::StatusOr<RemovalOrder> again = ParseRemovalOrderJson(RemovalOrderToJson(*order).dump(), "again.json");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *order);
}

TEST(ParseRemovalOrderJson, SecrecyMayStateItsEndAndRoundTrips) {
  Json j = TcoOrderJson();
  j["secrecy"] = true;
  j["secrecy_until"] = "2027-05-09T00:10:00Z";  // six weeks (TCO Art. 11(3))
  absl::StatusOr<RemovalOrder> order = Parse(j);
  ASSERT_TRUE(order.ok()) << order.status();
  EXPECT_EQ(order->secrecy_until, Utc(2027, 5, 9, 0, 10));
  absl::StatusOr<RemovalOrder> again = ParseRemovalOrderJson(RemovalOrderToJson(*order).dump(), "again.json");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *order);
  j["secrecy_until"] = nullptr;  // null: not stated
  order = Parse(j);
  ASSERT_TRUE(order.ok()) << order.status();
  EXPECT_EQ(order->secrecy_until, absl::InfinitePast());
  EXPECT_FALSE(RemovalOrderToJson(*order).contains("secrecy_until"));
}

TEST(ParseRemovalOrderJson, ErrorsNameTheSourceAndField) {
  struct Case {
    std::string label;
    std::function<void(Json&)> mutate;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"missing reasons", [](Json& j) { j.erase("reasons"); }, "order.json: field 'reasons' is missing"},
      {"empty reasons", [](Json& j) { j["reasons"] = ""; }, "field 'reasons' must not be empty"},
      {"number as reference", [](Json& j) { j["order_reference"] = 77; },
       "field 'order_reference' must be a string, got number"},
      {"unknown field", [](Json& j) { j["secercy"] = true; }, "field 'secercy' is not a known field"},
      {"unknown nested field", [](Json& j) { j["provider"]["phone"] = "x"; }, "field 'provider.phone'"},
      {"schema version", [](Json& j) { j["schema_version"] = 2; }, "field 'schema_version' is 2"},
      {"unknown profile", [](Json& j) { j["profile"] = "provider-voluntary"; }, "an order uses"},
      {"member state", [](Json& j) { j["issuing_authority"]["member_state"] = "nl"; },
       "field 'issuing_authority.member_state'"},
      {"no locations", [](Json& j) { j["locations"] = Json::array(); }, "at least one location"},
      {"relative url", [](Json& j) { j["locations"][1]["url"] = "files/a.jpg"; },
       "field 'locations[1].url' 'files/a.jpg' is not an absolute URL"},
      {"url with space", [](Json& j) { j["locations"][0]["url"] = "https://a.example/x y"; },
       "'locations[0].url'"},
      {"duplicate url", [](Json& j) { j["locations"][1]["url"] = j["locations"][0]["url"]; },
       "is listed twice"},
      {"control char in name", [](Json& j) { j["provider"]["name"] = std::string("Ex\x01", 3); },
       "field 'provider.name' contains control characters"},
      {"bad time", [](Json& j) { j["issued_at"] = "28-03-2027 01:10"; }, "field 'issued_at'"},
      {"null issue time", [](Json& j) { j["issued_at"] = nullptr; }, "field 'issued_at' must be an RFC 3339"},
      {"deadline before issue", [](Json& j) { j["deadline"] = "2027-03-28T00:05:00Z"; },
       "field 'deadline' (2027-03-28T00:05:00+00:00) must be after issued_at (2027-03-28T00:10:00+00:00)"},
      {"secrecy as string", [](Json& j) { j["secrecy"] = "no"; }, "field 'secrecy' must be true or false"},
      {"secrecy end without secrecy", [](Json& j) { j["secrecy_until"] = "2027-05-01T00:00:00Z"; },
       "field 'secrecy_until' is only allowed with secrecy: true"},
      {"secrecy ending before the order",
       [](Json& j) {
         j["secrecy"] = true;
         j["secrecy_until"] = "2027-03-28T00:09:00Z";
       },
       "field 'secrecy_until' must be after issued_at"},
      {"atkm on tco",
       [](Json& j) {
         j["atkm"] = {{"instruction_reference", "AW-1"}, {"term_minutes", 60}};
       },
       "field 'atkm' is only allowed with profile 'nl-csam-instruction'"},
      {"nl without atkm", [](Json& j) { j["profile"] = "nl-csam-instruction"; }, "field 'atkm' is missing"},
      {"term 13 hours",
       [](Json& j) {
         j["profile"] = "nl-csam-instruction";
         j["atkm"] = {{"instruction_reference", "AW-1"}, {"term_minutes", 780}};
       },
       "field 'atkm.term_minutes' is 780; the Dutch CSAM act allows a term of at most 12 hours (720 "
       "minutes)"},
      {"term zero",
       [](Json& j) {
         j["profile"] = "nl-csam-instruction";
         j["atkm"] = {{"instruction_reference", "AW-1"}, {"term_minutes", 0}};
       },
       "field 'atkm.term_minutes' is 0; it must be in [1, 720]"},
      {"term fractional",
       [](Json& j) {
         j["profile"] = "nl-csam-instruction";
         j["atkm"] = {{"instruction_reference", "AW-1"}, {"term_minutes", 60.5}};
       },
       "field 'atkm.term_minutes' must be an integer"},
      {"long reference", [](Json& j) { j["order_reference"] = std::string(257, 'r'); },
       "field 'order_reference' is 257 bytes long; the limit is 256"},
  };
  for (const Case& c : cases) {
    Json j = TcoOrderJson();
    c.mutate(j);
    absl::StatusOr<RemovalOrder> order = Parse(j);
    EXPECT_EQ(order.status().code(), absl::StatusCode::kInvalidArgument) << c.label;
    EXPECT_THAT(Message(order.status()), HasSubstr(c.expected)) << c.label;
  }
}

TEST(ParseRemovalOrderJson, EnforcesDocumentLimits) {
  Json many = TcoOrderJson();
  many["locations"] = Json::array();
  for (int i = 0; i < 1001; ++i)
    many["locations"].push_back({{"url", "https://h.example/" + std::to_string(i)}});
  EXPECT_THAT(Message(Parse(many).status()), HasSubstr("field 'locations' has 1001 entries; at most 1000"));
  many["locations"].erase(1000);
  EXPECT_TRUE(Parse(many).ok());

  Json big = TcoOrderJson();
  big["reasons"] = std::string(16 * 1024, 'x');
  big["legal_basis"] = std::string(16 * 1024, 'x');
  big["redress"] = std::string(16 * 1024, 'x');
  for (auto& location : big["locations"]) location["details"] = std::string(16 * 1024, 'x');
  EXPECT_TRUE(Parse(big).ok());
  const std::string huge = std::string(1 << 20, ' ') + TcoOrderJson().dump();
  EXPECT_THAT(Message(ParseRemovalOrderJson(huge, "order.json").status()),
              HasSubstr("a removal order may be at most 1048576 bytes"));

  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  EXPECT_THAT(Message(ParseRemovalOrderJson(deep, "order.json").status()), HasSubstr("nested deeper than 8"));
  // Brackets inside strings do not count as nesting.
  Json brackets = TcoOrderJson();
  brackets["reasons"] = std::string(50, '[') + "\"\\" + std::string(50, '{');
  EXPECT_TRUE(Parse(brackets).ok());

  EXPECT_THAT(Message(ParseRemovalOrderJson("{\"schema_version\": 1,", "order.json").status()),
              HasSubstr("order.json: not valid JSON"));
  EXPECT_THAT(Message(ParseRemovalOrderJson("[1, 2]", "order.json").status()),
              HasSubstr("order.json: expected a JSON object, got array"));
  EXPECT_THAT(Message(ParseRemovalOrderJson("{\"reasons\": \"\xff\"}", "order.json").status()),
              HasSubstr("not valid JSON"));
}

RemovalOrder ParsedTco() {
  absl::StatusOr<RemovalOrder> order = Parse(TcoOrderJson());
  EXPECT_TRUE(order.ok()) << order.status();
  return order.ok() ? *order : RemovalOrder{};
}

TEST(RenderFeedback, AnnexIIReportsRemovalAndItsTime) {
  FeedbackOutcome outcome;
  outcome.action = FeedbackOutcome::Action::kRemoved;
  outcome.at = Utc(2027, 3, 28, 0, 52, 10);
  outcome.received_at = Utc(2027, 3, 28, 0, 12);
  absl::StatusOr<Json> feedback = RenderFeedback(ParsedTco(), outcome);
  ASSERT_TRUE(feedback.ok()) << feedback.status();
  EXPECT_EQ((*feedback)["kind"], "removal_order.feedback");
  EXPECT_EQ((*feedback)["annex"], "II");
  EXPECT_EQ((*feedback)["order_reference"], "TCO-DE-2027-77");
  EXPECT_EQ((*feedback)["issuing_authority"]["member_state"], "DE");
  EXPECT_EQ((*feedback)["provider"], "Example Hosting B.V.");
  EXPECT_EQ((*feedback)["action"], "removed");
  EXPECT_EQ((*feedback)["action_at"], "2027-03-28T00:52:10Z");
  EXPECT_EQ((*feedback)["received_at"], "2027-03-28T00:12:00Z");
  EXPECT_THAT((*feedback)["locations"].get<std::vector<std::string>>(),
              ElementsAre("https://files.example-hosting.example/v/1.mp4",
                          "https://files.example-hosting.example/v/2.mp4"));
  EXPECT_FALSE(feedback->contains("reason"));
  EXPECT_FALSE(feedback->contains("instruction_reference"));
}

TEST(RenderFeedback, AnnexIIIExplainsInabilityForASubsetOfLocations) {
  FeedbackOutcome outcome;
  outcome.action = FeedbackOutcome::Action::kUnableToComply;
  outcome.at = Utc(2027, 3, 28, 0, 20);
  outcome.reason = FeedbackOutcome::Reason::kManifestError;
  outcome.explanation = "The URL points to a host we do not operate.";
  outcome.urls = {"https://files.example-hosting.example/v/2.mp4"};
  absl::StatusOr<Json> feedback = RenderFeedback(ParsedTco(), outcome);
  ASSERT_TRUE(feedback.ok()) << feedback.status();
  EXPECT_EQ((*feedback)["kind"], "removal_order.inability");
  EXPECT_EQ((*feedback)["annex"], "III");
  EXPECT_EQ((*feedback)["action"], "unable_to_comply");
  EXPECT_EQ((*feedback)["reason"], "manifest_error");
  EXPECT_EQ((*feedback)["explanation"], "The URL points to a host we do not operate.");
  EXPECT_TRUE((*feedback)["received_at"].is_null());
  EXPECT_THAT((*feedback)["locations"].get<std::vector<std::string>>(),
              ElementsAre("https://files.example-hosting.example/v/2.mp4"));
}

TEST(RenderFeedback, AtkmFeedbackCarriesTheInstructionAndNoAnnex) {
  absl::StatusOr<RemovalOrder> order = ParseRemovalOrderJson(DocumentedExample(), "example");
  ASSERT_TRUE(order.ok()) << order.status();
  FeedbackOutcome outcome;
  outcome.action = FeedbackOutcome::Action::kAccessDisabled;
  outcome.at = Utc(2027, 3, 28, 0, 40);
  absl::StatusOr<Json> feedback = RenderFeedback(*order, outcome);
  ASSERT_TRUE(feedback.ok()) << feedback.status();
  EXPECT_FALSE(feedback->contains("annex"));
  EXPECT_EQ((*feedback)["instruction_reference"], "AW-2027-0042");
  EXPECT_EQ((*feedback)["action"], "access_disabled");
}

TEST(RenderFeedback, RejectsInconsistentOutcomes) {
  const RemovalOrder order = ParsedTco();
  FeedbackOutcome no_time;
  EXPECT_THAT(Message(RenderFeedback(order, no_time).status()), HasSubstr("'at') is not set"));

  FeedbackOutcome no_reason;
  no_reason.action = FeedbackOutcome::Action::kUnableToComply;
  no_reason.at = Utc(2027, 3, 28, 0, 20);
  no_reason.explanation = "server on fire";
  EXPECT_THAT(Message(RenderFeedback(order, no_reason).status()), HasSubstr("needs a reason"));

  FeedbackOutcome no_explanation = no_reason;
  no_explanation.reason = FeedbackOutcome::Reason::kForceMajeure;
  no_explanation.explanation = "";
  EXPECT_THAT(Message(RenderFeedback(order, no_explanation).status()), HasSubstr("needs an explanation"));

  FeedbackOutcome removed_with_reason;
  removed_with_reason.at = Utc(2027, 3, 28, 0, 20);
  removed_with_reason.reason = FeedbackOutcome::Reason::kForceMajeure;
  EXPECT_THAT(Message(RenderFeedback(order, removed_with_reason).status()),
              HasSubstr("only given with unable_to_comply"));

  FeedbackOutcome foreign_url;
  foreign_url.at = Utc(2027, 3, 28, 0, 20);
  foreign_url.urls = {"https://elsewhere.example/x"};
  EXPECT_THAT(Message(RenderFeedback(order, foreign_url).status()),
              HasSubstr("is not a location of the order"));
}

}  // namespace
}  // namespace takedown
