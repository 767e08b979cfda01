// SweepState encoding (the paused phase, records written before it existed)
// and the rate/ETA arithmetic of running sweeps.
#include "daemon/sweep_state.h"

#include <string>

#include "daemon/sweep_rate.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace takedown {
namespace {

using ::testing::HasSubstr;

TEST(SweepState, PausedStateRoundTripsWithCursorCountersAndEstimate) {
  SweepState s;
  s.source_id = "disk";
  s.sweep_id = "disk-1800000000000000";
  s.phase = SweepPhase::kPaused;
  s.started_at = absl::FromUnixSeconds(1'800'000'000);
  s.cursor = "customer-007/d3/file-00042.jpg";
  s.has_cursor = true;
  s.resumes = 2;
  s.counters.listed = 4200;
  s.counters.done = 4100;
  s.counters.unchanged = 100;
  s.counters.bytes = 123456789;
  s.counters.matches = 7;
  s.estimated_total = 9000;
  s.rate.objects_per_second = 55;  // live only

  absl::StatusOr<SweepState> decoded = DecodeSweepState(EncodeSweepState(s));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->phase, SweepPhase::kPaused);
  EXPECT_EQ(SweepPhaseName(decoded->phase), "paused");
  EXPECT_EQ(decoded->source_id, "disk");
  EXPECT_EQ(decoded->sweep_id, s.sweep_id);
  EXPECT_EQ(decoded->started_at, s.started_at);
  EXPECT_EQ(decoded->finished_at, absl::InfinitePast());
  EXPECT_TRUE(decoded->has_cursor);
  EXPECT_EQ(decoded->cursor, s.cursor);
  EXPECT_EQ(decoded->resumes, 2u);
  EXPECT_EQ(decoded->counters.listed, 4200u);
  EXPECT_EQ(decoded->counters.done, 4100u);
  EXPECT_EQ(decoded->counters.unchanged, 100u);
  EXPECT_EQ(decoded->counters.bytes, 123456789u);
  EXPECT_EQ(decoded->counters.matches, 7u);
  EXPECT_EQ(decoded->estimated_total, 9000u);
  EXPECT_EQ(decoded->rate.objects_per_second, 0) << "the rate is not persisted";
}

TEST(SweepState, EveryPhaseRoundTrips) {
  for (SweepPhase phase : {SweepPhase::kIdle, SweepPhase::kRunning, SweepPhase::kCompleted,
                           SweepPhase::kFailed, SweepPhase::kPaused}) {
    SweepState s;
    s.source_id = "src";
    s.phase = phase;
    absl::StatusOr<SweepState> decoded = DecodeSweepState(EncodeSweepState(s));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->phase, phase) << SweepPhaseName(phase);
  }
}

TEST(SweepState, RecordWrittenBeforePauseAndEstimatesDecodes) {
  // The exact layout earlier releases wrote: no estimated_total.
  const std::string old =
      R"({"counters":{"bytes":2048,"done":10,"failed":1,"listed":12,"matches":3,"skipped":2,"unchanged":0},)"
      R"("error":"","finished_at_us":0,"phase":"running","resumes":1,"source_id":"disk",)"
      R"("started_at_us":1800000000000000,"sweep_id":"disk-1800000000000000"})";
  absl::StatusOr<SweepState> s = DecodeSweepState(old);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->phase, SweepPhase::kRunning);
  EXPECT_EQ(s->estimated_total, 0u);
  EXPECT_EQ(s->counters.listed, 12u);
  EXPECT_EQ(s->counters.done, 10u);
  EXPECT_EQ(s->counters.failed, 1u);
  EXPECT_EQ(s->counters.skipped, 2u);
  EXPECT_EQ(s->counters.bytes, 2048u);
  EXPECT_EQ(s->counters.matches, 3u);
  EXPECT_EQ(s->resumes, 1u);
  EXPECT_EQ(s->started_at, absl::FromUnixSeconds(1'800'000'000));
  EXPECT_FALSE(s->has_cursor);
}

TEST(SweepState, UnknownPhaseIsDataLossNamingIt) {
  absl::StatusOr<SweepState> s =
      DecodeSweepState(R"({"counters":{},"phase":"hibernating","source_id":"disk","sweep_id":"x"})");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("hibernating"));
}

TEST(SweepRate, RatesOverTheRunAndEtaFromTheEstimate) {
  SweepRateInput in;
  in.objects = 400;  // this run
  in.bytes = 40 << 20;
  in.elapsed = absl::Seconds(8);
  in.finished = 1000;  // including 600 before a resume
  in.estimated_total = 5000;
  SweepRate r = ComputeSweepRate(in);
  EXPECT_DOUBLE_EQ(r.objects_per_second, 50.0);
  EXPECT_DOUBLE_EQ(r.bytes_per_second, 5.0 * (1 << 20));
  EXPECT_EQ(r.elapsed, absl::Seconds(8));
  ASSERT_TRUE(r.eta.has_value()) << r.eta_unknown_reason;
  EXPECT_EQ(*r.eta, absl::Seconds(80));  // 4000 left at 50/s
  EXPECT_EQ(r.eta_unknown_reason, "");
}

TEST(SweepRate, EtaRoundsUpToWholeSeconds) {
  SweepRateInput in;
  in.objects = 3;
  in.elapsed = absl::Seconds(2);  // 1.5/s
  in.finished = 3;
  in.estimated_total = 10;  // 7 left: 4.67 s
  SweepRate r = ComputeSweepRate(in);
  ASSERT_TRUE(r.eta.has_value());
  EXPECT_EQ(*r.eta, absl::Seconds(5));
}

TEST(SweepRate, NoEstimateMeansEtaUnknownAndSaysWhy) {
  SweepRateInput in;
  in.objects = 100;
  in.elapsed = absl::Seconds(10);
  in.finished = 100;
  SweepRate r = ComputeSweepRate(in);
  EXPECT_DOUBLE_EQ(r.objects_per_second, 10.0);
  EXPECT_FALSE(r.eta.has_value());
  EXPECT_THAT(r.eta_unknown_reason, HasSubstr("no earlier completed sweep"));
}

TEST(SweepRate, PastTheEstimateTheTotalIsUnknown) {
  SweepRateInput in;
  in.objects = 120;
  in.elapsed = absl::Seconds(1);
  in.finished = 120;
  in.estimated_total = 100;
  SweepRate r = ComputeSweepRate(in);
  EXPECT_FALSE(r.eta.has_value());
  EXPECT_THAT(r.eta_unknown_reason, HasSubstr("more objects than the previous sweep"));
}

TEST(SweepRate, NothingFinishedOrNoTimeGivesZeroRatesAndNoEta) {
  SweepRateInput in;
  in.elapsed = absl::ZeroDuration();
  in.objects = 5;
  in.finished = 5;
  in.estimated_total = 100;
  SweepRate r = ComputeSweepRate(in);
  EXPECT_EQ(r.objects_per_second, 0);
  EXPECT_EQ(r.bytes_per_second, 0);
  EXPECT_FALSE(r.eta.has_value());
  EXPECT_THAT(r.eta_unknown_reason, HasSubstr("no object finished yet"));

  in.elapsed = absl::Seconds(3);
  in.objects = 0;
  r = ComputeSweepRate(in);
  EXPECT_EQ(r.objects_per_second, 0);
  EXPECT_FALSE(r.eta.has_value());
}

}  // namespace
}  // namespace takedown
