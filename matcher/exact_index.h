// ExactIndex: the in-memory set of every loaded list's MD5, SHA-1 and
// SHA-256 digests, answering "which list entries have exactly this digest?".
// A list's PDQ entries (HashType::kPdq) are not held here: they match by
// distance, in matcher/pdq_matcher.h.
//
// Thread-safe: any number of concurrent Lookup() calls may run while other
// threads call ReplaceList()/RemoveList() (writers are serialised). A list is
// replaced atomically: a lookup sees either the whole old or the whole new
// version, never a mix, and one lookup sees one consistent set of lists.
//
// Lookups run on an immutable snapshot (a shared_ptr to the current map of
// lists) and hold the shared lock only to copy that pointer. Holding it for
// the whole lookup would let a tight lookup loop (e.g. a retro-match over
// millions of stored digests) starve writers, since std::shared_mutex prefers
// readers on glibc. A writer builds the new list's index without any lock,
// swaps the pointer, and then waits for lookups still running on the old
// snapshot (microseconds) so the old index is freed by the writer, not by a
// reader.
//
// Memory: per entry one slot in a flat hash table keyed by the raw digest
// (16, 20 or 32 bytes) plus ~16 bytes of metadata and the entry id's bytes;
// list name and version are stored once per list.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/digest_set.h"
#include "matcher/hash_list.h"

namespace takedown {

struct ExactIndexEntry {
  std::string list_name;
  std::string list_version;
  std::string entry_id;
  ContentCategory category = ContentCategory::kOther;
};

struct ExactMatch {
  HashType type = HashType::kMd5;
  std::string digest;  // raw bytes
  ExactIndexEntry entry;
};

class ExactIndex {
 public:
  ExactIndex();
  ~ExactIndex();
  ExactIndex(const ExactIndex&) = delete;
  ExactIndex& operator=(const ExactIndex&) = delete;

  // Installs `entries` as the whole content of `list_name` (replacing any
  // previous version). PDQ entries, and entries whose digest length does
  // not match their type, are ignored; for a repeated (type, digest) the first entry wins
  // (ParseHashList output has neither). A list holds at most 2^32 - 1
  // entries; further ones are ignored (the parser's default limit is 10^8).
  void ReplaceList(const std::string& list_name, const std::string& list_version,
                   const std::vector<HashListEntry>& entries);
  // Removes the list; no-op if it is not loaded.
  void RemoveList(const std::string& list_name);

  // Every entry, in every list, whose digest equals one of `digests`.
  // Ordered by list name, then type (MD5, SHA-1, SHA-256), then entry id.
  std::vector<ExactMatch> Lookup(const DigestSet& digests) const;

  // Number of (MD5, SHA-1, SHA-256) entries over all lists.
  size_t size() const;
  // (list name, entry count), ordered by list name.
  std::vector<std::pair<std::string, size_t>> ListSizes() const;

 private:
  class ListIndex;
  using ListMap = std::map<std::string, std::shared_ptr<const ListIndex>, std::less<>>;

  std::shared_ptr<const ListMap> Snapshot() const;
  // Installs `next` as the current map. REQUIRES: write_mu_ held.
  void Publish(std::shared_ptr<const ListMap> next);

  std::mutex write_mu_;  // serialises ReplaceList() and RemoveList()
  mutable std::shared_mutex mu_;
  // Guarded by mu_ (the pointer; the map and its ListIndexes are immutable
  // once published). Never null.
  std::shared_ptr<const ListMap> lists_;
};

}  // namespace takedown
