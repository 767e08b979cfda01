// SweepScheduler: starts full sweeps of sources with a rescan interval
// (sources[].rescan_interval). A source is due when it never swept, or when
// its last sweep finished (completed or failed) at least the interval ago. A
// running sweep is never doubled, and a paused or interrupted one is left to
// its resume.
//
// Tick(now) does one round; Start() runs a thread that calls Tick with the
// clock's time every `period` of real time, until Stop(). Tests call Tick
// with a FakeClock's time. The scheduler reads states and starts sweeps only
// through the two functions it is given, so it knows nothing of the daemon.
// A start that fails is logged and tried again after min(interval, 1 min).
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "daemon/sweep_state.h"

namespace takedown {

struct ScheduledSource {
  std::string source_id;
  absl::Duration interval;  // > 0
};

// When the next sweep of a source in `state` is due under `interval`:
// InfinitePast (now) for a source that never swept, finished_at + interval
// after a completed or failed sweep, and nullopt while a sweep is running,
// paused or interrupted (waiting for its resume).
std::optional<absl::Time> NextSweepDue(const SweepState& state, absl::Duration interval);

class SweepScheduler {
 public:
  // The source's current sweep state (live when it runs in this process).
  using StateFn = std::function<absl::StatusOr<SweepState>(const std::string& source_id)>;
  // Starts a full sweep unless one runs or the source is paused; true when it
  // started one.
  using StartFn = std::function<absl::StatusOr<bool>(const std::string& source_id)>;

  // Sources with a zero or negative interval are ignored. `clock` is borrowed.
  SweepScheduler(std::vector<ScheduledSource> sources, Clock& clock, StateFn state, StartFn start);
  ~SweepScheduler();

  SweepScheduler(const SweepScheduler&) = delete;
  SweepScheduler& operator=(const SweepScheduler&) = delete;

  // Starts the sweeps due at `now`; returns the ids of those it started.
  std::vector<std::string> Tick(absl::Time now);

  // When the source's next scheduled sweep is due (see NextSweepDue), or
  // nullopt when it has no interval or none is due.
  std::optional<absl::Time> NextDue(const std::string& source_id, const SweepState& state) const;

  void Start(absl::Duration period = absl::Seconds(1));
  // Ends the thread; returns after a Tick in progress. Idempotent.
  void Stop();

  bool empty() const { return sources_.empty(); }

 private:
  // Constant after construction.
  const std::vector<ScheduledSource> sources_;
  Clock& clock_;
  const StateFn state_;
  const StartFn start_;

  std::mutex tick_mu_;                             // one Tick at a time
  std::map<std::string, absl::Time> retry_after_;  // guarded by tick_mu_

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace takedown
