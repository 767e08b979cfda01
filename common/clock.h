// Clock: the source of "now" for everything that reasons about time
// (deadlines, timers, sweep timestamps). Production code uses SystemClock;
// tests inject a FakeClock (tests/fakes/fake_clock.h) to run days in milliseconds.
//
// Implementations are thread-safe.
#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace takedown {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// Wall-clock time (UTC). Safe for concurrent use. Never destroyed.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  static Clock& Get();
};

}  // namespace takedown
