#include "daemon/metrics.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <variant>

#include "fmt/format.h"

namespace takedown {
namespace {

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// {a="x",b="y"} (with `extra` appended as the last pair), or "" when empty.
std::string RenderLabels(const std::vector<std::string>& names,
                         const std::vector<std::string>& values, std::string_view extra_name = {},
                         std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return std::string();
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(i < values.size() ? values[i] : std::string());
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
  return out;
}

absl::Status ValidateLabelNames(const std::string& metric, const std::vector<std::string>& names,
                                bool histogram) {
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    if (!IsValidLabelName(name) || name.rfind("__", 0) == 0 || (histogram && name == "le")) {
      return absl::InvalidArgumentError(fmt::format(
          "metric {}: label name '{}' is invalid (must match [a-zA-Z_][a-zA-Z0-9_]*, not start "
          "with __, and not be 'le' on a histogram)",
          metric, name));
    }
    if (std::find(names.begin(), names.begin() + i, name) != names.begin() + i) {
      return absl::InvalidArgumentError(
          fmt::format("metric {}: label name '{}' is repeated", metric, name));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateBuckets(const std::string& metric, std::vector<double>& bounds) {
  if (!bounds.empty() && std::isinf(bounds.back()) && bounds.back() > 0) bounds.pop_back();
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
      return absl::InvalidArgumentError(fmt::format(
          "histogram {}: bucket bounds must be finite and strictly increasing (bound {} is {})",
          metric, i, FormatMetricValue(bounds[i])));
    }
  }
  return absl::OkStatus();
}

}  // namespace

void Counter::Inc(double amount) {
  if (!(amount >= 0)) return;
  value_.fetch_add(amount, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      counts_(new std::atomic<uint64_t>[upper_bounds_.size() + 1]) {
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  size_t bucket = std::isnan(value)
                      ? upper_bounds_.size()
                      : static_cast<size_t>(
                            std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) -
                            upper_bounds_.begin());
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Snap() const {
  Snapshot snap;
  snap.cumulative.reserve(upper_bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    snap.cumulative.push_back(running);
  }
  snap.count = running;
  snap.sum = sum_.load(std::memory_order_relaxed);
  return snap;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> bounds;
  double bound = start;
  for (int i = 0; i < count; ++i, bound *= factor) bounds.push_back(bound);
  return bounds;
}

std::vector<double> LinearBuckets(double start, double width, int count) {
  std::vector<double> bounds;
  for (int i = 0; i < count; ++i) bounds.push_back(start + width * i);
  return bounds;
}

struct MetricsRegistry::Entry {
  std::string name;
  std::string help;
  std::string_view type;
  std::variant<std::shared_ptr<CounterFamily>, std::shared_ptr<GaugeFamily>,
               std::shared_ptr<HistogramFamily>, std::function<double()>>
      metric;
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

absl::Status MetricsRegistry::Register(std::shared_ptr<Entry> entry) {
  if (!IsValidMetricName(entry->name)) {
    return absl::InvalidArgumentError(fmt::format(
        "metric name '{}' is invalid; it must match [a-zA-Z_:][a-zA-Z0-9_:]*", entry->name));
  }
  absl::MutexLock lock(&mu_);
  for (const auto& existing : entries_) {
    if (existing->name == entry->name) {
      return absl::AlreadyExistsError(
          fmt::format("metric {} is already registered (as a {})", entry->name, existing->type));
    }
  }
  entries_.push_back(std::move(entry));
  return absl::OkStatus();
}

absl::StatusOr<CounterFamily*> MetricsRegistry::AddCounterFamily(
    const std::string& name, const std::string& help, std::vector<std::string> label_names) {
  if (absl::Status s = ValidateLabelNames(name, label_names, false); !s.ok()) return s;
  auto family = std::make_shared<CounterFamily>(std::move(label_names),
                                                [] { return std::make_unique<Counter>(); });
  auto entry = std::make_shared<Entry>(Entry{name, help, "counter", family});
  if (absl::Status s = Register(std::move(entry)); !s.ok()) return s;
  return family.get();
}

absl::StatusOr<Counter*> MetricsRegistry::AddCounter(const std::string& name,
                                                     const std::string& help) {
  absl::StatusOr<CounterFamily*> family = AddCounterFamily(name, help, {});
  if (!family.ok()) return family.status();
  return &(*family)->WithLabels({});
}

absl::StatusOr<GaugeFamily*> MetricsRegistry::AddGaugeFamily(const std::string& name,
                                                             const std::string& help,
                                                             std::vector<std::string> label_names) {
  if (absl::Status s = ValidateLabelNames(name, label_names, false); !s.ok()) return s;
  auto family = std::make_shared<GaugeFamily>(std::move(label_names),
                                              [] { return std::make_unique<Gauge>(); });
  auto entry = std::make_shared<Entry>(Entry{name, help, "gauge", family});
  if (absl::Status s = Register(std::move(entry)); !s.ok()) return s;
  return family.get();
}

absl::StatusOr<Gauge*> MetricsRegistry::AddGauge(const std::string& name, const std::string& help) {
  absl::StatusOr<GaugeFamily*> family = AddGaugeFamily(name, help, {});
  if (!family.ok()) return family.status();
  return &(*family)->WithLabels({});
}

absl::StatusOr<HistogramFamily*> MetricsRegistry::AddHistogramFamily(
    const std::string& name, const std::string& help, std::vector<std::string> label_names,
    std::vector<double> upper_bounds) {
  if (absl::Status s = ValidateLabelNames(name, label_names, true); !s.ok()) return s;
  if (absl::Status s = ValidateBuckets(name, upper_bounds); !s.ok()) return s;
  auto family = std::make_shared<HistogramFamily>(
      std::move(label_names), [bounds = std::move(upper_bounds)] {
        return std::make_unique<Histogram>(bounds);
      });
  auto entry = std::make_shared<Entry>(Entry{name, help, "histogram", family});
  if (absl::Status s = Register(std::move(entry)); !s.ok()) return s;
  return family.get();
}

absl::StatusOr<Histogram*> MetricsRegistry::AddHistogram(const std::string& name,
                                                         const std::string& help,
                                                         std::vector<double> upper_bounds) {
  absl::StatusOr<HistogramFamily*> family =
      AddHistogramFamily(name, help, {}, std::move(upper_bounds));
  if (!family.ok()) return family.status();
  return &(*family)->WithLabels({});
}

absl::Status MetricsRegistry::AddGaugeCallback(const std::string& name, const std::string& help,
                                               std::function<double()> read) {
  if (!read) {
    return absl::InvalidArgumentError(fmt::format("gauge callback {} has no function", name));
  }
  return Register(std::make_shared<Entry>(Entry{name, help, "gauge", std::move(read)}));
}

std::string MetricsRegistry::RenderText() const {
  std::vector<std::shared_ptr<Entry>> entries;
  {
    absl::MutexLock lock(&mu_);
    entries = entries_;
  }
  std::string out;
  for (const auto& entry : entries) {
    const std::string& name = entry->name;
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, EscapeHelp(entry->help), name,
                       entry->type);
    if (const auto* family = std::get_if<std::shared_ptr<CounterFamily>>(&entry->metric)) {
      (*family)->ForEach([&](const std::vector<std::string>& values, const Counter& counter) {
        out += fmt::format("{}{} {}\n", name, RenderLabels((*family)->label_names(), values),
                           FormatMetricValue(counter.Value()));
      });
    } else if (const auto* gauges = std::get_if<std::shared_ptr<GaugeFamily>>(&entry->metric)) {
      (*gauges)->ForEach([&](const std::vector<std::string>& values, const Gauge& gauge) {
        out += fmt::format("{}{} {}\n", name, RenderLabels((*gauges)->label_names(), values),
                           FormatMetricValue(gauge.Value()));
      });
    } else if (const auto* histograms =
                   std::get_if<std::shared_ptr<HistogramFamily>>(&entry->metric)) {
      const std::vector<std::string>& label_names = (*histograms)->label_names();
      (*histograms)->ForEach([&](const std::vector<std::string>& values, const Histogram& h) {
        Histogram::Snapshot snap = h.Snap();
        const std::vector<double>& bounds = h.upper_bounds();
        for (size_t i = 0; i <= bounds.size(); ++i) {
          std::string le = i < bounds.size() ? FormatMetricValue(bounds[i]) : "+Inf";
          out += fmt::format("{}_bucket{} {}\n", name, RenderLabels(label_names, values, "le", le),
                             snap.cumulative[i]);
        }
        std::string labels = RenderLabels(label_names, values);
        out += fmt::format("{}_sum{} {}\n", name, labels, FormatMetricValue(snap.sum));
        out += fmt::format("{}_count{} {}\n", name, labels, snap.count);
      });
    } else if (const auto* read = std::get_if<std::function<double()>>(&entry->metric)) {
      double value;
      try {
        value = (*read)();
      } catch (...) {
        value = std::nan("");
      }
      out += fmt::format("{} {}\n", name, FormatMetricValue(value));
    }
  }
  return out;
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = IsNameStart(c) || c == ':' || (i > 0 && IsDigit(c));
    if (!ok) return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (!(IsNameStart(c) || (i > 0 && IsDigit(c)))) return false;
  }
  return true;
}

}  // namespace takedown
