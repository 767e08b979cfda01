#include "notices/notice.h"

#include <openssl/sha.h>

#include <span>
#include <utility>

#include "common/hex.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "notices/json_fields.h"

namespace takedown {
namespace {

using Json = nlohmann::json;

constexpr size_t kNoticeIdHexDigits = 24;
constexpr size_t kMaxNoticeIdLength = 128;

}  // namespace

std::string NoticeIdFor(std::string_view case_id, std::string_view kind, std::string_view channel,
                        uint64_t sequence) {
  std::string input;
  input.append(case_id).push_back('\0');
  input.append(kind).push_back('\0');
  input.append(channel).push_back('\0');
  input.append(std::to_string(sequence));
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(input.data()), input.size(), digest);
  return "n-" + HexEncode(std::span<const uint8_t>(digest, sizeof(digest))).substr(0, kNoticeIdHexDigits);
}

bool IsSafeNoticeId(std::string_view id) {
  if (id.empty() || id.size() > kMaxNoticeIdLength || id.front() == '.') return false;
  for (char ch : id) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '.' || ch == '-';
    if (!ok) return false;
  }
  return true;
}

Notice MakeDetectionNotice(const Case& c, absl::Time now, std::string_view channel) {
  return MakeCaseNotice(c, kDetectionNoticeKind, channel, 0, now);
}

Notice MakeCaseNotice(const Case& c, std::string_view kind, std::string_view channel, uint64_t sequence,
                      absl::Time now, const Json& extra) {
  Notice notice;
  notice.id = NoticeIdFor(c.id, kind, channel, sequence);
  notice.case_id = c.id;
  notice.kind = std::string(kind);
  notice.channel = std::string(channel);
  notice.created_at = now;

  Json evidence = Json::array();
  for (const MatchEvidence& e : c.evidence) {
    evidence.push_back(Json{
        {"hash_type", e.hash_type},
        {"digest", e.digest_hex},
        {"list_name", e.list_name},
        {"list_version", e.list_version},
        {"entry_id", e.entry_id},
        {"category", e.category},
        {"distance", e.distance},
        {"threshold", e.threshold},
        {"quality", e.quality},
        {"algorithm_version", e.algorithm_version},
        {"matched_at", TimeToJson(e.matched_at)},
    });
  }
  Json object = Json::object();
  PutJsonBytes(object, "source_id", c.object.source_id);
  PutJsonBytes(object, "key", c.object.key);
  PutJsonBytes(object, "version", c.object.version);
  object["size"] = c.object.size;
  object["md5"] = c.object.md5_hex;
  object["sha1"] = c.object.sha1_hex;
  object["sha256"] = c.object.sha256_hex;
  PutJsonBytes(object, "content_type", c.object.content_type);
  notice.payload = Json{
      {"schema_version", kNoticePayloadSchemaVersion},
      {"notice_id", notice.id},
      {"kind", notice.kind},
      {"case_id", c.id},
      {"state", CaseStateName(c.state)},
      {"category", c.category},
      {"object", std::move(object)},
      {"evidence", std::move(evidence)},
      {"created_at", TimeToJson(now)},
      {"content_included", false},
  };
  if (extra.is_object()) {
    for (const auto& [name, value] : extra.items()) notice.payload[name] = value;
  }
  return notice;
}

Notice MakeDocumentNotice(std::string_view case_id, std::string_view kind, std::string_view channel,
                          uint64_t sequence, absl::Time now, Json document) {
  Notice notice;
  notice.id = NoticeIdFor(case_id, kind, channel, sequence);
  notice.case_id = std::string(case_id);
  notice.kind = std::string(kind);
  notice.channel = std::string(channel);
  notice.created_at = now;
  notice.payload = document.is_object() ? std::move(document) : Json::object();
  notice.payload["notice_id"] = notice.id;
  notice.payload["case_id"] = notice.case_id;
  if (!notice.payload.contains("kind")) notice.payload["kind"] = notice.kind;
  notice.payload["created_at"] = TimeToJson(now);
  notice.payload["content_included"] = false;
  return notice;
}

Json NoticeToJson(const Notice& notice) {
  return Json{
      {"id", notice.id},           {"case_id", notice.case_id}, {"kind", notice.kind},
      {"channel", notice.channel}, {"payload", notice.payload}, {"created_at", TimeToJson(notice.created_at)},
  };
}

absl::StatusOr<Notice> NoticeFromJson(const Json& json) {
  Notice notice;
  ASSIGN_OR_RETURN(notice.id, GetJsonString(json, "id", kMaxNoticeIdLength, "notice record"));
  if (!IsSafeNoticeId(notice.id)) {
    return absl::InvalidArgumentError(fmt::format(
        "notice record: id '{}' must be 1..128 characters of [A-Za-z0-9_.-] not starting with '.'",
        notice.id));
  }
  const std::string where = fmt::format("notice {}", notice.id);
  ASSIGN_OR_RETURN(notice.case_id, GetJsonString(json, "case_id", 64, where));
  ASSIGN_OR_RETURN(notice.kind, GetJsonString(json, "kind", 64, where));
  ASSIGN_OR_RETURN(notice.channel, GetJsonString(json, "channel", 64, where));
  if (notice.case_id.empty() || notice.kind.empty() || notice.channel.empty()) {
    return absl::InvalidArgumentError(fmt::format("{}: case_id, kind and channel must not be empty", where));
  }
  ASSIGN_OR_RETURN(const Json* payload, GetJsonMember(json, "payload", Json::value_t::object, where));
  size_t payload_bytes = DumpJson(*payload).size();
  if (payload_bytes > kMaxNoticePayloadBytes) {
    return absl::InvalidArgumentError(fmt::format("{}: payload is {} bytes serialised; the limit is {}",
                                                  where, payload_bytes, kMaxNoticePayloadBytes));
  }
  notice.payload = *payload;
  ASSIGN_OR_RETURN(notice.created_at, GetJsonTime(json, "created_at", where));
  return notice;
}

}  // namespace takedown
