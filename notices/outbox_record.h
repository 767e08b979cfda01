// OutboxRecord: a notice waiting in the outbox (RocksDB `outbox` column family,
// keyed by notice id) with its delivery bookkeeping. The dispatcher delivers
// pending records whose next_attempt_at has passed, retries transient failures
// with backoff, and moves records that cannot be delivered to dead_letter.
//
// Plain value; functions are pure and thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "notices/notice.h"

namespace takedown {

inline constexpr size_t kMaxOutboxLastErrorLength = 4096;

struct OutboxRecord {
  enum class State { kPending, kDelivered, kDeadLetter };

  Notice notice;
  State state = State::kPending;
  int attempts = 0;  // delivery attempts made so far
  // Message of the last failed attempt, empty if none. Truncate to
  // kMaxOutboxLastErrorLength when recording it.
  std::string last_error;
  // absl::InfinitePast() means "not set" (written as null in JSON).
  absl::Time next_attempt_at = absl::InfinitePast();
  absl::Time delivered_at = absl::InfinitePast();

  friend bool operator==(const OutboxRecord&, const OutboxRecord&) = default;
};

// A pending record, due at `now`, with no attempts yet.
OutboxRecord NewOutboxRecord(Notice notice, absl::Time now);

// "pending", "delivered", "dead_letter".
std::string_view OutboxStateName(OutboxRecord::State state);
// InvalidArgument for anything but the names above.
absl::StatusOr<OutboxRecord::State> ParseOutboxState(std::string_view name);

// Lossless round trip. OutboxRecordFromJson validates the embedded notice
// (NoticeFromJson), attempts >= 0 and last_error's length.
nlohmann::json OutboxRecordToJson(const OutboxRecord& record);
absl::StatusOr<OutboxRecord> OutboxRecordFromJson(const nlohmann::json& json);

}  // namespace takedown
