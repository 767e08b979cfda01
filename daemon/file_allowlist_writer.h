// FileAllowlistWriter: the AllowlistWriter of the daemon. Each allowlist is a
// plain hash-list file (docs/hash-lists.md) that the config also names as a
// list of kind allowlist, so it is loaded at every start like any other list.
// Add() appends one line per new digest (entry id "fp-<type>-<digest>",
// preceded by a comment naming the case, actor and reason), replaces the file
// atomically (write, fsync, rename, fsync of the directory), then re-imports
// it through HashListManager::ImportFile, which updates the store and the
// in-memory indexes in one audited step.
//
// Only lists that the ListPolicies mark as allowlists are written to: a
// misconfiguration that would turn a false positive into a blocklist entry is
// refused with FailedPrecondition.
//
// Thread-safe (additions are serialised). Borrows the manager and policies.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/allowlist_writer.h"
#include "daemon/hash_list_manager.h"
#include "daemon/list_policy.h"

namespace takedown {

struct FileAllowlistOptions {
  // Allowlist that takes the false positives of lists not named below.
  std::string default_allowlist;
  // Blocklist name -> the allowlist that takes its false positives.
  std::map<std::string, std::string, std::less<>> allowlist_for;
  // Allowlist name -> its file (the config's lists[].path).
  std::map<std::string, std::string, std::less<>> paths;
  // Largest allowlist file read back before appending.
  uint64_t max_file_bytes = 64ull << 20;
};

class FileAllowlistWriter final : public AllowlistWriter {
 public:
  FileAllowlistWriter(HashListManager& lists, const ListPolicies& policies, FileAllowlistOptions options);

  // FailedPrecondition when a list has no allowlist, the allowlist has no
  // path or is not configured as an allowlist; InvalidArgument for a
  // malformed addition; the I/O or import error otherwise (the file is then
  // unchanged or already complete; a retry is safe).
  absl::Status Add(const std::vector<AllowlistAddition>& additions, const std::string& actor) override;

  // Creates every allowlist file in options.paths that does not exist yet
  // (a header line and no entries), so the daemon's start-up import of the
  // configured lists finds it. Call before importing the configured lists.
  absl::Status EnsureFiles();

  // "fp-<hash_type>-<digest_hex>": the entry id of a false positive.
  static std::string EntryIdFor(const std::string& hash_type, const std::string& digest_hex);

 private:
  absl::Status AddTo(const std::string& allowlist, const std::vector<const AllowlistAddition*>& additions,
                     const std::string& actor);

  HashListManager& lists_;
  const ListPolicies& policies_;
  const FileAllowlistOptions options_;
  std::mutex mu_;
};

}  // namespace takedown
