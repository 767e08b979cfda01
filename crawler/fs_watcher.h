// FsWatcher: reports, within seconds, the files that appear or change under
// one local directory tree, so a filesystem source can sweep new uploads
// without waiting for the next full listing.
//
// Keys are exactly those FilesystemSource lists for the same root and globs:
// paths relative to the root, '/'-separated, only regular files (checked with
// lstat when reported), never through a symlink, selected by the include and
// exclude globs (crawler/glob.h), no deeper than FilesystemSource::kMaxDepth.
// A key is reported once it has had no change for `debounce` (so a
// half-written upload is not read), at most once per quiet period, and again
// later only if its size, mtime or inode (FilesystemSource's version) changed
// since it was last reported. Deletions are not reported.
//
// Mechanism: inotify, one watch per directory (added for every directory under
// the root by Start(), and for each new or moved-in directory as it appears,
// whose existing contents are then scanned, since files may land before the
// watch exists). fanotify is not used: its directory-entry events on a whole
// filesystem (FAN_REPORT_DFID_NAME with FAN_MARK_FILESYSTEM) need
// CAP_SYS_ADMIN and report file handles that must be resolved back to paths
// under the root, and its unprivileged mode marks single inodes, which is what
// inotify already does (docs/sources.md, "Watching for new uploads").
//
// When events may have been missed the watcher says so rather than staying
// silent: `on_overflow` receives a reason starting with
// "overflow: a full sweep is needed" when the kernel queue overflowed (the
// watches are rebuilt before the call), when a directory could not be watched
// (max_watches, the fs.inotify.max_user_watches sysctl), when more than
// max_pending keys wait for their quiet period, or when the root itself was
// moved or deleted. The caller then lists the source in full. Such reports
// come at most once a second; losses in between are folded into the next.
//
// Thread-safety: all methods may be called from any thread. Callbacks run on
// the watcher's own thread, one at a time; they may call Stop() but must not
// destroy the watcher.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace takedown {

struct FsWatcherOptions {
  // An existing directory; symlinks in the root path itself are resolved once,
  // at Create(), as FilesystemSource does.
  std::string root;
  // As FilesystemSourceOptions: an empty include list means {"**"}.
  std::vector<std::string> include = {"**"};
  std::vector<std::string> exclude;
  // Quiet period a file needs before it is reported.
  absl::Duration debounce = absl::Seconds(2);
  // Directories watched at most (one inotify watch each, including the root).
  size_t max_watches = 65536;
  // Keys waiting for their quiet period at most; beyond it, overflow.
  size_t max_pending = 100'000;
  // Keys handed to one on_keys call at most.
  size_t max_batch = 10'000;
  // Time base of the debounce; borrowed, must outlive the watcher. Null means
  // SystemClock. With a fake clock, the watcher notices Advance() within
  // about 100 ms of real time.
  Clock* clock = nullptr;
};

// Counters for metrics; each field is read atomically on its own.
struct FsWatcherStats {
  uint64_t watched_directories = 0;
  uint64_t pending_keys = 0;
  uint64_t reported_keys = 0;
  uint64_t overflows = 0;
  uint64_t events = 0;
};

class FsWatcher {
 public:
  // A batch of keys, sorted bytewise, no duplicates within a batch.
  using KeysCallback = std::function<void(std::vector<std::string> keys)>;
  // Why a full sweep is needed; starts with "overflow: a full sweep is needed".
  using OverflowCallback = std::function<void(std::string reason)>;

  // InvalidArgument for an empty root, a root that is not a directory, a
  // malformed glob, a negative debounce or a zero limit; NotFound when the
  // root does not exist; ResourceExhausted when no inotify instance can be
  // created (fs.inotify.max_user_instances).
  static absl::StatusOr<std::unique_ptr<FsWatcher>> Create(FsWatcherOptions options);

  // Stops and joins the thread. Must not be called from a callback.
  ~FsWatcher();

  FsWatcher(const FsWatcher&) = delete;
  FsWatcher& operator=(const FsWatcher&) = delete;

  // Watches every directory under the root (before returning, so a full
  // listing started after Start() returns misses nothing), then starts the
  // thread. Existing files are not reported. FailedPrecondition when called a
  // second time (a stopped watcher is not restarted: create a new one);
  // InvalidArgument when a callback is empty.
  absl::Status Start(KeysCallback on_keys, OverflowCallback on_overflow);

  // Ends the thread. Returns after the last callback has returned; no callback
  // runs after that. Keys still in their quiet period are dropped. Called from
  // a callback, it returns at once and the thread ends after that callback.
  // Idempotent.
  void Stop();

  // The root as resolved at Create().
  const std::string& root() const { return root_; }

  FsWatcherStats stats() const;

  // Makes the thread act as on IN_Q_OVERFLOW (rebuild the watches, report
  // overflow), which the kernel's global queue limit makes hard to provoke.
  void SimulateQueueOverflowForTest();

 private:
  class Loop;

  FsWatcher(std::string root, std::unique_ptr<Loop> loop);

  // Constant after construction.
  const std::string root_;
  const std::unique_ptr<Loop> loop_;

  std::atomic<std::thread::id> thread_id_{};
  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_ ABSL_GUARDED_BY(mu_);
};

}  // namespace takedown
