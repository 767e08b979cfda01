// Parsers for the scalar syntaxes used in config files. Pure functions,
// thread-safe; each returns std::nullopt for text it does not accept
// (including out-of-range values), never throws.
//
//   ParseInteger("-12"), ParseInteger("1_000_000")      decimal, '_' between
//                                                      digits allowed
//   ParseByteSize("4096"), ParseByteSize("64MiB"),
//   ParseByteSize("10 MB")                             units B, KB, MB, GB,
//                                                      TB, PB (powers of 1000)
//                                                      and KiB..PiB (of 1024)
//   ParseDurationSeconds("90s"), ParseDurationSeconds("24h"),
//   ParseDurationSeconds("3600")                       units s, m, h, d;
//                                                      no unit: seconds
//   ParseHostPort("127.0.0.1:0"), ParseHostPort("[::1]:50051")
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace takedown {

std::optional<int64_t> ParseInteger(std::string_view text);

std::optional<uint64_t> ParseByteSize(std::string_view text);

// Returns the shortest exact spelling ParseByteSize accepts: "4KiB", "10MB",
// "1023" (no unit when none divides exactly).
std::string FormatByteSize(uint64_t bytes);

std::optional<int64_t> ParseDurationSeconds(std::string_view text);

// Returns the shortest exact spelling ParseDurationSeconds accepts: "0",
// "90s", "15m", "24h", "7d".
std::string FormatDurationSeconds(int64_t seconds);

struct HostPort {
  std::string host;  // name or IPv4 address, or IPv6 address without brackets
  uint16_t port = 0;
};

// Accepts "host:port" (host: letters, digits, '.', '-', '_') or
// "[ipv6]:port"; port 0..65535 (0 asks the OS to pick one).
std::optional<HostPort> ParseHostPort(std::string_view text);

// A non-negative decimal with at most two decimals ("5000", "2500.5",
// "0.25") as hundredths (500000, 250050, 25): amounts in cents, percentages in
// basis points. At most `max_integer_digits` digits before the point;
// nullopt for anything else (signs, exponents, spaces, empty parts).
std::optional<int64_t> ParseDecimalHundredths(std::string_view text, int max_integer_digits);

}  // namespace takedown
