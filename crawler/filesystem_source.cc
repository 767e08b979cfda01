#include "crawler/filesystem_source.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <optional>
#include <utility>

#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#endif

#include "absl/status/status.h"
#include "common/status_macros.h"
#include "crawler/glob_selection.h"
#include "crawler/unique_fd.h"
#include "fmt/format.h"

#if defined(SYS_openat2) && defined(RESOLVE_BENEATH)
#define TAKEDOWN_HAVE_OPENAT2 1
#else
#define TAKEDOWN_HAVE_OPENAT2 0
#endif

namespace takedown {
namespace {

// Files at least this large get a sequential read-ahead hint; smaller ones
// are read in one or two calls anyway.
constexpr off_t kReadAheadHintBytes = 1 << 20;

// Longest key Open() accepts; longer keys cannot name a file on Linux anyway.
constexpr size_t kMaxKeyBytes = PATH_MAX - 1;

std::string JoinKey(std::string_view dir_key, std::string_view name) {
  if (dir_key.empty()) return std::string(name);
  std::string key;
  key.reserve(dir_key.size() + 1 + name.size());
  key.append(dir_key);
  key.push_back('/');
  key.append(name);
  return key;
}

std::vector<std::string> SplitComponents(std::string_view path) {
  std::vector<std::string> components;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      components.emplace_back(path.substr(start));
      return components;
    }
    components.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

const char* SpecialFileKind(mode_t mode) {
  if (S_ISFIFO(mode)) return "fifo";
  if (S_ISSOCK(mode)) return "socket";
  if (S_ISCHR(mode)) return "character device";
  if (S_ISBLK(mode)) return "block device";
  return "unknown file type";
}

std::string VersionOf(const struct stat& st) {
  const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return fmt::format("{}:{}:{}", static_cast<int64_t>(st.st_size), mtime_ns,
                     static_cast<uint64_t>(st.st_ino));
}

// Lexically resolves `target` (a symlink's contents) relative to the directory
// `dir_key` under `root` (an absolute, resolved path); true when the result
// stays at or beneath the root.
bool LexicallyBeneath(const std::string& root, std::string_view dir_key, std::string_view target) {
  const bool absolute = !target.empty() && target.front() == '/';
  std::vector<std::string> stack;
  if (absolute) {
    if (root == "/") return true;
  } else if (!dir_key.empty()) {
    stack = SplitComponents(dir_key);
  }
  for (std::string& c : SplitComponents(absolute ? target.substr(1) : target)) {
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (stack.empty()) {
        if (!absolute) return false;  // climbs above the root
        continue;                     // "/.." is "/"
      }
      stack.pop_back();
      continue;
    }
    stack.push_back(std::move(c));
  }
  if (!absolute) return true;
  const std::vector<std::string> root_components = SplitComponents(std::string_view(root).substr(1));
  return stack.size() >= root_components.size() &&
         std::equal(root_components.begin(), root_components.end(), stack.begin());
}

// Reads one directory's entry names (without "." and ".."), sorted bytewise.
// Returns 0 or the errno that stopped the read. Does not take over `dir_fd`.
struct DirEntry {
  std::string name;
  unsigned char type;  // DT_*, possibly DT_UNKNOWN
};

int ReadSortedEntries(int dir_fd, std::vector<DirEntry>& entries) {
  int dup_fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return errno;
  // The directory offset is shared with dir_fd; rewind in case it was read.
  lseek(dup_fd, 0, SEEK_SET);
  DIR* dir = fdopendir(dup_fd);
  if (dir == nullptr) {
    int err = errno;
    ::close(dup_fd);
    return err;
  }
  int err = 0;
  while (true) {
    errno = 0;
    struct dirent* entry = readdir(dir);
    if (entry == nullptr) {
      err = errno;
      break;
    }
    std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    entries.push_back(DirEntry{std::string(name), entry->d_type});
  }
  closedir(dir);
  std::sort(entries.begin(), entries.end(),
            [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  return err;
}

class FileReader final : public ObjectReader {
 public:
  FileReader(UniqueFd fd, std::string source_id, std::string key)
      : fd_(std::move(fd)), source_id_(std::move(source_id)), key_(std::move(key)) {}

  absl::StatusOr<size_t> Read(std::span<uint8_t> buffer) override {
    if (buffer.empty()) return 0;
    while (true) {
      ssize_t n = ::read(fd_.get(), buffer.data(), buffer.size());
      if (n >= 0) return static_cast<size_t>(n);
      const int err = errno;
      if (err == EINTR) continue;
      std::string message = fmt::format("{}: {}: read failed: {}", source_id_, key_, ErrnoText(err));
      if (err == EIO) return absl::DataLossError(message);
      return absl::InternalError(message);
    }
  }

 private:
  UniqueFd fd_;
  const std::string source_id_;
  const std::string key_;
};

// 0: not probed yet, 1: openat2 works, -1: the kernel lacks it.
std::atomic<int> g_openat2_state{0};

}  // namespace

// One List() call: a depth-first walk with the cursor's components.
class FilesystemSource::Walker {
 public:
  Walker(const FilesystemSource& source, ListingSink& sink, std::string_view after)
      : source_(source), sink_(sink) {
    if (!after.empty()) cursor_ = SplitComponents(after);
  }

  absl::Status Run(int root_fd) {
    std::vector<DirEntry> entries;
    int err = ReadSortedEntries(root_fd, entries);
    if (err != 0) {
      return absl::UnavailableError(fmt::format("source '{}': cannot read root directory {}: {}", source_.id_,
                                                source_.root_, ErrnoText(err)));
    }
    WalkEntries(root_fd, "", 0, entries, cursor_.empty() ? std::nullopt : std::optional<size_t>(0));
    return absl::OkStatus();
  }

 private:
  // `cursor_level`: set when dir_key equals the first `*cursor_level`
  // components of the cursor, so entries of this directory are compared with
  // cursor_[*cursor_level]; unset when everything here orders after it.
  void WalkDirectory(int dir_fd, const std::string& dir_key, int depth, std::optional<size_t> cursor_level) {
    std::vector<DirEntry> entries;
    int err = ReadSortedEntries(dir_fd, entries);
    if (err == ENOENT) return;  // removed while we were reading it
    if (err != 0) {
      sink_.OnSkipped(dir_key, "cannot read directory: " + ErrnoText(err));
      // Keep whatever was read before the error.
    }
    WalkEntries(dir_fd, dir_key, depth, entries, cursor_level);
  }

  void WalkEntries(int dir_fd, const std::string& dir_key, int depth, const std::vector<DirEntry>& entries,
                   std::optional<size_t> cursor_level) {
    auto first = entries.begin();
    if (cursor_level) {
      // Entries named below the cursor's component order entirely before it.
      const std::string& bound = cursor_[*cursor_level];
      first = std::lower_bound(entries.begin(), entries.end(), bound,
                               [](const DirEntry& e, const std::string& b) { return e.name < b; });
      if (first != entries.end() && first->name == bound) {
        const bool last = *cursor_level + 1 == cursor_.size();
        // The entry's key equals the cursor (last) or is a proper prefix of it:
        // the entry itself is not after the cursor, but what is under it may be.
        HandleEntry(dir_fd, dir_key, depth, *first, /*self_after_cursor=*/false,
                    last ? std::nullopt : std::optional<size_t>(*cursor_level + 1));
        ++first;
      }
    }
    for (auto it = first; it != entries.end() && !stopped_; ++it) {
      HandleEntry(dir_fd, dir_key, depth, *it, /*self_after_cursor=*/true, std::nullopt);
    }
  }

  void HandleEntry(int dir_fd, const std::string& dir_key, int depth, const DirEntry& entry,
                   bool self_after_cursor, std::optional<size_t> child_cursor_level) {
    if (stopped_) return;
    const std::string key = JoinKey(dir_key, entry.name);
    if (entry.type == DT_DIR) {
      EnterDirectory(dir_fd, key, depth, entry.name, self_after_cursor, child_cursor_level,
                     /*type_confirmed=*/false);
      return;
    }
    if (!self_after_cursor && entry.type != DT_UNKNOWN) return;
    Classify(dir_fd, key, depth, entry.name, self_after_cursor, child_cursor_level);
  }

  // Stats the entry (without following symlinks) and acts on what it is.
  void Classify(int dir_fd, const std::string& key, int depth, const std::string& name,
                bool self_after_cursor, std::optional<size_t> child_cursor_level) {
    struct stat st;
    if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      const int err = errno;
      if (err == ENOENT) return;
      if (self_after_cursor) sink_.OnSkipped(key, "cannot stat: " + ErrnoText(err));
      return;
    }
    if (S_ISDIR(st.st_mode)) {
      EnterDirectory(dir_fd, key, depth, name, self_after_cursor, child_cursor_level,
                     /*type_confirmed=*/true);
      return;
    }
    if (!self_after_cursor) return;
    if (S_ISREG(st.st_mode)) {
      if (!source_.SelectsFile(key)) return;
      ObjectRef ref;
      ref.source_id = source_.id_;
      ref.key = key;
      ref.version = VersionOf(st);
      ref.size = static_cast<uint64_t>(st.st_size);
      if (!sink_.OnObject(std::move(ref))) stopped_ = true;
      return;
    }
    if (S_ISLNK(st.st_mode)) {
      // A symlink may stand for a file or a directory: report it when the
      // globs would have taken either.
      if (source_.SelectsFile(key) || !source_.PrunesDirectory(key)) {
        sink_.OnSkipped(key, source_.SymlinkReason(dir_fd, name, key));
      }
      return;
    }
    if (source_.SelectsFile(key)) {
      sink_.OnSkipped(key, std::string("special file: ") + SpecialFileKind(st.st_mode));
    }
  }

  void EnterDirectory(int dir_fd, const std::string& key, int depth, const std::string& name,
                      bool self_after_cursor, std::optional<size_t> child_cursor_level, bool type_confirmed) {
    if (source_.PrunesDirectory(key)) return;
    if (depth + 1 > kMaxDepth) {
      sink_.OnSkipped(key, fmt::format("directory nested deeper than {} levels; not read", kMaxDepth));
      return;
    }
    UniqueFd fd(openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) {
      const int err = errno;
      if (err == ENOENT) return;
      if ((err == ENOTDIR || err == ELOOP) && !type_confirmed) {
        // Replaced by something else since readdir: act on what it is now.
        Classify(dir_fd, key, depth, name, self_after_cursor, child_cursor_level);
        return;
      }
      if (err == ENOTDIR || err == ELOOP) return;  // raced twice; next sweep sees it
      sink_.OnSkipped(key, "cannot read directory: " + ErrnoText(err));
      return;
    }
    WalkDirectory(fd.get(), key, depth + 1, child_cursor_level);
  }

  const FilesystemSource& source_;
  ListingSink& sink_;
  std::vector<std::string> cursor_;
  bool stopped_ = false;
};

FilesystemSource::FilesystemSource(std::string id, std::string root, std::vector<GlobMatcher> include,
                                   std::vector<GlobMatcher> exclude, bool allow_openat2)
    : id_(std::move(id)),
      root_(std::move(root)),
      include_(std::move(include)),
      exclude_(std::move(exclude)),
      allow_openat2_(allow_openat2) {}

absl::StatusOr<std::unique_ptr<FilesystemSource>> FilesystemSource::Create(FilesystemSourceOptions options) {
  if (options.id.empty()) {
    return absl::InvalidArgumentError("filesystem source: id is empty; give every source an id");
  }
  if (options.root.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("filesystem source '{}': root is empty; set it to a directory", options.id));
  }
  char* resolved = realpath(options.root.c_str(), nullptr);
  if (resolved == nullptr) {
    const int err = errno;
    std::string message =
        fmt::format("filesystem source '{}': root {}: {}", options.id, options.root, ErrnoText(err));
    if (err == ENOENT) return absl::NotFoundError(message);
    if (err == EACCES) return absl::PermissionDeniedError(message);
    return absl::InvalidArgumentError(message);
  }
  std::string root(resolved);
  free(resolved);
  struct stat st;
  if (stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        fmt::format("filesystem source '{}': root {} is not a directory", options.id, options.root));
  }

  if (options.include.empty()) options.include.push_back("**");
  std::vector<GlobMatcher> include, exclude;
  for (std::string& pattern : options.include) {
    auto matcher = GlobMatcher::Create(std::move(pattern));
    if (!matcher.ok()) {
      return Annotate(matcher.status(), fmt::format("filesystem source '{}' include", options.id));
    }
    include.push_back(*std::move(matcher));
  }
  for (std::string& pattern : options.exclude) {
    auto matcher = GlobMatcher::Create(std::move(pattern));
    if (!matcher.ok()) {
      return Annotate(matcher.status(), fmt::format("filesystem source '{}' exclude", options.id));
    }
    exclude.push_back(*std::move(matcher));
  }
  return std::unique_ptr<FilesystemSource>(new FilesystemSource(
      std::move(options.id), std::move(root), std::move(include), std::move(exclude), options.allow_openat2));
}

bool FilesystemSource::SelectsFile(std::string_view key) const { return GlobsSelectFile(include_, exclude_, key); }

bool FilesystemSource::PrunesDirectory(std::string_view dir_key) const {
  return GlobsPruneDirectory(include_, exclude_, dir_key);
}

std::string FilesystemSource::SymlinkReason(int dir_fd, std::string_view name, std::string_view key) const {
  static constexpr char kLeaves[] = "symlink leaves the source root";
  static constexpr char kInside[] = "symlink not followed (its target is swept under its own path)";
  const std::string path = root_ == "/" ? "/" + std::string(key) : root_ + "/" + std::string(key);
  if (char* resolved = realpath(path.c_str(), nullptr)) {
    std::string_view target(resolved);
    const bool inside = root_ == "/" || target == root_ ||
                        (target.size() > root_.size() && target.substr(0, root_.size()) == root_ &&
                         target[root_.size()] == '/');
    free(resolved);
    return inside ? kInside : kLeaves;
  }
  // Dangling or looping: judge by the link's own text.
  std::string target(PATH_MAX, '\0');
  ssize_t n = readlinkat(dir_fd, std::string(name).c_str(), target.data(), target.size());
  if (n < 0) return kInside;
  target.resize(static_cast<size_t>(n));
  const std::string_view dir_key =
      key.size() > name.size() ? key.substr(0, key.size() - name.size() - 1) : std::string_view();
  return LexicallyBeneath(root_, dir_key, target) ? kInside : kLeaves;
}

absl::StatusOr<std::shared_ptr<const int>> FilesystemSource::RootPath(bool renew) {
  {
    std::lock_guard lock(root_mu_);
    if (root_path_fd_ && !renew) return root_path_fd_;
  }
  int fd = open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return absl::UnavailableError(
        fmt::format("source '{}': cannot open root directory {}: {}", id_, root_, ErrnoText(err)));
  }
  std::shared_ptr<const int> shared(new int(fd), [](const int* p) {
    ::close(*p);
    delete p;
  });
  std::lock_guard lock(root_mu_);
  root_path_fd_ = shared;
  return shared;
}

absl::Status FilesystemSource::List(std::string_view after, ListingSink& sink) {
  (void)RootPath(/*renew=*/true);  // Open() reports it if the root is gone
  UniqueFd root_fd(open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) {
    const int err = errno;
    std::string message =
        fmt::format("source '{}': cannot open root directory {}: {}", id_, root_, ErrnoText(err));
    if (err == ENOENT) return absl::NotFoundError(message);
    if (err == EACCES) return absl::PermissionDeniedError(message);
    return absl::UnavailableError(message);
  }
  Walker walker(*this, sink, after);
  return walker.Run(root_fd.get());
}

absl::StatusOr<std::unique_ptr<ObjectReader>> FilesystemSource::Open(const ObjectRef& ref) {
  const std::string& key = ref.key;
  if (ref.source_id != id_) {
    return absl::InvalidArgumentError(
        fmt::format("source '{}': asked to open '{}' of source '{}'", id_, key, ref.source_id));
  }
  auto bad_key = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        fmt::format("{}: key '{}' is not a clean relative path: {}", id_, key, why));
  };
  if (key.empty()) return bad_key("it is empty");
  if (key.size() > kMaxKeyBytes) return bad_key("it is longer than PATH_MAX");
  if (key.find('\0') != std::string::npos) return bad_key("it contains a NUL byte");
  if (key.front() == '/') return bad_key("it is absolute");
  for (size_t start = 0; start <= key.size();) {
    size_t end = key.find('/', start);
    if (end == std::string::npos) end = key.size();
    std::string_view c(key.data() + start, end - start);
    if (c.empty()) return bad_key("it has an empty component");
    if (c == "." || c == "..") return bad_key("it has a '.' or '..' component");
    start = end + 1;
  }

  auto open_error = [&](int err) -> absl::Status {
    switch (err) {
      case ENOENT:
      case ENOTDIR:
        return absl::NotFoundError(fmt::format("{}: {}: no such file (it vanished after listing)", id_, key));
      case ELOOP:
      case EXDEV:
        return absl::FailedPreconditionError(
            fmt::format("{}: {}: a path component is now a symbolic link (the tree changed after listing); "
                        "symlinks are not followed",
                        id_, key));
      case EACCES:
      case EPERM:
        return absl::PermissionDeniedError(
            fmt::format("{}: {}: cannot open: {}; give takedownd read access or exclude the path", id_, key,
                        ErrnoText(err)));
      case EMFILE:
      case ENFILE:
      case ENOMEM:
        return absl::ResourceExhaustedError(fmt::format("{}: {}: cannot open: {}", id_, key, ErrnoText(err)));
      default:
        return absl::InternalError(fmt::format("{}: {}: cannot open: {}", id_, key, ErrnoText(err)));
    }
  };

  ASSIGN_OR_RETURN(std::shared_ptr<const int> root_fd, RootPath(/*renew=*/false));

  constexpr int kFileFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
  UniqueFd fd;
  bool opened = false;
#if TAKEDOWN_HAVE_OPENAT2
  if (allow_openat2_ && g_openat2_state.load(std::memory_order_relaxed) >= 0) {
    struct open_how how = {};
    how.flags = kFileFlags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    // EAGAIN: a concurrent rename made the kernel unsure the walk stayed
    // beneath the root; it asks us to retry.
    for (int attempt = 0; attempt < 16; ++attempt) {
      long r = syscall(SYS_openat2, *root_fd, key.c_str(), &how, sizeof(how));
      if (r >= 0) {
        fd = UniqueFd(static_cast<int>(r));
        g_openat2_state.store(1, std::memory_order_relaxed);
        opened = true;
        break;
      }
      const int err = errno;
      if (err == EINTR || err == EAGAIN) continue;
      if (err == ENOSYS) {
        g_openat2_state.store(-1, std::memory_order_relaxed);
        break;
      }
      return open_error(err);
    }
    if (!opened && g_openat2_state.load(std::memory_order_relaxed) >= 0) {
      return open_error(EAGAIN);
    }
  }
#endif
  if (!opened) {
    // Walk the directories one by one, each opened without following a
    // symlink, then the file itself with O_NOFOLLOW.
    const std::vector<std::string> components = SplitComponents(key);
    UniqueFd dir;
    int dir_fd = *root_fd;
    for (size_t i = 0; i + 1 < components.size(); ++i) {
      const char* name = components[i].c_str();
      UniqueFd next(openat(dir_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!next.valid()) {
        int err = errno;
        if (err == ENOTDIR) {
          // O_PATH|O_NOFOLLOW on a symlink gives ENOTDIR: tell the two apart.
          struct stat st;
          if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
            err = ELOOP;
          }
        }
        return open_error(err);
      }
      dir = std::move(next);
      dir_fd = dir.get();
    }
    while (true) {
      fd = UniqueFd(openat(dir_fd, components.back().c_str(), kFileFlags));
      if (fd.valid()) break;
      const int err = errno;
      if (err == EINTR) continue;
      return open_error(err);
    }
  }

  struct stat st;
  if (fstat(fd.get(), &st) != 0) return open_error(errno);
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        fmt::format("{}: {}: no longer a regular file (now a {}); not read", id_, key,
                    S_ISDIR(st.st_mode) ? "directory" : SpecialFileKind(st.st_mode)));
  }
  // O_NONBLOCK only guarded the open against a fifo swapped in; it has no
  // effect on reads of a regular file (open(2)), so it is left set rather
  // than cleared with two more system calls per object.
  if (st.st_size >= kReadAheadHintBytes) posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  return std::unique_ptr<ObjectReader>(new FileReader(std::move(fd), id_, key));
}

absl::StatusOr<ObjectRef> FilesystemSource::Stat(std::string_view requested) {
  std::string key(requested);
  if (!key.empty() && key.front() == '/') {
    const std::string prefix = root_ == "/" ? "/" : root_ + "/";
    if (key.size() <= prefix.size() || key.compare(0, prefix.size(), prefix) != 0) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: '{}' is outside the source root {}; give a path under the root or a key relative to it", id_,
          key, root_));
    }
    key.erase(0, prefix.size());
  }
  auto bad_key = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        fmt::format("{}: key '{}' is not a clean path under the source root {}: {}", id_,
                    std::string(requested), root_, why));
  };
  if (key.empty()) return bad_key("it is empty");
  if (key.size() > kMaxKeyBytes) return bad_key("it is longer than PATH_MAX");
  if (key.find('\0') != std::string::npos) return bad_key("it contains a NUL byte");
  const std::vector<std::string> components = SplitComponents(key);
  for (const std::string& c : components) {
    if (c == "..") return bad_key("it has a '..' component, which would leave the root");
    if (c.empty() || c == ".") return bad_key("it has an empty or '.' component");
  }
  if (components.size() > static_cast<size_t>(kMaxDepth) + 1) {
    return bad_key(
        fmt::format("it is nested deeper than {} directories, which listings do not enter", kMaxDepth));
  }
  // The listing's selection: every directory on the way must be entered, and
  // the globs must select the file.
  std::string dir_key;
  for (size_t i = 0; i + 1 < components.size(); ++i) {
    dir_key = JoinKey(dir_key, components[i]);
    if (PrunesDirectory(dir_key)) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: key '{}' is not swept: its directory '{}' is excluded by the source's include/exclude globs",
          id_, key, dir_key));
    }
  }
  if (!SelectsFile(key)) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: key '{}' is not swept: the source's include/exclude globs do not select it", id_, key));
  }

  auto walk_error = [&](int err, std::string_view where) -> absl::Status {
    switch (err) {
      case ENOENT:
      case ENOTDIR:
        return absl::NotFoundError(fmt::format("{}: {}: no such file under {}", id_, key, root_));
      case ELOOP:
        return absl::FailedPreconditionError(
            fmt::format("{}: {}: '{}' is a symbolic link; symlinks are not followed (the target is swept "
                        "under its own path)",
                        id_, key, where));
      case EACCES:
      case EPERM:
        return absl::PermissionDeniedError(fmt::format(
            "{}: {}: cannot look up '{}': {}; give takedownd read access", id_, key, where, ErrnoText(err)));
      default:
        return absl::InternalError(
            fmt::format("{}: {}: cannot look up '{}': {}", id_, key, where, ErrnoText(err)));
    }
  };

  ASSIGN_OR_RETURN(std::shared_ptr<const int> root_fd, RootPath(/*renew=*/false));
  UniqueFd dir;
  int dir_fd = *root_fd;
  std::string walked;
  for (size_t i = 0; i + 1 < components.size(); ++i) {
    const char* name = components[i].c_str();
    walked = JoinKey(walked, components[i]);
    UniqueFd next(openat(dir_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) {
      int err = errno;
      if (err == ENOTDIR) {
        // O_PATH|O_NOFOLLOW on a symlink gives ENOTDIR: tell the two apart.
        struct stat st;
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) err = ELOOP;
      }
      return walk_error(err, walked);
    }
    dir = std::move(next);
    dir_fd = dir.get();
  }
  struct stat st;
  if (fstatat(dir_fd, components.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return walk_error(errno, key);
  if (S_ISLNK(st.st_mode)) return walk_error(ELOOP, key);
  if (S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: '{}' is a directory; give the keys of the files in it (or sweep the source)", id_, key));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        fmt::format("{}: {}: special file: {}; not read", id_, key, SpecialFileKind(st.st_mode)));
  }
  ObjectRef ref;
  ref.source_id = id_;
  ref.key = std::move(key);
  ref.version = VersionOf(st);
  ref.size = static_cast<uint64_t>(st.st_size);
  return ref;
}

int FilesystemSource::CompareKeys(std::string_view a, std::string_view b) const {
  // Component-wise order equals bytewise order with '/' ranked below every
  // other byte: where keys first differ, a '/' means that key's component
  // ended first, i.e. was a prefix of the other's.
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] == b[i]) continue;
    if (a[i] == '/') return -1;
    if (b[i] == '/') return 1;
    return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]) ? -1 : 1;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

}  // namespace takedown
