#include "daemon/sweep_scheduler.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "spdlog/spdlog.h"

namespace takedown {
namespace {

std::vector<ScheduledSource> WithInterval(std::vector<ScheduledSource> sources) {
  std::erase_if(sources, [](const ScheduledSource& s) { return s.interval <= absl::ZeroDuration(); });
  return sources;
}

}  // namespace

std::optional<absl::Time> NextSweepDue(const SweepState& state, absl::Duration interval) {
  switch (state.phase) {
    case SweepPhase::kIdle:
      return absl::InfinitePast();
    case SweepPhase::kCompleted:
    case SweepPhase::kFailed:
      if (state.finished_at == absl::InfinitePast()) return absl::InfinitePast();
      return state.finished_at + interval;
    case SweepPhase::kRunning:
    case SweepPhase::kPaused:
      return std::nullopt;
  }
  return std::nullopt;
}

SweepScheduler::SweepScheduler(std::vector<ScheduledSource> sources, Clock& clock, StateFn state,
                               StartFn start)
    : sources_(WithInterval(std::move(sources))),
      clock_(clock),
      state_(std::move(state)),
      start_(std::move(start)) {}

SweepScheduler::~SweepScheduler() { Stop(); }

std::optional<absl::Time> SweepScheduler::NextDue(const std::string& source_id,
                                                  const SweepState& state) const {
  for (const ScheduledSource& s : sources_) {
    if (s.source_id == source_id) return NextSweepDue(state, s.interval);
  }
  return std::nullopt;
}

std::vector<std::string> SweepScheduler::Tick(absl::Time now) {
  std::lock_guard lock(tick_mu_);
  std::vector<std::string> started;
  for (const ScheduledSource& s : sources_) {
    auto retry = retry_after_.find(s.source_id);
    if (retry != retry_after_.end() && now < retry->second) continue;
    absl::StatusOr<SweepState> state = state_(s.source_id);
    if (!state.ok()) {
      spdlog::warn("source {}: cannot read its sweep state for the rescan schedule: {}", s.source_id,
                   state.status().ToString());
      retry_after_[s.source_id] = now + std::min(s.interval, absl::Minutes(1));
      continue;
    }
    std::optional<absl::Time> due = NextSweepDue(*state, s.interval);
    if (!due || now < *due) continue;
    absl::StatusOr<bool> start = start_(s.source_id);
    if (!start.ok()) {
      spdlog::error(
          "source {}: the scheduled sweep (rescan_interval {}) could not start: {}; trying again later",
          s.source_id, absl::FormatDuration(s.interval), start.status().ToString());
      retry_after_[s.source_id] = now + std::min(s.interval, absl::Minutes(1));
      continue;
    }
    retry_after_.erase(s.source_id);
    if (*start) started.push_back(s.source_id);
  }
  return started;
}

void SweepScheduler::Start(absl::Duration period) {
  if (sources_.empty() || thread_.joinable()) return;
  const auto wait = std::chrono::milliseconds(std::max<int64_t>(1, absl::ToInt64Milliseconds(period)));
  thread_ = std::thread([this, wait] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      Tick(clock_.Now());
      lock.lock();
      wake_.wait_for(lock, wait, [this] { return stopping_; });
    }
  });
}

void SweepScheduler::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace takedown
