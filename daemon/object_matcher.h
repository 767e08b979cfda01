// ObjectMatcher: the rules every swept object follows, whether a source's own
// object or an archive member (docs/archives.md "In sweeps"): its bytes are
// streamed once through MD5, SHA-1 and SHA-256 (an image, up to the PDQ
// matcher's max_image_bytes, is kept in memory meanwhile and PDQ-hashed), the
// digests are looked up in the exact index and the PDQ hash in the PDQ
// matcher, allowlists veto (daemon/allowlist_veto.h, the rule retro-match
// applies too), and the outcome is stored: a record with neither
// match nor veto in the caller's batch, any other at once through the
// CaseRecorder, with its case or veto in one atomic, audited write.
//
// Thread-safe: Hash() uses per-thread buffers, so a thread hashes one object
// at a time (its result refers to none of them). The borrowed parts must
// outlive the matcher.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/object_reader.h"
#include "daemon/case_recorder.h"
#include "daemon/daemon_metrics.h"
#include "daemon/list_policy.h"
#include "daemon/object_record.h"
#include "daemon/store.h"
#include "matcher/exact_index.h"
#include "matcher/pdq_matcher.h"

namespace takedown {

// What Hash() found besides the record's fields, for MatchAndStore().
struct HashedObject {
  std::string head;  // the first kSniffBytes bytes (matcher/multi_digester.h)
  PdqMatchResult pdq;  // matches and vetoes; empty without a PDQ hash
};

class ObjectMatcher {
 public:
  // `pdq` null: PDQ off. `read_buffer_bytes`: the size of each read (> 0).
  ObjectMatcher(const ExactIndex& index, CaseRecorder& recorder, DaemonMetrics& metrics, PdqMatcher* pdq,
                const ListPolicies& policies, uint64_t read_buffer_bytes);

  // Reads `input` to its end. On success sets the record's status (kHashed),
  // size, digests and content type and, for an image while PDQ is on, its
  // pdq_* fields (a PDQ failure is recorded there, not returned). Returns the
  // input's error, or ResourceExhausted once more than `max_bytes` bytes were
  // read; the record is then unchanged.
  absl::StatusOr<HashedObject> Hash(ObjectReader& input, uint64_t max_bytes, ObjectRecord& record) const;

  // Looks the record's digests up, adds `hashed`'s PDQ matches, applies the
  // allowlists (ApplyAllowlistVeto), sets match_count and vetoed_matches,
  // and stores the record:
  // in `batch` when nothing matched and nothing was vetoed, else at once with
  // its case or veto (CaseRecorder, audited as `actor`). Returns only store
  // errors.
  absl::Status MatchAndStore(ObjectRecord& record, HashedObject hashed, Store::Batch& batch,
                             const std::string& actor) const;

  PdqMatcher* pdq() const { return pdq_; }

 private:
  const ExactIndex& index_;
  CaseRecorder& recorder_;
  DaemonMetrics& metrics_;
  PdqMatcher* const pdq_;
  const ListPolicies& policies_;
  const uint64_t read_buffer_bytes_;
};

}  // namespace takedown
