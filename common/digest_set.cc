#include "common/digest_set.h"

#include "absl/strings/ascii.h"

namespace takedown {

std::string_view HashTypeName(HashType type) {
  switch (type) {
    case HashType::kMd5: return "md5";
    case HashType::kSha1: return "sha1";
    case HashType::kSha256: return "sha256";
    case HashType::kPdq: return "pdq";
  }
  return "unknown";
}

bool ParseHashType(std::string_view name, HashType* out) {
  std::string lower = absl::AsciiStrToLower(std::string(name));
  if (lower == "md5") { *out = HashType::kMd5; return true; }
  if (lower == "sha1" || lower == "sha-1") { *out = HashType::kSha1; return true; }
  if (lower == "sha256" || lower == "sha-256") { *out = HashType::kSha256; return true; }
  if (lower == "pdq") { *out = HashType::kPdq; return true; }
  return false;
}

size_t HashTypeLength(HashType type) {
  switch (type) {
    case HashType::kMd5: return 16;
    case HashType::kSha1: return 20;
    case HashType::kSha256: return 32;
    case HashType::kPdq: return 32;
  }
  return 0;
}

bool IsCryptographicHashType(HashType type) {
  switch (type) {
    case HashType::kMd5:
    case HashType::kSha1:
    case HashType::kSha256:
      return true;
    case HashType::kPdq:
      return false;
  }
  return false;
}

std::string_view DigestSet::Get(HashType type) const {
  auto view = [](const auto& a) {
    return std::string_view(reinterpret_cast<const char*>(a.data()), a.size());
  };
  switch (type) {
    case HashType::kMd5: return view(md5);
    case HashType::kSha1: return view(sha1);
    case HashType::kSha256: return view(sha256);
    case HashType::kPdq: return {};
  }
  return {};
}

std::string_view ContentCategoryName(ContentCategory category) {
  switch (category) {
    case ContentCategory::kCsam: return "csam";
    case ContentCategory::kTerrorist: return "terrorist";
    case ContentCategory::kOther: return "other";
  }
  return "other";
}

bool ParseContentCategory(std::string_view name, ContentCategory* out) {
  std::string lower = absl::AsciiStrToLower(std::string(name));
  if (lower == "csam") { *out = ContentCategory::kCsam; return true; }
  if (lower == "terrorist") { *out = ContentCategory::kTerrorist; return true; }
  if (lower == "other") { *out = ContentCategory::kOther; return true; }
  return false;
}

}  // namespace takedown
