// Key encodings shared by everything that writes to the store.
//
// - Unsigned integers are encoded big-endian in 8 bytes so that RocksDB's
//   bytewise ordering equals numeric ordering (timers by due time, audit by
//   sequence number).
// - Composite keys join their parts with a 0x00 byte. The first part must not
//   contain 0x00 (source ids, list ids, case ids never do); the last part may,
//   because SplitKey() splits at the first separator only.
//
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace takedown {

inline constexpr char kKeySeparator = '\0';

// Returns the 8-byte big-endian encoding of `value`.
std::string EncodeUint64BE(uint64_t value);

// Appends the 8-byte big-endian encoding of `value` to `out`.
void AppendUint64BE(std::string& out, uint64_t value);

// Decodes exactly 8 big-endian bytes; nullopt if `bytes` is not 8 bytes long.
std::optional<uint64_t> DecodeUint64BE(std::string_view bytes);

// Returns a + '\0' + b. REQUIRES: `a` contains no 0x00 byte.
std::string JoinKey(std::string_view a, std::string_view b);

// Returns a + '\0': the prefix of every JoinKey(a, ...), for Store::Scan.
std::string KeyPrefix(std::string_view a);

// Splits at the first 0x00 into {a, b}; nullopt if there is no separator.
// The views point into `key`.
std::optional<std::pair<std::string_view, std::string_view>> SplitKey(std::string_view key);

// Returns `key` made safe for log and error messages: printable ASCII kept,
// other bytes as \xNN, truncated to about `max_chars` characters with "...".
std::string PrintableKey(std::string_view key, size_t max_chars = 80);

}  // namespace takedown
