// PdqLinearIndex: a PdqIndex that answers every query by computing the
// distance from each of the 8 query variants to every entry. It is the
// reference that PdqMihIndex is tested and benchmarked against: simple enough
// to be obviously right, and O(N) per query.
//
// Thread-safe: queries share a lock, writers take it exclusively for the
// whole call (no batching; use PdqMihIndex where writes must not stall
// queries).
//
// Memory: per entry the hash twice (2 x 32 bytes), the list name, entry id and
// category (~72 bytes), and a hash-map slot keyed by (list name, entry id).
#pragma once

#include <array>
#include <cstddef>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "matcher/pdq_index.h"

namespace takedown {

class PdqLinearIndex final : public PdqIndex {
 public:
  PdqLinearIndex() = default;
  PdqLinearIndex(const PdqLinearIndex&) = delete;
  PdqLinearIndex& operator=(const PdqLinearIndex&) = delete;

  absl::Status Insert(const std::vector<PdqIndexEntry>& entries) override;
  bool Remove(const std::string& list_name, const std::string& entry_id) override;
  size_t RemoveList(const std::string& list_name) override;
  std::vector<PdqMatch> Query(const std::array<PdqHash, 8>& dihedral, int threshold) const override;
  size_t size() const override;

 private:
  using Key = std::pair<std::string, std::string>;  // (list name, entry id)

  // REQUIRES: mu_ held exclusively.
  void EraseAt(size_t position);

  mutable std::shared_mutex mu_;
  // hashes_[i] == entries_[i].hash, kept contiguous for the scan.
  std::vector<PdqHash> hashes_;
  std::vector<PdqIndexEntry> entries_;
  absl::flat_hash_map<Key, size_t> positions_;
};

}  // namespace takedown
