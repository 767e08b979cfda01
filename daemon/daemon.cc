#include "daemon/daemon.h"

#include "daemon/source_factory.h"

#include <grpcpp/grpcpp.h>

#include <filesystem>

#include "common/status_macros.h"
#include "daemon/api_service.h"
#include "daemon/notice_channels.h"
#include "daemon/source_factory.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace takedown {

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(const TakedownConfig& config, Clock& clock) {
  std::unique_ptr<Daemon> daemon(new Daemon(config, clock));
  absl::Status status = daemon->Init();
  if (!status.ok()) {
    daemon->Shutdown();
    return status;
  }
  return daemon;
}

Daemon::Daemon(const TakedownConfig& config, Clock& clock) : config_(config), clock_(clock) {}

Daemon::~Daemon() { Shutdown(); }

absl::Status Daemon::Init() {
  metrics_ = std::make_unique<DaemonMetrics>(registry_);

  std::error_code ec;
  std::filesystem::create_directories(config_.daemon.data_dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(fmt::format("cannot create daemon.data_dir {}: {}", config_.daemon.data_dir,
                                                   ec.message()));
  }
  ASSIGN_OR_RETURN(store_, Store::Open(config_.daemon.data_dir + "/store", StoreOptions{}));
  ASSIGN_OR_RETURN(audit_, AuditLog::Open(*store_, clock_));

  outbox_ = std::make_unique<OutboxDispatcher>(*store_, clock_, *metrics_, OutboxOptions{});
  ASSIGN_OR_RETURN(std::vector<NoticeChannelPtr> channels, MakeNoticeChannels(config_.notices, clock_));
  std::vector<std::string> channel_names;
  for (NoticeChannelPtr& channel : channels) {
    channel_names.emplace_back(channel->name());
    outbox_->AddChannel(std::move(channel));
  }
  recorder_ = std::make_unique<CaseRecorder>(*store_, *audit_, clock_, *metrics_, [this] { outbox_->Notify(); },
                                             std::move(channel_names));

  HashListLimits list_limits;
  list_limits.max_line_bytes = config_.limits.hash_list_max_line_bytes;
  list_limits.max_entries = config_.limits.hash_list_max_entries;
  list_limits.max_bytes = config_.limits.hash_list_max_bytes;
  std::map<std::string, ListPolicy, std::less<>> policies;
  for (const HashListConfig& list : config_.lists) {
    ListPolicy policy;
    policy.allowlist = list.kind == ListKind::kAllowlist;
    policy.pdq.threshold = list.pdq_threshold;
    policy.pdq.min_quality = list.pdq_min_quality;
    policies.emplace(list.name, policy);
  }
  policies_ = std::make_unique<ListPolicies>(std::move(policies));
  if (config_.matcher.pdq != PdqMode::kOff) {
    PdqMatcherOptions pdq_options;
    pdq_options.mode = config_.matcher.pdq == PdqMode::kFast ? PdqHashMode::kFast : PdqHashMode::kExact;
    pdq_options.fast_extra_radius = config_.matcher.pdq_fast_extra_radius;
    pdq_options.limits.max_pixels = config_.limits.max_image_pixels;
    pdq_options.max_image_bytes = config_.limits.max_image_bytes;
    ASSIGN_OR_RETURN(pdq_, PdqMatcher::Create(pdq_options));
  }
  lists_ = std::make_unique<HashListManager>(*store_, *audit_, index_, *recorder_, clock_, list_limits,
                                             policies_.get(), pdq_.get());
  RETURN_IF_ERROR(metrics_->LoadCaseCounts(*store_));
  RETURN_IF_ERROR(lists_->LoadAll());
  for (const HashListConfig& list : config_.lists) {
    absl::StatusOr<ImportResult> imported = lists_->ImportFile(list.name, list.path, "config");
    if (!imported.ok()) {
      return Annotate(imported.status(), fmt::format("configured hash list '{}' ({})", list.name, list.path));
    }
  }
  metrics_->SetIndexSize([this] { return static_cast<double>(index_.size()); });

  ProcessorLimits limits;
  limits.max_object_bytes = config_.limits.max_object_bytes;
  limits.read_buffer_bytes = config_.limits.read_buffer_bytes;
  processor_ = std::make_unique<ObjectProcessor>(*store_, index_, *recorder_, clock_, *metrics_, limits,
                                                 ProcessorMatching{pdq_.get(), policies_.get()});

  size_t workers = config_.daemon.workers > 0 ? config_.daemon.workers : std::thread::hardware_concurrency();
  pool_ = std::make_unique<ThreadPool>(workers, config_.daemon.queue_capacity);
  metrics_->SetQueueDepth([this] { return static_cast<double>(pool_->QueueDepth()); });

  for (const SourceConfig& sc : config_.sources) {
    ASSIGN_OR_RETURN(SourcePtr source, MakeSource(sc));
    runners_[sc.id] = std::make_unique<SweepRunner>(*source, *processor_, *pool_, *store_, *audit_, clock_,
                                                    config_.daemon.checkpoint_every);
    sources_[sc.id] = std::move(source);
  }

  ASSIGN_OR_RETURN(http_, HttpServer::Start(config_.daemon.http_listen, 4));
  RegisterStandardEndpoints(*http_, registry_, [this] { return Ready(); });

  api_ = std::make_unique<ApiService>(*this);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config_.daemon.grpc_listen, grpc::InsecureServerCredentials(), &grpc_port_);
  builder.RegisterService(api_.get());
  builder.SetMaxReceiveMessageSize(64 << 20);
  grpc_ = builder.BuildAndStart();
  if (!grpc_ || grpc_port_ == 0) {
    return absl::UnavailableError(fmt::format(
        "cannot listen for gRPC on {}; is another takedownd running? change daemon.grpc_listen",
        config_.daemon.grpc_listen));
  }

  outbox_->Start();
  RETURN_IF_ERROR(ResumeInterruptedSweeps());
  ready_ = true;
  spdlog::info("takedownd ready: gRPC on port {}, HTTP on port {}, {} lists ({} entries), {} sources", grpc_port_,
               http_->port(), lists_->List().value_or(std::vector<HashListInfo>{}).size(), index_.size(),
               sources_.size());
  return absl::OkStatus();
}

absl::Status Daemon::ResumeInterruptedSweeps() {
  for (auto& [id, runner] : runners_) {
    ASSIGN_OR_RETURN(std::optional<std::string> stored, store_->Get(Cf::kCursors, id));
    if (!stored) continue;
    ASSIGN_OR_RETURN(SweepState state, DecodeSweepState(*stored));
    if (state.phase != SweepPhase::kRunning) continue;
    RETURN_IF_ERROR(runner->Start(state, "system"));
  }
  return absl::OkStatus();
}

void Daemon::Shutdown() {
  std::call_once(shutdown_once_, [this] {
    ready_ = false;
    if (grpc_) grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    for (auto& [id, runner] : runners_) runner->Stop();
    if (pool_) pool_->Shutdown();
    if (outbox_) outbox_->Stop();
    http_.reset();
    grpc_.reset();
    runners_.clear();
    sources_.clear();
    audit_.reset();
    store_.reset();
  });
}

absl::Status Daemon::Ready() const {
  if (!ready_.load()) return absl::UnavailableError("starting or stopping");
  return absl::OkStatus();
}

int Daemon::http_port() const { return http_ ? http_->port() : 0; }

absl::StatusOr<SweepRunner*> Daemon::Runner(const std::string& source_id) {
  auto it = runners_.find(source_id);
  if (it == runners_.end()) {
    std::string known;
    for (const auto& [id, r] : runners_) known += (known.empty() ? "" : ", ") + id;
    return absl::NotFoundError(
        fmt::format("no source '{}' is configured; configured sources: {}", source_id, known));
  }
  return it->second.get();
}

absl::StatusOr<std::vector<SweepState>> Daemon::StartSweeps(const std::vector<std::string>& source_ids,
                                                             const std::string& actor) {
  std::lock_guard lock(sweep_mu_);
  if (!ready_.load()) return absl::UnavailableError("takedownd is starting or shutting down; try again");
  std::vector<std::string> ids = source_ids;
  if (ids.empty()) {
    for (const auto& [id, r] : runners_) ids.push_back(id);
  }
  std::vector<SweepRunner*> runners;
  for (const std::string& id : ids) {
    ASSIGN_OR_RETURN(SweepRunner * runner, Runner(id));
    runners.push_back(runner);
  }
  std::vector<SweepState> states;
  for (SweepRunner* runner : runners) {
    if (!runner->Running()) RETURN_IF_ERROR(runner->Start(std::nullopt, actor));
    states.push_back(runner->Progress());
  }
  return states;
}

absl::StatusOr<std::vector<SweepState>> Daemon::SweepStatus(const std::vector<std::string>& source_ids) {
  std::vector<std::string> ids = source_ids;
  if (ids.empty()) {
    for (const auto& [id, r] : runners_) ids.push_back(id);
  }
  std::vector<SweepState> states;
  for (const std::string& id : ids) {
    ASSIGN_OR_RETURN(SweepRunner * runner, Runner(id));
    // A runner that ran in this process knows the outcome even when the store
    // could not record it (a failed write leaves "running" there).
    SweepState live = runner->Progress();
    if (runner->Running() || !live.sweep_id.empty()) {
      states.push_back(std::move(live));
      continue;
    }
    ASSIGN_OR_RETURN(std::optional<std::string> stored, store_->Get(Cf::kCursors, id));
    if (stored) {
      ASSIGN_OR_RETURN(SweepState state, DecodeSweepState(*stored));
      states.push_back(std::move(state));
    } else {
      SweepState idle;
      idle.source_id = id;
      states.push_back(std::move(idle));
    }
  }
  return states;
}

absl::StatusOr<ImportResult> Daemon::ImportHashList(const std::string& name, const std::string& path,
                                                    std::string_view content, const std::string& actor) {
  if (path.empty() == content.empty()) {
    return absl::InvalidArgumentError("give either a file path readable by takedownd or the list's content");
  }
  if (!path.empty()) return lists_->ImportFile(name, path, actor);
  return lists_->ImportContent(name, content, actor);
}

absl::StatusOr<std::vector<HashListInfo>> Daemon::ListHashLists() { return lists_->List(); }

absl::StatusOr<Daemon::CasePage> Daemon::ListCases(const std::string& state_filter, uint32_t limit,
                                                   const std::string& page_token) {
  if (!state_filter.empty()) RETURN_IF_ERROR(ParseCaseState(state_filter).status());
  if (limit == 0 || limit > 10000) limit = 1000;
  CasePage page;
  absl::Status inner;
  std::string start = page_token.empty() ? "" : page_token + '\0';
  RETURN_IF_ERROR(store_->ScanFrom(Cf::kCases, start, [&](std::string_view key, std::string_view value) {
    absl::StatusOr<Case> c = absl::InternalError("unparsed");
    try {
      c = CaseFromJson(nlohmann::json::parse(value));
    } catch (const nlohmann::json::exception& e) {
      c = absl::DataLossError(fmt::format("case {} is not valid JSON: {}", key, e.what()));
    }
    if (!c.ok()) {
      inner = c.status();
      return false;
    }
    if (!state_filter.empty() && CaseStateName(c->state) != state_filter) return true;
    if (page.cases.size() == limit) {
      page.next_page_token = page.cases.back().id;
      return false;
    }
    page.cases.push_back(std::move(*c));
    return true;
  }));
  RETURN_IF_ERROR(inner);
  return page;
}

absl::StatusOr<Case> Daemon::GetCase(const std::string& id) {
  ASSIGN_OR_RETURN(std::optional<std::string> stored, store_->Get(Cf::kCases, id));
  if (!stored) return absl::NotFoundError(fmt::format("no case '{}'; list cases with `takedownctl cases ls`", id));
  try {
    return CaseFromJson(nlohmann::json::parse(*stored));
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(fmt::format("case {} is not valid JSON: {}", id, e.what()));
  }
}

}  // namespace takedown
