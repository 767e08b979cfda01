#include "notices/file_drop_channel.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <random>
#include <utility>

#include "fmt/format.h"
#include "notices/json_fields.h"

namespace takedown {
namespace {

constexpr mode_t kDirectoryMode = 0750;
constexpr mode_t kFileMode = 0640;
constexpr std::string_view kTmpMarker = ".json.tmp-";

std::string ErrnoText(int error) {
  char buffer[256];
  return strerror_r(error, buffer, sizeof(buffer));
}

// Errors of Deliver: the environment, not the notice, is at fault, so the
// dispatcher should retry (see file_drop_channel.h).
absl::Status DeliveryError(int error, std::string_view what, std::string_view path) {
  std::string message = fmt::format("file drop: cannot {} {}: {}", what, path, ErrnoText(error));
  if (error == ENOSPC || error == EDQUOT) return absl::ResourceExhaustedError(message);
  return absl::UnavailableError(message);
}

absl::Status SetupError(int error, std::string_view what, std::string_view path) {
  return absl::Status(absl::ErrnoToStatusCode(error),
                      fmt::format("file drop: cannot {} {}: {}", what, path, ErrnoText(error)));
}

class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports close(2)'s errno (0 on success).
  int Close() {
    int result = ::close(fd_);
    fd_ = -1;
    return result == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

int FsyncPath(const std::string& path, int flags) {
  ScopedFd fd(::open(path.c_str(), flags | O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return errno;
  if (::fsync(fd.get()) != 0) return errno;
  return fd.Close();
}

enum class Existing { kAbsent, kIdentical, kDifferent };

// Compares the file at `path` with `content`. Reads at most content.size() + 1
// bytes, so a huge foreign file costs nothing.
absl::StatusOr<Existing> CompareExisting(const std::string& path, const std::string& content) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    if (errno == ENOENT) return Existing::kAbsent;
    return DeliveryError(errno, "open existing notice file", path);
  }
  std::string existing(content.size() + 1, '\0');
  size_t filled = 0;
  while (filled < existing.size()) {
    ssize_t n = ::read(fd.get(), existing.data() + filled, existing.size() - filled);
    if (n < 0) {
      if (errno == EINTR) continue;
      return DeliveryError(errno, "read existing notice file", path);
    }
    if (n == 0) break;
    filled += static_cast<size_t>(n);
  }
  existing.resize(filled);
  if (existing != content) return Existing::kDifferent;
  // An earlier attempt may have crashed before its fsyncs: make the file durable
  // before reporting it delivered.
  if (::fsync(fd.get()) != 0) return DeliveryError(errno, "fsync existing notice file", path);
  return Existing::kIdentical;
}

absl::Status WriteAll(int fd, const std::string& content, const std::string& path) {
  size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return DeliveryError(errno, "write temporary file", path);
    }
    written += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Publishes `tmp` as `target` unless `target` exists. Returns 0, or the errno
// (EEXIST when the target is already there).
int LinkNoReplace(const std::string& tmp, const std::string& target) {
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  // The file system lacks RENAME_NOREPLACE: link(2) also never replaces.
  if (::link(tmp.c_str(), target.c_str()) != 0) return errno;
  ::unlink(tmp.c_str());
  return 0;
}

std::string RandomSuffix() {
  std::random_device device;
  uint64_t value = (static_cast<uint64_t>(device()) << 32) | device();
  return fmt::format("{:016x}", value);
}

// Hidden temporary files are ".<id>.json.tmp-<pid>-<random>"; removes those
// whose writer process no longer exists. Best effort: a failure here never
// stops the channel.
void RemoveStaleTemporaryFiles(const std::string& directory) {
  DIR* dir = ::opendir(directory.c_str());
  if (dir == nullptr) return;
  const pid_t self = ::getpid();
  while (dirent* entry = ::readdir(dir)) {
    std::string_view file(entry->d_name);
    if (file.empty() || file.front() != '.') continue;
    size_t marker = file.find(kTmpMarker);
    if (marker == std::string_view::npos) continue;
    std::string_view rest = file.substr(marker + kTmpMarker.size());
    size_t dash = rest.find('-');
    if (dash == 0 || dash == std::string_view::npos || dash > 9) continue;
    int64_t pid = 0;
    bool numeric = true;
    for (char ch : rest.substr(0, dash)) {
      if (ch < '0' || ch > '9') {
        numeric = false;
        break;
      }
      pid = pid * 10 + (ch - '0');
    }
    // pid 0 would address our own process group.
    if (!numeric || pid <= 0 || pid == self) continue;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
      ::unlink((directory + "/" + std::string(file)).c_str());
  }
  ::closedir(dir);
}

absl::Status MakeDirectories(const std::string& directory) {
  for (size_t pos = directory.find('/', 1);; pos = directory.find('/', pos + 1)) {
    std::string prefix = pos == std::string::npos ? directory : directory.substr(0, pos);
    if (!prefix.empty() && prefix.back() != '/' && ::mkdir(prefix.c_str(), kDirectoryMode) != 0 &&
        errno != EEXIST) {
      return SetupError(errno, "create directory", prefix);
    }
    if (pos == std::string::npos) break;
  }
  struct stat st;
  if (::stat(directory.c_str(), &st) != 0) return SetupError(errno, "stat directory", directory);
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(fmt::format(
        "file drop: {} exists but is not a directory; point the channel at a directory", directory));
  }
  return absl::OkStatus();
}

}  // namespace

FileDropChannel::FileDropChannel(std::string directory, std::string name)
    : directory_(std::move(directory)), name_(std::move(name)) {}

absl::StatusOr<std::unique_ptr<FileDropChannel>> FileDropChannel::Create(std::string directory,
                                                                         std::string name) {
  if (directory.empty()) return absl::InvalidArgumentError("file drop: the directory must not be empty");
  if (name.empty()) return absl::InvalidArgumentError("file drop: the channel name must not be empty");
  while (directory.size() > 1 && directory.back() == '/') directory.pop_back();
  if (absl::Status made = MakeDirectories(directory); !made.ok()) return made;
  if (::access(directory.c_str(), W_OK | X_OK) != 0) {
    return SetupError(errno, "write to directory", directory);
  }
  RemoveStaleTemporaryFiles(directory);
  return std::unique_ptr<FileDropChannel>(new FileDropChannel(std::move(directory), std::move(name)));
}

std::string FileDropChannel::Render(const Notice& notice) { return DumpJson(notice.payload, 2) + "\n"; }

absl::Status FileDropChannel::Deliver(const Notice& notice) {
  if (notice.channel != name_) {
    return absl::InvalidArgumentError(
        fmt::format("file drop {}: notice {} is addressed to channel '{}', not '{}'", directory_, notice.id,
                    notice.channel, name_));
  }
  if (!IsSafeNoticeId(notice.id)) {
    return absl::InvalidArgumentError(
        fmt::format("file drop {}: notice id '{}' is not usable as a file name", directory_, notice.id));
  }
  const std::string content = Render(notice);
  const std::string target = fmt::format("{}/{}.json", directory_, notice.id);
  auto conflict = [&] {
    return absl::AlreadyExistsError(
        fmt::format("file drop: {} already exists with different content; a delivered notice is never "
                    "overwritten (notice ids are unique per case, kind, channel and sequence)",
                    target));
  };

  absl::StatusOr<Existing> existing = CompareExisting(target, content);
  if (!existing.ok()) return existing.status();
  if (*existing == Existing::kDifferent) return conflict();
  if (*existing == Existing::kIdentical) {
    if (int error = FsyncPath(directory_, O_DIRECTORY); error != 0) {
      return DeliveryError(error, "fsync directory", directory_);
    }
    return absl::OkStatus();
  }

  const std::string tmp =
      fmt::format("{}/.{}{}{}-{}", directory_, notice.id, kTmpMarker, ::getpid(), RandomSuffix());
  ScopedFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, kFileMode));
  if (fd.get() < 0) return DeliveryError(errno, "create temporary file", tmp);
  auto fail = [&](absl::Status status) {
    ::unlink(tmp.c_str());
    return status;
  };
  if (absl::Status written = WriteAll(fd.get(), content, tmp); !written.ok()) return fail(written);
  if (::fsync(fd.get()) != 0) return fail(DeliveryError(errno, "fsync temporary file", tmp));
  if (int error = fd.Close(); error != 0) return fail(DeliveryError(error, "close temporary file", tmp));

  if (int error = LinkNoReplace(tmp, target); error != 0) {
    ::unlink(tmp.c_str());
    if (error != EEXIST) return DeliveryError(error, "rename temporary file to", target);
    // A concurrent delivery of the same notice won the race.
    existing = CompareExisting(target, content);
    if (!existing.ok()) return existing.status();
    if (*existing != Existing::kIdentical) return conflict();
  }
  if (int error = FsyncPath(directory_, O_DIRECTORY); error != 0) {
    return DeliveryError(error, "fsync directory", directory_);
  }
  return absl::OkStatus();
}

}  // namespace takedown
