// PdqIndex: the interface of the in-memory indexes of PDQ hash-list entries,
// answering "which entries lie within Hamming distance t of any of the 8
// dihedral variants of this image's hash?".
//
// Implementations: PdqMihIndex (matcher/pdq_mih_index.h, multi-index hashing,
// the one the daemon uses) and PdqLinearIndex (matcher/pdq_linear_index.h, a
// scan over every entry: the reference the tests and benchmarks compare
// against). Both return exactly the same matches in the same order.
//
// An entry is identified by (list_name, entry_id). Inserting an entry whose
// key is already present replaces its hash and category (a list update);
// Remove() retracts one entry, RemoveList() a whole list.
//
// Implementations are thread-safe: Query() may run concurrently with any
// other call. See each implementation for what a concurrent query sees.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/digest_set.h"
#include "matcher/pdq_hash.h"

namespace takedown {

struct PdqIndexEntry {
  PdqHash hash;
  std::string list_name;  // non-empty
  std::string entry_id;
  ContentCategory category = ContentCategory::kOther;

  friend bool operator==(const PdqIndexEntry&, const PdqIndexEntry&) = default;
};

struct PdqMatch {
  PdqIndexEntry entry;
  int distance = 0;  // minimum over the 8 query variants, 0..threshold
  int variant = 0;   // PdqDihedral::Variant of the query that is that close;
                     // the lowest such index if several are

  friend bool operator==(const PdqMatch&, const PdqMatch&) = default;
};

// The order of Query() results: distance, then list name, then entry id.
bool PdqMatchLess(const PdqMatch& a, const PdqMatch& b);

class PdqIndex {
 public:
  // Most entries one index holds (slot ids are 32-bit).
  static constexpr size_t kMaxEntries = (size_t{1} << 32) - 2;
  // Longest accepted list name and entry id, in bytes.
  static constexpr size_t kMaxNameBytes = 1024;

  virtual ~PdqIndex() = default;

  // Adds or replaces `entries` (later ones win within one call).
  // InvalidArgument (and nothing is inserted) if an entry has an empty list
  // name or a name/id longer than kMaxNameBytes; ResourceExhausted (and
  // nothing is inserted) if size() + entries.size() exceeds kMaxEntries.
  virtual absl::Status Insert(const std::vector<PdqIndexEntry>& entries) = 0;
  // Removes one entry; false if it was not present.
  virtual bool Remove(const std::string& list_name, const std::string& entry_id) = 0;
  // Removes every entry of the list; returns how many there were.
  virtual size_t RemoveList(const std::string& list_name) = 0;

  // Every entry within `threshold` bits (inclusive) of at least one of the
  // 8 hashes of `dihedral` (PdqDihedral::hashes), once per entry with its
  // minimum distance, ordered by PdqMatchLess. A negative threshold matches
  // nothing; thresholds above 256 act as 256.
  virtual std::vector<PdqMatch> Query(const std::array<PdqHash, 8>& dihedral, int threshold) const = 0;

  // Number of entries.
  virtual size_t size() const = 0;
};

// Checks one batch against the limits of Insert(); OK or InvalidArgument.
absl::Status ValidatePdqIndexEntries(const std::vector<PdqIndexEntry>& entries);

}  // namespace takedown
