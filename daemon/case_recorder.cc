#include "daemon/case_recorder.h"

#include "common/hex.h"
#include "common/time_format.h"
#include "common/status_macros.h"
#include "notices/case.h"
#include "notices/json_fields.h"
#include "notices/notice.h"
#include "notices/outbox_record.h"
#include "spdlog/spdlog.h"

namespace takedown {
namespace {

std::string MatchKey(std::string_view case_id, std::string_view list, std::string_view type,
                     std::string_view entry_id) {
  std::string key(case_id);
  for (std::string_view part : {list, type, entry_id}) {
    key.push_back('\0');
    key.append(part);
  }
  return key;
}

}  // namespace

CaseRecorder::CaseRecorder(Store& store, AuditLog& audit, Clock& clock, DaemonMetrics& metrics,
                           std::function<void()> on_notice, std::vector<std::string> channels)
    : store_(store),
      audit_(audit),
      clock_(clock),
      metrics_(metrics),
      on_notice_(std::move(on_notice)),
      channels_(channels.empty() ? std::vector<std::string>{std::string(kDefaultNoticeChannel)}
                                 : std::move(channels)) {}

absl::Status CaseRecorder::RecordVeto(const ObjectRecord& record, const std::vector<ExactMatch>& allowlist_hits,
                                      const std::vector<PdqVeto>& pdq_vetoes, bool write_object,
                                      const std::string& actor) {
  Store::Batch batch;
  if (write_object) {
    batch.Put(Cf::kObjects, ObjectKey(record.source_id, record.key), EncodeObjectRecord(record));
  }
  nlohmann::json details = {{"source_id", record.source_id},
                            {"object_version", record.version},
                            {"vetoed_matches", record.vetoed_matches}};
  PutJsonBytes(details, "key", record.key);
  nlohmann::json allowlist = nlohmann::json::array();
  for (const ExactMatch& m : allowlist_hits) {
    allowlist.push_back({{"allowlist", m.entry.list_name},
                         {"allowlist_version", m.entry.list_version},
                         {"allowlist_entry_id", m.entry.entry_id},
                         {"hash_type", std::string(HashTypeName(m.type))}});
  }
  if (!allowlist.empty()) details["allowlist_hits"] = std::move(allowlist);
  nlohmann::json pdq = nlohmann::json::array();
  for (const PdqVeto& v : pdq_vetoes) {
    pdq.push_back({{"list", v.match.list_name},
                   {"entry_id", v.match.entry_id},
                   {"distance", v.match.distance},
                   {"threshold", v.match.threshold},
                   {"allowlist", v.allowlist_name},
                   {"allowlist_version", v.allowlist_version},
                   {"allowlist_entry_id", v.allowlist_entry_id},
                   {"allowlist_distance", v.distance},
                   {"allowlist_threshold", v.threshold}});
  }
  if (!pdq.empty()) details["pdq_vetoes"] = std::move(pdq);
  return audit_.Commit(std::move(batch),
                       {AuditEvent{actor, "match.veto", CaseIdFor(record.source_id, record.key), details}});
}

absl::StatusOr<RecordOutcome> CaseRecorder::Record(const ObjectRecord& record,
                                                   const std::vector<ExactMatch>& matches,
                                                   const std::vector<PdqListMatch>& pdq_matches, bool write_object,
                                                   const std::string& actor) {
  Store::Batch batch;
  if (write_object) {
    batch.Put(Cf::kObjects, ObjectKey(record.source_id, record.key), EncodeObjectRecord(record));
  }
  RecordOutcome outcome;
  if (matches.empty() && pdq_matches.empty()) {
    RETURN_IF_ERROR(store_.Write(std::move(batch), /*sync=*/false));
    return outcome;
  }

  std::lock_guard lock(admission_ != nullptr ? admission_->case_mutex() : case_mu_);
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
  auto add = [&](MatchEvidence evidence) -> absl::Status {
    ASSIGN_OR_RETURN(bool added, AddEvidence(c, evidence));
    if (!added) return absl::OkStatus();
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
                                 {"algorithm_version", evidence.algorithm_version},
                                 {"matched_at", Rfc3339(now)}};
    if (evidence.hash_type == "pdq") {
      match_json["distance"] = evidence.distance;
      match_json["threshold"] = evidence.threshold;
      match_json["quality"] = evidence.quality;
    }
    PutJsonBytes(match_json, "key", record.key);
    batch.Put(Cf::kMatches, MatchKey(case_id, evidence.list_name, evidence.hash_type, evidence.entry_id),
              DumpJson(match_json));
    metrics_.CountMatch(evidence.list_name, evidence.category);
    return absl::OkStatus();
  };
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
    RETURN_IF_ERROR(add(std::move(evidence)));
  }
  std::optional<PdqDihedral> dihedral = StoredPdqDihedral(record);
  for (const PdqListMatch& m : pdq_matches) {
    MatchEvidence evidence;
    evidence.hash_type = "pdq";
    evidence.digest_hex = dihedral ? dihedral->hashes[0].ToHex() : "";
    evidence.list_name = m.list_name;
    evidence.list_version = m.list_version;
    evidence.entry_id = m.entry_id;
    evidence.category = std::string(ContentCategoryName(m.category));
    evidence.distance = m.distance;
    evidence.threshold = m.threshold;
    evidence.quality = m.quality;
    evidence.algorithm_version = record.pdq_implementation.empty()
                                     ? std::string(kPdqImplementationVersion)
                                     : record.pdq_implementation + "/" + record.pdq_mode;
    evidence.matched_at = now;
    RETURN_IF_ERROR(add(std::move(evidence)));
  }
  if (outcome.evidence_added == 0 && !outcome.case_created) {
    RETURN_IF_ERROR(store_.Write(std::move(batch), /*sync=*/false));
    return outcome;
  }
  c.updated_at = now;

  nlohmann::json details = {{"source_id", record.source_id},
                            {"key", record.key},
                            {"object_version", record.version},
                            {"evidence_added", outcome.evidence_added},
                            {"category", c.category}};
  bool queued_notice = false;
  if (outcome.case_created) {
    nlohmann::json notice_ids = nlohmann::json::array();
    for (const std::string& channel : channels_) {
      Notice notice = MakeDetectionNotice(c, now, channel);
      OutboxRecord outbox = NewOutboxRecord(notice, now);
      batch.Put(Cf::kOutbox, notice.id, DumpJson(OutboxRecordToJson(outbox)));
      if (notice_ids.empty()) details["notice_id"] = notice.id;
      notice_ids.push_back(notice.id);
    }
    details["notice_ids"] = std::move(notice_ids);
    events.push_back({actor, "case.create", case_id, details});
    queued_notice = true;
  } else {
    events.push_back({actor, "case.evidence_add", case_id, details});
  }
  std::optional<AdmissionResult> admitted;
  if (admission_ != nullptr && c.state == CaseState::kDetected) {
    absl::StatusOr<AdmissionResult> result = admission_->Admit(c, batch, events, actor);
    if (result.ok()) {
      admitted = *std::move(result);
    } else {
      spdlog::warn("case {}: stored in detected; routing it failed: {}", case_id,
                   std::string(result.status().message()));
      metrics_.CountError("case_admission");
    }
  }
  batch.Put(Cf::kCases, case_id, DumpJson(CaseToJson(c)));
  RETURN_IF_ERROR(audit_.Commit(std::move(batch), std::move(events)));
  if (outcome.case_created) metrics_.CaseStateChanged(std::nullopt, CaseState::kDetected);
  if (admitted) admission_->Admitted(*admitted);
  if (queued_notice && on_notice_) on_notice_();
  return outcome;
}

}  // namespace takedown
