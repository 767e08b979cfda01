// HashListManager: imports hash lists into the store and keeps the in-memory
// exact index in step with it.
//
// An import parses the whole file first (a bad file changes nothing), then
// replaces the list's entries and its metadata in one audited write batch,
// then swaps the list in the index (lookups keep serving the old version
// until the swap), then matches the new entries against every object already
// swept ("retro-match"), without reading storage again.
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
#include "daemon/store.h"
#include "matcher/exact_index.h"
#include "matcher/hash_list.h"

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
  HashListManager(Store& store, AuditLog& audit, ExactIndex& index, CaseRecorder& recorder, Clock& clock,
                  HashListLimits limits);

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

  Store& store_;
  AuditLog& audit_;
  ExactIndex& index_;
  CaseRecorder& recorder_;
  Clock& clock_;
  const HashListLimits limits_;
  std::mutex import_mu_;
};

// Valid list names: [a-z0-9][a-z0-9._-]{0,63}.
bool IsValidListName(std::string_view name);

}  // namespace takedown
