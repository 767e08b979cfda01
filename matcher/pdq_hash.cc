#include "matcher/pdq_hash.h"

#include <bit>

namespace takedown {
namespace {

constexpr char kDigits[] = "0123456789abcdef";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string PdqHash::ToHex() const {
  std::string out;
  out.reserve(kHexLength);
  for (int w = kWords - 1; w >= 0; --w) {
    for (int shift = 12; shift >= 0; shift -= 4) {
      out.push_back(kDigits[(words[w] >> shift) & 0xF]);
    }
  }
  return out;
}

std::optional<PdqHash> PdqHash::FromHex(std::string_view hex) {
  if (hex.size() != kHexLength) return std::nullopt;
  PdqHash hash;
  for (int i = 0; i < kHexLength; ++i) {
    const int value = HexValue(hex[i]);
    if (value < 0) return std::nullopt;
    const int word = kWords - 1 - i / 4;
    hash.words[word] = static_cast<uint16_t>((hash.words[word] << 4) | value);
  }
  return hash;
}

int PdqHash::Distance(const PdqHash& other) const {
  int distance = 0;
  for (int w = 0; w < kWords; ++w) {
    distance += std::popcount(static_cast<uint16_t>(words[w] ^ other.words[w]));
  }
  return distance;
}

}  // namespace takedown
