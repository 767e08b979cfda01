// SweepScheduler on a fake clock: when sources with a rescan interval get
// their next sweep.
#include "daemon/sweep_scheduler.h"

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"

namespace takedown {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// The daemon as the scheduler sees it: a state per source, and starts that
// turn a source's state into a running sweep.
class FakeSweeps {
 public:
  explicit FakeSweeps(FakeClock& clock) : clock_(clock) {}

  void Set(const std::string& id, SweepPhase phase, absl::Time finished_at = absl::InfinitePast()) {
    std::lock_guard lock(mu_);
    SweepState& s = states_[id];
    s.source_id = id;
    s.phase = phase;
    s.finished_at = finished_at;
  }
  void Finish(const std::string& id, SweepPhase phase) { Set(id, phase, clock_.Now()); }
  void FailStartsWith(absl::Status status) {
    std::lock_guard lock(mu_);
    start_error_ = std::move(status);
  }

  SweepScheduler::StateFn StateFn() {
    return [this](const std::string& id) -> absl::StatusOr<SweepState> {
      std::lock_guard lock(mu_);
      auto it = states_.find(id);
      if (it == states_.end()) {
        SweepState idle;
        idle.source_id = id;
        return idle;
      }
      return it->second;
    };
  }
  SweepScheduler::StartFn StartFn() {
    return [this](const std::string& id) -> absl::StatusOr<bool> {
      std::lock_guard lock(mu_);
      ++start_calls_[id];
      if (!start_error_.ok()) return start_error_;
      SweepState& s = states_[id];
      if (s.phase == SweepPhase::kRunning || s.phase == SweepPhase::kPaused) return false;
      s.source_id = id;
      s.phase = SweepPhase::kRunning;
      ++started_[id];
      return true;
    };
  }
  int started(const std::string& id) {
    std::lock_guard lock(mu_);
    return started_[id];
  }
  int start_calls(const std::string& id) {
    std::lock_guard lock(mu_);
    return start_calls_[id];
  }

 private:
  FakeClock& clock_;
  std::mutex mu_;
  std::map<std::string, SweepState> states_;
  std::map<std::string, int> started_;
  std::map<std::string, int> start_calls_;
  absl::Status start_error_;
};

class SweepSchedulerTest : public ::testing::Test {
 protected:
  SweepScheduler Make(std::vector<ScheduledSource> sources) {
    return SweepScheduler(std::move(sources), clock_, sweeps_.StateFn(), sweeps_.StartFn());
  }

  FakeClock clock_;
  FakeSweeps sweeps_{clock_};
};

TEST_F(SweepSchedulerTest, NeverSweptSourceStartsAtOnce) {
  SweepScheduler scheduler = Make({{"disk", absl::Hours(24)}});
  EXPECT_THAT(scheduler.Tick(clock_.Now()), ElementsAre("disk"));
  EXPECT_EQ(sweeps_.started("disk"), 1);
}

TEST_F(SweepSchedulerTest, StartsAgainOnlyOnceTheIntervalHasPassedSinceTheEnd) {
  SweepScheduler scheduler = Make({{"disk", absl::Minutes(10)}});
  sweeps_.Finish("disk", SweepPhase::kCompleted);
  const absl::Time finished = clock_.Now();

  clock_.Advance(absl::Minutes(10) - absl::Seconds(1));
  EXPECT_THAT(scheduler.Tick(clock_.Now()), IsEmpty());
  EXPECT_EQ(sweeps_.start_calls("disk"), 0);

  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(scheduler.Tick(clock_.Now()), ElementsAre("disk"));
  EXPECT_EQ(sweeps_.started("disk"), 1);

  SweepState state;
  state.phase = SweepPhase::kCompleted;
  state.finished_at = finished;
  EXPECT_EQ(scheduler.NextDue("disk", state), finished + absl::Minutes(10));
}

TEST_F(SweepSchedulerTest, AFailedSweepIsRetriedAfterTheIntervalToo) {
  SweepScheduler scheduler = Make({{"bucket", absl::Seconds(90)}});
  sweeps_.Finish("bucket", SweepPhase::kFailed);
  clock_.Advance(absl::Seconds(89));
  EXPECT_THAT(scheduler.Tick(clock_.Now()), IsEmpty());
  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(scheduler.Tick(clock_.Now()), ElementsAre("bucket"));
}

TEST_F(SweepSchedulerTest, NeverStartsASecondSweepWhileOneRuns) {
  SweepScheduler scheduler = Make({{"disk", absl::Seconds(2)}});
  sweeps_.Set("disk", SweepPhase::kRunning);
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(absl::Hours(1));
    EXPECT_THAT(scheduler.Tick(clock_.Now()), IsEmpty());
  }
  EXPECT_EQ(sweeps_.start_calls("disk"), 0);

  // Its end starts the interval.
  sweeps_.Finish("disk", SweepPhase::kCompleted);
  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(scheduler.Tick(clock_.Now()), IsEmpty());
  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(scheduler.Tick(clock_.Now()), ElementsAre("disk"));
  // Now running: the next ticks leave it alone.
  clock_.Advance(absl::Hours(1));
  EXPECT_THAT(scheduler.Tick(clock_.Now()), IsEmpty());
  EXPECT_EQ(sweeps_.started("disk"), 1);
}

TEST_F(SweepSchedulerTest, PausedSourceIsNotStarted) {
  SweepScheduler scheduler = Make({{"disk", absl::Seconds(5)}});
  sweeps_.Set("disk", SweepPhase::kPaused);
  clock_.Advance(absl::Hours(48));
  EXPECT_THAT(scheduler.Tick(clock_.Now()), IsEmpty());
  EXPECT_EQ(sweeps_.start_calls("disk"), 0);
  SweepState paused;
  paused.phase = SweepPhase::kPaused;
  EXPECT_EQ(scheduler.NextDue("disk", paused), std::nullopt);
}

TEST_F(SweepSchedulerTest, SourcesWithoutIntervalAreIgnoredAndOthersAreIndependent) {
  SweepScheduler scheduler =
      Make({{"manual", absl::ZeroDuration()}, {"a", absl::Seconds(10)}, {"b", absl::Seconds(30)}});
  sweeps_.Finish("a", SweepPhase::kCompleted);
  sweeps_.Finish("b", SweepPhase::kCompleted);
  clock_.Advance(absl::Seconds(10));
  EXPECT_THAT(scheduler.Tick(clock_.Now()), ElementsAre("a"));
  clock_.Advance(absl::Seconds(20));
  EXPECT_THAT(scheduler.Tick(clock_.Now()), ElementsAre("b"));
  EXPECT_EQ(sweeps_.start_calls("manual"), 0);
  SweepState idle;
  EXPECT_EQ(scheduler.NextDue("manual", idle), std::nullopt);
  EXPECT_EQ(scheduler.NextDue("a", idle), absl::InfinitePast());
}

TEST_F(SweepSchedulerTest, AFailedStartIsRetriedAfterABackoffNotEveryTick) {
  SweepScheduler scheduler = Make({{"disk", absl::Minutes(30)}});
  sweeps_.FailStartsWith(absl::UnavailableError("store is read-only"));
  EXPECT_THAT(scheduler.Tick(clock_.Now()), IsEmpty());
  EXPECT_EQ(sweeps_.start_calls("disk"), 1);
  clock_.Advance(absl::Seconds(59));
  EXPECT_THAT(scheduler.Tick(clock_.Now()), IsEmpty());
  EXPECT_EQ(sweeps_.start_calls("disk"), 1);
  sweeps_.FailStartsWith(absl::OkStatus());
  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(scheduler.Tick(clock_.Now()), ElementsAre("disk"));
  EXPECT_EQ(sweeps_.start_calls("disk"), 2);
}

TEST_F(SweepSchedulerTest, ItsThreadTicksWithTheClock) {
  SweepScheduler scheduler = Make({{"disk", absl::Seconds(60)}});
  sweeps_.Finish("disk", SweepPhase::kCompleted);
  scheduler.Start(absl::Milliseconds(5));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(sweeps_.started("disk"), 0);
  clock_.Advance(absl::Seconds(60));
  for (int i = 0; i < 400 && sweeps_.started("disk") == 0; ++i) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(sweeps_.started("disk"), 1);
  scheduler.Stop();
  scheduler.Stop();  // idempotent
}

}  // namespace
}  // namespace takedown
