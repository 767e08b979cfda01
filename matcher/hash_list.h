// HashList: one parsed hash list (known CSAM / terrorist content digests and
// PDQ perceptual hashes), as produced by matcher/hash_list_parser.h and
// consumed by matcher/exact_index.h (the MD5, SHA-1 and SHA-256 entries) and
// matcher/pdq_matcher.h (the PDQ entries; PdqIndexEntriesFromHashList()).
// Plain values; no internal synchronisation.
//
// The file format is described in docs/hash-lists.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest_set.h"

namespace takedown {

struct HashListEntry {
  HashType type = HashType::kMd5;
  // Raw bytes, HashTypeLength(type) long. For kPdq: the 32 bytes that the
  // 64 hex digits of the list spell, in that order (so HexEncode(digest) is
  // the hash's PdqHash::ToHex() form).
  std::string digest;
  ContentCategory category = ContentCategory::kOther;
  std::string entry_id;  // unique within the list; see IsValidEntryId()
  std::vector<std::string> tags;
  uint32_t line = 0;  // 1-based line in the source file (saturates at UINT32_MAX)
};

struct HashList {
  std::string name;     // the list's configured name
  std::string version;  // lower-case hex SHA-256 of the file's bytes
  // At most one entry per (type, digest), in file order.
  std::vector<HashListEntry> entries;
  // Lines whose (type, digest) repeated an earlier entry; the first was kept.
  uint64_t duplicate_lines = 0;
};

// Bounds on an untrusted list file; the defaults equal the config defaults of
// limits.hash_list_max_line_bytes, limits.hash_list_max_entries and
// limits.hash_list_max_bytes.
struct HashListLimits {
  uint64_t max_line_bytes = 4096;
  uint64_t max_entries = 100'000'000;
  uint64_t max_bytes = 16ull << 30;
};

inline constexpr size_t kMaxEntryIdBytes = 128;

// True if `id` is 1 to kMaxEntryIdBytes characters from [A-Za-z0-9._:-].
bool IsValidEntryId(std::string_view id);

}  // namespace takedown
