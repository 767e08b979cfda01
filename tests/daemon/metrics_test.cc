#include "daemon/metrics.h"

#include <cmath>
#include <stdexcept>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace takedown {
namespace {

using ::testing::HasSubstr;

TEST(Metrics, RendersSmallRegistryExactly) {
  MetricsRegistry registry;
  Counter* objects = registry.AddCounter("takedown_objects_total", "Objects seen.").value();
  Gauge* depth = registry.AddGauge("takedown_queue_depth", "Items waiting.").value();
  CounterFamily* matches =
      registry.AddCounterFamily("takedown_matches_total", "Matches by list.", {"list", "algorithm"})
          .value();
  ASSERT_TRUE(registry.AddGaugeCallback("takedown_lists_loaded", "Lists loaded.", [] { return 4; })
                  .ok());
  Histogram* fetch =
      registry.AddHistogram("takedown_fetch_seconds", "Fetch time.", {0.25, 1}).value();
  GaugeFamily* unused = registry.AddGaugeFamily("takedown_empty", "No children.", {"x"}).value();
  (void)unused;

  objects->Inc();
  objects->Inc(2);
  depth->Set(4);
  depth->Dec(1.5);
  matches->WithLabels({"ncmec", "md5"}).Inc(2);
  matches->WithLabels({"demo", "pdq"}).Inc();
  for (double v : {0.125, 0.25, 0.5, 3.0}) fetch->Observe(v);

  EXPECT_EQ(registry.RenderText(),
            "# HELP takedown_objects_total Objects seen.\n"
            "# TYPE takedown_objects_total counter\n"
            "takedown_objects_total 3\n"
            "# HELP takedown_queue_depth Items waiting.\n"
            "# TYPE takedown_queue_depth gauge\n"
            "takedown_queue_depth 2.5\n"
            "# HELP takedown_matches_total Matches by list.\n"
            "# TYPE takedown_matches_total counter\n"
            "takedown_matches_total{list=\"demo\",algorithm=\"pdq\"} 1\n"
            "takedown_matches_total{list=\"ncmec\",algorithm=\"md5\"} 2\n"
            "# HELP takedown_lists_loaded Lists loaded.\n"
            "# TYPE takedown_lists_loaded gauge\n"
            "takedown_lists_loaded 4\n"
            "# HELP takedown_fetch_seconds Fetch time.\n"
            "# TYPE takedown_fetch_seconds histogram\n"
            "takedown_fetch_seconds_bucket{le=\"0.25\"} 2\n"
            "takedown_fetch_seconds_bucket{le=\"1\"} 3\n"
            "takedown_fetch_seconds_bucket{le=\"+Inf\"} 4\n"
            "takedown_fetch_seconds_sum 3.875\n"
            "takedown_fetch_seconds_count 4\n"
            "# HELP takedown_empty No children.\n"
            "# TYPE takedown_empty gauge\n");
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
  MetricsRegistry registry;
  CounterFamily* family =
      registry.AddCounterFamily("errors_total", "Line one\nback\\slash \"quoted\"", {"path"})
          .value();
  family->WithLabels({"C:\\dir\n\"x\""}).Inc();
  EXPECT_EQ(registry.RenderText(),
            "# HELP errors_total Line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE errors_total counter\n"
            "errors_total{path=\"C:\\\\dir\\n\\\"x\\\"\"} 1\n");
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(EscapeHelp("a\\b\"c\nd"), "a\\\\b\"c\\nd");
}

TEST(Metrics, HistogramBucketsAreCumulativeWithLabels) {
  MetricsRegistry registry;
  HistogramFamily* family =
      registry.AddHistogramFamily("pdq_distance", "Distance.", {"list"}, {0, 10, 31, INFINITY})
          .value();
  Histogram& h = family->WithLabels({"demo"});
  for (double v : {0.0, 0.0, 5.0, 10.0, 31.0, 32.0, 200.0}) h.Observe(v);
  Histogram::Snapshot snap = h.Snap();
  EXPECT_EQ(snap.cumulative, (std::vector<uint64_t>{2, 4, 5, 7}));
  EXPECT_EQ(snap.count, 7u);
  EXPECT_EQ(snap.sum, 278);
  EXPECT_EQ(registry.RenderText(),
            "# HELP pdq_distance Distance.\n"
            "# TYPE pdq_distance histogram\n"
            "pdq_distance_bucket{list=\"demo\",le=\"0\"} 2\n"
            "pdq_distance_bucket{list=\"demo\",le=\"10\"} 4\n"
            "pdq_distance_bucket{list=\"demo\",le=\"31\"} 5\n"
            "pdq_distance_bucket{list=\"demo\",le=\"+Inf\"} 7\n"
            "pdq_distance_sum{list=\"demo\"} 278\n"
            "pdq_distance_count{list=\"demo\"} 7\n");
}

TEST(Metrics, NanObservationGoesToInfBucket) {
  Histogram h({1.0});
  h.Observe(std::nan(""));
  h.Observe(0.5);
  Histogram::Snapshot snap = h.Snap();
  EXPECT_EQ(snap.cumulative, (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(std::isnan(snap.sum));
}

TEST(Metrics, RejectsInvalidRegistrations) {
  MetricsRegistry registry;
  EXPECT_EQ(registry.AddCounter("9starts_with_digit", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddCounter("has-dash", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddCounter("", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(registry.AddCounter("ns:sub_total9", "").ok());
  EXPECT_EQ(registry.AddGauge("ns:sub_total9", "").status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.AddGaugeCallback("ns:sub_total9", "", [] { return 1.0; }).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.AddCounterFamily("a", "", {"bad-label"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddCounterFamily("b", "", {"__reserved"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddCounterFamily("c", "", {"x", "x"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddHistogramFamily("d", "", {"le"}, {1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddHistogram("e", "", {1, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddHistogram("f", "", {2, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddHistogram("g", "", {NAN}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddGaugeCallback("h", "", nullptr).code(), absl::StatusCode::kInvalidArgument);
  // Only the one valid registration renders.
  EXPECT_EQ(registry.RenderText(), "# HELP ns:sub_total9 \n# TYPE ns:sub_total9 counter\nns:sub_total9 0\n");
}

TEST(Metrics, WithLabelsReturnsStableReference) {
  MetricsRegistry registry;
  GaugeFamily* family = registry.AddGaugeFamily("g", "", {"list"}).value();
  Gauge& first = family->WithLabels({"demo"});
  for (int i = 0; i < 100; ++i) family->WithLabels({"l" + std::to_string(i)});
  EXPECT_EQ(&family->WithLabels({"demo"}), &first);
  first.Inc(3);
  EXPECT_EQ(family->WithLabels({"demo"}).Value(), 3);
}

TEST(Metrics, CounterIgnoresNegativeIncrements) {
  Counter c;
  c.Inc(2);
  c.Inc(-1);
  c.Inc(std::nan(""));
  EXPECT_EQ(c.Value(), 2);
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  MetricsRegistry registry;
  Counter* counter = registry.AddCounter("c_total", "").value();
  CounterFamily* family = registry.AddCounterFamily("f_total", "", {"t"}).value();
  Histogram* histogram = registry.AddHistogram("h", "", {10}).value();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Counter& mine = family->WithLabels({std::to_string(t % 2)});
      for (int i = 0; i < 10000; ++i) {
        counter->Inc();
        mine.Inc();
        histogram->Observe(i % 20);
        if (i % 1000 == 0) registry.RenderText();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counter->Value(), 40000);
  EXPECT_EQ(family->WithLabels({"0"}).Value(), 20000);
  EXPECT_EQ(family->WithLabels({"1"}).Value(), 20000);
  Histogram::Snapshot snap = histogram->Snap();
  EXPECT_EQ(snap.count, 40000u);
  EXPECT_EQ(snap.cumulative[0], 22000u);  // 0..10 of every 20
}

TEST(Metrics, CallbackGaugeReadsAtRenderAndSurvivesThrow) {
  MetricsRegistry registry;
  double depth = 1;
  ASSERT_TRUE(registry.AddGaugeCallback("depth", "", [&] { return depth; }).ok());
  ASSERT_TRUE(registry
                  .AddGaugeCallback("broken", "",
                                    []() -> double { throw std::runtime_error("boom"); })
                  .ok());
  EXPECT_THAT(registry.RenderText(), HasSubstr("\ndepth 1\n"));
  depth = 7.5;
  EXPECT_THAT(registry.RenderText(), HasSubstr("\ndepth 7.5\n"));
  EXPECT_THAT(registry.RenderText(), HasSubstr("\nbroken NaN\n"));
}

TEST(Metrics, FormatsSpecialValues) {
  EXPECT_EQ(FormatMetricValue(3), "3");
  EXPECT_EQ(FormatMetricValue(-2), "-2");
  EXPECT_EQ(FormatMetricValue(0.1), "0.1");
  EXPECT_EQ(FormatMetricValue(1e21), "1e+21");
  EXPECT_EQ(FormatMetricValue(INFINITY), "+Inf");
  EXPECT_EQ(FormatMetricValue(-INFINITY), "-Inf");
  EXPECT_EQ(FormatMetricValue(NAN), "NaN");
  EXPECT_EQ(ExponentialBuckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
  EXPECT_EQ(LinearBuckets(0, 5, 3), (std::vector<double>{0, 5, 10}));
}

}  // namespace
}  // namespace takedown
