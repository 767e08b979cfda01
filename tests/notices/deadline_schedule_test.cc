#include "notices/deadline_schedule.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"

namespace takedown {
namespace {

using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

std::string Message(const absl::Status& s) { return std::string(s.message()); }

LegalProfile Profile(std::string_view name, const LegalProfileOverrides& o = {}) {
  absl::StatusOr<LegalProfile> p = FindProfile(name, o);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : LegalProfile{};
}

// The timers due at or before `now` that have not been collected yet.
std::vector<Timer> Fire(const std::vector<Timer>& timers, size_t& next, absl::Time now) {
  std::vector<Timer> fired;
  while (next < timers.size() && timers[next].due <= now) fired.push_back(timers[next++]);
  return fired;
}

TEST(RemovalDeadline, TcoOrderIsDueOneHourAfterReceipt) {
  FakeClock clock(kT0);
  const absl::Time received = clock.Now();
  absl::StatusOr<absl::Time> deadline = RemovalDeadline(Profile("tco-removal-order"), received);
  ASSERT_TRUE(deadline.ok()) << deadline.status();
  EXPECT_EQ(*deadline, kT0 + absl::Hours(1));

  clock.Advance(absl::Minutes(59));
  DeadlineOutcome at59 = Evaluate(*deadline, clock.Now());
  EXPECT_TRUE(at59.on_time);
  EXPECT_EQ(at59.margin, absl::Minutes(1));
  EXPECT_EQ(at59.late_by, absl::ZeroDuration());

  clock.Advance(absl::Minutes(1));
  DeadlineOutcome at60 = Evaluate(*deadline, clock.Now());
  EXPECT_TRUE(at60.on_time) << "'at the latest within one hour' includes the last instant";
  EXPECT_EQ(at60.margin, absl::ZeroDuration());

  clock.Advance(absl::Minutes(1));
  DeadlineOutcome at61 = Evaluate(*deadline, clock.Now());
  EXPECT_FALSE(at61.on_time);
  EXPECT_EQ(at61.late_by, absl::Minutes(1));
  EXPECT_EQ(at61.margin, absl::ZeroDuration());
}

TEST(RemovalDeadline, NlInstructionUsesTheAuthorityTermUpTo12Hours) {
  const LegalProfile nl = Profile("nl-csam-instruction");
  absl::StatusOr<absl::Time> one_hour = RemovalDeadline(nl, kT0, absl::Hours(1));
  ASSERT_TRUE(one_hour.ok()) << one_hour.status();
  EXPECT_EQ(*one_hour, kT0 + absl::Hours(1));

  absl::StatusOr<absl::Time> by_default = RemovalDeadline(nl, kT0);
  ASSERT_TRUE(by_default.ok());
  EXPECT_EQ(*by_default, kT0 + absl::Hours(12));

  absl::StatusOr<absl::Time> twelve = RemovalDeadline(nl, kT0, absl::Hours(12));
  ASSERT_TRUE(twelve.ok());
  EXPECT_EQ(*twelve, kT0 + absl::Hours(12));

  absl::StatusOr<absl::Time> thirteen = RemovalDeadline(nl, kT0, absl::Hours(13));
  EXPECT_EQ(thirteen.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(thirteen.status()), HasSubstr("13h, longer than the 12h allowed"));
  EXPECT_THAT(Message(thirteen.status()), HasSubstr("manifest_error"));

  EXPECT_THAT(Message(RemovalDeadline(nl, kT0, absl::ZeroDuration()).status()),
              HasSubstr("must be positive"));
}

TEST(RemovalDeadline, TcoTermMayBeShorterButNotLonger) {
  const LegalProfile tco = Profile("tco-removal-order");
  absl::StatusOr<absl::Time> shorter = RemovalDeadline(tco, kT0, absl::Minutes(30));
  ASSERT_TRUE(shorter.ok());
  EXPECT_EQ(*shorter, kT0 + absl::Minutes(30));
  EXPECT_THAT(Message(RemovalDeadline(tco, kT0, absl::Hours(2)).status()),
              HasSubstr("Regulation (EU) 2021/784"));
}

TEST(RemovalDeadline, CountsFromIssueWhenTheProfileSaysSo) {
  LegalProfile p = Profile("provider-voluntary");
  p.deadline_from_receipt = false;
  absl::StatusOr<absl::Time> d = RemovalDeadline(p, kT0, std::nullopt, kT0 - absl::Hours(3));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, kT0 + absl::Hours(21));
  EXPECT_THAT(Message(RemovalDeadline(p, kT0).status()), HasSubstr("time of issue"));
  EXPECT_FALSE(RemovalDeadline(Profile("tco-removal-order"), absl::InfinitePast()).ok());
}

RemovalOrder NlOrder() {
  RemovalOrder o;
  o.profile = "nl-csam-instruction";
  o.order_reference = "ATKM-2027-000123";
  o.issued_at = kT0 - absl::Minutes(5);
  o.instruction_reference = "AW-2027-0042";
  o.term = absl::Hours(1);
  o.locations = {{"https://files.example.nl/u/8812/a.jpg", ""}};
  return o;
}

TEST(OrderDeadline, StatedDeadlineOnlyEverShortensTheLegalOne) {
  const LegalProfile nl = Profile("nl-csam-instruction");
  RemovalOrder o = NlOrder();
  absl::StatusOr<absl::Time> legal = OrderDeadline(nl, o, kT0);
  ASSERT_TRUE(legal.ok()) << legal.status();
  EXPECT_EQ(*legal, kT0 + absl::Hours(1));

  o.deadline = kT0 + absl::Minutes(40);  // stricter, after receipt: binding
  EXPECT_EQ(*OrderDeadline(nl, o, kT0), kT0 + absl::Minutes(40));
  o.deadline = kT0 + absl::Hours(5);  // later than the term: ignored
  EXPECT_EQ(*OrderDeadline(nl, o, kT0), kT0 + absl::Hours(1));
  o.deadline = kT0 - absl::Minutes(1);  // already passed at receipt: the term from receipt applies
  EXPECT_EQ(*OrderDeadline(nl, o, kT0), kT0 + absl::Hours(1));

  EXPECT_THAT(Message(OrderDeadline(Profile("tco-removal-order"), o, kT0).status()),
              HasSubstr("is a 'nl-csam-instruction' order, not 'tco-removal-order'"));
}

// An ignored CSAM instruction with a 1 h term and configured escalation: a
// reminder at the deadline, a penalty order a day later with three daily
// penalty periods, and a fine proposal three days after the deadline.
TEST(ScheduleCaseTimers, IgnoredCsamInstructionEscalatesAtConfiguredOffsets) {
  EscalationStep reminder;
  reminder.kind = "reminder";
  EscalationStep penalty;
  penalty.kind = "penalty_order";
  penalty.after_deadline = absl::Hours(24);
  penalty.amount_cents = 500'00;
  penalty.cap_cents = 1'500'00;
  penalty.penalty_period = absl::Hours(24);
  EscalationStep fine;
  fine.kind = "fine_proposal";
  fine.after_deadline = absl::Hours(72);
  fine.cap_turnover_basis_points = 1000;
  LegalProfileOverrides o;
  o.escalation = std::vector<EscalationStep>{reminder, penalty, fine};
  const LegalProfile nl = Profile("nl-csam-instruction", o);

  FakeClock clock(kT0);
  absl::StatusOr<absl::Time> deadline = RemovalDeadline(nl, clock.Now(), absl::Hours(1));
  ASSERT_TRUE(deadline.ok());
  absl::StatusOr<std::vector<Timer>> timers = ScheduleCaseTimers(nl, "c-1", clock.Now(), *deadline);
  ASSERT_TRUE(timers.ok()) << timers.status();

  struct Expected {
    absl::Duration at;
    TimerKind kind;
    int step;
    int period;
    std::string action;
  };
  // The 2 h reminder would fall before receipt and is skipped; the 30 min one stays.
  const std::vector<Expected> expected = {
      {absl::Minutes(30), TimerKind::kReminder, 1, 0, ""},
      {absl::Hours(1), TimerKind::kDeadline, 0, 0, ""},
      {absl::Hours(1), TimerKind::kEscalation, 0, 0, "reminder"},
      {absl::Hours(25), TimerKind::kEscalation, 1, 0, "penalty_order"},
      {absl::Hours(49), TimerKind::kPenaltyPeriod, 1, 1, "penalty_order"},
      {absl::Hours(73), TimerKind::kEscalation, 2, 0, "fine_proposal"},
      {absl::Hours(73), TimerKind::kPenaltyPeriod, 1, 2, "penalty_order"},
      {absl::Hours(97), TimerKind::kPenaltyPeriod, 1, 3, "penalty_order"},
  };
  ASSERT_EQ(timers->size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const Timer& t = (*timers)[i];
    EXPECT_EQ(t.due, kT0 + expected[i].at) << i;
    EXPECT_EQ(t.kind, expected[i].kind) << i;
    EXPECT_EQ(t.step, expected[i].step) << i;
    EXPECT_EQ(t.period, expected[i].period) << i;
    EXPECT_EQ(t.action, expected[i].action) << i;
    EXPECT_EQ(t.case_id, "c-1");
    EXPECT_EQ(t.profile, "nl-csam-instruction");
  }

  // Driving the fake clock fires them in order: nothing before 30 min, then the
  // escalation steps exactly at their offsets.
  size_t next = 0;
  clock.Advance(absl::Minutes(29));
  EXPECT_TRUE(Fire(*timers, next, clock.Now()).empty());
  clock.Advance(absl::Minutes(31));
  std::vector<Timer> at_deadline = Fire(*timers, next, clock.Now());
  ASSERT_EQ(at_deadline.size(), 3u);
  EXPECT_EQ(at_deadline[2].action, "reminder");
  clock.Advance(absl::Hours(24) - absl::Seconds(1));
  EXPECT_TRUE(Fire(*timers, next, clock.Now()).empty());
  clock.Advance(absl::Seconds(1));
  std::vector<Timer> penalty_fired = Fire(*timers, next, clock.Now());
  ASSERT_EQ(penalty_fired.size(), 1u);
  EXPECT_EQ(penalty_fired[0].action, "penalty_order");
  EXPECT_EQ(StateAfterEscalation(penalty_fired[0].action), CaseState::kEscalated);
  clock.Advance(absl::Hours(48));
  std::vector<Timer> later = Fire(*timers, next, clock.Now());
  ASSERT_EQ(later.size(), 3u);
  EXPECT_EQ(later[1].action, "fine_proposal");
}

TEST(ScheduleCaseTimers, TcoOrderHasRemindersDeadlineAndEscalation) {
  const LegalProfile tco = Profile("tco-removal-order");
  absl::StatusOr<std::vector<Timer>> timers = ScheduleCaseTimers(tco, "c-2", kT0, kT0 + absl::Hours(1));
  ASSERT_TRUE(timers.ok()) << timers.status();
  ASSERT_EQ(timers->size(), 5u);
  EXPECT_EQ((*timers)[0].due, kT0 + absl::Minutes(30));
  EXPECT_EQ((*timers)[0].kind, TimerKind::kReminder);
  EXPECT_EQ((*timers)[1].due, kT0 + absl::Minutes(50));
  EXPECT_EQ((*timers)[1].kind, TimerKind::kReminder);
  EXPECT_EQ((*timers)[2].kind, TimerKind::kDeadline);
  EXPECT_EQ((*timers)[3].action, "reminder");
  EXPECT_EQ((*timers)[4].action, "fine_proposal");
  EXPECT_EQ((*timers)[4].due, kT0 + absl::Hours(25));
}

TEST(ScheduleCaseTimers, AuthorityCycleRechecksEvery24HoursAndRefersAfterThreeCycles) {
  const LegalProfile cycle = Profile("authority-notice-cycle");
  absl::StatusOr<absl::Time> deadline = RemovalDeadline(cycle, kT0);
  ASSERT_TRUE(deadline.ok());
  absl::StatusOr<std::vector<Timer>> timers = ScheduleCaseTimers(cycle, "c-3", kT0, *deadline);
  ASSERT_TRUE(timers.ok()) << timers.status();
  std::vector<absl::Time> rechecks;
  absl::Time referral = absl::InfinitePast();
  for (const Timer& t : *timers) {
    if (t.kind == TimerKind::kRecheck) {
      EXPECT_EQ(t.step, static_cast<int>(rechecks.size()) + 1);
      rechecks.push_back(t.due);
    }
    if (t.action == "referral") referral = t.due;
  }
  ASSERT_EQ(rechecks.size(), 30u);
  for (size_t k = 0; k < rechecks.size(); ++k) EXPECT_EQ(rechecks[k], kT0 + (k + 1) * absl::Hours(24));
  EXPECT_EQ(referral, kT0 + absl::Hours(72));
}

TEST(ScheduleCaseTimers, IsDeterministicAndSorted) {
  const LegalProfile nl = Profile("nl-csam-instruction");
  auto a = ScheduleCaseTimers(nl, "c-4", kT0, kT0 + absl::Hours(12));
  auto b = ScheduleCaseTimers(nl, "c-4", kT0, kT0 + absl::Hours(12));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  // reminders 2: deadline 1; escalation 3; 50 penalty periods (EUR 50,000 / EUR 1,000).
  EXPECT_EQ(a->size(), 2u + 1u + 3u + 50u);
  std::vector<std::string> keys;
  for (const Timer& t : *a) keys.push_back(*EncodeTimerKey(t));
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end())) << "schedule order must equal store key order";
}

TEST(ScheduleCaseTimers, RejectsDeadlineBeforeReceiptAndBadCaseIds) {
  const LegalProfile tco = Profile("tco-removal-order");
  EXPECT_THAT(Message(ScheduleCaseTimers(tco, "c-5", kT0, kT0 - absl::Seconds(1)).status()),
              HasSubstr("must not be before receipt"));
  EXPECT_THAT(Message(ScheduleCaseTimers(tco, "", kT0, kT0 + absl::Hours(1)).status()), HasSubstr("case_id"));
  EXPECT_FALSE(ScheduleCaseTimers(tco, std::string("c\0x", 3), kT0, kT0 + absl::Hours(1)).ok());
}

TEST(PreservationExpiryTimer, TcoKeepsSixMonthsNlProfileNothing) {
  absl::StatusOr<std::optional<Timer>> t = PreservationExpiryTimer(Profile("tco-removal-order"), "c-6", kT0);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_TRUE(t->has_value());
  EXPECT_EQ((*t)->due, kT0 + absl::Hours(24 * 184));
  EXPECT_EQ((*t)->kind, TimerKind::kPreservationExpiry);
  absl::StatusOr<std::optional<Timer>> none =
      PreservationExpiryTimer(Profile("nl-csam-instruction"), "c-6", kT0);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(TimerIsStale, ResolvedCasesDropTimersButKeepPreservation) {
  Timer deadline;
  deadline.kind = TimerKind::kDeadline;
  Timer preservation;
  preservation.kind = TimerKind::kPreservationExpiry;
  EXPECT_TRUE(TimerIsStale(deadline, CaseState::kRemoved));
  EXPECT_TRUE(TimerIsStale(deadline, CaseState::kClosed));
  EXPECT_TRUE(TimerIsStale(deadline, CaseState::kRejected));
  EXPECT_FALSE(TimerIsStale(deadline, CaseState::kNotified));
  EXPECT_FALSE(TimerIsStale(deadline, CaseState::kDisputed));
  EXPECT_FALSE(TimerIsStale(preservation, CaseState::kRemoved));
  Timer secrecy_end;
  secrecy_end.kind = TimerKind::kSecrecyEnd;
  EXPECT_FALSE(TimerIsStale(secrecy_end, CaseState::kRemoved));
  EXPECT_FALSE(TimerIsStale(secrecy_end, CaseState::kClosed));
}

}  // namespace
}  // namespace takedown
