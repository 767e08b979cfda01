// SweepState: the persisted progress of one source's sweep, stored as JSON in
// the `cursors` column family under the source id. `cursor` is the low
// watermark: every object up to it (in the source's key order) is stored.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/time_format.h"

namespace takedown {

enum class SweepPhase { kIdle, kRunning, kCompleted, kFailed };

std::string_view SweepPhaseName(SweepPhase phase);

struct SweepCounters {
  uint64_t listed = 0;
  uint64_t done = 0;       // results durably stored in this sweep (read or failed)
  uint64_t unchanged = 0;  // same version as stored by an earlier sweep: not re-read
  uint64_t skipped = 0;    // not objects, or over a limit
  uint64_t failed = 0;     // vanished or unreadable; recorded with the error
  uint64_t bytes = 0;
  uint64_t matches = 0;
};

struct SweepState {
  std::string source_id;
  std::string sweep_id;
  SweepPhase phase = SweepPhase::kIdle;
  absl::Time started_at = absl::InfinitePast();
  absl::Time finished_at = absl::InfinitePast();
  std::string cursor;
  bool has_cursor = false;
  uint32_t resumes = 0;
  std::string error;
  // Counters as of the last checkpoint (objects up to the cursor).
  SweepCounters counters;
};

std::string EncodeSweepState(const SweepState& state);
absl::StatusOr<SweepState> DecodeSweepState(std::string_view encoded);

}  // namespace takedown
