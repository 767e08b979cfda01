// ObjectProcessor: the per-object stage of a sweep. For one listed object it
// decides whether to read it (unchanged objects are not re-read), streams it
// once through the digests, looks the digests up in the exact index and hands
// the outcome to the CaseRecorder (ObjectMatcher). An object whose first bytes
// are an archive is then read a second time and expanded: every member
// becomes an object record of its own, matched by the same rules
// (ArchiveMemberScanner; docs/archives.md "In sweeps"), and the outcome of
// the expansion goes on the archive's own record, written after its members'
// so that a stored archive record means its members are stored too. An
// object read over HTTP (a url_list source) gets the fetch's evidence on its
// record (ObjectRecord::fetch: status, hops, final URL, peer IP, Content-Type
// and Server as served, validators, time), also when it could not be read
// (docs/sources.md "Fetch records on object records").
//
// Objects are processed in chunks: the previous records of a chunk are read
// with one batched lookup, and the records of the chunk's objects without a
// match are written in one batch at its end (an object with a match is
// written at once, with its case, by the CaseRecorder). A chunk's counters
// are returned only after its batch is durable, so a caller that advances a
// cursor on them never passes an unstored object. Archive members' records
// are written in batches of their own while the archive is expanded, before
// its chunk's batch. Object-level problems (vanished, unreadable, over a
// limit; for an archive also corrupt or a zip bomb) are recorded on the
// object and counted; only a store failure is returned as an error, because
// then nothing can be recorded and the sweep must stop without advancing its
// cursor.
//
// Thread-safe: called concurrently by the worker pool.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "crawler/archive_expander.h"
#include "crawler/source.h"
#include "daemon/case_recorder.h"
#include "daemon/daemon_metrics.h"
#include "daemon/list_policy.h"
#include "daemon/object_matcher.h"
#include "daemon/store.h"
#include "daemon/sweep_state.h"
#include "matcher/exact_index.h"
#include "matcher/pdq_matcher.h"

namespace takedown {

struct ProcessorLimits {
  uint64_t max_object_bytes = 64ull << 30;
  uint64_t read_buffer_bytes = 1 << 20;
  // Expansion of archives found in a sweep (limits.archive_*). max_depth 0
  // turns it off: an archive is then digested and matched as itself only.
  ArchiveLimits archive;
};

// PDQ matching of images in a sweep. An object whose first bytes are an image
// (matcher/content_type.h) and that is at most pdq->options().max_image_bytes
// long is kept in memory while it is digested, then hashed and matched
// (PdqMatcher::MatchImage); the outcome and hashes go on its record.
struct ProcessorMatching {
  PdqMatcher* pdq = nullptr;                 // null: PDQ off
  const ListPolicies* policies = nullptr;    // null: every list a blocklist
};

class ObjectProcessor {
 public:
  ObjectProcessor(Store& store, const ExactIndex& index, CaseRecorder& recorder, Clock& clock,
                  DaemonMetrics& metrics, ProcessorLimits limits, ProcessorMatching matching = {});

  // The counters each object of `refs` adds to its sweep, in order.
  // `lookup_previous` false skips reading previous records: for a sweep of a
  // source with no stored object, where none can be unchanged.
  absl::StatusOr<std::vector<SweepCounters>> ProcessChunk(Source& source, std::span<const ObjectRef> refs,
                                                          const std::string& sweep_id, bool lookup_previous);

  // ProcessChunk() of one object.
  absl::StatusOr<SweepCounters> Process(Source& source, const ObjectRef& ref, const std::string& sweep_id);

  // Records something under the source that is not read (special file,
  // symlink, unreadable directory) with the reason.
  absl::StatusOr<SweepCounters> RecordSkipped(const std::string& source_id, std::string_view key,
                                              std::string_view reason, const std::string& sweep_id);

 private:
  absl::StatusOr<SweepCounters> ProcessOne(Source& source, const ObjectRef& ref, const std::string& sweep_id,
                                           const std::optional<std::string>& previous, Store::Batch& batch);
  SweepCounters StoreUnread(ObjectRecord record, ObjectStatus status, std::string error, Store::Batch& batch);
  // Expands the archive `outer` (already read once) into member records and
  // sets outer's archive fields. Returns only store errors.
  absl::Status ExpandMembers(Source& source, const ObjectRef& ref, ObjectRecord& outer);
  bool ExpansionOn() const { return limits_.archive.max_depth > 0; }

  Store& store_;
  Clock& clock_;
  DaemonMetrics& metrics_;
  const ProcessorLimits limits_;
  const ListPolicies default_policies_;
  const ObjectMatcher matcher_;
};

}  // namespace takedown
