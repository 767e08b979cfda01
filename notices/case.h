// Case: everything known about one stored object that matched a hash list: the
// object, the evidence (which digests matched which list entries), the current
// state and the audited history of every transition.
//
// A case is keyed by its object (CaseIdFor), so processing the same object
// again, e.g. after a crash, finds the same case instead of opening a second
// one. Cases are plain values; the functions here are pure and thread-safe on
// distinct values. Persisting them (RocksDB `cases` column family) is the
// caller's job, as CaseToJson/CaseFromJson.
//
// Content is never part of a case: only digests and metadata.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "notices/case_state.h"
#include "notices/case_terms.h"

namespace takedown {

// Bounds that keep a case record (and a corrupt or hostile one) small.
inline constexpr size_t kMaxCaseEvidence = 10'000;
inline constexpr size_t kMaxCaseHistory = 100'000;
inline constexpr size_t kMaxActorLength = 256;
inline constexpr size_t kMaxReasonLength = 4096;

// One match of one digest of the object against one hash-list entry.
struct MatchEvidence {
  std::string hash_type;   // md5 | sha1 | sha256 | pdq
  std::string digest_hex;  // lower-case hex of the object's digest that matched
  std::string list_name;
  std::string list_version;
  std::string entry_id;
  std::string category;  // csam | terrorist | other
  int distance = 0;      // Hamming distance (pdq); 0 for exact digests
  int threshold = 0;     // the list's distance threshold in force
  int quality = -1;      // PDQ quality 0..100; -1 when not applicable
  std::string algorithm_version;
  absl::Time matched_at;

  friend bool operator==(const MatchEvidence&, const MatchEvidence&) = default;
};

// The matched object as its source listed it, with its digests (lower-case hex).
struct CaseObject {
  std::string source_id;
  std::string key;
  std::string version;
  uint64_t size = 0;
  std::string md5_hex, sha1_hex, sha256_hex;
  std::string content_type;  // sniffed from magic bytes, e.g. "image/jpeg"

  friend bool operator==(const CaseObject&, const CaseObject&) = default;
};

struct CaseTransition {
  CaseState from = CaseState::kDetected;
  CaseState to = CaseState::kDetected;
  absl::Time at;
  std::string actor;   // "reviewer:alice", "policy:auto-action", "timer:deadline"
  std::string reason;  // free text shown in the audit trail

  friend bool operator==(const CaseTransition&, const CaseTransition&) = default;
};

struct Case {
  std::string id;
  CaseState state = CaseState::kDetected;
  std::string category;  // most severe of the evidence: csam > terrorist > other
  CaseObject object;
  std::vector<MatchEvidence> evidence;
  std::vector<CaseTransition> history;
  absl::Time created_at;
  absl::Time updated_at;
  // Legal profile, deadline, pending timers, removal and penalties, kept by
  // the case engine; empty for a case it has not handled yet.
  CaseTerms terms;

  friend bool operator==(const Case&, const Case&) = default;
};

// "c-" + the first 24 hex digits of SHA-256(source_id '\0' key). Deterministic:
// the same object always maps to the same case id. Source ids never contain
// NUL (they are config names), so the encoding is unambiguous.
std::string CaseIdFor(std::string_view source_id, std::string_view key);

// A new case for `object` in state detected, with id CaseIdFor(source_id,
// key), no evidence yet, and created_at = updated_at = now.
Case NewCase(CaseObject object, absl::Time now);

// Severity rank of a category name: csam 2, terrorist 1, other 0, anything
// else -1.
int CategorySeverity(std::string_view category);

// OK if `evidence` is well-formed: known hash_type, lower-case hex digest of
// that type's length (md5 32, sha1 40, sha256 and pdq 64), known category,
// non-empty list_name and entry_id, distance and threshold >= 0, quality -1 or
// 0..100, strings valid UTF-8 and within kMaxJsonStringField. InvalidArgument
// naming the field otherwise.
absl::Status ValidateEvidence(const MatchEvidence& evidence);

// Adds `evidence` to the case unless evidence with the same (hash_type,
// digest_hex, list_name, entry_id) is already there, and raises the case's
// category if the new evidence is more severe. Returns true if added, false
// for a duplicate. InvalidArgument if ValidateEvidence fails;
// ResourceExhausted past kMaxCaseEvidence. Does not touch updated_at.
absl::StatusOr<bool> AddEvidence(Case& c, MatchEvidence evidence);

// Moves the case to `to` if ValidateTransition(c.state, to) allows it: appends
// the transition to the history and sets state and updated_at = at. The actor
// must be non-empty; actor and reason must be UTF-8 and are bounded
// (kMaxActorLength, kMaxReasonLength). On error the case is unchanged.
absl::Status ApplyTransition(Case& c, CaseState to, absl::Time at, std::string actor, std::string reason);

// Lossless: CaseFromJson(CaseToJson(c)) == c for every case built with the
// functions above. Times are RFC 3339 UTC with full sub-second precision. The
// result is always valid UTF-8 (safe for a strict dump()): object fields that
// are not UTF-8, such as a file name in a legacy encoding, are written
// readable with U+FFFD plus an exact "<field>_hex" sibling. Terms are written
// as member "terms" only when not empty (CaseTermsToJson).
nlohmann::json CaseToJson(const Case& c);
// Validates everything it reads (types, limits, states, evidence, that the
// history ends in the current state, the optional "terms"); InvalidArgument
// naming the case and field otherwise.
absl::StatusOr<Case> CaseFromJson(const nlohmann::json& json);

}  // namespace takedown
