#include "daemon/store_inspection.h"

#include "common/status_macros.h"
#include "daemon/audit_log.h"
#include "daemon/object_record.h"
#include "daemon/store.h"

namespace takedown {

absl::StatusOr<nlohmann::json> InspectStore(const std::string& store_path, Clock& clock) {
  StoreOptions options;
  options.create_if_missing = false;  // inspecting must never create a store
  ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(store_path, options));
  ASSIGN_OR_RETURN(std::unique_ptr<AuditLog> audit, AuditLog::Open(*store, clock));
  ASSIGN_OR_RETURN(AuditVerification verification, audit->Verify());

  nlohmann::json report;
  report["store"] = store_path;
  report["audit_chain_ok"] = verification.ok;
  report["audit_records"] = verification.records_checked;
  if (!verification.ok) report["audit_problem"] = verification.problem;

  nlohmann::json objects = nlohmann::json::object();
  RETURN_IF_ERROR(store->Scan(Cf::kObjects, "", [&](std::string_view key, std::string_view) {
    std::string source(key.substr(0, key.find('\0')));
    objects[source] = objects.value(source, 0) + 1;
    return true;
  }));
  report["objects"] = objects;

  uint64_t cases = 0;
  nlohmann::json by_state = nlohmann::json::object();
  RETURN_IF_ERROR(store->Scan(Cf::kCases, "", [&](std::string_view, std::string_view value) {
    ++cases;
    std::string state = nlohmann::json::parse(value, nullptr, false).value("state", "unreadable");
    by_state[state] = by_state.value(state, 0) + 1;
    return true;
  }));
  report["cases"] = cases;
  report["cases_by_state"] = by_state;

  nlohmann::json outbox = nlohmann::json::object();
  RETURN_IF_ERROR(store->Scan(Cf::kOutbox, "", [&](std::string_view, std::string_view value) {
    std::string state = nlohmann::json::parse(value, nullptr, false).value("state", "unreadable");
    outbox[state] = outbox.value(state, 0) + 1;
    return true;
  }));
  report["outbox"] = outbox;
  return report;
}

}  // namespace takedown
