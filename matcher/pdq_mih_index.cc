#include "matcher/pdq_mih_index.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>
#include <limits>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_set.h"

namespace takedown {
namespace {

constexpr int kProbeGroup = 17;  // the probes of one chunk at radius 1

struct Hit {
  uint32_t slot;
  uint16_t distance;
  uint16_t variant;
};

struct Query64 {
  uint64_t q[4];
};

Query64 ToQuery64(const PdqHash& hash) {
  Query64 out;
  std::memcpy(out.q, hash.words.data(), sizeof(out.q));
  return out;
}

// The words of a query or entry hash that a bucket of chunk `chunk` keeps
// inline (see PdqMihIndex::BucketEntry), in BucketEntry::filter order.
struct Filter {
  uint64_t low;   // filter[0..3]
  uint32_t high;  // filter[4..5]
};

Filter FilterBits(const PdqHash& hash, int chunk) {
  uint16_t words[PdqMihIndex::kFilterWords];
  for (int k = 0; k < PdqMihIndex::kFilterWords; ++k) {
    words[k] = hash.words[(chunk + 1 + k) % PdqHash::kWords];
  }
  Filter filter;
  std::memcpy(&filter.low, words, sizeof(filter.low));
  std::memcpy(&filter.high, words + 4, sizeof(filter.high));
  return filter;
}

// The 65536 16-bit masks ordered by popcount: the first RadiusCount(r) of
// them are the masks of at most r bits.
struct ProbeMasks {
  std::array<uint16_t, 1 << 16> masks;
  std::array<int, 17> count_up_to;  // count_up_to[r]: masks with <= r bits

  ProbeMasks() {
    int n = 0;
    for (int bits = 0; bits <= 16; ++bits) {
      for (uint32_t m = 0; m < (1u << 16); ++m) {
        if (std::popcount(m) == bits) masks[n++] = static_cast<uint16_t>(m);
      }
      count_up_to[bits] = n;
    }
  }
};

const ProbeMasks& Masks() {
  static const ProbeMasks* masks = new ProbeMasks();
  return *masks;
}

// The hot loops are compiled twice, with and without the POPCNT instruction
// (the build targets baseline x86-64, where std::popcount is a library call),
// and the right one is picked at load time.
// `probe_distance` is the distance between the query's word and the bucket's
// word; an entry can only be within `threshold` if that plus the distance on
// its filter bits is.
__attribute__((target_clones("popcnt", "default"))) void VerifyBucket(
    const Query64& query, const Filter& query_filter, int probe_distance,
    const PdqMihIndex::BucketEntry* entries, size_t count, const std::unique_ptr<PdqHash[]>* blocks,
    int block_bits, int threshold, int variant, std::vector<Hit>* hits) {
  const uint32_t mask = (uint32_t{1} << block_bits) - 1;
  const int filter_threshold = threshold - probe_distance;
  for (size_t i = 0; i < count; ++i) {
    uint64_t low;
    uint32_t high;
    std::memcpy(&low, entries[i].filter, sizeof(low));
    std::memcpy(&high, entries[i].filter + 4, sizeof(high));
    if (std::popcount(low ^ query_filter.low) + std::popcount(high ^ query_filter.high) > filter_threshold) {
      continue;
    }
    const uint32_t slot = entries[i].slot;
    uint64_t h[4];
    std::memcpy(h, blocks[slot >> block_bits][slot & mask].words.data(), sizeof(h));
    const int distance = std::popcount(h[0] ^ query.q[0]) + std::popcount(h[1] ^ query.q[1]) +
                         std::popcount(h[2] ^ query.q[2]) + std::popcount(h[3] ^ query.q[3]);
    if (distance <= threshold) {
      hits->push_back({slot, static_cast<uint16_t>(distance), static_cast<uint16_t>(variant)});
    }
  }
}

// Distance of `count` consecutive hashes to the nearest of the 8 variants.
__attribute__((target_clones("popcnt", "default"))) void ScanBlock(const Query64 (&query)[8],
                                                                   const PdqHash* hashes, size_t count,
                                                                   uint32_t first_slot, int threshold,
                                                                   std::vector<Hit>* hits) {
  for (size_t i = 0; i < count; ++i) {
    uint64_t h[4];
    std::memcpy(h, hashes[i].words.data(), sizeof(h));
    int best = std::numeric_limits<int>::max();
    int best_variant = 0;
    for (int v = 0; v < 8; ++v) {
      const int distance = std::popcount(h[0] ^ query[v].q[0]) + std::popcount(h[1] ^ query[v].q[1]) +
                           std::popcount(h[2] ^ query[v].q[2]) + std::popcount(h[3] ^ query[v].q[3]);
      if (distance < best) {
        best = distance;
        best_variant = v;
      }
    }
    if (best <= threshold) {
      hits->push_back({first_slot + static_cast<uint32_t>(i), static_cast<uint16_t>(best),
                       static_cast<uint16_t>(best_variant)});
    }
  }
}

}  // namespace

struct PdqMihIndex::Slot {
  static constexpr uint32_t kNoList = std::numeric_limits<uint32_t>::max();
  uint32_t list = kNoList;  // index into lists_; kNoList when free
  ContentCategory category = ContentCategory::kOther;
  std::string entry_id;
};

// A list's slots, found by entry id without storing the id twice: the set
// holds slot numbers and hashes/compares them by the slot's entry id.
struct PdqMihIndex::ListState {
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(uint32_t slot) const { return (*this)(index->SlotAt(slot).entry_id); }
    size_t operator()(std::string_view id) const { return std::hash<std::string_view>()(id); }
    const PdqMihIndex* index;
  };
  struct KeyEq {
    using is_transparent = void;
    std::string_view Id(uint32_t slot) const { return index->SlotAt(slot).entry_id; }
    bool operator()(uint32_t a, uint32_t b) const { return a == b; }
    bool operator()(uint32_t a, std::string_view b) const { return Id(a) == b; }
    bool operator()(std::string_view a, uint32_t b) const { return a == Id(b); }
    const PdqMihIndex* index;
  };

  ListState(const PdqMihIndex* index, std::string list_name)
      : name(std::move(list_name)), entries(0, KeyHash{index}, KeyEq{index}) {}

  std::string name;
  absl::flat_hash_set<uint32_t, KeyHash, KeyEq> entries;
};

PdqMihIndex::PdqMihIndex() = default;

void PdqMihIndex::AllocateBucketsLocked() {
  if (buckets_.empty()) buckets_.resize(size_t{kChunks} * kChunkValues);
}

PdqMihIndex::~PdqMihIndex() = default;

PdqMihIndex::Slot& PdqMihIndex::SlotAt(uint32_t slot) {
  return slot_blocks_[slot >> kBlockBits][slot & (kBlockSize - 1)];
}

const PdqMihIndex::Slot& PdqMihIndex::SlotAt(uint32_t slot) const {
  return slot_blocks_[slot >> kBlockBits][slot & (kBlockSize - 1)];
}

std::unique_lock<std::shared_mutex> PdqMihIndex::LockForWrite() const {
  std::lock_guard<std::mutex> turn(turnstile_);
  return std::unique_lock<std::shared_mutex>(mu_);
}

std::shared_lock<std::shared_mutex> PdqMihIndex::LockForRead() const {
  { std::lock_guard<std::mutex> turn(turnstile_); }
  return std::shared_lock<std::shared_mutex>(mu_);
}

PdqMihIndex::ListState* PdqMihIndex::FindList(const std::string& list_name) const {
  auto it = list_ids_.find(list_name);
  return it == list_ids_.end() ? nullptr : lists_[it->second].get();
}

void PdqMihIndex::ReserveSlots(size_t count) {
  const size_t capacity = hash_blocks_.size() * size_t{kBlockSize};
  const size_t available = free_slots_.size() + (capacity - slots_used_);
  if (count <= available) return;
  const size_t new_blocks = (count - available + kBlockSize - 1) / kBlockSize;
  std::vector<std::unique_ptr<PdqHash[]>> hashes;
  std::vector<std::unique_ptr<Slot[]>> slots;
  for (size_t i = 0; i < new_blocks; ++i) {
    hashes.push_back(std::make_unique<PdqHash[]>(kBlockSize));
    slots.push_back(std::make_unique<Slot[]>(kBlockSize));
  }
  auto lock = LockForWrite();
  for (size_t i = 0; i < new_blocks; ++i) {
    hash_blocks_.push_back(std::move(hashes[i]));
    slot_blocks_.push_back(std::move(slots[i]));
  }
}

void PdqMihIndex::AddToBuckets(uint32_t slot, const PdqHash& hash) {
  AllocateBucketsLocked();
  for (int c = 0; c < kChunks; ++c) {
    BucketEntry entry;
    entry.slot = slot;
    for (int k = 0; k < kFilterWords; ++k) entry.filter[k] = hash.words[(c + 1 + k) % kChunks];
    buckets_[(size_t{static_cast<uint32_t>(c)} << 16) | hash.words[c]].push_back(entry);
  }
}

void PdqMihIndex::ReserveBuckets(const std::vector<PdqIndexEntry>& entries) {
  {
    auto lock = LockForWrite();
    AllocateBucketsLocked();
  }
  std::vector<uint32_t> additions(buckets_.size());
  for (const PdqIndexEntry& entry : entries) {
    for (int c = 0; c < kChunks; ++c) {
      ++additions[(size_t{static_cast<uint32_t>(c)} << 16) | entry.hash.words[c]];
    }
  }
  for (size_t begin = 0; begin < buckets_.size(); begin += kWriteBatch) {
    const size_t end = std::min(buckets_.size(), begin + kWriteBatch);
    auto lock = LockForWrite();
    for (size_t b = begin; b < end; ++b) {
      std::vector<BucketEntry>& bucket = buckets_[b];
      const size_t needed = bucket.size() + additions[b];
      if (bucket.capacity() < needed) bucket.reserve(needed + needed / 8);
    }
  }
}

void PdqMihIndex::RemoveFromBuckets(uint32_t slot, const PdqHash& hash) {
  for (int c = 0; c < kChunks; ++c) {
    std::vector<BucketEntry>& bucket = buckets_[(size_t{static_cast<uint32_t>(c)} << 16) | hash.words[c]];
    auto it =
        std::find_if(bucket.begin(), bucket.end(), [slot](const BucketEntry& e) { return e.slot == slot; });
    if (it == bucket.end()) continue;  // cannot happen: every live slot is in its 16 buckets
    *it = bucket.back();
    bucket.pop_back();
    if (bucket.capacity() > 16 && bucket.size() < bucket.capacity() / 4) bucket.shrink_to_fit();
  }
}

PdqMihIndex::ListState* PdqMihIndex::CreateListLocked(const std::string& list_name) {
  uint32_t list_id;
  if (free_list_ids_.empty()) {
    list_id = static_cast<uint32_t>(lists_.size());
    lists_.emplace_back();
  } else {
    list_id = free_list_ids_.back();
    free_list_ids_.pop_back();
  }
  lists_[list_id] = std::make_unique<ListState>(this, list_name);
  list_ids_.emplace(list_name, list_id);
  return lists_[list_id].get();
}

void PdqMihIndex::PrepareLists(const std::vector<PdqIndexEntry>& entries) {
  absl::flat_hash_map<std::string, size_t> per_list;
  for (const PdqIndexEntry& entry : entries) ++per_list[entry.list_name];
  bool missing = false;
  for (const auto& [name, count] : per_list) missing |= FindList(name) == nullptr;
  if (missing) {
    auto lock = LockForWrite();
    for (const auto& [name, count] : per_list) {
      if (FindList(name) == nullptr) CreateListLocked(name);
    }
  }
  // Only writers touch a list's entry set, so growing it (a rehash of every
  // entry, long for a big list) needs write_mu_ but not mu_.
  for (const auto& [name, count] : per_list) {
    ListState* list = FindList(name);
    list->entries.reserve(list->entries.size() + count);
  }
}

void PdqMihIndex::InsertLocked(const PdqIndexEntry& entry) {
  ListState* list = FindList(entry.list_name);
  uint32_t list_id;
  if (list == nullptr) {
    list = CreateListLocked(entry.list_name);
    list_id = list_ids_.find(entry.list_name)->second;
  } else {
    list_id = list_ids_.find(entry.list_name)->second;
    auto existing = list->entries.find(std::string_view(entry.entry_id));
    if (existing != list->entries.end()) {
      const uint32_t slot = *existing;
      SlotAt(slot).category = entry.category;
      if (HashAt(slot) != entry.hash) {
        RemoveFromBuckets(slot, HashAt(slot));
        MutableHashAt(slot) = entry.hash;
        AddToBuckets(slot, entry.hash);
      }
      return;
    }
  }
  uint32_t slot;
  if (free_slots_.empty()) {
    slot = slots_used_++;
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  Slot& s = SlotAt(slot);
  s.list = list_id;
  s.category = entry.category;
  s.entry_id = entry.entry_id;
  MutableHashAt(slot) = entry.hash;
  AddToBuckets(slot, entry.hash);
  list->entries.insert(slot);
  ++size_;
}

void PdqMihIndex::RemoveSlotLocked(uint32_t slot) {
  Slot& s = SlotAt(slot);
  const uint32_t list_id = s.list;
  ListState* list = lists_[list_id].get();
  list->entries.erase(slot);  // before the id is cleared: the set hashes by id
  RemoveFromBuckets(slot, HashAt(slot));
  s.list = Slot::kNoList;
  std::string().swap(s.entry_id);
  free_slots_.push_back(slot);
  --size_;
  if (list->entries.empty()) {
    list_ids_.erase(list->name);
    lists_[list_id].reset();
    free_list_ids_.push_back(list_id);
  }
}

absl::Status PdqMihIndex::Insert(const std::vector<PdqIndexEntry>& entries) {
  if (absl::Status valid = ValidatePdqIndexEntries(entries); !valid.ok()) return valid;
  std::lock_guard<std::mutex> write(write_mu_);
  if (size_ + entries.size() > kMaxEntries) {
    return absl::ResourceExhaustedError(
        fmt::format("PDQ index insert of {} entries: the index holds {} and takes at most {}; remove lists "
                    "that are no longer needed",
                    entries.size(), size_, kMaxEntries));
  }
  ReserveSlots(entries.size());
  PrepareLists(entries);
  if (entries.size() >= kWriteBatch) ReserveBuckets(entries);
  for (size_t begin = 0; begin < entries.size(); begin += kWriteBatch) {
    const size_t end = std::min(entries.size(), begin + kWriteBatch);
    auto lock = LockForWrite();
    for (size_t i = begin; i < end; ++i) InsertLocked(entries[i]);
  }
  return absl::OkStatus();
}

bool PdqMihIndex::Remove(const std::string& list_name, const std::string& entry_id) {
  std::lock_guard<std::mutex> write(write_mu_);
  ListState* list = FindList(list_name);
  if (list == nullptr) return false;
  auto it = list->entries.find(std::string_view(entry_id));
  if (it == list->entries.end()) return false;
  const uint32_t slot = *it;
  auto lock = LockForWrite();
  RemoveSlotLocked(slot);
  return true;
}

size_t PdqMihIndex::RemoveList(const std::string& list_name) {
  std::lock_guard<std::mutex> write(write_mu_);
  ListState* list = FindList(list_name);
  if (list == nullptr) return 0;
  const std::vector<uint32_t> slots(list->entries.begin(), list->entries.end());
  for (size_t begin = 0; begin < slots.size(); begin += kWriteBatch) {
    const size_t end = std::min(slots.size(), begin + kWriteBatch);
    auto lock = LockForWrite();
    for (size_t i = begin; i < end; ++i) RemoveSlotLocked(slots[i]);
  }
  return slots.size();
}

size_t PdqMihIndex::size() const {
  auto lock = LockForRead();
  return size_;
}

std::vector<PdqMatch> PdqMihIndex::Query(const std::array<PdqHash, 8>& dihedral, int threshold) const {
  if (threshold < 0) return {};
  threshold = std::min(threshold, PdqHash::kBits);
  const int radius = threshold / kChunks;
  Query64 query[8];
  for (int v = 0; v < 8; ++v) query[v] = ToQuery64(dihedral[v]);

  std::vector<Hit> hits;
  std::vector<PdqMatch> matches;
  {
    auto lock = LockForRead();
    if (radius >= kScanFromRadius) {
      for (size_t b = 0; b * kBlockSize < slots_used_; ++b) {
        const size_t count = std::min<size_t>(kBlockSize, slots_used_ - b * kBlockSize);
        ScanBlock(query, hash_blocks_[b].get(), count, static_cast<uint32_t>(b * kBlockSize), threshold,
                  &hits);
      }
      std::erase_if(hits, [&](const Hit& hit) { return SlotAt(hit.slot).list == Slot::kNoList; });
    } else if (!buckets_.empty()) {
      const ProbeMasks& masks = Masks();
      const int probes = masks.count_up_to[radius];
      for (int v = 0; v < 8; ++v) {
        for (int c = 0; c < kChunks; ++c) {
          const size_t base = size_t{static_cast<uint32_t>(c)} << 16;
          const uint16_t word = dihedral[v].words[c];
          const Filter filter = FilterBits(dihedral[v], c);
          // Every bucket start is a cache miss: look the chunk's buckets up
          // and prefetch their first entries before scanning any, so the
          // misses overlap instead of following one another.
          for (int begin = 0; begin < probes; begin += kProbeGroup) {
            const int end = std::min(probes, begin + kProbeGroup);
            const std::vector<BucketEntry>* group[kProbeGroup];
            for (int p = begin; p < end; ++p) {
              group[p - begin] = &buckets_[base | (word ^ masks.masks[p])];
              __builtin_prefetch(group[p - begin]->data());
            }
            for (int p = begin; p < end; ++p) {
              const std::vector<BucketEntry>& bucket = *group[p - begin];
              if (bucket.empty()) continue;
              VerifyBucket(query[v], filter, std::popcount(masks.masks[p]), bucket.data(), bucket.size(),
                           hash_blocks_.data(), kBlockBits, threshold, v, &hits);
            }
          }
        }
      }
    }
    // One hit per slot: the smallest distance, then the lowest variant.
    std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
      if (a.slot != b.slot) return a.slot < b.slot;
      if (a.distance != b.distance) return a.distance < b.distance;
      return a.variant < b.variant;
    });
    for (size_t i = 0; i < hits.size(); ++i) {
      if (i > 0 && hits[i].slot == hits[i - 1].slot) continue;
      const Slot& slot = SlotAt(hits[i].slot);
      PdqMatch match;
      match.entry.hash = HashAt(hits[i].slot);
      match.entry.list_name = lists_[slot.list]->name;
      match.entry.entry_id = slot.entry_id;
      match.entry.category = slot.category;
      match.distance = hits[i].distance;
      match.variant = hits[i].variant;
      matches.push_back(std::move(match));
    }
  }
  std::sort(matches.begin(), matches.end(), PdqMatchLess);
  return matches;
}

}  // namespace takedown
