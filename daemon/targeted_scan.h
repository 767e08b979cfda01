// ScanKeys: a targeted scan. Processes the named keys of one source at once,
// as a sweep would process them when listing reached them: Source::Stat turns
// each key into the ref a listing gives, and ObjectProcessor::ProcessChunk
// reads, digests and matches it, so object records, matches, cases, notices
// and unchanged-detection behave exactly as in sweeps. Used for keys pushed
// by an event (a filesystem watch, a bucket notification, the API).
//
// `scan_id` takes the place of the sweep id on the records it writes; it must
// differ from every sweep id (else an object stored by that sweep would be
// counted, not re-examined). Keys are de-duplicated (the first occurrence
// keeps its place). Work runs on `pool` in chunks of
// SweepRunner::kChunkObjects keys; the call returns when every chunk is done.
//
// Does not audit: the caller records who asked. Thread-safe; must not be
// called from a thread of `pool`.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/thread_pool.h"
#include "crawler/source.h"
#include "daemon/object_processor.h"
#include "daemon/store.h"
#include "daemon/sweep_state.h"

namespace takedown {

enum class ScanOutcome {
  kDone,       // read and recorded (matches counted)
  kUnchanged,  // same version as the stored record: not re-read
  kSkipped,    // not read on purpose (over a limit); recorded with why
  kNotFound,   // no such object now
  kError,      // refused (outside the source, a symlink...) or unreadable
};

// "done", "unchanged", "skipped", "not_found", "error".
std::string_view ScanOutcomeName(ScanOutcome outcome);

struct ScanKeyResult {
  std::string key;  // the object's key (as requested when it was refused)
  ScanOutcome outcome = ScanOutcome::kError;
  std::string message;  // why, for not_found, skipped and error
  std::string version;  // of the object examined
  uint64_t bytes = 0;   // read
  uint64_t matches = 0;
  std::string case_id;  // when it matched
};

struct ScanReport {
  std::string scan_id;
  std::vector<ScanKeyResult> results;  // one per distinct key, in request order
  SweepCounters counters;              // the sum, as a sweep counts them
  uint64_t not_found = 0;
  uint64_t errors = 0;  // refused or unreadable, including failed reads
};

struct ScanLimits {
  size_t max_keys = 10'000;
  size_t max_key_bytes = 4096;
};

// InvalidArgument when there are no keys, more than limits.max_keys, or a
// key longer than limits.max_key_bytes (nothing is scanned then). Everything
// about a single object is in its result, including a store failure or the
// pool shutting down (kError).
absl::StatusOr<ScanReport> ScanKeys(Source& source, std::span<const std::string> keys,
                                    const std::string& scan_id, ObjectProcessor& processor,
                                    const Store& store, ThreadPool& pool, const ScanLimits& limits = {});

}  // namespace takedown
