#include "notices/timer.h"

#include <algorithm>
#include <array>
#include <limits>
#include <string>

#include "common/status_macros.h"
#include "fmt/format.h"
#include "notices/json_fields.h"

namespace takedown {
namespace {

constexpr size_t kDueBytes = 8;
constexpr size_t kSuffixBytes = 1 + 1 + 4 + 4;  // separator, kind, step, period
constexpr size_t kMaxTimerValueBytes = 4096;

constexpr std::array kAllKinds = {
    TimerKind::kDeadline,      TimerKind::kReminder,           TimerKind::kRecheck,   TimerKind::kEscalation,
    TimerKind::kPenaltyPeriod, TimerKind::kPreservationExpiry, TimerKind::kSecrecyEnd};

absl::Time MaxDue() { return absl::FromCivil(absl::CivilSecond(10000, 1, 1, 0, 0, 0), absl::UTCTimeZone()); }

void AppendBE(std::string& out, uint64_t value, int bytes) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((value >> shift) & 0xFF));
}

uint64_t ReadBE(std::string_view bytes) {
  uint64_t value = 0;
  for (char c : bytes) value = (value << 8) | static_cast<unsigned char>(c);
  return value;
}

std::string Printable(std::string_view key) {
  std::string out;
  for (char c : key.substr(0, 80)) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F && c != '\\') {
      out.push_back(c);
    } else {
      out += fmt::format("\\x{:02x}", u);
    }
  }
  if (key.size() > 80) out += "...";
  return out;
}

absl::Status CorruptKey(std::string_view key, std::string_view problem) {
  return absl::DataLossError(fmt::format("timers key '{}': {}", Printable(key), problem));
}

}  // namespace

std::string_view TimerKindName(TimerKind kind) {
  switch (kind) {
    case TimerKind::kDeadline:
      return "deadline";
    case TimerKind::kReminder:
      return "reminder";
    case TimerKind::kRecheck:
      return "recheck";
    case TimerKind::kEscalation:
      return "escalation";
    case TimerKind::kPenaltyPeriod:
      return "penalty_period";
    case TimerKind::kPreservationExpiry:
      return "preservation_expiry";
    case TimerKind::kSecrecyEnd:
      return "secrecy_end";
  }
  return "unknown";
}

absl::StatusOr<TimerKind> ParseTimerKind(std::string_view name) {
  for (TimerKind k : kAllKinds) {
    if (name == TimerKindName(k)) return k;
  }
  return absl::InvalidArgumentError(
      fmt::format("unknown timer kind '{}'; use deadline, reminder, recheck, escalation, penalty_period, "
                  "preservation_expiry or secrecy_end",
                  name.substr(0, 64)));
}

uint8_t TimerKindCode(TimerKind kind) {
  switch (kind) {
    case TimerKind::kReminder:
      return 1;
    case TimerKind::kDeadline:
      return 2;
    case TimerKind::kRecheck:
      return 3;
    case TimerKind::kEscalation:
      return 4;
    case TimerKind::kPenaltyPeriod:
      return 5;
    case TimerKind::kPreservationExpiry:
      return 6;
    case TimerKind::kSecrecyEnd:
      return 7;
  }
  return 0;
}

absl::Status ValidateTimer(const Timer& t) {
  const std::string where = fmt::format("timer of case '{}'", Printable(t.case_id));
  if (t.due < absl::UnixEpoch() || t.due >= MaxDue()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: field 'due' must be between 1970 and 9999, got {}", where,
                    absl::FormatTime(absl::RFC3339_full, t.due, absl::UTCTimeZone())));
  }
  if (t.case_id.empty() || t.case_id.size() > kMaxTimerCaseIdLength ||
      t.case_id.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(
        fmt::format("{}: field 'case_id' must be 1..{} bytes without NUL", where, kMaxTimerCaseIdLength));
  }
  if (t.step < 0 || t.period < 0) {
    return absl::InvalidArgumentError(
        fmt::format("{}: fields 'step' and 'period' must not be negative", where));
  }
  if (t.profile.size() > kMaxTimerProfileLength || t.action.size() > kMaxTimerActionLength) {
    return absl::InvalidArgumentError(
        fmt::format("{}: field 'profile' (at most {} bytes) or 'action' (at most {}) "
                    "is too long",
                    where, kMaxTimerProfileLength, kMaxTimerActionLength));
  }
  if (!IsValidUtf8(t.case_id) || !IsValidUtf8(t.profile) || !IsValidUtf8(t.action)) {
    return absl::InvalidArgumentError(fmt::format("{}: case_id, profile and action must be UTF-8", where));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> EncodeTimerKey(const Timer& t) {
  if (absl::Status s = ValidateTimer(t); !s.ok()) return s;
  std::string key;
  key.reserve(kDueBytes + t.case_id.size() + kSuffixBytes);
  AppendBE(key, static_cast<uint64_t>(absl::ToUnixMicros(t.due)), 8);
  key += t.case_id;
  key.push_back('\0');
  key.push_back(static_cast<char>(TimerKindCode(t.kind)));
  AppendBE(key, static_cast<uint32_t>(t.step), 4);
  AppendBE(key, static_cast<uint32_t>(t.period), 4);
  return key;
}

nlohmann::json TimerToJson(const Timer& t) {
  return nlohmann::json{{"due", TimeToJson(t.due)}, {"case_id", t.case_id}, {"kind", TimerKindName(t.kind)},
                        {"step", t.step},           {"period", t.period},   {"profile", t.profile},
                        {"action", t.action}};
}

std::string EncodeTimerValue(const Timer& t) { return DumpJson(TimerToJson(t)); }

absl::StatusOr<Timer> DecodeTimer(std::string_view key, std::string_view value) {
  if (key.size() < kDueBytes + 1 + kSuffixBytes) return CorruptKey(key, "too short");
  const size_t case_end = key.size() - kSuffixBytes;
  if (key[case_end] != '\0') return CorruptKey(key, "no separator after the case id");
  const std::string_view key_case = key.substr(kDueBytes, case_end - kDueBytes);
  if (key_case.find('\0') != std::string_view::npos) return CorruptKey(key, "NUL inside the case id");
  const uint64_t key_micros = ReadBE(key.substr(0, kDueBytes));
  const auto key_code = static_cast<uint8_t>(key[case_end + 1]);
  const uint64_t key_step = ReadBE(key.substr(case_end + 2, 4));
  const uint64_t key_period = ReadBE(key.substr(case_end + 6, 4));

  if (value.size() > kMaxTimerValueBytes) {
    return CorruptKey(key, fmt::format("value is {} bytes; at most {}", value.size(), kMaxTimerValueBytes));
  }
  nlohmann::json json = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return CorruptKey(key, "value is not a JSON object");

  const std::string where = fmt::format("timers key '{}' value", Printable(key));
  absl::StatusOr<Timer> parsed = TimerFromJson(json, where);
  if (!parsed.ok()) return absl::DataLossError(std::string(parsed.status().message()));
  const Timer& t = *parsed;
  if (static_cast<uint64_t>(absl::ToUnixMicros(t.due)) != key_micros || t.case_id != key_case ||
      TimerKindCode(t.kind) != key_code || static_cast<uint64_t>(t.step) != key_step ||
      static_cast<uint64_t>(t.period) != key_period) {
    return CorruptKey(key, "key and value disagree");
  }
  return t;
}

absl::StatusOr<Timer> TimerFromJson(const nlohmann::json& json, std::string_view where) {
  if (!json.is_object()) return absl::InvalidArgumentError(fmt::format("{}: expected a JSON object", where));
  Timer t;
  ASSIGN_OR_RETURN(t.due, GetJsonTime(json, "due", where));
  ASSIGN_OR_RETURN(t.case_id, GetJsonString(json, "case_id", kMaxTimerCaseIdLength, where));
  ASSIGN_OR_RETURN(std::string kind_name, GetJsonString(json, "kind", 32, where));
  absl::StatusOr<TimerKind> kind = ParseTimerKind(kind_name);
  if (!kind.ok()) return Annotate(kind.status(), where);
  t.kind = *kind;
  ASSIGN_OR_RETURN(int64_t step, GetJsonInt(json, "step", 0, std::numeric_limits<int>::max(), where));
  t.step = static_cast<int>(step);
  ASSIGN_OR_RETURN(int64_t period, GetJsonInt(json, "period", 0, std::numeric_limits<int>::max(), where));
  t.period = static_cast<int>(period);
  ASSIGN_OR_RETURN(t.profile, GetJsonString(json, "profile", kMaxTimerProfileLength, where));
  ASSIGN_OR_RETURN(t.action, GetJsonString(json, "action", kMaxTimerActionLength, where));
  RETURN_IF_ERROR(Annotate(ValidateTimer(t), where));
  return t;
}

std::string TimerScanLimit(absl::Time now) {
  std::string limit;
  int64_t micros = now < absl::UnixEpoch() ? -1 : absl::ToUnixMicros(std::min(now, MaxDue()));
  AppendBE(limit, static_cast<uint64_t>(micros + 1), 8);
  return limit;
}

absl::Duration FiredLate(const Timer& timer, absl::Time now) {
  return now > timer.due ? now - timer.due : absl::ZeroDuration();
}

}  // namespace takedown
