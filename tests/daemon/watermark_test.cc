#include "daemon/watermark.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"

namespace takedown {
namespace {

auto Tie(const SweepCounters& c) {
  return std::make_tuple(c.listed, c.done, c.unchanged, c.skipped, c.failed, c.bytes, c.matches, c.members,
                         c.members_failed);
}

// A distinct, recognisable delta for object i.
SweepCounters DeltaFor(uint64_t i) {
  SweepCounters c;
  c.listed = 1;
  c.done = i % 5 == 4 ? 0 : 1;
  c.unchanged = i % 5 == 4 ? 1 : 0;
  c.skipped = i % 7 == 0 ? 1 : 0;
  c.failed = i % 11 == 0 ? 1 : 0;
  c.bytes = i * 1000 + 17;
  c.matches = i % 3;
  c.members = i % 4 == 1 ? i : 0;
  c.members_failed = i % 8 == 1 ? 2 : 0;
  return c;
}

std::string KeyFor(uint64_t i) { return fmt::format("obj-{:05d}", i); }

TEST(WatermarkTracker, EmptyTrackerHasNoWatermarkAndTheBaseCounters) {
  SweepCounters base;
  base.listed = 40;
  base.done = 38;
  base.bytes = 123456;
  WatermarkTracker tracker(base);
  WatermarkTracker::Snapshot s = tracker.Get();
  EXPECT_FALSE(s.watermark.has_value());
  EXPECT_EQ(Tie(s.committed), Tie(base));
  EXPECT_EQ(Tie(s.in_flight), Tie(SweepCounters{}));
  EXPECT_EQ(s.pending, 0u);
}

TEST(WatermarkTracker, OutOfOrderCompletionAdvancesOnlyOverTheContiguousPrefix) {
  WatermarkTracker tracker;
  uint64_t a = tracker.Add("a");
  uint64_t b = tracker.Add("b");
  uint64_t c = tracker.Add("c");
  uint64_t d = tracker.Add("d");
  EXPECT_EQ(tracker.Get().pending, 4u);

  tracker.Complete(c, DeltaFor(3));
  WatermarkTracker::Snapshot s = tracker.Get();
  EXPECT_FALSE(s.watermark.has_value());
  EXPECT_EQ(Tie(s.committed), Tie(SweepCounters{}));
  EXPECT_EQ(Tie(s.in_flight), Tie(DeltaFor(3)));
  EXPECT_EQ(s.pending, 3u);

  tracker.Complete(a, DeltaFor(1));
  s = tracker.Get();
  ASSERT_TRUE(s.watermark.has_value());
  EXPECT_EQ(*s.watermark, "a");
  EXPECT_EQ(Tie(s.committed), Tie(DeltaFor(1)));
  EXPECT_EQ(Tie(s.in_flight), Tie(DeltaFor(3)));
  EXPECT_EQ(s.pending, 2u);

  tracker.Complete(b, DeltaFor(2));
  s = tracker.Get();
  EXPECT_EQ(s.watermark, "c");
  SweepCounters abc;
  AddCounters(abc, DeltaFor(1));
  AddCounters(abc, DeltaFor(2));
  AddCounters(abc, DeltaFor(3));
  EXPECT_EQ(Tie(s.committed), Tie(abc));
  EXPECT_EQ(Tie(s.in_flight), Tie(SweepCounters{}));
  EXPECT_EQ(s.pending, 1u);

  tracker.Complete(d, DeltaFor(4));
  s = tracker.Get();
  EXPECT_EQ(s.watermark, "d");
  EXPECT_EQ(s.pending, 0u);
}

TEST(WatermarkTracker, CommittedCountersStartFromTheBase) {
  SweepCounters base = DeltaFor(100);
  WatermarkTracker tracker(base);
  uint64_t x = tracker.Add("x");
  uint64_t y = tracker.Add("y");
  tracker.Complete(y, DeltaFor(2));
  EXPECT_EQ(Tie(tracker.Get().committed), Tie(base));
  tracker.Complete(x, DeltaFor(1));
  SweepCounters expected = base;
  AddCounters(expected, DeltaFor(1));
  AddCounters(expected, DeltaFor(2));
  EXPECT_EQ(Tie(tracker.Get().committed), Tie(expected));
  EXPECT_EQ(tracker.Get().watermark, "y");
}

TEST(WatermarkTracker, RepeatedOrUnknownCompletionsAreIgnored) {
  WatermarkTracker tracker;
  uint64_t a = tracker.Add("a");
  uint64_t b = tracker.Add("b");
  tracker.Complete(b, DeltaFor(2));
  tracker.Complete(b, DeltaFor(50));  // second completion of b: ignored
  tracker.Complete(12345, DeltaFor(9));  // never added
  tracker.Complete(a, DeltaFor(1));
  tracker.Complete(a, DeltaFor(60));  // a is already below the watermark
  SweepCounters expected;
  AddCounters(expected, DeltaFor(1));
  AddCounters(expected, DeltaFor(2));
  WatermarkTracker::Snapshot s = tracker.Get();
  EXPECT_EQ(s.watermark, "b");
  EXPECT_EQ(Tie(s.committed), Tie(expected));
  EXPECT_EQ(s.pending, 0u);
}

TEST(WatermarkTracker, AnObjectNeverCompletedHoldsTheWatermarkBack) {
  // A failed object (store error) is never completed: the cursor must not
  // pass it however many later objects complete.
  WatermarkTracker tracker;
  std::vector<uint64_t> seqs;
  for (uint64_t i = 0; i < 10; ++i) seqs.push_back(tracker.Add(KeyFor(i)));
  for (uint64_t i = 0; i < 10; ++i) {
    if (i != 3) tracker.Complete(seqs[i], DeltaFor(i));
  }
  WatermarkTracker::Snapshot s = tracker.Get();
  EXPECT_EQ(s.watermark, KeyFor(2));
  SweepCounters prefix;
  SweepCounters beyond;
  for (uint64_t i = 0; i < 10; ++i) {
    if (i < 3) AddCounters(prefix, DeltaFor(i));
    if (i > 3) AddCounters(beyond, DeltaFor(i));
  }
  EXPECT_EQ(Tie(s.committed), Tie(prefix));
  EXPECT_EQ(Tie(s.in_flight), Tie(beyond));
  EXPECT_EQ(s.pending, 1u);
}

// Property: for any completion order, after every completion the watermark is
// the last key of the longest completed prefix, the committed counters are
// exactly that prefix's sum, in_flight is the sum of completed objects beyond
// it and pending counts the rest.
TEST(WatermarkTracker, RandomCompletionOrdersMatchAReferenceModel) {
  constexpr uint64_t kObjects = 400;
  for (uint32_t seed : {1u, 7u, 42u, 2024u, 99991u}) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    std::mt19937 rng(seed);
    SweepCounters base = DeltaFor(seed % 13);
    WatermarkTracker tracker(base);
    std::vector<uint64_t> seqs;
    for (uint64_t i = 0; i < kObjects; ++i) seqs.push_back(tracker.Add(KeyFor(i)));
    std::vector<uint64_t> order(kObjects);
    std::iota(order.begin(), order.end(), 0);
    // Mostly local disorder (as with a worker pool) plus some long delays.
    for (uint64_t i = 0; i < kObjects; ++i) {
      uint64_t j = std::min<uint64_t>(kObjects - 1, i + rng() % 8);
      std::swap(order[i], order[j]);
    }
    for (int k = 0; k < 10; ++k) std::swap(order[rng() % kObjects], order[rng() % kObjects]);

    std::vector<bool> done(kObjects, false);
    uint64_t prefix = 0;  // objects [0, prefix) are completed
    for (uint64_t step = 0; step < kObjects; ++step) {
      uint64_t i = order[step];
      tracker.Complete(seqs[i], DeltaFor(i));
      done[i] = true;
      while (prefix < kObjects && done[prefix]) ++prefix;

      SweepCounters committed = base;
      SweepCounters in_flight;
      size_t pending = 0;
      for (uint64_t o = 0; o < kObjects; ++o) {
        if (o < prefix) {
          AddCounters(committed, DeltaFor(o));
        } else if (done[o]) {
          AddCounters(in_flight, DeltaFor(o));
        } else {
          ++pending;
        }
      }
      WatermarkTracker::Snapshot s = tracker.Get();
      if (prefix == 0) {
        ASSERT_FALSE(s.watermark.has_value()) << "step " << step;
      } else {
        ASSERT_EQ(s.watermark, KeyFor(prefix - 1)) << "step " << step;
      }
      ASSERT_EQ(Tie(s.committed), Tie(committed)) << "step " << step;
      ASSERT_EQ(Tie(s.in_flight), Tie(in_flight)) << "step " << step;
      ASSERT_EQ(s.pending, pending) << "step " << step;
    }
    EXPECT_EQ(prefix, kObjects);
  }
}

TEST(WatermarkTracker, ConcurrentCompletionsEndAtTheLastKeyWithEveryDelta) {
  constexpr uint64_t kObjects = 4000;
  constexpr int kThreads = 4;
  WatermarkTracker tracker;
  std::vector<uint64_t> seqs;
  for (uint64_t i = 0; i < kObjects; ++i) seqs.push_back(tracker.Add(KeyFor(i)));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = t; i < kObjects; i += kThreads) {
        tracker.Complete(seqs[i], DeltaFor(i));
        if (i % 64 == 0) (void)tracker.Get();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  SweepCounters all;
  for (uint64_t i = 0; i < kObjects; ++i) AddCounters(all, DeltaFor(i));
  WatermarkTracker::Snapshot s = tracker.Get();
  EXPECT_EQ(s.watermark, KeyFor(kObjects - 1));
  EXPECT_EQ(Tie(s.committed), Tie(all));
  EXPECT_EQ(s.pending, 0u);
}

}  // namespace
}  // namespace takedown
