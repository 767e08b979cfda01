#include "daemon/rdap_provider_resolver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <utility>

#include "common/status_macros.h"
#include "fmt/format.h"

namespace takedown {
namespace {

absl::StatusOr<std::string> AddressOf(std::string_view host) {
  std::string name(host);
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
  unsigned char buffer[sizeof(struct in6_addr)];
  if (inet_pton(AF_INET, name.c_str(), buffer) == 1 || inet_pton(AF_INET6, name.c_str(), buffer) == 1) {
    return name;
  }
  struct addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* results = nullptr;
  const int rc = getaddrinfo(name.c_str(), nullptr, &hints, &results);
  if (rc != 0 || results == nullptr) {
    return absl::NotFoundError(fmt::format("'{}' has no address ({})", name, gai_strerror(rc)));
  }
  char text[INET6_ADDRSTRLEN] = {};
  const void* address =
      results->ai_family == AF_INET
          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(results->ai_addr)->sin_addr)
          : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(results->ai_addr)->sin6_addr);
  const bool ok = inet_ntop(results->ai_family, address, text, sizeof(text)) != nullptr;
  freeaddrinfo(results);
  if (!ok) return absl::InternalError(fmt::format("cannot format the address of '{}'", name));
  return std::string(text);
}

}  // namespace

RdapProviderResolver::RdapProviderResolver(std::unique_ptr<RdapClient> client,
                                           RdapProviderResolverOptions options)
    : client_(std::move(client)), options_(std::move(options)) {}

absl::StatusOr<ProviderEntry> RdapProviderResolver::Resolve(std::string_view host) {
  ASSIGN_OR_RETURN(std::string address, AddressOf(host));
  ASSIGN_OR_RETURN(RdapNetwork network, client_->Lookup(address));
  if (network.abuse_emails.empty()) {
    return absl::NotFoundError(fmt::format("the RDAP record of {} ({} {}) names no abuse contact", address,
                                           network.handle, network.name));
  }
  ProviderEntry entry;
  const std::string& who = !network.registrant.empty() ? network.registrant
                           : !network.name.empty()     ? network.name
                                                       : network.handle;
  entry.name = "rdap:" + (who.empty() ? address : who);
  entry.hosts = {std::string(host)};
  entry.channel = options_.channel;
  entry.profile = options_.profile;
  entry.contact_point = network.abuse_emails.front();
  return entry;
}

}  // namespace takedown
