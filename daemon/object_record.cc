#include "daemon/object_record.h"

#include "absl/time/clock.h"
#include "common/hex.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "notices/json_fields.h"

namespace takedown {
namespace {

template <size_t N>
bool DecodeDigest(const nlohmann::json& j, const char* field, std::array<uint8_t, N>& out) {
  if (!j.contains(field)) return true;
  auto bytes = HexDecode(j.at(field).get<std::string>());
  if (!bytes || bytes->size() != N) return false;
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return true;
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

std::string ObjectKey(std::string_view source_id, std::string_view key) {
  std::string out;
  out.reserve(source_id.size() + 1 + key.size());
  out.append(source_id);
  out.push_back('\0');
  out.append(key);
  return out;
}

std::string EncodeObjectRecord(const ObjectRecord& r) {
  nlohmann::json j = {
      {"source_id", r.source_id},
      {"version", r.version},
      {"size", r.size},
      {"status", std::string(ObjectStatusName(r.status))},
      {"sweep_id", r.sweep_id},
      {"match_count", r.match_count},
      {"swept_at_us", absl::ToUnixMicros(r.swept_at)},
  };
  PutJsonBytes(j, "key", r.key);
  if (!r.error.empty()) j["error"] = r.error;
  if (r.status == ObjectStatus::kHashed) {
    j["md5"] = HexEncode(r.digests.md5);
    j["sha1"] = HexEncode(r.digests.sha1);
    j["sha256"] = HexEncode(r.digests.sha256);
    j["content_type"] = r.content_type;
  }
  return DumpJson(j);
}

absl::StatusOr<ObjectRecord> DecodeObjectRecord(std::string_view encoded) {
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
    if (!DecodeDigest(j, "md5", r.digests.md5) || !DecodeDigest(j, "sha1", r.digests.sha1) ||
        !DecodeDigest(j, "sha256", r.digests.sha256)) {
      return absl::DataLossError(fmt::format("object record {}: malformed digest", r.key));
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(fmt::format("object record is not valid JSON: {}", e.what()));
  }
}

}  // namespace takedown
