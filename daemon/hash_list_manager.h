// HashListManager: imports hash lists into the store and keeps the in-memory
// exact index in step with it.
//
// An import parses the whole file first (a bad file changes nothing), then
// replaces the list's entries and its metadata in one audited write batch,
// then swaps the list in the exact index and, for its PDQ entries, in the
// PdqMatcher (lookups keep serving the old version until the swap), then
// matches the new entries against every object already swept
// ("retro-match": stored digests and stored PDQ hashes), without reading
// storage again, vetoing as the sweep does (daemon/allowlist_veto.h): an
// allowlisted object gets no case. An allowlist is loaded the same way but
// never makes cases: the pipeline uses it to veto matches
// (daemon/list_policy.h).
//
// Thread-safe; imports are serialised.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "daemon/audit_log.h"
#include "daemon/case_recorder.h"
#include "daemon/list_policy.h"
#include "daemon/store.h"
#include "matcher/exact_index.h"
#include "matcher/hash_list.h"
#include "matcher/pdq_matcher.h"

namespace takedown {

struct HashListInfo {
  std::string name;
  std::string version;
  uint64_t entries = 0;
  uint64_t duplicate_lines = 0;
  absl::Time imported_at;
  std::string origin;  // file path, or "api"
  // Set by the import's write, cleared when retro-match finished: a crash in
  // between makes the next start run retro-match again.
  bool retro_pending = false;
};

struct ImportResult {
  HashListInfo info;
  bool unchanged = false;  // same version as stored: nothing rewritten
  uint64_t retro_cases = 0;
  uint64_t retro_evidence = 0;
};

class HashListManager {
 public:
  // `policies` and `pdq` may be null: every list a blocklist with default
  // PDQ settings; no PDQ matching.
  HashListManager(Store& store, AuditLog& audit, ExactIndex& index, CaseRecorder& recorder, Clock& clock,
                  HashListLimits limits, const ListPolicies* policies = nullptr, PdqMatcher* pdq = nullptr);

  // Rebuilds the index from the store (at start) and finishes any retro-match
  // a crash interrupted.
  absl::Status LoadAll();

  absl::StatusOr<ImportResult> ImportFile(const std::string& name, const std::string& path,
                                          const std::string& actor);
  absl::StatusOr<ImportResult> ImportContent(const std::string& name, std::string_view content,
                                             const std::string& actor);

  absl::StatusOr<std::vector<HashListInfo>> List() const;

 private:
  absl::StatusOr<ImportResult> Import(HashList list, const std::string& origin, const std::string& actor);
  absl::StatusOr<std::pair<uint64_t, uint64_t>> RetroMatch(const std::string& list_name);
  absl::Status InstallPdq(const std::string& name, const std::string& version,
                          const std::vector<HashListEntry>& entries);

  Store& store_;
  AuditLog& audit_;
  ExactIndex& index_;
  CaseRecorder& recorder_;
  Clock& clock_;
  const HashListLimits limits_;
  const ListPolicies default_policies_;
  const ListPolicies& policies_;
  PdqMatcher* const pdq_;
  std::mutex import_mu_;
};

// Valid list names: [a-z0-9][a-z0-9._-]{0,63}.
bool IsValidListName(std::string_view name);

}  // namespace takedown
