#include "crawler/fs_watcher.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <map>
#include <queue>
#include <system_error>
#include <unordered_map>
#include <utility>

#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#endif

#include "common/status_macros.h"
#include "crawler/filesystem_source.h"
#include "crawler/glob.h"
#include "crawler/glob_selection.h"
#include "crawler/unique_fd.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

#if defined(SYS_openat2) && defined(RESOLVE_BENEATH)
#define TAKEDOWN_HAVE_OPENAT2 1
#else
#define TAKEDOWN_HAVE_OPENAT2 0
#endif

namespace takedown {
namespace {

constexpr char kOverflowPrefix[] = "overflow: a full sweep is needed";

// Events asked for on every directory. IN_MODIFY and IN_ATTRIB restart a
// file's quiet period (a file kept open and appended to is not reported until
// it stops changing; utimensat() alone changes the version); IN_CREATE covers
// hard links, fifos and symlinks (the latter two are dropped at lstat).
constexpr uint32_t kDirMask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | IN_MODIFY |
                              IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK;
constexpr uint32_t kFileChangeMask = IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB;

// Longest poll() sleep while keys wait: bounds how late an injected clock's
// Advance() is noticed.
constexpr int kMaxPollMillis = 100;

// Overflow reports are at most this frequent; what happens in between is
// folded into the next one, so an event storm asks for one sweep, not
// thousands.
constexpr absl::Duration kMinOverflowInterval = absl::Seconds(1);

// read() calls per round before due keys are flushed again, so a storm of
// events cannot postpone reports indefinitely.
constexpr int kMaxReadsPerRound = 64;

std::string JoinKey(std::string_view dir_key, std::string_view name) {
  if (dir_key.empty()) return std::string(name);
  std::string key;
  key.reserve(dir_key.size() + 1 + name.size());
  key.append(dir_key);
  key.push_back('/');
  key.append(name);
  return key;
}

// Opens the directory `dir_key` ("" is the root) beneath `root_fd` with
// `flags`, following no symlink in any component. -1 with errno on failure.
int OpenDirBeneath(int root_fd, const std::string& dir_key, int flags) {
  flags |= O_DIRECTORY | O_CLOEXEC;
  if (dir_key.empty()) return openat(root_fd, ".", flags);
#if TAKEDOWN_HAVE_OPENAT2
  static std::atomic<bool> openat2_missing{false};
  if (!openat2_missing.load(std::memory_order_relaxed)) {
    struct open_how how = {};
    how.flags = static_cast<uint64_t>(flags);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    for (int attempt = 0; attempt < 16; ++attempt) {
      long fd = syscall(SYS_openat2, root_fd, dir_key.c_str(), &how, sizeof(how));
      if (fd >= 0) return static_cast<int>(fd);
      if (errno == EAGAIN || errno == EINTR) continue;
      if (errno != ENOSYS) return -1;
      openat2_missing.store(true, std::memory_order_relaxed);
      break;
    }
    if (!openat2_missing.load(std::memory_order_relaxed)) return -1;
  }
#endif
  UniqueFd current;  // invalid: the root
  size_t start = 0;
  while (true) {
    const size_t slash = dir_key.find('/', start);
    const bool last = slash == std::string::npos;
    const std::string name = dir_key.substr(start, last ? std::string::npos : slash - start);
    const int parent = current.valid() ? current.get() : root_fd;
    const int fd =
        openat(parent, name.c_str(), (last ? flags : O_PATH | O_DIRECTORY | O_CLOEXEC) | O_NOFOLLOW);
    if (fd < 0 || last) return fd;
    current = UniqueFd(fd);
    start = slash + 1;
  }
}

struct DirEntry {
  std::string name;
  unsigned char type;  // DT_*, possibly DT_UNKNOWN
};

// Reads the entries of the directory open at `dir_fd` (without "." and "..").
void ReadEntries(int dir_fd, std::vector<DirEntry>& entries) {
  const int dup_fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return;
  lseek(dup_fd, 0, SEEK_SET);
  DIR* dir = fdopendir(dup_fd);
  if (dir == nullptr) {
    ::close(dup_fd);
    return;
  }
  while (struct dirent* entry = readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    entries.push_back(DirEntry{std::string(name), entry->d_type});
  }
  closedir(dir);
}

}  // namespace

// Everything the watcher thread owns. Start() touches it before the thread
// exists; afterwards only the thread does, except RequestStop() and Stats().
class FsWatcher::Loop {
 public:
  Loop(std::string root, UniqueFd root_fd, UniqueFd inotify_fd, UniqueFd wake_fd,
       std::vector<GlobMatcher> include, std::vector<GlobMatcher> exclude, const FsWatcherOptions& options,
       bool use_proc_fd)
      : root_(std::move(root)),
        include_(std::move(include)),
        exclude_(std::move(exclude)),
        debounce_(options.debounce),
        max_watches_(options.max_watches),
        max_pending_(options.max_pending),
        max_batch_(options.max_batch),
        clock_(options.clock != nullptr ? *options.clock : SystemClock::Get()),
        use_proc_fd_(use_proc_fd),
        wake_fd_(std::move(wake_fd)),
        root_fd_(std::move(root_fd)),
        inotify_fd_(std::move(inotify_fd)) {}

  void SetCallbacks(KeysCallback on_keys, OverflowCallback on_overflow) {
    on_keys_ = std::move(on_keys);
    on_overflow_ = std::move(on_overflow);
  }

  void WatchWholeTree() {
    root_wd_ = -1;
    WatchOpenDirectory(root_fd_.get(), "", 0, /*scan_files=*/false);
    auto it = wd_by_key_.find("");
    if (it != wd_by_key_.end()) root_wd_ = it->second;
    PublishSizes();
  }

  void RequestStop() {
    stop_.store(true);
    Wake();
  }

  void SimulateQueueOverflow() {
    simulate_overflow_.store(true);
    Wake();
  }

  FsWatcherStats Stats() const {
    FsWatcherStats stats;
    stats.watched_directories = watched_directories_.load(std::memory_order_relaxed);
    stats.pending_keys = pending_keys_.load(std::memory_order_relaxed);
    stats.reported_keys = reported_keys_.load(std::memory_order_relaxed);
    stats.overflows = overflows_.load(std::memory_order_relaxed);
    stats.events = events_.load(std::memory_order_relaxed);
    return stats;
  }

  void Run() {
    while (!stop_.load()) {
      DeliverOverflow();
      FlushDue();
      if (stop_.load()) break;
      struct pollfd fds[2] = {{wake_fd_.get(), POLLIN, 0}, {inotify_fd_.get(), POLLIN, 0}};
      const int nfds = inotify_fd_.valid() ? 2 : 1;
      const int n = poll(fds, nfds, PollTimeoutMillis());
      if (n < 0) {
        const int err = errno;
        if (err == EINTR) continue;
        Overflow(fmt::format("poll failed: {}; the watcher stopped, restart it", ErrnoText(err)));
        last_overflow_ = absl::InfinitePast();
        DeliverOverflow();
        return;
      }
      if (stop_.load()) break;
      if ((fds[0].revents & POLLIN) != 0) {
        uint64_t count;
        (void)!read(wake_fd_.get(), &count, sizeof(count));  // re-arm; stop_ and the flag carry the news
      }
      if (simulate_overflow_.exchange(false)) {
        QueueOverflowed();
        continue;
      }
      if (nfds == 2 && (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) != 0) DrainEvents();
    }
  }

 private:
  struct Directory {
    std::string key;
    int depth;
  };

  struct FileVersion {
    int64_t size;
    int64_t mtime_sec;
    int64_t mtime_nsec;
    uint64_t inode;
    bool operator==(const FileVersion&) const = default;
  };

  struct Due {
    absl::Time at;
    std::string key;
    bool operator>(const Due& other) const { return at > other.at; }
  };

  void Wake() {
    const uint64_t one = 1;
    while (write(wake_fd_.get(), &one, sizeof(one)) < 0 && errno == EINTR) {
    }
  }

  bool SelectsFile(std::string_view key) const { return GlobsSelectFile(include_, exclude_, key); }

  // Same rule as FilesystemSource: such a directory is never read there, so
  // nothing under it can become a key.
  bool PrunesDirectory(std::string_view dir_key) const { return GlobsPruneDirectory(include_, exclude_, dir_key); }

  void Overflow(std::string reason) {
    if (overflow_reason_.empty()) {
      overflow_reason_ = std::move(reason);
    } else {
      ++overflow_extra_;
    }
  }

  void DeliverOverflow() {
    if (overflow_reason_.empty() || stop_.load()) return;
    const absl::Time now = clock_.Now();
    if (now < last_overflow_ + kMinOverflowInterval) return;
    last_overflow_ = now;
    std::string reason = fmt::format("{} ({}: {}", kOverflowPrefix, root_, overflow_reason_);
    if (overflow_extra_ > 0) reason += fmt::format("; {} more losses since", overflow_extra_);
    reason += ")";
    overflow_reason_.clear();
    overflow_extra_ = 0;
    overflows_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("filesystem watcher: {}", reason);
    try {
      on_overflow_(std::move(reason));
    } catch (const std::exception& e) {
      spdlog::error("filesystem watcher {}: overflow callback threw: {}", root_, e.what());
    } catch (...) {
      spdlog::error("filesystem watcher {}: overflow callback threw", root_);
    }
  }

  void PublishSizes() {
    watched_directories_.store(dirs_.size(), std::memory_order_relaxed);
    pending_keys_.store(pending_.size(), std::memory_order_relaxed);
  }

  // Watches the directory open at `dir_fd` and every directory beneath it;
  // with `scan_files`, the regular files found become pending too.
  void WatchOpenDirectory(int dir_fd, const std::string& key, int depth, bool scan_files) {
    if (!AddWatch(dir_fd, key, depth)) return;
    std::vector<DirEntry> entries;
    ReadEntries(dir_fd, entries);
    for (const DirEntry& entry : entries) {
      const std::string child = JoinKey(key, entry.name);
      unsigned char type = entry.type;
      if (type == DT_UNKNOWN) {
        struct stat st;
        if (fstatat(dir_fd, entry.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
      }
      if (type == DT_DIR) {
        WatchChild(dir_fd, entry.name, child, depth + 1, scan_files);
      } else if (type == DT_REG && scan_files && SelectsFile(child)) {
        MarkPending(child, clock_.Now());
      }
    }
  }

  void WatchChild(int parent_fd, const std::string& name, const std::string& key, int depth,
                  bool scan_files) {
    if (depth > FilesystemSource::kMaxDepth || PrunesDirectory(key)) return;
    UniqueFd fd(openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    // Gone, replaced by a non-directory, or unreadable (the sweep reports it).
    if (!fd.valid()) return;
    WatchOpenDirectory(fd.get(), key, depth, scan_files);
  }

  // A directory that appeared (created or moved in) under a watched one.
  void WatchNewDirectory(const std::string& key, int depth) {
    if (depth > FilesystemSource::kMaxDepth || PrunesDirectory(key)) return;
    UniqueFd fd(OpenDirBeneath(root_fd_.get(), key, O_RDONLY));
    if (!fd.valid()) return;
    WatchOpenDirectory(fd.get(), key, depth, /*scan_files=*/true);
  }

  // False when the directory is not (newly) watched: limit reached, error,
  // or the same directory already watched under another key (bind mounts).
  bool AddWatch(int dir_fd, const std::string& key, int depth) {
    if (dirs_.size() >= max_watches_) {
      Overflow(fmt::format("directory '{}' is not watched: max_watches ({}) reached; raise max_watches", key,
                           max_watches_));
      return false;
    }
    int wd;
    if (use_proc_fd_) {
      // Names exactly the directory opened without following symlinks.
      const std::string path = fmt::format("/proc/self/fd/{}", dir_fd);
      wd = inotify_add_watch(inotify_fd_.get(), path.c_str(), kDirMask);
    } else {
      const std::string path = key.empty() ? root_ : root_ + "/" + key;
      wd = inotify_add_watch(inotify_fd_.get(), path.c_str(), kDirMask | IN_DONT_FOLLOW);
    }
    if (wd < 0) {
      const int err = errno;
      if (err == ENOENT || err == ENOTDIR) return false;  // vanished meanwhile
      if (err == ENOSPC) {
        Overflow(
            fmt::format("directory '{}' is not watched: the kernel's limit of inotify watches per user "
                        "is reached; raise the sysctl fs.inotify.max_user_watches",
                        key));
      } else {
        Overflow(fmt::format("directory '{}' is not watched: {}", key, ErrnoText(err)));
      }
      return false;
    }
    auto [it, inserted] = dirs_.try_emplace(wd, Directory{key, depth});
    if (!inserted) return false;
    wd_by_key_[key] = wd;
    return true;
  }

  // Forgets the watches of `key` and of every directory beneath it.
  void DropSubtree(const std::string& key) {
    auto it = wd_by_key_.lower_bound(key);
    const std::string prefix = key + "/";
    while (it != wd_by_key_.end() && (it->first == key || it->first.compare(0, prefix.size(), prefix) == 0)) {
      inotify_rm_watch(inotify_fd_.get(), it->second);
      dirs_.erase(it->second);
      it = wd_by_key_.erase(it);
    }
  }

  // Starts over with a fresh inotify instance: after a queue overflow or an
  // unmount, the watch set may no longer match the tree.
  void Rebuild() {
    dirs_.clear();
    wd_by_key_.clear();
    root_wd_ = -1;
    inotify_fd_ = UniqueFd(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!inotify_fd_.valid()) {
      Overflow(
          fmt::format("cannot create a new inotify instance: {}; restart the watcher", ErrnoText(errno)));
      return;
    }
    root_fd_ = UniqueFd(open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root_fd_.valid()) {
      Overflow(fmt::format("cannot open the root again: {}; restart the watcher", ErrnoText(errno)));
      inotify_fd_.Reset();
      return;
    }
    WatchWholeTree();
  }

  void MarkPending(const std::string& key, absl::Time now) {
    auto it = pending_.find(key);
    if (it != pending_.end()) {
      it->second = now;
      return;
    }
    if (pending_.size() >= max_pending_) {
      Overflow(fmt::format("more than max_pending ({}) files wait for their quiet period", max_pending_));
      return;
    }
    pending_.emplace(key, now);
    due_.push(Due{now + debounce_, key});
  }

  int PollTimeoutMillis() {
    absl::Time wake_at = absl::InfiniteFuture();
    if (!overflow_reason_.empty()) wake_at = last_overflow_ + kMinOverflowInterval;
    if (!due_.empty()) wake_at = std::min(wake_at, due_.top().at);
    if (wake_at == absl::InfiniteFuture()) return -1;
    const absl::Duration left = wake_at - clock_.Now();
    if (left <= absl::ZeroDuration()) return 0;
    return static_cast<int>(std::min<int64_t>(
        absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), kMaxPollMillis));
  }

  void DrainEvents() {
    alignas(struct inotify_event) char buffer[64 * 1024];
    for (int reads = 0; reads < kMaxReadsPerRound && inotify_fd_.valid() && !stop_.load(); ++reads) {
      const ssize_t n = read(inotify_fd_.get(), buffer, sizeof(buffer));
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) {
          Overflow(fmt::format("reading inotify events failed: {}", ErrnoText(errno)));
          Rebuild();
        }
        break;
      }
      if (n == 0) break;
      const absl::Time now = clock_.Now();
      for (ssize_t offset = 0; offset < n;) {
        const auto* event = reinterpret_cast<const struct inotify_event*>(buffer + offset);
        offset += static_cast<ssize_t>(sizeof(struct inotify_event) + event->len);
        events_.fetch_add(1, std::memory_order_relaxed);
        if (HandleEvent(*event, now)) break;  // the instance was replaced: rest is stale
      }
      PublishSizes();
    }
    PublishSizes();
  }

  void QueueOverflowed() {
    Rebuild();
    Overflow(
        "the kernel's inotify event queue overflowed (raise the sysctl fs.inotify.max_queued_events "
        "if this recurs)");
  }

  // True when the watches were rebuilt (the rest of the buffer refers to the
  // old instance).
  bool HandleEvent(const struct inotify_event& event, absl::Time now) {
    if ((event.mask & IN_Q_OVERFLOW) != 0) {
      QueueOverflowed();
      return true;
    }
    auto dir_it = dirs_.find(event.wd);
    if (dir_it == dirs_.end()) return false;  // dropped earlier; IN_IGNORED and stragglers
    const bool is_root = event.wd == root_wd_;
    if ((event.mask & IN_UNMOUNT) != 0) {
      const std::string key = dir_it->second.key;
      Rebuild();
      Overflow(fmt::format("the filesystem of '{}' was unmounted", key.empty() ? "." : key));
      return true;
    }
    if ((event.mask & IN_IGNORED) != 0) {
      auto key_it = wd_by_key_.find(dir_it->second.key);
      if (key_it != wd_by_key_.end() && key_it->second == event.wd) wd_by_key_.erase(key_it);
      dirs_.erase(dir_it);
      if (is_root) {
        root_wd_ = -1;
        Overflow("the root directory was deleted; restart the watcher once it exists again");
      }
      return false;
    }
    if ((event.mask & IN_MOVE_SELF) != 0) {
      if (is_root) {
        for (const auto& [wd, dir] : dirs_) inotify_rm_watch(inotify_fd_.get(), wd);
        dirs_.clear();
        wd_by_key_.clear();
        root_wd_ = -1;
        Overflow("the root directory was moved away; restart the watcher once it exists again");
      } else {
        // Its parent's IN_MOVED_FROM normally dropped it already.
        DropSubtree(dir_it->second.key);
      }
      return false;
    }
    if ((event.mask & IN_DELETE_SELF) != 0 || event.len == 0) return false;

    const std::string_view name(event.name, strnlen(event.name, event.len));
    if (name.empty()) return false;
    const std::string key = JoinKey(dir_it->second.key, name);
    const int depth = dir_it->second.depth + 1;
    if ((event.mask & IN_ISDIR) != 0) {
      // A directory renamed within the tree arrives as MOVED_FROM then
      // MOVED_TO: its old watches go, the new name is watched and scanned
      // (its files have new keys).
      if ((event.mask & IN_MOVED_FROM) != 0) DropSubtree(key);
      if ((event.mask & (IN_CREATE | IN_MOVED_TO)) != 0) WatchNewDirectory(key, depth);
      return false;
    }
    if ((event.mask & kFileChangeMask) != 0 && SelectsFile(key)) MarkPending(key, now);
    return false;
  }

  // Hands over the keys whose quiet period has passed, if still regular files.
  void FlushDue() {
    std::vector<std::string> batch;
    std::string open_dir_key;
    UniqueFd open_dir;
    bool have_open_dir = false;
    while (!due_.empty() && !stop_.load()) {
      const absl::Time now = clock_.Now();
      if (due_.top().at > now) break;
      Due due = due_.top();
      due_.pop();
      auto it = pending_.find(due.key);
      if (it == pending_.end()) continue;
      const absl::Time ready_at = it->second + debounce_;
      if (ready_at > now) {
        due.at = ready_at;
        due_.push(std::move(due));
        continue;
      }
      pending_.erase(it);
      const size_t slash = due.key.rfind('/');
      const std::string dir_key = slash == std::string::npos ? std::string() : due.key.substr(0, slash);
      const std::string name = slash == std::string::npos ? due.key : due.key.substr(slash + 1);
      if (!have_open_dir || dir_key != open_dir_key) {
        open_dir = UniqueFd(OpenDirBeneath(root_fd_.get(), dir_key, O_PATH));
        open_dir_key = dir_key;
        have_open_dir = true;
      }
      struct stat st;
      if (!open_dir.valid() || fstatat(open_dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
          !S_ISREG(st.st_mode)) {
        continue;
      }
      // A close, chmod or touch that left size, mtime and inode as last
      // reported is not news (the sweep's version would be the same).
      const FileVersion version{static_cast<int64_t>(st.st_size), st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                                static_cast<uint64_t>(st.st_ino)};
      auto [reported, inserted] = reported_.try_emplace(due.key, version);
      if (!inserted) {
        if (reported->second == version) continue;
        reported->second = version;
      } else if (reported_.size() > max_pending_) {
        reported_.clear();  // bounded memory; the cost is a possible repeat
        reported_.emplace(due.key, version);
      }
      batch.push_back(std::move(due.key));
      if (batch.size() >= max_batch_) Deliver(batch);
    }
    Deliver(batch);
    PublishSizes();
  }

  void Deliver(std::vector<std::string>& batch) {
    if (batch.empty() || stop_.load()) {
      batch.clear();
      return;
    }
    std::sort(batch.begin(), batch.end());
    reported_keys_.fetch_add(batch.size(), std::memory_order_relaxed);
    PublishSizes();
    try {
      on_keys_(std::move(batch));
    } catch (const std::exception& e) {
      spdlog::error("filesystem watcher {}: keys callback threw: {}", root_, e.what());
    } catch (...) {
      spdlog::error("filesystem watcher {}: keys callback threw", root_);
    }
    batch.clear();
  }

  // Constant after construction.
  const std::string root_;
  const std::vector<GlobMatcher> include_;
  const std::vector<GlobMatcher> exclude_;
  const absl::Duration debounce_;
  const size_t max_watches_;
  const size_t max_pending_;
  const size_t max_batch_;
  const Clock& clock_;
  const bool use_proc_fd_;
  const UniqueFd wake_fd_;

  std::atomic<bool> stop_{false};
  std::atomic<bool> simulate_overflow_{false};
  std::atomic<uint64_t> watched_directories_{0};
  std::atomic<uint64_t> pending_keys_{0};
  std::atomic<uint64_t> reported_keys_{0};
  std::atomic<uint64_t> overflows_{0};
  std::atomic<uint64_t> events_{0};

  // Owned by Start() until the thread starts, then by the thread.
  KeysCallback on_keys_;
  OverflowCallback on_overflow_;
  UniqueFd root_fd_;
  UniqueFd inotify_fd_;
  int root_wd_ = -1;
  std::unordered_map<int, Directory> dirs_;
  std::map<std::string, int> wd_by_key_;                 // ordered: a subtree is one range
  std::unordered_map<std::string, absl::Time> pending_;  // key -> last change
  // One entry per pending key, earliest first; an entry whose key changed
  // since is pushed back with its new time when it reaches the top.
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> due_;
  // The version each key had when last reported (at most max_pending keys).
  std::unordered_map<std::string, FileVersion> reported_;
  std::string overflow_reason_;  // not yet delivered
  int overflow_extra_ = 0;
  absl::Time last_overflow_ = absl::InfinitePast();
};

FsWatcher::FsWatcher(std::string root, std::unique_ptr<Loop> loop)
    : root_(std::move(root)), loop_(std::move(loop)) {}

FsWatcher::~FsWatcher() { Stop(); }

absl::StatusOr<std::unique_ptr<FsWatcher>> FsWatcher::Create(FsWatcherOptions options) {
  if (options.root.empty()) {
    return absl::InvalidArgumentError("filesystem watcher: root is empty; set it to a directory");
  }
  const std::string where = fmt::format("filesystem watcher for {}", options.root);
  if (options.debounce < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(fmt::format("{}: debounce is negative", where));
  }
  if (options.max_watches == 0 || options.max_pending == 0 || options.max_batch == 0) {
    return absl::InvalidArgumentError(
        fmt::format("{}: max_watches, max_pending and max_batch must be at least 1", where));
  }
  char* resolved = realpath(options.root.c_str(), nullptr);
  if (resolved == nullptr) {
    const int err = errno;
    std::string message = fmt::format("{}: root: {}", where, ErrnoText(err));
    if (err == ENOENT) return absl::NotFoundError(message);
    if (err == EACCES) return absl::PermissionDeniedError(message);
    return absl::InvalidArgumentError(message);
  }
  std::string root(resolved);
  free(resolved);
  UniqueFd root_fd(open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) {
    const int err = errno;
    std::string message = fmt::format("{}: cannot open root {}: {}", where, root, ErrnoText(err));
    if (err == ENOTDIR) return absl::InvalidArgumentError(message + "; it is not a directory");
    if (err == EACCES) return absl::PermissionDeniedError(message);
    return absl::UnavailableError(message);
  }

  if (options.include.empty()) options.include.push_back("**");
  std::vector<GlobMatcher> include, exclude;
  for (std::string& pattern : options.include) {
    auto matcher = GlobMatcher::Create(std::move(pattern));
    if (!matcher.ok()) return Annotate(matcher.status(), where + " include");
    include.push_back(*std::move(matcher));
  }
  for (std::string& pattern : options.exclude) {
    auto matcher = GlobMatcher::Create(std::move(pattern));
    if (!matcher.ok()) return Annotate(matcher.status(), where + " exclude");
    exclude.push_back(*std::move(matcher));
  }

  UniqueFd inotify_fd(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_fd.valid()) {
    const int err = errno;
    std::string message = fmt::format("{}: cannot create an inotify instance: {}", where, ErrnoText(err));
    if (err == EMFILE || err == ENFILE || err == ENOMEM) {
      return absl::ResourceExhaustedError(message + "; raise the sysctl fs.inotify.max_user_instances");
    }
    return absl::UnavailableError(message);
  }
  UniqueFd wake_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_fd.valid()) {
    return absl::ResourceExhaustedError(fmt::format("{}: eventfd: {}", where, ErrnoText(errno)));
  }
  struct stat st;
  const bool use_proc_fd = stat("/proc/self/fd", &st) == 0 && S_ISDIR(st.st_mode);

  auto loop = std::make_unique<Loop>(root, std::move(root_fd), std::move(inotify_fd), std::move(wake_fd),
                                     std::move(include), std::move(exclude), options, use_proc_fd);
  return std::unique_ptr<FsWatcher>(new FsWatcher(std::move(root), std::move(loop)));
}

absl::Status FsWatcher::Start(KeysCallback on_keys, OverflowCallback on_overflow) {
  if (!on_keys || !on_overflow) {
    return absl::InvalidArgumentError(
        fmt::format("filesystem watcher for {}: Start() needs both callbacks", root_));
  }
  absl::MutexLock lock(&mu_);
  if (started_) {
    return absl::FailedPreconditionError(
        fmt::format("filesystem watcher for {}: already started (or stopped); create a new watcher", root_));
  }
  started_ = true;
  loop_->SetCallbacks(std::move(on_keys), std::move(on_overflow));
  loop_->WatchWholeTree();
  try {
    thread_ = std::thread([this] {
      thread_id_.store(std::this_thread::get_id());
      loop_->Run();
      // Thread ids are reused: a later thread must not pass for this one.
      thread_id_.store(std::thread::id());
    });
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(
        fmt::format("filesystem watcher for {}: cannot start its thread: {}", root_, e.what()));
  }
  return absl::OkStatus();
}

void FsWatcher::Stop() {
  loop_->RequestStop();
  if (thread_id_.load() == std::this_thread::get_id()) return;  // from a callback
  absl::MutexLock lock(&mu_);
  started_ = true;
  if (thread_.joinable()) thread_.join();
}

FsWatcherStats FsWatcher::stats() const { return loop_->Stats(); }

void FsWatcher::SimulateQueueOverflowForTest() { loop_->SimulateQueueOverflow(); }

}  // namespace takedown
