#include "config/scalars.h"

#include <algorithm>
#include <array>
#include <limits>

namespace takedown {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Digits with single '_' between them; returns nullopt on overflow.
std::optional<uint64_t> ParseDigits(std::string_view text) {
  if (text.empty() || !IsDigit(text.front()) || !IsDigit(text.back())) {
    return std::nullopt;
  }
  uint64_t value = 0;
  char previous = '0';
  for (char c : text) {
    if (c == '_') {
      if (previous == '_') return std::nullopt;
    } else if (IsDigit(c)) {
      const uint64_t digit = static_cast<uint64_t>(c - '0');
      if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
        return std::nullopt;
      }
      value = value * 10 + digit;
    } else {
      return std::nullopt;
    }
    previous = c;
  }
  return value;
}

struct Unit {
  std::string_view name;
  uint64_t factor;
};

constexpr std::array<Unit, 11> kUnits = {{
    {"PiB", 1ull << 50},
    {"TiB", 1ull << 40},
    {"GiB", 1ull << 30},
    {"MiB", 1ull << 20},
    {"KiB", 1ull << 10},
    {"PB", 1'000'000'000'000'000ull},
    {"TB", 1'000'000'000'000ull},
    {"GB", 1'000'000'000ull},
    {"MB", 1'000'000ull},
    {"KB", 1'000ull},
    {"B", 1ull},
}};

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '.' || c == '-' || c == '_';
}

bool IsIpv6Char(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

}  // namespace

std::optional<int64_t> ParseInteger(std::string_view text) {
  const bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  std::optional<uint64_t> magnitude = ParseDigits(text);
  if (!magnitude) return std::nullopt;
  constexpr uint64_t kMaxPositive = std::numeric_limits<int64_t>::max();
  if (negative) {
    if (*magnitude > kMaxPositive + 1) return std::nullopt;
    return static_cast<int64_t>(0 - *magnitude);
  }
  if (*magnitude > kMaxPositive) return std::nullopt;
  return static_cast<int64_t>(*magnitude);
}

std::optional<uint64_t> ParseByteSize(std::string_view text) {
  size_t digits_end = 0;
  while (digits_end < text.size() && (IsDigit(text[digits_end]) || text[digits_end] == '_')) {
    ++digits_end;
  }
  std::optional<uint64_t> number = ParseDigits(text.substr(0, digits_end));
  if (!number) return std::nullopt;
  std::string_view unit = text.substr(digits_end);
  if (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  if (unit.empty()) return number;
  for (const Unit& candidate : kUnits) {
    if (unit != candidate.name) continue;
    if (*number > std::numeric_limits<uint64_t>::max() / candidate.factor) {
      return std::nullopt;
    }
    return *number * candidate.factor;
  }
  return std::nullopt;
}

std::string FormatByteSize(uint64_t bytes) {
  if (bytes != 0) {
    for (const Unit& unit : kUnits) {
      if (unit.factor > 1 && bytes % unit.factor == 0) {
        return std::to_string(bytes / unit.factor) + std::string(unit.name);
      }
    }
  }
  return std::to_string(bytes);
}

namespace {
struct DurationUnit {
  std::string_view name;
  int64_t seconds;
};
constexpr DurationUnit kDurationUnits[] = {{"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}};
}  // namespace

std::optional<int64_t> ParseDurationSeconds(std::string_view text) {
  size_t digits_end = 0;
  while (digits_end < text.size() && (IsDigit(text[digits_end]) || text[digits_end] == '_')) {
    ++digits_end;
  }
  std::optional<uint64_t> number = ParseDigits(text.substr(0, digits_end));
  if (!number || *number > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  const std::string_view unit = text.substr(digits_end);
  if (unit.empty()) return static_cast<int64_t>(*number);
  for (const DurationUnit& candidate : kDurationUnits) {
    if (unit != candidate.name) continue;
    if (*number > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / candidate.seconds)) {
      return std::nullopt;
    }
    return static_cast<int64_t>(*number) * candidate.seconds;
  }
  return std::nullopt;
}

std::string FormatDurationSeconds(int64_t seconds) {
  if (seconds != 0) {
    for (const DurationUnit& unit : kDurationUnits) {
      if (seconds % unit.seconds == 0) return std::to_string(seconds / unit.seconds) + std::string(unit.name);
    }
  }
  return std::to_string(seconds);
}

std::optional<HostPort> ParseHostPort(std::string_view text) {
  HostPort result;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    std::string_view host = text.substr(1, close - 1);
    for (char c : host) {
      if (!IsIpv6Char(c)) return std::nullopt;
    }
    if (host.find(':') == std::string_view::npos) return std::nullopt;
    if (close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    result.host = std::string(host);
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    std::string_view host = text.substr(0, colon);
    for (char c : host) {
      if (!IsHostChar(c)) return std::nullopt;
    }
    result.host = std::string(host);
    port_text = text.substr(colon + 1);
  }
  if (port_text.empty() || port_text.size() > 5) return std::nullopt;
  uint32_t port = 0;
  for (char c : port_text) {
    if (!IsDigit(c)) return std::nullopt;
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port > 65535) return std::nullopt;
  result.port = static_cast<uint16_t>(port);
  return result;
}

std::optional<int64_t> ParseDecimalHundredths(std::string_view text, int max_integer_digits) {
  const size_t point = text.find('.');
  const std::string_view whole = text.substr(0, point);
  const std::string_view fraction =
      point == std::string_view::npos ? std::string_view() : text.substr(point + 1);
  auto all_digits = [](std::string_view part) {
    return std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (whole.empty() || whole.size() > static_cast<size_t>(max_integer_digits) || max_integer_digits > 16 ||
      !all_digits(whole)) {
    return std::nullopt;
  }
  if (point != std::string_view::npos && (fraction.empty() || fraction.size() > 2 || !all_digits(fraction))) {
    return std::nullopt;
  }
  int64_t value = 0;
  for (char c : whole) value = value * 10 + (c - '0');
  int64_t hundredths = 0;
  if (!fraction.empty())
    hundredths = (fraction[0] - '0') * 10 + (fraction.size() > 1 ? fraction[1] - '0' : 0);
  return value * 100 + hundredths;
}

}  // namespace takedown
