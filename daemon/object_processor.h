// ObjectProcessor: the per-object stage of a sweep. For one listed object it
// decides whether to read it (unchanged objects are not re-read), streams it
// once through the digests, looks the digests up in the exact index and hands
// the outcome to the CaseRecorder. Object-level problems (vanished,
// unreadable, over a limit) are recorded on the object and counted; only a
// store failure is returned as an error, because then nothing can be
// recorded and the sweep must stop without advancing its cursor.
//
// Thread-safe: called concurrently by the worker pool.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "crawler/source.h"
#include "daemon/case_recorder.h"
#include "daemon/daemon_metrics.h"
#include "daemon/store.h"
#include "daemon/sweep_state.h"
#include "matcher/exact_index.h"

namespace takedown {

struct ProcessorLimits {
  uint64_t max_object_bytes = 64ull << 30;
  uint64_t read_buffer_bytes = 1 << 20;
};

class ObjectProcessor {
 public:
  ObjectProcessor(Store& store, const ExactIndex& index, CaseRecorder& recorder, Clock& clock,
                  DaemonMetrics& metrics, ProcessorLimits limits);

  // Returns the counters this object adds to its sweep.
  absl::StatusOr<SweepCounters> Process(Source& source, const ObjectRef& ref, const std::string& sweep_id);

  // Records something under the source that is not read (special file,
  // symlink, unreadable directory) with the reason.
  absl::StatusOr<SweepCounters> RecordSkipped(const std::string& source_id, std::string_view key,
                                              std::string_view reason, const std::string& sweep_id);

 private:
  absl::StatusOr<SweepCounters> StoreUnread(ObjectRecord record, ObjectStatus status, std::string error);

  Store& store_;
  const ExactIndex& index_;
  CaseRecorder& recorder_;
  Clock& clock_;
  DaemonMetrics& metrics_;
  const ProcessorLimits limits_;
};

}  // namespace takedown
