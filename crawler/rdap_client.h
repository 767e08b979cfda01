// RdapClient: who is responsible for an IP address, asked of one configured
// RDAP server (RFC 9082 query "ip/<address>", RFC 9083 answer, parsed by
// crawler/rdap_response.h). The authority uses it only as a fallback, when
// its configured provider table names no hosting provider for a URL's host:
// the network's abuse contact is where the removal order goes.
//
// Lookup(ip) canonicalizes the address (IPv4 or IPv6, inet_pton/inet_ntop;
// anything else is InvalidArgument before any request), GETs
// base_url + "ip/" + ip with "Accept: application/rdap+json" through an
// HttpFetcher the client owns (its bounds: connect and total timeouts,
// max_body_bytes, max_redirects; redirects, as bootstrap servers send them,
// are followed and each hop is checked), and parses the 200 answer.
//
// Results and errors:
//   OK                an RdapNetwork (abuse_emails may be empty: the caller
//                     decides what a network without abuse contact means);
//   InvalidArgument   not an IP address; or the server's 200 body is not a
//                     valid ip network object within options.limits (the
//                     parser's message, prefixed with the URL);
//   NotFound          HTTP 404 or 410: "no RDAP record for <ip> ...";
//   Unavailable       HTTP 408, 429 and 5xx; DNS, connect and transfer
//                     failures; timeouts; a server too slow (retry later);
//   ResourceExhausted a body over max_body_bytes;
//   FailedPrecondition other statuses (an unfollowed 3xx, other 4xx), too many
//                     redirects or a loop, TLS failures, a private address
//                     without allow_private_addresses, a hop over plain http
//                     (see allow_insecure_http);
//   PermissionDenied  HTTP 401 or 403.
// Every message names the address and the URL(s) requested.
//
// Plain http: the answer decides where removal orders are sent, so it must
// not be forgeable on the path. Every hop (the base URL and each redirect)
// must be https, or http to a loopback host (127.0.0.0/8, ::1, "localhost"),
// unless allow_insecure_http is set. TLS peer and host verification are
// always on (ca_file replaces the system CAs).
//
// Cache: with cache_ttl > 0, successful answers and NotFound are kept per
// canonical address for cache_ttl on the injected clock, at most
// cache_max_entries (the entry expiring soonest is evicted first). Other
// errors are never cached. Concurrent lookups of an uncached address each
// ask the server.
//
// Thread-safe: Lookup may be called from any thread concurrently. The
// destructor cancels lookups in flight; it must not race with them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "crawler/http_fetcher.h"
#include "crawler/rdap_response.h"

namespace takedown {

struct RdapClientOptions {
  // The RDAP service's base URL, e.g. "https://rdap.db.ripe.net/" or
  // "http://127.0.0.1:8080/rdap/"; a missing trailing '/' is added. No
  // query, fragment or user info.
  std::string base_url;
  std::chrono::milliseconds connect_timeout{5'000};
  // The whole lookup, redirects included.
  std::chrono::milliseconds total_timeout{15'000};
  // Largest response body (1 KiB .. 64 MiB); also limits.max_body_bytes.
  uint64_t max_body_bytes = 1024 * 1024;
  // Redirects followed (0 .. 10).
  int max_redirects = 3;
  // Requests started per second per server host (each redirect hop
  // counts; registries rate-limit and answer 429); <= 0: unlimited.
  double max_requests_per_second = 5.0;
  // Allow hops over plain http to non-loopback hosts (see the file comment).
  bool allow_insecure_http = false;
  // Allow connections to loopback and private addresses (an RDAP server on
  // the operator's own network or on 127.0.0.1). Applies to every hop.
  bool allow_private_addresses = false;
  // PEM bundle of CAs to trust instead of the system's; empty: system CAs.
  std::string ca_file;
  std::string user_agent = "takedownd/0.1 (rdap)";
  // Bounds on the response; max_body_bytes is taken from above.
  RdapLimits limits;
  // 0 disables the cache.
  absl::Duration cache_ttl = absl::ZeroDuration();
  size_t cache_max_entries = 4096;
  // Time of the cache and of the fetch records. nullptr: SystemClock::Get().
  // Borrowed; must outlive the client.
  Clock* clock = nullptr;
};

class RdapClient {
 public:
  // InvalidArgument for a base URL that is not http(s), has a query,
  // fragment or user info, is plain http to a non-loopback host without
  // allow_insecure_http, or for out-of-range options; Internal when libcurl
  // cannot be set up.
  static absl::StatusOr<std::unique_ptr<RdapClient>> Create(RdapClientOptions options);
  ~RdapClient();
  RdapClient(const RdapClient&) = delete;
  RdapClient& operator=(const RdapClient&) = delete;

  // See the file comment. `ip` is an IPv4 or IPv6 address without port,
  // brackets or zone.
  absl::StatusOr<RdapNetwork> Lookup(std::string_view ip);

  // The URL Lookup(ip) requests (base_url + "ip/" + canonical ip), or
  // InvalidArgument when `ip` is not an address.
  absl::StatusOr<std::string> QueryUrl(std::string_view ip) const;

  // The normalized base URL, ending in '/'.
  const std::string& base_url() const { return base_url_; }

 private:
  struct CacheEntry {
    absl::StatusOr<RdapNetwork> result;
    absl::Time expires;
  };

  RdapClient(RdapClientOptions options, std::string base_url, std::unique_ptr<HttpFetcher> fetcher);

  absl::StatusOr<RdapNetwork> Fetch(const std::string& ip, const std::string& url);
  bool CachedLocked(const std::string& ip, absl::StatusOr<RdapNetwork>* result)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Remember(const std::string& ip, const absl::StatusOr<RdapNetwork>& result);

  // Constant after construction.
  const RdapClientOptions options_;
  const std::string base_url_;
  Clock& clock_;
  std::unique_ptr<HttpFetcher> fetcher_;

  absl::Mutex mu_;
  std::map<std::string, CacheEntry> cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace takedown
