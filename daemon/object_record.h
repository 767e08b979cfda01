// ObjectRecord: what the store keeps about one swept object (never its
// content): where it is, which version was read, its digests and the outcome.
// Stored in the `objects` column family under ObjectKey(source, key) in a
// compact tagged binary layout (docs/storage.md); records written as JSON by
// earlier releases are still read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/digest_set.h"

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
};

// Store key: source_id '\0' key, so one source's objects are a prefix range.
std::string ObjectKey(std::string_view source_id, std::string_view key);

std::string EncodeObjectRecord(const ObjectRecord& record);
// DataLoss, naming the record's key when known, if `encoded` is malformed.
absl::StatusOr<ObjectRecord> DecodeObjectRecord(std::string_view encoded);

}  // namespace takedown
