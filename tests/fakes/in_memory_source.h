// InMemorySource: a Source over objects held in memory, for tests of the
// sweep pipeline. Keys list in std::string order (CompareKeys is a plain
// byte-wise compare). Faults can be injected per key (vanish, fail mid-read,
// block in Open until released) and on the listing (stop or fail after N
// objects), and Open() calls are counted per key.
//
// Thread-safe: List, Open and every other method may run concurrently. List
// delivers a snapshot taken when it starts, without holding the source's lock
// while the sink runs. Readers returned by Open hold their own copy of the
// bytes, so they stay valid after the object is replaced or the source is
// destroyed. The destructor releases every blocked Open and waits for them.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "crawler/source.h"

namespace takedown {

class InMemorySource final : public Source {
 public:
  explicit InMemorySource(std::string id);
  ~InMemorySource() override;

  InMemorySource(const InMemorySource&) = delete;
  InMemorySource& operator=(const InMemorySource&) = delete;

  // Source.
  const std::string& id() const override { return id_; }
  absl::Status List(std::string_view after, ListingSink& sink) override;
  absl::StatusOr<std::unique_ptr<ObjectReader>> Open(const ObjectRef& ref) override;
  int CompareKeys(std::string_view a, std::string_view b) const override;

  // Adds or replaces the object at `key` (clearing any fault on it).
  void Put(const std::string& key, std::string bytes, std::string version);
  // Changes only the listed version; the bytes stay.
  void SetVersion(const std::string& key, std::string version);
  // Adds an entry that List reports through OnSkipped(key, reason).
  void AddSkipped(const std::string& key, std::string reason);
  void Remove(const std::string& key);

  // Faults on one key (set after Put; Put clears them).
  // Still listed, but Open fails with NotFound, as if deleted after listing.
  void Vanish(const std::string& key);
  // Read() fails with DataLoss once `bytes` bytes have been returned.
  void FailReadAfter(const std::string& key, uint64_t bytes);
  // Open() of `key` blocks until ReleaseOpen(key).
  void BlockOpen(const std::string& key);
  void ReleaseOpen(const std::string& key);
  // Waits until an Open() of `key` is blocked; false after `timeout`.
  bool WaitUntilBlocked(const std::string& key, absl::Duration timeout);

  // Faults on the listing: each List call delivers at most `objects` entries,
  // then returns `status` (OK: the listing ends quietly as if complete).
  void LimitListing(size_t objects, absl::Status status);
  void ClearListingLimit();

  // Open() calls (successful or not) for `key` / for all keys since the last
  // ResetCounts().
  uint64_t OpenCount(const std::string& key) const;
  uint64_t TotalOpens() const;
  uint64_t ListCalls() const;
  void ResetCounts();

  // The keys of the objects (not the skipped entries), in listing order.
  std::vector<std::string> Keys() const;

 private:
  struct Object {
    std::shared_ptr<const std::string> bytes;
    std::string version;
    std::optional<std::string> skipped_reason;  // set for AddSkipped entries
    bool vanish = false;
    std::optional<uint64_t> fail_read_after;
  };

  const std::string id_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Object> objects_;  // guarded by mu_; std::string order
  std::map<std::string, bool> blocked_;    // guarded by mu_: key -> still blocked
  std::map<std::string, int> waiting_;     // guarded by mu_: Opens waiting per key
  std::map<std::string, uint64_t> opens_;  // guarded by mu_
  uint64_t total_opens_ = 0;               // guarded by mu_
  uint64_t list_calls_ = 0;                // guarded by mu_
  std::optional<size_t> list_limit_;       // guarded by mu_
  absl::Status list_limit_status_;         // guarded by mu_
  bool shutting_down_ = false;             // guarded by mu_
};

}  // namespace takedown
