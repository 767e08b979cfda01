#include "daemon/audit_log.h"

#include <array>
#include <span>
#include <utility>

#include "common/hex.h"
#include "common/status_macros.h"
#include "daemon/keys.h"
#include "fmt/format.h"
#include "openssl/evp.h"

namespace takedown {
namespace {

using nlohmann::json;

const std::string kZeroHash(64, '0');
constexpr size_t kMaxActorBytes = 256;
constexpr size_t kMaxActionBytes = 256;
constexpr size_t kMaxSubjectBytes = 4096;

std::string Sha256Hex(std::string_view bytes) {
  std::array<uint8_t, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    // Only fails on allocation failure inside OpenSSL; an empty hash never
    // verifies, so the problem surfaces in Verify().
    return std::string();
  }
  return HexEncode(std::span<const uint8_t>(digest.data(), length));
}

std::string FormatRfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

// Parses a stored record. Error strings are for Verify()'s report.
absl::StatusOr<json> ParseRecordJson(std::string_view value) {
  json record = json::parse(value.begin(), value.end(), nullptr, /*allow_exceptions=*/false);
  if (record.is_discarded() || !record.is_object()) {
    return absl::DataLossError("is not a JSON object");
  }
  return record;
}

absl::StatusOr<AuditRecord> ToAuditRecord(const json& record) {
  try {
    AuditRecord out;
    out.seq = record.at("seq").get<uint64_t>();
    out.time = record.at("time").get<std::string>();
    out.actor = record.at("actor").get<std::string>();
    out.action = record.at("action").get<std::string>();
    out.subject = record.at("subject").get<std::string>();
    out.details = record.at("details");
    out.prev_hash = record.at("prev_hash").get<std::string>();
    out.hash = record.at("hash").get<std::string>();
    return out;
  } catch (const json::exception& e) {
    return absl::DataLossError(fmt::format("has a missing or mistyped field: {}", e.what()));
  }
}

struct Head {
  uint64_t seq = 0;
  std::string hash;
};

absl::StatusOr<std::optional<Head>> ReadHead(const Store& store) {
  ASSIGN_OR_RETURN(std::optional<std::string> value, store.Get(Cf::kMeta, kAuditHeadKey));
  if (!value.has_value()) return std::optional<Head>();
  json head = json::parse(*value, nullptr, /*allow_exceptions=*/false);
  if (head.is_object() && head.contains("seq") && head["seq"].is_number_unsigned() &&
      head.contains("hash") && head["hash"].is_string()) {
    return std::optional<Head>(Head{head["seq"].get<uint64_t>(), head["hash"].get<std::string>()});
  }
  return absl::DataLossError(fmt::format(
      "store {}: meta/{} is damaged ('{}'); restore the store from a backup", store.path(),
      kAuditHeadKey, PrintableKey(*value)));
}

absl::Status ValidateEvent(const AuditEvent& event) {
  if (event.actor.empty() || event.action.empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "audit event needs an actor and an action (got actor '{}', action '{}')",
        PrintableKey(event.actor), PrintableKey(event.action)));
  }
  if (event.actor.size() > kMaxActorBytes || event.action.size() > kMaxActionBytes ||
      event.subject.size() > kMaxSubjectBytes) {
    return absl::InvalidArgumentError(fmt::format(
        "audit event {}: actor, action or subject too long (limits {}, {}, {} bytes)",
        PrintableKey(event.action), kMaxActorBytes, kMaxActionBytes, kMaxSubjectBytes));
  }
  if (!event.details.is_null() && !event.details.is_object()) {
    return absl::InvalidArgumentError(
        fmt::format("audit event {}: details must be a JSON object, got {}",
                    PrintableKey(event.action), event.details.type_name()));
  }
  return absl::OkStatus();
}

}  // namespace

std::string AuditLog::CanonicalBytes(const json& record_without_hash) {
  // nlohmann::json keeps object keys sorted, so compact dump() is canonical.
  // Invalid UTF-8 is replaced rather than thrown on; the replaced text is
  // what gets stored and hashed, so it verifies.
  return record_without_hash.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

AuditLog::AuditLog(Store& store, Clock& clock, uint64_t last_seq, std::string last_hash)
    : store_(store), clock_(clock), last_seq_(last_seq), last_hash_(std::move(last_hash)) {}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(Store& store, Clock& clock) {
  ASSIGN_OR_RETURN(std::optional<Head> head, ReadHead(store));
  ASSIGN_OR_RETURN(auto last, store.Last(Cf::kAudit));

  uint64_t last_seq = 0;
  std::string last_hash = kZeroHash;
  if (last.has_value()) {
    std::optional<uint64_t> seq = DecodeUint64BE(last->first);
    absl::StatusOr<json> record = ParseRecordJson(last->second);
    if (!seq.has_value() || !record.ok() || !(*record).contains("hash") ||
        !(*record)["hash"].is_string()) {
      return absl::DataLossError(fmt::format(
          "store {}: the newest audit record (key {}) is damaged; restore the store from a "
          "backup",
          store.path(), PrintableKey(last->first)));
    }
    last_seq = *seq;
    last_hash = (*record)["hash"].get<std::string>();
  }

  bool head_matches = head.has_value() ? (head->seq == last_seq && head->hash == last_hash)
                                       : last_seq == 0;
  if (!head_matches) {
    return absl::DataLossError(fmt::format(
        "store {}: the audit trail ends at seq {} but meta/{} says seq {}; audit records were "
        "removed or altered; restore the store from a backup",
        store.path(), last_seq, kAuditHeadKey, head.has_value() ? head->seq : 0));
  }
  return std::unique_ptr<AuditLog>(new AuditLog(store, clock, last_seq, std::move(last_hash)));
}

uint64_t AuditLog::last_seq() const {
  absl::MutexLock lock(&mu_);
  return last_seq_;
}

absl::Status AuditLog::Append(AuditEvent event, bool sync) {
  std::vector<AuditEvent> events;
  events.push_back(std::move(event));
  return Commit(Store::Batch(), std::move(events), sync);
}

absl::Status AuditLog::Commit(Store::Batch&& batch, std::vector<AuditEvent> events, bool sync) {
  std::vector<std::string> details;
  details.reserve(events.size());
  for (AuditEvent& event : events) {
    RETURN_IF_ERROR(ValidateEvent(event));
    if (event.details.is_null()) event.details = json::object();
    size_t size = CanonicalBytes(event.details).size();
    if (size > kMaxAuditDetailsBytes) {
      return absl::InvalidArgumentError(
          fmt::format("audit event {}: details are {} bytes, limit {}", PrintableKey(event.action),
                      size, kMaxAuditDetailsBytes));
    }
  }
  if (events.empty()) return store_.Write(std::move(batch), sync);

  absl::MutexLock lock(&mu_);
  uint64_t seq = last_seq_;
  std::string prev_hash = last_hash_;
  const std::string time = FormatRfc3339(clock_.Now());
  for (AuditEvent& event : events) {
    ++seq;
    json record = {
        {"seq", seq},
        {"time", time},
        {"actor", std::move(event.actor)},
        {"action", std::move(event.action)},
        {"subject", std::move(event.subject)},
        {"details", std::move(event.details)},
        {"prev_hash", prev_hash},
    };
    std::string canonical = CanonicalBytes(record);
    // Store what was hashed: re-parse so replaced UTF-8 is what gets stored.
    json stored = json::parse(canonical);
    std::string hash = Sha256Hex(canonical);
    stored["hash"] = hash;
    batch.Put(Cf::kAudit, EncodeUint64BE(seq), CanonicalBytes(stored));
    prev_hash = std::move(hash);
  }
  batch.Put(Cf::kMeta, kAuditHeadKey, json{{"seq", seq}, {"hash", prev_hash}}.dump());
  RETURN_IF_ERROR(store_.Write(std::move(batch), sync));
  last_seq_ = seq;
  last_hash_ = std::move(prev_hash);
  return absl::OkStatus();
}

absl::StatusOr<AuditVerification> AuditLog::Verify() const {
  // The head is read before the walk: the walk's snapshot is at least as new,
  // so the head's record must be in it even while others commit.
  ASSIGN_OR_RETURN(std::optional<Head> head, ReadHead(store_));

  AuditVerification result;
  uint64_t expected = 1;
  std::string prev_hash = kZeroHash;
  std::optional<std::string> hash_at_head;
  auto fail = [&](std::optional<uint64_t> seq, std::string problem) {
    result.ok = false;
    result.first_broken_seq = seq;
    result.problem = std::move(problem);
    return false;
  };

  RETURN_IF_ERROR(store_.ScanFrom(Cf::kAudit, "", [&](std::string_view key, std::string_view value) {
    std::optional<uint64_t> key_seq = DecodeUint64BE(key);
    if (!key_seq.has_value()) {
      return fail(expected, fmt::format("key {} after record {} is not a sequence number",
                                        PrintableKey(key), expected - 1));
    }
    result.last_seq = *key_seq;
    if (*key_seq != expected) {
      return fail(expected, fmt::format("record {} is missing (the next record is {})", expected,
                                        *key_seq));
    }
    absl::StatusOr<json> record = ParseRecordJson(value);
    if (!record.ok()) {
      return fail(expected, fmt::format("record {} {}", expected, std::string(record.status().message())));
    }
    absl::StatusOr<AuditRecord> parsed = ToAuditRecord(*record);
    if (!parsed.ok()) {
      return fail(expected, fmt::format("record {} {}", expected, std::string(parsed.status().message())));
    }
    if (parsed->seq != expected) {
      return fail(expected, fmt::format("the record stored as {} says it is record {}: records were "
                                        "moved or swapped",
                                        expected, parsed->seq));
    }
    json without_hash = std::move(*record);
    without_hash.erase("hash");
    if (Sha256Hex(CanonicalBytes(without_hash)) != parsed->hash) {
      return fail(expected, fmt::format("record {} was altered: its content does not match its hash",
                                        expected));
    }
    if (parsed->prev_hash != prev_hash) {
      // The record itself is intact, so what precedes it was replaced.
      uint64_t broken = expected > 1 ? expected - 1 : 1;
      return fail(broken, fmt::format("record {} does not chain to record {}: record {} was "
                                      "replaced",
                                      expected, expected - 1, broken));
    }
    if (head.has_value() && head->seq == expected) hash_at_head = parsed->hash;
    prev_hash = parsed->hash;
    ++result.records_checked;
    ++expected;
    return true;
  }));
  if (!result.ok) return result;

  if (!head.has_value()) {
    if (result.last_seq > 0) {
      fail(std::nullopt, fmt::format("meta/{} is missing although {} records exist",
                                     kAuditHeadKey, result.last_seq));
    }
  } else if (result.last_seq < head->seq) {
    fail(result.last_seq + 1,
         fmt::format("records {} to {} were removed from the end of the trail",
                     result.last_seq + 1, head->seq));
  } else if (hash_at_head != head->hash) {
    fail(head->seq, fmt::format("record {} does not match meta/{}", head->seq, kAuditHeadKey));
  }
  return result;
}

absl::StatusOr<std::vector<AuditRecord>> AuditLog::Read(uint64_t from_seq, size_t limit) const {
  std::vector<AuditRecord> records;
  if (limit == 0) return records;
  absl::Status error;
  RETURN_IF_ERROR(store_.ScanFrom(
      Cf::kAudit, EncodeUint64BE(from_seq), [&](std::string_view key, std::string_view value) {
        absl::StatusOr<json> parsed = ParseRecordJson(value);
        absl::StatusOr<AuditRecord> record =
            parsed.ok() ? ToAuditRecord(*parsed) : absl::StatusOr<AuditRecord>(parsed.status());
        if (!record.ok()) {
          error = absl::DataLossError(fmt::format("store {}: audit record {} {}; run audit "
                                                  "verification and restore a backup",
                                                  store_.path(),
                                                  DecodeUint64BE(key).value_or(0),
                                                  std::string(record.status().message())));
          return false;
        }
        records.push_back(std::move(*record));
        return records.size() < limit;
      }));
  RETURN_IF_ERROR(error);
  return records;
}

}  // namespace takedown
