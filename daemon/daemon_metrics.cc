#include "daemon/daemon_metrics.h"

#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace takedown {
namespace {

// Registration of fixed, valid names cannot fail; a failure is a programming error.
void MustOk(const absl::Status& status) {
  if (!status.ok()) {
    spdlog::critical("metric registration failed: {}", status.ToString());
    std::abort();
  }
}

template <typename T>
T* Must(absl::StatusOr<T*> metric) {
  MustOk(metric.status());
  return *metric;
}

constexpr CaseState kAllStates[] = {
    CaseState::kDetected, CaseState::kInReview,  CaseState::kConfirmed, CaseState::kNotified,
    CaseState::kAcknowledged, CaseState::kRemoved, CaseState::kClosed, CaseState::kRejected,
    CaseState::kDisputed, CaseState::kOverdue,   CaseState::kReminded,  CaseState::kEscalated,
    CaseState::kFined};

}  // namespace

DaemonMetrics::DaemonMetrics(MetricsRegistry& registry)
    : registry_(registry),
      objects_swept_(Must(registry.AddCounterFamily("takedown_objects_swept_total",
                                                    "Objects read and digested.", {"source"}))),
      bytes_swept_(Must(registry.AddCounterFamily("takedown_bytes_swept_total", "Bytes read from sources.",
                                                  {"source"}))),
      objects_unchanged_(Must(registry.AddCounterFamily(
          "takedown_objects_unchanged_total", "Objects not re-read because their version is unchanged.",
          {"source"}))),
      digest_seconds_(Must(registry.AddHistogram("takedown_digest_seconds",
                                                 "Time to stream one object through MD5, SHA-1 and SHA-256.",
                                                 ExponentialBuckets(0.0001, 4, 10)))),
      matches_(Must(registry.AddCounterFamily("takedown_matches_total", "Match evidence recorded.",
                                              {"list", "category"}))),
      vetoes_(Must(registry.AddCounterFamily("takedown_matches_vetoed_total",
                                             "Matches an allowlist vetoed (known false positives).", {"list"}))),
      cases_(Must(registry.AddGaugeFamily("takedown_cases", "Cases by state.", {"state"}))),
      errors_(Must(registry.AddCounterFamily("takedown_errors_total", "Errors and degraded paths by kind.",
                                             {"kind"}))),
      notices_(Must(registry.AddCounterFamily("takedown_notices_total", "Notice delivery attempts by outcome.",
                                              {"channel", "outcome"}))),
      archive_members_(Must(registry.AddCounterFamily("takedown_archive_members_total",
                                                      "Archive members recorded as objects of their own.",
                                                      {"source"}))),
      archives_refused_(Must(registry.AddCounterFamily(
          "takedown_archives_refused_total",
          "Archives not (fully) expanded: over a limit, corrupt, not a supported format, unreadable.",
          {"reason"}))),
      timers_fired_(Must(registry.AddCounterFamily("takedown_timers_fired_total",
                                                   "Case timers fired, by kind.", {"kind"}))),
      timers_stale_(Must(registry.AddCounterFamily(
          "takedown_timers_stale_total",
          "Case timers dropped because the case was resolved or the timer cancelled.", {"kind"}))),
      timer_lateness_(Must(registry.AddHistogram("takedown_timer_lateness_seconds",
                                                 "How late case timers fired after their due time.",
                                                 ExponentialBuckets(1, 4, 10)))),
      removals_(Must(registry.AddCounterFamily("takedown_removals_total",
                                               "Removals recorded, by legal profile and deadline outcome.",
                                               {"profile", "outcome"}))),
      time_to_removal_(Must(registry.AddHistogram("takedown_time_to_removal_seconds",
                                                  "Time from receipt of an order or notice to removal.",
                                                  ExponentialBuckets(60, 2, 14)))),
      orders_(Must(registry.AddCounterFamily("takedown_orders_total",
                                             "Removal orders by profile and outcome.", {"profile", "outcome"}))) {
  for (CaseState state : kAllStates) cases_->WithLabels({std::string(CaseStateName(state))}).Set(0);
}

void DaemonMetrics::CountSwept(const std::string& source_id, uint64_t bytes) {
  objects_swept_->WithLabels({source_id}).Inc();
  bytes_swept_->WithLabels({source_id}).Inc(static_cast<double>(bytes));
}

void DaemonMetrics::CountUnchanged(const std::string& source_id) { objects_unchanged_->WithLabels({source_id}).Inc(); }

void DaemonMetrics::ObserveDigestSeconds(double seconds) { digest_seconds_->Observe(seconds); }

void DaemonMetrics::CountMatch(const std::string& list, const std::string& category) {
  matches_->WithLabels({list, category}).Inc();
}

void DaemonMetrics::CountVeto(const std::string& list) { vetoes_->WithLabels({list}).Inc(); }

void DaemonMetrics::CaseStateChanged(std::optional<CaseState> from, CaseState to) {
  if (from) cases_->WithLabels({std::string(CaseStateName(*from))}).Dec();
  cases_->WithLabels({std::string(CaseStateName(to))}).Inc();
}

void DaemonMetrics::CountError(const std::string& kind) { errors_->WithLabels({kind}).Inc(); }

void DaemonMetrics::CountNotice(const std::string& channel, const std::string& outcome) {
  notices_->WithLabels({channel, outcome}).Inc();
}

void DaemonMetrics::CountArchiveMembers(const std::string& source_id, uint64_t members) {
  archive_members_->WithLabels({source_id}).Inc(static_cast<double>(members));
}

void DaemonMetrics::CountArchiveRefused(const std::string& reason) { archives_refused_->WithLabels({reason}).Inc(); }

void DaemonMetrics::CountTimerFired(const std::string& kind, double late_seconds) {
  timers_fired_->WithLabels({kind}).Inc();
  timer_lateness_->Observe(late_seconds);
}

void DaemonMetrics::CountTimerStale(const std::string& kind) { timers_stale_->WithLabels({kind}).Inc(); }

void DaemonMetrics::CountRemoval(const std::string& profile, std::optional<bool> on_time,
                                 double seconds_to_removal) {
  removals_->WithLabels({profile, on_time ? (*on_time ? "on_time" : "late") : "no_deadline"}).Inc();
  time_to_removal_->Observe(seconds_to_removal);
}

void DaemonMetrics::CountOrder(const std::string& profile, const std::string& outcome) {
  orders_->WithLabels({profile, outcome}).Inc();
}

absl::Status DaemonMetrics::LoadCaseCounts(const Store& store) {
  std::map<std::string, double> counts;
  RETURN_IF_ERROR(store.Scan(Cf::kCases, "", [&](std::string_view, std::string_view value) {
    try {
      counts[nlohmann::json::parse(value).value("state", "unknown")] += 1;
    } catch (const nlohmann::json::exception&) {
      counts["unreadable"] += 1;
    }
    return true;
  }));
  for (const auto& [state, n] : counts) cases_->WithLabels({state}).Set(n);
  return absl::OkStatus();
}

void DaemonMetrics::SetQueueDepth(std::function<double()> read) {
  MustOk(registry_.AddGaugeCallback("takedown_work_queue_depth", "Objects waiting for a worker.", std::move(read)));
}

void DaemonMetrics::SetIndexSize(std::function<double()> read) {
  MustOk(registry_.AddGaugeCallback("takedown_index_entries", "Digests in the exact-match index.", std::move(read)));
}

}  // namespace takedown
