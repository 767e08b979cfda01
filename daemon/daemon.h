// Daemon: the running takedownd. Owns the store, audit log, metrics, the
// exact index and hash lists, the sources with their sweeps, the outbox
// dispatcher, and the HTTP and gRPC servers, and wires them together.
//
// Start() opens everything, attaches the case engine (daemon/case_engine.h)
// to the recorder and admits cases left in `detected`, rebuilds the index,
// imports configured lists (creating the review allowlist file first), starts
// serving, the outbox, the engine's timer loop and the order inbox, resumes
// sweeps interrupted by a stop or crash (not paused ones), and starts the
// filesystem watchers (sources with `watch`) and the rescan scheduler
// (sources with a rescan_interval). Shutdown() stops accepting work, stops
// the scheduler, watchers, inbox and timer loop, interrupts sweeps
// resumably, drains the workers and closes the store.
//
// The operations below are what the gRPC API exposes; they are thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/thread_pool.h"
#include "config/config.h"
#include "crawler/fs_watcher.h"
#include "crawler/http_fetcher.h"
#include "crawler/recheck.h"
#include "crawler/source.h"
#include "daemon/audit_log.h"
#include "daemon/case_engine.h"
#include "daemon/case_recorder.h"
#include "daemon/compliance_stats.h"
#include "daemon/content_checker.h"
#include "daemon/daemon_metrics.h"
#include "daemon/file_allowlist_writer.h"
#include "daemon/hash_list_manager.h"
#include "daemon/http_server.h"
#include "daemon/inbox_scanner.h"
#include "daemon/list_policy.h"
#include "daemon/metrics.h"
#include "daemon/object_processor.h"
#include "daemon/order_intake.h"
#include "daemon/outbox_dispatcher.h"
#include "daemon/prefix_location_resolver.h"
#include "daemon/preservation_vault.h"
#include "daemon/provider_resolver.h"
#include "daemon/source_content_action.h"
#include "daemon/store.h"
#include "daemon/sweep_runner.h"
#include "daemon/sweep_scheduler.h"
#include "daemon/targeted_scan.h"
#include "matcher/exact_index.h"
#include "notices/case.h"

namespace grpc {
class Server;
}

namespace takedown {

class ApiService;

class Daemon {
 public:
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(const TakedownConfig& config, Clock& clock);
  ~Daemon();

  void Shutdown();

  // Starts a sweep of each named source (all when empty). Sources already
  // sweeping keep their sweep; paused sources stay paused (ResumeSweeps
  // continues them). NotFound for an unknown source id, naming the known ones.
  absl::StatusOr<std::vector<SweepState>> StartSweeps(const std::vector<std::string>& source_ids,
                                                      const std::string& actor);
  absl::StatusOr<std::vector<SweepState>> SweepStatus(const std::vector<std::string>& source_ids);

  // Pauses the running sweep of each named source (every running one when
  // empty): it stops after the objects in flight, keeps its cursor and is not
  // resumed by a restart. Audited ("sweep.pause"). FailedPrecondition when a
  // named source has no running sweep (nothing is paused then).
  absl::StatusOr<std::vector<SweepState>> PauseSweeps(const std::vector<std::string>& source_ids,
                                                      const std::string& actor);
  // Continues each named paused sweep (every paused one when empty) from its
  // cursor. Audited ("sweep.resume"). FailedPrecondition when a named source
  // is not paused (nothing is resumed then).
  absl::StatusOr<std::vector<SweepState>> ResumeSweeps(const std::vector<std::string>& source_ids,
                                                       const std::string& actor);

  struct SourceStatus {
    std::string id;
    std::string type;       // "filesystem", "s3", "url_list"
    std::string location;   // root, s3://bucket/prefix at endpoint, list file
    bool watch = false;     // configured
    bool watching = false;  // a watcher runs
    int64_t rescan_interval_seconds = 0;
    SweepState sweep;  // as SweepStatus gives it
    // When the scheduler starts the next sweep; InfiniteFuture when none is
    // scheduled (no interval, or running/paused), InfinitePast when due now.
    absl::Time next_sweep_at = absl::InfiniteFuture();
  };
  absl::StatusOr<std::vector<SourceStatus>> ListSources();

  // Targeted scan of `keys` of one source (targeted_scan.h), now, whatever
  // its sweep is doing; at most ScanLimits::max_keys keys. Audited
  // ("objects.scan") with the counts. NotFound for an unknown source id.
  absl::StatusOr<ScanReport> ScanObjects(const std::string& source_id, const std::vector<std::string>& keys,
                                         const std::string& actor);

  // Re-checks a swept object (object_recheck.h): is what was read at `key`
  // (a URL for a url_list source) still there? Audited ("object.recheck").
  // NotFound for an unknown source or an object never swept.
  absl::StatusOr<RecheckResult> Recheck(const std::string& source_id, const std::string& key,
                                        const std::string& actor);

  absl::StatusOr<ImportResult> ImportHashList(const std::string& name, const std::string& path,
                                              std::string_view content, const std::string& actor);
  absl::StatusOr<std::vector<HashListInfo>> ListHashLists();

  struct CasePage {
    std::vector<Case> cases;
    std::string next_page_token;
  };
  absl::StatusOr<CasePage> ListCases(const std::string& state_filter, uint32_t limit,
                                     const std::string& page_token);
  absl::StatusOr<Case> GetCase(const std::string& id);

  // Case engine operations (daemon/case_engine.h), audited under `actor`.
  // Review: confirm (-> confirmed, then notified) or reject (-> rejected; the
  // evidence goes to cases.review_allowlist). FailedPrecondition for a move
  // the transition table does not allow, naming the states.
  absl::StatusOr<Case> ReviewCase(const std::string& id, bool confirm, const std::string& actor,
                                  const std::string& reason);
  absl::StatusOr<Case> TransitionCase(const std::string& id, const std::string& to_state,
                                      const std::string& actor, const std::string& reason);
  // `kind`: "removed" or "access_disabled"; the removal is recorded now.
  absl::StatusOr<Case> RecordRemoval(const std::string& id, const std::string& kind, const std::string& actor,
                                     const std::string& reason);
  // A removal order (docs/removal-orders.md) received through the API.
  // FailedPrecondition in the authority role.
  absl::StatusOr<OrderReceipt> SubmitRemovalOrder(std::string_view json, const std::string& actor);
  // Carries out orders.action on the order case's object (OrderIntake::Execute).
  absl::StatusOr<Case> ExecuteRemovalOrder(const std::string& id, const std::string& actor);
  // CaseEngine::RecheckNow.
  absl::StatusOr<CaseEngine::RecheckNowResult> RecheckCase(const std::string& id, const std::string& actor);
  // `reason`: force_majeure, manifest_error or missing_information
  // (CaseEngine::RecordInability).
  absl::StatusOr<Case> RecordInability(const std::string& id, const std::string& reason,
                                       const std::string& explanation, const std::string& actor);
  // Per provider, from the stored cases (daemon/compliance_stats.h).
  absl::StatusOr<std::vector<ProviderCompliance>> ComplianceStats();

  // Ready when the store is open and the lists are loaded.
  absl::Status Ready() const;

  int http_port() const;
  int grpc_port() const { return grpc_port_; }

 private:
  Daemon(const TakedownConfig& config, Clock& clock);
  absl::Status Init();
  absl::Status InitCaseEngine(const std::vector<std::string>& channel_names);
  absl::Status ResumeInterruptedSweeps();
  absl::Status StartWatchers();
  absl::StatusOr<SweepRunner*> Runner(const std::string& source_id);
  // The state of one source's sweep: live if it ran in this process, else
  // as stored.
  absl::StatusOr<SweepState> SourceSweepState(const std::string& source_id);
  // For the scheduler and watch overflows: starts a full sweep unless one
  // runs or the source is paused; true when it started one.
  absl::StatusOr<bool> StartSweepIfIdle(const std::string& source_id, const std::string& actor);
  absl::StatusOr<ScanReport> Scan(const std::string& source_id, const std::vector<std::string>& keys,
                                  const std::string& actor);
  std::string NewScanId();

  // Constant after Start.
  TakedownConfig config_;
  Clock& clock_;
  MetricsRegistry registry_;
  std::unique_ptr<DaemonMetrics> metrics_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AuditLog> audit_;
  ExactIndex index_;
  std::unique_ptr<ListPolicies> policies_;
  std::unique_ptr<PdqMatcher> pdq_;  // null when matcher.pdq is off
  std::unique_ptr<OutboxDispatcher> outbox_;
  std::unique_ptr<CaseRecorder> recorder_;
  std::unique_ptr<HashListManager> lists_;
  std::unique_ptr<ObjectProcessor> processor_;
  std::unique_ptr<ThreadPool> pool_;
  std::map<std::string, SourcePtr> sources_;
  std::map<std::string, std::unique_ptr<SweepRunner>> runners_;
  std::map<std::string, const SourceConfig*> source_configs_;
  std::map<std::string, std::unique_ptr<FsWatcher>> watchers_;
  std::unique_ptr<SweepScheduler> scheduler_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<ApiService> api_;
  std::unique_ptr<grpc::Server> grpc_;
  int grpc_port_ = 0;
  // The case engine and what it borrows; declared after store_ and audit_
  // and reset before them in Shutdown().
  std::unique_ptr<FileAllowlistWriter> allowlist_;  // null without cases.review_allowlist
  std::unique_ptr<HttpFetcher> recheck_fetcher_;    // URLs no configured source serves
  std::unique_ptr<ContentChecker> checker_;
  std::unique_ptr<CaseEngine> engine_;
  std::unique_ptr<PrefixLocationResolver> resolver_;
  std::unique_ptr<SourceContentAction> action_;          // hosting-provider role only
  std::unique_ptr<PreservationVault> vault_;             // with orders.preserve_dir only
  std::unique_ptr<ProviderResolver> provider_resolver_;  // authority role with rdap only
  std::unique_ptr<OrderIntake> intake_;  // hosting-provider role only
  std::unique_ptr<InboxScanner> inbox_;  // with orders.inbox only

  std::atomic<bool> ready_{false};
  std::atomic<bool> stopping_{false};
  std::mutex sweep_mu_;  // serialises starting, pausing, resuming and stopping sweeps
  std::mutex scan_id_mu_;
  int64_t last_scan_micros_ = 0;  // guarded by scan_id_mu_
  std::once_flag shutdown_once_;
};

}  // namespace takedown
