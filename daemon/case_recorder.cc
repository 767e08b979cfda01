#include "daemon/case_recorder.h"

#include "common/hex.h"
#include "common/time_format.h"
#include "common/status_macros.h"
#include "notices/case.h"
#include "notices/json_fields.h"
#include "notices/notice.h"
#include "notices/outbox_record.h"

namespace takedown {
namespace {

std::string MatchKey(std::string_view case_id, const ExactMatch& m) {
  std::string key(case_id);
  for (std::string_view part : {std::string_view(m.entry.list_name), HashTypeName(m.type),
                                std::string_view(m.entry.entry_id)}) {
    key.push_back('\0');
    key.append(part);
  }
  return key;
}

}  // namespace

CaseRecorder::CaseRecorder(Store& store, AuditLog& audit, Clock& clock, DaemonMetrics& metrics,
                           std::function<void()> on_notice)
    : store_(store), audit_(audit), clock_(clock), metrics_(metrics), on_notice_(std::move(on_notice)) {}

absl::StatusOr<RecordOutcome> CaseRecorder::Record(const ObjectRecord& record,
                                                   const std::vector<ExactMatch>& matches, bool write_object,
                                                   const std::string& actor) {
  Store::Batch batch;
  if (write_object) {
    batch.Put(Cf::kObjects, ObjectKey(record.source_id, record.key), EncodeObjectRecord(record));
  }
  RecordOutcome outcome;
  if (matches.empty()) {
    RETURN_IF_ERROR(store_.Write(std::move(batch), /*sync=*/false));
    return outcome;
  }

  std::lock_guard lock(case_mu_);
  const absl::Time now = clock_.Now();
  const std::string case_id = CaseIdFor(record.source_id, record.key);
  ASSIGN_OR_RETURN(std::optional<std::string> stored, store_.Get(Cf::kCases, case_id));
  Case c;
  if (stored) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(*stored);
    } catch (const nlohmann::json::exception& e) {
      return absl::DataLossError("case " + case_id + " in the store is not valid JSON: " + e.what());
    }
    ASSIGN_OR_RETURN(c, CaseFromJson(j));
  } else {
    outcome.case_created = true;
    c.id = case_id;
    c.state = CaseState::kDetected;
    c.created_at = now;
    c.updated_at = now;
    c.object.source_id = record.source_id;
    c.object.key = record.key;
  }
  c.object.version = record.version;
  c.object.size = record.size;
  c.object.md5_hex = HexEncode(record.digests.md5);
  c.object.sha1_hex = HexEncode(record.digests.sha1);
  c.object.sha256_hex = HexEncode(record.digests.sha256);
  c.object.content_type = record.content_type;

  std::vector<AuditEvent> events;
  for (const ExactMatch& m : matches) {
    MatchEvidence evidence;
    evidence.hash_type = std::string(HashTypeName(m.type));
    evidence.digest_hex = HexEncode(m.digest);
    evidence.list_name = m.entry.list_name;
    evidence.list_version = m.entry.list_version;
    evidence.entry_id = m.entry.entry_id;
    evidence.category = std::string(ContentCategoryName(m.entry.category));
    evidence.algorithm_version = "exact-1";
    evidence.matched_at = now;
    ASSIGN_OR_RETURN(bool added, AddEvidence(c, evidence));
    if (!added) continue;
    ++outcome.evidence_added;
    if (CategorySeverity(evidence.category) > CategorySeverity(c.category)) c.category = evidence.category;
    nlohmann::json match_json = {{"case_id", case_id},
                                 {"source_id", record.source_id},
                                 {"object_version", record.version},
                                 {"hash_type", evidence.hash_type},
                                 {"digest", evidence.digest_hex},
                                 {"list", evidence.list_name},
                                 {"list_version", evidence.list_version},
                                 {"entry_id", evidence.entry_id},
                                 {"category", evidence.category},
                                 {"matched_at", Rfc3339(now)}};
    PutJsonBytes(match_json, "key", record.key);
    batch.Put(Cf::kMatches, MatchKey(case_id, m), DumpJson(match_json));
    metrics_.CountMatch(evidence.list_name, evidence.category);
  }
  if (outcome.evidence_added == 0 && !outcome.case_created) {
    RETURN_IF_ERROR(store_.Write(std::move(batch), /*sync=*/false));
    return outcome;
  }
  c.updated_at = now;
  batch.Put(Cf::kCases, case_id, DumpJson(CaseToJson(c)));

  nlohmann::json details = {{"source_id", record.source_id},
                            {"key", record.key},
                            {"object_version", record.version},
                            {"evidence_added", outcome.evidence_added},
                            {"category", c.category}};
  bool queued_notice = false;
  if (outcome.case_created) {
    Notice notice = MakeDetectionNotice(c, now);
    OutboxRecord outbox = NewOutboxRecord(notice, now);
    batch.Put(Cf::kOutbox, notice.id, DumpJson(OutboxRecordToJson(outbox)));
    details["notice_id"] = notice.id;
    events.push_back({actor, "case.create", case_id, details});
    queued_notice = true;
  } else {
    events.push_back({actor, "case.evidence_add", case_id, details});
  }
  RETURN_IF_ERROR(audit_.Commit(std::move(batch), std::move(events)));
  if (outcome.case_created) metrics_.CaseStateChanged(std::nullopt, CaseState::kDetected);
  if (queued_notice && on_notice_) on_notice_();
  return outcome;
}

}  // namespace takedown
