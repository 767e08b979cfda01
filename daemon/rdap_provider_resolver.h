// RdapProviderResolver: the ProviderResolver of the authority role that asks
// an RDAP server (crawler/rdap_client.h, docs/rdap.md) for the network behind
// a reported URL's host. The host's address (an IP literal, or the first
// address the system resolver gives for a name) is looked up; the nearest
// entity with the "abuse" role gives the contact point, the registrant (or
// the network handle) the provider's name, shown as "rdap:<name>". Notices
// for such providers go to one configured channel, whose receiver forwards
// them to the contact point (the notice payload carries it as
// provider_contact_point).
//
// Thread-safe (the client is).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "crawler/rdap_client.h"
#include "daemon/provider_resolver.h"

namespace takedown {

struct RdapProviderResolverOptions {
  std::string channel;  // REQUIRED: notice channel for the providers it finds
  std::string profile;  // legal profile of their cases; empty: the default
};

class RdapProviderResolver final : public ProviderResolver {
 public:
  RdapProviderResolver(std::unique_ptr<RdapClient> client, RdapProviderResolverOptions options);

  // NotFound when the host has no address, the RDAP server has no record, or
  // the record names no abuse contact; the client's errors otherwise.
  absl::StatusOr<ProviderEntry> Resolve(std::string_view host) override;

 private:
  const std::unique_ptr<RdapClient> client_;
  const RdapProviderResolverOptions options_;
};

}  // namespace takedown
