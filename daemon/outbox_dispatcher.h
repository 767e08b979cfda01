// OutboxDispatcher: delivers pending notices from the `outbox` column family
// to their channels on a background thread. A notice is marked delivered only
// after its channel accepted it, so a crash in between re-delivers it; the
// channels' Deliver is idempotent per notice id, so the receiver still gets
// it once. Failed deliveries are retried with exponential backoff and move
// to the dead-letter state after `max_attempts`. A receiver's Retry-After
// (notices/channel.h RetryAfter) is honoured when longer than the backoff,
// up to `max_retry_after`.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "daemon/daemon_metrics.h"
#include "daemon/store.h"
#include "notices/channel.h"

namespace takedown {

struct OutboxOptions {
  int max_attempts = 10;
  absl::Duration initial_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Minutes(10);
  // The longest wait a receiver's Retry-After can impose on one notice; a
  // longer one is cut to this (a receiver cannot park notices for days).
  absl::Duration max_retry_after = absl::Hours(1);
  absl::Duration poll_interval = absl::Seconds(1);
};

class OutboxDispatcher {
 public:
  OutboxDispatcher(Store& store, Clock& clock, DaemonMetrics& metrics, OutboxOptions options);
  ~OutboxDispatcher();

  // Takes ownership of a channel; notices name their channel.
  void AddChannel(std::unique_ptr<NoticeChannel> channel);

  void Start();
  // Wakes the dispatcher (a notice was queued).
  void Notify();
  // Stops after the current delivery. Idempotent.
  void Stop();

  // Delivers every due notice once, on the caller's thread. Returns how many
  // were delivered.
  absl::StatusOr<int> DispatchDue();

 private:
  void Run();

  Store& store_;
  Clock& clock_;
  DaemonMetrics& metrics_;
  const OutboxOptions options_;
  std::map<std::string, std::unique_ptr<NoticeChannel>, std::less<>> channels_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool notified_ = false;  // guarded by mu_
  bool stop_ = false;      // guarded by mu_
  std::mutex dispatch_mu_;  // one DispatchDue at a time
  std::thread thread_;
};

}  // namespace takedown
