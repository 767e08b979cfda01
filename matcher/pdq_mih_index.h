// PdqMihIndex: a PdqIndex using multi-index hashing (Norouzi, Punjani, Fleet,
// "Fast Search in Hamming Space with Multi-Index Hashing", CVPR 2012): exact
// results, the same as a linear scan, for every threshold.
//
// The 256-bit hash is cut into its 16 words of 16 bits. If two hashes differ
// in at most t bits, then by the pigeonhole principle at least one of the 16
// words differs in at most r = floor(t / 16) bits. Each word position has a
// table of 65536 buckets (one per word value) listing the entries with that
// value there. A query probes, for every word position, each bucket whose
// value is within r bits of the query's word (1 + 16 = 17 buckets for r = 1,
// i.e. t = 16..31), rules out almost all entries found by 96 more bits kept
// in the bucket (BucketEntry), and verifies the rest by their full 256-bit
// distance.
//
// Cost of one query variant at N entries, for random hashes:
//   t      r   buckets probed   bucket entries read
//   0..15  0        16          16 N / 65536   (0.02% of N)
//   16..31 1       272         272 N / 65536   (0.4%)
//   32..47 2      2192        2192 N / 65536   (3.3%)
//   48..   3+   (more than a scan is worth) the index scans every entry
// A query checks all 8 dihedral variants, so 8 times that.
//
// Memory: 32 bytes per entry for the hash (fixed blocks of 65536), 16 x 16
// bytes of bucket entries (plus the buckets' std::vector slack; see
// BucketEntry for why they carry 96 bits of the hash), the entry id and
// category (40 bytes; ids over 15 bytes allocate), and ~5 bytes for the
// entry-id lookup; plus 16 x 65536 empty buckets (25 MB) from the first
// insert on (an index that never held an entry costs next to nothing).
// docs/pdq-index.md has measured figures.
//
// Thread-safety and visibility. All methods are thread-safe. Queries take a
// shared lock for their whole run (milliseconds at 10M entries); writers are
// serialised with each other and apply their work in batches of
// kWriteBatch entries, each under the exclusive lock and released in
// between, so a 1M-entry Insert() or RemoveList() delays a concurrent query
// by at most one batch (milliseconds), never by the whole import.
// Writers take precedence over queries arriving after them (a turnstile
// mutex), so a tight query loop cannot starve an import.
// Consequently a query that runs while Insert() or RemoveList() is in
// progress sees each entry either entirely before or entirely after its
// change (never a half-updated entry), and sees a prefix of the batches: the
// list may be partly imported or partly removed. A query that starts after
// the call returned sees all of it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "matcher/pdq_index.h"

namespace takedown {

class PdqMihIndex final : public PdqIndex {
 public:
  static constexpr int kChunks = 16;
  static constexpr int kChunkValues = 1 << 16;
  // Entries inserted or removed per exclusive-lock hold.
  static constexpr size_t kWriteBatch = 4096;
  // Thresholds whose probe radius floor(t / 16) reaches this are answered by
  // a scan of all entries, which is then cheaper than probing.
  static constexpr int kScanFromRadius = 3;
  // Words of the hash kept in each bucket entry besides the bucket's own.
  static constexpr int kFilterWords = 6;

  // One entry of bucket (c, v): the slot, and words c+1 .. c+6 (mod 16) of
  // its hash. Reading the hash from the slot is a cache miss per candidate,
  // which would dominate the query time; the 96 inline bits rule out almost
  // every candidate first. The probed word already agrees to within r bits,
  // so it is the other bits that must exceed the threshold: a random hash is
  // within 31 bits of the query on 96 random bits with probability 3e-4
  // (64 bits would pass ~45% of candidates). 16 bytes.
  struct BucketEntry {
    uint32_t slot;
    uint16_t filter[kFilterWords];
  };

  PdqMihIndex();
  ~PdqMihIndex() override;
  PdqMihIndex(const PdqMihIndex&) = delete;
  PdqMihIndex& operator=(const PdqMihIndex&) = delete;

  absl::Status Insert(const std::vector<PdqIndexEntry>& entries) override;
  bool Remove(const std::string& list_name, const std::string& entry_id) override;
  size_t RemoveList(const std::string& list_name) override;
  std::vector<PdqMatch> Query(const std::array<PdqHash, 8>& dihedral, int threshold) const override;
  size_t size() const override;

 private:
  struct Slot;
  struct ListState;

  // Blocks of slots never move, so growing the index copies no hashes.
  static constexpr int kBlockBits = 16;
  static constexpr uint32_t kBlockSize = uint32_t{1} << kBlockBits;

  const PdqHash& HashAt(uint32_t slot) const {
    return hash_blocks_[slot >> kBlockBits][slot & (kBlockSize - 1)];
  }
  PdqHash& MutableHashAt(uint32_t slot) { return hash_blocks_[slot >> kBlockBits][slot & (kBlockSize - 1)]; }
  Slot& SlotAt(uint32_t slot);
  const Slot& SlotAt(uint32_t slot) const;

  // REQUIRES: write_mu_ held. Makes sure `count` more slots can be handed
  // out; allocates the blocks without mu_ and publishes them under it.
  void ReserveSlots(size_t count);
  // REQUIRES: write_mu_ and mu_ (exclusive) held.
  void InsertLocked(const PdqIndexEntry& entry);
  void RemoveSlotLocked(uint32_t slot);
  void AddToBuckets(uint32_t slot, const PdqHash& hash);
  // REQUIRES: mu_ (exclusive) held.
  void AllocateBucketsLocked();
  // REQUIRES: write_mu_ held. Grows the buckets `entries` will go to once,
  // to their final size plus 1/8, in batches under mu_, instead of
  // doubling them repeatedly (which leaves ~30% unused on average).
  void ReserveBuckets(const std::vector<PdqIndexEntry>& entries);
  void RemoveFromBuckets(uint32_t slot, const PdqHash& hash);
  ListState* FindList(const std::string& list_name) const;
  ListState* CreateListLocked(const std::string& list_name);
  // REQUIRES: write_mu_ held. Creates the lists `entries` name (briefly
  // under mu_) and sizes their entry sets for them (without mu_).
  void PrepareLists(const std::vector<PdqIndexEntry>& entries);

  // Takes mu_ exclusively, letting no new query in while it waits.
  std::unique_lock<std::shared_mutex> LockForWrite() const;
  std::shared_lock<std::shared_mutex> LockForRead() const;

  // Serialises writers; held for a whole Insert/Remove/RemoveList.
  std::mutex write_mu_;
  // A writer holds it while it waits for mu_, so queries arriving after the
  // writer queue behind it (glibc's shared_mutex would let them overtake).
  mutable std::mutex turnstile_;
  // Everything below: written only with write_mu_ and mu_ (exclusive) held,
  // read by queries under mu_ (shared) and by writers under write_mu_. The
  // exception is ListState::entries, which queries never read: writers
  // change it under write_mu_ alone.
  mutable std::shared_mutex mu_;

  std::vector<std::unique_ptr<PdqHash[]>> hash_blocks_;
  std::vector<std::unique_ptr<Slot[]>> slot_blocks_;
  uint32_t slots_used_ = 0;  // slots ever handed out (high-water mark)
  std::vector<uint32_t> free_slots_;
  size_t size_ = 0;
  // kChunks * kChunkValues buckets: bucket (c, v) lists the slots whose word
  // c equals v, in no particular order.
  // Empty until the first insert, then kChunks * kChunkValues buckets.
  std::vector<std::vector<BucketEntry>> buckets_;
  // Lists by id (a slot stores the id); null once removed, ids are reused.
  std::vector<std::unique_ptr<ListState>> lists_;
  absl::flat_hash_map<std::string, uint32_t> list_ids_;
  std::vector<uint32_t> free_list_ids_;
};

}  // namespace takedown
