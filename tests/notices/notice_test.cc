#include "notices/notice.h"

#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "notices/channel.h"
#include "notices/outbox_record.h"

namespace takedown {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

Case SampleCase() {
  CaseObject o;
  o.source_id = "s3-eu";
  o.key = "uploads/x.png";
  o.version = "etag:\"9b2cf535f27731c974343645a3985328\"";
  o.size = 98765;
  o.md5_hex = "9b2cf535f27731c974343645a3985328";
  o.sha1_hex = std::string(40, '1');
  o.sha256_hex = std::string(64, '2');
  o.content_type = "image/png";
  Case c = NewCase(o, kT0);
  MatchEvidence e;
  e.hash_type = "md5";
  e.digest_hex = o.md5_hex;
  e.list_name = "tco-eu";
  e.list_version = "v7";
  e.entry_id = "T-1";
  e.category = "terrorist";
  e.algorithm_version = "md5";
  e.matched_at = kT0 + absl::Milliseconds(250);
  EXPECT_TRUE(*AddEvidence(c, e));
  EXPECT_TRUE(
      ApplyTransition(c, CaseState::kConfirmed, kT0 + absl::Seconds(1), "policy:auto-action", "signed list")
          .ok());
  return c;
}

TEST(NoticeIdFor, IsSha256OfFieldsTruncatedTo24Hex) {
  // Reference computed independently: sha256(b"c-0123\0case.detected\0file_drop\0" b"0")[:24].
  EXPECT_EQ(NoticeIdFor("c-0123", "case.detected", "file_drop", 0), "n-39c1bd16934f0c9331b4106d");
}

TEST(NoticeIdFor, DeterministicAndDistinctPerCaseKindChannelAndSequence) {
  EXPECT_EQ(NoticeIdFor("c-1", "case.detected", "file_drop", 0),
            NoticeIdFor("c-1", "case.detected", "file_drop", 0));
  std::set<std::string> ids = {
      NoticeIdFor("c-1", "case.detected", "file_drop", 0),
      NoticeIdFor("c-2", "case.detected", "file_drop", 0),
      NoticeIdFor("c-1", "case.reminder", "file_drop", 0),
      NoticeIdFor("c-1", "case.detected", "webhook", 0),
      NoticeIdFor("c-1", "case.detected", "file_drop", 1),
      NoticeIdFor("c-1", "case.detected", "file_drop", 10),
  };
  EXPECT_EQ(ids.size(), 6u);
  for (const std::string& id : ids) EXPECT_TRUE(IsSafeNoticeId(id)) << id;
}

TEST(IsSafeNoticeId, AcceptsOnlyPlainFileNames) {
  EXPECT_TRUE(IsSafeNoticeId("n-0123abcd"));
  EXPECT_TRUE(IsSafeNoticeId("Report_2026.11-a"));
  for (const std::string& bad :
       std::vector<std::string>{"", ".", "..", "../etc/passwd", "a/b", ".hidden", "a b",
                                std::string(129, 'a'), std::string("a\0b", 3)}) {
    EXPECT_FALSE(IsSafeNoticeId(bad)) << bad;
  }
}

TEST(MakeDetectionNotice, PayloadDescribesCaseWithoutContent) {
  const Case c = SampleCase();
  Notice n = MakeDetectionNotice(c, kT0 + absl::Seconds(2));
  EXPECT_EQ(n.id, NoticeIdFor(c.id, "case.detected", "file_drop", 0));
  EXPECT_EQ(n.case_id, c.id);
  EXPECT_EQ(n.kind, "case.detected");
  EXPECT_EQ(n.channel, "file_drop");
  EXPECT_EQ(n.created_at, kT0 + absl::Seconds(2));

  const Json& p = n.payload;
  EXPECT_EQ(p["content_included"], false);
  EXPECT_EQ(p["schema_version"], 1);
  EXPECT_EQ(p["notice_id"], n.id);
  EXPECT_EQ(p["kind"], "case.detected");
  EXPECT_EQ(p["case_id"], c.id);
  EXPECT_EQ(p["state"], "confirmed");
  EXPECT_EQ(p["category"], "terrorist");
  EXPECT_EQ(p["created_at"], "2027-01-15T08:00:02Z");
  EXPECT_EQ(p["object"]["source_id"], "s3-eu");
  EXPECT_EQ(p["object"]["key"], "uploads/x.png");
  EXPECT_EQ(p["object"]["version"], c.object.version);
  EXPECT_EQ(p["object"]["size"], 98765);
  EXPECT_EQ(p["object"]["md5"], "9b2cf535f27731c974343645a3985328");
  EXPECT_EQ(p["object"]["sha1"], c.object.sha1_hex);
  EXPECT_EQ(p["object"]["sha256"], c.object.sha256_hex);
  EXPECT_EQ(p["object"]["content_type"], "image/png");
  ASSERT_EQ(p["evidence"].size(), 1u);
  EXPECT_EQ(p["evidence"][0]["list_name"], "tco-eu");
  EXPECT_EQ(p["evidence"][0]["entry_id"], "T-1");
  EXPECT_EQ(p["evidence"][0]["digest"], "9b2cf535f27731c974343645a3985328");
  EXPECT_EQ(p["evidence"][0]["matched_at"], "2027-01-15T08:00:00.25Z");
  EXPECT_FALSE(p.contains("content"));
}

TEST(MakeDetectionNotice, SameCaseGivesSameIdOnOtherChannelDifferentId) {
  const Case c = SampleCase();
  EXPECT_EQ(MakeDetectionNotice(c, kT0).id, MakeDetectionNotice(c, kT0 + absl::Hours(1)).id);
  Notice webhook = MakeDetectionNotice(c, kT0, "webhook");
  EXPECT_EQ(webhook.channel, "webhook");
  EXPECT_NE(webhook.id, MakeDetectionNotice(c, kT0).id);
}

TEST(NoticeJson, RoundTripsThroughText) {
  Notice n = MakeDetectionNotice(SampleCase(), kT0 + absl::Nanoseconds(999));
  absl::StatusOr<Notice> back = NoticeFromJson(Json::parse(NoticeToJson(n).dump()));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, n);
}

TEST(NoticeJson, RejectsUnsafeIdsAndMissingPayload) {
  Json j = NoticeToJson(MakeDetectionNotice(SampleCase(), kT0));
  Json bad_id = j;
  bad_id["id"] = "../../etc/cron.d/x";
  absl::StatusOr<Notice> parsed = NoticeFromJson(bad_id);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("../../etc/cron.d/x"));

  Json no_payload = j;
  no_payload["payload"] = "text";
  parsed = NoticeFromJson(no_payload);
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("field 'payload' must be a JSON object"));
}

TEST(OutboxRecord, NewRecordIsPendingAndDueNow) {
  OutboxRecord r = NewOutboxRecord(MakeDetectionNotice(SampleCase(), kT0), kT0 + absl::Seconds(1));
  EXPECT_EQ(r.state, OutboxRecord::State::kPending);
  EXPECT_EQ(r.attempts, 0);
  EXPECT_EQ(r.next_attempt_at, kT0 + absl::Seconds(1));
  EXPECT_EQ(r.delivered_at, absl::InfinitePast());
  EXPECT_EQ(OutboxRecordToJson(r)["delivered_at"], nullptr);
  EXPECT_EQ(OutboxRecordToJson(r)["state"], "pending");
}

TEST(OutboxRecord, RoundTripsEveryState) {
  for (auto state :
       {OutboxRecord::State::kPending, OutboxRecord::State::kDelivered, OutboxRecord::State::kDeadLetter}) {
    OutboxRecord r = NewOutboxRecord(MakeDetectionNotice(SampleCase(), kT0), kT0);
    r.state = state;
    r.attempts = 3;
    r.last_error = "file drop: cannot create temporary file /x: No space left on device";
    r.next_attempt_at = kT0 + absl::Milliseconds(1234);
    if (state == OutboxRecord::State::kDelivered) r.delivered_at = kT0 + absl::Microseconds(1);
    absl::StatusOr<OutboxRecord> back = OutboxRecordFromJson(Json::parse(OutboxRecordToJson(r).dump()));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, r) << OutboxStateName(state);
  }
  EXPECT_EQ(OutboxStateName(OutboxRecord::State::kDeadLetter), "dead_letter");
}

TEST(OutboxRecord, RejectsBadFields) {
  Json j = OutboxRecordToJson(NewOutboxRecord(MakeDetectionNotice(SampleCase(), kT0), kT0));
  Json bad_state = j;
  bad_state["state"] = "sent";
  absl::StatusOr<OutboxRecord> parsed = OutboxRecordFromJson(bad_state);
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("unknown outbox state 'sent'"));
  Json negative = j;
  negative["attempts"] = -1;
  parsed = OutboxRecordFromJson(negative);
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("field 'attempts'"));
}

TEST(NoticeChannel, TransientErrorsAreTheRetryableCodes) {
  EXPECT_TRUE(IsTransientDeliveryError(absl::UnavailableError("x")));
  EXPECT_TRUE(IsTransientDeliveryError(absl::ResourceExhaustedError("x")));
  EXPECT_TRUE(IsTransientDeliveryError(absl::DeadlineExceededError("x")));
  EXPECT_FALSE(IsTransientDeliveryError(absl::AlreadyExistsError("x")));
  EXPECT_FALSE(IsTransientDeliveryError(absl::InvalidArgumentError("x")));
  EXPECT_FALSE(IsTransientDeliveryError(absl::OkStatus()));
}

}  // namespace
}  // namespace takedown
