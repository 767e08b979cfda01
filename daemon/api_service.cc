#include "daemon/api_service.h"

#include "common/hex.h"
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
  p->set_objects_per_second(s.rate.objects_per_second);
  p->set_bytes_per_second(s.rate.bytes_per_second);
  p->set_estimated_total_objects(s.estimated_total);
  p->set_eta_seconds(s.rate.eta ? absl::ToInt64Seconds(*s.rate.eta) : -1);
  p->set_eta_unknown_reason(s.phase == SweepPhase::kRunning ? s.rate.eta_unknown_reason : "");
  p->set_elapsed_seconds(absl::ToDoubleSeconds(s.rate.elapsed));
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

grpc::Status ApiService::PauseSweep(grpc::ServerContext* context, const v1::PauseSweepRequest* request,
                                    v1::PauseSweepResponse* response) {
  absl::StatusOr<std::vector<SweepState>> states =
      daemon_.PauseSweeps(Ids(request->source_ids()), Actor(context));
  if (!states.ok()) return ToGrpcStatus(states.status());
  for (const SweepState& s : *states) ToProto(s, response->add_sweeps());
  return grpc::Status::OK;
}

grpc::Status ApiService::ResumeSweep(grpc::ServerContext* context, const v1::ResumeSweepRequest* request,
                                     v1::ResumeSweepResponse* response) {
  absl::StatusOr<std::vector<SweepState>> states =
      daemon_.ResumeSweeps(Ids(request->source_ids()), Actor(context));
  if (!states.ok()) return ToGrpcStatus(states.status());
  for (const SweepState& s : *states) ToProto(s, response->add_sweeps());
  return grpc::Status::OK;
}

grpc::Status ApiService::ListSources(grpc::ServerContext*, const v1::ListSourcesRequest*,
                                     v1::ListSourcesResponse* response) {
  absl::StatusOr<std::vector<Daemon::SourceStatus>> sources = daemon_.ListSources();
  if (!sources.ok()) return ToGrpcStatus(sources.status());
  for (const Daemon::SourceStatus& s : *sources) {
    v1::SourceInfo* p = response->add_sources();
    p->set_id(s.id);
    p->set_type(s.type);
    p->set_location(s.location);
    p->set_watch(s.watch);
    p->set_watching(s.watching);
    p->set_rescan_interval_seconds(s.rescan_interval_seconds);
    p->set_state(std::string(SweepPhaseName(s.sweep.phase)));
    ToProto(s.sweep, p->mutable_progress());
    if (s.next_sweep_at == absl::InfinitePast()) {
      p->set_next_sweep_at("now");
    } else if (s.next_sweep_at != absl::InfiniteFuture()) {
      p->set_next_sweep_at(Rfc3339(s.next_sweep_at));
    }
  }
  return grpc::Status::OK;
}

grpc::Status ApiService::ScanObjects(grpc::ServerContext* context, const v1::ScanObjectsRequest* request,
                                     v1::ScanObjectsResponse* response) {
  std::vector<std::string> keys(request->keys().begin(), request->keys().end());
  absl::StatusOr<ScanReport> report = daemon_.ScanObjects(request->source_id(), keys, Actor(context));
  if (!report.ok()) return ToGrpcStatus(report.status());
  response->set_scan_id(report->scan_id);
  for (const ScanKeyResult& r : report->results) {
    v1::ScanObjectResult* p = response->add_results();
    p->set_key(r.key);
    p->set_outcome(std::string(ScanOutcomeName(r.outcome)));
    p->set_message(r.message);
    p->set_version(r.version);
    p->set_bytes_read(r.bytes);
    p->set_matches(r.matches);
    p->set_case_id(r.case_id);
  }
  return grpc::Status::OK;
}

grpc::Status ApiService::Recheck(grpc::ServerContext* context, const v1::RecheckRequest* request,
                                 v1::RecheckResponse* response) {
  absl::StatusOr<RecheckResult> result =
      daemon_.Recheck(request->source_id(), request->key(), Actor(context));
  if (!result.ok()) return ToGrpcStatus(result.status());
  response->set_outcome(std::string(RecheckOutcomeName(result->outcome)));
  response->set_reason(result->reason);
  response->set_checked_at(Rfc3339(result->checked_at));
  response->set_key(request->key());
  if (result->fetch) {
    const HttpFetchResult& f = *result->fetch;
    response->set_http_status(static_cast<int32_t>(f.status));
    response->set_final_url(f.final_url);
    response->set_ip(f.ip);
    response->set_fetched_at(Rfc3339(f.start));
    for (const HttpHop& hop : f.hops) {
      v1::RecheckHop* h = response->add_hops();
      h->set_url(hop.url);
      h->set_status(static_cast<int32_t>(hop.status));
      h->set_ip(hop.ip);
    }
  }
  if (result->digests) {
    response->set_md5(HexEncode(result->digests->md5));
    response->set_sha1(HexEncode(result->digests->sha1));
    response->set_sha256(HexEncode(result->digests->sha256));
  }
  response->set_body_bytes(result->body_bytes);
  response->set_digest_match(result->digest_match);
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

namespace {

void ToDetail(const Case& c, v1::CaseDetail* d) {
  ToProto(c, d->mutable_summary());
  d->set_object_version(c.object.version);
  d->set_object_size(c.object.size);
  d->set_md5(c.object.md5_hex);
  d->set_sha1(c.object.sha1_hex);
  d->set_sha256(c.object.sha256_hex);
  d->set_content_type(c.object.content_type);
  for (const MatchEvidence& e : c.evidence) {
    v1::Evidence* pe = d->add_evidence();
    pe->set_hash_type(e.hash_type);
    pe->set_digest_hex(e.digest_hex);
    pe->set_list_name(e.list_name);
    pe->set_list_version(e.list_version);
    pe->set_entry_id(e.entry_id);
    pe->set_category(e.category);
    pe->set_matched_at(Rfc3339(e.matched_at));
  }
  for (const CaseTransition& t : c.history) {
    v1::CaseTransition* pt = d->add_history();
    pt->set_from(std::string(CaseStateName(t.from)));
    pt->set_to(std::string(CaseStateName(t.to)));
    pt->set_at(Rfc3339(t.at));
    pt->set_actor(t.actor);
    pt->set_reason(t.reason);
  }
  d->set_json(CaseToJson(c).dump(2));
  d->set_profile(c.terms.profile);
  if (c.terms.deadline != absl::InfinitePast()) d->set_deadline(Rfc3339(c.terms.deadline));
  for (const Timer& t : c.terms.timers) {
    v1::PendingTimer* pt = d->add_timers();
    pt->set_due(Rfc3339(t.due));
    pt->set_kind(std::string(TimerKindName(t.kind)));
    pt->set_action(t.action);
  }
}

}  // namespace

grpc::Status ApiService::GetCase(grpc::ServerContext*, const v1::GetCaseRequest* request,
                                 v1::GetCaseResponse* response) {
  absl::StatusOr<Case> c = daemon_.GetCase(request->id());
  if (!c.ok()) return ToGrpcStatus(c.status());
  ToDetail(*c, response->mutable_case_detail());
  return grpc::Status::OK;
}

grpc::Status ApiService::ReviewCase(grpc::ServerContext* context, const v1::ReviewCaseRequest* request,
                                    v1::ReviewCaseResponse* response) {
  if (request->decision() != v1::REVIEW_DECISION_CONFIRM && request->decision() != v1::REVIEW_DECISION_REJECT) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "decision must be confirm or reject");
  }
  absl::StatusOr<Case> c = daemon_.ReviewCase(request->id(), request->decision() == v1::REVIEW_DECISION_CONFIRM,
                                              Actor(context), request->reason());
  if (!c.ok()) return ToGrpcStatus(c.status());
  ToDetail(*c, response->mutable_case_detail());
  return grpc::Status::OK;
}

grpc::Status ApiService::TransitionCase(grpc::ServerContext* context, const v1::TransitionCaseRequest* request,
                                        v1::TransitionCaseResponse* response) {
  absl::StatusOr<Case> c = daemon_.TransitionCase(request->id(), request->to_state(), Actor(context),
                                                  request->reason());
  if (!c.ok()) return ToGrpcStatus(c.status());
  ToDetail(*c, response->mutable_case_detail());
  return grpc::Status::OK;
}

grpc::Status ApiService::RecordRemoval(grpc::ServerContext* context, const v1::RecordRemovalRequest* request,
                                       v1::RecordRemovalResponse* response) {
  absl::StatusOr<Case> c = daemon_.RecordRemoval(request->id(), request->kind(), Actor(context), request->reason());
  if (!c.ok()) return ToGrpcStatus(c.status());
  ToDetail(*c, response->mutable_case_detail());
  return grpc::Status::OK;
}

grpc::Status ApiService::SubmitRemovalOrder(grpc::ServerContext* context,
                                            const v1::SubmitRemovalOrderRequest* request,
                                            v1::SubmitRemovalOrderResponse* response) {
  absl::StatusOr<OrderReceipt> receipt = daemon_.SubmitRemovalOrder(request->json(), Actor(context));
  if (!receipt.ok()) return ToGrpcStatus(receipt.status());
  response->set_order_reference(receipt->order_reference);
  response->set_profile(receipt->profile);
  response->set_received_at(Rfc3339(receipt->received_at));
  response->set_deadline(Rfc3339(receipt->deadline));
  for (const OrderLocationResult& l : receipt->locations) {
    v1::OrderLocationResult* pl = response->add_locations();
    pl->set_url(l.url);
    pl->set_case_id(l.case_id);
    pl->set_status(std::string(OrderLocationStatusName(l.status)));
    pl->set_detail(l.detail);
  }
  return grpc::Status::OK;
}

grpc::Status ApiService::ExecuteRemovalOrder(grpc::ServerContext* context,
                                             const v1::ExecuteRemovalOrderRequest* request,
                                             v1::ExecuteRemovalOrderResponse* response) {
  absl::StatusOr<Case> c = daemon_.ExecuteRemovalOrder(request->id(), Actor(context));
  if (!c.ok()) return ToGrpcStatus(c.status());
  ToDetail(*c, response->mutable_case_detail());
  return grpc::Status::OK;
}

grpc::Status ApiService::RecheckCase(grpc::ServerContext* context, const v1::RecheckCaseRequest* request,
                                     v1::RecheckCaseResponse* response) {
  absl::StatusOr<CaseEngine::RecheckNowResult> result = daemon_.RecheckCase(request->id(), Actor(context));
  if (!result.ok()) return ToGrpcStatus(result.status());
  ToDetail(result->c, response->mutable_case_detail());
  response->set_outcome(std::string(RecheckOutcomeName(result->check.outcome)));
  response->set_reason(result->check.reason);
  return grpc::Status::OK;
}

grpc::Status ApiService::RecordInability(grpc::ServerContext* context,
                                         const v1::RecordInabilityRequest* request,
                                         v1::RecordInabilityResponse* response) {
  absl::StatusOr<Case> c =
      daemon_.RecordInability(request->id(), request->reason(), request->explanation(), Actor(context));
  if (!c.ok()) return ToGrpcStatus(c.status());
  ToDetail(*c, response->mutable_case_detail());
  return grpc::Status::OK;
}

grpc::Status ApiService::ComplianceStats(grpc::ServerContext*, const v1::ComplianceStatsRequest*,
                                         v1::ComplianceStatsResponse* response) {
  absl::StatusOr<std::vector<ProviderCompliance>> stats = daemon_.ComplianceStats();
  if (!stats.ok()) return ToGrpcStatus(stats.status());
  for (const ProviderCompliance& p : *stats) {
    v1::ProviderCompliance* pp = response->add_providers();
    pp->set_provider(p.provider);
    pp->set_cases(p.cases);
    pp->set_removed(p.removed);
    pp->set_removed_on_time(p.removed_on_time);
    pp->set_overdue_open(p.overdue_open);
    pp->set_escalated(p.escalated);
    pp->set_decided(p.decided);
    pp->set_share_within_deadline(p.share_within_deadline.value_or(-1));
    pp->set_median_seconds_to_removal(
        p.median_time_to_removal ? absl::ToInt64Seconds(*p.median_time_to_removal) : -1);
    pp->set_p95_seconds_to_removal(p.p95_time_to_removal ? absl::ToInt64Seconds(*p.p95_time_to_removal) : -1);
  }
  return grpc::Status::OK;
}

}  // namespace takedown
