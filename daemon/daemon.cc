#include "daemon/daemon.h"

#include <grpcpp/grpcpp.h>

#include <filesystem>

#include "common/status_macros.h"
#include "daemon/api_service.h"
#include "daemon/configured_profiles.h"
#include "daemon/multi_body_digester.h"
#include "daemon/notice_channels.h"
#include "daemon/object_fingerprint.h"
#include "daemon/object_recheck.h"
#include "daemon/object_record.h"
#include "daemon/rdap_provider_resolver.h"
#include "daemon/seal_key_file.h"
#include "daemon/source_content_checker.h"
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
                                             channel_names);

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

  for (const SourceConfig& sc : config_.sources) {
    ASSIGN_OR_RETURN(sources_[sc.id], MakeSource(sc));
  }
  RETURN_IF_ERROR(InitCaseEngine(channel_names));
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
  limits.archive.max_depth = config_.limits.archive_max_depth;
  limits.archive.max_members = config_.limits.archive_max_members;
  limits.archive.max_total_bytes = config_.limits.archive_max_total_bytes;
  limits.archive.max_member_bytes = config_.limits.archive_max_member_bytes;
  limits.archive.max_ratio = static_cast<double>(config_.limits.archive_max_ratio);
  limits.archive.max_buffered_bytes = config_.limits.archive_max_buffered_bytes;
  processor_ = std::make_unique<ObjectProcessor>(*store_, index_, *recorder_, clock_, *metrics_, limits,
                                                 ProcessorMatching{pdq_.get(), policies_.get()});

  size_t workers = config_.daemon.workers > 0 ? config_.daemon.workers : std::thread::hardware_concurrency();
  pool_ = std::make_unique<ThreadPool>(workers, config_.daemon.queue_capacity);
  metrics_->SetQueueDepth([this] { return static_cast<double>(pool_->QueueDepth()); });

  for (const SourceConfig& sc : config_.sources) {
    runners_[sc.id] = std::make_unique<SweepRunner>(*sources_.at(sc.id), *processor_, *pool_, *store_, *audit_,
                                                    clock_, config_.daemon.checkpoint_every);
    source_configs_[sc.id] = &sc;
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
  engine_->Start();
  if (inbox_) inbox_->Start();
  RETURN_IF_ERROR(ResumeInterruptedSweeps());
  RETURN_IF_ERROR(StartWatchers());
  std::vector<ScheduledSource> scheduled;
  for (const SourceConfig& sc : config_.sources) {
    if (sc.rescan_interval_seconds > 0)
      scheduled.push_back({sc.id, absl::Seconds(sc.rescan_interval_seconds)});
  }
  scheduler_ = std::make_unique<SweepScheduler>(
      std::move(scheduled), clock_, [this](const std::string& id) { return SourceSweepState(id); },
      [this](const std::string& id) { return StartSweepIfIdle(id, "scheduler"); });
  ready_ = true;
  scheduler_->Start();
  spdlog::info("takedownd ready: gRPC on port {}, HTTP on port {}, {} lists ({} entries), {} sources", grpc_port_,
               http_->port(), lists_->List().value_or(std::vector<HashListInfo>{}).size(), index_.size(),
               sources_.size());
  return absl::OkStatus();
}

absl::Status Daemon::InitCaseEngine(const std::vector<std::string>& channel_names) {
  CaseEngineOptions options;
  options.role = config_.daemon.role == Role::kAuthority ? EngineRole::kAuthority : EngineRole::kHostingProvider;
  // Reported URLs follow the notice cycle unless the provider entry names a profile.
  if (options.role == EngineRole::kAuthority)
    options.detection_profile = std::string(kAuthorityNoticeCycleProfile);
  options.channels = channel_names;
  options.feedback_channel = config_.cases.feedback_channel;
  options.auto_fine_on_proposal = config_.cases.auto_fine_on_proposal;
  ASSIGN_OR_RETURN(options.profiles, ConfiguredProfiles(config_.legal_profiles));
  options.content_provider_channel = config_.cases.content_provider_channel;
  options.content_provider.provider_name = config_.cases.provider_name;
  options.content_provider.complaint_contact = config_.cases.complaint_contact;
  options.content_provider.online_platform = config_.cases.online_platform;
  options.authority.name = config_.authority.name;
  options.authority.member_state = config_.authority.member_state;
  options.authority.contact = config_.authority.contact;
  options.authority.redress = config_.authority.redress;
  for (const ProviderConfig& p : config_.providers) {
    options.providers.push_back(ProviderEntry{p.name, p.hosts, p.channel, p.profile, p.contact_point});
  }
  if (config_.rdap) {
    if (config_.daemon.role != Role::kAuthority) {
      return absl::InvalidArgumentError(
          "rdap: the RDAP lookup finds providers to notify in the authority role; remove the rdap section "
          "or set daemon.role: authority");
    }
    RdapClientOptions rdap;
    rdap.base_url = config_.rdap->base_url;
    rdap.total_timeout = std::chrono::seconds(config_.rdap->timeout_seconds);
    rdap.connect_timeout = std::min(rdap.connect_timeout, rdap.total_timeout);
    rdap.cache_ttl = absl::Seconds(config_.rdap->cache_ttl_seconds);
    rdap.allow_private_addresses = config_.rdap->allow_private_addresses;
    rdap.allow_insecure_http = config_.rdap->allow_insecure_http;
    rdap.ca_file = config_.rdap->ca_file;
    rdap.clock = &clock_;
    absl::StatusOr<std::unique_ptr<RdapClient>> client = RdapClient::Create(std::move(rdap));
    if (!client.ok()) return Annotate(client.status(), "rdap");
    provider_resolver_ = std::make_unique<RdapProviderResolver>(
        *std::move(client), RdapProviderResolverOptions{config_.rdap->channel, config_.rdap->profile});
    options.provider_resolver = provider_resolver_.get();
  }
  for (const HashListConfig& list : config_.lists) {
    if (list.auto_action) options.auto_action_lists.insert(list.name);
  }

  if (!config_.cases.review_allowlist.empty()) {
    FileAllowlistOptions allowlist_options;
    allowlist_options.default_allowlist = config_.cases.review_allowlist;
    for (const HashListConfig& list : config_.lists) {
      if (list.kind == ListKind::kAllowlist) allowlist_options.paths.emplace(list.name, list.path);
    }
    allowlist_ = std::make_unique<FileAllowlistWriter>(*lists_, *policies_, std::move(allowlist_options));
    // Before the configured lists are imported, which needs the files.
    RETURN_IF_ERROR(Annotate(allowlist_->EnsureFiles(),
                             fmt::format("cases.review_allowlist '{}'", config_.cases.review_allowlist)));
    options.allowlist = allowlist_.get();
  }

  if (!config_.orders.preserve_dir.empty()) {
    absl::StatusOr<SealKey> key = LoadSealKeyFile(config_.orders.preserve_key_file);
    if (!key.ok()) return Annotate(key.status(), "orders.preserve_key_file");
    ASSIGN_OR_RETURN(vault_, PreservationVault::Open(config_.orders.preserve_dir, *key));
    spdlog::info("preservation: removed content is sealed in {} (key {})", vault_->dir(), vault_->key_id());
    options.erase_preserved = [this](const std::string& location) { return vault_->Erase(location); };
  } else if (config_.daemon.role == Role::kHostingProvider && config_.orders.execute &&
             config_.orders.action != "disable") {
    for (const LegalProfile& profile : options.profiles) {
      if (!profile.preserve_content) continue;
      spdlog::warn(
          "preservation: profile {} requires the removed content to be kept, and no vault is configured "
          "(orders.preserve_dir, orders.preserve_key_file): its orders will disable access instead of {}",
          profile.name, config_.orders.action);
    }
  }

  RecheckOptions recheck;
  recheck.digester = MultiBodyDigesterFactory();
  recheck.clock = &clock_;
  recheck.max_object_bytes = config_.limits.max_object_bytes;
  // For cases whose URL no configured source serves.
  HttpFetcherOptions fetch;
  fetch.allow_private_addresses = config_.cases.recheck_allow_private_addresses;
  fetch.max_body_bytes = std::clamp<uint64_t>(config_.limits.max_object_bytes, 1024, fetch.max_body_bytes);
  fetch.clock = &clock_;
  ASSIGN_OR_RETURN(recheck_fetcher_, HttpFetcher::Create(std::move(fetch)));
  checker_ = std::make_unique<SourceContentChecker>(
      [this](std::string_view id) -> Source* {
        auto it = sources_.find(std::string(id));
        return it == sources_.end() ? nullptr : it->second.get();
      },
      recheck_fetcher_.get(), std::move(recheck));
  options.checker = checker_.get();
  options.on_notice = [this] { outbox_->Notify(); };

  ASSIGN_OR_RETURN(engine_, CaseEngine::Create(*store_, *audit_, clock_, *metrics_, std::move(options)));
  // Before any case is recorded (list imports re-match, sweeps resume).
  recorder_->SetAdmission(engine_.get());
  ASSIGN_OR_RETURN(int admitted, engine_->AdmitDetected("system"));
  if (admitted > 0) spdlog::info("case engine: admitted {} cases left in detected", admitted);

  if (config_.daemon.role != Role::kHostingProvider) return absl::OkStatus();
  std::vector<LocationPrefix> prefixes;
  for (const OrderLocationConfig& location : config_.orders.locations) {
    prefixes.push_back({location.url_prefix, location.source, location.key_prefix});
  }
  ASSIGN_OR_RETURN(PrefixLocationResolver resolver, PrefixLocationResolver::Create(std::move(prefixes)));
  resolver_ = std::make_unique<PrefixLocationResolver>(std::move(resolver));
  OrderIntakeOptions intake_options;
  ASSIGN_OR_RETURN(intake_options.action, ParseContentActionKind(config_.orders.action));
  intake_options.execute = config_.orders.execute;
  intake_options.vault = vault_.get();
  intake_options.fingerprint = [this](const ContentTarget& target,
                                      const ByteTee& tee) -> absl::StatusOr<CaseObject> {
    auto it = sources_.find(target.source_id);
    if (it == sources_.end()) return absl::NotFoundError(fmt::format("no source '{}'", target.source_id));
    // Bounded so reading a huge object cannot eat into the removal term.
    constexpr uint64_t kMaxFingerprintBytes = 1ull << 30;
    return FingerprintObject(*it->second, target.key, MultiBodyDigesterFactory(),
                             std::min<uint64_t>(config_.limits.max_object_bytes, kMaxFingerprintBytes), tee);
  };
  SourceContentActionOptions action_options;
  action_options.filesystem_quarantine_dir = config_.orders.quarantine_dir;
  action_ = std::make_unique<SourceContentAction>(
      [this](std::string_view id) -> Source* {
        auto it = sources_.find(std::string(id));
        return it == sources_.end() ? nullptr : it->second.get();
      },
      std::move(action_options));
  intake_ = std::make_unique<OrderIntake>(*engine_, *audit_, clock_, *metrics_, *resolver_, action_.get(),
                                          intake_options);
  if (!config_.orders.inbox.empty()) {
    InboxOptions inbox_options;
    inbox_options.directory = config_.orders.inbox;
    inbox_options.poll_interval = absl::Seconds(config_.orders.poll_interval_seconds);
    ASSIGN_OR_RETURN(inbox_, InboxScanner::Create(*intake_, *metrics_, std::move(inbox_options)));
  }
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

absl::Status Daemon::StartWatchers() {
  for (const SourceConfig& sc : config_.sources) {
    if (!sc.watch) continue;
    if (sc.type != "filesystem") {
      return absl::InvalidArgumentError(
          fmt::format("source {}: watch works for filesystem sources only; remove `watch` from it", sc.id));
    }
    FsWatcherOptions options;
    options.root = sc.filesystem.root;
    options.include = sc.filesystem.include;
    options.exclude = sc.filesystem.exclude;
    options.clock = &clock_;
    absl::StatusOr<std::unique_ptr<FsWatcher>> watcher = FsWatcher::Create(options);
    if (!watcher.ok()) {
      return Annotate(watcher.status(), fmt::format("source {}: cannot watch {} (or set watch: false)", sc.id,
                                                    sc.filesystem.root));
    }
    const std::string id = sc.id;
    auto on_keys = [this, id](std::vector<std::string> keys) {
      absl::StatusOr<ScanReport> report = Scan(id, keys, "watch");
      if (!report.ok()) {
        spdlog::warn("source {}: watch: {} new or changed files not scanned: {}", id, keys.size(),
                     report.status().ToString());
        return;
      }
      for (const ScanKeyResult& r : report->results) {
        if (r.outcome == ScanOutcome::kError) spdlog::warn("source {}: watch: {}: {}", id, r.key, r.message);
      }
    };
    auto on_overflow = [this, id](std::string reason) {
      spdlog::warn("source {}: watch: {}", id, reason);
      absl::StatusOr<bool> started = StartSweepIfIdle(id, "watch");
      if (!started.ok()) {
        spdlog::error("source {}: the full sweep the watch asked for could not start: {}", id,
                      started.status().ToString());
      } else if (!*started) {
        spdlog::warn(
            "source {}: no full sweep started: one is running or the source is paused; changes missed "
            "in parts of the tree it has passed are found by the next sweep",
            id);
      }
    };
    RETURN_IF_ERROR(
        Annotate((*watcher)->Start(on_keys, on_overflow), fmt::format("source {}: watch", sc.id)));
    spdlog::info("source {}: watching {} for new and changed files", sc.id, (*watcher)->root());
    watchers_[sc.id] = *std::move(watcher);
  }
  return absl::OkStatus();
}

void Daemon::Shutdown() {
  std::call_once(shutdown_once_, [this] {
    ready_ = false;
    stopping_ = true;
    if (grpc_) grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (scheduler_) scheduler_->Stop();
    // A watcher's Stop waits for its callback, which may be starting a sweep
    // (sweep_mu_) or scanning (the pool): both are still up here.
    for (auto& [id, watcher] : watchers_) watcher->Stop();
    {
      std::lock_guard lock(sweep_mu_);
      for (auto& [id, runner] : runners_) runner->Stop();
    }
    if (inbox_) inbox_->Stop();
    if (engine_) engine_->Stop();
    if (pool_) pool_->Shutdown();
    if (outbox_) outbox_->Stop();
    http_.reset();
    grpc_.reset();
    scheduler_.reset();
    watchers_.clear();
    runners_.clear();
    inbox_.reset();
    intake_.reset();
    action_.reset();
    resolver_.reset();
    engine_.reset();
    provider_resolver_.reset();
    checker_.reset();
    allowlist_.reset();
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
  for (size_t i = 0; i < runners.size(); ++i) {
    SweepRunner* runner = runners[i];
    if (!runner->Running()) {
      ASSIGN_OR_RETURN(SweepState state, SourceSweepState(ids[i]));
      if (state.phase == SweepPhase::kPaused) {
        states.push_back(std::move(state));
        continue;
      }
      RETURN_IF_ERROR(runner->Start(std::nullopt, actor));
    }
    states.push_back(runner->Progress());
  }
  return states;
}

absl::StatusOr<SweepState> Daemon::SourceSweepState(const std::string& source_id) {
  ASSIGN_OR_RETURN(SweepRunner * runner, Runner(source_id));
  // A runner that ran in this process knows the outcome even when the store
  // could not record it (a failed write leaves "running" there).
  SweepState live = runner->Progress();
  if (runner->Running() || !live.sweep_id.empty()) return live;
  ASSIGN_OR_RETURN(std::optional<std::string> stored, store_->Get(Cf::kCursors, source_id));
  if (stored) return DecodeSweepState(*stored);
  SweepState idle;
  idle.source_id = source_id;
  return idle;
}

absl::StatusOr<bool> Daemon::StartSweepIfIdle(const std::string& source_id, const std::string& actor) {
  std::lock_guard lock(sweep_mu_);
  if (stopping_.load()) return absl::UnavailableError("takedownd is shutting down");
  ASSIGN_OR_RETURN(SweepRunner * runner, Runner(source_id));
  if (runner->Running()) return false;
  ASSIGN_OR_RETURN(SweepState state, SourceSweepState(source_id));
  if (state.phase == SweepPhase::kPaused) return false;
  RETURN_IF_ERROR(runner->Start(std::nullopt, actor));
  return true;
}

absl::StatusOr<std::vector<SweepState>> Daemon::PauseSweeps(const std::vector<std::string>& source_ids,
                                                            const std::string& actor) {
  std::lock_guard lock(sweep_mu_);
  if (!ready_.load()) return absl::UnavailableError("takedownd is starting or shutting down; try again");
  std::vector<std::string> ids;
  if (source_ids.empty()) {
    for (const auto& [id, r] : runners_) {
      if (r->Running()) ids.push_back(id);
    }
  }
  for (const std::string& id : source_ids) {
    ASSIGN_OR_RETURN(SweepRunner * runner, Runner(id));
    if (!runner->Running()) {
      ASSIGN_OR_RETURN(SweepState state, SourceSweepState(id));
      return absl::FailedPreconditionError(
          fmt::format("source {}: no sweep is running (its sweep is {}), so there is nothing to pause", id,
                      SweepPhaseName(state.phase)));
    }
    ids.push_back(id);
  }
  std::vector<SweepState> states;
  for (const std::string& id : ids) {
    absl::StatusOr<SweepState> paused = runners_.at(id)->Pause(actor);
    if (!paused.ok()) {
      // It ended by itself in the meantime: report how.
      ASSIGN_OR_RETURN(SweepState state, SourceSweepState(id));
      states.push_back(std::move(state));
      continue;
    }
    states.push_back(*std::move(paused));
  }
  return states;
}

absl::StatusOr<std::vector<SweepState>> Daemon::ResumeSweeps(const std::vector<std::string>& source_ids,
                                                             const std::string& actor) {
  std::lock_guard lock(sweep_mu_);
  if (!ready_.load()) return absl::UnavailableError("takedownd is starting or shutting down; try again");
  std::vector<std::pair<std::string, SweepState>> paused;
  if (source_ids.empty()) {
    for (const auto& [id, r] : runners_) {
      ASSIGN_OR_RETURN(SweepState state, SourceSweepState(id));
      if (state.phase == SweepPhase::kPaused) paused.emplace_back(id, std::move(state));
    }
  }
  for (const std::string& id : source_ids) {
    ASSIGN_OR_RETURN(SweepState state, SourceSweepState(id));
    if (state.phase != SweepPhase::kPaused) {
      return absl::FailedPreconditionError(
          fmt::format("source {}: its sweep is {}, not paused; only a paused sweep can be resumed", id,
                      SweepPhaseName(state.phase)));
    }
    paused.emplace_back(id, std::move(state));
  }
  std::vector<SweepState> states;
  for (auto& [id, state] : paused) {
    SweepRunner* runner = runners_.at(id).get();
    state.rate = SweepRate{};
    RETURN_IF_ERROR(runner->Start(std::move(state), actor));
    states.push_back(runner->Progress());
  }
  return states;
}

absl::StatusOr<std::vector<Daemon::SourceStatus>> Daemon::ListSources() {
  std::vector<SourceStatus> out;
  for (const SourceConfig& sc : config_.sources) {
    SourceStatus status;
    status.id = sc.id;
    status.type = sc.type;
    if (sc.type == "filesystem") {
      status.location = sc.filesystem.root;
    } else if (sc.type == "s3") {
      status.location = fmt::format("s3://{}/{} at {}", sc.s3.bucket, sc.s3.prefix, sc.s3.endpoint);
    } else {
      status.location = sc.url_list.file;
    }
    status.watch = sc.watch;
    status.watching = watchers_.contains(sc.id);
    status.rescan_interval_seconds = sc.rescan_interval_seconds;
    ASSIGN_OR_RETURN(status.sweep, SourceSweepState(sc.id));
    if (scheduler_) {
      std::optional<absl::Time> due = scheduler_->NextDue(sc.id, status.sweep);
      if (due) status.next_sweep_at = *due;
    }
    out.push_back(std::move(status));
  }
  return out;
}

std::string Daemon::NewScanId() {
  int64_t micros = absl::ToUnixMicros(clock_.Now());
  std::lock_guard lock(scan_id_mu_);
  if (micros <= last_scan_micros_) micros = last_scan_micros_ + 1;
  last_scan_micros_ = micros;
  return fmt::format("scan-{}", micros);
}

absl::StatusOr<ScanReport> Daemon::ScanObjects(const std::string& source_id,
                                               const std::vector<std::string>& keys,
                                               const std::string& actor) {
  if (!ready_.load()) return absl::UnavailableError("takedownd is starting or shutting down; try again");
  return Scan(source_id, keys, actor);
}

absl::StatusOr<ScanReport> Daemon::Scan(const std::string& source_id, const std::vector<std::string>& keys,
                                        const std::string& actor) {
  if (stopping_.load()) return absl::UnavailableError("takedownd is shutting down");
  RETURN_IF_ERROR(Runner(source_id).status());
  Source& source = *sources_.at(source_id);
  ASSIGN_OR_RETURN(ScanReport report, ScanKeys(source, keys, NewScanId(), *processor_, *store_, *pool_));
  const SweepCounters& c = report.counters;
  const uint64_t read = c.done - c.failed;
  nlohmann::json sample = nlohmann::json::array();
  for (size_t i = 0; i < report.results.size() && i < 20; ++i) sample.push_back(report.results[i].key);
  nlohmann::json details = {{"scan_id", report.scan_id},
                            {"keys", report.results.size()},
                            {"read", read},
                            {"unchanged", c.unchanged},
                            {"skipped", c.skipped},
                            {"not_found", report.not_found},
                            {"errors", report.errors},
                            {"bytes", c.bytes},
                            {"matches", c.matches},
                            {"first_keys", sample}};
  absl::Status audited = audit_->Append(AuditEvent{actor, "objects.scan", source_id, details});
  if (!audited.ok())
    spdlog::error("source {}: scan {} could not be audited: {}", source_id, report.scan_id,
                  audited.ToString());
  spdlog::info(
      "source {}: scan {} by {}: {} keys: {} read, {} unchanged, {} skipped, {} not found, {} errors, {} "
      "matches",
      source_id, report.scan_id, actor, report.results.size(), read, c.unchanged, c.skipped, report.not_found,
      report.errors, c.matches);
  return report;
}

absl::StatusOr<RecheckResult> Daemon::Recheck(const std::string& source_id, const std::string& key,
                                              const std::string& actor) {
  if (!ready_.load()) return absl::UnavailableError("takedownd is starting or shutting down; try again");
  RETURN_IF_ERROR(Runner(source_id).status());
  Source& source = *sources_.at(source_id);
  std::string object_key = key;
  ASSIGN_OR_RETURN(std::optional<std::string> stored, store_->Get(Cf::kObjects, ObjectKey(source_id, key)));
  if (!stored && !key.empty() && key.front() == '/') {
    // A filesystem source takes an absolute path under its root.
    absl::StatusOr<ObjectRef> ref = source.Stat(key);
    if (ref.ok() && ref->key != key) {
      object_key = ref->key;
      ASSIGN_OR_RETURN(stored, store_->Get(Cf::kObjects, ObjectKey(source_id, object_key)));
    }
  }
  if (!stored) {
    return absl::NotFoundError(fmt::format(
        "source {} has no swept object '{}', so there is nothing to compare with; sweep the source or run "
        "`takedownctl scan {} <key>` first",
        source_id, key, source_id));
  }
  ASSIGN_OR_RETURN(ObjectRecord record, DecodeObjectRecord(*stored));
  RecheckOptions options;
  options.digester = MultiBodyDigesterFactory();
  options.clock = &clock_;
  options.max_object_bytes = config_.limits.max_object_bytes;
  ASSIGN_OR_RETURN(RecheckResult result, RecheckStoredObject(source, record, options));
  nlohmann::json details = {{"key", object_key},
                            {"outcome", std::string(RecheckOutcomeName(result.outcome))},
                            {"reason", result.reason},
                            {"checked_at", Rfc3339(result.checked_at)}};
  if (result.fetch) {
    details["http_status"] = result.fetch->status;
    details["final_url"] = result.fetch->final_url;
    details["ip"] = result.fetch->ip;
  }
  RETURN_IF_ERROR(audit_->Append(AuditEvent{actor, "object.recheck", source_id, details}));
  spdlog::info("source {}: re-check of {} by {}: {} ({})", source_id, object_key, actor,
               RecheckOutcomeName(result.outcome), result.reason);
  return result;
}

absl::StatusOr<std::vector<SweepState>> Daemon::SweepStatus(const std::vector<std::string>& source_ids) {
  std::vector<std::string> ids = source_ids;
  if (ids.empty()) {
    for (const auto& [id, r] : runners_) ids.push_back(id);
  }
  std::vector<SweepState> states;
  for (const std::string& id : ids) {
    ASSIGN_OR_RETURN(SweepState state, SourceSweepState(id));
    states.push_back(std::move(state));
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

namespace takedown {

absl::StatusOr<Case> Daemon::ReviewCase(const std::string& id, bool confirm, const std::string& actor,
                                        const std::string& reason) {
  if (!ready_.load()) return absl::UnavailableError("takedownd is starting or shutting down; try again");
  if (confirm) return engine_->Confirm(id, actor, reason);
  ASSIGN_OR_RETURN(RejectOutcome outcome, engine_->Reject(id, actor, reason));
  if (!outcome.dependent_cases_rejected.empty() || outcome.allowlist_additions > 0) {
    spdlog::info("case {} rejected by {}: {} allowlist entries added, {} dependent cases rejected", id, actor,
                 outcome.allowlist_additions, outcome.dependent_cases_rejected.size());
  }
  return outcome.rejected;
}

absl::StatusOr<Case> Daemon::TransitionCase(const std::string& id, const std::string& to_state,
                                            const std::string& actor, const std::string& reason) {
  if (!ready_.load()) return absl::UnavailableError("takedownd is starting or shutting down; try again");
  ASSIGN_OR_RETURN(CaseState to, ParseCaseState(to_state));
  return engine_->Transition(id, to, actor, reason);
}

absl::StatusOr<Case> Daemon::RecordRemoval(const std::string& id, const std::string& kind,
                                           const std::string& actor, const std::string& reason) {
  if (!ready_.load()) return absl::UnavailableError("takedownd is starting or shutting down; try again");
  const std::string removal = kind.empty() ? std::string(kRemovalRemoved) : kind;
  if (removal != kRemovalRemoved && removal != kRemovalAccessDisabled) {
    return absl::InvalidArgumentError(
        fmt::format("removal kind '{}' is not known; use {} or {}", removal, kRemovalRemoved, kRemovalAccessDisabled));
  }
  return engine_->RecordRemoval(id, removal, clock_.Now(), actor, reason);
}

absl::StatusOr<OrderReceipt> Daemon::SubmitRemovalOrder(std::string_view json, const std::string& actor) {
  if (!ready_.load()) return absl::UnavailableError("takedownd is starting or shutting down; try again");
  if (!intake_) {
    return absl::FailedPreconditionError(
        "this takedownd runs in the authority role; removal orders are received in the hosting-provider role");
  }
  return intake_->Submit(json, "api", actor);
}

absl::StatusOr<Case> Daemon::ExecuteRemovalOrder(const std::string& id, const std::string& actor) {
  if (!ready_.load()) return absl::UnavailableError("takedownd is starting or shutting down; try again");
  if (!intake_) {
    return absl::FailedPreconditionError(
        "this takedownd runs in the authority role; removal orders are executed in the "
        "hosting-provider role");
  }
  return intake_->Execute(id, actor);
}

absl::StatusOr<CaseEngine::RecheckNowResult> Daemon::RecheckCase(const std::string& id,
                                                                 const std::string& actor) {
  if (!ready_.load()) return absl::UnavailableError("takedownd is starting or shutting down; try again");
  return engine_->RecheckNow(id, actor);
}

absl::StatusOr<Case> Daemon::RecordInability(const std::string& id, const std::string& reason,
                                             const std::string& explanation, const std::string& actor) {
  if (!ready_.load()) return absl::UnavailableError("takedownd is starting or shutting down; try again");
  FeedbackOutcome::Reason parsed;
  if (reason == "force_majeure") {
    parsed = FeedbackOutcome::Reason::kForceMajeure;
  } else if (reason == "manifest_error") {
    parsed = FeedbackOutcome::Reason::kManifestError;
  } else if (reason == "missing_information") {
    parsed = FeedbackOutcome::Reason::kMissingInformation;
  } else {
    return absl::InvalidArgumentError(fmt::format(
        "inability reason '{}' is not known; use force_majeure, manifest_error or missing_information",
        reason.substr(0, 64)));
  }
  return engine_->RecordInability(id, parsed, explanation, actor);
}

absl::StatusOr<std::vector<ProviderCompliance>> Daemon::ComplianceStats() {
  if (!ready_.load()) return absl::UnavailableError("takedownd is starting or shutting down; try again");
  return ComputeComplianceStats(*store_, clock_.Now());
}

}  // namespace takedown
