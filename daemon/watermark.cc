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
  into.members += d.members;
  into.members_failed += d.members_failed;
}

uint64_t WatermarkTracker::Add(std::string key) {
  std::lock_guard lock(mu_);
  uint64_t seq = first_seq_ + pending_.size();
  pending_.push_back(Item{std::move(key), false, {}});
  return seq;
}

void WatermarkTracker::Complete(uint64_t seq, const SweepCounters& delta) {
  std::lock_guard lock(mu_);
  if (seq < first_seq_ || seq - first_seq_ >= pending_.size()) return;
  Item& done = pending_[seq - first_seq_];
  if (done.completed) return;
  done.completed = true;
  done.delta = delta;
  while (!pending_.empty() && pending_.front().completed) {
    Item& item = pending_.front();
    AddCounters(committed_, item.delta);
    watermark_ = std::move(item.key);
    pending_.pop_front();
    ++first_seq_;
  }
}

WatermarkTracker::Snapshot WatermarkTracker::Committed() const {
  std::lock_guard lock(mu_);
  Snapshot s;
  s.watermark = watermark_;
  s.committed = committed_;
  return s;
}

WatermarkTracker::Snapshot WatermarkTracker::Get() const {
  std::lock_guard lock(mu_);
  Snapshot s;
  s.watermark = watermark_;
  s.committed = committed_;
  s.pending = 0;
  for (const Item& item : pending_) {
    if (item.completed) {
      AddCounters(s.in_flight, item.delta);
    } else {
      ++s.pending;
    }
  }
  return s;
}

}  // namespace takedown
