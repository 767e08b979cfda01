#include "daemon/hash_list_manager.h"

#include "common/status_macros.h"
#include "daemon/allowlist_veto.h"
#include "daemon/object_record.h"
#include "daemon/sweep_state.h"
#include "fmt/format.h"
#include "matcher/hash_list_parser.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace takedown {
namespace {

std::string ListPrefix(std::string_view list) { return std::string(list) + '\0'; }

std::string EntryKey(std::string_view list, const HashListEntry& e) {
  std::string key = ListPrefix(list);
  key.append(HashTypeName(e.type));
  key.push_back('\0');
  key.append(e.digest);
  return key;
}

std::string EncodeInfo(const HashListInfo& info) {
  return nlohmann::json{{"name", info.name},
                        {"version", info.version},
                        {"entries", info.entries},
                        {"duplicate_lines", info.duplicate_lines},
                        {"imported_at_us", absl::ToUnixMicros(info.imported_at)},
                        {"origin", info.origin},
                        {"retro_pending", info.retro_pending}}
      .dump();
}

absl::StatusOr<HashListInfo> DecodeInfo(std::string_view encoded) {
  try {
    nlohmann::json j = nlohmann::json::parse(encoded);
    HashListInfo info;
    info.name = j.at("name").get<std::string>();
    info.version = j.at("version").get<std::string>();
    info.entries = j.at("entries").get<uint64_t>();
    info.duplicate_lines = j.value("duplicate_lines", uint64_t{0});
    info.imported_at = absl::FromUnixMicros(j.value("imported_at_us", int64_t{0}));
    info.origin = j.value("origin", "");
    info.retro_pending = j.value("retro_pending", false);
    return info;
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(fmt::format("hash list record is not valid JSON: {}", e.what()));
  }
}

absl::StatusOr<HashListEntry> DecodeEntry(std::string_view list, std::string_view key, std::string_view value) {
  // key: list '\0' type '\0' digest
  std::string_view rest = key.substr(list.size() + 1);
  size_t sep = rest.find('\0');
  HashListEntry e;
  if (sep == std::string_view::npos || !ParseHashType(rest.substr(0, sep), &e.type)) {
    return absl::DataLossError(fmt::format("hash list {}: malformed entry key in the store", list));
  }
  e.digest = std::string(rest.substr(sep + 1));
  try {
    nlohmann::json j = nlohmann::json::parse(value);
    e.entry_id = j.at("id").get<std::string>();
    if (!ParseContentCategory(j.at("category").get<std::string>(), &e.category)) {
      return absl::DataLossError(fmt::format("hash list {}: entry {} has an unknown category", list, e.entry_id));
    }
    e.tags = j.value("tags", std::vector<std::string>{});
    e.line = j.value("line", 0u);
  } catch (const nlohmann::json::exception& ex) {
    return absl::DataLossError(fmt::format("hash list {}: entry is not valid JSON: {}", list, ex.what()));
  }
  return e;
}

}  // namespace

bool IsValidListName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
  }
  return true;
}

HashListManager::HashListManager(Store& store, AuditLog& audit, ExactIndex& index, CaseRecorder& recorder,
                                 Clock& clock, HashListLimits limits, const ListPolicies* policies,
                                 PdqMatcher* pdq)
    : store_(store),
      audit_(audit),
      index_(index),
      recorder_(recorder),
      clock_(clock),
      limits_(limits),
      policies_(policies != nullptr ? *policies : default_policies_),
      pdq_(pdq) {}

absl::Status HashListManager::InstallPdq(const std::string& name, const std::string& version,
                                         const std::vector<HashListEntry>& entries) {
  if (pdq_ == nullptr) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<PdqIndexEntry> pdq_entries, PdqIndexEntriesFromHashList(name, entries));
  const ListPolicy& policy = policies_.For(name);
  absl::Status s = policy.allowlist ? pdq_->SetAllowlist(name, version, policy.pdq.threshold, std::move(pdq_entries))
                                    : pdq_->SetList(name, version, policy.pdq, std::move(pdq_entries));
  return Annotate(s, fmt::format("hash list {}: loading its PDQ entries", name));
}

absl::Status HashListManager::LoadAll() {
  ASSIGN_OR_RETURN(std::vector<HashListInfo> lists, List());
  for (const HashListInfo& info : lists) {
    std::vector<HashListEntry> entries;
    entries.reserve(info.entries);
    absl::Status decode_status;
    RETURN_IF_ERROR(store_.Scan(Cf::kEntries, ListPrefix(info.name), [&](std::string_view k, std::string_view v) {
      absl::StatusOr<HashListEntry> e = DecodeEntry(info.name, k, v);
      if (!e.ok()) {
        decode_status = e.status();
        return false;
      }
      entries.push_back(std::move(*e));
      return true;
    }));
    RETURN_IF_ERROR(decode_status);
    index_.ReplaceList(info.name, info.version, entries);
    RETURN_IF_ERROR(InstallPdq(info.name, info.version, entries));
    spdlog::info("loaded hash list {} version {} ({} entries)", info.name, info.version.substr(0, 12),
                 entries.size());
  }
  for (HashListInfo& info : lists) {
    if (!info.retro_pending) continue;
    spdlog::info("hash list {}: finishing the retro-match an earlier run did not complete", info.name);
    RETURN_IF_ERROR(RetroMatch(info.name).status());
    info.retro_pending = false;
    Store::Batch batch;
    batch.Put(Cf::kLists, info.name, EncodeInfo(info));
    RETURN_IF_ERROR(store_.Write(std::move(batch), /*sync=*/false));
  }
  return absl::OkStatus();
}

absl::StatusOr<ImportResult> HashListManager::ImportFile(const std::string& name, const std::string& path,
                                                         const std::string& actor) {
  if (!IsValidListName(name)) {
    return absl::InvalidArgumentError(fmt::format(
        "hash list name '{}' is invalid; use 1-64 characters from a-z, 0-9, '.', '_', '-'", name));
  }
  ASSIGN_OR_RETURN(HashList list, ParseHashListFile(path, name, limits_));
  return Import(std::move(list), path, actor);
}

absl::StatusOr<ImportResult> HashListManager::ImportContent(const std::string& name, std::string_view content,
                                                            const std::string& actor) {
  if (!IsValidListName(name)) {
    return absl::InvalidArgumentError(fmt::format(
        "hash list name '{}' is invalid; use 1-64 characters from a-z, 0-9, '.', '_', '-'", name));
  }
  ASSIGN_OR_RETURN(HashList list, ParseHashList(content, name + " (uploaded)", name, limits_));
  return Import(std::move(list), "api", actor);
}

absl::StatusOr<ImportResult> HashListManager::Import(HashList list, const std::string& origin,
                                                     const std::string& actor) {
  std::lock_guard lock(import_mu_);
  ImportResult result;
  ASSIGN_OR_RETURN(std::optional<std::string> stored, store_.Get(Cf::kLists, list.name));
  if (stored) {
    ASSIGN_OR_RETURN(HashListInfo previous, DecodeInfo(*stored));
    if (previous.version == list.version) {
      result.info = previous;
      result.unchanged = true;
      return result;
    }
  }

  Store::Batch batch;
  RETURN_IF_ERROR(store_.Scan(Cf::kEntries, ListPrefix(list.name), [&](std::string_view k, std::string_view) {
    batch.Delete(Cf::kEntries, k);
    return true;
  }));
  for (const HashListEntry& e : list.entries) {
    nlohmann::json value = {{"id", e.entry_id},
                            {"category", std::string(ContentCategoryName(e.category))},
                            {"line", e.line}};
    if (!e.tags.empty()) value["tags"] = e.tags;
    batch.Put(Cf::kEntries, EntryKey(list.name, e), value.dump());
  }
  HashListInfo info{list.name,  list.version, list.entries.size(), list.duplicate_lines,
                    clock_.Now(), origin,       /*retro_pending=*/true};
  batch.Put(Cf::kLists, list.name, EncodeInfo(info));
  nlohmann::json details = {{"version", info.version},
                            {"entries", info.entries},
                            {"duplicate_lines", info.duplicate_lines},
                            {"origin", origin}};
  RETURN_IF_ERROR(audit_.Commit(std::move(batch), {AuditEvent{actor, "list.import", list.name, details}},
                                /*sync=*/true));
  index_.ReplaceList(list.name, list.version, list.entries);
  RETURN_IF_ERROR(InstallPdq(list.name, list.version, list.entries));
  spdlog::info("imported hash list {} version {} ({} entries, {} duplicate lines) from {}", list.name,
               list.version.substr(0, 12), info.entries, info.duplicate_lines, origin);
  ASSIGN_OR_RETURN(auto retro, RetroMatch(list.name));
  result.retro_cases = retro.first;
  result.retro_evidence = retro.second;
  info.retro_pending = false;
  Store::Batch done;
  done.Put(Cf::kLists, list.name, EncodeInfo(info));
  RETURN_IF_ERROR(store_.Write(std::move(done), /*sync=*/false));
  result.info = info;
  return result;
}

absl::StatusOr<std::pair<uint64_t, uint64_t>> HashListManager::RetroMatch(const std::string& list_name) {
  uint64_t cases = 0;
  uint64_t evidence = 0;
  // An allowlist makes no cases (cases it would now veto stay for review).
  if (policies_.IsAllowlist(list_name)) return std::make_pair(cases, evidence);
  absl::Status inner;
  RETURN_IF_ERROR(store_.Scan(Cf::kObjects, "", [&](std::string_view, std::string_view value) {
    absl::StatusOr<ObjectRecord> record = DecodeObjectRecord(value);
    if (!record.ok() || record->status != ObjectStatus::kHashed) return true;
    PdqMatchResult pdq;
    if (pdq_ != nullptr) {
      if (std::optional<PdqDihedral> dihedral = StoredPdqDihedral(*record)) {
        pdq = pdq_->MatchHash(*dihedral, record->pdq_quality);
      }
    }
    // The sweep's rule: an allowlisted object keeps no match, so gets no case.
    AllowlistVerdict verdict = ApplyAllowlistVeto(index_.Lookup(record->digests), std::move(pdq), policies_);
    std::vector<ExactMatch>& matches = verdict.matches;
    std::vector<PdqListMatch>& pdq_matches = verdict.pdq_matches;
    std::erase_if(matches, [&](const ExactMatch& m) { return m.entry.list_name != list_name; });
    std::erase_if(pdq_matches, [&](const PdqListMatch& m) { return m.list_name != list_name; });
    if (matches.empty() && pdq_matches.empty()) return true;
    absl::StatusOr<RecordOutcome> outcome =
        recorder_.Record(*record, matches, pdq_matches, /*write_object=*/false, "retro-match:" + list_name);
    if (!outcome.ok()) {
      inner = outcome.status();
      return false;
    }
    cases += outcome->case_created ? 1 : 0;
    evidence += outcome->evidence_added;
    return true;
  }));
  RETURN_IF_ERROR(inner);
  if (evidence > 0) {
    spdlog::info("retro-match of list {}: {} new cases, {} new evidence records", list_name, cases, evidence);
  }
  return std::make_pair(cases, evidence);
}

absl::StatusOr<std::vector<HashListInfo>> HashListManager::List() const {
  std::vector<HashListInfo> lists;
  absl::Status inner;
  RETURN_IF_ERROR(store_.Scan(Cf::kLists, "", [&](std::string_view, std::string_view value) {
    absl::StatusOr<HashListInfo> info = DecodeInfo(value);
    if (!info.ok()) {
      inner = info.status();
      return false;
    }
    lists.push_back(std::move(*info));
    return true;
  }));
  RETURN_IF_ERROR(inner);
  return lists;
}

}  // namespace takedown
