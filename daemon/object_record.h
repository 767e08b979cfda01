// ObjectRecord: what the store keeps about one swept object (never its
// content): where it is, which version was read, its digests and the outcome,
// and for an object read over HTTP the fetch's evidence (FetchRecord).
// Stored in the `objects` column family under ObjectKey(source, key) in a
// compact tagged binary layout (docs/storage.md); records written as JSON by
// earlier releases are still read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/digest_set.h"
#include "crawler/http_fetcher.h"
#include "matcher/pdq_hasher.h"
#include "matcher/pdq_matcher.h"

namespace takedown {

enum class ObjectStatus {
  kHashed,   // digests computed
  kFailed,   // vanished or unreadable while being read; `error` says why
  kSkipped,  // not read on purpose (over a limit); `error` says which
};

std::string_view ObjectStatusName(ObjectStatus status);

// What became of an object that is an archive (docs/archives.md "In sweeps").
enum class ArchiveOutcome {
  kNone,         // not an archive, or recorded before archives were expanded
  kExpanded,     // every member recorded
  kLimit,        // a limit was hit: members up to it recorded; archive_message names the limit
  kCorrupt,      // corrupt, truncated or encrypted headers: members before the damage recorded
  kNotArchive,   // its first bytes look like an archive, but it is no format that is read
  kUnreadable,   // reading it again to expand it failed (e.g. it vanished in between)
  kDisabled,     // expansion is off (limits.archive_max_depth 0)
  kNotExpanded,  // a nested archive (a member) that was not expanded: depth or buffer limit, corrupt
};

std::string_view ArchiveOutcomeName(ArchiveOutcome outcome);

// One request of a fetch: the first, or one per redirect followed.
struct FetchHop {
  std::string url;  // as requested
  int status = 0;   // 0 when no response arrived
  std::string ip;   // the peer's address; empty when no connection was made

  friend bool operator==(const FetchHop&, const FetchHop&) = default;
};

// The evidence of the HTTP fetch that read (or failed to read) an object
// (docs/sources.md "Fetch records on object records"): what a removal order
// or a re-check names. Times are on the fetcher's clock. Strings are bounded
// when set from a fetch (SetFetchRecord), and so is the number of hops.
struct FetchRecord {
  // The first request and at most 20 redirects (the fetcher's maximum).
  static constexpr size_t kMaxHops = 21;
  static constexpr size_t kMaxHeaderValueBytes = 1024;

  int status = 0;  // of the last response; 0 when none arrived
  // As given to the fetcher. Stored only when it differs from the record's
  // key; a decoded record always has it (the key when not stored).
  std::string requested_url;
  std::string final_url;
  std::vector<FetchHop> hops;  // in order, at most kMaxHops
  uint32_t hops_omitted = 0;   // hops beyond kMaxHops, not kept
  std::string ip;              // the last hop's peer
  std::string content_type;    // Content-Type as served (the record's content_type is sniffed)
  std::string server;          // Server header
  std::string etag;
  std::string last_modified;
  // FetchErrorName() when the fetch failed in transport or on a limit
  // ("timeout", "connection_refused", "body_too_large", ...); empty when it
  // completed, whatever the status.
  std::string error;
  absl::Time started_at;  // when the first hop started
  absl::Duration duration;

  friend bool operator==(const FetchRecord&, const FetchRecord&) = default;
};

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

  // Archives: the outcome of expanding this object (kNone for anything that
  // is not an archive) and why, when not kExpanded. The counts cover every
  // nesting level: member records written (readable or not), those of them
  // unreadable (status kFailed), and the matches recorded on members.
  ArchiveOutcome archive_outcome = ArchiveOutcome::kNone;
  std::string archive_message;
  uint64_t archive_members = 0;
  uint64_t archive_members_unreadable = 0;
  uint64_t archive_member_matches = 0;
  // Set on the record of an archive member (key "outer!member/path"): the key
  // of the source's object that holds it, the one to open, remove or re-check.
  // Empty for the source's own objects.
  std::string container;

  // Objects read over HTTP (a url_list source): the fetch of the latest
  // read, successful or not. nullopt for other sources.
  std::optional<FetchRecord> fetch;
};

// Store key: source_id '\0' key, so one source's objects are a prefix range.
std::string ObjectKey(std::string_view source_id, std::string_view key);

// Copies a PDQ result's outcome, hashes and image size into the record.
void SetPdqResult(const PdqImageResult& result, ObjectRecord& record);
// The stored dihedral hashes and quality; nullopt unless the record holds a
// PDQ hash.
std::optional<PdqDihedral> StoredPdqDihedral(const ObjectRecord& record);

// Sets record.fetch from `fetch` (the body is not used): strings are cut to
// kMaxHttpUrlBytes (URLs) or FetchRecord::kMaxHeaderValueBytes (header
// values), hops after the first FetchRecord::kMaxHops are counted, not kept.
void SetFetchRecord(const HttpFetchResult& fetch, ObjectRecord& record);

std::string EncodeObjectRecord(const ObjectRecord& record);
// DataLoss, naming the record's key when known, if `encoded` is malformed.
absl::StatusOr<ObjectRecord> DecodeObjectRecord(std::string_view encoded);

}  // namespace takedown
