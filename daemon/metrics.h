// MetricsRegistry: a small Prometheus registry rendering the text exposition
// format 0.0.4 (served at /metrics by daemon/http_server.h).
//
// Metrics are created once at start-up (AddCounter, AddGaugeFamily, ...) and
// live as long as the registry; the returned pointers and the references from
// WithLabels() stay valid until the registry is destroyed. Updating a metric
// (Inc, Set, Observe) is a relaxed atomic operation: no lock, safe from any
// thread. WithLabels() takes a per-family lock, so hot paths look the child
// up once and keep the reference.
//
// Registration fails with InvalidArgument for a name that is not
// [a-zA-Z_:][a-zA-Z0-9_:]*, a label name that is not [a-zA-Z_][a-zA-Z0-9_]*
// or starts with "__" (and "le" on histograms), or bad buckets; and with
// AlreadyExists for a name registered before.
//
// The registry is thread-safe. Render order is registration order; children
// of a family are rendered sorted by label values.
#pragma once

#include <atomic>
#include <cassert>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace takedown {

// Monotonic. Inc() with a negative or NaN amount is ignored.
class Counter {
 public:
  void Inc(double amount = 1);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Inc(double amount = 1) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void Dec(double amount = 1) { value_.fetch_sub(amount, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Fixed buckets given by their upper bounds (inclusive, "le"); +Inf is
// implicit. A NaN observation is counted in +Inf only (and makes the sum NaN).
class Histogram {
 public:
  // REQUIRES: `upper_bounds` strictly increasing and finite (the registry checks).
  explicit Histogram(std::vector<double> upper_bounds);

  void Observe(double value);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;  // equals cumulative.back()
  };
  Snapshot Snap() const;
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }

 private:
  const std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // upper_bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Bucket helpers: start, start*factor, ... (count values); start, start+width, ...
std::vector<double> ExponentialBuckets(double start, double factor, int count);
std::vector<double> LinearBuckets(double start, double width, int count);

// A metric with label names; one child per tuple of label values.
template <typename T>
class MetricFamily {
 public:
  using Factory = std::function<std::unique_ptr<T>()>;
  MetricFamily(std::vector<std::string> label_names, Factory factory)
      : label_names_(std::move(label_names)), factory_(std::move(factory)) {}

  // The child for these label values (in label-name order), created on first
  // use. A wrong number of values is a programming error: it asserts in debug
  // builds; release builds pad with "" or drop the extra values.
  T& WithLabels(const std::vector<std::string>& values);

  const std::vector<std::string>& label_names() const { return label_names_; }

  // Calls fn(values, child) for every child, sorted by values.
  void ForEach(const std::function<void(const std::vector<std::string>&, const T&)>& fn) const;

 private:
  const std::vector<std::string> label_names_;
  const Factory factory_;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_ ABSL_GUARDED_BY(mu_);
};

using CounterFamily = MetricFamily<Counter>;
using GaugeFamily = MetricFamily<Gauge>;
using HistogramFamily = MetricFamily<Histogram>;

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  absl::StatusOr<Counter*> AddCounter(const std::string& name, const std::string& help);
  absl::StatusOr<CounterFamily*> AddCounterFamily(const std::string& name, const std::string& help,
                                                  std::vector<std::string> label_names);

  absl::StatusOr<Gauge*> AddGauge(const std::string& name, const std::string& help);
  absl::StatusOr<GaugeFamily*> AddGaugeFamily(const std::string& name, const std::string& help,
                                              std::vector<std::string> label_names);

  absl::StatusOr<Histogram*> AddHistogram(const std::string& name, const std::string& help,
                                          std::vector<double> upper_bounds);
  absl::StatusOr<HistogramFamily*> AddHistogramFamily(const std::string& name,
                                                      const std::string& help,
                                                      std::vector<std::string> label_names,
                                                      std::vector<double> upper_bounds);

  // A gauge whose value is read by calling `read` at render time, without
  // registry locks held. `read` must be thread-safe and outlive the registry
  // (or at least every RenderText() call); if it throws, NaN is rendered.
  absl::Status AddGaugeCallback(const std::string& name, const std::string& help,
                                std::function<double()> read);

  // The whole registry in Prometheus text format 0.0.4.
  std::string RenderText() const;

 private:
  struct Entry;
  absl::Status Register(std::shared_ptr<Entry> entry);

  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
};

// Exposed for tests and for other renderers.
// "\" -> "\\", "\"" -> "\\\"", newline -> "\\n".
std::string EscapeLabelValue(std::string_view value);
// "\" -> "\\", newline -> "\\n".
std::string EscapeHelp(std::string_view help);
// Prometheus float text: "3", "0.25", "+Inf", "-Inf", "NaN".
std::string FormatMetricValue(double value);
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);

// --- implementation of the template ---

template <typename T>
T& MetricFamily<T>::WithLabels(const std::vector<std::string>& values) {
  absl::MutexLock lock(&mu_);
  auto it = children_.find(values);
  if (it == children_.end()) {
    std::vector<std::string> key = values;
    assert(key.size() == label_names_.size() && "WithLabels: wrong number of label values");
    key.resize(label_names_.size());
    auto existing = children_.find(key);
    if (existing != children_.end()) return *existing->second;
    it = children_.emplace(std::move(key), factory_()).first;
  }
  return *it->second;
}

template <typename T>
void MetricFamily<T>::ForEach(
    const std::function<void(const std::vector<std::string>&, const T&)>& fn) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [values, child] : children_) fn(values, *child);
}

}  // namespace takedown
