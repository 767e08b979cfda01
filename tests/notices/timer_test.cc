#include "notices/timer.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "notices/json_fields.h"
#include "tests/fakes/fake_clock.h"

namespace takedown {
namespace {

using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

Timer Make(absl::Time due, std::string case_id, TimerKind kind = TimerKind::kDeadline, int step = 0,
           int period = 0) {
  Timer t;
  t.due = due;
  t.case_id = std::move(case_id);
  t.kind = kind;
  t.step = step;
  t.period = period;
  t.profile = "nl-csam-instruction";
  t.action = kind == TimerKind::kEscalation ? "penalty_order" : "";
  return t;
}

std::string Key(const Timer& t) {
  absl::StatusOr<std::string> key = EncodeTimerKey(t);
  EXPECT_TRUE(key.ok()) << key.status();
  return key.ok() ? *key : std::string();
}

TEST(EncodeTimerKey, LayoutIsBigEndianMicrosCaseKindStepPeriod) {
  Timer t = Make(absl::FromUnixMicros(0x0102030405060708), "c-ab", TimerKind::kEscalation, 2, 0x01020304);
  const std::string expected = std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8) + "c-ab" +
                               std::string(1, '\0') + "\x04" + std::string("\x00\x00\x00\x02", 4) +
                               "\x01\x02\x03\x04";
  EXPECT_EQ(Key(t), expected);
}

TEST(EncodeTimerKey, SortsByDueTimeThenCaseThenKind) {
  // 255 and 256 microseconds differ in the low byte only after a carry: a
  // little-endian or decimal encoding would sort them wrongly.
  std::vector<Timer> timers = {
      Make(kT0 + absl::Hours(1), "c-a"),
      Make(absl::FromUnixMicros(256), "c-a"),
      Make(absl::FromUnixMicros(255), "c-z"),
      Make(kT0, "c-b", TimerKind::kDeadline),
      Make(kT0, "c-b", TimerKind::kReminder, 3),
      Make(kT0, "c-a", TimerKind::kPreservationExpiry),
      Make(kT0, "c-b", TimerKind::kEscalation, 10),
      Make(kT0, "c-b", TimerKind::kEscalation, 9),
  };
  std::vector<std::string> keys;
  for (const Timer& t : timers) keys.push_back(Key(t));
  std::sort(keys.begin(), keys.end());
  std::vector<std::string> expected = {
      Key(timers[2]), Key(timers[1]), Key(timers[5]), Key(timers[4]),
      Key(timers[3]), Key(timers[7]), Key(timers[6]), Key(timers[0]),
  };
  EXPECT_EQ(keys, expected);
}

TEST(DecodeTimer, RoundTripsKeyAndValue) {
  Timer t = Make(kT0 + absl::Nanoseconds(1500), "c-1f2e", TimerKind::kEscalation, 1, 0);
  absl::StatusOr<Timer> back = DecodeTimer(Key(t), EncodeTimerValue(t));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, t);  // the value keeps the exact due time; the key has microseconds
}

TEST(DecodeTimer, RejectsCorruptOrMismatchedRecords) {
  Timer t = Make(kT0, "c-1", TimerKind::kRecheck, 4);
  const std::string key = Key(t);
  const std::string value = EncodeTimerValue(t);

  EXPECT_EQ(DecodeTimer(key.substr(0, 8), value).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(DecodeTimer(key, "{not json").status().message()), HasSubstr("not a JSON object"));

  Timer other = t;
  other.step = 5;
  EXPECT_THAT(std::string(DecodeTimer(key, EncodeTimerValue(other)).status().message()),
              HasSubstr("key and value disagree"));
  other = t;
  other.due += absl::Seconds(1);
  EXPECT_THAT(std::string(DecodeTimer(key, EncodeTimerValue(other)).status().message()),
              HasSubstr("key and value disagree"));

  nlohmann::json bad_kind = TimerToJson(t);
  bad_kind["kind"] = "explode";
  EXPECT_THAT(std::string(DecodeTimer(key, DumpJson(bad_kind)).status().message()), HasSubstr("explode"));
  nlohmann::json missing = TimerToJson(t);
  missing.erase("profile");
  absl::Status s = DecodeTimer(key, DumpJson(missing)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("'profile' is missing"));
}

TEST(ValidateTimer, BoundsDueTimeAndCaseId) {
  EXPECT_FALSE(EncodeTimerKey(Make(absl::UnixEpoch() - absl::Seconds(1), "c-1")).ok());
  EXPECT_FALSE(EncodeTimerKey(Make(absl::InfiniteFuture(), "c-1")).ok());
  EXPECT_FALSE(EncodeTimerKey(Make(kT0, "")).ok());
  EXPECT_FALSE(EncodeTimerKey(Make(kT0, std::string(129, 'c'))).ok());
  EXPECT_FALSE(EncodeTimerKey(Make(kT0, "c-1", TimerKind::kDeadline, -1)).ok());
  EXPECT_TRUE(EncodeTimerKey(Make(absl::UnixEpoch(), "c-1")).ok());
}

TEST(TimerScanLimit, SeparatesDueFromNotYetDue) {
  FakeClock clock(kT0);
  const std::string due_now = Key(Make(kT0, "c-zzzz", TimerKind::kPreservationExpiry, 99, 99));
  const std::string later = Key(Make(kT0 + absl::Microseconds(1), "c-0"));
  EXPECT_LT(due_now, TimerScanLimit(clock.Now()));
  EXPECT_GE(later, TimerScanLimit(clock.Now()));
  clock.Advance(absl::Microseconds(1));
  EXPECT_LT(later, TimerScanLimit(clock.Now()));
}

TEST(FiredLate, IsZeroWhenOnTimeAndTheDelayOtherwise) {
  Timer t = Make(kT0, "c-1");
  EXPECT_EQ(FiredLate(t, kT0 - absl::Seconds(5)), absl::ZeroDuration());
  EXPECT_EQ(FiredLate(t, kT0), absl::ZeroDuration());
  // A daemon that was down for three hours fires the timer three hours late.
  EXPECT_EQ(FiredLate(t, kT0 + absl::Hours(3)), absl::Hours(3));
}

TEST(TimerKind, NamesRoundTripAndCodesAreDistinct) {
  std::vector<int> codes;
  for (TimerKind k : {TimerKind::kDeadline, TimerKind::kReminder, TimerKind::kRecheck, TimerKind::kEscalation,
                      TimerKind::kPenaltyPeriod, TimerKind::kPreservationExpiry, TimerKind::kSecrecyEnd}) {
    absl::StatusOr<TimerKind> parsed = ParseTimerKind(TimerKindName(k));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, k);
    codes.push_back(TimerKindCode(k));
  }
  std::sort(codes.begin(), codes.end());
  EXPECT_EQ(codes, (std::vector<int>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_FALSE(ParseTimerKind("Deadline").ok());
}

}  // namespace
}  // namespace takedown
