// Helpers for the JSON records notices/ stores and exchanges (cases, notices,
// outbox records): typed, bounded field access that turns a missing or
// malformed field into InvalidArgument naming the record and field, and the one
// time format used in all of them.
//
// Time format: RFC 3339 in UTC with as many fractional digits as needed to be
// exact ("2027-01-15T08:00:00.123456789Z"). absl::InfinitePast() is written as
// null and means "not set". Every function is pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace takedown {

// Longest string field accepted when no tighter limit applies.
inline constexpr size_t kMaxJsonStringField = 16 * 1024;

// JSON text of `value` that never throws: invalid UTF-8 in strings (possible in
// values built in memory, never in parsed ones) becomes U+FFFD.
std::string DumpJson(const nlohmann::json& value, int indent = -1);

// True if `s` is well-formed UTF-8 (no overlong forms, surrogates or code
// points past U+10FFFF). JSON strings must be; object keys may not be.
bool IsValidUtf8(std::string_view s);
// `s` with every byte that is not part of a well-formed sequence replaced by
// U+FFFD.
std::string SanitizeUtf8(std::string_view s);

// Byte strings that may not be UTF-8 (object keys: file names, archive member
// names in legacy encodings). PutJsonBytes writes `key` as a readable UTF-8
// string and, only when the bytes are not valid UTF-8, also `key`_hex with the
// exact bytes. GetJsonBytes prefers `key`_hex, so the round trip is lossless.
void PutJsonBytes(nlohmann::json& object, std::string_view key, std::string_view bytes);
absl::StatusOr<std::string> GetJsonBytes(const nlohmann::json& object, std::string_view key,
                                         size_t max_length, std::string_view where);

nlohmann::json TimeToJson(absl::Time t);
// `where` prefixes error messages ("case c-12ab: created_at").
absl::StatusOr<absl::Time> TimeFromJson(const nlohmann::json& value, std::string_view where);

// Each Get* reads member `key` of `object` (which must be a JSON object).
// Errors are InvalidArgument("<where>: field '<key>' ...").
absl::StatusOr<std::string> GetJsonString(const nlohmann::json& object, std::string_view key,
                                          size_t max_length, std::string_view where);
absl::StatusOr<int64_t> GetJsonInt(const nlohmann::json& object, std::string_view key, int64_t min,
                                   int64_t max, std::string_view where);
absl::StatusOr<uint64_t> GetJsonUint64(const nlohmann::json& object, std::string_view key,
                                       std::string_view where);
absl::StatusOr<bool> GetJsonBool(const nlohmann::json& object, std::string_view key, std::string_view where);
absl::StatusOr<absl::Time> GetJsonTime(const nlohmann::json& object, std::string_view key,
                                       std::string_view where);
// The member itself, which must exist and be of `type` (array or object).
absl::StatusOr<const nlohmann::json*> GetJsonMember(const nlohmann::json& object, std::string_view key,
                                                    nlohmann::json::value_t type, std::string_view where);

}  // namespace takedown
