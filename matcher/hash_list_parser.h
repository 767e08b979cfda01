// Parser of plain hash-list files: one `hash_type,hash,category[,entry_id[,tags]]`
// entry per line, comma- or tab-separated; hash_type is md5, sha1, sha256 or
// pdq (a 256-bit PDQ hash as 64 hex digits), and one list may mix them. The
// format and every error message are described in docs/hash-lists.md.
//
// All or nothing: a file with any bad line yields only an error, never a
// partial HashList, so a caller can parse a new version completely before
// swapping it in. Errors:
//   InvalidArgument    bad lines; the message lists up to 20 of them as
//                      "<file>:<line>: <reason>" plus "(and N more errors)".
//   ResourceExhausted  the file is larger than limits.max_bytes or has more
//                      than limits.max_entries entries (message names the
//                      config key to raise).
//   NotFound, PermissionDenied, FailedPrecondition, Unavailable
//                      the file cannot be opened or read.
// Thread-safe: the functions share no state.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "matcher/hash_list.h"

namespace takedown {

// Streams the file at `path` (read once, in chunks). `path` is also the name
// used in error messages. The list's version is the SHA-256 of the file.
absl::StatusOr<HashList> ParseHashListFile(const std::string& path, const std::string& list_name,
                                           const HashListLimits& limits);

// Parses `content` as if it were a file called `display_name`.
absl::StatusOr<HashList> ParseHashList(std::string_view content, const std::string& display_name,
                                       const std::string& list_name, const HashListLimits& limits);

}  // namespace takedown
