// InboxScanner: a watched directory for removal orders (the provider's
// electronic contact point for orders, next to the API).
//
// Every ScanOnce() (and, after Start(), every poll_interval) picks up the
// regular files named *.json in the directory, in name order, not starting
// with '.', at most max_files_per_scan of them, and hands each to
// OrderIntake::Submit:
//   - accepted: moved to done/, with <name>.receipt.json next to it (the
//     cases opened and what happened to each location);
//   - refused (the order is invalid: parse errors, unknown profile, a term
//     beyond the law, a file over max_file_bytes, not a regular file): moved
//     to rejected/ with <name>.error.txt holding the reason;
//   - anything else (the store is unavailable): left in place and retried at
//     the next scan.
// A name already taken in done/ or rejected/ gets a numeric suffix. Writers
// should create the file under a name starting with '.' (or elsewhere on
// the same file system) and rename it into place, so a half-written order is
// never picked up.
//
// Thread-safe; ScanOnce calls are serialised. Borrows the intake.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/daemon_metrics.h"
#include "daemon/order_intake.h"
#include "notices/removal_order.h"

namespace takedown {

struct InboxOptions {
  std::string directory;
  absl::Duration poll_interval = absl::Seconds(2);
  uint64_t max_file_bytes = kMaxRemovalOrderBytes;
  size_t max_files_per_scan = 100;
};

struct InboxScanResult {
  int accepted = 0;
  int rejected = 0;
  int deferred = 0;
};

class InboxScanner {
 public:
  // Creates the directory and its done/ and rejected/ subdirectories (mode
  // 0750) if missing. FailedPrecondition / PermissionDenied naming the path
  // when that fails.
  static absl::StatusOr<std::unique_ptr<InboxScanner>> Create(OrderIntake& intake, DaemonMetrics& metrics,
                                                              InboxOptions options);
  ~InboxScanner();

  // Fails only when the directory cannot be listed.
  absl::StatusOr<InboxScanResult> ScanOnce();

  void Start();
  // Idempotent.
  void Stop();

 private:
  InboxScanner(OrderIntake& intake, DaemonMetrics& metrics, InboxOptions options);
  void Run();

  OrderIntake& intake_;
  DaemonMetrics& metrics_;
  const InboxOptions options_;

  std::mutex scan_mu_;
  std::mutex loop_mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by loop_mu_
  std::thread thread_;
};

}  // namespace takedown
