#include "daemon/archive_member_scanner.h"

#include <algorithm>
#include <utility>

#include "common/status_macros.h"

namespace takedown {
namespace {

// Passes reads through and keeps the inner reader's error, so a failed read
// of the member (which the expander reports) is told apart from the
// digester's own size limit.
class ErrorKeepingReader final : public ObjectReader {
 public:
  explicit ErrorKeepingReader(ObjectReader& inner) : inner_(inner) {}

  absl::StatusOr<size_t> Read(std::span<uint8_t> buffer) override {
    absl::StatusOr<size_t> n = inner_.Read(buffer);
    if (!n.ok()) error_ = n.status();
    return n;
  }

  const absl::Status& error() const { return error_; }

 private:
  ObjectReader& inner_;
  absl::Status error_;
};

absl::Status WriteAndReset(Store& store, Store::Batch& batch) {
  Store::Batch full;
  std::swap(full, batch);
  return store.Write(std::move(full), /*sync=*/false);
}

}  // namespace

ArchiveMemberScanner::ArchiveMemberScanner(Store& store, const ObjectMatcher& matcher, DaemonMetrics& metrics,
                                           const ObjectRecord& outer, uint64_t max_member_bytes,
                                           std::string actor)
    : store_(store),
      matcher_(matcher),
      metrics_(metrics),
      outer_(outer),
      max_member_bytes_(max_member_bytes),
      actor_(std::move(actor)) {}

ObjectRecord ArchiveMemberScanner::NewRecord(const ArchiveMember& member) const {
  ObjectRecord record;
  record.source_id = outer_.source_id;
  record.key = member.key;
  record.version = outer_.version;
  record.size = member.size_known ? member.size : 0;
  record.sweep_id = outer_.sweep_id;
  record.swept_at = outer_.swept_at;
  record.container = outer_.key;
  return record;
}

ArchiveMemberScanner::Tally ArchiveMemberScanner::TakeInside(int depth) {
  const size_t d = static_cast<size_t>(std::max(depth, 1));
  if (subtree_.size() < d + 2) subtree_.resize(d + 2);
  return std::exchange(subtree_[d + 1], Tally{});
}

void ArchiveMemberScanner::AddRecorded(int depth, const Tally& inside, bool unreadable, uint64_t matches) {
  const size_t d = static_cast<size_t>(std::max(depth, 1));
  if (subtree_.size() < d + 2) subtree_.resize(d + 2);
  Tally& at = subtree_[d];
  at.members += 1 + inside.members;
  at.unreadable += (unreadable ? 1 : 0) + inside.unreadable;
  at.matches += matches + inside.matches;
  ++members_;
  if (unreadable) ++unreadable_;
  matches_ += matches;
}

void ArchiveMemberScanner::StoreFailed(ObjectRecord record, ObjectStatus status, std::string error,
                                       const char* metric) {
  record.status = status;
  record.error = std::move(error);
  batch_.Put(Cf::kObjects, ObjectKey(record.source_id, record.key), EncodeObjectRecord(record));
  metrics_.CountError(metric);
  if (absl::Status flushed = FlushIfFull(); !flushed.ok() && store_error_.ok()) store_error_ = flushed;
}

absl::Status ArchiveMemberScanner::FlushIfFull() {
  if (batch_.Count() < kBatchRecords) return absl::OkStatus();
  return WriteAndReset(store_, batch_);
}

absl::Status ArchiveMemberScanner::OnMember(const ArchiveMember& member, ObjectReader& bytes) {
  if (!store_error_.ok()) return store_error_;
  ObjectRecord record = NewRecord(member);
  ErrorKeepingReader reader(bytes);
  absl::StatusOr<HashedObject> hashed = matcher_.Hash(reader, max_member_bytes_, record);
  if (!hashed.ok()) {
    if (!reader.error().ok()) return reader.error();
    AddRecorded(member.depth, TakeInside(member.depth), /*unreadable=*/true, 0);
    StoreFailed(std::move(record), ObjectStatus::kSkipped, std::string(hashed.status().message()),
                "archive_member_skipped");
    return store_error_;
  }
  const Tally inside = TakeInside(member.depth);
  if (LooksLikeArchive(hashed->head)) {
    record.archive_outcome =
        member.not_expanded.empty() ? ArchiveOutcome::kExpanded : ArchiveOutcome::kNotExpanded;
    record.archive_message = member.not_expanded;
    record.archive_members = inside.members;
    record.archive_members_unreadable = inside.unreadable;
    record.archive_member_matches = inside.matches;
  }
  if (absl::Status stored = matcher_.MatchAndStore(record, *std::move(hashed), batch_, actor_);
      !stored.ok()) {
    store_error_ = stored;
    return stored;
  }
  AddRecorded(member.depth, inside, /*unreadable=*/false, record.match_count);
  if (absl::Status flushed = FlushIfFull(); !flushed.ok()) {
    store_error_ = flushed;
    return flushed;
  }
  return absl::OkStatus();
}

void ArchiveMemberScanner::OnUnreadable(const ArchiveMember& member, std::string_view reason) {
  AddRecorded(member.depth, TakeInside(member.depth), /*unreadable=*/true, 0);
  StoreFailed(NewRecord(member), ObjectStatus::kFailed, std::string(reason), "archive_member_unreadable");
}

absl::Status ArchiveMemberScanner::Finish() {
  if (store_error_.ok() && !batch_.Empty()) store_error_ = WriteAndReset(store_, batch_);
  return store_error_;
}

absl::Status DeleteArchiveMembers(Store& store, const std::string& source_id, const std::string& outer_key) {
  Store::Batch batch;
  absl::Status write_error;
  RETURN_IF_ERROR(store.Scan(Cf::kObjects, ObjectKey(source_id, outer_key + "!"),
                             [&](std::string_view key, std::string_view value) {
                               // A source's own object may have a '!' in its key: only
                               // records of this archive's members go.
                               absl::StatusOr<ObjectRecord> record = DecodeObjectRecord(value);
                               if (!record.ok() || record->container != outer_key) return true;
                               batch.Delete(Cf::kObjects, key);
                               if (batch.Count() < ArchiveMemberScanner::kBatchRecords) return true;
                               write_error = WriteAndReset(store, batch);
                               return write_error.ok();
                             }));
  RETURN_IF_ERROR(write_error);
  if (!batch.Empty()) RETURN_IF_ERROR(WriteAndReset(store, batch));
  return absl::OkStatus();
}

}  // namespace takedown
