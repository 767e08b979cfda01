#include "tests/fakes/in_memory_source.h"

#include <algorithm>
#include <cstring>

#include "fmt/format.h"

namespace takedown {
namespace {

class InMemoryReader final : public ObjectReader {
 public:
  InMemoryReader(std::shared_ptr<const std::string> bytes, std::optional<uint64_t> fail_after, std::string key)
      : bytes_(std::move(bytes)), fail_after_(fail_after), key_(std::move(key)) {}

  absl::StatusOr<size_t> Read(std::span<uint8_t> buffer) override {
    uint64_t end = bytes_->size();
    if (fail_after_) {
      if (pos_ >= *fail_after_ && pos_ < end) {
        return absl::DataLossError(
            fmt::format("in-memory object {}: injected read failure at byte {}", key_, pos_));
      }
      end = std::min(end, *fail_after_);
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(buffer.size(), end - pos_));
    if (n > 0) std::memcpy(buffer.data(), bytes_->data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  std::shared_ptr<const std::string> bytes_;
  std::optional<uint64_t> fail_after_;
  std::string key_;
  uint64_t pos_ = 0;
};

}  // namespace

InMemorySource::InMemorySource(std::string id) : id_(std::move(id)) {}

InMemorySource::~InMemorySource() {
  std::unique_lock lock(mu_);
  shutting_down_ = true;
  blocked_.clear();
  cv_.notify_all();
  cv_.wait(lock, [&] {
    return std::all_of(waiting_.begin(), waiting_.end(), [](const auto& w) { return w.second == 0; });
  });
}

absl::Status InMemorySource::List(std::string_view after, ListingSink& sink) {
  struct Listed {
    std::string key;
    std::string version;
    uint64_t size;
    std::optional<std::string> skipped_reason;
  };
  std::vector<Listed> snapshot;
  std::optional<size_t> limit;
  absl::Status limit_status;
  {
    std::lock_guard lock(mu_);
    ++list_calls_;
    auto it = after.empty() ? objects_.begin() : objects_.upper_bound(std::string(after));
    for (; it != objects_.end(); ++it) {
      snapshot.push_back({it->first, it->second.version, it->second.bytes->size(), it->second.skipped_reason});
    }
    limit = list_limit_;
    limit_status = list_limit_status_;
  }
  size_t delivered = 0;
  for (Listed& item : snapshot) {
    if (limit && delivered >= *limit) return limit_status;
    ++delivered;
    if (item.skipped_reason) {
      sink.OnSkipped(item.key, *item.skipped_reason);
      continue;
    }
    if (!sink.OnObject(ObjectRef{id_, std::move(item.key), std::move(item.version), item.size})) break;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ObjectReader>> InMemorySource::Open(const ObjectRef& ref) {
  std::unique_lock lock(mu_);
  ++opens_[ref.key];
  ++total_opens_;
  auto blocked = blocked_.find(ref.key);
  if (blocked != blocked_.end() && blocked->second && !shutting_down_) {
    ++waiting_[ref.key];
    cv_.notify_all();
    cv_.wait(lock, [&] {
      auto b = blocked_.find(ref.key);
      return shutting_down_ || b == blocked_.end() || !b->second;
    });
    --waiting_[ref.key];
    cv_.notify_all();
  }
  auto it = objects_.find(ref.key);
  if (it == objects_.end() || it->second.vanish || it->second.skipped_reason) {
    return absl::NotFoundError(fmt::format("in-memory source {}: object {} does not exist", id_, ref.key));
  }
  return std::make_unique<InMemoryReader>(it->second.bytes, it->second.fail_read_after, ref.key);
}

int InMemorySource::CompareKeys(std::string_view a, std::string_view b) const {
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

void InMemorySource::Put(const std::string& key, std::string bytes, std::string version) {
  std::lock_guard lock(mu_);
  Object& object = objects_[key];
  object = Object{};
  object.bytes = std::make_shared<const std::string>(std::move(bytes));
  object.version = std::move(version);
}

void InMemorySource::SetVersion(const std::string& key, std::string version) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it != objects_.end()) it->second.version = std::move(version);
}

void InMemorySource::AddSkipped(const std::string& key, std::string reason) {
  std::lock_guard lock(mu_);
  Object& object = objects_[key];
  object = Object{};
  object.bytes = std::make_shared<const std::string>();
  object.skipped_reason = std::move(reason);
}

void InMemorySource::Remove(const std::string& key) {
  std::lock_guard lock(mu_);
  objects_.erase(key);
}

void InMemorySource::Vanish(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it != objects_.end()) it->second.vanish = true;
}

void InMemorySource::FailReadAfter(const std::string& key, uint64_t bytes) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it != objects_.end()) it->second.fail_read_after = bytes;
}

void InMemorySource::BlockOpen(const std::string& key) {
  std::lock_guard lock(mu_);
  blocked_[key] = true;
}

void InMemorySource::ReleaseOpen(const std::string& key) {
  std::lock_guard lock(mu_);
  blocked_[key] = false;
  cv_.notify_all();
}

bool InMemorySource::WaitUntilBlocked(const std::string& key, absl::Duration timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout), [&] {
    auto it = waiting_.find(key);
    return it != waiting_.end() && it->second > 0;
  });
}

void InMemorySource::LimitListing(size_t objects, absl::Status status) {
  std::lock_guard lock(mu_);
  list_limit_ = objects;
  list_limit_status_ = std::move(status);
}

void InMemorySource::ClearListingLimit() {
  std::lock_guard lock(mu_);
  list_limit_.reset();
  list_limit_status_ = absl::OkStatus();
}

uint64_t InMemorySource::OpenCount(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = opens_.find(key);
  return it == opens_.end() ? 0 : it->second;
}

uint64_t InMemorySource::TotalOpens() const {
  std::lock_guard lock(mu_);
  return total_opens_;
}

uint64_t InMemorySource::ListCalls() const {
  std::lock_guard lock(mu_);
  return list_calls_;
}

void InMemorySource::ResetCounts() {
  std::lock_guard lock(mu_);
  opens_.clear();
  total_opens_ = 0;
  list_calls_ = 0;
}

std::vector<std::string> InMemorySource::Keys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> keys;
  for (const auto& [key, object] : objects_) {
    if (!object.skipped_reason) keys.push_back(key);
  }
  return keys;
}

}  // namespace takedown
