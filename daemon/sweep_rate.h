// SweepRate: how fast a running sweep goes and, when the total is estimated
// (the previous completed sweep's listed count), when it should end.
// ComputeSweepRate is plain arithmetic on what the runner measured; it holds
// no state and is safe to call from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"

namespace takedown {

struct SweepRate {
  // Objects finished (read, unchanged, skipped or failed) and bytes read per
  // second of the current run (since the sweep started or last resumed).
  double objects_per_second = 0;
  double bytes_per_second = 0;
  absl::Duration elapsed = absl::ZeroDuration();
  // Time until the estimated total is reached; unset when it cannot be told,
  // and then eta_unknown_reason says why.
  std::optional<absl::Duration> eta;
  std::string eta_unknown_reason;
};

struct SweepRateInput {
  // Since the current run began.
  uint64_t objects = 0;
  uint64_t bytes = 0;
  absl::Duration elapsed = absl::ZeroDuration();
  // Objects of the whole sweep finished so far, across resumes.
  uint64_t finished = 0;
  // Estimated objects in all; 0 when there is no estimate.
  uint64_t estimated_total = 0;
};

SweepRate ComputeSweepRate(const SweepRateInput& input);

}  // namespace takedown
