// ParseRdapIpResponse: the parts of an RDAP "ip network" object (RFC 9083
// section 5.4, the answer to an RFC 9082 /ip/<address> query) that say who
// is responsible for an address: the network's handle, name, range and
// country, and its entities (recursively nested, each with its roles and the
// fn, e-mail addresses, org and kind of its jCard, RFC 7095).
//
// The body is untrusted. Bounds (RdapLimits) are checked before and while
// parsing: body size, JSON nesting depth, entity nesting depth, entity count,
// items per entity, length of every extracted string. Malformed JSON, a
// member of the wrong type, an RDAP error object, a different objectClassName
// or a bound exceeded is InvalidArgument, whose message starts with
// "RDAP response: " and names the JSON path of the problem
// ("$.entities[0].vcardArray[1][2][3]: ..."). Nothing is thrown.
//
// Lenient where registries differ and it is harmless: unknown members and
// vCard properties are ignored, null counts as absent, a missing vcardArray
// leaves fn/emails empty, an e-mail value that is not a plausible address is
// dropped with a warning. Control characters in extracted names become spaces,
// so a name can go into a mail header or log line as is.
//
// Thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace takedown {

struct RdapLimits {
  // Largest body parsed.
  size_t max_body_bytes = 1024 * 1024;
  // Arrays and objects nested in each other, the top-level object included.
  int max_json_depth = 32;
  // Entities within entities: 1 is the network's own entities.
  int max_entity_depth = 4;
  // Entities in the whole response, at every depth.
  size_t max_entities = 128;
  // Roles, vCard properties, and e-mail addresses of one entity (each).
  size_t max_items_per_entity = 64;
  // Every extracted string (handle, name, address, role, fn, org, e-mail...).
  size_t max_string_bytes = 1024;
};

struct RdapEntity {
  std::string handle;
  // Lower-cased, as listed ("registrant", "abuse", "technical", ...).
  std::vector<std::string> roles;
  // jCard "fn", "org" (its first component) and "kind"; empty when absent.
  std::string fn;
  std::string org;
  std::string kind;
  // jCard "email" values, in order, duplicates removed (case-insensitively).
  std::vector<std::string> emails;
  // 1 for the network's own entities, 2 for theirs, and so on.
  int depth = 1;
  // Where it is in the response, e.g. "$.entities[0].entities[1]".
  std::string json_path;

  bool HasRole(std::string_view role) const;
};

struct RdapNetwork {
  std::string handle;
  std::string name;
  std::string start_address;  // as given, checked to be an IPv4/IPv6 address
  std::string end_address;
  std::string ip_version;  // "v4", "v6" or empty
  std::string country;
  // Every entity, nearest to the network first (breadth-first, document
  // order within a depth).
  std::vector<RdapEntity> entities;
  // The e-mail addresses of the entities with role "abuse", nearest first,
  // duplicates removed (case-insensitively).
  std::vector<std::string> abuse_emails;
  // The nearest entity with role "registrant": its fn (or org when fn is
  // empty) and handle. Empty when there is none.
  std::string registrant;
  std::string registrant_handle;
  // What was tolerated (e.g. an e-mail value that is not an address), with
  // its JSON path; at most kMaxRdapWarnings.
  std::vector<std::string> warnings;
};

inline constexpr size_t kMaxRdapWarnings = 16;

absl::StatusOr<RdapNetwork> ParseRdapIpResponse(std::string_view json, const RdapLimits& limits);

}  // namespace takedown
