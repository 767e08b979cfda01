#include "notices/json_fields.h"

#include <optional>

#include "common/hex.h"
#include "fmt/format.h"

namespace takedown {
namespace {

constexpr char kTimeFormat[] = "%Y-%m-%d%ET%H:%M:%E*SZ";
constexpr char kTimeParseFormat[] = "%Y-%m-%d%ET%H:%M:%E*S%Ez";

absl::Status FieldError(std::string_view where, std::string_view key, std::string_view problem) {
  return absl::InvalidArgumentError(fmt::format("{}: field '{}' {}", where, key, problem));
}

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 if there is none.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  size_t length;
  uint32_t code_point;
  uint32_t min;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, code_point = lead & 0x1F, min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, code_point = lead & 0x0F, min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, code_point = lead & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (byte(i + k) & 0x3F);
  }
  if (code_point < min || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) return 0;
  return length;
}

absl::StatusOr<const nlohmann::json*> Find(const nlohmann::json& object, std::string_view key,
                                           std::string_view where) {
  if (!object.is_object()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: expected a JSON object, got {}", where, object.type_name()));
  }
  auto it = object.find(std::string(key));
  if (it == object.end()) return FieldError(where, key, "is missing");
  return &*it;
}

}  // namespace

std::string DumpJson(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t length = Utf8SequenceLength(s, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t length = Utf8SequenceLength(s, i);
    if (length == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, length));
      i += length;
    }
  }
  return out;
}

void PutJsonBytes(nlohmann::json& object, std::string_view key, std::string_view bytes) {
  if (IsValidUtf8(bytes)) {
    object[std::string(key)] = std::string(bytes);
    return;
  }
  object[std::string(key)] = SanitizeUtf8(bytes);
  object[std::string(key) + "_hex"] = HexEncode(bytes);
}

absl::StatusOr<std::string> GetJsonBytes(const nlohmann::json& object, std::string_view key,
                                         size_t max_length, std::string_view where) {
  const std::string hex_key = std::string(key) + "_hex";
  if (object.is_object() && object.contains(hex_key)) {
    absl::StatusOr<std::string> hex = GetJsonString(object, hex_key, 2 * max_length, where);
    if (!hex.ok()) return hex.status();
    std::optional<std::string> bytes = HexDecode(*hex);
    if (!bytes.has_value()) return FieldError(where, hex_key, "must be hex of even length");
    return *std::move(bytes);
  }
  return GetJsonString(object, key, max_length, where);
}

nlohmann::json TimeToJson(absl::Time t) {
  if (t == absl::InfinitePast()) return nullptr;
  return absl::FormatTime(kTimeFormat, t, absl::UTCTimeZone());
}

absl::StatusOr<absl::Time> TimeFromJson(const nlohmann::json& value, std::string_view where) {
  if (value.is_null()) return absl::InfinitePast();
  if (!value.is_string() || value.get_ref<const std::string&>().size() > 64) {
    return absl::InvalidArgumentError(fmt::format("{}: expected an RFC 3339 UTC time string or null, got {}",
                                                  where, DumpJson(value).substr(0, 80)));
  }
  const std::string& text = value.get_ref<const std::string&>();
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(kTimeParseFormat, text, absl::UTCTimeZone(), &t, &error)) {
    return absl::InvalidArgumentError(
        fmt::format("{}: '{}' is not an RFC 3339 time like 2027-01-15T08:00:00.5Z ({})", where, text, error));
  }
  return t;
}

absl::StatusOr<std::string> GetJsonString(const nlohmann::json& object, std::string_view key,
                                          size_t max_length, std::string_view where) {
  auto found = Find(object, key, where);
  if (!found.ok()) return found.status();
  const nlohmann::json& value = **found;
  if (!value.is_string())
    return FieldError(where, key, fmt::format("must be a string, got {}", value.type_name()));
  const std::string& s = value.get_ref<const std::string&>();
  if (s.size() > max_length) {
    return FieldError(where, key, fmt::format("is {} bytes long; the limit is {}", s.size(), max_length));
  }
  return s;
}

absl::StatusOr<int64_t> GetJsonInt(const nlohmann::json& object, std::string_view key, int64_t min,
                                   int64_t max, std::string_view where) {
  auto found = Find(object, key, where);
  if (!found.ok()) return found.status();
  const nlohmann::json& value = **found;
  int64_t n = 0;
  if (value.is_number_unsigned()) {
    uint64_t u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(max)) {
      return FieldError(where, key, fmt::format("is {}; it must be in [{}, {}]", u, min, max));
    }
    n = static_cast<int64_t>(u);
  } else if (value.is_number_integer()) {
    n = value.get<int64_t>();
  } else {
    return FieldError(where, key, fmt::format("must be an integer, got {}", value.type_name()));
  }
  if (n < min || n > max)
    return FieldError(where, key, fmt::format("is {}; it must be in [{}, {}]", n, min, max));
  return n;
}

absl::StatusOr<uint64_t> GetJsonUint64(const nlohmann::json& object, std::string_view key,
                                       std::string_view where) {
  auto found = Find(object, key, where);
  if (!found.ok()) return found.status();
  const nlohmann::json& value = **found;
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer() && value.get<int64_t>() >= 0)
    return static_cast<uint64_t>(value.get<int64_t>());
  return FieldError(where, key,
                    fmt::format("must be a non-negative integer, got {}", DumpJson(value).substr(0, 40)));
}

absl::StatusOr<bool> GetJsonBool(const nlohmann::json& object, std::string_view key, std::string_view where) {
  auto found = Find(object, key, where);
  if (!found.ok()) return found.status();
  if (!(*found)->is_boolean()) {
    return FieldError(where, key, fmt::format("must be true or false, got {}", (*found)->type_name()));
  }
  return (*found)->get<bool>();
}

absl::StatusOr<absl::Time> GetJsonTime(const nlohmann::json& object, std::string_view key,
                                       std::string_view where) {
  auto found = Find(object, key, where);
  if (!found.ok()) return found.status();
  return TimeFromJson(**found, fmt::format("{}: field '{}'", where, key));
}

absl::StatusOr<const nlohmann::json*> GetJsonMember(const nlohmann::json& object, std::string_view key,
                                                    nlohmann::json::value_t type, std::string_view where) {
  auto found = Find(object, key, where);
  if (!found.ok()) return found.status();
  if ((*found)->type() != type) {
    return FieldError(
        where, key,
        fmt::format("must be a JSON {}, got {}", nlohmann::json(type).type_name(), (*found)->type_name()));
  }
  return *found;
}

}  // namespace takedown
