// ArchiveMemberScanner: the ArchiveVisitor of a sweep (docs/archives.md "In
// sweeps"). Every member ExpandArchive() reports becomes an object record of
// its own in the `objects` column family, under ObjectKey(source, member key)
// (`outer!member/path`), with the outer object's version and `container` set
// to the outer object's key. A readable member goes through the ObjectMatcher
// like any object (digests, PDQ for an image, exact and PDQ matching,
// allowlist veto, a case when it matches); an unreadable one is recorded as
// failed with the reason; a nested archive's record carries its own archive
// outcome and member count.
//
// Records without a match are written in batches of kBatchRecords; a member
// with a match or a veto is written at once with its case. Finish() writes
// the rest, so once it returns OK every reported member is stored.
//
// Not thread-safe: one scanner per ExpandArchive() call, on that call's
// thread. The borrowed parts must outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "crawler/archive_expander.h"
#include "daemon/daemon_metrics.h"
#include "daemon/object_matcher.h"
#include "daemon/object_record.h"
#include "daemon/store.h"

namespace takedown {

class ArchiveMemberScanner final : public ArchiveVisitor {
 public:
  static constexpr size_t kBatchRecords = 256;

  // `outer`: the archive's record (source_id, key, version, sweep_id and
  // swept_at are copied to every member's record). A member longer than
  // `max_member_bytes` (limits.max_object_bytes) is recorded as skipped.
  // `actor` is audited on members' cases and vetoes.
  ArchiveMemberScanner(Store& store, const ObjectMatcher& matcher, DaemonMetrics& metrics,
                       const ObjectRecord& outer, uint64_t max_member_bytes, std::string actor);

  // ArchiveVisitor. OnMember returns the member's read error (the expander
  // then reports it through OnUnreadable) or a store error, which aborts the
  // expansion; Finish() returns that one too.
  absl::Status OnMember(const ArchiveMember& member, ObjectReader& bytes) override;
  void OnUnreadable(const ArchiveMember& member, std::string_view reason) override;

  // Writes the records still pending. Returns the first store error of the
  // scan, if any (then some members may be missing).
  absl::Status Finish();

  // Member records written (readable or not), of those unreadable or skipped,
  // and the matches recorded on members; every nesting level counted.
  uint64_t members() const { return members_; }
  uint64_t unreadable() const { return unreadable_; }
  uint64_t matches() const { return matches_; }

 private:
  // What was recorded at some depth: members, with everything inside them.
  struct Tally {
    uint64_t members = 0;
    uint64_t unreadable = 0;
    uint64_t matches = 0;
  };

  ObjectRecord NewRecord(const ArchiveMember& member) const;
  // What the members recorded at `depth` + 1 since the last archive at
  // `depth` hold: the expander reports a nested archive right after its own
  // members, depth first, so that is the content of the archive at `depth`
  // reported now. Resets it.
  Tally TakeInside(int depth);
  // Counts a member recorded at `depth`, holding `inside`.
  void AddRecorded(int depth, const Tally& inside, bool unreadable, uint64_t matches);
  void StoreFailed(ObjectRecord record, ObjectStatus status, std::string error, const char* metric);
  absl::Status FlushIfFull();

  Store& store_;
  const ObjectMatcher& matcher_;
  DaemonMetrics& metrics_;
  const ObjectRecord& outer_;
  const uint64_t max_member_bytes_;
  const std::string actor_;

  Store::Batch batch_;
  absl::Status store_error_;
  uint64_t members_ = 0;
  uint64_t unreadable_ = 0;
  uint64_t matches_ = 0;
  // subtree_[d]: members recorded at depth d, with everything inside them,
  // not yet attributed to the nested archive holding them.
  std::vector<Tally> subtree_;
};

// Deletes the records of the members of `outer_key` (records under
// ObjectKey(source_id, outer_key + "!") whose container is outer_key), in
// batches. Returns only store errors.
absl::Status DeleteArchiveMembers(Store& store, const std::string& source_id, const std::string& outer_key);

}  // namespace takedown
