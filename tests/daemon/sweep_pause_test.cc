// SweepRunner::Pause and resume, and the live rate/ETA of Progress(), on an
// in-memory source whose Open can be held to freeze a sweep mid-way.
#include <cmath>
#include <memory>
#include <string>
#include <thread>

#include "daemon/sweep_runner.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/pipeline_harness.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/in_memory_source.h"

namespace takedown {
namespace {

using ::takedown::testing::DigestsOf;
using ::takedown::testing::EntryFor;
using ::takedown::testing::Pipeline;
using ::takedown::testing::PipelineOptions;
using ::takedown::testing::ReadAllCases;
using ::takedown::testing::ReadAudit;
using ::takedown::testing::ReadSweepState;
using ::takedown::testing::TempDir;
using ::takedown::testing::Tie;
using ::testing::HasSubstr;

constexpr int kObjects = 300;
constexpr char kSourceId[] = "src";

std::string KeyOf(int i) { return fmt::format("key-{:04d}", i); }
std::string ContentOf(int i) {
  return fmt::format("object {} {}\n", i, std::string(static_cast<size_t>(i % 97), 'x'));
}
bool Listed(int i) { return i % 40 == 7; }

SweepCounters Expected() {
  SweepCounters c;
  for (int i = 0; i < kObjects; ++i) {
    c.listed++;
    c.done++;
    c.bytes += ContentOf(i).size();
    c.matches += Listed(i) ? 1 : 0;
  }
  return c;
}

class SweepPauseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < kObjects; ++i) source_.Put(KeyOf(i), ContentOf(i), "v1");
    PipelineOptions options;
    options.workers = 1;
    absl::StatusOr<std::unique_ptr<Pipeline>> p = Pipeline::Open(dir_.Sub("store"), clock_, options);
    ASSERT_TRUE(p.ok()) << p.status();
    pipeline_ = std::move(*p);
    std::vector<HashListEntry> entries;
    for (int i = 0; i < kObjects; ++i) {
      if (Listed(i)) {
        entries.push_back(EntryFor(HashType::kSha256, DigestsOf(ContentOf(i)), ContentCategory::kCsam,
                                   fmt::format("e-{}", i)));
      }
    }
    pipeline_->index.ReplaceList("list", "v1", entries);
  }

  void TearDown() override {
    runner_.reset();
    pipeline_.reset();
  }

  std::unique_ptr<SweepRunner> NewRunner() {
    return std::make_unique<SweepRunner>(source_, *pipeline_->processor, *pipeline_->pool, *pipeline_->store,
                                         *pipeline_->audit, clock_, /*checkpoint_every=*/8);
  }

  TempDir dir_;
  FakeClock clock_;
  InMemorySource source_{kSourceId};
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<SweepRunner> runner_;
};

TEST_F(SweepPauseTest, PauseKeepsTheCursorAndResumeFinishesWithTheTotalsOfAnUninterruptedSweep) {
  runner_ = NewRunner();
  source_.BlockOpen(KeyOf(100));
  ASSERT_TRUE(runner_->Start(std::nullopt, "test").ok());
  ASSERT_TRUE(source_.WaitUntilBlocked(KeyOf(100), absl::Seconds(10)));

  absl::StatusOr<SweepState> paused = absl::InternalError("not paused");
  std::thread pauser([&] { paused = runner_->Pause("api:alice"); });
  // Pause waits for the object in flight; let it ask first.
  absl::SleepFor(absl::Milliseconds(200));
  source_.ReleaseOpen(KeyOf(100));
  pauser.join();

  ASSERT_TRUE(paused.ok()) << paused.status();
  EXPECT_EQ(paused->phase, SweepPhase::kPaused);
  EXPECT_FALSE(runner_->Running());
  ASSERT_TRUE(paused->has_cursor);
  EXPECT_GT(paused->counters.listed, 100u);
  EXPECT_LT(paused->counters.listed, static_cast<uint64_t>(kObjects));
  EXPECT_EQ(paused->cursor, KeyOf(static_cast<int>(paused->counters.listed) - 1));

  std::optional<SweepState> stored = ReadSweepState(*pipeline_->store, kSourceId);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->phase, SweepPhase::kPaused);
  EXPECT_EQ(stored->cursor, paused->cursor);
  EXPECT_EQ(Tie(stored->counters), Tie(paused->counters));

  int pauses = 0;
  for (const AuditRecord& r : ReadAudit(*pipeline_->audit)) {
    if (r.action != "sweep.pause") continue;
    ++pauses;
    EXPECT_EQ(r.actor, "api:alice");
    EXPECT_EQ(r.subject, kSourceId);
    EXPECT_EQ(r.details.at("cursor").get<std::string>(), paused->cursor);
  }
  EXPECT_EQ(pauses, 1);

  // A pause is not "nothing running": a second one is refused.
  absl::StatusOr<SweepState> again = runner_->Pause("api:alice");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);

  // A new runner (a restart) continues from the stored state.
  runner_ = NewRunner();
  source_.ResetCounts();
  ASSERT_TRUE(runner_->Start(*stored, "api:bob").ok());
  runner_->Join();
  SweepState end = runner_->Progress();
  EXPECT_EQ(end.phase, SweepPhase::kCompleted) << end.error;
  EXPECT_EQ(end.resumes, 1u);
  EXPECT_EQ(Tie(end.counters), Tie(Expected()));
  // Objects before the cursor were not read again.
  EXPECT_EQ(source_.OpenCount(KeyOf(0)), 0u);
  EXPECT_EQ(source_.TotalOpens(), kObjects - paused->counters.listed);
  int expected_cases = 0;
  for (int i = 0; i < kObjects; ++i) expected_cases += Listed(i) ? 1 : 0;
  EXPECT_EQ(ReadAllCases(*pipeline_->store).size(), static_cast<size_t>(expected_cases));
}

TEST_F(SweepPauseTest, PausingWhenNothingRunsIsFailedPrecondition) {
  runner_ = NewRunner();
  absl::StatusOr<SweepState> paused = runner_->Pause("api:alice");
  ASSERT_FALSE(paused.ok());
  EXPECT_EQ(paused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(paused.status().message()), HasSubstr("no sweep is running"));
}

TEST_F(SweepPauseTest, ProgressGivesTheRateOfTheRunAndAnEtaOnceATotalIsKnown) {
  runner_ = NewRunner();
  // First sweep: no earlier total, so the ETA is unknown and says why.
  source_.BlockOpen(KeyOf(100));
  ASSERT_TRUE(runner_->Start(std::nullopt, "test").ok());
  ASSERT_TRUE(source_.WaitUntilBlocked(KeyOf(100), absl::Seconds(10)));
  clock_.Advance(absl::Seconds(4));
  SweepState first = runner_->Progress();
  const uint64_t finished_first = first.counters.done + first.counters.unchanged;
  ASSERT_GT(finished_first, 0u);
  EXPECT_DOUBLE_EQ(first.rate.objects_per_second, static_cast<double>(finished_first) / 4.0);
  EXPECT_EQ(first.rate.elapsed, absl::Seconds(4));
  EXPECT_EQ(first.estimated_total, 0u);
  EXPECT_FALSE(first.rate.eta.has_value());
  EXPECT_THAT(first.rate.eta_unknown_reason, HasSubstr("no earlier completed sweep"));
  source_.ReleaseOpen(KeyOf(100));
  runner_->Join();
  ASSERT_EQ(runner_->Progress().phase, SweepPhase::kCompleted);
  EXPECT_EQ(runner_->Progress().rate.objects_per_second, 0) << "no rate once it ended";

  // Second sweep of changed objects: the first one's count is the estimate.
  for (int i = 0; i < kObjects; ++i) source_.SetVersion(KeyOf(i), "v2");
  source_.BlockOpen(KeyOf(200));
  ASSERT_TRUE(runner_->Start(std::nullopt, "test").ok());
  ASSERT_TRUE(source_.WaitUntilBlocked(KeyOf(200), absl::Seconds(10)));
  clock_.Advance(absl::Seconds(5));
  SweepState second = runner_->Progress();
  EXPECT_EQ(second.estimated_total, static_cast<uint64_t>(kObjects));
  const uint64_t finished = second.counters.done + second.counters.unchanged;
  ASSERT_GT(finished, 0u);
  ASSERT_LT(finished, static_cast<uint64_t>(kObjects));
  const double rate = static_cast<double>(finished) / 5.0;
  EXPECT_DOUBLE_EQ(second.rate.objects_per_second, rate);
  EXPECT_DOUBLE_EQ(second.rate.bytes_per_second, static_cast<double>(second.counters.bytes) / 5.0);
  ASSERT_TRUE(second.rate.eta.has_value()) << second.rate.eta_unknown_reason;
  EXPECT_EQ(*second.rate.eta, absl::Seconds(std::ceil(static_cast<double>(kObjects - finished) / rate)));
  source_.ReleaseOpen(KeyOf(200));
  runner_->Join();
  std::optional<SweepState> stored = ReadSweepState(*pipeline_->store, kSourceId);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->estimated_total, static_cast<uint64_t>(kObjects));
}

TEST_F(SweepPauseTest, TheRateOfAResumedRunCountsOnlyItsOwnWork) {
  runner_ = NewRunner();
  source_.BlockOpen(KeyOf(60));
  ASSERT_TRUE(runner_->Start(std::nullopt, "test").ok());
  ASSERT_TRUE(source_.WaitUntilBlocked(KeyOf(60), absl::Seconds(10)));
  std::thread pauser([&] { ASSERT_TRUE(runner_->Pause("test").ok()); });
  absl::SleepFor(absl::Milliseconds(200));
  source_.ReleaseOpen(KeyOf(60));
  pauser.join();
  std::optional<SweepState> stored = ReadSweepState(*pipeline_->store, kSourceId);
  ASSERT_TRUE(stored.has_value());
  const uint64_t before = stored->counters.listed;

  clock_.Advance(absl::Hours(1));  // paused for an hour: not part of the rate
  source_.BlockOpen(KeyOf(250));
  ASSERT_TRUE(runner_->Start(*stored, "test").ok());
  ASSERT_TRUE(source_.WaitUntilBlocked(KeyOf(250), absl::Seconds(10)));
  clock_.Advance(absl::Seconds(2));
  SweepState resumed = runner_->Progress();
  const uint64_t finished = resumed.counters.done + resumed.counters.unchanged;
  ASSERT_GT(finished, before);
  EXPECT_DOUBLE_EQ(resumed.rate.objects_per_second, static_cast<double>(finished - before) / 2.0);
  EXPECT_EQ(resumed.rate.elapsed, absl::Seconds(2));
  source_.ReleaseOpen(KeyOf(250));
  runner_->Join();
  EXPECT_EQ(Tie(runner_->Progress().counters), Tie(Expected()));
}

}  // namespace
}  // namespace takedown
