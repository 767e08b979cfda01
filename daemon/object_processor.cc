#include "daemon/object_processor.h"

#include <chrono>
#include <vector>

#include "common/status_macros.h"
#include "crawler/http_object_reader.h"
#include "crawler/url_list_source.h"
#include "daemon/archive_member_scanner.h"
#include "fmt/format.h"

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
      c.matches = r.match_count + r.archive_member_matches;
      c.members = r.archive_members;
      c.members_failed = r.archive_members_unreadable;
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

// True when an archive stored earlier without being expanded is to be read
// again: expansion was off then, or reading it a second time failed.
bool ExpandNow(const ObjectRecord& previous) {
  return previous.archive_outcome == ArchiveOutcome::kDisabled ||
         previous.archive_outcome == ArchiveOutcome::kUnreadable;
}

ArchiveOutcome OutcomeOf(const absl::Status& expanded) {
  switch (expanded.code()) {
    case absl::StatusCode::kOk: return ArchiveOutcome::kExpanded;
    case absl::StatusCode::kResourceExhausted: return ArchiveOutcome::kLimit;
    case absl::StatusCode::kDataLoss: return ArchiveOutcome::kCorrupt;
    case absl::StatusCode::kInvalidArgument: return ArchiveOutcome::kNotArchive;
    default: return ArchiveOutcome::kUnreadable;
  }
}

// Opens `ref` and, for an object read over HTTP, puts the fetch's evidence on
// `record`: from the HttpObjectReader when Open succeeded; when it failed
// (404, 451, a timeout...), from the url_list source's LastFetch(), which
// keeps failed fetches too. Only a fetch that started after this call began
// is taken, so a failure before any request (a key that is no URL) never
// borrows the record of an earlier read of the key.
absl::StatusOr<std::unique_ptr<ObjectReader>> OpenRecordingFetch(Source& source, const ObjectRef& ref,
                                                                 ObjectRecord& record) {
  auto* urls = dynamic_cast<UrlListSource*>(&source);
  absl::Time opened_at;
  if (urls != nullptr) {
    Clock* fetcher_clock = urls->fetcher().options().clock;
    opened_at = (fetcher_clock != nullptr ? *fetcher_clock : SystemClock::Get()).Now();
  }
  absl::StatusOr<std::unique_ptr<ObjectReader>> reader = source.Open(ref);
  if (reader.ok()) {
    if (const auto* http = dynamic_cast<const HttpObjectReader*>(reader->get())) {
      SetFetchRecord(http->fetch(), record);
    }
  } else if (urls != nullptr) {
    std::optional<HttpFetchResult> last = urls->LastFetch(ref.key);
    if (last && last->start >= opened_at) SetFetchRecord(*last, record);
  }
  return reader;
}

}  // namespace

ObjectProcessor::ObjectProcessor(Store& store, const ExactIndex& index, CaseRecorder& recorder, Clock& clock,
                                 DaemonMetrics& metrics, ProcessorLimits limits, ProcessorMatching matching)
    : store_(store),
      clock_(clock),
      metrics_(metrics),
      limits_(limits),
      matcher_(index, recorder, metrics, matching.pdq,
               matching.policies != nullptr ? *matching.policies : default_policies_,
               limits.read_buffer_bytes) {}

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
  bool had_members = false;
  if (stored) {
    absl::StatusOr<ObjectRecord> previous = DecodeObjectRecord(*stored);
    if (previous.ok()) {
      if (previous->version == ref.version) {
        if (previous->sweep_id == sweep_id) return CountersOfStored(*previous);
        if (previous->status == ObjectStatus::kHashed && !(ExpansionOn() && ExpandNow(*previous))) {
          SweepCounters c;
          c.listed = 1;
          c.unchanged = 1;
          metrics_.CountUnchanged(ref.source_id);
          return c;
        }
      }
      had_members = previous->archive_members > 0;
    }
  }
  // The members of what was stored under this key before must not outlive it.
  auto delete_old_members = [&]() -> absl::Status {
    if (!had_members) return absl::OkStatus();
    had_members = false;
    return DeleteArchiveMembers(store_, ref.source_id, ref.key);
  };

  ObjectRecord record;
  record.source_id = ref.source_id;
  record.key = ref.key;
  record.version = ref.version;
  record.size = ref.size;
  record.sweep_id = sweep_id;
  record.swept_at = clock_.Now();

  if (ref.size > limits_.max_object_bytes) {
    RETURN_IF_ERROR(delete_old_members());
    return StoreUnread(std::move(record), ObjectStatus::kSkipped,
                       fmt::format("object is {} bytes, over limits.max_object_bytes ({})", ref.size,
                                   limits_.max_object_bytes),
                       batch);
  }
  absl::StatusOr<std::unique_ptr<ObjectReader>> reader = OpenRecordingFetch(source, ref, record);
  if (!reader.ok()) {
    RETURN_IF_ERROR(delete_old_members());
    return StoreUnread(std::move(record), ObjectStatus::kFailed, std::string(reader.status().message()), batch);
  }
  auto started = std::chrono::steady_clock::now();
  absl::StatusOr<HashedObject> hashed = matcher_.Hash(**reader, limits_.max_object_bytes, record);
  reader->reset();
  if (!hashed.ok()) {
    RETURN_IF_ERROR(delete_old_members());
    bool over_limit = hashed.status().code() == absl::StatusCode::kResourceExhausted;
    return StoreUnread(std::move(record), over_limit ? ObjectStatus::kSkipped : ObjectStatus::kFailed,
                       std::string(hashed.status().message()), batch);
  }
  metrics_.ObserveDigestSeconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());

  if (LooksLikeArchive(hashed->head)) {
    if (ExpansionOn()) {
      // Also clears what an expansion interrupted by a crash left behind.
      had_members = true;
      RETURN_IF_ERROR(delete_old_members());
      RETURN_IF_ERROR(ExpandMembers(source, ref, record));
    } else {
      record.archive_outcome = ArchiveOutcome::kDisabled;
      record.archive_message = "archive expansion is off (limits.archive_max_depth 0)";
    }
  }
  RETURN_IF_ERROR(delete_old_members());
  RETURN_IF_ERROR(matcher_.MatchAndStore(record, *std::move(hashed), batch, "sweep:" + sweep_id));
  metrics_.CountSwept(ref.source_id, record.size);

  SweepCounters c;
  c.listed = 1;
  c.done = 1;
  c.bytes = record.size;
  c.matches = record.match_count + record.archive_member_matches;
  c.members = record.archive_members;
  c.members_failed = record.archive_members_unreadable;
  return c;
}

absl::Status ObjectProcessor::ExpandMembers(Source& source, const ObjectRef& ref, ObjectRecord& outer) {
  absl::StatusOr<std::unique_ptr<ObjectReader>> reader = source.Open(ref);
  if (!reader.ok()) {
    outer.archive_outcome = ArchiveOutcome::kUnreadable;
    outer.archive_message =
        fmt::format("opening the archive again to expand it: {}", std::string(reader.status().message()));
    metrics_.CountArchiveRefused(std::string(ArchiveOutcomeName(outer.archive_outcome)));
    return absl::OkStatus();
  }
  ArchiveMemberScanner scanner(store_, matcher_, metrics_, outer, limits_.max_object_bytes,
                               "sweep:" + outer.sweep_id);
  const absl::Status expanded = ExpandArchive(outer.key, **reader, limits_.archive, scanner);
  RETURN_IF_ERROR(scanner.Finish());
  outer.archive_outcome = OutcomeOf(expanded);
  outer.archive_message = std::string(expanded.message());
  outer.archive_members = scanner.members();
  outer.archive_members_unreadable = scanner.unreadable();
  outer.archive_member_matches = scanner.matches();
  metrics_.CountArchiveMembers(outer.source_id, scanner.members());
  if (!expanded.ok()) metrics_.CountArchiveRefused(std::string(ArchiveOutcomeName(outer.archive_outcome)));
  return absl::OkStatus();
}

}  // namespace takedown
