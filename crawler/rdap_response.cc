#include "crawler/rdap_response.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <exception>
#include <utility>

#include "absl/status/status.h"
#include "common/json_depth.h"
#include "common/status_macros.h"
#include "crawler/http_url.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace takedown {
namespace {

using Json = nlohmann::json;

absl::Status Error(std::string_view path, std::string_view problem) {
  return absl::InvalidArgumentError(fmt::format("RDAP response: {}: {}", path, problem));
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view TrimAscii(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// Control characters become spaces, then surrounding spaces are trimmed.
std::string CleanName(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  return std::string(TrimAscii(out));
}

bool IsPlausibleEmail(std::string_view s) {
  const size_t at = s.find('@');
  if (at == std::string_view::npos || at != s.rfind('@') || at == 0 || at + 1 == s.size()) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;
    if (std::string_view("<>()[]\\,;:\"").find(c) != std::string_view::npos) return false;
  }
  const std::string_view domain = s.substr(at + 1);
  return domain.front() != '.' && domain.back() != '.' && domain.find("..") == std::string_view::npos;
}

bool IsIpAddress(const std::string& s, int* family) {
  in6_addr buffer;
  if (inet_pton(AF_INET, s.c_str(), &buffer) == 1) {
    *family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), &buffer) == 1) {
    *family = AF_INET6;
    return true;
  }
  return false;
}

void AppendUnique(std::vector<std::string>& list, const std::string& value) {
  for (const std::string& existing : list) {
    if (EqualsIgnoreCase(existing, value)) return;
  }
  list.push_back(value);
}

class Extractor {
 public:
  Extractor(const RdapLimits& limits, RdapNetwork& network) : limits_(limits), network_(network) {}

  absl::Status Network(const Json& root) {
    if (!root.is_object()) return Error("$", fmt::format("expected an object, got {}", root.type_name()));
    if (auto it = root.find("errorCode"); it != root.end()) {
      std::string title;
      if (auto t = root.find("title"); t != root.end() && t->is_string()) {
        title = PrintableUrl(t->get_ref<const std::string&>(), 200);
      }
      return Error("$", fmt::format("an RDAP error object (errorCode {}{}{}), not an ip network",
                                    PrintableUrl(it->dump(), 32), title.empty() ? "" : ": ", title));
    }
    std::string object_class;
    RETURN_IF_ERROR(Member(root, "$", "objectClassName", /*name=*/false, object_class));
    if (!object_class.empty() && object_class != "ip network") {
      return Error("$.objectClassName",
                   fmt::format("'{}' is not \"ip network\" (was an /ip/ query answered?)",
                               PrintableUrl(object_class, 64)));
    }
    RETURN_IF_ERROR(Member(root, "$", "handle", false, network_.handle));
    RETURN_IF_ERROR(Member(root, "$", "name", true, network_.name));
    RETURN_IF_ERROR(Member(root, "$", "country", false, network_.country));
    RETURN_IF_ERROR(Member(root, "$", "ipVersion", false, network_.ip_version));
    RETURN_IF_ERROR(Member(root, "$", "startAddress", false, network_.start_address));
    RETURN_IF_ERROR(Member(root, "$", "endAddress", false, network_.end_address));
    RETURN_IF_ERROR(CheckRange());
    RETURN_IF_ERROR(Entities(root));
    Summarize();
    return absl::OkStatus();
  }

 private:
  struct Pending {
    const Json* entity;
    int depth;
    std::string path;
  };

  // A string member; absent or null leaves `out` empty. `name`: a display
  // name, cleaned of control characters.
  absl::Status Member(const Json& object, std::string_view path, const char* key, bool name,
                      std::string& out) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return absl::OkStatus();
    const std::string member_path = fmt::format("{}.{}", path, key);
    ASSIGN_OR_RETURN(const std::string* value, String(*it, member_path));
    out = name ? CleanName(*value) : std::string(TrimAscii(*value));
    return absl::OkStatus();
  }

  absl::StatusOr<const std::string*> String(const Json& value, std::string_view path) {
    if (!value.is_string()) return Error(path, fmt::format("expected a string, got {}", value.type_name()));
    const std::string& s = value.get_ref<const std::string&>();
    if (s.size() > limits_.max_string_bytes) {
      return Error(path, fmt::format("string of {} bytes is over the limit of {} bytes", s.size(),
                                     limits_.max_string_bytes));
    }
    return &s;
  }

  absl::Status CheckRange() {
    int start_family = 0;
    int end_family = 0;
    if (!network_.start_address.empty() && !IsIpAddress(network_.start_address, &start_family)) {
      return Error("$.startAddress", fmt::format("'{}' is not an IPv4 or IPv6 address",
                                                 PrintableUrl(network_.start_address, 64)));
    }
    if (!network_.end_address.empty() && !IsIpAddress(network_.end_address, &end_family)) {
      return Error("$.endAddress", fmt::format("'{}' is not an IPv4 or IPv6 address",
                                               PrintableUrl(network_.end_address, 64)));
    }
    if (start_family != 0 && end_family != 0 && start_family != end_family) {
      return Error("$", fmt::format("startAddress {} and endAddress {} are of different IP versions",
                                    network_.start_address, network_.end_address));
    }
    return absl::OkStatus();
  }

  // Breadth-first, so network_.entities ends up nearest first.
  absl::Status Entities(const Json& root) {
    std::deque<Pending> queue;
    RETURN_IF_ERROR(Enqueue(root, "$", 1, queue));
    while (!queue.empty()) {
      Pending next = std::move(queue.front());
      queue.pop_front();
      RdapEntity entity;
      entity.depth = next.depth;
      entity.json_path = next.path;
      RETURN_IF_ERROR(Entity(*next.entity, entity));
      RETURN_IF_ERROR(Enqueue(*next.entity, next.path, next.depth + 1, queue));
      network_.entities.push_back(std::move(entity));
    }
    return absl::OkStatus();
  }

  // Queues the members of `parent`'s "entities" array at `depth`.
  absl::Status Enqueue(const Json& parent, const std::string& parent_path, int depth,
                       std::deque<Pending>& queue) {
    auto it = parent.find("entities");
    if (it == parent.end() || it->is_null()) return absl::OkStatus();
    const std::string path = parent_path + ".entities";
    if (!it->is_array()) return Error(path, fmt::format("expected an array, got {}", it->type_name()));
    if (it->empty()) return absl::OkStatus();
    if (depth > limits_.max_entity_depth) {
      return Error(path,
                   fmt::format("entities nested deeper than the limit of {}", limits_.max_entity_depth));
    }
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& entity = (*it)[i];
      std::string entity_path = fmt::format("{}[{}]", path, i);
      if (!entity.is_object()) {
        return Error(entity_path, fmt::format("expected an entity object, got {}", entity.type_name()));
      }
      if (++entity_count_ > limits_.max_entities) {
        return Error(entity_path, fmt::format("more than the limit of {} entities", limits_.max_entities));
      }
      queue.push_back(Pending{&entity, depth, std::move(entity_path)});
    }
    return absl::OkStatus();
  }

  absl::Status Entity(const Json& object, RdapEntity& entity) {
    const std::string& path = entity.json_path;
    RETURN_IF_ERROR(Member(object, path, "handle", false, entity.handle));
    if (auto it = object.find("roles"); it != object.end() && !it->is_null()) {
      const std::string roles_path = path + ".roles";
      if (!it->is_array())
        return Error(roles_path, fmt::format("expected an array, got {}", it->type_name()));
      if (it->size() > limits_.max_items_per_entity) {
        return Error(roles_path,
                     fmt::format("{} roles, over the limit of {}", it->size(), limits_.max_items_per_entity));
      }
      for (size_t i = 0; i < it->size(); ++i) {
        ASSIGN_OR_RETURN(const std::string* role, String((*it)[i], fmt::format("{}[{}]", roles_path, i)));
        AppendUnique(entity.roles, AsciiLower(TrimAscii(*role)));
      }
    }
    if (auto it = object.find("vcardArray"); it != object.end() && !it->is_null()) {
      RETURN_IF_ERROR(VCard(*it, path + ".vcardArray", entity));
    }
    return absl::OkStatus();
  }

  // jCard (RFC 7095): ["vcard", [[name, params, type, value, ...], ...]].
  absl::Status VCard(const Json& vcard, const std::string& path, RdapEntity& entity) {
    if (!vcard.is_array() || vcard.size() != 2 || !vcard[0].is_string() ||
        !EqualsIgnoreCase(vcard[0].get_ref<const std::string&>(), "vcard") || !vcard[1].is_array()) {
      return Error(path,
                   fmt::format("expected [\"vcard\", [properties...]], got {}",
                               PrintableUrl(vcard.dump(-1, ' ', false, Json::error_handler_t::replace), 80)));
    }
    const Json& properties = vcard[1];
    if (properties.size() > limits_.max_items_per_entity) {
      return Error(path + "[1]", fmt::format("{} vCard properties, over the limit of {}", properties.size(),
                                             limits_.max_items_per_entity));
    }
    for (size_t i = 0; i < properties.size(); ++i) {
      const Json& property = properties[i];
      const std::string property_path = fmt::format("{}[1][{}]", path, i);
      if (!property.is_array() || property.size() < 4 || !property[0].is_string()) {
        return Error(
            property_path,
            fmt::format("expected a vCard property [name, parameters, type, value], got {}",
                        PrintableUrl(property.dump(-1, ' ', false, Json::error_handler_t::replace), 80)));
      }
      const std::string& name = property[0].get_ref<const std::string&>();
      const std::string value_path = property_path + "[3]";
      if (EqualsIgnoreCase(name, "fn")) {
        ASSIGN_OR_RETURN(const std::string* fn, String(property[3], value_path));
        if (entity.fn.empty()) entity.fn = CleanName(*fn);
      } else if (EqualsIgnoreCase(name, "kind")) {
        ASSIGN_OR_RETURN(const std::string* kind, String(property[3], value_path));
        if (entity.kind.empty()) entity.kind = AsciiLower(TrimAscii(*kind));
      } else if (EqualsIgnoreCase(name, "org")) {
        // A text value, or a structured one (organization, then units).
        const bool structured = property[3].is_array() && !property[3].empty();
        ASSIGN_OR_RETURN(const std::string* org, String(structured ? property[3][0] : property[3],
                                                        structured ? value_path + "[0]" : value_path));
        if (entity.org.empty()) entity.org = CleanName(*org);
      } else if (EqualsIgnoreCase(name, "email")) {
        ASSIGN_OR_RETURN(const std::string* raw, String(property[3], value_path));
        std::string_view email = TrimAscii(*raw);
        if (email.size() >= 7 && EqualsIgnoreCase(email.substr(0, 7), "mailto:")) email.remove_prefix(7);
        if (!IsPlausibleEmail(email)) {
          Warn(fmt::format("{}: '{}' is not an e-mail address; ignored", value_path, PrintableUrl(*raw, 64)));
          continue;
        }
        AppendUnique(entity.emails, std::string(email));
      }
    }
    return absl::OkStatus();
  }

  void Warn(std::string warning) {
    if (network_.warnings.size() < kMaxRdapWarnings) network_.warnings.push_back(std::move(warning));
  }

  void Summarize() {
    for (const RdapEntity& entity : network_.entities) {
      if (entity.HasRole("abuse")) {
        for (const std::string& email : entity.emails) AppendUnique(network_.abuse_emails, email);
      }
    }
    for (const RdapEntity& entity : network_.entities) {
      if (entity.HasRole("registrant")) {
        network_.registrant = entity.fn.empty() ? entity.org : entity.fn;
        network_.registrant_handle = entity.handle;
        break;
      }
    }
  }

  const RdapLimits& limits_;
  RdapNetwork& network_;
  size_t entity_count_ = 0;
};

}  // namespace

bool RdapEntity::HasRole(std::string_view role) const {
  return std::any_of(roles.begin(), roles.end(),
                     [&](const std::string& r) { return EqualsIgnoreCase(r, role); });
}

absl::StatusOr<RdapNetwork> ParseRdapIpResponse(std::string_view json, const RdapLimits& limits) {
  if (json.size() > limits.max_body_bytes) {
    return absl::InvalidArgumentError(fmt::format(
        "RDAP response: body of {} bytes is over the limit of {} bytes", json.size(), limits.max_body_bytes));
  }
  if (std::optional<size_t> at =
          JsonNestingOverflow(json, static_cast<size_t>(std::max(limits.max_json_depth, 0)))) {
    return absl::InvalidArgumentError(
        fmt::format("RDAP response: byte {}: arrays and objects nested deeper than the limit of {}", *at,
                    limits.max_json_depth));
  }
  try {
    const Json root = Json::parse(json.begin(), json.end());
    RdapNetwork network;
    Extractor extractor(limits, network);
    RETURN_IF_ERROR(extractor.Network(root));
    return network;
  } catch (const Json::parse_error& e) {
    // what() is "[json.exception.parse_error.101] parse error at line 1, ...".
    std::string_view what = e.what();
    if (const size_t end = what.find("] "); what.starts_with("[json.exception") && end != what.npos) {
      what.remove_prefix(end + 2);
    }
    return absl::InvalidArgumentError(
        fmt::format("RDAP response: not valid JSON at byte {}: {}", e.byte, PrintableUrl(what, 300)));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        fmt::format("RDAP response: cannot be read: {}", PrintableUrl(e.what(), 300)));
  }
}

}  // namespace takedown
