// Daemon: the running takedownd. Owns the store, audit log, metrics, the
// exact index and hash lists, the sources with their sweeps, the outbox
// dispatcher, and the HTTP and gRPC servers, and wires them together.
//
// Start() opens everything, rebuilds the index, imports configured lists,
// resumes sweeps interrupted by a stop or crash, and starts serving.
// Shutdown() stops accepting work, interrupts sweeps resumably, drains the
// workers and closes the store.
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
#include "crawler/source.h"
#include "daemon/audit_log.h"
#include "daemon/case_recorder.h"
#include "daemon/daemon_metrics.h"
#include "daemon/hash_list_manager.h"
#include "daemon/list_policy.h"
#include "daemon/http_server.h"
#include "daemon/metrics.h"
#include "daemon/object_processor.h"
#include "daemon/outbox_dispatcher.h"
#include "daemon/store.h"
#include "daemon/sweep_runner.h"
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
  // sweeping keep their sweep. NotFound for an unknown source id.
  absl::StatusOr<std::vector<SweepState>> StartSweeps(const std::vector<std::string>& source_ids,
                                                      const std::string& actor);
  absl::StatusOr<std::vector<SweepState>> SweepStatus(const std::vector<std::string>& source_ids);

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

  // Ready when the store is open and the lists are loaded.
  absl::Status Ready() const;

  int http_port() const;
  int grpc_port() const { return grpc_port_; }

 private:
  Daemon(const TakedownConfig& config, Clock& clock);
  absl::Status Init();
  absl::Status ResumeInterruptedSweeps();
  absl::StatusOr<SweepRunner*> Runner(const std::string& source_id);

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
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<ApiService> api_;
  std::unique_ptr<grpc::Server> grpc_;
  int grpc_port_ = 0;

  std::atomic<bool> ready_{false};
  std::mutex sweep_mu_;  // serialises starting sweeps
  std::once_flag shutdown_once_;
};

}  // namespace takedown
