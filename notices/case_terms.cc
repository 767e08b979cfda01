#include "notices/case_terms.h"

#include <limits>
#include <utility>

#include "common/status_macros.h"
#include "fmt/format.h"
#include "notices/json_fields.h"

namespace takedown {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxProfileNameLength = 64;
constexpr size_t kMaxProviderLength = 256;

bool IsKnownRemoval(std::string_view removal) {
  return removal.empty() || removal == kRemovalRemoved || removal == kRemovalAccessDisabled ||
         removal == kRemovalGone || removal == kRemovalChanged;
}

Json PreservedToJson(const PreservedContent& p) {
  return Json{{"location", p.location},
              {"key_id", p.key_id},
              {"bytes", p.bytes},
              {"sha256", p.sha256_hex},
              {"preserved_at", TimeToJson(p.preserved_at)},
              {"retain_until", TimeToJson(p.retain_until)},
              {"erased_at", TimeToJson(p.erased_at)}};
}

absl::StatusOr<PreservedContent> PreservedFromJson(const Json& json, const std::string& where) {
  if (!json.is_object()) return absl::InvalidArgumentError(where + ": expected a JSON object");
  PreservedContent p;
  ASSIGN_OR_RETURN(p.location, GetJsonString(json, "location", 4096, where));
  ASSIGN_OR_RETURN(p.key_id, GetJsonString(json, "key_id", 64, where));
  ASSIGN_OR_RETURN(int64_t bytes, GetJsonInt(json, "bytes", 0, std::numeric_limits<int64_t>::max(), where));
  p.bytes = static_cast<uint64_t>(bytes);
  ASSIGN_OR_RETURN(p.sha256_hex, GetJsonString(json, "sha256", 64, where));
  ASSIGN_OR_RETURN(p.preserved_at, GetJsonTime(json, "preserved_at", where));
  ASSIGN_OR_RETURN(p.retain_until, GetJsonTime(json, "retain_until", where));
  ASSIGN_OR_RETURN(p.erased_at, GetJsonTime(json, "erased_at", where));
  if (p.location.empty()) return absl::InvalidArgumentError(where + ": field 'location' is empty");
  return p;
}

}  // namespace

bool IsEmpty(const CaseTerms& terms) { return terms == CaseTerms{}; }

Json CaseTermsToJson(const CaseTerms& t) {
  Json timers = Json::array();
  for (const Timer& timer : t.timers) timers.push_back(TimerToJson(timer));
  Json preserved = Json::array();
  for (const PreservedContent& p : t.preserved) preserved.push_back(PreservedToJson(p));
  return Json{
      {"profile", t.profile},
      {"received_at", TimeToJson(t.received_at)},
      {"deadline", TimeToJson(t.deadline)},
      {"order", t.order ? RemovalOrderToJson(*t.order) : Json(nullptr)},
      {"location", t.location},
      {"provider", t.provider},
      {"timers", std::move(timers)},
      {"removed_at", TimeToJson(t.removed_at)},
      {"removal", t.removal},
      {"penalty_accrued_cents", t.penalty_accrued_cents},
      {"penalty_periods", t.penalty_periods},
      {"penalty_currency", t.penalty_currency},
      {"fine_proposed_at", TimeToJson(t.fine_proposed_at)},
      {"rechecks", t.rechecks},
      {"renotices", t.renotices},
      {"purged_at", TimeToJson(t.purged_at)},
      {"preserved", std::move(preserved)},
  };
}

absl::StatusOr<CaseTerms> CaseTermsFromJson(const Json& json, std::string_view where_view) {
  const std::string where(where_view);
  if (!json.is_object()) return absl::InvalidArgumentError(where + ": expected a JSON object");
  CaseTerms t;
  ASSIGN_OR_RETURN(t.profile, GetJsonString(json, "profile", kMaxProfileNameLength, where));
  ASSIGN_OR_RETURN(t.received_at, GetJsonTime(json, "received_at", where));
  ASSIGN_OR_RETURN(t.deadline, GetJsonTime(json, "deadline", where));
  auto order = json.find("order");
  if (order == json.end()) {
    return absl::InvalidArgumentError(where + ": field 'order' is missing (null when there is none)");
  }
  if (!order->is_null()) {
    absl::StatusOr<RemovalOrder> parsed = ParseRemovalOrderJson(DumpJson(*order), where + ": order");
    if (!parsed.ok()) return parsed.status();
    t.order = *std::move(parsed);
  }
  ASSIGN_OR_RETURN(t.location, GetJsonString(json, "location", kMaxOrderUrlLength, where));
  ASSIGN_OR_RETURN(t.provider, GetJsonString(json, "provider", kMaxProviderLength, where));
  ASSIGN_OR_RETURN(const Json* timers, GetJsonMember(json, "timers", Json::value_t::array, where));
  if (timers->size() > kMaxCaseTimers) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {} pending timers; the limit is {}", where, timers->size(), kMaxCaseTimers));
  }
  for (size_t i = 0; i < timers->size(); ++i) {
    ASSIGN_OR_RETURN(Timer timer, TimerFromJson((*timers)[i], fmt::format("{}: timers[{}]", where, i)));
    t.timers.push_back(std::move(timer));
  }
  ASSIGN_OR_RETURN(t.removed_at, GetJsonTime(json, "removed_at", where));
  ASSIGN_OR_RETURN(t.removal, GetJsonString(json, "removal", 32, where));
  if (!IsKnownRemoval(t.removal)) {
    return absl::InvalidArgumentError(
        fmt::format("{}: field 'removal' is '{}'; expected removed, access_disabled, gone, changed or empty",
                    where, t.removal));
  }
  ASSIGN_OR_RETURN(t.penalty_accrued_cents,
                   GetJsonInt(json, "penalty_accrued_cents", 0, std::numeric_limits<int64_t>::max(), where));
  ASSIGN_OR_RETURN(int64_t periods,
                   GetJsonInt(json, "penalty_periods", 0, std::numeric_limits<int>::max(), where));
  t.penalty_periods = static_cast<int>(periods);
  ASSIGN_OR_RETURN(t.penalty_currency, GetJsonString(json, "penalty_currency", 3, where));
  ASSIGN_OR_RETURN(t.fine_proposed_at, GetJsonTime(json, "fine_proposed_at", where));
  ASSIGN_OR_RETURN(int64_t rechecks, GetJsonInt(json, "rechecks", 0, std::numeric_limits<int>::max(), where));
  t.rechecks = static_cast<int>(rechecks);
  ASSIGN_OR_RETURN(int64_t renotices,
                   GetJsonInt(json, "renotices", 0, std::numeric_limits<int>::max(), where));
  t.renotices = static_cast<int>(renotices);
  ASSIGN_OR_RETURN(t.purged_at, GetJsonTime(json, "purged_at", where));
  if (auto preserved = json.find("preserved"); preserved != json.end()) {
    ASSIGN_OR_RETURN(const Json* list, GetJsonMember(json, "preserved", Json::value_t::array, where));
    if (list->size() > kMaxPreservedContent) {
      return absl::InvalidArgumentError(
          fmt::format("{}: {} sealed copies; the limit is {}", where, list->size(), kMaxPreservedContent));
    }
    for (size_t i = 0; i < list->size(); ++i) {
      ASSIGN_OR_RETURN(PreservedContent p,
                       PreservedFromJson((*list)[i], fmt::format("{}: preserved[{}]", where, i)));
      t.preserved.push_back(std::move(p));
    }
  }
  return t;
}

}  // namespace takedown
