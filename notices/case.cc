#include "notices/case.h"

#include <openssl/sha.h>

#include <utility>

#include "common/hex.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "notices/json_fields.h"

namespace takedown {
namespace {

using Json = nlohmann::json;

constexpr size_t kCaseIdHexDigits = 24;

size_t DigestHexLength(std::string_view hash_type) {
  if (hash_type == "md5") return 32;
  if (hash_type == "sha1") return 40;
  if (hash_type == "sha256" || hash_type == "pdq") return 64;
  return 0;
}

bool IsLowerHex(std::string_view s) {
  for (char ch : s) {
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
  }
  return true;
}

// An object digest is either absent (empty) or lower-case hex of the right length.
absl::Status ValidateDigestField(std::string_view value, size_t hex_length, std::string_view field,
                                 std::string_view where) {
  if (value.empty() || (value.size() == hex_length && IsLowerHex(value))) return absl::OkStatus();
  return absl::InvalidArgumentError(
      fmt::format("{}: field '{}' must be empty or {} lower-case hex digits, got '{}'", where, field,
                  hex_length, value.substr(0, 80)));
}

absl::StatusOr<CaseState> ParseStateField(const std::string& name, const std::string& where) {
  absl::StatusOr<CaseState> state = ParseCaseState(name);
  if (!state.ok()) return Annotate(state.status(), where);
  return state;
}

bool SameEvidenceKey(const MatchEvidence& a, const MatchEvidence& b) {
  return a.hash_type == b.hash_type && a.digest_hex == b.digest_hex && a.list_name == b.list_name &&
         a.entry_id == b.entry_id;
}

Json EvidenceToJson(const MatchEvidence& e) {
  return Json{
      {"hash_type", e.hash_type},
      {"digest_hex", e.digest_hex},
      {"list_name", e.list_name},
      {"list_version", e.list_version},
      {"entry_id", e.entry_id},
      {"category", e.category},
      {"distance", e.distance},
      {"threshold", e.threshold},
      {"quality", e.quality},
      {"algorithm_version", e.algorithm_version},
      {"matched_at", TimeToJson(e.matched_at)},
  };
}

absl::StatusOr<MatchEvidence> EvidenceFromJson(const Json& j, const std::string& where) {
  MatchEvidence e;
  ASSIGN_OR_RETURN(e.hash_type, GetJsonString(j, "hash_type", 16, where));
  ASSIGN_OR_RETURN(e.digest_hex, GetJsonString(j, "digest_hex", 64, where));
  ASSIGN_OR_RETURN(e.list_name, GetJsonString(j, "list_name", kMaxJsonStringField, where));
  ASSIGN_OR_RETURN(e.list_version, GetJsonString(j, "list_version", kMaxJsonStringField, where));
  ASSIGN_OR_RETURN(e.entry_id, GetJsonString(j, "entry_id", kMaxJsonStringField, where));
  ASSIGN_OR_RETURN(e.category, GetJsonString(j, "category", 16, where));
  ASSIGN_OR_RETURN(int64_t distance, GetJsonInt(j, "distance", 0, 1 << 20, where));
  ASSIGN_OR_RETURN(int64_t threshold, GetJsonInt(j, "threshold", 0, 1 << 20, where));
  ASSIGN_OR_RETURN(int64_t quality, GetJsonInt(j, "quality", -1, 100, where));
  e.distance = static_cast<int>(distance);
  e.threshold = static_cast<int>(threshold);
  e.quality = static_cast<int>(quality);
  ASSIGN_OR_RETURN(e.algorithm_version, GetJsonString(j, "algorithm_version", kMaxJsonStringField, where));
  ASSIGN_OR_RETURN(e.matched_at, GetJsonTime(j, "matched_at", where));
  RETURN_IF_ERROR(Annotate(ValidateEvidence(e), where));
  return e;
}

Json ObjectToJson(const CaseObject& o) {
  Json j = Json::object();
  PutJsonBytes(j, "source_id", o.source_id);
  PutJsonBytes(j, "key", o.key);
  PutJsonBytes(j, "version", o.version);
  j["size"] = o.size;
  j["md5_hex"] = o.md5_hex;
  j["sha1_hex"] = o.sha1_hex;
  j["sha256_hex"] = o.sha256_hex;
  PutJsonBytes(j, "content_type", o.content_type);
  return j;
}

absl::StatusOr<CaseObject> ObjectFromJson(const Json& j, const std::string& where) {
  CaseObject o;
  ASSIGN_OR_RETURN(o.source_id, GetJsonBytes(j, "source_id", kMaxJsonStringField, where));
  ASSIGN_OR_RETURN(o.key, GetJsonBytes(j, "key", kMaxJsonStringField, where));
  ASSIGN_OR_RETURN(o.version, GetJsonBytes(j, "version", kMaxJsonStringField, where));
  ASSIGN_OR_RETURN(o.size, GetJsonUint64(j, "size", where));
  ASSIGN_OR_RETURN(o.md5_hex, GetJsonString(j, "md5_hex", 32, where));
  ASSIGN_OR_RETURN(o.sha1_hex, GetJsonString(j, "sha1_hex", 40, where));
  ASSIGN_OR_RETURN(o.sha256_hex, GetJsonString(j, "sha256_hex", 64, where));
  ASSIGN_OR_RETURN(o.content_type, GetJsonBytes(j, "content_type", 256, where));
  RETURN_IF_ERROR(ValidateDigestField(o.md5_hex, 32, "md5_hex", where));
  RETURN_IF_ERROR(ValidateDigestField(o.sha1_hex, 40, "sha1_hex", where));
  RETURN_IF_ERROR(ValidateDigestField(o.sha256_hex, 64, "sha256_hex", where));
  return o;
}

Json TransitionToJson(const CaseTransition& t) {
  return Json{
      {"from", CaseStateName(t.from)},
      {"to", CaseStateName(t.to)},
      {"at", TimeToJson(t.at)},
      {"actor", t.actor},
      {"reason", t.reason},
  };
}

absl::StatusOr<CaseTransition> TransitionFromJson(const Json& j, const std::string& where) {
  CaseTransition t;
  ASSIGN_OR_RETURN(std::string from, GetJsonString(j, "from", 32, where));
  ASSIGN_OR_RETURN(std::string to, GetJsonString(j, "to", 32, where));
  ASSIGN_OR_RETURN(t.from, ParseStateField(from, where + ": field 'from'"));
  ASSIGN_OR_RETURN(t.to, ParseStateField(to, where + ": field 'to'"));
  ASSIGN_OR_RETURN(t.at, GetJsonTime(j, "at", where));
  ASSIGN_OR_RETURN(t.actor, GetJsonString(j, "actor", kMaxActorLength, where));
  ASSIGN_OR_RETURN(t.reason, GetJsonString(j, "reason", kMaxReasonLength, where));
  return t;
}

}  // namespace

std::string CaseIdFor(std::string_view source_id, std::string_view key) {
  std::string input;
  input.reserve(source_id.size() + 1 + key.size());
  input.append(source_id);
  input.push_back('\0');
  input.append(key);
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(input.data()), input.size(), digest);
  return "c-" + HexEncode(std::span<const uint8_t>(digest, sizeof(digest))).substr(0, kCaseIdHexDigits);
}

Case NewCase(CaseObject object, absl::Time now) {
  Case c;
  c.id = CaseIdFor(object.source_id, object.key);
  c.state = CaseState::kDetected;
  c.object = std::move(object);
  c.created_at = now;
  c.updated_at = now;
  return c;
}

int CategorySeverity(std::string_view category) {
  if (category == "csam") return 2;
  if (category == "terrorist") return 1;
  if (category == "other") return 0;
  return -1;
}

absl::Status ValidateEvidence(const MatchEvidence& e) {
  auto invalid = [](std::string_view field, const std::string& problem) {
    return absl::InvalidArgumentError(fmt::format("evidence field '{}' {}", field, problem));
  };
  size_t hex_length = DigestHexLength(e.hash_type);
  if (hex_length == 0) {
    return invalid("hash_type",
                   fmt::format("is '{}'; expected md5, sha1, sha256 or pdq", e.hash_type.substr(0, 32)));
  }
  if (e.digest_hex.size() != hex_length || !IsLowerHex(e.digest_hex)) {
    return invalid("digest_hex", fmt::format("must be {} lower-case hex digits for {}, got '{}'", hex_length,
                                             e.hash_type, e.digest_hex.substr(0, 80)));
  }
  if (CategorySeverity(e.category) < 0) {
    return invalid("category",
                   fmt::format("is '{}'; expected csam, terrorist or other", e.category.substr(0, 32)));
  }
  if (e.list_name.empty()) return invalid("list_name", "must not be empty");
  if (e.entry_id.empty()) return invalid("entry_id", "must not be empty");
  for (const auto& [field, value] :
       {std::pair<std::string_view, const std::string*>{"list_name", &e.list_name},
        {"list_version", &e.list_version},
        {"entry_id", &e.entry_id},
        {"algorithm_version", &e.algorithm_version}}) {
    if (value->size() > kMaxJsonStringField) {
      return invalid(field,
                     fmt::format("is {} bytes long; the limit is {}", value->size(), kMaxJsonStringField));
    }
    if (!IsValidUtf8(*value)) return invalid(field, "is not valid UTF-8");
  }
  if (e.distance < 0) return invalid("distance", fmt::format("is {}; it must be >= 0", e.distance));
  if (e.threshold < 0) return invalid("threshold", fmt::format("is {}; it must be >= 0", e.threshold));
  if (e.quality < -1 || e.quality > 100) {
    return invalid("quality", fmt::format("is {}; it must be -1 (not applicable) or 0..100", e.quality));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> AddEvidence(Case& c, MatchEvidence evidence) {
  RETURN_IF_ERROR(Annotate(ValidateEvidence(evidence), fmt::format("case {}", c.id)));
  for (const MatchEvidence& existing : c.evidence) {
    if (SameEvidenceKey(existing, evidence)) return false;
  }
  if (c.evidence.size() >= kMaxCaseEvidence) {
    return absl::ResourceExhaustedError(fmt::format(
        "case {}: already holds {} pieces of evidence, the limit; further matches are not recorded", c.id,
        kMaxCaseEvidence));
  }
  if (CategorySeverity(evidence.category) > CategorySeverity(c.category)) c.category = evidence.category;
  c.evidence.push_back(std::move(evidence));
  return true;
}

absl::Status ApplyTransition(Case& c, CaseState to, absl::Time at, std::string actor, std::string reason) {
  RETURN_IF_ERROR(Annotate(ValidateTransition(c.state, to), fmt::format("case {}", c.id)));
  if (actor.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("case {}: a transition needs an actor (who or what made it)", c.id));
  }
  if (actor.size() > kMaxActorLength) {
    return absl::InvalidArgumentError(
        fmt::format("case {}: actor is {} bytes long; the limit is {}", c.id, actor.size(), kMaxActorLength));
  }
  if (!IsValidUtf8(actor) || !IsValidUtf8(reason)) {
    return absl::InvalidArgumentError(fmt::format("case {}: actor and reason must be valid UTF-8", c.id));
  }
  if (reason.size() > kMaxReasonLength) {
    return absl::InvalidArgumentError(fmt::format("case {}: reason is {} bytes long; the limit is {}", c.id,
                                                  reason.size(), kMaxReasonLength));
  }
  if (c.history.size() >= kMaxCaseHistory) {
    return absl::ResourceExhaustedError(
        fmt::format("case {}: history already holds {} transitions, the limit", c.id, kMaxCaseHistory));
  }
  c.history.push_back(CaseTransition{c.state, to, at, std::move(actor), std::move(reason)});
  c.state = to;
  c.updated_at = at;
  return absl::OkStatus();
}

Json CaseToJson(const Case& c) {
  Json evidence = Json::array();
  for (const MatchEvidence& e : c.evidence) evidence.push_back(EvidenceToJson(e));
  Json history = Json::array();
  for (const CaseTransition& t : c.history) history.push_back(TransitionToJson(t));
  Json json{
      {"id", c.id},
      {"state", CaseStateName(c.state)},
      {"category", c.category},
      {"object", ObjectToJson(c.object)},
      {"evidence", std::move(evidence)},
      {"history", std::move(history)},
      {"created_at", TimeToJson(c.created_at)},
      {"updated_at", TimeToJson(c.updated_at)},
  };
  if (!IsEmpty(c.terms)) json["terms"] = CaseTermsToJson(c.terms);
  return json;
}

absl::StatusOr<Case> CaseFromJson(const Json& json) {
  Case c;
  ASSIGN_OR_RETURN(c.id, GetJsonString(json, "id", 64, "case record"));
  const std::string where = fmt::format("case {}", c.id);
  ASSIGN_OR_RETURN(std::string state, GetJsonString(json, "state", 32, where));
  ASSIGN_OR_RETURN(c.state, ParseStateField(state, where + ": field 'state'"));
  ASSIGN_OR_RETURN(c.category, GetJsonString(json, "category", 16, where));
  if (!c.category.empty() && CategorySeverity(c.category) < 0) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: field 'category' is '{}'; expected csam, terrorist, other or empty", where, c.category));
  }

  ASSIGN_OR_RETURN(const Json* object, GetJsonMember(json, "object", Json::value_t::object, where));
  ASSIGN_OR_RETURN(c.object, ObjectFromJson(*object, where + ": object"));

  ASSIGN_OR_RETURN(const Json* evidence, GetJsonMember(json, "evidence", Json::value_t::array, where));
  if (evidence->size() > kMaxCaseEvidence) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {} pieces of evidence; the limit is {}", where, evidence->size(), kMaxCaseEvidence));
  }
  for (size_t i = 0; i < evidence->size(); ++i) {
    ASSIGN_OR_RETURN(MatchEvidence e,
                     EvidenceFromJson((*evidence)[i], fmt::format("{}: evidence[{}]", where, i)));
    c.evidence.push_back(std::move(e));
  }

  ASSIGN_OR_RETURN(const Json* history, GetJsonMember(json, "history", Json::value_t::array, where));
  if (history->size() > kMaxCaseHistory) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {} history entries; the limit is {}", where, history->size(), kMaxCaseHistory));
  }
  CaseState expected_from = CaseState::kDetected;
  for (size_t i = 0; i < history->size(); ++i) {
    const std::string at = fmt::format("{}: history[{}]", where, i);
    ASSIGN_OR_RETURN(CaseTransition t, TransitionFromJson((*history)[i], at));
    if (t.from != expected_from) {
      return absl::InvalidArgumentError(
          fmt::format("{}: starts from {} but the case was in {}; the record is corrupt", at,
                      CaseStateName(t.from), CaseStateName(expected_from)));
    }
    if (absl::Status allowed = ValidateTransition(t.from, t.to); !allowed.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("{}: {}; the record is corrupt", at, std::string(allowed.message())));
    }
    expected_from = t.to;
    c.history.push_back(std::move(t));
  }
  if (c.state != expected_from) {
    return absl::InvalidArgumentError(
        fmt::format("{}: state is {} but the history ends in {}; the record is corrupt", where,
                    CaseStateName(c.state), CaseStateName(expected_from)));
  }

  ASSIGN_OR_RETURN(c.created_at, GetJsonTime(json, "created_at", where));
  ASSIGN_OR_RETURN(c.updated_at, GetJsonTime(json, "updated_at", where));
  if (auto terms = json.find("terms"); terms != json.end()) {
    ASSIGN_OR_RETURN(c.terms, CaseTermsFromJson(*terms, where + ": terms"));
  }
  return c;
}

}  // namespace takedown
