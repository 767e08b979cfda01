#include "daemon/object_processor.h"

#include <chrono>
#include <vector>

#include "common/status_macros.h"
#include "fmt/format.h"
#include "matcher/content_type.h"
#include "matcher/multi_digester.h"

namespace takedown {
namespace {

// Counters of an object already stored earlier in this same sweep (before a
// restart): the sweep counts it as it did the first time.
SweepCounters CountersOfStored(const ObjectRecord& r) {
  SweepCounters c;
  c.listed = 1;
  switch (r.status) {
    case ObjectStatus::kHashed:
      c.done = 1;
      c.bytes = r.size;
      c.matches = r.match_count;
      break;
    case ObjectStatus::kFailed:
      c.done = 1;
      c.failed = 1;
      break;
    case ObjectStatus::kSkipped:
      c.skipped = 1;
      break;
  }
  return c;
}

std::span<uint8_t> ThreadBuffer(size_t size) {
  thread_local std::vector<uint8_t> buffer;
  if (buffer.size() != size) buffer.assign(size, 0);
  return buffer;
}

}  // namespace

ObjectProcessor::ObjectProcessor(Store& store, const ExactIndex& index, CaseRecorder& recorder, Clock& clock,
                                 DaemonMetrics& metrics, ProcessorLimits limits)
    : store_(store), index_(index), recorder_(recorder), clock_(clock), metrics_(metrics), limits_(limits) {}

SweepCounters ObjectProcessor::StoreUnread(ObjectRecord record, ObjectStatus status, std::string error,
                                           Store::Batch& batch) {
  record.status = status;
  record.error = std::move(error);
  batch.Put(Cf::kObjects, ObjectKey(record.source_id, record.key), EncodeObjectRecord(record));
  SweepCounters c;
  c.listed = status == ObjectStatus::kSkipped && record.version.empty() ? 0 : 1;
  if (status == ObjectStatus::kFailed) {
    c.done = 1;
    c.failed = 1;
    metrics_.CountError("object_unreadable");
  } else {
    c.skipped = 1;
    metrics_.CountError("object_skipped");
  }
  return c;
}

absl::StatusOr<SweepCounters> ObjectProcessor::RecordSkipped(const std::string& source_id, std::string_view key,
                                                             std::string_view reason,
                                                             const std::string& sweep_id) {
  ObjectRecord record;
  record.source_id = source_id;
  record.key = std::string(key);
  record.sweep_id = sweep_id;
  record.swept_at = clock_.Now();
  Store::Batch batch;
  SweepCounters c = StoreUnread(std::move(record), ObjectStatus::kSkipped, std::string(reason), batch);
  RETURN_IF_ERROR(store_.Write(std::move(batch), /*sync=*/false));
  return c;
}

absl::StatusOr<SweepCounters> ObjectProcessor::Process(Source& source, const ObjectRef& ref,
                                                       const std::string& sweep_id) {
  ASSIGN_OR_RETURN(std::vector<SweepCounters> counters,
                   ProcessChunk(source, std::span<const ObjectRef>(&ref, 1), sweep_id, /*lookup_previous=*/true));
  return counters.front();
}

absl::StatusOr<std::vector<SweepCounters>> ObjectProcessor::ProcessChunk(Source& source,
                                                                         std::span<const ObjectRef> refs,
                                                                         const std::string& sweep_id,
                                                                         bool lookup_previous) {
  std::vector<std::optional<std::string>> previous(refs.size());
  if (lookup_previous && !refs.empty()) {
    std::vector<std::string> keys;
    keys.reserve(refs.size());
    for (const ObjectRef& ref : refs) keys.push_back(ObjectKey(ref.source_id, ref.key));
    ASSIGN_OR_RETURN(previous, store_.MultiGet(Cf::kObjects, keys));
  }
  Store::Batch batch;
  std::vector<SweepCounters> counters;
  counters.reserve(refs.size());
  for (size_t i = 0; i < refs.size(); ++i) {
    ASSIGN_OR_RETURN(SweepCounters c, ProcessOne(source, refs[i], sweep_id, previous[i], batch));
    counters.push_back(c);
  }
  if (!batch.Empty()) RETURN_IF_ERROR(store_.Write(std::move(batch), /*sync=*/false));
  return counters;
}

absl::StatusOr<SweepCounters> ObjectProcessor::ProcessOne(Source& source, const ObjectRef& ref,
                                                          const std::string& sweep_id,
                                                          const std::optional<std::string>& stored,
                                                          Store::Batch& batch) {
  if (stored) {
    absl::StatusOr<ObjectRecord> previous = DecodeObjectRecord(*stored);
    if (previous.ok() && previous->version == ref.version) {
      if (previous->sweep_id == sweep_id) return CountersOfStored(*previous);
      if (previous->status == ObjectStatus::kHashed) {
        SweepCounters c;
        c.listed = 1;
        c.unchanged = 1;
        metrics_.CountUnchanged(ref.source_id);
        return c;
      }
    }
  }

  ObjectRecord record;
  record.source_id = ref.source_id;
  record.key = ref.key;
  record.version = ref.version;
  record.size = ref.size;
  record.sweep_id = sweep_id;
  record.swept_at = clock_.Now();

  if (ref.size > limits_.max_object_bytes) {
    return StoreUnread(std::move(record), ObjectStatus::kSkipped,
                       fmt::format("object is {} bytes, over limits.max_object_bytes ({})", ref.size,
                                   limits_.max_object_bytes),
                       batch);
  }
  absl::StatusOr<std::unique_ptr<ObjectReader>> reader = source.Open(ref);
  if (!reader.ok()) {
    return StoreUnread(std::move(record), ObjectStatus::kFailed, std::string(reader.status().message()), batch);
  }
  auto started = std::chrono::steady_clock::now();
  absl::StatusOr<DigestedObject> digested =
      DigestStream(**reader, ThreadBuffer(limits_.read_buffer_bytes), limits_.max_object_bytes);
  if (!digested.ok()) {
    bool over_limit = digested.status().code() == absl::StatusCode::kResourceExhausted;
    return StoreUnread(std::move(record), over_limit ? ObjectStatus::kSkipped : ObjectStatus::kFailed,
                       std::string(digested.status().message()), batch);
  }
  metrics_.ObserveDigestSeconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());

  record.status = ObjectStatus::kHashed;
  record.size = digested->bytes;
  record.digests = digested->digests;
  record.content_type = std::string(SniffContentType(digested->head));
  std::vector<ExactMatch> matches = index_.Lookup(record.digests);
  record.match_count = static_cast<uint32_t>(matches.size());
  if (matches.empty()) {
    batch.Put(Cf::kObjects, ObjectKey(record.source_id, record.key), EncodeObjectRecord(record));
  } else {
    RETURN_IF_ERROR(recorder_.Record(record, matches, /*write_object=*/true, "sweep:" + sweep_id).status());
  }
  metrics_.CountSwept(ref.source_id, record.size);

  SweepCounters c;
  c.listed = 1;
  c.done = 1;
  c.bytes = record.size;
  c.matches = record.match_count;
  return c;
}

}  // namespace takedown
