#include "notices/case.h"

#include <functional>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "notices/json_fields.h"
#include "tests/fakes/fake_clock.h"

namespace takedown {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

CaseObject SampleObject() {
  CaseObject o;
  o.source_id = "fs-main";
  o.key = "photos/2026/a.jpg";
  o.version = "size=1234;mtime=1700000000;ino=42";
  o.size = 1234;
  o.md5_hex = std::string(32, 'a');
  o.sha1_hex = std::string(40, 'b');
  o.sha256_hex = std::string(64, 'c');
  o.content_type = "image/jpeg";
  return o;
}

MatchEvidence Evidence(std::string hash_type, std::string digest_hex, std::string entry_id,
                       std::string category = "other") {
  MatchEvidence e;
  e.hash_type = std::move(hash_type);
  e.digest_hex = std::move(digest_hex);
  e.list_name = "hotline-nl";
  e.list_version = "2026-11";
  e.entry_id = std::move(entry_id);
  e.category = std::move(category);
  e.algorithm_version = "pdq-1.0/takedown-0.1";
  e.matched_at = kT0 + absl::Milliseconds(5);
  return e;
}

TEST(CaseIdFor, IsSha256OfSourceNulKeyTruncatedTo24Hex) {
  // Reference value computed independently: sha256(b"fs-main\0photos/2026/a.jpg")[:24].
  EXPECT_EQ(CaseIdFor("fs-main", "photos/2026/a.jpg"), "c-dd29ea964a4868893887291b");
}

TEST(CaseIdFor, DeterministicAndDistinct) {
  EXPECT_EQ(CaseIdFor("s3-eu", "bucket/k"), CaseIdFor("s3-eu", "bucket/k"));
  std::set<std::string> ids = {
      CaseIdFor("s3-eu", "bucket/k"), CaseIdFor("s3-eu", "bucket/K"), CaseIdFor("s3-us", "bucket/k"),
      CaseIdFor("ab", "c"),           CaseIdFor("a", "bc"),           CaseIdFor("", ""),
  };
  EXPECT_EQ(ids.size(), 6u);
  for (const std::string& id : ids) {
    EXPECT_EQ(id.size(), 26u);
    EXPECT_EQ(id.substr(0, 2), "c-");
  }
}

TEST(NewCase, StartsDetectedWithIdFromObject) {
  Case c = NewCase(SampleObject(), kT0);
  EXPECT_EQ(c.id, CaseIdFor("fs-main", "photos/2026/a.jpg"));
  EXPECT_EQ(c.state, CaseState::kDetected);
  EXPECT_EQ(c.created_at, kT0);
  EXPECT_EQ(c.updated_at, kT0);
  EXPECT_TRUE(c.evidence.empty());
  EXPECT_TRUE(c.history.empty());
  EXPECT_EQ(c.object, SampleObject());
}

TEST(AddEvidence, DeduplicatesOnTypeDigestListAndEntry) {
  Case c = NewCase(SampleObject(), kT0);
  ASSERT_TRUE(*AddEvidence(c, Evidence("md5", std::string(32, 'a'), "e1")));

  MatchEvidence again = Evidence("md5", std::string(32, 'a'), "e1");
  again.matched_at = kT0 + absl::Hours(1);  // a later sweep finds the same match
  again.list_version = "2026-12";
  EXPECT_FALSE(*AddEvidence(c, again));
  ASSERT_EQ(c.evidence.size(), 1u);
  EXPECT_EQ(c.evidence[0].list_version, "2026-11");

  EXPECT_TRUE(*AddEvidence(c, Evidence("md5", std::string(32, 'a'), "e2")));
  EXPECT_TRUE(*AddEvidence(c, Evidence("sha256", std::string(64, 'c'), "e1")));
  MatchEvidence other_list = Evidence("md5", std::string(32, 'a'), "e1");
  other_list.list_name = "tco-eu";
  EXPECT_TRUE(*AddEvidence(c, other_list));
  EXPECT_EQ(c.evidence.size(), 4u);
}

TEST(AddEvidence, CategoryIsTheMostSevere) {
  Case c = NewCase(SampleObject(), kT0);
  EXPECT_EQ(c.category, "");
  ASSERT_TRUE(*AddEvidence(c, Evidence("md5", std::string(32, 'a'), "e1", "other")));
  EXPECT_EQ(c.category, "other");
  ASSERT_TRUE(*AddEvidence(c, Evidence("md5", std::string(32, 'a'), "e2", "terrorist")));
  EXPECT_EQ(c.category, "terrorist");
  ASSERT_TRUE(*AddEvidence(c, Evidence("pdq", std::string(64, 'f'), "e3", "csam")));
  EXPECT_EQ(c.category, "csam");
  ASSERT_TRUE(*AddEvidence(c, Evidence("sha1", std::string(40, '0'), "e4", "terrorist")));
  EXPECT_EQ(c.category, "csam");
}

TEST(AddEvidence, RejectsMalformedEvidenceLeavingCaseUnchanged) {
  Case c = NewCase(SampleObject(), kT0);
  const Case before = c;
  MatchEvidence bad_quality = Evidence("pdq", std::string(64, 'f'), "e1");
  bad_quality.quality = 101;
  MatchEvidence no_list = Evidence("md5", std::string(32, 'a'), "e1");
  no_list.list_name.clear();
  const std::vector<std::pair<MatchEvidence, std::string>> cases = {
      {Evidence("md5", std::string(31, 'a'), "e1"), "digest_hex"},
      {Evidence("md5", std::string(32, 'A'), "e1"), "digest_hex"},
      {Evidence("sha256", std::string(32, 'a'), "e1"), "digest_hex"},
      {Evidence("crc32", "deadbeef", "e1"), "hash_type"},
      {Evidence("md5", std::string(32, 'a'), "e1", "CSAM"), "category"},
      {Evidence("md5", std::string(32, 'a'), ""), "entry_id"},
      {bad_quality, "quality"},
      {no_list, "list_name"},
  };
  for (const auto& [evidence, field] : cases) {
    absl::StatusOr<bool> added = AddEvidence(c, evidence);
    ASSERT_FALSE(added.ok()) << field;
    EXPECT_EQ(added.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(added.status().message()), HasSubstr(field));
    EXPECT_THAT(std::string(added.status().message()), HasSubstr(c.id));
  }
  EXPECT_EQ(c, before);
}

TEST(ApplyTransition, RecordsActorReasonAndTime) {
  FakeClock clock(kT0);
  Case c = NewCase(SampleObject(), clock.Now());
  clock.Advance(absl::Minutes(3) + absl::Microseconds(17));
  ASSERT_TRUE(
      ApplyTransition(c, CaseState::kInReview, clock.Now(), "policy:perceptual-review", "pdq match").ok());
  clock.Advance(absl::Hours(2));
  ASSERT_TRUE(
      ApplyTransition(c, CaseState::kConfirmed, clock.Now(), "reviewer:alice", "visually confirmed").ok());

  EXPECT_EQ(c.state, CaseState::kConfirmed);
  EXPECT_EQ(c.created_at, kT0);
  EXPECT_EQ(c.updated_at, clock.Now());
  ASSERT_EQ(c.history.size(), 2u);
  EXPECT_EQ(c.history[0], (CaseTransition{CaseState::kDetected, CaseState::kInReview,
                                          kT0 + absl::Minutes(3) + absl::Microseconds(17),
                                          "policy:perceptual-review", "pdq match"}));
  EXPECT_EQ(c.history[1].from, CaseState::kInReview);
  EXPECT_EQ(c.history[1].to, CaseState::kConfirmed);
  EXPECT_EQ(c.history[1].at, clock.Now());
  EXPECT_EQ(c.history[1].actor, "reviewer:alice");
  EXPECT_EQ(c.history[1].reason, "visually confirmed");
}

TEST(ApplyTransition, RejectsIllegalTransitionsLeavingCaseUnchanged) {
  Case c = NewCase(SampleObject(), kT0);
  ASSERT_TRUE(ApplyTransition(c, CaseState::kInReview, kT0 + absl::Seconds(1), "system", "").ok());
  const Case before = c;

  absl::Status status =
      ApplyTransition(c, CaseState::kNotified, kT0 + absl::Seconds(2), "reviewer:bob", "skip");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()), HasSubstr(c.id));
  EXPECT_THAT(std::string(status.message()), HasSubstr("allowed from in_review: confirmed, rejected"));
  EXPECT_EQ(c, before);

  EXPECT_EQ(ApplyTransition(c, CaseState::kConfirmed, kT0, "", "no actor").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      ApplyTransition(c, CaseState::kConfirmed, kT0, "reviewer:bob", std::string(kMaxReasonLength + 1, 'x'))
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c, before);
}

Case RichCase() {
  Case c = NewCase(SampleObject(), kT0 + absl::Nanoseconds(123456789));
  MatchEvidence pdq =
      Evidence("pdq", "f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff", "NL-77", "csam");
  pdq.distance = 12;
  pdq.threshold = 31;
  pdq.quality = 87;
  pdq.matched_at = kT0 + absl::Nanoseconds(1);
  EXPECT_TRUE(*AddEvidence(c, pdq));
  MatchEvidence md5 = Evidence("md5", "0123456789abcdef0123456789abcdef", "NL-78", "terrorist");
  md5.matched_at = absl::InfinitePast();  // not recorded
  EXPECT_TRUE(*AddEvidence(c, md5));
  absl::Time t = kT0;
  for (auto [to, actor] : {std::pair{CaseState::kInReview, "policy:review"},
                           {CaseState::kConfirmed, "reviewer:a"},
                           {CaseState::kNotified, "dispatcher"},
                           {CaseState::kOverdue, "timer:deadline"},
                           {CaseState::kReminded, "timer:reminder"},
                           {CaseState::kReminded, "timer:reminder"}}) {
    t += absl::Milliseconds(1500) + absl::Nanoseconds(7);
    EXPECT_TRUE(ApplyTransition(c, to, t, actor, "reason with \"quotes\", ünïcode and\nnewline").ok());
  }
  c.object.key = "dir/ä b.zip!inner/x.png";
  return c;
}

TEST(CaseJson, RoundTripsLosslesslyThroughText) {
  const Case c = RichCase();
  std::string text = CaseToJson(c).dump();
  absl::StatusOr<Case> back = CaseFromJson(Json::parse(text));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, c);
  EXPECT_EQ(back->history.size(), 6u);
  EXPECT_EQ(back->history[5].at, c.history[5].at);
  EXPECT_EQ(back->evidence[0].matched_at, kT0 + absl::Nanoseconds(1));
}

TEST(CaseJson, TimesAreRfc3339UtcWithSubSecondDigits) {
  const Case c = RichCase();
  Json j = CaseToJson(c);
  // kT0 is 2027-01-15T08:00:00Z.
  EXPECT_EQ(j["created_at"], "2027-01-15T08:00:00.123456789Z");
  EXPECT_EQ(j["evidence"][0]["matched_at"], "2027-01-15T08:00:00.000000001Z");
  EXPECT_EQ(j["evidence"][1]["matched_at"], nullptr);
  EXPECT_EQ(j["history"][0]["at"], "2027-01-15T08:00:01.500000007Z");
  EXPECT_EQ(j["state"], "reminded");
  EXPECT_EQ(j["category"], "csam");
  EXPECT_EQ(j["object"]["size"], 1234);
}

TEST(CaseJson, RoundTripsWholeSecondsAndFreshCases) {
  Case c = NewCase(SampleObject(), kT0);
  EXPECT_EQ(CaseToJson(c)["created_at"], "2027-01-15T08:00:00Z");
  absl::StatusOr<Case> back = CaseFromJson(CaseToJson(c));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, c);
}

TEST(JsonTime, RoundTripsFullAbslPrecisionAndUnsetTimes) {
  for (absl::Time t : {kT0, kT0 + absl::Nanoseconds(1) / 4, kT0 - absl::Milliseconds(1), absl::UnixEpoch(),
                       absl::InfinitePast(), absl::InfiniteFuture()}) {
    absl::StatusOr<absl::Time> back = TimeFromJson(Json::parse(TimeToJson(t).dump()), "test");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, t);
  }
  EXPECT_EQ(TimeToJson(kT0 + absl::Nanoseconds(1) / 4), "2027-01-15T08:00:00.00000000025Z");
  EXPECT_EQ(TimeToJson(absl::InfinitePast()), nullptr);
  absl::StatusOr<absl::Time> offset = TimeFromJson("2027-01-15T10:00:00+02:00", "test");
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(*offset, kT0);
  for (Json bad :
       {Json("2027-01-15 08:00:00"), Json("yesterday"), Json(1800000000), Json(std::string(65, '1'))}) {
    absl::StatusOr<absl::Time> parsed = TimeFromJson(bad, "case c-1: field 'at'");
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("case c-1: field 'at'"));
  }
}

TEST(Utf8, ValidatesAndSanitizes) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xC3\xA4 \xE2\x82\xAC \xF0\x9F\x98\x80"));  // ä € 😀
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_FALSE(IsValidUtf8("\xC3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_EQ(SanitizeUtf8("a\xFF\xC3\xA4" "b\xC3"), "a\xEF\xBF\xBD\xC3\xA4" "b\xEF\xBF\xBD");
}

TEST(CaseJson, NonUtf8ObjectFieldsRoundTripExactlyAndDumpStrictly) {
  CaseObject o = SampleObject();
  o.key = std::string("legacy/caf\xE9.zip!\x82\x00x", 19);
  Case c = NewCase(o, kT0);
  Json j = CaseToJson(c);
  EXPECT_EQ(j["object"]["key_hex"],
            "6c65676163792f636166e92e7a6970218200"
            "78");
  EXPECT_EQ(j["object"]["key"], std::string("legacy/caf\xEF\xBF\xBD.zip!\xEF\xBF\xBD\x00x", 23));
  EXPECT_FALSE(j["object"].contains("source_id_hex"));
  std::string text = j.dump();  // strict: throws on invalid UTF-8
  absl::StatusOr<Case> back = CaseFromJson(Json::parse(text));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->object.key, o.key);
  EXPECT_EQ(*back, c);
}

TEST(CaseJson, EvidenceAndAuditTextMustBeUtf8) {
  Case c = NewCase(SampleObject(), kT0);
  MatchEvidence e = Evidence("md5", std::string(32, 'a'), "e1");
  e.list_name = "list\xFF";
  absl::StatusOr<bool> added = AddEvidence(c, e);
  ASSERT_FALSE(added.ok());
  EXPECT_THAT(std::string(added.status().message()), HasSubstr("'list_name' is not valid UTF-8"));
  EXPECT_EQ(ApplyTransition(c, CaseState::kInReview, kT0, "reviewer", "bad \xFF").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(c.history.empty());
}

TEST(CaseJson, RejectsCorruptRecordsNamingTheField) {
  const Json good = CaseToJson(RichCase());
  struct Corruption {
    std::string name;
    std::function<void(Json&)> apply;
    std::string expected;
  };
  const std::vector<Corruption> corruptions = {
      {"missing state", [](Json& j) { j.erase("state"); }, "field 'state' is missing"},
      {"unknown state", [](Json& j) { j["state"] = "open"; }, "unknown case state 'open'"},
      {"state disagrees with history", [](Json& j) { j["state"] = "escalated"; }, "history ends in reminded"},
      {"illegal history step", [](Json& j) { j["history"][1]["to"] = "fined"; }, "history[1]"},
      {"negative size", [](Json& j) { j["object"]["size"] = -1; }, "field 'size'"},
      {"bad digest", [](Json& j) { j["evidence"][0]["digest_hex"] = "xyz"; }, "evidence[0]"},
      {"bad time", [](Json& j) { j["updated_at"] = "yesterday"; }, "field 'updated_at'"},
      {"evidence not array", [](Json& j) { j["evidence"] = Json::object(); },
       "field 'evidence' must be a JSON array"},
      {"bad category", [](Json& j) { j["category"] = "spam"; }, "field 'category'"},
      {"object digest", [](Json& j) { j["object"]["md5_hex"] = std::string(32, 'Z'); }, "md5_hex"},
  };
  for (const Corruption& corruption : corruptions) {
    Json j = good;
    corruption.apply(j);
    absl::StatusOr<Case> parsed = CaseFromJson(j);
    ASSERT_FALSE(parsed.ok()) << corruption.name;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << corruption.name;
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(corruption.expected)) << corruption.name;
  }
  EXPECT_FALSE(CaseFromJson(Json::array()).ok());
  EXPECT_FALSE(CaseFromJson(Json("text")).ok());
}

TEST(CaseTermsJson, PreservedCopiesRoundTripAndOlderRecordsReadWithoutThem) {
  CaseTerms terms;
  terms.profile = "tco-removal-order";
  PreservedContent kept;
  kept.location = "/var/lib/takedownd/preserved/c-1/1.sealed";
  kept.key_id = "0011223344556677";
  kept.bytes = 48213;
  kept.sha256_hex = std::string(64, 'a');
  kept.preserved_at = absl::FromUnixSeconds(1'800'000'000);
  kept.retain_until = kept.preserved_at + absl::Hours(24 * 184);
  PreservedContent erased = kept;
  erased.location = "/var/lib/takedownd/preserved/c-1/2.sealed";
  erased.erased_at = erased.retain_until;
  terms.preserved = {kept, erased};
  Json json = CaseTermsToJson(terms);
  EXPECT_EQ(json["preserved"][0]["retain_until"], "2027-07-18T08:00:00Z");
  absl::StatusOr<CaseTerms> back = CaseTermsFromJson(Json::parse(json.dump()), "terms");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, terms);

  json.erase("preserved");  // written before preservation existed
  back = CaseTermsFromJson(json, "terms");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->preserved.empty());

  json["preserved"] = Json::array({Json{{"location", ""}}});
  EXPECT_THAT(CaseTermsFromJson(json, "case c-1: terms").status().message(),
              HasSubstr("case c-1: terms: preserved[0]"));
  json["preserved"] = Json::array();
  for (size_t i = 0; i <= kMaxPreservedContent; ++i)
    json["preserved"].push_back(CaseTermsToJson(terms)["preserved"][0]);
  EXPECT_THAT(CaseTermsFromJson(json, "terms").status().message(), HasSubstr("sealed copies"));
}

}  // namespace
}  // namespace takedown
