#include "daemon/sweep_runner.h"

#include "common/status_macros.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace takedown {

class SweepRunner::Sink final : public ListingSink {
 public:
  explicit Sink(SweepRunner& runner) : runner_(runner) {}
  ~Sink() override { Cancel(); }

  bool OnObject(ObjectRef ref) override {
    if (runner_.stop_requested_.load()) return false;
    {
      std::lock_guard lock(runner_.mu_);
      if (!runner_.fatal_.ok()) return false;
      ++runner_.outstanding_;
    }
    seqs_.push_back(runner_.tracker_->Add(ref.key));
    chunk_bytes_ += ref.size;
    refs_.push_back(std::move(ref));
    if (refs_.size() >= kChunkObjects || chunk_bytes_ >= kChunkBytes) return Flush();
    return true;
  }

  void OnSkipped(std::string_view key, std::string_view reason) override {
    {
      std::lock_guard lock(runner_.mu_);
      ++runner_.outstanding_;
    }
    uint64_t seq = runner_.tracker_->Add(std::string(key));
    runner_.TaskDone(seq, runner_.processor_.RecordSkipped(runner_.source_.id(), key, reason,
                                                           runner_.state_.sweep_id));
  }

  // Hands the pending chunk to the worker pool; false (and the chunk is
  // cancelled) if the pool is shut down.
  bool Flush() {
    if (refs_.empty()) return true;
    struct Chunk {
      std::vector<uint64_t> seqs;
      std::vector<ObjectRef> refs;
    };
    auto chunk = std::make_shared<Chunk>(Chunk{std::move(seqs_), std::move(refs_)});
    seqs_.clear();
    refs_.clear();
    chunk_bytes_ = 0;
    std::string sweep_id = runner_.state_.sweep_id;  // constant while running
    bool lookup = runner_.lookup_previous_;
    SweepRunner* runner = &runner_;
    bool submitted = runner_.pool_.Submit([runner, chunk, sweep_id, lookup] {
      if (runner->stop_requested_.load() || runner->Failed()) {
        // Queued behind a failure or a stop: left for the resumed sweep.
        for (uint64_t seq : chunk->seqs) runner->TaskDone(seq, absl::CancelledError("sweep stopped"));
        return;
      }
      absl::StatusOr<std::vector<SweepCounters>> results =
          runner->processor_.ProcessChunk(runner->source_, chunk->refs, sweep_id, lookup);
      for (size_t i = 0; i < chunk->seqs.size(); ++i) {
        if (results.ok()) {
          runner->TaskDone(chunk->seqs[i], (*results)[i]);
        } else {
          runner->TaskDone(chunk->seqs[i], results.status());
        }
      }
    });
    if (!submitted) {
      for (uint64_t seq : chunk->seqs) runner_.TaskDone(seq, absl::CancelledError("worker pool shut down"));
    }
    return submitted;
  }

  // Drops the pending chunk (stop or shutdown): its objects stay after the
  // cursor and are read when the sweep resumes.
  void Cancel() {
    for (uint64_t seq : seqs_) runner_.TaskDone(seq, absl::CancelledError("sweep stopped"));
    seqs_.clear();
    refs_.clear();
    chunk_bytes_ = 0;
  }

 private:
  SweepRunner& runner_;
  std::vector<uint64_t> seqs_;
  std::vector<ObjectRef> refs_;
  uint64_t chunk_bytes_ = 0;
};

SweepRunner::SweepRunner(Source& source, ObjectProcessor& processor, ThreadPool& pool, Store& store,
                         AuditLog& audit, Clock& clock, uint64_t checkpoint_every)
    : source_(source),
      processor_(processor),
      pool_(pool),
      store_(store),
      audit_(audit),
      clock_(clock),
      checkpoint_every_(checkpoint_every == 0 ? 1 : checkpoint_every) {}

SweepRunner::~SweepRunner() { Stop(); }

absl::Status SweepRunner::Start(std::optional<SweepState> resume, const std::string& actor) {
  if (running_.load()) {
    return absl::FailedPreconditionError(fmt::format("source {}: a sweep is already running", source_.id()));
  }
  Join();
  SweepState state;
  std::string action;
  if (resume) {
    state = *resume;
    state.resumes++;
    action = "sweep.resume";
  } else {
    state.source_id = source_.id();
    absl::Time now = clock_.Now();
    state.sweep_id = fmt::format("{}-{}", source_.id(), absl::ToUnixMicros(now));
    state.started_at = now;
    action = "sweep.start";
    ASSIGN_OR_RETURN(std::optional<std::string> stored, store_.Get(Cf::kCursors, source_.id()));
    if (stored) {
      absl::StatusOr<SweepState> previous = DecodeSweepState(*stored);
      if (previous.ok()) {
        state.estimated_total =
            previous->phase == SweepPhase::kCompleted ? previous->counters.listed : previous->estimated_total;
      }
    }
  }
  state.phase = SweepPhase::kRunning;
  state.error.clear();
  state.finished_at = absl::InfinitePast();

  Store::Batch batch;
  batch.Put(Cf::kCursors, source_.id(), EncodeSweepState(state));
  nlohmann::json details = {{"sweep_id", state.sweep_id}, {"cursor", state.cursor}, {"resumes", state.resumes}};
  RETURN_IF_ERROR(audit_.Commit(std::move(batch), {AuditEvent{actor, action, source_.id(), details}}));

  std::optional<std::string> after;
  if (state.has_cursor) after = state.cursor;
  // With no stored object of this source (its first sweep, not resumed),
  // nothing can be unchanged: skip the per-object lookups.
  absl::StatusOr<bool> has_objects = store_.HasPrefix(Cf::kObjects, ObjectKey(source_.id(), ""));
  lookup_previous_ = resume.has_value() || !has_objects.ok() || *has_objects;
  {
    std::lock_guard lock(mu_);
    state_ = state;
    outstanding_ = 0;
    since_checkpoint_ = 0;
    fatal_ = absl::OkStatus();
    pause_actor_.clear();
    run_started_at_ = clock_.Now();
    run_base_objects_ = state.counters.listed;
    run_base_bytes_ = state.counters.bytes;
  }
  tracker_ = std::make_unique<WatermarkTracker>(state.counters);
  stop_requested_ = false;
  pause_requested_ = false;
  running_ = true;
  spdlog::info("{} {} for source {}{}", action == "sweep.start" ? "started sweep" : "resumed sweep",
               state.sweep_id, source_.id(), after ? fmt::format(" after key '{}'", *after) : "");
  thread_ = std::thread([this, after] { Run(after); });
  return absl::OkStatus();
}

void SweepRunner::Run(std::optional<std::string> after) {
  Sink sink(*this);
  absl::Status list_status = source_.List(after.value_or(""), sink);
  if (stop_requested_.load() || !sink.Flush()) sink.Cancel();
  {
    std::unique_lock lock(mu_);
    all_done_.wait(lock, [&] { return outstanding_ == 0; });
  }
  absl::Status finish = Finish(list_status);
  if (!finish.ok()) spdlog::error("source {}: cannot record the end of the sweep: {}", source_.id(), finish.ToString());
  running_ = false;
}

void SweepRunner::TaskDone(uint64_t seq, const absl::StatusOr<SweepCounters>& result) {
  bool checkpoint = false;
  if (result.ok()) {
    tracker_->Complete(seq, *result);
  }
  {
    std::lock_guard lock(mu_);
    if (!result.ok() && fatal_.ok() && result.status().code() != absl::StatusCode::kCancelled) {
      fatal_ = result.status();
      spdlog::error("source {}: sweep stops: {}", source_.id(), result.status().ToString());
    }
    if (result.ok() && ++since_checkpoint_ >= checkpoint_every_) {
      since_checkpoint_ = 0;
      checkpoint = true;
    }
  }
  if (checkpoint) {
    absl::Status s = Checkpoint();
    if (!s.ok()) spdlog::warn("source {}: checkpoint failed: {}", source_.id(), s.ToString());
  }
  std::lock_guard lock(mu_);
  if (--outstanding_ == 0) all_done_.notify_all();
}

SweepState SweepRunner::CommittedState() {
  WatermarkTracker::Snapshot snap = tracker_->Committed();
  std::lock_guard lock(mu_);
  if (snap.watermark) {
    state_.cursor = *snap.watermark;
    state_.has_cursor = true;
  }
  state_.counters = snap.committed;
  return state_;
}

absl::Status SweepRunner::Checkpoint() {
  std::lock_guard checkpoint_lock(checkpoint_mu_);
  SweepState state = CommittedState();
  Store::Batch batch;
  batch.Put(Cf::kCursors, source_.id(), EncodeSweepState(state));
  return store_.Write(std::move(batch), /*sync=*/false);
}

absl::Status SweepRunner::RecordPause() {
  std::lock_guard checkpoint_lock(checkpoint_mu_);
  SweepState state = CommittedState();
  std::string actor;
  {
    std::lock_guard lock(mu_);
    state_.phase = SweepPhase::kPaused;
    state.phase = SweepPhase::kPaused;
    actor = pause_actor_;
  }
  Store::Batch batch;
  batch.Put(Cf::kCursors, source_.id(), EncodeSweepState(state));
  const SweepCounters& c = state.counters;
  nlohmann::json details = {{"sweep_id", state.sweep_id},
                            {"cursor", state.cursor},
                            {"listed", c.listed},
                            {"done", c.done},
                            {"unchanged", c.unchanged}};
  spdlog::info("source {}: sweep {} paused by {} after {} objects; it continues only when resumed",
               source_.id(), state.sweep_id, actor, c.listed);
  return audit_.Commit(std::move(batch), {AuditEvent{actor, "sweep.pause", source_.id(), details}});
}

absl::Status SweepRunner::Finish(absl::Status list_status) {
  absl::Status fatal;
  {
    std::lock_guard lock(mu_);
    fatal = fatal_;
  }
  if (stop_requested_.load() && fatal.ok() && list_status.ok()) {
    if (pause_requested_.load()) return RecordPause();
    spdlog::info("source {}: sweep interrupted; it resumes at the next start", source_.id());
    return Checkpoint();
  }
  absl::Status checkpoint = Checkpoint();
  if (!checkpoint.ok() && fatal.ok()) fatal = checkpoint;
  SweepState state;
  std::string action;
  {
    std::lock_guard lock(mu_);
    state_.finished_at = clock_.Now();
    if (!fatal.ok() || !list_status.ok()) {
      state_.phase = SweepPhase::kFailed;
      state_.error = std::string((!fatal.ok() ? fatal : list_status).message());
      action = "sweep.fail";
    } else {
      state_.phase = SweepPhase::kCompleted;
      state_.cursor.clear();
      state_.has_cursor = false;
      action = "sweep.complete";
    }
    state = state_;
  }
  Store::Batch batch;
  batch.Put(Cf::kCursors, source_.id(), EncodeSweepState(state));
  const SweepCounters& c = state.counters;
  nlohmann::json details = {{"sweep_id", state.sweep_id}, {"listed", c.listed},   {"done", c.done},
                            {"unchanged", c.unchanged},   {"skipped", c.skipped}, {"failed", c.failed},
                            {"bytes", c.bytes},           {"matches", c.matches}, {"error", state.error}};
  spdlog::info("source {}: sweep {} {}: {} listed, {} read, {} unchanged, {} skipped, {} failed, {} matches",
               source_.id(), state.sweep_id, SweepPhaseName(state.phase), c.listed, c.done - c.failed,
               c.unchanged, c.skipped, c.failed, c.matches);
  return audit_.Commit(std::move(batch), {AuditEvent{"system", action, source_.id(), details}});
}

bool SweepRunner::Failed() const {
  std::lock_guard lock(mu_);
  return !fatal_.ok();
}

SweepState SweepRunner::Progress() const {
  SweepState state;
  {
    std::lock_guard lock(mu_);
    state = state_;
  }
  if (running_.load() && tracker_) {
    WatermarkTracker::Snapshot snap = tracker_->Get();
    state.counters = snap.committed;
    AddCounters(state.counters, snap.in_flight);
    SweepRateInput input;
    input.finished = state.counters.listed;
    uint64_t base_objects = 0;
    uint64_t base_bytes = 0;
    absl::Time run_started_at;
    {
      std::lock_guard lock(mu_);
      base_objects = run_base_objects_;
      base_bytes = run_base_bytes_;
      run_started_at = run_started_at_;
    }
    input.objects = input.finished > base_objects ? input.finished - base_objects : 0;
    input.bytes = state.counters.bytes > base_bytes ? state.counters.bytes - base_bytes : 0;
    input.elapsed = clock_.Now() - run_started_at;
    input.estimated_total = state.estimated_total;
    state.rate = ComputeSweepRate(input);
    state.counters.listed += snap.pending;
  }
  return state;
}

absl::StatusOr<SweepState> SweepRunner::Pause(const std::string& actor) {
  if (!running_.load()) {
    return absl::FailedPreconditionError(
        fmt::format("source {}: no sweep is running, so there is nothing to pause", source_.id()));
  }
  std::string sweep_id;
  {
    std::lock_guard lock(mu_);
    pause_actor_ = actor;
    sweep_id = state_.sweep_id;
  }
  pause_requested_ = true;
  stop_requested_ = true;
  spdlog::info("source {}: pausing sweep {} for {}; waiting for the objects in flight", source_.id(),
               sweep_id, actor);
  Join();
  return Progress();
}

void SweepRunner::Stop() {
  stop_requested_ = true;
  Join();
}

void SweepRunner::Join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace takedown
