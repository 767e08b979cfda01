#include "crawler/filesystem_actions.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>
#include <vector>

#include "common/status_macros.h"
#include "crawler/unique_fd.h"
#include "fmt/format.h"

namespace takedown {
namespace {

constexpr int kMaxQuarantineSuffix = 100;

std::vector<std::string> Components(std::string_view key) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    out.emplace_back(key.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

absl::Status ErrnoStatus(int err, std::string_view what) {
  std::string message = fmt::format("{}: {}", what, ErrnoText(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(message);
    case ELOOP:
    case ENOTDIR:
    case EOPNOTSUPP:
      return absl::FailedPreconditionError(message + " (a path component changed into a symlink or file)");
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message + "; takedownd needs write access to the directory");
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

struct ParentDir {
  UniqueFd fd;
  std::string name;  // the last component, relative to fd
};

// Opens the directories of `components` below `base_fd` one by one, never
// following a symlink; with `create`, missing ones are made (0700).
absl::StatusOr<UniqueFd> WalkDirectories(int base_fd, const std::vector<std::string>& components,
                                         size_t count, bool create, std::string_view where) {
  UniqueFd dir(openat(base_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return ErrnoStatus(errno, where);
  for (size_t i = 0; i < count; ++i) {
    const char* name = components[i].c_str();
    UniqueFd next(openat(dir.get(), name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid() && errno == ENOENT && create) {
      if (mkdirat(dir.get(), name, 0700) != 0 && errno != EEXIST) {
        return ErrnoStatus(errno, fmt::format("{}: cannot create directory '{}'", where, components[i]));
      }
      next = UniqueFd(openat(dir.get(), name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    }
    if (!next.valid()) return ErrnoStatus(errno, fmt::format("{}: '{}'", where, components[i]));
    dir = std::move(next);
  }
  return dir;
}

absl::StatusOr<ParentDir> OpenSourceParent(const FilesystemSource& source, const std::string& key) {
  UniqueFd root(open(source.root().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  const std::string where = fmt::format("{}: {}", source.id(), key);
  if (!root.valid())
    return ErrnoStatus(errno, fmt::format("{}: cannot open the root {}", where, source.root()));
  std::vector<std::string> components = Components(key);
  ParentDir parent;
  ASSIGN_OR_RETURN(parent.fd, WalkDirectories(root.get(), components, components.size() - 1, false, where));
  parent.name = components.back();
  return parent;
}

absl::Status CopyThenUnlink(int src_dir, const std::string& src_name, int dst_dir,
                            const std::string& dst_name, std::string_view where) {
  UniqueFd in(openat(src_dir, src_name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!in.valid()) return ErrnoStatus(errno, fmt::format("{}: cannot open for the copy", where));
  struct stat st;
  if (fstat(in.get(), &st) != 0) return ErrnoStatus(errno, where);
  if (!S_ISREG(st.st_mode))
    return absl::FailedPreconditionError(fmt::format("{}: no longer a regular file", where));
  const std::string tmp_name = "." + dst_name + ".partial";
  UniqueFd out(
      openat(dst_dir, tmp_name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0400));
  if (!out.valid()) return ErrnoStatus(errno, fmt::format("{}: cannot create the quarantine copy", where));
  std::vector<char> buffer(1 << 20);
  while (true) {
    ssize_t n = read(in.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, fmt::format("{}: read", where));
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = write(out.get(), buffer.data() + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        const int err = errno;
        unlinkat(dst_dir, tmp_name.c_str(), 0);
        return ErrnoStatus(err, fmt::format("{}: writing the quarantine copy", where));
      }
      done += w;
    }
  }
  if (fsync(out.get()) != 0)
    return ErrnoStatus(errno, fmt::format("{}: fsync of the quarantine copy", where));
  if (renameat(dst_dir, tmp_name.c_str(), dst_dir, dst_name.c_str()) != 0)
    return ErrnoStatus(errno, fmt::format("{}: naming the quarantine copy", where));
  if (unlinkat(src_dir, src_name.c_str(), 0) != 0 && errno != ENOENT)
    return ErrnoStatus(errno,
                       fmt::format("{}: the copy is quarantined but the original cannot be removed", where));
  return absl::OkStatus();
}

}  // namespace

absl::Status DeleteSourceFile(FilesystemSource& source, std::string_view key) {
  absl::StatusOr<ObjectRef> ref = source.Stat(key);
  if (absl::IsNotFound(ref.status())) return absl::OkStatus();
  RETURN_IF_ERROR(ref.status());
  ASSIGN_OR_RETURN(ParentDir parent, OpenSourceParent(source, ref->key));
  if (unlinkat(parent.fd.get(), parent.name.c_str(), 0) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, fmt::format("{}: {}: cannot delete", source.id(), ref->key));
  }
  return absl::OkStatus();
}

absl::Status DisableSourceFileAccess(FilesystemSource& source, std::string_view key) {
  ASSIGN_OR_RETURN(ObjectRef ref, source.Stat(key));
  ASSIGN_OR_RETURN(ParentDir parent, OpenSourceParent(source, ref.key));
  const std::string where = fmt::format("{}: {}", source.id(), ref.key);
  struct stat st;
  if (fstatat(parent.fd.get(), parent.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return ErrnoStatus(errno, where);
  if (!S_ISREG(st.st_mode))
    return absl::FailedPreconditionError(fmt::format("{}: no longer a regular file", where));
  if ((st.st_mode & 07777) == 0) return absl::OkStatus();
  // AT_SYMLINK_NOFOLLOW: a name swapped for a symlink fails (EOPNOTSUPP)
  // instead of changing the link's target.
  if (fchmodat(parent.fd.get(), parent.name.c_str(), 0, AT_SYMLINK_NOFOLLOW) != 0)
    return ErrnoStatus(errno, fmt::format("{}: cannot take the permissions off", where));
  return absl::OkStatus();
}

absl::StatusOr<std::string> QuarantineSourceFile(FilesystemSource& source, std::string_view key,
                                                 std::string_view quarantine_dir) {
  namespace fs = std::filesystem;
  const std::string dir(quarantine_dir);
  if (dir.empty() || dir.front() != '/') {
    return absl::InvalidArgumentError(fmt::format(
        "source {}: the quarantine directory '{}' must be an absolute path (orders.quarantine_dir)",
        source.id(), dir));
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(fmt::format("source {}: cannot create the quarantine directory {}: {}",
                                                   source.id(), dir, ec.message()));
  }
  const fs::path real_dir = fs::canonical(dir, ec);
  if (ec) return absl::InternalError(fmt::format("quarantine directory {}: {}", dir, ec.message()));
  const std::string root_prefix = source.root() == "/" ? "/" : source.root() + "/";
  if (real_dir.string() == source.root() || real_dir.string().rfind(root_prefix, 0) == 0) {
    return absl::InvalidArgumentError(fmt::format(
        "source {}: the quarantine directory {} lies inside the source root {}; quarantined files "
        "would be swept again. Choose a directory outside it (orders.quarantine_dir)",
        source.id(), real_dir.string(), source.root()));
  }

  std::vector<std::string> dst_components = Components(source.id());
  absl::StatusOr<ObjectRef> ref = source.Stat(key);
  const std::string clean_key = ref.ok() ? ref->key : std::string(key);
  for (std::string& c : Components(clean_key)) dst_components.push_back(std::move(c));
  const std::string where = fmt::format("{}: {}", source.id(), clean_key);
  const std::string dst_path = real_dir.string() + "/" + source.id() + "/" + clean_key;

  UniqueFd base(open(real_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!base.valid()) return ErrnoStatus(errno, fmt::format("quarantine directory {}", real_dir.string()));
  if (absl::IsNotFound(ref.status())) {
    // Done before (the move succeeded, recording it did not)?
    absl::StatusOr<UniqueFd> dst_dir =
        WalkDirectories(base.get(), dst_components, dst_components.size() - 1, false, where);
    struct stat st;
    if (dst_dir.ok() &&
        fstatat(dst_dir->get(), dst_components.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(st.st_mode)) {
      return dst_path;
    }
    return ref.status();
  }
  RETURN_IF_ERROR(ref.status());

  ASSIGN_OR_RETURN(ParentDir parent, OpenSourceParent(source, clean_key));
  ASSIGN_OR_RETURN(UniqueFd dst_dir,
                   WalkDirectories(base.get(), dst_components, dst_components.size() - 1, true, where));
  // An earlier quarantined file of the same key is kept: the new one gets a
  // numbered name.
  std::string dst_name = dst_components.back();
  std::string final_path = dst_path;
  for (int suffix = 1;; ++suffix) {
    struct stat st;
    if (fstatat(dst_dir.get(), dst_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT) break;
    if (suffix > kMaxQuarantineSuffix) {
      return absl::ResourceExhaustedError(
          fmt::format("{}: {} earlier quarantined files of this key; clean up {}", where,
                      kMaxQuarantineSuffix, dst_path));
    }
    dst_name = fmt::format("{}.{}", dst_components.back(), suffix);
    final_path = fmt::format("{}.{}", dst_path, suffix);
  }
  if (renameat(parent.fd.get(), parent.name.c_str(), dst_dir.get(), dst_name.c_str()) != 0) {
    if (errno != EXDEV) return ErrnoStatus(errno, fmt::format("{}: cannot move to {}", where, final_path));
    RETURN_IF_ERROR(CopyThenUnlink(parent.fd.get(), parent.name, dst_dir.get(), dst_name, where));
  }
  if (fchmodat(dst_dir.get(), dst_name.c_str(), 0400, AT_SYMLINK_NOFOLLOW) != 0)
    return ErrnoStatus(errno,
                       fmt::format("{}: quarantined as {} but cannot set its mode", where, final_path));
  return final_path;
}

}  // namespace takedown
