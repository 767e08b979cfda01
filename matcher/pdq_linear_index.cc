#include "matcher/pdq_linear_index.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <mutex>

namespace takedown {
namespace {

struct Hit {
  size_t position;
  int distance;
  int variant;
};

// Compiled with and without POPCNT, chosen at load time (see pdq_mih_index.cc).
__attribute__((target_clones("popcnt", "default"))) void Scan(const uint64_t (&query)[8][4],
                                                              const PdqHash* hashes, size_t count,
                                                              int threshold, std::vector<Hit>* hits) {
  for (size_t i = 0; i < count; ++i) {
    uint64_t h[4];
    std::memcpy(h, hashes[i].words.data(), sizeof(h));
    int best = std::numeric_limits<int>::max();
    int best_variant = 0;
    for (int v = 0; v < 8; ++v) {
      const int distance = std::popcount(h[0] ^ query[v][0]) + std::popcount(h[1] ^ query[v][1]) +
                           std::popcount(h[2] ^ query[v][2]) + std::popcount(h[3] ^ query[v][3]);
      if (distance < best) {
        best = distance;
        best_variant = v;
      }
    }
    if (best <= threshold) hits->push_back({i, best, best_variant});
  }
}

}  // namespace

absl::Status PdqLinearIndex::Insert(const std::vector<PdqIndexEntry>& entries) {
  if (absl::Status valid = ValidatePdqIndexEntries(entries); !valid.ok()) return valid;
  std::unique_lock<std::shared_mutex> lock(mu_);
  if (entries_.size() + entries.size() > kMaxEntries) {
    return absl::ResourceExhaustedError(
        fmt::format("PDQ index insert of {} entries: the index holds {} and takes at most {}", entries.size(),
                    entries_.size(), kMaxEntries));
  }
  for (const PdqIndexEntry& entry : entries) {
    auto [it, inserted] = positions_.try_emplace(Key(entry.list_name, entry.entry_id), entries_.size());
    if (inserted) {
      hashes_.push_back(entry.hash);
      entries_.push_back(entry);
    } else {
      hashes_[it->second] = entry.hash;
      entries_[it->second] = entry;
    }
  }
  return absl::OkStatus();
}

void PdqLinearIndex::EraseAt(size_t position) {
  const size_t last = entries_.size() - 1;
  positions_.erase(Key(entries_[position].list_name, entries_[position].entry_id));
  if (position != last) {
    hashes_[position] = hashes_[last];
    entries_[position] = std::move(entries_[last]);
    positions_[Key(entries_[position].list_name, entries_[position].entry_id)] = position;
  }
  hashes_.pop_back();
  entries_.pop_back();
}

bool PdqLinearIndex::Remove(const std::string& list_name, const std::string& entry_id) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto it = positions_.find(Key(list_name, entry_id));
  if (it == positions_.end()) return false;
  EraseAt(it->second);
  return true;
}

size_t PdqLinearIndex::RemoveList(const std::string& list_name) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  size_t removed = 0;
  for (size_t i = entries_.size(); i-- > 0;) {
    if (entries_[i].list_name == list_name) {
      EraseAt(i);
      ++removed;
    }
  }
  return removed;
}

size_t PdqLinearIndex::size() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return entries_.size();
}

std::vector<PdqMatch> PdqLinearIndex::Query(const std::array<PdqHash, 8>& dihedral, int threshold) const {
  if (threshold < 0) return {};
  uint64_t query[8][4];
  for (int v = 0; v < 8; ++v) std::memcpy(query[v], dihedral[v].words.data(), sizeof(query[v]));
  std::vector<PdqMatch> matches;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    std::vector<Hit> hits;
    Scan(query, hashes_.data(), hashes_.size(), threshold, &hits);
    for (const Hit& hit : hits) {
      PdqMatch match;
      match.entry = entries_[hit.position];
      match.entry.hash = hashes_[hit.position];
      match.distance = hit.distance;
      match.variant = hit.variant;
      matches.push_back(std::move(match));
    }
  }
  std::sort(matches.begin(), matches.end(), PdqMatchLess);
  return matches;
}

}  // namespace takedown
