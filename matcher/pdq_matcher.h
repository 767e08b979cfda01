// PdqMatcher: PDQ-matches one image object (or a stored PDQ hash) against the
// PDQ entries of the loaded hash lists, with each list's threshold and
// minimum quality, and lets allowlists (known false positives) veto matches.
//
// MatchImage(bytes):
//   1. bytes over max_image_bytes, or a header whose width x height exceeds
//      limits.max_pixels: outcome kTooLarge, nothing decoded;
//   2. decode (exact: DecodeImage; fast: DecodeImageFast, see below) and
//      PdqHasher::HashDihedral;
//   3. every blocklist entry within the list's threshold of any of the 8
//      dihedral hashes matches, unless quality < the list's min_quality
//      (then the list is recorded in `skips` as "low_quality");
//   4. if the object's hash is within an allowlist's threshold of one of its
//      entries (any variant), every match is moved to `vetoes`, naming the
//      closest allowlist entry: a veto is reported, never silently dropped.
// Bad image bytes (not an image, corrupt, truncated, unsupported, too large)
// are an outcome in the result, never an error; MatchImage() returns an error
// only for an internal failure.
//
// Fast mode never changes what matches. A fast hash is only used to decide
// whether the image is a candidate: some blocklist entry within the list's
// threshold + fast_extra_radius. A candidate is decoded again exactly and
// re-hashed, and matching uses that exact hash (the result then says
// hash_mode kExact, rehashed true). A non-candidate keeps its fast hash
// (hash_mode kFast). Images the fast decoder would not reduce (not JPEG, or
// too small) are decoded exactly straight away. A JPEG without an
// end-of-image marker after its first scan is decoded exactly too, so a
// truncated JPEG is kCorrupt in both modes (the fast decoder would pad it
// with grey).
//
// Lists. SetList()/SetAllowlist() install a list version as a whole: the new
// entries are inserted into the index under a fresh internal key while the
// old version keeps answering, then a single pointer swap makes the new
// version (and its policy) current, and only then are the old entries
// removed. A lookup resolves every index hit through one snapshot of the
// lists, so it sees each list entirely in one version, never empty or mixed,
// while a list is being replaced. Memory for a list doubles during its
// replacement.
//
// Thread-safety: all methods are thread-safe. Any number of MatchImage() and
// MatchHash() calls run concurrently with each other and with list updates;
// list updates are serialised with each other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/digest_set.h"
#include "matcher/hash_list.h"
#include "matcher/image_decoder.h"
#include "matcher/pdq_hash.h"
#include "matcher/pdq_hasher.h"
#include "matcher/pdq_mih_index.h"

namespace takedown {

// Recorded with every PDQ hash and match: which PDQ implementation produced
// the hash. Bump it if the hashes this code computes could change.
inline constexpr std::string_view kPdqImplementationVersion = "takedown-pdq/1";

enum class PdqHashMode { kExact, kFast };
// "exact", "fast".
std::string_view PdqHashModeName(PdqHashMode mode);

enum class PdqImageOutcome {
  kHashed,       // hash and quality are set; matches/vetoes/skips apply
  kTooLarge,     // over max_image_bytes or limits.max_pixels; not decoded
  kCorrupt,      // a supported format, but truncated or undecodable
  kUnsupported,  // an image format or variant we cannot decode (GIF, HEIC, AVIF, animated WebP)
  kNotImage,     // not an image (by magic bytes)
};
// "hashed", "too_large", "corrupt", "unsupported", "not_image".
std::string_view PdqImageOutcomeName(PdqImageOutcome outcome);

struct PdqListPolicy {
  int threshold = 31;    // Hamming distance, inclusive; 0..256
  int min_quality = 50;  // 0..100; objects of lower PDQ quality are not matched
};

struct PdqMatcherOptions {
  // fast-vs-exact spread measured in docs/pdq-index.md: mean 1.0-1.3 bits,
  // max 4 bits over the 16 JPEGs that the fast decoder reduces (1/2 and
  // 1/4). 8 doubles the worst case seen. A larger radius costs nothing in
  // index probing for the default threshold: 31 + 1 .. 31 + 16 all probe
  // with MIH radius 2 (thresholds 32..47); it only adds exact re-decodes of
  // images that then do not match.
  static constexpr int kDefaultFastExtraRadius = 8;
  // takedownctl hash refuses larger files the same way.
  static constexpr uint64_t kDefaultMaxImageBytes = uint64_t{256} << 20;

  PdqHashMode mode = PdqHashMode::kExact;
  int fast_extra_radius = kDefaultFastExtraRadius;   // >= 0
  ImageLimits limits;                                // limits.max_image_pixels
  uint64_t max_image_bytes = kDefaultMaxImageBytes;  // limits.max_image_bytes
};

// One blocklist entry that an object matched.
struct PdqListMatch {
  std::string list_name;
  std::string list_version;
  std::string entry_id;
  ContentCategory category = ContentCategory::kOther;
  PdqHash entry_hash;
  int distance = 0;   // minimum over the object's 8 dihedral hashes
  int threshold = 0;  // the list's threshold at the time of the match
  int quality = 0;    // the object's PDQ quality
  int variant = 0;    // PdqDihedral::Variant giving `distance`

  friend bool operator==(const PdqListMatch&, const PdqListMatch&) = default;
};

// A blocklist match that an allowlist entry vetoed.
struct PdqVeto {
  PdqListMatch match;
  std::string allowlist_name;
  std::string allowlist_version;
  std::string allowlist_entry_id;
  int distance = 0;   // object to the allowlist entry, minimum over the 8 variants
  int threshold = 0;  // the allowlist's threshold
  int variant = 0;

  friend bool operator==(const PdqVeto&, const PdqVeto&) = default;
};

// A blocklist the object was not matched against.
struct PdqListSkip {
  static constexpr std::string_view kLowQuality = "low_quality";
  std::string list_name;
  std::string list_version;
  std::string reason;  // kLowQuality
  int quality = 0;
  int min_quality = 0;
  // Entries within the list's threshold that were therefore not reported.
  size_t suppressed = 0;

  friend bool operator==(const PdqListSkip&, const PdqListSkip&) = default;
};

struct PdqMatchResult {
  // Ordered by distance, then list name, then entry id.
  std::vector<PdqListMatch> matches;
  std::vector<PdqVeto> vetoes;     // in the order of `matches`
  std::vector<PdqListSkip> skips;  // ordered by list name
};

struct PdqImageResult {
  PdqImageOutcome outcome = PdqImageOutcome::kNotImage;
  std::string message;  // why, when outcome != kHashed; empty otherwise

  // From the image header; has_header false when it could not be read.
  bool has_header = false;
  ImageFormat format = ImageFormat::kJpeg;
  uint32_t width = 0;
  uint32_t height = 0;

  // Set when outcome == kHashed. `hash` is dihedral.hashes[kOriginal].
  PdqHash hash;
  PdqDihedral dihedral;
  int quality = 0;
  PdqHashMode hash_mode = PdqHashMode::kExact;  // which decode produced `hash`
  bool rehashed = false;                        // a fast-mode candidate, re-hashed in exact mode
  std::string_view implementation = kPdqImplementationVersion;

  std::vector<PdqListMatch> matches;
  std::vector<PdqVeto> vetoes;
  std::vector<PdqListSkip> skips;
};

enum class PdqListKind { kBlocklist, kAllowlist };

struct PdqListInfo {
  std::string name;
  std::string version;
  PdqListKind kind = PdqListKind::kBlocklist;
  PdqListPolicy policy;  // allowlists: threshold only
  size_t entries = 0;    // entries given to SetList/SetAllowlist, less those removed
};

// The raw 32 bytes of a HashListEntry of type kPdq (the bytes its 64 hex
// digits spell) as a PdqHash, and back. nullopt unless exactly 32 bytes.
std::optional<PdqHash> PdqHashFromDigest(std::string_view raw);
std::string PdqHashToDigest(const PdqHash& hash);

// The kPdq entries of `entries` (others are skipped), with list_name set to
// `list_name`, ready for SetList()/SetAllowlist(). DataLoss naming the list
// and entry if a PDQ digest is not 32 bytes (the parser never produces one;
// a damaged store can).
absl::StatusOr<std::vector<PdqIndexEntry>> PdqIndexEntriesFromHashList(std::string_view list_name,
                                                                       std::span<const HashListEntry> entries);
inline absl::StatusOr<std::vector<PdqIndexEntry>> PdqIndexEntriesFromHashList(const HashList& list) {
  return PdqIndexEntriesFromHashList(list.name, list.entries);
}

class PdqMatcher {
 public:
  // Longest list name accepted (the index keys add a generation suffix).
  static constexpr size_t kMaxListNameBytes = 512;

  // InvalidArgument for a negative fast_extra_radius or a zero max_pixels.
  // Builds two PdqMihIndexes (about 25 MB each when empty).
  static absl::StatusOr<std::unique_ptr<PdqMatcher>> Create(const PdqMatcherOptions& options);

  ~PdqMatcher();
  PdqMatcher(const PdqMatcher&) = delete;
  PdqMatcher& operator=(const PdqMatcher&) = delete;

  // Installs `entries` as the whole PDQ content of blocklist `list_name`,
  // version `version`, with `policy` (replacing any previous version and
  // policy; see the header comment for what concurrent lookups see). The
  // entries' list_name fields are ignored. An empty `entries` installs an
  // empty list. InvalidArgument (nothing changes) for an empty or too long
  // list name, a threshold outside 0..256, a min_quality outside 0..100, or
  // an entry id longer than PdqIndex::kMaxNameBytes; ResourceExhausted if the
  // index is full.
  absl::Status SetList(const std::string& list_name, const std::string& version, const PdqListPolicy& policy,
                       std::vector<PdqIndexEntry> entries);
  // Removes the blocklist; false if it was not loaded.
  bool RemoveList(const std::string& list_name);

  // The same for an allowlist: an object within `threshold` of any of its
  // entries vetoes every blocklist match of that object. Allowlists and
  // blocklists have separate names.
  absl::Status SetAllowlist(const std::string& name, const std::string& version, int threshold,
                            std::vector<PdqIndexEntry> entries);
  bool RemoveAllowlist(const std::string& name);

  // Retracts one entry of the current version of a blocklist or allowlist;
  // false if there is no such entry.
  bool RemoveEntry(PdqListKind kind, const std::string& list_name, const std::string& entry_id);

  // Hashes and matches one object's bytes; see the header comment.
  absl::StatusOr<PdqImageResult> MatchImage(std::span<const uint8_t> bytes) const;

  // Matches an already computed hash (e.g. one stored for an object swept
  // before a list was imported): steps 3 and 4 above. `quality` is the
  // object's PDQ quality (normally dihedral.quality, which is not read).
  PdqMatchResult MatchHash(const PdqDihedral& dihedral, int quality) const;

  // True if some blocklist has at least one PDQ entry, i.e. hashing an image
  // can produce a match.
  bool HasEntries() const;

  // Every loaded list, blocklists first, each kind ordered by name.
  std::vector<PdqListInfo> Lists() const;

  const PdqMatcherOptions& options() const { return options_; }

 private:
  struct ListVersion;
  struct Registry;
  using RegistryPtr = std::shared_ptr<const Registry>;

  explicit PdqMatcher(const PdqMatcherOptions& options);

  absl::Status SetListImpl(PdqListKind kind, const std::string& name, const std::string& version,
                           const PdqListPolicy& policy, std::vector<PdqIndexEntry> entries);
  bool RemoveListImpl(PdqListKind kind, const std::string& name);
  PdqMihIndex& IndexFor(PdqListKind kind) {
    return kind == PdqListKind::kBlocklist ? block_index_ : allow_index_;
  }

  RegistryPtr Snapshot() const;
  // Makes `next` current and waits until no lookup uses an older snapshot.
  // REQUIRES: write_mu_ held.
  void Publish(RegistryPtr next);

  PdqMatchResult MatchWith(const Registry& registry, const PdqDihedral& dihedral, int quality) const;
  // The blocklists (with entries) whose min_quality exceeds `quality`.
  static std::vector<PdqListSkip> LowQualitySkips(const Registry& registry, int quality);
  // True if some blocklist entry lies within its list's threshold + `extra`.
  bool HasCandidate(const Registry& registry, const PdqDihedral& dihedral, int extra) const;

  // Constant after construction.
  const PdqMatcherOptions options_;
  const PdqHasher hasher_{};

  // The indexes are thread-safe themselves. Their list names are internal
  // keys (list name, NUL, generation); a hit whose key is not in the
  // lookup's Registry snapshot belongs to a version being installed or
  // removed and is ignored.
  PdqMihIndex block_index_;
  PdqMihIndex allow_index_;

  std::mutex write_mu_;  // serialises list updates; guards next_generation_
  uint64_t next_generation_ = 1;
  mutable std::mutex mu_;
  RegistryPtr registry_;  // guarded by mu_; never null; immutable once published
};

}  // namespace takedown
