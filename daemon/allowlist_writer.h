// AllowlistWriter: records a reviewer's "false positive" so the same match
// never comes back: the matched digest is added to the allowlist that vetoes
// the list it matched (daemon/list_policy.h), and the in-memory indexes are
// updated, so later sweeps and retro-matches veto it (audited as match.veto).
//
// FileAllowlistWriter (daemon/file_allowlist_writer.h) implements it over the
// hash-list manager. Implementations must be thread-safe; they may block
// (file and store writes, index rebuild of the allowlist).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace takedown {

struct AllowlistAddition {
  std::string list_name;   // the blocklist that matched
  std::string hash_type;   // md5 | sha1 | sha256 | pdq
  std::string digest_hex;  // lower-case hex, as in MatchEvidence
  std::string category;    // csam | terrorist | other (of the matched entry)
  std::string case_id;     // the rejected case, for the record
  std::string reason;      // the reviewer's reason
};

class AllowlistWriter {
 public:
  virtual ~AllowlistWriter() = default;
  // Adds every digest not yet on its allowlist. Idempotent.
  virtual absl::Status Add(const std::vector<AllowlistAddition>& additions, const std::string& actor) = 0;
};

}  // namespace takedown
