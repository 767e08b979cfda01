#include "daemon/api_service.h"

#include "daemon/daemon.h"
#include "daemon/grpc_status.h"
#include "daemon/sweep_state.h"

namespace takedown {
namespace {

std::string Actor(const grpc::ServerContext* context) { return "api:" + context->peer(); }

void ToProto(const SweepState& s, v1::SweepProgress* p) {
  p->set_source_id(s.source_id);
  p->set_sweep_id(s.sweep_id);
  p->set_state(std::string(SweepPhaseName(s.phase)));
  p->set_started_at(Rfc3339(s.started_at));
  p->set_finished_at(Rfc3339(s.finished_at));
  p->set_objects_listed(s.counters.listed);
  p->set_objects_done(s.counters.done);
  p->set_objects_unchanged(s.counters.unchanged);
  p->set_objects_skipped(s.counters.skipped);
  p->set_objects_failed(s.counters.failed);
  p->set_bytes_read(s.counters.bytes);
  p->set_matches(s.counters.matches);
  p->set_cursor(s.cursor);
  p->set_error(s.error);
  p->set_resumes(s.resumes);
}

void ToProto(const HashListInfo& info, v1::HashListInfo* p) {
  p->set_name(info.name);
  p->set_version(info.version);
  p->set_entries(info.entries);
  p->set_duplicate_lines(info.duplicate_lines);
  p->set_imported_at(Rfc3339(info.imported_at));
  p->set_origin(info.origin);
}

void ToProto(const Case& c, v1::CaseSummary* p) {
  p->set_id(c.id);
  p->set_state(std::string(CaseStateName(c.state)));
  p->set_category(c.category);
  p->set_source_id(c.object.source_id);
  p->set_key(c.object.key);
  p->set_created_at(Rfc3339(c.created_at));
  p->set_updated_at(Rfc3339(c.updated_at));
}

std::vector<std::string> Ids(const google::protobuf::RepeatedPtrField<std::string>& ids) {
  return std::vector<std::string>(ids.begin(), ids.end());
}

}  // namespace

grpc::Status ApiService::StartSweep(grpc::ServerContext* context, const v1::StartSweepRequest* request,
                                    v1::StartSweepResponse* response) {
  absl::StatusOr<std::vector<SweepState>> states = daemon_.StartSweeps(Ids(request->source_ids()), Actor(context));
  if (!states.ok()) return ToGrpcStatus(states.status());
  for (const SweepState& s : *states) ToProto(s, response->add_sweeps());
  return grpc::Status::OK;
}

grpc::Status ApiService::SweepStatus(grpc::ServerContext*, const v1::SweepStatusRequest* request,
                                     v1::SweepStatusResponse* response) {
  absl::StatusOr<std::vector<SweepState>> states = daemon_.SweepStatus(Ids(request->source_ids()));
  if (!states.ok()) return ToGrpcStatus(states.status());
  for (const SweepState& s : *states) ToProto(s, response->add_sweeps());
  return grpc::Status::OK;
}

grpc::Status ApiService::ImportHashList(grpc::ServerContext* context, const v1::ImportHashListRequest* request,
                                        v1::ImportHashListResponse* response) {
  absl::StatusOr<ImportResult> result =
      daemon_.ImportHashList(request->name(), request->path(), request->content(), Actor(context));
  if (!result.ok()) return ToGrpcStatus(result.status());
  ToProto(result->info, response->mutable_list());
  response->set_retro_matches(result->retro_cases);
  return grpc::Status::OK;
}

grpc::Status ApiService::ListHashLists(grpc::ServerContext*, const v1::ListHashListsRequest*,
                                       v1::ListHashListsResponse* response) {
  absl::StatusOr<std::vector<HashListInfo>> lists = daemon_.ListHashLists();
  if (!lists.ok()) return ToGrpcStatus(lists.status());
  for (const HashListInfo& info : *lists) ToProto(info, response->add_lists());
  return grpc::Status::OK;
}

grpc::Status ApiService::ListCases(grpc::ServerContext*, const v1::ListCasesRequest* request,
                                   v1::ListCasesResponse* response) {
  absl::StatusOr<Daemon::CasePage> page = daemon_.ListCases(request->state(), request->limit(), request->page_token());
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const Case& c : page->cases) ToProto(c, response->add_cases());
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status ApiService::GetCase(grpc::ServerContext*, const v1::GetCaseRequest* request,
                                 v1::GetCaseResponse* response) {
  absl::StatusOr<Case> c = daemon_.GetCase(request->id());
  if (!c.ok()) return ToGrpcStatus(c.status());
  v1::CaseDetail* d = response->mutable_case_detail();
  ToProto(*c, d->mutable_summary());
  d->set_object_version(c->object.version);
  d->set_object_size(c->object.size);
  d->set_md5(c->object.md5_hex);
  d->set_sha1(c->object.sha1_hex);
  d->set_sha256(c->object.sha256_hex);
  d->set_content_type(c->object.content_type);
  for (const MatchEvidence& e : c->evidence) {
    v1::Evidence* pe = d->add_evidence();
    pe->set_hash_type(e.hash_type);
    pe->set_digest_hex(e.digest_hex);
    pe->set_list_name(e.list_name);
    pe->set_list_version(e.list_version);
    pe->set_entry_id(e.entry_id);
    pe->set_category(e.category);
    pe->set_matched_at(Rfc3339(e.matched_at));
  }
  for (const CaseTransition& t : c->history) {
    v1::CaseTransition* pt = d->add_history();
    pt->set_from(std::string(CaseStateName(t.from)));
    pt->set_to(std::string(CaseStateName(t.to)));
    pt->set_at(Rfc3339(t.at));
    pt->set_actor(t.actor);
    pt->set_reason(t.reason);
  }
  d->set_json(CaseToJson(*c).dump(2));
  return grpc::Status::OK;
}

}  // namespace takedown
