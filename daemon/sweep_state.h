// SweepState: the persisted progress of one source's sweep, stored as JSON in
// the `cursors` column family under the source id. `cursor` is the low
// watermark: every object up to it (in the source's key order) is stored.
// Fields added later decode with their defaults from older records.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/time_format.h"
#include "daemon/sweep_rate.h"

namespace takedown {

// kPaused: stopped by an operator with its cursor kept; unlike kRunning it is
// not resumed when the daemon starts, only by a resume request.
enum class SweepPhase { kIdle, kRunning, kCompleted, kFailed, kPaused };

std::string_view SweepPhaseName(SweepPhase phase);

struct SweepCounters {
  uint64_t listed = 0;
  uint64_t done = 0;       // results durably stored in this sweep (read or failed)
  uint64_t unchanged = 0;  // same version as stored by an earlier sweep: not re-read
  uint64_t skipped = 0;    // not objects, or over a limit
  uint64_t failed = 0;     // vanished or unreadable; recorded with the error
  uint64_t bytes = 0;
  uint64_t matches = 0;     // archive members' matches included
  // Archive members recorded (docs/archives.md "In sweeps"): not in listed,
  // done or bytes, which count the source's own objects.
  uint64_t members = 0;
  uint64_t members_failed = 0;  // of those, unreadable (encrypted, corrupt, over a limit)
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
  // Objects the previous completed sweep of the source listed: the estimate
  // of this sweep's total (0: none yet).
  uint64_t estimated_total = 0;
  // Live only, never persisted: the rate of the running sweep (zero otherwise).
  SweepRate rate;
};

std::string EncodeSweepState(const SweepState& state);
absl::StatusOr<SweepState> DecodeSweepState(std::string_view encoded);

}  // namespace takedown
