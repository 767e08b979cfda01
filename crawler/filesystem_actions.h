// Removal actions on the files of a FilesystemSource, for removal orders the
// hosting provider executes (daemon/source_content_action.h).
//
// `key` is a key as FilesystemSource::Stat() takes it and is checked the same
// way (clean path under the root, selected by the globs, no symlink on the
// way). The directories down to the file are then opened one by one without
// following symlinks, and the action works on the last name relative to its
// parent directory, so a path swapped for a symlink cannot make it act
// outside the root.
//
// All three are idempotent: an action already done is OK. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crawler/filesystem_source.h"

namespace takedown {

// Unlinks the file. OK when nothing is there any more.
absl::Status DeleteSourceFile(FilesystemSource& source, std::string_view key);

// Takes every permission bit off the file (mode 000): the content stays in
// place for preservation, and nothing but root (CAP_DAC_OVERRIDE) can read it,
// so a web server serving the tree answers 403. OK when the mode already is
// 000. NotFound when the file is gone.
absl::Status DisableSourceFileAccess(FilesystemSource& source, std::string_view key);

// Moves the file to `quarantine_dir`/<source id>/<key> (directories created
// 0700, the file made 0400): by rename on the same file system, otherwise by
// copy, fsync and unlink. Returns the quarantined path. OK with that path
// when a previous call already moved it. InvalidArgument when quarantine_dir
// is not an absolute path or lies inside the source root (it would be swept
// again); NotFound when the file is gone and was not quarantined.
absl::StatusOr<std::string> QuarantineSourceFile(FilesystemSource& source, std::string_view key,
                                                 std::string_view quarantine_dir);

}  // namespace takedown
