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
//   takedown_archive_members_total{source}    archive members recorded
//   takedown_archives_refused_total{reason}   archives not (fully) expanded: limit, corrupt, ...
//   takedown_timers_fired_total{kind}         case timers fired (deadline, reminder, ...)
//   takedown_timers_stale_total{kind}         timers dropped: case resolved or timer cancelled
//   takedown_timer_lateness_seconds           how late timers fired (e.g. after downtime)
//   takedown_removals_total{profile,outcome}  removals recorded, outcome on_time | late | no_deadline
//   takedown_time_to_removal_seconds          receipt (or notice) to removal
//   takedown_orders_total{profile,outcome}    removal orders: received, invalid, executed, unable, pending
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
  // `members` archive members recorded (takedown_archive_members_total{source}).
  void CountArchiveMembers(const std::string& source_id, uint64_t members);
  // An archive not (fully) expanded; `reason` is an ArchiveOutcomeName.
  void CountArchiveRefused(const std::string& reason);
  // A case timer fired `late_seconds` after its due time.
  void CountTimerFired(const std::string& kind, double late_seconds);
  void CountTimerStale(const std::string& kind);
  // A removal under `profile`; on_time is nullopt when the case had no deadline.
  void CountRemoval(const std::string& profile, std::optional<bool> on_time, double seconds_to_removal);
  void CountOrder(const std::string& profile, const std::string& outcome);

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
  CounterFamily* archive_members_;
  CounterFamily* archives_refused_;
  CounterFamily* timers_fired_;
  CounterFamily* timers_stale_;
  Histogram* timer_lateness_;
  CounterFamily* removals_;
  Histogram* time_to_removal_;
  CounterFamily* orders_;
};

}  // namespace takedown
