// FilesystemSource: the regular files under one local directory tree.
//
// Keys are paths relative to the root with '/' separators ("a/b/c.jpg"):
// never empty, never starting with '/', never with "." or ".." components.
// They are the raw bytes of the file names (not necessarily UTF-8).
//
// Order: CompareKeys compares keys path component by path component, each
// component bytewise ("a/b" < "a-c" because "a" < "a-c"). That is the order of
// a depth-first walk visiting each directory's entries sorted by name, which is
// how List() walks. List(after) skips, without reading or stat-ing them, the
// subtrees that order entirely at or before `after`.
//
// Versions are "<size>:<mtime_ns>:<inode>" from lstat; ObjectRef.size is
// st_size at listing time.
//
// Never followed, never read: symlinks (reported to the sink as skipped: one
// leaving the root with "symlink leaves the source root", any other with
// "symlink not followed (its target is swept under its own path)"), fifos,
// sockets and devices ("special file: fifo" ...), directories that cannot be
// read ("cannot read directory: <strerror>") or nest deeper than 256 levels.
// Files and directories that vanish while listing are skipped silently.
//
// Include/exclude globs (crawler/glob.h) select files by key: a regular file
// is listed iff it matches some include and no exclude. A directory is not
// read at all when it matches an exclude, when an exclude matches everything
// under it ("**/.snapshot/**"), or when no include can match under it.
// Skipped entries are reported only when the globs would have selected them.
//
// Open() resolves the key beneath a descriptor of the root (opened once and
// renewed at each List(), so a root that was replaced is picked up), refusing
// symlinks in every component (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or
// a component-by-component O_NOFOLLOW walk where openat2 is unavailable), so a
// path swapped for a symlink after listing cannot make it read outside the
// root.
//
// Thread-safety: List() and any number of concurrent
// Open() calls may run at once; each ObjectReader is used by one thread at a
// time.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crawler/glob.h"
#include "crawler/source.h"

namespace takedown {

struct FilesystemSourceOptions {
  std::string id;
  // An existing directory. Symlinks in the root path itself are resolved once,
  // at Create().
  std::string root;
  // An empty list means {"**"}.
  std::vector<std::string> include = {"**"};
  std::vector<std::string> exclude;
  // false forces Open() to walk components with openat(O_NOFOLLOW) even when
  // the kernel has openat2; for tests of the fallback.
  bool allow_openat2 = true;
};

class FilesystemSource final : public Source {
 public:
  // Maximum directory nesting below the root that List() descends into.
  static constexpr int kMaxDepth = 256;

  // InvalidArgument for an empty id, a root that is not a directory or a
  // malformed glob; NotFound when the root does not exist.
  static absl::StatusOr<std::unique_ptr<FilesystemSource>> Create(FilesystemSourceOptions options);

  const std::string& id() const override { return id_; }
  // The root as resolved by realpath() at Create().
  const std::string& root() const { return root_; }

  // Errors only when the root itself cannot be opened or read.
  absl::Status List(std::string_view after, ListingSink& sink) override;

  // InvalidArgument for a key that is not a clean relative path or a ref of
  // another source; NotFound when the file (or a parent) vanished;
  // FailedPrecondition when a component is now a symlink or the key is no
  // longer a regular file; PermissionDenied when it cannot be opened.
  absl::StatusOr<std::unique_ptr<ObjectReader>> Open(const ObjectRef& ref) override;

  int CompareKeys(std::string_view a, std::string_view b) const override;

  // The ref List() would give `key` (same version string), from fstatat
  // beneath the root descriptor, never following a symlink. `key` is a key
  // as List() gives it, or an absolute path under the root (turned into that
  // key). InvalidArgument for a key outside the root (absolute elsewhere,
  // '..' components), not a clean path, nested deeper than kMaxDepth, not
  // selected by the globs (also through an excluded directory) or a
  // directory; FailedPrecondition when the file or a directory on its path is
  // a symlink, or it is a special file; NotFound when nothing is there;
  // PermissionDenied when a directory on the path cannot be searched.
  absl::StatusOr<ObjectRef> Stat(std::string_view key) override;

 private:
  class Walker;

  FilesystemSource(std::string id, std::string root, std::vector<GlobMatcher> include,
                   std::vector<GlobMatcher> exclude, bool allow_openat2);

  bool SelectsFile(std::string_view key) const;
  bool PrunesDirectory(std::string_view dir_key) const;
  // Why a symlink at `key` is not followed (one of the two reasons above).
  std::string SymlinkReason(int dir_fd, std::string_view name, std::string_view key) const;
  // An O_PATH descriptor of the root, shared with concurrent Open() calls;
  // `renew` opens a fresh one (List() does, once per listing).
  absl::StatusOr<std::shared_ptr<const int>> RootPath(bool renew);

  // Constant after construction.
  const std::string id_;
  const std::string root_;
  const std::vector<GlobMatcher> include_;
  const std::vector<GlobMatcher> exclude_;
  const bool allow_openat2_;

  std::mutex root_mu_;
  std::shared_ptr<const int> root_path_fd_;  // guarded by root_mu_
};

}  // namespace takedown
