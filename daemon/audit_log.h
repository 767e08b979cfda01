// AuditLog: the append-only, tamper-evident audit trail in Cf::kAudit.
//
// Each record is a JSON object {seq, time, actor, action, subject, details,
// prev_hash, hash} stored under EncodeUint64BE(seq); seq starts at 1 and has
// no gaps. `hash` is the hex SHA-256 of the record's canonical bytes (the
// record without `hash`, compact JSON, keys sorted); `prev_hash` is the
// previous record's `hash` (64 zeros for seq 1). Changing, deleting or
// reordering a record breaks the chain, and Verify() reports where. The
// newest {seq, hash} is also kept in meta/audit_head, written in the same
// batch, so deleting records from the end is detected too.
//
// The audit log owns the commit of audited state changes: Commit() appends the
// records to the caller's batch and writes it under one mutex, so the state
// change and its audit records are one atomic write and concurrent writers
// still produce a gapless chain.
//
// Thread-safe. Borrows the Store and Clock, which must outlive it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "daemon/store.h"
#include "nlohmann/json.hpp"

namespace takedown {

// What happened, as told by the caller of Commit().
struct AuditEvent {
  std::string actor;    // "system", "api:<peer>", "ctl:<user>"
  std::string action;   // "case.create", "list.import", "sweep.start"
  std::string subject;  // e.g. a case id; may be empty
  nlohmann::json details = nlohmann::json::object();  // an object (null means {})
};

// A stored record, as read back.
struct AuditRecord {
  uint64_t seq = 0;
  std::string time;  // RFC 3339, UTC, e.g. "2027-01-15T08:00:00.25Z"
  std::string actor;
  std::string action;
  std::string subject;
  nlohmann::json details;
  std::string prev_hash;
  std::string hash;
};

struct AuditVerification {
  bool ok = true;
  uint64_t records_checked = 0;  // records whose hash was verified intact
  uint64_t last_seq = 0;         // highest seq seen (0 for an empty log)
  // The first seq at which the chain is broken: the altered record, the seq
  // of a missing record, or the position of a misplaced one.
  std::optional<uint64_t> first_broken_seq;
  std::string problem;  // human-readable; empty when ok
};

inline constexpr std::string_view kAuditHeadKey = "audit_head";
inline constexpr size_t kMaxAuditDetailsBytes = 256 << 10;

class AuditLog {
 public:
  // Recovers the last seq and hash from the newest record. Returns DataLoss if
  // meta/audit_head disagrees with the newest record (records were removed
  // from the end) or the newest record cannot be parsed.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(Store& store, Clock& clock);

  // Appends one record per event to `batch` and writes it (sync as in
  // Store::Write). On error nothing is written and the chain is unchanged.
  // InvalidArgument for an event without actor or action, details that are
  // not an object, or details larger than kMaxAuditDetailsBytes.
  absl::Status Commit(Store::Batch&& batch, std::vector<AuditEvent> events, bool sync = false);

  // Convenience: Commit() with an empty batch.
  absl::Status Append(AuditEvent event, bool sync = false);

  // Walks the whole chain. Never fails on tampering (that is reported in the
  // result); fails only if the store cannot be read.
  absl::StatusOr<AuditVerification> Verify() const;

  // Up to `limit` records with seq >= from_seq, in order. Records that cannot
  // be parsed fail with DataLoss.
  absl::StatusOr<std::vector<AuditRecord>> Read(uint64_t from_seq, size_t limit) const;

  // Seq of the newest record, 0 if none.
  uint64_t last_seq() const;

  // The canonical bytes that `hash` covers (the record without "hash").
  static std::string CanonicalBytes(const nlohmann::json& record_without_hash);

 private:
  AuditLog(Store& store, Clock& clock, uint64_t last_seq, std::string last_hash);

  // Constant after construction.
  Store& store_;
  Clock& clock_;

  mutable absl::Mutex mu_;
  uint64_t last_seq_ ABSL_GUARDED_BY(mu_);
  std::string last_hash_ ABSL_GUARDED_BY(mu_);
};

}  // namespace takedown
