// DigestSet: the cryptographic digests computed for one object in one pass.
// Raw bytes (not hex); use HexEncode for display.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace takedown {

enum class HashType { kMd5, kSha1, kSha256 };

// "md5", "sha1", "sha256".
std::string_view HashTypeName(HashType type);
// Accepts the names above (case-insensitive) and "sha-1"/"sha-256"; false on anything else.
bool ParseHashType(std::string_view name, HashType* out);
// Digest length in bytes: 16, 20, 32.
size_t HashTypeLength(HashType type);

struct DigestSet {
  std::array<uint8_t, 16> md5{};
  std::array<uint8_t, 20> sha1{};
  std::array<uint8_t, 32> sha256{};

  // The raw digest bytes of one type.
  std::string_view Get(HashType type) const;
};

enum class ContentCategory { kCsam, kTerrorist, kOther };

// "csam", "terrorist", "other".
std::string_view ContentCategoryName(ContentCategory category);
bool ParseContentCategory(std::string_view name, ContentCategory* out);

}  // namespace takedown
