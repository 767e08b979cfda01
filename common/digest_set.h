// DigestSet: the cryptographic digests computed for one object in one pass.
// Raw bytes (not hex); use HexEncode for display.
//
// HashType also names the PDQ perceptual hash that hash lists may carry
// (kPdq). A PDQ hash is not a digest of the bytes and is not in a DigestSet:
// it is computed from decoded pixels by matcher/pdq_hasher.h and matched by
// distance, not equality (matcher/pdq_matcher.h).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace takedown {

enum class HashType { kMd5, kSha1, kSha256, kPdq };

// "md5", "sha1", "sha256", "pdq".
std::string_view HashTypeName(HashType type);
// Accepts the names above (case-insensitive) and "sha-1"/"sha-256"; false on anything else.
bool ParseHashType(std::string_view name, HashType* out);
// Raw length in bytes: 16, 20, 32, and 32 for PDQ (256 bits, 64 hex digits).
size_t HashTypeLength(HashType type);
// True for the cryptographic digests (MD5, SHA-1, SHA-256), the ones a
// DigestSet holds and an exact index matches; false for kPdq.
bool IsCryptographicHashType(HashType type);

struct DigestSet {
  std::array<uint8_t, 16> md5{};
  std::array<uint8_t, 20> sha1{};
  std::array<uint8_t, 32> sha256{};

  // The raw digest bytes of one type. REQUIRES: IsCryptographicHashType(type);
  // for kPdq (not part of a DigestSet) it returns an empty view.
  std::string_view Get(HashType type) const;
};

enum class ContentCategory { kCsam, kTerrorist, kOther };

// "csam", "terrorist", "other".
std::string_view ContentCategoryName(ContentCategory category);
bool ParseContentCategory(std::string_view name, ContentCategory* out);

}  // namespace takedown
