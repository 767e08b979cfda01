#include "daemon/object_record.h"

#include <algorithm>

#include "common/hex.h"
#include "crawler/http_url.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "notices/json_fields.h"

namespace takedown {
namespace {

// Binary layout (format byte kBinaryFormat, then fields in any order):
//   field := tag varint-value            (tag & 1 == 0)
//          | tag varint-length bytes     (tag & 1 == 1)
// with tag = field_number << 1 | kind. A decoder skips fields it does not
// know, so later versions can add fields without a migration.
constexpr uint8_t kBinaryFormat = 0x01;
constexpr size_t kMaxFieldBytes = 1 << 20;

enum Field : uint8_t {
  kSourceId = 1,
  kKey = 2,
  kVersion = 3,
  kSize = 4,
  kStatus = 5,
  kError = 6,
  kMd5 = 7,
  kSha1 = 8,
  kSha256 = 9,
  kContentType = 10,
  kSweepId = 11,
  kMatchCount = 12,
  kSweptAtMicros = 13,
  kPdqOutcome = 14,
  kPdqMessage = 15,
  kPdqDihedral = 16,
  kPdqQuality = 17,
  kPdqMode = 18,
  kPdqImplementation = 19,
  kImageWidth = 20,
  kImageHeight = 21,
  kVetoedMatches = 22,
  kArchiveOutcome = 23,
  kArchiveMessage = 24,
  kArchiveMembers = 25,
  kArchiveMembersUnreadable = 26,
  kArchiveMemberMatches = 27,
  kContainer = 28,
  // The fetch record (FetchRecord); kFetchStartedAt is written whenever a
  // record has one, the others when not empty or zero.
  kFetchStatus = 29,
  kFetchRequestedUrl = 30,
  kFetchFinalUrl = 31,
  kFetchHop = 32,  // repeated, in order; its bytes are fields of HopField
  kFetchIp = 33,
  kFetchContentType = 34,
  kFetchServer = 35,
  kFetchEtag = 36,
  kFetchLastModified = 37,
  kFetchError = 38,
  kFetchStartedAt = 39,
  kFetchDurationMicros = 40,
  kFetchHopsOmitted = 41,
};

// Fields inside a kFetchHop value, tagged like the record's own.
enum HopField : uint8_t {
  kHopUrl = 1,
  kHopStatus = 2,
  kHopIp = 3,
};

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void PutInt(std::string& out, uint8_t field, uint64_t v) {
  out.push_back(static_cast<char>(field << 1));
  PutVarint(out, v);
}

void PutBytes(std::string& out, uint8_t field, std::string_view bytes) {
  out.push_back(static_cast<char>(field << 1 | 1));
  PutVarint(out, bytes.size());
  out.append(bytes);
}

template <size_t N>
std::string_view AsView(const std::array<uint8_t, N>& a) {
  return {reinterpret_cast<const char*>(a.data()), N};
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool done() const { return pos_ == in_.size(); }

  bool Varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ == in_.size()) return false;
      uint8_t b = static_cast<uint8_t>(in_[pos_++]);
      v |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool Byte(uint8_t& b) {
    if (pos_ == in_.size()) return false;
    b = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool Bytes(std::string_view& out) {
    uint64_t n;
    if (!Varint(n) || n > kMaxFieldBytes || n > in_.size() - pos_) return false;
    out = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

template <size_t N>
bool CopyDigest(std::string_view bytes, std::array<uint8_t, N>& out) {
  if (bytes.size() != N) return false;
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return true;
}

bool ParseStatus(uint64_t v, ObjectStatus& out) {
  switch (v) {
    case 0: out = ObjectStatus::kHashed; return true;
    case 1: out = ObjectStatus::kFailed; return true;
    case 2: out = ObjectStatus::kSkipped; return true;
  }
  return false;
}

uint64_t StatusCode(ObjectStatus s) {
  switch (s) {
    case ObjectStatus::kHashed: return 0;
    case ObjectStatus::kFailed: return 1;
    case ObjectStatus::kSkipped: return 2;
  }
  return 0;
}

// Stored numbers of ArchiveOutcome: fixed, never reused.
uint64_t ArchiveOutcomeCode(ArchiveOutcome o) {
  switch (o) {
    case ArchiveOutcome::kNone: return 0;
    case ArchiveOutcome::kExpanded: return 1;
    case ArchiveOutcome::kLimit: return 2;
    case ArchiveOutcome::kCorrupt: return 3;
    case ArchiveOutcome::kNotArchive: return 4;
    case ArchiveOutcome::kUnreadable: return 5;
    case ArchiveOutcome::kDisabled: return 6;
    case ArchiveOutcome::kNotExpanded: return 7;
  }
  return 0;
}

// A number from a later version reads as kNone: the record stays usable.
ArchiveOutcome ParseArchiveOutcome(uint64_t v) {
  switch (v) {
    case 1: return ArchiveOutcome::kExpanded;
    case 2: return ArchiveOutcome::kLimit;
    case 3: return ArchiveOutcome::kCorrupt;
    case 4: return ArchiveOutcome::kNotArchive;
    case 5: return ArchiveOutcome::kUnreadable;
    case 6: return ArchiveOutcome::kDisabled;
    case 7: return ArchiveOutcome::kNotExpanded;
  }
  return ArchiveOutcome::kNone;
}

uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

uint32_t Saturate32(uint64_t v) { return static_cast<uint32_t>(std::min<uint64_t>(v, UINT32_MAX)); }

// HTTP statuses are three digits; anything else read back is clamped.
int HttpStatusOf(uint64_t v) { return static_cast<int>(std::min<uint64_t>(v, 999)); }

std::string Bounded(std::string_view s, size_t max_bytes) { return std::string(s.substr(0, max_bytes)); }

std::string EncodeHop(const FetchHop& hop) {
  std::string out;
  PutBytes(out, kHopUrl, hop.url);
  if (hop.status != 0) PutInt(out, kHopStatus, static_cast<uint64_t>(std::clamp(hop.status, 0, 999)));
  if (!hop.ip.empty()) PutBytes(out, kHopIp, hop.ip);
  return out;
}

bool DecodeHop(std::string_view encoded, FetchHop& hop) {
  Reader in(encoded);
  while (!in.done()) {
    uint8_t tag;
    uint64_t value = 0;
    std::string_view bytes;
    if (!in.Byte(tag)) return false;
    if (tag & 1) {
      if (!in.Bytes(bytes)) return false;
    } else if (!in.Varint(value)) {
      return false;
    }
    switch (tag) {
      case kHopUrl << 1 | 1: hop.url = std::string(bytes); break;
      case kHopStatus << 1: hop.status = HttpStatusOf(value); break;
      case kHopIp << 1 | 1: hop.ip = std::string(bytes); break;
      default: break;  // a field from a later version
    }
  }
  return true;
}

void EncodeFetch(const FetchRecord& f, std::string_view key, std::string& out) {
  PutInt(out, kFetchStartedAt, ZigZag(absl::ToUnixMicros(f.started_at)));
  if (f.status != 0) PutInt(out, kFetchStatus, static_cast<uint64_t>(std::clamp(f.status, 0, 999)));
  if (!f.requested_url.empty() && f.requested_url != key) PutBytes(out, kFetchRequestedUrl, f.requested_url);
  if (!f.final_url.empty()) PutBytes(out, kFetchFinalUrl, f.final_url);
  const size_t kept = std::min(f.hops.size(), FetchRecord::kMaxHops);
  for (size_t i = 0; i < kept; ++i) PutBytes(out, kFetchHop, EncodeHop(f.hops[i]));
  const uint64_t omitted = uint64_t{f.hops_omitted} + (f.hops.size() - kept);
  if (omitted != 0) PutInt(out, kFetchHopsOmitted, omitted);
  if (!f.ip.empty()) PutBytes(out, kFetchIp, f.ip);
  if (!f.content_type.empty()) PutBytes(out, kFetchContentType, f.content_type);
  if (!f.server.empty()) PutBytes(out, kFetchServer, f.server);
  if (!f.etag.empty()) PutBytes(out, kFetchEtag, f.etag);
  if (!f.last_modified.empty()) PutBytes(out, kFetchLastModified, f.last_modified);
  if (!f.error.empty()) PutBytes(out, kFetchError, f.error);
  if (f.duration > absl::ZeroDuration()) {
    PutInt(out, kFetchDurationMicros, static_cast<uint64_t>(absl::ToInt64Microseconds(f.duration)));
  }
}

absl::StatusOr<ObjectRecord> DecodeBinary(std::string_view encoded) {
  Reader in(encoded.substr(1));
  ObjectRecord r;
  auto fetch = [&r]() -> FetchRecord& {
    if (!r.fetch) r.fetch.emplace();
    return *r.fetch;
  };
  auto corrupt = [&](std::string_view what) {
    return absl::DataLossError(fmt::format("object record{}{}: {}; run `takedownd --verify-store`",
                                           r.key.empty() ? "" : " ", r.key, what));
  };
  while (!in.done()) {
    uint8_t tag;
    if (!in.Byte(tag)) return corrupt("truncated field tag");
    uint64_t value = 0;
    std::string_view bytes;
    if (tag & 1) {
      if (!in.Bytes(bytes)) return corrupt(fmt::format("field {} cut short", tag >> 1));
    } else if (!in.Varint(value)) {
      return corrupt(fmt::format("field {} cut short", tag >> 1));
    }
    switch (tag) {
      case kSourceId << 1 | 1: r.source_id = std::string(bytes); break;
      case kKey << 1 | 1: r.key = std::string(bytes); break;
      case kVersion << 1 | 1: r.version = std::string(bytes); break;
      case kSize << 1: r.size = value; break;
      case kStatus << 1:
        if (!ParseStatus(value, r.status)) return corrupt(fmt::format("unknown status {}", value));
        break;
      case kError << 1 | 1: r.error = std::string(bytes); break;
      case kMd5 << 1 | 1:
        if (!CopyDigest(bytes, r.digests.md5)) return corrupt("malformed MD5");
        break;
      case kSha1 << 1 | 1:
        if (!CopyDigest(bytes, r.digests.sha1)) return corrupt("malformed SHA-1");
        break;
      case kSha256 << 1 | 1:
        if (!CopyDigest(bytes, r.digests.sha256)) return corrupt("malformed SHA-256");
        break;
      case kContentType << 1 | 1: r.content_type = std::string(bytes); break;
      case kSweepId << 1 | 1: r.sweep_id = std::string(bytes); break;
      case kMatchCount << 1:
        r.match_count = static_cast<uint32_t>(std::min<uint64_t>(value, UINT32_MAX));
        break;
      case kSweptAtMicros << 1: r.swept_at = absl::FromUnixMicros(UnZigZag(value)); break;
      case kPdqOutcome << 1 | 1: r.pdq_outcome = std::string(bytes); break;
      case kPdqMessage << 1 | 1: r.pdq_message = std::string(bytes); break;
      case kPdqDihedral << 1 | 1:
        if (bytes.size() != 256) return corrupt("malformed PDQ hashes");
        r.pdq_dihedral = std::string(bytes);
        break;
      case kPdqQuality << 1: r.pdq_quality = static_cast<int>(std::min<uint64_t>(value, 100)); break;
      case kPdqMode << 1 | 1: r.pdq_mode = std::string(bytes); break;
      case kPdqImplementation << 1 | 1: r.pdq_implementation = std::string(bytes); break;
      case kImageWidth << 1: r.image_width = static_cast<uint32_t>(std::min<uint64_t>(value, UINT32_MAX)); break;
      case kImageHeight << 1: r.image_height = static_cast<uint32_t>(std::min<uint64_t>(value, UINT32_MAX)); break;
      case kVetoedMatches << 1:
        r.vetoed_matches = static_cast<uint32_t>(std::min<uint64_t>(value, UINT32_MAX));
        break;
      case kArchiveOutcome << 1: r.archive_outcome = ParseArchiveOutcome(value); break;
      case kArchiveMessage << 1 | 1: r.archive_message = std::string(bytes); break;
      case kArchiveMembers << 1: r.archive_members = value; break;
      case kArchiveMembersUnreadable << 1: r.archive_members_unreadable = value; break;
      case kArchiveMemberMatches << 1: r.archive_member_matches = value; break;
      case kContainer << 1 | 1: r.container = std::string(bytes); break;
      case kFetchStatus << 1: fetch().status = HttpStatusOf(value); break;
      case kFetchRequestedUrl << 1 | 1: fetch().requested_url = std::string(bytes); break;
      case kFetchFinalUrl << 1 | 1: fetch().final_url = std::string(bytes); break;
      case kFetchHop << 1 | 1: {
        FetchRecord& f = fetch();
        FetchHop hop;
        if (!DecodeHop(bytes, hop)) return corrupt("malformed fetch hop");
        if (f.hops.size() < FetchRecord::kMaxHops) {
          f.hops.push_back(std::move(hop));
        } else {
          f.hops_omitted = Saturate32(uint64_t{f.hops_omitted} + 1);
        }
        break;
      }
      case kFetchHopsOmitted << 1: {
        FetchRecord& f = fetch();
        f.hops_omitted = Saturate32(uint64_t{f.hops_omitted} + std::min<uint64_t>(value, UINT32_MAX));
        break;
      }
      case kFetchIp << 1 | 1: fetch().ip = std::string(bytes); break;
      case kFetchContentType << 1 | 1: fetch().content_type = std::string(bytes); break;
      case kFetchServer << 1 | 1: fetch().server = std::string(bytes); break;
      case kFetchEtag << 1 | 1: fetch().etag = std::string(bytes); break;
      case kFetchLastModified << 1 | 1: fetch().last_modified = std::string(bytes); break;
      case kFetchError << 1 | 1: fetch().error = std::string(bytes); break;
      case kFetchStartedAt << 1: fetch().started_at = absl::FromUnixMicros(UnZigZag(value)); break;
      case kFetchDurationMicros << 1:
        fetch().duration = absl::Microseconds(static_cast<int64_t>(std::min<uint64_t>(value, INT64_MAX)));
        break;
      default: break;  // a field from a later version
    }
  }
  if (r.fetch && r.fetch->requested_url.empty()) r.fetch->requested_url = r.key;
  return r;
}

template <size_t N>
bool DecodeHexDigest(const nlohmann::json& j, const char* field, std::array<uint8_t, N>& out) {
  if (!j.contains(field)) return true;
  auto bytes = HexDecode(j.at(field).get<std::string>());
  if (!bytes || bytes->size() != N) return false;
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return true;
}

// Records written by the first releases, before the binary layout.
absl::StatusOr<ObjectRecord> DecodeJson(std::string_view encoded) {
  try {
    nlohmann::json j = nlohmann::json::parse(encoded);
    ObjectRecord r;
    r.source_id = j.at("source_id").get<std::string>();
    absl::StatusOr<std::string> key = GetJsonBytes(j, "key", 1 << 20, "object record");
    if (!key.ok()) return absl::DataLossError(std::string(key.status().message()));
    r.key = *std::move(key);
    r.version = j.at("version").get<std::string>();
    r.size = j.at("size").get<uint64_t>();
    std::string status = j.at("status").get<std::string>();
    if (status == "hashed") {
      r.status = ObjectStatus::kHashed;
    } else if (status == "failed") {
      r.status = ObjectStatus::kFailed;
    } else if (status == "skipped") {
      r.status = ObjectStatus::kSkipped;
    } else {
      return absl::DataLossError(fmt::format("object record {}: unknown status '{}'", r.key, status));
    }
    r.error = j.value("error", "");
    r.sweep_id = j.value("sweep_id", "");
    r.match_count = j.value("match_count", 0u);
    r.swept_at = absl::FromUnixMicros(j.value("swept_at_us", int64_t{0}));
    r.content_type = j.value("content_type", "");
    if (!DecodeHexDigest(j, "md5", r.digests.md5) || !DecodeHexDigest(j, "sha1", r.digests.sha1) ||
        !DecodeHexDigest(j, "sha256", r.digests.sha256)) {
      return absl::DataLossError(fmt::format("object record {}: malformed digest", r.key));
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(fmt::format("object record is not valid JSON: {}", e.what()));
  }
}

}  // namespace

std::string_view ObjectStatusName(ObjectStatus status) {
  switch (status) {
    case ObjectStatus::kHashed: return "hashed";
    case ObjectStatus::kFailed: return "failed";
    case ObjectStatus::kSkipped: return "skipped";
  }
  return "unknown";
}

std::string_view ArchiveOutcomeName(ArchiveOutcome outcome) {
  switch (outcome) {
    case ArchiveOutcome::kNone: return "";
    case ArchiveOutcome::kExpanded: return "expanded";
    case ArchiveOutcome::kLimit: return "limit";
    case ArchiveOutcome::kCorrupt: return "corrupt";
    case ArchiveOutcome::kNotArchive: return "not_archive";
    case ArchiveOutcome::kUnreadable: return "unreadable";
    case ArchiveOutcome::kDisabled: return "disabled";
    case ArchiveOutcome::kNotExpanded: return "not_expanded";
  }
  return "";
}

std::string ObjectKey(std::string_view source_id, std::string_view key) {
  std::string out;
  out.reserve(source_id.size() + 1 + key.size());
  out.append(source_id);
  out.push_back('\0');
  out.append(key);
  return out;
}

void SetPdqResult(const PdqImageResult& result, ObjectRecord& record) {
  record.pdq_outcome = std::string(PdqImageOutcomeName(result.outcome));
  record.pdq_message = result.message;
  if (result.has_header) {
    record.image_width = result.width;
    record.image_height = result.height;
  }
  record.pdq_dihedral.clear();
  if (result.outcome != PdqImageOutcome::kHashed) return;
  for (const PdqHash& h : result.dihedral.hashes) record.pdq_dihedral += PdqHashToDigest(h);
  record.pdq_quality = result.quality;
  record.pdq_mode = std::string(PdqHashModeName(result.hash_mode));
  record.pdq_implementation = std::string(result.implementation);
}

std::optional<PdqDihedral> StoredPdqDihedral(const ObjectRecord& record) {
  if (record.pdq_dihedral.size() != 32 * PdqDihedral::kCount) return std::nullopt;
  PdqDihedral d;
  for (int i = 0; i < PdqDihedral::kCount; ++i) {
    std::optional<PdqHash> h = PdqHashFromDigest(std::string_view(record.pdq_dihedral).substr(32 * i, 32));
    if (!h) return std::nullopt;
    d.hashes[i] = *h;
  }
  d.quality = record.pdq_quality;
  return d;
}

void SetFetchRecord(const HttpFetchResult& fetch, ObjectRecord& record) {
  constexpr size_t kMaxValue = FetchRecord::kMaxHeaderValueBytes;
  FetchRecord f;
  f.status = static_cast<int>(std::clamp<long>(fetch.status, 0, 999));
  f.requested_url = Bounded(fetch.requested_url, kMaxHttpUrlBytes);
  f.final_url = Bounded(fetch.final_url, kMaxHttpUrlBytes);
  const size_t kept = std::min(fetch.hops.size(), FetchRecord::kMaxHops);
  f.hops.reserve(kept);
  for (size_t i = 0; i < kept; ++i) {
    const HttpHop& hop = fetch.hops[i];
    f.hops.push_back(FetchHop{Bounded(hop.url, kMaxHttpUrlBytes),
                              static_cast<int>(std::clamp<long>(hop.status, 0, 999)),
                              Bounded(hop.ip, kMaxValue)});
  }
  f.hops_omitted = Saturate32(fetch.hops.size() - kept);
  f.ip = Bounded(fetch.ip, kMaxValue);
  f.content_type = Bounded(fetch.content_type, kMaxValue);
  f.server = Bounded(fetch.server, kMaxValue);
  f.etag = Bounded(fetch.etag, kMaxValue);
  f.last_modified = Bounded(fetch.last_modified, kMaxValue);
  if (fetch.error != FetchError::kNone) f.error = std::string(FetchErrorName(fetch.error));
  f.started_at = fetch.start;
  f.duration = fetch.duration;
  record.fetch = std::move(f);
}

std::string EncodeObjectRecord(const ObjectRecord& r) {
  std::string out;
  out.reserve(128 + r.source_id.size() + r.key.size() + r.version.size() + r.error.size() + r.sweep_id.size());
  out.push_back(static_cast<char>(kBinaryFormat));
  PutBytes(out, kSourceId, r.source_id);
  PutBytes(out, kKey, r.key);
  PutBytes(out, kVersion, r.version);
  PutInt(out, kSize, r.size);
  PutInt(out, kStatus, StatusCode(r.status));
  if (!r.error.empty()) PutBytes(out, kError, r.error);
  if (r.status == ObjectStatus::kHashed) {
    PutBytes(out, kMd5, AsView(r.digests.md5));
    PutBytes(out, kSha1, AsView(r.digests.sha1));
    PutBytes(out, kSha256, AsView(r.digests.sha256));
    PutBytes(out, kContentType, r.content_type);
  }
  PutBytes(out, kSweepId, r.sweep_id);
  if (r.match_count != 0) PutInt(out, kMatchCount, r.match_count);
  PutInt(out, kSweptAtMicros, ZigZag(absl::ToUnixMicros(r.swept_at)));
  if (!r.pdq_outcome.empty()) {
    PutBytes(out, kPdqOutcome, r.pdq_outcome);
    if (!r.pdq_message.empty()) PutBytes(out, kPdqMessage, r.pdq_message);
    if (!r.pdq_dihedral.empty()) {
      PutBytes(out, kPdqDihedral, r.pdq_dihedral);
      PutInt(out, kPdqQuality, static_cast<uint64_t>(std::clamp(r.pdq_quality, 0, 100)));
      PutBytes(out, kPdqMode, r.pdq_mode);
      PutBytes(out, kPdqImplementation, r.pdq_implementation);
    }
    if (r.image_width != 0) PutInt(out, kImageWidth, r.image_width);
    if (r.image_height != 0) PutInt(out, kImageHeight, r.image_height);
  }
  if (r.vetoed_matches != 0) PutInt(out, kVetoedMatches, r.vetoed_matches);
  if (r.archive_outcome != ArchiveOutcome::kNone) {
    PutInt(out, kArchiveOutcome, ArchiveOutcomeCode(r.archive_outcome));
    if (!r.archive_message.empty()) PutBytes(out, kArchiveMessage, r.archive_message);
    if (r.archive_members != 0) PutInt(out, kArchiveMembers, r.archive_members);
    if (r.archive_members_unreadable != 0) {
      PutInt(out, kArchiveMembersUnreadable, r.archive_members_unreadable);
    }
    if (r.archive_member_matches != 0) PutInt(out, kArchiveMemberMatches, r.archive_member_matches);
  }
  if (!r.container.empty()) PutBytes(out, kContainer, r.container);
  if (r.fetch) EncodeFetch(*r.fetch, r.key, out);
  return out;
}

absl::StatusOr<ObjectRecord> DecodeObjectRecord(std::string_view encoded) {
  if (encoded.empty()) return absl::DataLossError("object record is empty; run `takedownd --verify-store`");
  if (encoded.front() == '{') return DecodeJson(encoded);
  if (static_cast<uint8_t>(encoded.front()) != kBinaryFormat) {
    return absl::DataLossError(fmt::format(
        "object record has unknown format byte 0x{:02x} (written by a newer takedownd?)",
        static_cast<uint8_t>(encoded.front())));
  }
  return DecodeBinary(encoded);
}

}  // namespace takedown
