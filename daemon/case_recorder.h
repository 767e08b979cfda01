// CaseRecorder: stores the outcome of processing one object. The object
// record, its match records, the case (created in state `detected`, or given
// the new evidence) and, for a new case, its detection notice in the outbox
// are written in one atomic, audited batch, so a crash leaves either all of
// them or none.
//
// Case ids are derived from (source, key) (notices/case.h CaseIdFor), so
// processing an object again after a crash finds the same case: no duplicate
// cases and no duplicate notices.
//
// With a CaseAdmission attached (the case engine), a new case (or one still
// in `detected`) is routed in the same batch: to in_review, or confirmed and
// notified with its timers when an auto-action policy allows; and the
// recorder shares the engine's case mutex. If routing fails the case is
// stored in `detected` (counted as takedown_errors_total{kind=
// "case_admission"}) and CaseEngine::AdmitDetected picks it up later.
//
// Thread-safe.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "daemon/audit_log.h"
#include "daemon/case_admission.h"
#include "daemon/daemon_metrics.h"
#include "daemon/object_record.h"
#include "daemon/store.h"
#include "matcher/exact_index.h"
#include "matcher/pdq_matcher.h"

namespace takedown {

struct RecordOutcome {
  bool case_created = false;
  size_t evidence_added = 0;
};

class CaseRecorder {
 public:
  // `on_notice` is called after a batch that queued a notice is written. A
  // new case queues one detection notice per channel in `channels` (empty:
  // the file-drop channel's default name).
  CaseRecorder(Store& store, AuditLog& audit, Clock& clock, DaemonMetrics& metrics,
               std::function<void()> on_notice, std::vector<std::string> channels = {});

  // Writes `record` (when `write_object` is set) and whatever `matches` and
  // `pdq_matches` add.
  absl::StatusOr<RecordOutcome> Record(const ObjectRecord& record, const std::vector<ExactMatch>& matches,
                                       const std::vector<PdqListMatch>& pdq_matches, bool write_object,
                                       const std::string& actor);
  // Audits matches an allowlist vetoed ("match.veto": which entries, which
  // allowlist entry, distances), with `record` in the same write when
  // `write_object` is set. No case is made.
  absl::Status RecordVeto(const ObjectRecord& record, const std::vector<ExactMatch>& allowlist_hits,
                          const std::vector<PdqVeto>& pdq_vetoes, bool write_object, const std::string& actor);

  absl::StatusOr<RecordOutcome> Record(const ObjectRecord& record, const std::vector<ExactMatch>& matches,
                                       bool write_object, const std::string& actor) {
    return Record(record, matches, {}, write_object, actor);
  }

  // Attaches the case engine (borrowed; must outlive the recorder).
  // REQUIRES: called before the first Record(), not concurrently with it.
  void SetAdmission(CaseAdmission* admission) { admission_ = admission; }

 private:
  Store& store_;
  AuditLog& audit_;
  Clock& clock_;
  DaemonMetrics& metrics_;
  std::function<void()> on_notice_;
  const std::vector<std::string> channels_;
  std::mutex case_mu_;  // serialises read-modify-write of cases without an admission
  CaseAdmission* admission_ = nullptr;
};

}  // namespace takedown
