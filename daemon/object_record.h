// ObjectRecord: what the store keeps about one swept object (never its
// content): where it is, which version was read, its digests and the outcome.
// Stored in the `objects` column family under ObjectKey(source, key) in a
// compact tagged binary layout (docs/storage.md); records written as JSON by
// earlier releases are still read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/digest_set.h"
#include "matcher/pdq_hasher.h"
#include "matcher/pdq_matcher.h"

namespace takedown {

enum class ObjectStatus {
  kHashed,   // digests computed
  kFailed,   // vanished or unreadable while being read; `error` says why
  kSkipped,  // not read on purpose (over a limit); `error` says which
};

std::string_view ObjectStatusName(ObjectStatus status);

struct ObjectRecord {
  std::string source_id;
  std::string key;
  std::string version;
  uint64_t size = 0;
  ObjectStatus status = ObjectStatus::kHashed;
  std::string error;
  DigestSet digests;  // meaningful only when status == kHashed
  std::string content_type;
  std::string sweep_id;
  uint32_t match_count = 0;
  absl::Time swept_at;

  // PDQ, for objects sniffed as images while PDQ hashing is on. pdq_outcome
  // is a PdqImageOutcomeName ("hashed", "too_large", "corrupt", ...) or
  // empty when no PDQ hash was attempted.
  std::string pdq_outcome;
  std::string pdq_message;  // why, when the outcome is not "hashed"
  // When hashed: the 8 dihedral hashes (PdqHashToDigest each, original
  // first; 256 bytes), the quality, the mode ("exact", "fast") and the
  // implementation version that produced them.
  std::string pdq_dihedral;
  int pdq_quality = 0;
  std::string pdq_mode;
  std::string pdq_implementation;
  uint32_t image_width = 0;
  uint32_t image_height = 0;
  // Matches an allowlist vetoed (each also in the audit log).
  uint32_t vetoed_matches = 0;
};

// Store key: source_id '\0' key, so one source's objects are a prefix range.
std::string ObjectKey(std::string_view source_id, std::string_view key);

// Copies a PDQ result's outcome, hashes and image size into the record.
void SetPdqResult(const PdqImageResult& result, ObjectRecord& record);
// The stored dihedral hashes and quality; nullopt unless the record holds a
// PDQ hash.
std::optional<PdqDihedral> StoredPdqDihedral(const ObjectRecord& record);

std::string EncodeObjectRecord(const ObjectRecord& record);
// DataLoss, naming the record's key when known, if `encoded` is malformed.
absl::StatusOr<ObjectRecord> DecodeObjectRecord(std::string_view encoded);

}  // namespace takedown
