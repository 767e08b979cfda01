#include "matcher/pdq_matcher.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "fmt/format.h"
#include "matcher/content_type.h"
#include "matcher/pdq_fast.h"

namespace takedown {

// One installed version of one list.
struct PdqMatcher::ListVersion {
  std::string name;
  std::string version;
  std::string key;  // the list name used in the index
  PdqListKind kind = PdqListKind::kBlocklist;
  PdqListPolicy policy;
  size_t entries = 0;
};

// The lists a lookup sees; immutable once published.
struct PdqMatcher::Registry {
  // By index key, which orders like the list name (the key is the name, NUL,
  // generation, and names contain no NUL).
  std::map<std::string, ListVersion, std::less<>> blocklists;
  std::map<std::string, ListVersion, std::less<>> allowlists;

  std::map<std::string, ListVersion, std::less<>>& Of(PdqListKind kind) {
    return kind == PdqListKind::kBlocklist ? blocklists : allowlists;
  }
  const std::map<std::string, ListVersion, std::less<>>& Of(PdqListKind kind) const {
    return kind == PdqListKind::kBlocklist ? blocklists : allowlists;
  }
  static int MaxThreshold(const std::map<std::string, ListVersion, std::less<>>& lists) {
    int max = -1;
    for (const auto& [key, list] : lists) {
      if (list.entries > 0) max = std::max(max, list.policy.threshold);
    }
    return max;
  }
  static const ListVersion* Find(const std::map<std::string, ListVersion, std::less<>>& lists,
                                 std::string_view key) {
    auto it = lists.find(key);
    return it == lists.end() ? nullptr : &it->second;
  }
  // The current version of list `name`, or end().
  std::map<std::string, ListVersion, std::less<>>::const_iterator FindByName(PdqListKind kind,
                                                                             const std::string& name) const {
    const auto& lists = Of(kind);
    auto it = lists.lower_bound(name + '\0');
    if (it != lists.end() && it->second.name == name) return it;
    return lists.end();
  }
};

namespace {

constexpr int kMaxThreshold = PdqHash::kBits;
constexpr int kMaxQuality = 100;

bool IsDecodableImageType(std::string_view mime) {
  return mime == "image/jpeg" || mime == "image/png" || mime == "image/gif" || mime == "image/webp" ||
         mime == "image/bmp" || mime == "image/tiff";
}

// The outcome for an error from ReadImageHeader(), DecodeImage() or
// DecodeImageFast(); nullopt for codes those do not return for bad input.
std::optional<PdqImageOutcome> OutcomeOfDecodeError(const absl::Status& status,
                                                    std::span<const uint8_t> bytes) {
  switch (status.code()) {
    case absl::StatusCode::kResourceExhausted:
      return PdqImageOutcome::kTooLarge;
    case absl::StatusCode::kDataLoss:
      return PdqImageOutcome::kCorrupt;
    case absl::StatusCode::kUnimplemented:
      return PdqImageOutcome::kUnsupported;
    case absl::StatusCode::kInvalidArgument: {
      // Either not one of the six formats, or a malformed header of one.
      const std::string_view mime =
          SniffContentType(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
      if (IsDecodableImageType(mime)) return PdqImageOutcome::kCorrupt;
      if (mime.substr(0, 6) == "image/") return PdqImageOutcome::kUnsupported;
      return PdqImageOutcome::kNotImage;
    }
    default:
      return std::nullopt;
  }
}

// Whether a JPEG has an end-of-image marker after the start of its first
// scan. The fast decoder cannot tell a truncated JPEG (libjpeg pads it with
// grey) while DecodeImage() can, so a JPEG that fails this check takes the
// exact path. Searching from the end finds the marker at once in a complete
// file, also when data follows it (phones append trailers, e.g. Samsung's
// "SEFT"); a marker in an APPn segment (an EXIF thumbnail's) comes before
// the first scan and does not count. Entropy-coded data cannot contain
// FF D9 (an FF there is followed by 00 or a restart marker).
bool JpegHasEndAfterFirstScan(std::span<const uint8_t> bytes) {
  const size_t n = bytes.size();
  if (n < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8) return false;
  size_t pos = 2;
  std::optional<size_t> first_scan;
  while (pos + 1 < n) {
    if (bytes[pos] != 0xFF) return false;
    const uint8_t marker = bytes[pos + 1];
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0xDA) {
      first_scan = pos;
      break;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // no length field
      pos += 2;
      continue;
    }
    if (pos + 3 >= n) return false;
    const size_t length = (size_t{bytes[pos + 2]} << 8) | bytes[pos + 3];
    if (length < 2) return false;
    pos += 2 + length;
  }
  if (!first_scan.has_value()) return false;
  const std::string_view data(reinterpret_cast<const char*>(bytes.data()), n);
  const size_t end = data.rfind("\xFF\xD9");
  return end != std::string_view::npos && end > *first_scan;
}

absl::Status CheckName(const std::string& what, const std::string& name) {
  if (name.empty() || name.size() > PdqMatcher::kMaxListNameBytes || name.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(
        fmt::format("PDQ {} name '{}' ({} bytes) is invalid: it must be 1 to {} bytes without NUL", what,
                    name.substr(0, 64), name.size(), PdqMatcher::kMaxListNameBytes));
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view PdqHashModeName(PdqHashMode mode) {
  switch (mode) {
    case PdqHashMode::kExact:
      return "exact";
    case PdqHashMode::kFast:
      return "fast";
  }
  return "exact";
}

std::string_view PdqImageOutcomeName(PdqImageOutcome outcome) {
  switch (outcome) {
    case PdqImageOutcome::kHashed:
      return "hashed";
    case PdqImageOutcome::kTooLarge:
      return "too_large";
    case PdqImageOutcome::kCorrupt:
      return "corrupt";
    case PdqImageOutcome::kUnsupported:
      return "unsupported";
    case PdqImageOutcome::kNotImage:
      return "not_image";
  }
  return "not_image";
}

std::optional<PdqHash> PdqHashFromDigest(std::string_view raw) {
  if (raw.size() != PdqHash::kBits / 8) return std::nullopt;
  PdqHash hash;
  // The hex form prints words[15] first, each word big-endian.
  for (int i = 0; i < PdqHash::kWords; ++i) {
    const auto high = static_cast<uint8_t>(raw[2 * i]);
    const auto low = static_cast<uint8_t>(raw[2 * i + 1]);
    hash.words[PdqHash::kWords - 1 - i] = static_cast<uint16_t>((high << 8) | low);
  }
  return hash;
}

std::string PdqHashToDigest(const PdqHash& hash) {
  std::string raw(PdqHash::kBits / 8, '\0');
  for (int i = 0; i < PdqHash::kWords; ++i) {
    const uint16_t word = hash.words[PdqHash::kWords - 1 - i];
    raw[2 * i] = static_cast<char>(word >> 8);
    raw[2 * i + 1] = static_cast<char>(word & 0xFF);
  }
  return raw;
}

absl::StatusOr<std::vector<PdqIndexEntry>> PdqIndexEntriesFromHashList(std::string_view list_name,
                                                                       std::span<const HashListEntry> entries) {
  std::vector<PdqIndexEntry> pdq_entries;
  for (const HashListEntry& e : entries) {
    if (e.type != HashType::kPdq) continue;
    std::optional<PdqHash> hash = PdqHashFromDigest(e.digest);
    if (!hash.has_value()) {
      return absl::DataLossError(fmt::format("hash list {}: entry {} has a malformed PDQ hash ({} bytes, not 32); "
                                             "import the list again",
                                             list_name, e.entry_id, e.digest.size()));
    }
    pdq_entries.push_back(PdqIndexEntry{*hash, std::string(list_name), e.entry_id, e.category});
  }
  return pdq_entries;
}

absl::StatusOr<std::unique_ptr<PdqMatcher>> PdqMatcher::Create(const PdqMatcherOptions& options) {
  if (options.fast_extra_radius < 0 || options.fast_extra_radius > kMaxThreshold) {
    return absl::InvalidArgumentError(
        fmt::format("matcher.pdq_fast_extra_radius is {}; it must be 0 to {} (bits)",
                    options.fast_extra_radius, kMaxThreshold));
  }
  if (options.limits.max_pixels == 0) {
    return absl::InvalidArgumentError("limits.max_image_pixels is 0; it must be at least 1");
  }
  return std::unique_ptr<PdqMatcher>(new PdqMatcher(options));
}

PdqMatcher::PdqMatcher(const PdqMatcherOptions& options)
    : options_(options), registry_(std::make_shared<const Registry>()) {}

PdqMatcher::~PdqMatcher() = default;

PdqMatcher::RegistryPtr PdqMatcher::Snapshot() const {
  std::lock_guard lock(mu_);
  return registry_;
}

void PdqMatcher::Publish(RegistryPtr next) {
  RegistryPtr old;
  {
    std::lock_guard lock(mu_);
    old = std::exchange(registry_, std::move(next));
  }
  // Lookups holding the old snapshot finish within milliseconds (one index
  // query each). Once they have, no lookup can resolve a hit to a version
  // the caller is about to remove from the index.
  while (old.use_count() > 1) std::this_thread::yield();
}

absl::Status PdqMatcher::SetList(const std::string& list_name, const std::string& version,
                                 const PdqListPolicy& policy, std::vector<PdqIndexEntry> entries) {
  return SetListImpl(PdqListKind::kBlocklist, list_name, version, policy, std::move(entries));
}

absl::Status PdqMatcher::SetAllowlist(const std::string& name, const std::string& version, int threshold,
                                      std::vector<PdqIndexEntry> entries) {
  PdqListPolicy policy;
  policy.threshold = threshold;
  policy.min_quality = 0;
  return SetListImpl(PdqListKind::kAllowlist, name, version, policy, std::move(entries));
}

bool PdqMatcher::RemoveList(const std::string& list_name) {
  return RemoveListImpl(PdqListKind::kBlocklist, list_name);
}

bool PdqMatcher::RemoveAllowlist(const std::string& name) {
  return RemoveListImpl(PdqListKind::kAllowlist, name);
}

absl::Status PdqMatcher::SetListImpl(PdqListKind kind, const std::string& name, const std::string& version,
                                     const PdqListPolicy& policy, std::vector<PdqIndexEntry> entries) {
  const std::string what = kind == PdqListKind::kBlocklist ? "list" : "allowlist";
  if (absl::Status valid = CheckName(what, name); !valid.ok()) return valid;
  if (policy.threshold < 0 || policy.threshold > kMaxThreshold) {
    return absl::InvalidArgumentError(
        fmt::format("PDQ {} '{}': threshold {} is outside 0..{}; set the list's pdq_threshold (default 31)",
                    what, name, policy.threshold, kMaxThreshold));
  }
  if (policy.min_quality < 0 || policy.min_quality > kMaxQuality) {
    return absl::InvalidArgumentError(fmt::format(
        "PDQ {} '{}': min_quality {} is outside 0..{}; set the list's pdq_min_quality (default 50)", what,
        name, policy.min_quality, kMaxQuality));
  }

  std::lock_guard write(write_mu_);
  ListVersion fresh;
  fresh.name = name;
  fresh.version = version;
  fresh.key = fmt::format("{}{}{}", name, '\0', next_generation_++);
  fresh.kind = kind;
  fresh.policy = policy;
  fresh.entries = entries.size();
  for (PdqIndexEntry& e : entries) e.list_name = fresh.key;

  // Invisible to lookups until published: their snapshots do not know the key.
  PdqMihIndex& index = IndexFor(kind);
  if (absl::Status inserted = index.Insert(entries); !inserted.ok()) {
    return absl::Status(inserted.code(), fmt::format("PDQ {} '{}' version {}: {}", what, name, version,
                                                     std::string(inserted.message())));
  }
  entries.clear();
  entries.shrink_to_fit();

  RegistryPtr current = Snapshot();
  auto next = std::make_shared<Registry>(*current);
  std::optional<std::string> old_key;
  if (auto it = current->FindByName(kind, name); it != current->Of(kind).end()) {
    old_key = it->first;
    next->Of(kind).erase(it->first);
  }
  current.reset();
  next->Of(kind).emplace(fresh.key, std::move(fresh));
  Publish(std::move(next));
  if (old_key.has_value()) index.RemoveList(*old_key);
  return absl::OkStatus();
}

bool PdqMatcher::RemoveListImpl(PdqListKind kind, const std::string& name) {
  std::lock_guard write(write_mu_);
  RegistryPtr current = Snapshot();
  auto it = current->FindByName(kind, name);
  if (it == current->Of(kind).end()) return false;
  const std::string key = it->first;
  auto next = std::make_shared<Registry>(*current);
  next->Of(kind).erase(key);
  current.reset();
  Publish(std::move(next));
  IndexFor(kind).RemoveList(key);
  return true;
}

bool PdqMatcher::RemoveEntry(PdqListKind kind, const std::string& list_name, const std::string& entry_id) {
  std::lock_guard write(write_mu_);
  RegistryPtr current = Snapshot();
  auto it = current->FindByName(kind, list_name);
  if (it == current->Of(kind).end()) return false;
  const std::string key = it->first;
  if (!IndexFor(kind).Remove(key, entry_id)) return false;
  auto next = std::make_shared<Registry>(*current);
  ListVersion& list = next->Of(kind).at(key);
  if (list.entries > 0) --list.entries;
  current.reset();
  Publish(std::move(next));
  return true;
}

bool PdqMatcher::HasEntries() const {
  RegistryPtr registry = Snapshot();
  for (const auto& [key, list] : registry->blocklists) {
    if (list.entries > 0) return true;
  }
  return false;
}

std::vector<PdqListInfo> PdqMatcher::Lists() const {
  RegistryPtr registry = Snapshot();
  std::vector<PdqListInfo> out;
  for (PdqListKind kind : {PdqListKind::kBlocklist, PdqListKind::kAllowlist}) {
    for (const auto& [key, list] : registry->Of(kind)) {
      out.push_back(PdqListInfo{list.name, list.version, list.kind, list.policy, list.entries});
    }
  }
  return out;
}

bool PdqMatcher::HasCandidate(const Registry& registry, const PdqDihedral& dihedral, int extra) const {
  const int max_threshold = Registry::MaxThreshold(registry.blocklists);
  if (max_threshold < 0) return false;
  for (const PdqMatch& hit : block_index_.Query(dihedral.hashes, max_threshold + extra)) {
    const ListVersion* list = Registry::Find(registry.blocklists, hit.entry.list_name);
    if (list != nullptr && hit.distance <= list->policy.threshold + extra) return true;
  }
  return false;
}

std::vector<PdqListSkip> PdqMatcher::LowQualitySkips(const Registry& registry, int quality) {
  std::vector<PdqListSkip> skips;
  for (const auto& [key, list] : registry.blocklists) {
    if (list.entries > 0 && quality < list.policy.min_quality) {
      skips.push_back(PdqListSkip{list.name, list.version, std::string(PdqListSkip::kLowQuality), quality,
                                  list.policy.min_quality, 0});
    }
  }
  return skips;
}

PdqMatchResult PdqMatcher::MatchHash(const PdqDihedral& dihedral, int quality) const {
  RegistryPtr registry = Snapshot();
  return MatchWith(*registry, dihedral, quality);
}

PdqMatchResult PdqMatcher::MatchWith(const Registry& registry, const PdqDihedral& dihedral,
                                     int quality) const {
  PdqMatchResult result;
  result.skips = LowQualitySkips(registry, quality);
  const int max_threshold = Registry::MaxThreshold(registry.blocklists);
  if (max_threshold < 0) return result;

  for (const PdqMatch& hit : block_index_.Query(dihedral.hashes, max_threshold)) {
    const ListVersion* list = Registry::Find(registry.blocklists, hit.entry.list_name);
    if (list == nullptr || hit.distance > list->policy.threshold) continue;
    if (quality < list->policy.min_quality) {
      for (PdqListSkip& skip : result.skips) {
        if (skip.list_name == list->name) ++skip.suppressed;
      }
      continue;
    }
    result.matches.push_back(PdqListMatch{list->name, list->version, hit.entry.entry_id, hit.entry.category,
                                          hit.entry.hash, hit.distance, list->policy.threshold, quality,
                                          hit.variant});
  }
  if (result.matches.empty()) return result;

  const int max_allow_threshold = Registry::MaxThreshold(registry.allowlists);
  if (max_allow_threshold < 0) return result;
  // Query() orders by distance, so the first hit in range is the closest.
  for (const PdqMatch& hit : allow_index_.Query(dihedral.hashes, max_allow_threshold)) {
    const ListVersion* allow = Registry::Find(registry.allowlists, hit.entry.list_name);
    if (allow == nullptr || hit.distance > allow->policy.threshold) continue;
    for (PdqListMatch& match : result.matches) {
      result.vetoes.push_back(PdqVeto{std::move(match), allow->name, allow->version, hit.entry.entry_id,
                                      hit.distance, allow->policy.threshold, hit.variant});
    }
    result.matches.clear();
    break;
  }
  return result;
}

absl::StatusOr<PdqImageResult> PdqMatcher::MatchImage(std::span<const uint8_t> bytes) const {
  PdqImageResult result;
  // Classifies a decoder error; an error return only for an unexpected code.
  auto failed = [&](const absl::Status& status, std::string_view context) -> absl::StatusOr<PdqImageResult> {
    std::optional<PdqImageOutcome> outcome = OutcomeOfDecodeError(status, bytes);
    if (!outcome.has_value()) {
      return absl::InternalError(fmt::format("PDQ matching: {}unexpected decoder error: {}", context,
                                             std::string(status.message())));
    }
    result.outcome = *outcome;
    result.message = fmt::format("{}{}", context, std::string(status.message()));
    return std::move(result);
  };

  absl::StatusOr<ImageHeader> header = ReadImageHeader(bytes);
  if (!header.ok()) return failed(header.status(), "");
  result.has_header = true;
  result.format = header->format;
  result.width = header->width;
  result.height = header->height;
  const std::string_view format_name = ImageFormatName(header->format);

  if (bytes.size() > options_.max_image_bytes) {
    result.outcome = PdqImageOutcome::kTooLarge;
    result.message = fmt::format("{} image is {} bytes, over limits.max_image_bytes {}; not decoded",
                                 format_name, bytes.size(), options_.max_image_bytes);
    return result;
  }
  const uint64_t pixels = uint64_t{header->width} * header->height;
  if (pixels > options_.limits.max_pixels) {
    result.outcome = PdqImageOutcome::kTooLarge;
    result.message =
        fmt::format("{} image is {}x{} = {} pixels, over limits.max_image_pixels {}; not decoded",
                    format_name, header->width, header->height, pixels, options_.limits.max_pixels);
    return result;
  }

  auto hash_exact = [&](std::string_view context) -> absl::StatusOr<PdqImageResult> {
    absl::StatusOr<DecodedImage> image = DecodeImage(bytes, options_.limits);
    if (!image.ok()) return failed(image.status(), context);
    absl::StatusOr<PdqDihedral> dihedral = hasher_.HashDihedral(*image);
    if (!dihedral.ok()) {
      return absl::InternalError(fmt::format("PDQ matching: hashing a decoded {} image failed: {}",
                                             format_name, std::string(dihedral.status().message())));
    }
    result.outcome = PdqImageOutcome::kHashed;
    result.message.clear();
    result.dihedral = *dihedral;
    result.hash = dihedral->hashes[PdqDihedral::kOriginal];
    result.quality = dihedral->quality;
    result.hash_mode = PdqHashMode::kExact;
    PdqMatchResult matched = MatchHash(result.dihedral, result.quality);
    result.matches = std::move(matched.matches);
    result.vetoes = std::move(matched.vetoes);
    result.skips = std::move(matched.skips);
    return std::move(result);
  };

  const bool fast = options_.mode == PdqHashMode::kFast && header->format == ImageFormat::kJpeg &&
                    FastJpegReduction(static_cast<int>(header->width), static_cast<int>(header->height),
                                      FastDecodeOptions{}) > 1 &&
                    JpegHasEndAfterFirstScan(bytes);
  if (!fast) return hash_exact("");

  absl::StatusOr<DecodedImage> reduced = DecodeImageFast(bytes, options_.limits);
  if (!reduced.ok()) return failed(reduced.status(), "");
  absl::StatusOr<PdqDihedral> fast_dihedral = hasher_.HashDihedral(*reduced);
  if (!fast_dihedral.ok()) {
    return absl::InternalError(fmt::format("PDQ matching: hashing a fast-decoded {} image failed: {}",
                                           format_name, std::string(fast_dihedral.status().message())));
  }
  bool candidate = false;
  {
    RegistryPtr registry = Snapshot();
    candidate = HasCandidate(*registry, *fast_dihedral, options_.fast_extra_radius);
  }
  if (candidate) {
    result.rehashed = true;
    return hash_exact("exact re-decode of a fast-mode candidate: ");
  }
  result.outcome = PdqImageOutcome::kHashed;
  result.dihedral = *fast_dihedral;
  result.hash = fast_dihedral->hashes[PdqDihedral::kOriginal];
  result.quality = fast_dihedral->quality;
  result.hash_mode = PdqHashMode::kFast;
  // No blocklist entry is within reach, so nothing is suppressed either.
  result.skips = LowQualitySkips(*Snapshot(), result.quality);
  return result;
}

}  // namespace takedown
