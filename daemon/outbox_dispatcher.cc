#include "daemon/outbox_dispatcher.h"

#include <vector>

#include "common/status_macros.h"
#include "fmt/format.h"
#include "notices/json_fields.h"
#include "notices/notice.h"
#include "notices/outbox_record.h"
#include "spdlog/spdlog.h"

namespace takedown {

OutboxDispatcher::OutboxDispatcher(Store& store, Clock& clock, DaemonMetrics& metrics, OutboxOptions options)
    : store_(store), clock_(clock), metrics_(metrics), options_(options) {}

OutboxDispatcher::~OutboxDispatcher() { Stop(); }

void OutboxDispatcher::AddChannel(std::unique_ptr<NoticeChannel> channel) {
  std::string name(channel->name());
  channels_[name] = std::move(channel);
}

void OutboxDispatcher::Start() { thread_ = std::thread([this] { Run(); }); }

void OutboxDispatcher::Notify() {
  std::lock_guard lock(mu_);
  notified_ = true;
  wake_.notify_one();
}

void OutboxDispatcher::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void OutboxDispatcher::Run() {
  while (true) {
    absl::StatusOr<int> delivered = DispatchDue();
    if (!delivered.ok()) spdlog::error("outbox: {}", delivered.status().ToString());
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, absl::ToChronoMilliseconds(options_.poll_interval),
                   [&] { return stop_ || notified_; });
    if (stop_) return;
    notified_ = false;
  }
}

absl::StatusOr<int> OutboxDispatcher::DispatchDue() {
  std::lock_guard dispatch_lock(dispatch_mu_);
  const absl::Time now = clock_.Now();
  std::vector<OutboxRecord> due;
  absl::Status decode_status;
  RETURN_IF_ERROR(store_.Scan(Cf::kOutbox, "", [&](std::string_view key, std::string_view value) {
    absl::StatusOr<OutboxRecord> record = absl::InternalError("unparsed");
    try {
      record = OutboxRecordFromJson(nlohmann::json::parse(value));
    } catch (const nlohmann::json::exception& e) {
      record = absl::DataLossError(e.what());
    }
    if (!record.ok()) {
      decode_status = absl::DataLossError(
          fmt::format("outbox record {} is unreadable: {}", key, std::string(record.status().message())));
      return true;
    }
    if (record->state == OutboxRecord::State::kPending && record->next_attempt_at <= now) {
      due.push_back(std::move(*record));
    }
    return true;
  }));
  int delivered = 0;
  for (OutboxRecord& record : due) {
    {
      std::lock_guard lock(mu_);
      if (stop_) break;
    }
    auto channel = channels_.find(record.notice.channel);
    absl::Status status =
        channel == channels_.end()
            ? absl::FailedPreconditionError(fmt::format(
                  "no channel '{}' is configured; add it under notices: in the config", record.notice.channel))
            : channel->second->Deliver(record.notice);
    record.attempts++;
    if (status.ok()) {
      record.state = OutboxRecord::State::kDelivered;
      record.delivered_at = clock_.Now();
      record.last_error.clear();
      ++delivered;
      metrics_.CountNotice(record.notice.channel, "delivered");
    } else {
      record.last_error = SanitizeUtf8(std::string(status.message()));
      if (record.last_error.size() > kMaxOutboxLastErrorLength) {
        size_t cut = kMaxOutboxLastErrorLength;
        while (cut > 0 && (static_cast<unsigned char>(record.last_error[cut]) & 0xC0) == 0x80) --cut;
        record.last_error.resize(cut);
      }
      const bool permanent = channel != channels_.end() && !IsTransientDeliveryError(status);
      if (record.attempts >= options_.max_attempts || permanent) {
        record.state = OutboxRecord::State::kDeadLetter;
        metrics_.CountNotice(record.notice.channel, "dead_letter");
        spdlog::error("notice {} for case {} moved to dead letter after {} attempts: {}", record.notice.id,
                      record.notice.case_id, record.attempts, record.last_error);
      } else {
        absl::Duration backoff = options_.initial_backoff;
        for (int i = 1; i < record.attempts && backoff < options_.max_backoff; ++i) backoff *= 2;
        absl::Duration wait = std::min(backoff, options_.max_backoff);
        if (std::optional<absl::Duration> asked = RetryAfter(status)) {
          wait = std::max(wait, std::min(*asked, options_.max_retry_after));
        }
        record.next_attempt_at = clock_.Now() + wait;
        metrics_.CountNotice(record.notice.channel, "retry");
        spdlog::warn("notice {} delivery attempt {} failed: {}", record.notice.id, record.attempts,
                     record.last_error);
      }
    }
    Store::Batch batch;
    batch.Put(Cf::kOutbox, record.notice.id, DumpJson(OutboxRecordToJson(record)));
    RETURN_IF_ERROR(store_.Write(std::move(batch), /*sync=*/false));
  }
  RETURN_IF_ERROR(decode_status);
  return delivered;
}

}  // namespace takedown
