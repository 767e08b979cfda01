#include "notices/removal_order.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "common/json_depth.h"
#include "fmt/format.h"
#include "notices/json_fields.h"
#include "notices/legal_profile.h"

namespace takedown {
namespace {

using Json = nlohmann::json;

bool HasControl(std::string_view s, bool allow_line_breaks) {
  return std::any_of(s.begin(), s.end(), [&](char c) {
    auto u = static_cast<unsigned char>(c);
    if (allow_line_breaks && (c == '\n' || c == '\r' || c == '\t')) return false;
    return u < 0x20 || u == 0x7F;
  });
}

// scheme "://" rest, with an RFC 3986 scheme and no whitespace or controls.
bool IsAbsoluteUrl(std::string_view url) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0 || sep + 3 >= url.size()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!alpha(url[0])) return false;
  for (char c : url.substr(0, sep)) {
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.') return false;
  }
  return std::none_of(url.begin(), url.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7F;
  });
}

// Typed access to the fields of one order document. Every error is
// InvalidArgument("<source>: field '<dotted.path>' <problem>").
class OrderReader {
 public:
  explicit OrderReader(std::string_view source) : source_(source.substr(0, 256)) {}

  absl::Status Error(std::string_view path, std::string_view problem) const {
    return absl::InvalidArgumentError(fmt::format("{}: field '{}' {}", source_, path, problem));
  }
  absl::Status DocumentError(std::string_view problem) const {
    return absl::InvalidArgumentError(fmt::format("{}: {}", source_, problem));
  }

  // Fails on members of `object` not in `allowed`.
  absl::Status OnlyKnown(const Json& object, std::string_view prefix,
                         std::initializer_list<std::string_view> allowed) const {
    for (const auto& [key, value] : object.items()) {
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string names;
        for (std::string_view a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
        return Error(Path(prefix, key.substr(0, 64)),
                     fmt::format("is not a known field; known fields: {}", names));
      }
    }
    return absl::OkStatus();
  }

  // The member, or nullptr when it is absent (or null and `null_is_absent`).
  absl::StatusOr<const Json*> Find(const Json& object, std::string_view prefix, std::string_view key,
                                   bool required) const {
    auto it = object.find(std::string(key));
    if (it == object.end() || (it->is_null() && !required)) {
      if (required) return Error(Path(prefix, key), "is missing");
      return nullptr;
    }
    return &*it;
  }

  absl::StatusOr<std::string> String(const Json& object, std::string_view prefix, std::string_view key,
                                     size_t max_length, bool required, bool multiline = false) const {
    absl::StatusOr<const Json*> found = Find(object, prefix, key, required);
    if (!found.ok()) return found.status();
    if (*found == nullptr) return std::string();
    const Json& v = **found;
    const std::string path = Path(prefix, key);
    if (!v.is_string()) return Error(path, fmt::format("must be a string, got {}", v.type_name()));
    const std::string& s = v.get_ref<const std::string&>();
    if (s.size() > max_length) {
      return Error(path, fmt::format("is {} bytes long; the limit is {}", s.size(), max_length));
    }
    if (required && s.empty()) return Error(path, "must not be empty");
    if (!IsValidUtf8(s)) return Error(path, "is not valid UTF-8");
    if (HasControl(s, multiline)) return Error(path, "contains control characters");
    return s;
  }

  absl::StatusOr<const Json*> Object(const Json& object, std::string_view prefix, std::string_view key,
                                     bool required) const {
    absl::StatusOr<const Json*> found = Find(object, prefix, key, required);
    if (!found.ok() || *found == nullptr) return found;
    if (!(*found)->is_object()) {
      return Error(Path(prefix, key), fmt::format("must be a JSON object, got {}", (*found)->type_name()));
    }
    return found;
  }

  absl::StatusOr<int64_t> Int(const Json& object, std::string_view prefix, std::string_view key, int64_t min,
                              int64_t max) const {
    absl::StatusOr<const Json*> found = Find(object, prefix, key, /*required=*/true);
    if (!found.ok()) return found.status();
    const Json& v = **found;
    const std::string path = Path(prefix, key);
    if (!v.is_number_integer()) return Error(path, fmt::format("must be an integer, got {}", v.type_name()));
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(max)) {
      return Error(path, fmt::format("is {}; it must be in [{}, {}]", v.get<uint64_t>(), min, max));
    }
    int64_t n = v.get<int64_t>();
    if (n < min || n > max) return Error(path, fmt::format("is {}; it must be in [{}, {}]", n, min, max));
    return n;
  }

  absl::StatusOr<bool> Bool(const Json& object, std::string_view prefix, std::string_view key) const {
    absl::StatusOr<const Json*> found = Find(object, prefix, key, /*required=*/true);
    if (!found.ok()) return found.status();
    if (!(*found)->is_boolean()) {
      return Error(Path(prefix, key), fmt::format("must be true or false, got {}", (*found)->type_name()));
    }
    return (*found)->get<bool>();
  }

  // A required time, or with !required an absent/null one as InfinitePast.
  absl::StatusOr<absl::Time> Time(const Json& object, std::string_view prefix, std::string_view key,
                                  bool required) const {
    absl::StatusOr<const Json*> found = Find(object, prefix, key, required);
    if (!found.ok()) return found.status();
    if (*found == nullptr) return absl::InfinitePast();
    const std::string path = Path(prefix, key);
    if ((*found)->is_null()) return Error(path, "must be an RFC 3339 time, got null");
    absl::StatusOr<absl::Time> t = TimeFromJson(**found, fmt::format("{}: field '{}'", source_, path));
    if (!t.ok()) return t.status();
    static const absl::Time kLatest =
        absl::FromCivil(absl::CivilSecond(10000, 1, 1, 0, 0, 0), absl::UTCTimeZone());
    if (*t < absl::UnixEpoch() || *t >= kLatest) return Error(path, "must be between 1970 and 9999");
    return *t;
  }

  static std::string Path(std::string_view prefix, std::string_view key) {
    return prefix.empty() ? std::string(key) : fmt::format("{}.{}", prefix, key);
  }

 private:
  std::string source_;
};

absl::Status ParseInto(const Json& doc, const OrderReader& r, RemovalOrder& order) {
  if (!doc.is_object())
    return r.DocumentError(fmt::format("expected a JSON object, got {}", doc.type_name()));
  if (absl::Status s = r.OnlyKnown(
          doc, "",
          {"schema_version", "profile", "order_reference", "issuing_authority", "provider", "legal_basis",
           "locations", "reasons", "issued_at", "deadline", "redress", "secrecy", "secrecy_until", "atkm"});
      !s.ok()) {
    return s;
  }
  absl::StatusOr<int64_t> version = r.Int(doc, "", "schema_version", 1, kRemovalOrderSchemaVersion);
  if (!version.ok()) return version.status();

  absl::StatusOr<std::string> profile = r.String(doc, "", "profile", 64, true);
  if (!profile.ok()) return profile.status();
  if (*profile != kTcoRemovalOrderProfile && *profile != kNlCsamInstructionProfile) {
    return r.Error("profile", fmt::format("is '{}'; an order uses '{}' or '{}'", *profile,
                                          kTcoRemovalOrderProfile, kNlCsamInstructionProfile));
  }
  order.profile = *std::move(profile);

  absl::StatusOr<std::string> reference = r.String(doc, "", "order_reference", kMaxOrderNameLength, true);
  if (!reference.ok()) return reference.status();
  order.order_reference = *std::move(reference);

  absl::StatusOr<const Json*> authority = r.Object(doc, "", "issuing_authority", true);
  if (!authority.ok()) return authority.status();
  if (absl::Status s = r.OnlyKnown(**authority, "issuing_authority", {"name", "member_state", "contact"});
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::string> authority_name =
      r.String(**authority, "issuing_authority", "name", kMaxOrderNameLength, true);
  if (!authority_name.ok()) return authority_name.status();
  order.issuing_authority.name = *std::move(authority_name);
  absl::StatusOr<std::string> member_state =
      r.String(**authority, "issuing_authority", "member_state", 2, true);
  if (!member_state.ok()) return member_state.status();
  if (member_state->size() != 2 ||
      !std::all_of(member_state->begin(), member_state->end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return r.Error("issuing_authority.member_state", "must be an ISO 3166-1 alpha-2 code such as NL");
  }
  order.issuing_authority.member_state = *std::move(member_state);
  absl::StatusOr<std::string> authority_contact =
      r.String(**authority, "issuing_authority", "contact", kMaxOrderNameLength, false);
  if (!authority_contact.ok()) return authority_contact.status();
  order.issuing_authority.contact = *std::move(authority_contact);

  absl::StatusOr<const Json*> provider = r.Object(doc, "", "provider", true);
  if (!provider.ok()) return provider.status();
  if (absl::Status s = r.OnlyKnown(**provider, "provider", {"name", "contact_point"}); !s.ok()) return s;
  absl::StatusOr<std::string> provider_name =
      r.String(**provider, "provider", "name", kMaxOrderNameLength, true);
  if (!provider_name.ok()) return provider_name.status();
  order.provider.name = *std::move(provider_name);
  absl::StatusOr<std::string> contact_point =
      r.String(**provider, "provider", "contact_point", kMaxOrderNameLength, false);
  if (!contact_point.ok()) return contact_point.status();
  order.provider.contact_point = *std::move(contact_point);

  absl::StatusOr<std::string> legal_basis = r.String(doc, "", "legal_basis", kMaxOrderTextLength, true, true);
  if (!legal_basis.ok()) return legal_basis.status();
  order.legal_basis = *std::move(legal_basis);

  absl::StatusOr<const Json*> locations = r.Find(doc, "", "locations", true);
  if (!locations.ok()) return locations.status();
  if (!(*locations)->is_array()) {
    return r.Error("locations", fmt::format("must be a JSON array, got {}", (*locations)->type_name()));
  }
  if ((*locations)->empty()) return r.Error("locations", "must list at least one location");
  if ((*locations)->size() > kMaxRemovalOrderLocations) {
    return r.Error("locations", fmt::format("has {} entries; at most {} per order", (*locations)->size(),
                                            kMaxRemovalOrderLocations));
  }
  std::set<std::string> seen_urls;
  for (size_t i = 0; i < (*locations)->size(); ++i) {
    const Json& item = (**locations)[i];
    const std::string prefix = fmt::format("locations[{}]", i);
    if (!item.is_object())
      return r.Error(prefix, fmt::format("must be a JSON object, got {}", item.type_name()));
    if (absl::Status s = r.OnlyKnown(item, prefix, {"url", "details"}); !s.ok()) return s;
    ContentLocation location;
    absl::StatusOr<std::string> url = r.String(item, prefix, "url", kMaxOrderUrlLength, true);
    if (!url.ok()) return url.status();
    if (!IsAbsoluteUrl(*url)) {
      return r.Error(prefix + ".url", fmt::format("'{}' is not an absolute URL such as https://host/path",
                                                  url->substr(0, 120)));
    }
    if (!seen_urls.insert(*url).second) {
      return r.Error(prefix + ".url", fmt::format("'{}' is listed twice", url->substr(0, 120)));
    }
    location.url = *std::move(url);
    absl::StatusOr<std::string> details = r.String(item, prefix, "details", kMaxOrderTextLength, false, true);
    if (!details.ok()) return details.status();
    location.details = *std::move(details);
    order.locations.push_back(std::move(location));
  }

  absl::StatusOr<std::string> reasons = r.String(doc, "", "reasons", kMaxOrderTextLength, true, true);
  if (!reasons.ok()) return reasons.status();
  order.reasons = *std::move(reasons);

  absl::StatusOr<absl::Time> issued_at = r.Time(doc, "", "issued_at", true);
  if (!issued_at.ok()) return issued_at.status();
  order.issued_at = *issued_at;
  absl::StatusOr<absl::Time> deadline = r.Time(doc, "", "deadline", false);
  if (!deadline.ok()) return deadline.status();
  if (*deadline != absl::InfinitePast() && *deadline <= order.issued_at) {
    return r.Error("deadline",
                   fmt::format("({}) must be after issued_at ({})",
                               absl::FormatTime(absl::RFC3339_full, *deadline, absl::UTCTimeZone()),
                               absl::FormatTime(absl::RFC3339_full, order.issued_at, absl::UTCTimeZone())));
  }
  order.deadline = *deadline;

  absl::StatusOr<std::string> redress = r.String(doc, "", "redress", kMaxOrderTextLength, true, true);
  if (!redress.ok()) return redress.status();
  order.redress = *std::move(redress);

  absl::StatusOr<bool> secrecy = r.Bool(doc, "", "secrecy");
  if (!secrecy.ok()) return secrecy.status();
  order.secrecy = *secrecy;
  absl::StatusOr<absl::Time> secrecy_until = r.Time(doc, "", "secrecy_until", false);
  if (!secrecy_until.ok()) return secrecy_until.status();
  if (*secrecy_until != absl::InfinitePast()) {
    if (!order.secrecy) return r.Error("secrecy_until", "is only allowed with secrecy: true");
    if (*secrecy_until <= order.issued_at) return r.Error("secrecy_until", "must be after issued_at");
  }
  order.secrecy_until = *secrecy_until;

  absl::StatusOr<const Json*> atkm = r.Object(doc, "", "atkm", false);
  if (!atkm.ok()) return atkm.status();
  const bool is_nl = order.profile == kNlCsamInstructionProfile;
  if (*atkm == nullptr) {
    if (is_nl)
      return r.Error("atkm", "is missing; an nl-csam-instruction order carries the ATKM instruction");
    return absl::OkStatus();
  }
  if (!is_nl)
    return r.Error("atkm", fmt::format("is only allowed with profile '{}'", kNlCsamInstructionProfile));
  if (absl::Status s = r.OnlyKnown(**atkm, "atkm", {"instruction_reference", "term_minutes"}); !s.ok())
    return s;
  absl::StatusOr<std::string> instruction =
      r.String(**atkm, "atkm", "instruction_reference", kMaxOrderNameLength, true);
  if (!instruction.ok()) return instruction.status();
  order.instruction_reference = *std::move(instruction);
  absl::StatusOr<const Json*> term_json = r.Find(**atkm, "atkm", "term_minutes", true);
  if (!term_json.ok()) return term_json.status();
  if ((*term_json)->is_number_unsigned() && (*term_json)->get<uint64_t>() > kMaxAtkmTermMinutes) {
    return r.Error("atkm.term_minutes",
                   fmt::format("is {}; the Dutch CSAM act allows a term of at most 12 hours ({} minutes)",
                               (*term_json)->get<uint64_t>(), kMaxAtkmTermMinutes));
  }
  absl::StatusOr<int64_t> term = r.Int(**atkm, "atkm", "term_minutes", 1, kMaxAtkmTermMinutes);
  if (!term.ok()) return term.status();
  order.term = absl::Minutes(*term);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RemovalOrder> ParseRemovalOrderJson(std::string_view json, std::string_view source_name) {
  OrderReader reader(source_name);
  if (json.size() > kMaxRemovalOrderBytes) {
    return reader.DocumentError(fmt::format("is {} bytes; a removal order may be at most {} bytes",
                                            json.size(), kMaxRemovalOrderBytes));
  }
  if (JsonNestingOverflow(json, kMaxRemovalOrderDepth).has_value()) {
    return reader.DocumentError(fmt::format("JSON is nested deeper than {} levels", kMaxRemovalOrderDepth));
  }
  Json doc;
  try {
    doc = Json::parse(json.begin(), json.end());
  } catch (const Json::parse_error& e) {
    return reader.DocumentError(fmt::format("not valid JSON: {}", e.what()));
  } catch (const std::exception& e) {
    return reader.DocumentError(fmt::format("cannot parse: {}", e.what()));
  }
  RemovalOrder order;
  try {
    if (absl::Status s = ParseInto(doc, reader, order); !s.ok()) return s;
  } catch (const std::exception& e) {
    return reader.DocumentError(fmt::format("cannot read: {}", e.what()));
  }
  return order;
}

nlohmann::json RemovalOrderToJson(const RemovalOrder& order) {
  Json locations = Json::array();
  for (const ContentLocation& l : order.locations) {
    Json item = {{"url", l.url}};
    if (!l.details.empty()) item["details"] = l.details;
    locations.push_back(std::move(item));
  }
  Json authority = {{"name", order.issuing_authority.name},
                    {"member_state", order.issuing_authority.member_state}};
  if (!order.issuing_authority.contact.empty()) authority["contact"] = order.issuing_authority.contact;
  Json provider = {{"name", order.provider.name}};
  if (!order.provider.contact_point.empty()) provider["contact_point"] = order.provider.contact_point;
  Json doc = {
      {"schema_version", kRemovalOrderSchemaVersion},
      {"profile", order.profile},
      {"order_reference", order.order_reference},
      {"issuing_authority", std::move(authority)},
      {"provider", std::move(provider)},
      {"legal_basis", order.legal_basis},
      {"locations", std::move(locations)},
      {"reasons", order.reasons},
      {"issued_at", TimeToJson(order.issued_at)},
      {"deadline", TimeToJson(order.deadline)},
      {"redress", order.redress},
      {"secrecy", order.secrecy},
  };
  if (order.secrecy_until != absl::InfinitePast()) doc["secrecy_until"] = TimeToJson(order.secrecy_until);
  if (order.profile == kNlCsamInstructionProfile || !order.instruction_reference.empty()) {
    doc["atkm"] = {{"instruction_reference", order.instruction_reference},
                   {"term_minutes", absl::ToInt64Minutes(order.term)}};
  }
  return doc;
}

std::string_view FeedbackActionName(FeedbackOutcome::Action action) {
  switch (action) {
    case FeedbackOutcome::Action::kRemoved:
      return "removed";
    case FeedbackOutcome::Action::kAccessDisabled:
      return "access_disabled";
    case FeedbackOutcome::Action::kUnableToComply:
      return "unable_to_comply";
  }
  return "unknown";
}

std::string_view InabilityReasonName(FeedbackOutcome::Reason reason) {
  switch (reason) {
    case FeedbackOutcome::Reason::kNone:
      return "";
    case FeedbackOutcome::Reason::kForceMajeure:
      return "force_majeure";
    case FeedbackOutcome::Reason::kManifestError:
      return "manifest_error";
    case FeedbackOutcome::Reason::kMissingInformation:
      return "missing_information";
  }
  return "unknown";
}

absl::StatusOr<nlohmann::json> RenderFeedback(const RemovalOrder& order, const FeedbackOutcome& outcome) {
  const std::string where = fmt::format("feedback on order '{}'", order.order_reference.substr(0, 128));
  auto error = [&](std::string_view problem) {
    return absl::InvalidArgumentError(fmt::format("{}: {}", where, problem));
  };
  if (outcome.at == absl::InfinitePast() || outcome.at == absl::InfiniteFuture()) {
    return error("the time of the action ('at') is not set");
  }
  const bool unable = outcome.action == FeedbackOutcome::Action::kUnableToComply;
  if (unable) {
    if (outcome.reason == FeedbackOutcome::Reason::kNone) {
      return error("unable_to_comply needs a reason: force_majeure, manifest_error or missing_information");
    }
    if (outcome.explanation.empty() || outcome.explanation.size() > kMaxOrderTextLength) {
      return error(fmt::format("unable_to_comply needs an explanation of 1..{} bytes", kMaxOrderTextLength));
    }
  } else if (outcome.reason != FeedbackOutcome::Reason::kNone || !outcome.explanation.empty()) {
    return error(fmt::format("a reason or explanation is only given with unable_to_comply, not with {}",
                             FeedbackActionName(outcome.action)));
  }

  Json locations = Json::array();
  if (outcome.urls.empty()) {
    for (const ContentLocation& l : order.locations) locations.push_back(l.url);
  } else {
    for (const std::string& url : outcome.urls) {
      bool known = std::any_of(order.locations.begin(), order.locations.end(),
                               [&](const ContentLocation& l) { return l.url == url; });
      if (!known) return error(fmt::format("'{}' is not a location of the order", url.substr(0, 120)));
      locations.push_back(url);
    }
  }

  const bool tco = order.profile == kTcoRemovalOrderProfile;
  Json doc = {
      {"schema_version", kRemovalOrderSchemaVersion},
      {"kind", unable ? "removal_order.inability" : "removal_order.feedback"},
      {"profile", order.profile},
      {"order_reference", order.order_reference},
      {"issuing_authority",
       {{"name", order.issuing_authority.name}, {"member_state", order.issuing_authority.member_state}}},
      {"provider", order.provider.name},
      {"action", FeedbackActionName(outcome.action)},
      {"action_at", TimeToJson(outcome.at)},
      {"received_at", TimeToJson(outcome.received_at)},
      {"locations", std::move(locations)},
  };
  if (tco) doc["annex"] = unable ? "III" : "II";
  if (!order.instruction_reference.empty()) doc["instruction_reference"] = order.instruction_reference;
  if (unable) {
    doc["reason"] = InabilityReasonName(outcome.reason);
    doc["explanation"] = SanitizeUtf8(outcome.explanation);
  }
  return doc;
}

}  // namespace takedown
