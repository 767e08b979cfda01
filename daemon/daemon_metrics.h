// DaemonMetrics: every metric the daemon exports, declared in one place and
// registered once in the MetricsRegistry (served at /metrics). The list:
//   takedown_objects_swept_total{source}      objects read and digested
//   takedown_bytes_swept_total{source}        bytes read
//   takedown_objects_unchanged_total{source}  objects not re-read (same version)
//   takedown_digest_seconds                   time to stream one object through the digests
//   takedown_work_queue_depth                 objects waiting for a worker
//   takedown_index_entries                    digests in the exact index
//   takedown_matches_total{list,category}     evidence records added
//   takedown_matches_vetoed_total{list}       matches an allowlist vetoed
//   takedown_cases{state}                     cases by state
//   takedown_errors_total{kind}               object_unreadable, object_skipped, ...
//   takedown_notices_total{channel,outcome}   delivered, retry, dead_letter
//
// Thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "daemon/metrics.h"
#include "daemon/store.h"
#include "notices/case_state.h"

namespace takedown {

class DaemonMetrics {
 public:
  explicit DaemonMetrics(MetricsRegistry& registry);

  void CountSwept(const std::string& source_id, uint64_t bytes);
  void CountUnchanged(const std::string& source_id);
  void ObserveDigestSeconds(double seconds);
  void CountMatch(const std::string& list, const std::string& category);
  // A match an allowlist vetoed (takedown_matches_vetoed_total{list}).
  void CountVeto(const std::string& list);
  void CaseStateChanged(std::optional<CaseState> from, CaseState to);
  void CountError(const std::string& kind);
  void CountNotice(const std::string& channel, const std::string& outcome);

  // Sets takedown_cases from the cases stored (at start).
  absl::Status LoadCaseCounts(const Store& store);
  void SetQueueDepth(std::function<double()> read);
  void SetIndexSize(std::function<double()> read);

 private:
  MetricsRegistry& registry_;
  CounterFamily* objects_swept_;
  CounterFamily* bytes_swept_;
  CounterFamily* objects_unchanged_;
  Histogram* digest_seconds_;
  CounterFamily* matches_;
  CounterFamily* vetoes_;
  GaugeFamily* cases_;
  CounterFamily* errors_;
  CounterFamily* notices_;
};

}  // namespace takedown
