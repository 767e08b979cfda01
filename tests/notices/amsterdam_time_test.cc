#include "notices/amsterdam_time.h"

#include "gtest/gtest.h"
#include "notices/deadline_schedule.h"
#include "notices/legal_profile.h"

namespace takedown {
namespace {

absl::Time Utc(int y, int m, int d, int hh, int mm) {
  return absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm), absl::UTCTimeZone());
}

TEST(AmsterdamTimeZone, LoadsFromTzdata) {
  EXPECT_TRUE(AmsterdamTimeZone().ok()) << AmsterdamTimeZone().status();
}

TEST(FormatAmsterdam, WinterIsCetSummerIsCest) {
  EXPECT_EQ(FormatAmsterdam(Utc(2027, 1, 15, 8, 0)), "2027-01-15 09:00:00 CET (UTC+01:00)");
  EXPECT_EQ(FormatAmsterdam(Utc(2027, 7, 1, 8, 0)), "2027-07-01 10:00:00 CEST (UTC+02:00)");
}

// Summer time starts on Sunday 28 March 2027 at 01:00 UTC: 02:00 CET becomes
// 03:00 CEST. A TCO order received at 01:30 local time is due one real hour
// later, which the wall clock shows as 03:30.
TEST(FormatAmsterdam, OneHourDeadlineAcrossTheSpringForwardChange) {
  const absl::Time received = Utc(2027, 3, 28, 0, 30);
  absl::StatusOr<LegalProfile> tco = FindProfile("tco-removal-order");
  ASSERT_TRUE(tco.ok());
  absl::StatusOr<absl::Time> deadline = RemovalDeadline(*tco, received);
  ASSERT_TRUE(deadline.ok());
  EXPECT_EQ(*deadline - received, absl::Hours(1));
  EXPECT_EQ(FormatAmsterdam(received), "2027-03-28 01:30:00 CET (UTC+01:00)");
  EXPECT_EQ(FormatAmsterdam(*deadline), "2027-03-28 03:30:00 CEST (UTC+02:00)");
}

// Summer time ends on Sunday 31 October 2027 at 01:00 UTC: 03:00 CEST becomes
// 02:00 CET, so 02:30 local happens twice; the offset tells them apart.
TEST(FormatAmsterdam, AmbiguousHourAtTheFallBackChangeShowsTheOffset) {
  EXPECT_EQ(FormatAmsterdam(Utc(2027, 10, 31, 0, 30)), "2027-10-31 02:30:00 CEST (UTC+02:00)");
  EXPECT_EQ(FormatAmsterdam(Utc(2027, 10, 31, 1, 30)), "2027-10-31 02:30:00 CET (UTC+01:00)");
}

TEST(FormatAmsterdam, DropsSubSecondsAndNamesInfiniteTimes) {
  EXPECT_EQ(FormatAmsterdam(Utc(2027, 1, 15, 8, 0) + absl::Milliseconds(999)),
            "2027-01-15 09:00:00 CET (UTC+01:00)");
  EXPECT_EQ(FormatAmsterdam(absl::InfinitePast()), "never");
  EXPECT_EQ(FormatAmsterdam(absl::InfiniteFuture()), "infinite future");
}

}  // namespace
}  // namespace takedown
