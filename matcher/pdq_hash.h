// PdqHash: a 256-bit PDQ perceptual hash, its hexadecimal form and Hamming
// distance.
//
// Bit k (0..255) is the DCT coefficient at row k / 16, column k % 16 of the
// 16x16 coefficient block; it is stored in words[k / 16] at bit k % 16. The hex
// form is the 16 words from words[15] down to words[0], four lower-case digits
// each (64 characters), which is the format of the reference implementation and
// of the hash lists that carry PDQ hashes.
//
// A value type; thread-compatible.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace takedown {

struct PdqHash {
  static constexpr int kBits = 256;
  static constexpr int kWords = 16;
  static constexpr int kHexLength = 64;

  std::array<uint16_t, kWords> words{};

  // Returns 64 lower-case hex digits.
  std::string ToHex() const;

  // Accepts exactly 64 hex digits, upper or lower case; nullopt otherwise.
  static std::optional<PdqHash> FromHex(std::string_view hex);

  // Number of differing bits, 0..256.
  int Distance(const PdqHash& other) const;

  bool Bit(int k) const { return (words[k / 16] >> (k % 16)) & 1; }
  void SetBit(int k) { words[k / 16] |= static_cast<uint16_t>(1u << (k % 16)); }

  friend bool operator==(const PdqHash&, const PdqHash&) = default;
};

}  // namespace takedown
