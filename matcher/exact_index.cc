#include "matcher/exact_index.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_map.h"

namespace takedown {

// One immutable version of one list.
class ExactIndex::ListIndex {
 public:
  ListIndex(const std::string& name, const std::string& version, const std::vector<HashListEntry>& entries)
      : name_(name), version_(version) {
    size_t counts[4] = {0, 0, 0, 0};  // indexed by HashType
    size_t id_bytes = 0;
    for (const HashListEntry& e : entries) {
      if (!IsCryptographicHashType(e.type)) continue;
      ++counts[static_cast<int>(e.type)];
      id_bytes += e.entry_id.size();
    }
    md5_.reserve(counts[static_cast<int>(HashType::kMd5)]);
    sha1_.reserve(counts[static_cast<int>(HashType::kSha1)]);
    sha256_.reserve(counts[static_cast<int>(HashType::kSha256)]);
    meta_.reserve(entries.size());
    ids_.reserve(id_bytes);
    for (const HashListEntry& e : entries) {
      if (meta_.size() == std::numeric_limits<uint32_t>::max()) break;  // indices are 32-bit
      bool inserted = false;
      auto index = static_cast<uint32_t>(meta_.size());
      switch (e.type) {
        case HashType::kMd5:
          inserted = Insert(md5_, e.digest, index);
          break;
        case HashType::kSha1:
          inserted = Insert(sha1_, e.digest, index);
          break;
        case HashType::kSha256:
          inserted = Insert(sha256_, e.digest, index);
          break;
        case HashType::kPdq:  // matched by distance, in matcher/pdq_matcher.h
          break;
      }
      if (!inserted) continue;
      meta_.push_back(Meta{ids_.size(), static_cast<uint32_t>(e.entry_id.size()), e.category});
      ids_.append(e.entry_id);
    }
  }

  size_t size() const { return meta_.size(); }

  // Appends this list's matches, in type order (one entry per type at most).
  void Lookup(const DigestSet& digests, std::vector<ExactMatch>& out) const {
    Find(md5_, HashType::kMd5, digests.md5, out);
    Find(sha1_, HashType::kSha1, digests.sha1, out);
    Find(sha256_, HashType::kSha256, digests.sha256, out);
  }

 private:
  template <size_t N>
  using DigestMap = absl::flat_hash_map<std::array<uint8_t, N>, uint32_t>;

  struct Meta {
    uint64_t id_offset;
    uint32_t id_length;
    ContentCategory category;
  };

  template <size_t N>
  static bool Insert(DigestMap<N>& map, const std::string& digest, uint32_t index) {
    if (digest.size() != N) return false;
    std::array<uint8_t, N> key;
    std::memcpy(key.data(), digest.data(), N);
    return map.try_emplace(key, index).second;
  }

  template <size_t N>
  void Find(const DigestMap<N>& map, HashType type, const std::array<uint8_t, N>& digest,
            std::vector<ExactMatch>& out) const {
    auto it = map.find(digest);
    if (it == map.end()) return;
    const Meta& meta = meta_[it->second];
    ExactMatch& match = out.emplace_back();
    match.type = type;
    match.digest.assign(reinterpret_cast<const char*>(digest.data()), N);
    match.entry.list_name = name_;
    match.entry.list_version = version_;
    match.entry.entry_id = ids_.substr(meta.id_offset, meta.id_length);
    match.entry.category = meta.category;
  }

  const std::string name_;
  const std::string version_;
  DigestMap<16> md5_;
  DigestMap<20> sha1_;
  DigestMap<32> sha256_;
  std::vector<Meta> meta_;
  std::string ids_;  // every entry id, concatenated
};

ExactIndex::ExactIndex() : lists_(std::make_shared<const ListMap>()) {}
ExactIndex::~ExactIndex() = default;

std::shared_ptr<const ExactIndex::ListMap> ExactIndex::Snapshot() const {
  std::shared_lock lock(mu_);
  return lists_;
}

void ExactIndex::Publish(std::shared_ptr<const ListMap> next) {
  std::shared_ptr<const ListMap> old;
  {
    std::unique_lock lock(mu_);
    old = std::exchange(lists_, std::move(next));
  }
  // Lookups that took the old snapshot finish within microseconds; waiting
  // for them makes this thread, not a reader, free a replaced index.
  while (old.use_count() > 1) std::this_thread::yield();
}

void ExactIndex::ReplaceList(const std::string& list_name, const std::string& list_version,
                             const std::vector<HashListEntry>& entries) {
  auto fresh = std::make_shared<const ListIndex>(list_name, list_version, entries);
  std::lock_guard write_lock(write_mu_);
  auto next = std::make_shared<ListMap>(*Snapshot());
  (*next)[list_name] = std::move(fresh);
  Publish(std::move(next));
}

void ExactIndex::RemoveList(const std::string& list_name) {
  std::lock_guard write_lock(write_mu_);
  std::shared_ptr<const ListMap> current = Snapshot();
  if (current->find(list_name) == current->end()) return;
  auto next = std::make_shared<ListMap>(*current);
  next->erase(list_name);
  current.reset();
  Publish(std::move(next));
}

std::vector<ExactMatch> ExactIndex::Lookup(const DigestSet& digests) const {
  std::shared_ptr<const ListMap> lists = Snapshot();
  std::vector<ExactMatch> matches;
  for (const auto& [name, list] : *lists) list->Lookup(digests, matches);
  return matches;
}

size_t ExactIndex::size() const {
  std::shared_ptr<const ListMap> lists = Snapshot();
  size_t total = 0;
  for (const auto& [name, list] : *lists) total += list->size();
  return total;
}

std::vector<std::pair<std::string, size_t>> ExactIndex::ListSizes() const {
  std::shared_ptr<const ListMap> lists = Snapshot();
  std::vector<std::pair<std::string, size_t>> sizes;
  sizes.reserve(lists->size());
  for (const auto& [name, list] : *lists) sizes.emplace_back(name, list->size());
  return sizes;
}

}  // namespace takedown
