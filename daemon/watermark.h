// WatermarkTracker: turns out-of-order completions into a safe resume point.
//
// The listing thread calls Add(key) for each object in listing order and gets
// a sequence number; workers call Complete(seq, delta) when the object's
// result is durably stored, in any order. Committed() returns the key of the
// last object of the longest completed prefix (the low watermark: everything
// up to and including it is stored, so a restart that lists after that key
// misses nothing) and the sum of the counter deltas of exactly that prefix,
// so persisted counters never count an object that will be processed again.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "daemon/sweep_state.h"

namespace takedown {

void AddCounters(SweepCounters& into, const SweepCounters& delta);

class WatermarkTracker {
 public:
  // `base` is what the prefix already holds (counters restored at resume).
  explicit WatermarkTracker(SweepCounters base = {}) : committed_(base) {}

  uint64_t Add(std::string key);
  void Complete(uint64_t seq, const SweepCounters& delta);

  struct Snapshot {
    std::optional<std::string> watermark;  // nullopt while no prefix is complete
    SweepCounters committed;
    SweepCounters in_flight;  // completed beyond the watermark
    size_t pending = 0;       // listed but not yet completed
  };
  // O(objects listed and not yet behind the watermark).
  Snapshot Get() const;
  // Only `watermark` and `committed` (the rest zero); O(1), for checkpoints.
  Snapshot Committed() const;

 private:
  struct Item {
    std::string key;
    bool completed = false;
    SweepCounters delta;
  };
  mutable std::mutex mu_;
  uint64_t first_seq_ = 0;    // seq of pending_.front()
  std::deque<Item> pending_;  // items after the watermark, in seq order
  std::optional<std::string> watermark_;
  SweepCounters committed_;
};

}  // namespace takedown
