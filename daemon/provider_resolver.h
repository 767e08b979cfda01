// ProviderResolver: in the authority role, finds the hosting provider of a
// reported URL's host when the configured provider table has no entry for it
// (daemon/rdap_provider_resolver.h asks an RDAP server for the abuse
// contact of the host's address). The case engine asks it once per host,
// outside its lock, and keeps the answer (docs/cases.md, "Roles").
//
// Implementations must be thread-safe and may block (network).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace takedown {

// Authority role: one hosting provider of the provider table (or one a
// ProviderResolver found).
struct ProviderEntry {
  std::string name;  // e.g. "example-hosting"
  // Host names it serves; a URL's host matches an entry equal to it or a
  // subdomain of it ("example.net" matches "cdn.example.net").
  std::vector<std::string> hosts;
  std::string channel;        // the notice channel that reaches the provider
  std::string profile;        // legal profile of its cases; empty: CaseEngineOptions::detection_profile
  std::string contact_point;  // shown in notices
};

class ProviderResolver {
 public:
  virtual ~ProviderResolver() = default;
  // The provider serving `host` (lower-case name or IP literal), with the
  // channel that reaches it and its contact point. NotFound when no contact
  // is known; Unavailable for transient failures.
  virtual absl::StatusOr<ProviderEntry> Resolve(std::string_view host) = 0;
};

}  // namespace takedown
