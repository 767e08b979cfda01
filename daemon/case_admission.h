// CaseAdmission: the hook through which the CaseRecorder hands a case it is
// storing (new, or still in `detected`) to the case engine, so that review
// routing (in_review, or confirmed by an auto-action policy), the first
// notices and the timers go into the same atomic write as the case itself.
//
// The recorder holds case_mutex() across its read-modify-write of the case,
// so recorder and engine never overwrite each other's changes to a case.
#pragma once

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/audit_log.h"
#include "daemon/store.h"
#include "notices/case.h"

namespace takedown {

struct AdmissionResult {
  std::vector<std::pair<CaseState, CaseState>> moves;  // transitions made, in order
  int notices = 0;                                     // notices queued
};

class CaseAdmission {
 public:
  virtual ~CaseAdmission() = default;

  // The mutex that serialises read-modify-write of case records.
  virtual std::mutex& case_mutex() = 0;

  // REQUIRES: case_mutex() held by the caller. Moves `c` on from `detected`
  // (transitions applied to `c`) and adds the timers, notices and audit
  // events that go with it to `batch` and `events`; does not write anything
  // itself and does not put the case (the caller writes `c` into `batch`
  // afterwards). An error leaves the caller free to write the case as it was
  // before the call (in `detected`).
  virtual absl::StatusOr<AdmissionResult> Admit(Case& c, Store::Batch& batch, std::vector<AuditEvent>& events,
                                                const std::string& actor) = 0;

  // Called after the batch holding an admission was written: metrics,
  // waking the outbox.
  virtual void Admitted(const AdmissionResult& result) = 0;
};

}  // namespace takedown
