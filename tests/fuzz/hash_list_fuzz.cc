// libFuzzer target for the plain hash-list parser (matcher/hash_list_parser.h).
// Besides "never crashes", it checks the invariants a successful parse
// promises: digests of the right length, unique (type, digest) pairs and
// entry ids, valid entry ids, and a 64-hex-digit version.
//
// To fuzz, build this file with clang++ -std=c++20 -I. -fsanitize=fuzzer,address,undefined
// together with matcher/hash_list.cc, matcher/hash_list_parser.cc, common/hex.cc and
// common/status_macros.cc, linked with -lcrypto -lfmt and the Abseil hash, status and
// container libraries, then run it on the seed corpus:
//   ./hash_list_fuzz -max_len=4096 tests/fuzz/corpus/hash_list
// The ctest "hash_list_fuzz_replay" runs the seed corpus without libFuzzer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "matcher/hash_list.h"
#include "matcher/hash_list_parser.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  takedown::HashListLimits limits;
  limits.max_line_bytes = 256;
  limits.max_entries = 10000;
  limits.max_bytes = 1 << 20;
  std::string_view content(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<takedown::HashList> list = takedown::ParseHashList(content, "fuzz.csv", "fuzz", limits);
  if (!list.ok()) {
    Check(!list.status().message().empty());
    return 0;
  }
  Check(list->version.size() == 64);
  Check(list->entries.size() <= limits.max_entries);
  std::set<std::pair<takedown::HashType, std::string>> digests;
  std::set<std::string> ids;
  for (const takedown::HashListEntry& e : list->entries) {
    Check(e.digest.size() == takedown::HashTypeLength(e.type));
    Check(takedown::IsValidEntryId(e.entry_id));
    Check(digests.emplace(e.type, e.digest).second);
    Check(ids.insert(e.entry_id).second);
    Check(e.line >= 1);
    for (const std::string& tag : e.tags) Check(!tag.empty() && tag.size() <= 128);
  }
  return 0;
}
