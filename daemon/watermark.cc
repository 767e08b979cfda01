#include "daemon/watermark.h"

namespace takedown {

void AddCounters(SweepCounters& into, const SweepCounters& d) {
  into.listed += d.listed;
  into.done += d.done;
  into.unchanged += d.unchanged;
  into.skipped += d.skipped;
  into.failed += d.failed;
  into.bytes += d.bytes;
  into.matches += d.matches;
}

uint64_t WatermarkTracker::Add(std::string key) {
  std::lock_guard lock(mu_);
  uint64_t seq = next_seq_++;
  pending_.emplace(seq, Item{std::move(key), false, {}});
  return seq;
}

void WatermarkTracker::Complete(uint64_t seq, const SweepCounters& delta) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(seq);
  if (it == pending_.end() || it->second.completed) return;
  it->second.completed = true;
  it->second.delta = delta;
  while (!pending_.empty() && pending_.begin()->second.completed) {
    Item& item = pending_.begin()->second;
    AddCounters(committed_, item.delta);
    watermark_ = std::move(item.key);
    pending_.erase(pending_.begin());
  }
}

WatermarkTracker::Snapshot WatermarkTracker::Get() const {
  std::lock_guard lock(mu_);
  Snapshot s;
  s.watermark = watermark_;
  s.committed = committed_;
  s.pending = 0;
  for (const auto& [seq, item] : pending_) {
    if (item.completed) {
      AddCounters(s.in_flight, item.delta);
    } else {
      ++s.pending;
    }
  }
  return s;
}

}  // namespace takedown
