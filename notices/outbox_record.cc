#include "notices/outbox_record.h"

#include <limits>
#include <utility>

#include "common/status_macros.h"
#include "fmt/format.h"
#include "notices/json_fields.h"

namespace takedown {

using Json = nlohmann::json;

OutboxRecord NewOutboxRecord(Notice notice, absl::Time now) {
  OutboxRecord record;
  record.notice = std::move(notice);
  record.state = OutboxRecord::State::kPending;
  record.next_attempt_at = now;
  return record;
}

std::string_view OutboxStateName(OutboxRecord::State state) {
  switch (state) {
    case OutboxRecord::State::kPending:
      return "pending";
    case OutboxRecord::State::kDelivered:
      return "delivered";
    case OutboxRecord::State::kDeadLetter:
      return "dead_letter";
  }
  return "unknown";
}

absl::StatusOr<OutboxRecord::State> ParseOutboxState(std::string_view name) {
  for (auto state :
       {OutboxRecord::State::kPending, OutboxRecord::State::kDelivered, OutboxRecord::State::kDeadLetter}) {
    if (OutboxStateName(state) == name) return state;
  }
  return absl::InvalidArgumentError(fmt::format(
      "unknown outbox state '{}'; expected pending, delivered or dead_letter", name.substr(0, 64)));
}

Json OutboxRecordToJson(const OutboxRecord& record) {
  return Json{
      {"notice", NoticeToJson(record.notice)},
      {"state", OutboxStateName(record.state)},
      {"attempts", record.attempts},
      {"last_error", record.last_error},
      {"next_attempt_at", TimeToJson(record.next_attempt_at)},
      {"delivered_at", TimeToJson(record.delivered_at)},
  };
}

absl::StatusOr<OutboxRecord> OutboxRecordFromJson(const Json& json) {
  OutboxRecord record;
  ASSIGN_OR_RETURN(const Json* notice, GetJsonMember(json, "notice", Json::value_t::object, "outbox record"));
  ASSIGN_OR_RETURN(record.notice, NoticeFromJson(*notice));
  const std::string where = fmt::format("outbox record {}", record.notice.id);
  ASSIGN_OR_RETURN(std::string state, GetJsonString(json, "state", 32, where));
  absl::StatusOr<OutboxRecord::State> parsed = ParseOutboxState(state);
  if (!parsed.ok()) return Annotate(parsed.status(), where + ": field 'state'");
  record.state = *parsed;
  ASSIGN_OR_RETURN(int64_t attempts, GetJsonInt(json, "attempts", 0, std::numeric_limits<int>::max(), where));
  record.attempts = static_cast<int>(attempts);
  ASSIGN_OR_RETURN(record.last_error, GetJsonString(json, "last_error", kMaxOutboxLastErrorLength, where));
  ASSIGN_OR_RETURN(record.next_attempt_at, GetJsonTime(json, "next_attempt_at", where));
  ASSIGN_OR_RETURN(record.delivered_at, GetJsonTime(json, "delivered_at", where));
  return record;
}

}  // namespace takedown
