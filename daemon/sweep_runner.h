// SweepRunner: drives one sweep of one source. A listing thread feeds the
// shared worker pool (whose bounded queue slows the listing when workers fall
// behind) with chunks of objects; workers run ObjectProcessor::ProcessChunk; a WatermarkTracker turns their
// out-of-order completions into a cursor that is checkpointed to the
// `cursors` column family every `checkpoint_every` objects.
//
// Stop() (daemon shutdown) stops listing, lets in-flight objects finish and
// writes a final checkpoint with the phase still `running`, so the next start
// resumes from the cursor. Pause() does the same but records the phase
// `paused` (audited), which a start does not resume; Start(paused state)
// continues it. A crash (kill -9) is the same minus the final
// checkpoint: objects after the last checkpoint are processed again, which is
// idempotent.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/status/status.h"
#include "common/clock.h"
#include "common/thread_pool.h"
#include "crawler/source.h"
#include "daemon/audit_log.h"
#include "daemon/object_processor.h"
#include "daemon/store.h"
#include "daemon/sweep_state.h"
#include "daemon/watermark.h"

namespace takedown {

class SweepRunner {
 public:
  // The listing hands objects to the workers in chunks that end at this many
  // objects or bytes, whichever comes first, so small objects share one store
  // write while large ones still spread over the workers. A store failure
  // fails the chunk it happens in: the cursor stays before that chunk.
  static constexpr size_t kChunkObjects = 32;
  static constexpr uint64_t kChunkBytes = 1 << 20;

  SweepRunner(Source& source, ObjectProcessor& processor, ThreadPool& pool, Store& store, AuditLog& audit,
              Clock& clock, uint64_t checkpoint_every);
  ~SweepRunner();

  SweepRunner(const SweepRunner&) = delete;
  SweepRunner& operator=(const SweepRunner&) = delete;

  // Starts a new sweep, or resumes `resume` (a persisted state in phase
  // running or paused). REQUIRES: not running. Returns once the start is
  // recorded. A new sweep takes its estimated total from the stored state of
  // the previous one.
  absl::Status Start(std::optional<SweepState> resume, const std::string& actor);

  bool Running() const { return running_.load(); }
  // Live progress: persisted counters plus work since the last checkpoint,
  // and while running the rate of the current run and the ETA.
  SweepState Progress() const;
  // Interrupts the sweep (resumable) and waits for it. Idempotent.
  void Stop();
  // Interrupts the sweep, waits for it and records it as paused, audited as
  // "sweep.pause" by `actor`. Returns the state it ended in: paused, or
  // completed/failed if it ended by itself first. FailedPrecondition when no
  // sweep runs.
  absl::StatusOr<SweepState> Pause(const std::string& actor);
  // Waits for the sweep to end by itself or be stopped.
  void Join();

 private:
  class Sink;
  void Run(std::optional<std::string> after);
  void TaskDone(uint64_t seq, const absl::StatusOr<SweepCounters>& result);
  absl::Status Checkpoint();
  // Folds the committed watermark into state_ and returns a copy.
  // REQUIRES: checkpoint_mu_ held.
  SweepState CommittedState();
  absl::Status RecordPause();
  bool Failed() const;
  absl::Status Finish(absl::Status list_status);

  // Constant after construction.
  Source& source_;
  ObjectProcessor& processor_;
  ThreadPool& pool_;
  Store& store_;
  AuditLog& audit_;
  Clock& clock_;
  const uint64_t checkpoint_every_;

  bool lookup_previous_ = true;  // set by Start() before the listing thread runs
  std::atomic<bool> running_{false};
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> pause_requested_{false};
  std::thread thread_;
  std::unique_ptr<WatermarkTracker> tracker_;

  mutable std::mutex mu_;
  std::condition_variable all_done_;
  SweepState state_;            // guarded by mu_
  uint64_t outstanding_ = 0;    // guarded by mu_: submitted, not yet finished
  uint64_t since_checkpoint_ = 0;  // guarded by mu_
  absl::Status fatal_;          // guarded by mu_: a store failure stops the sweep
  std::string pause_actor_;     // guarded by mu_
  // guarded by mu_: when the current run (start or resume) began, and the
  // objects finished and bytes read before it, for the rate.
  absl::Time run_started_at_ = absl::InfinitePast();
  uint64_t run_base_objects_ = 0;
  uint64_t run_base_bytes_ = 0;
  std::mutex checkpoint_mu_;    // one checkpoint write at a time
};

}  // namespace takedown
