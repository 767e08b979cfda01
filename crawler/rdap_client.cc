#include "crawler/rdap_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include "common/status_macros.h"
#include "crawler/http_url.h"
#include "fmt/format.h"

namespace takedown {
namespace {

constexpr uint64_t kMinBodyBytes = 1024;
constexpr uint64_t kMaxBodyBytes = 64ull * 1024 * 1024;
constexpr int kMaxRedirects = 10;

// 127.0.0.0/8, ::1 (with or without brackets) and "localhost".
bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost") return true;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string h(host);
  in_addr v4;
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  return inet_pton(AF_INET6, h.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

absl::StatusOr<std::string> CanonicalIp(std::string_view ip) {
  const std::string text(ip);
  char buffer[INET6_ADDRSTRLEN];
  in_addr v4;
  if (text.size() <= INET_ADDRSTRLEN && inet_pton(AF_INET, text.c_str(), &v4) == 1 &&
      inet_ntop(AF_INET, &v4, buffer, sizeof(buffer)) != nullptr) {
    return std::string(buffer);
  }
  in6_addr v6;
  if (text.size() <= INET6_ADDRSTRLEN && inet_pton(AF_INET6, text.c_str(), &v6) == 1 &&
      inet_ntop(AF_INET6, &v6, buffer, sizeof(buffer)) != nullptr) {
    return std::string(buffer);
  }
  return absl::InvalidArgumentError(fmt::format(
      "RDAP lookup: '{}' is not an IPv4 or IPv6 address (no port, brackets or zone)", PrintableUrl(ip, 64)));
}

absl::Status CheckOptions(const RdapClientOptions& o) {
  if (o.max_body_bytes < kMinBodyBytes || o.max_body_bytes > kMaxBodyBytes) {
    return absl::InvalidArgumentError(fmt::format("RDAP client: max_body_bytes {} is outside {} .. {}",
                                                  o.max_body_bytes, kMinBodyBytes, kMaxBodyBytes));
  }
  if (o.max_redirects < 0 || o.max_redirects > kMaxRedirects) {
    return absl::InvalidArgumentError(
        fmt::format("RDAP client: max_redirects {} is outside 0 .. {}", o.max_redirects, kMaxRedirects));
  }
  if (o.connect_timeout.count() <= 0 || o.total_timeout.count() <= 0) {
    return absl::InvalidArgumentError("RDAP client: connect_timeout and total_timeout must be positive");
  }
  if (o.cache_ttl < absl::ZeroDuration() ||
      (o.cache_ttl > absl::ZeroDuration() && o.cache_max_entries == 0)) {
    return absl::InvalidArgumentError(
        "RDAP client: cache_ttl must be >= 0, and cache_max_entries >= 1 with a cache");
  }
  const RdapLimits& l = o.limits;
  if (l.max_json_depth < 2 || l.max_entity_depth < 1 || l.max_entities == 0 || l.max_items_per_entity == 0 ||
      l.max_string_bytes == 0) {
    return absl::InvalidArgumentError(
        "RDAP client: limits need max_json_depth >= 2, max_entity_depth >= 1 and the other bounds >= 1");
  }
  return absl::OkStatus();
}

// "https://rdap.example/" style, or InvalidArgument.
absl::StatusOr<std::string> NormalizeBaseUrl(const RdapClientOptions& o) {
  const std::string given = PrintableUrl(o.base_url, 200);
  if (o.base_url.find_first_of("?#") != std::string::npos) {
    return absl::InvalidArgumentError(
        fmt::format("RDAP client: base_url '{}' must not have a query or fragment", given));
  }
  auto parsed = ParseHttpUrl(o.base_url);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("RDAP client: base_url '{}': {}", given, std::string(parsed.status().message())));
  }
  if (parsed->scheme == "http" && !o.allow_insecure_http && !IsLoopbackHost(parsed->host)) {
    return absl::InvalidArgumentError(
        fmt::format("RDAP client: base_url '{}' is plain http to a host other than loopback; use https "
                    "(or set allow_insecure_http, and accept that answers can be forged on the way)",
                    given));
  }
  std::string url = parsed->url;
  if (url.back() != '/') url += '/';
  return url;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RdapClient>> RdapClient::Create(RdapClientOptions options) {
  RETURN_IF_ERROR(CheckOptions(options));
  ASSIGN_OR_RETURN(std::string base_url, NormalizeBaseUrl(options));
  options.limits.max_body_bytes = static_cast<size_t>(options.max_body_bytes);

  HttpFetcherOptions fetch;
  fetch.connect_timeout = options.connect_timeout;
  fetch.total_timeout = options.total_timeout;
  fetch.max_body_bytes = options.max_body_bytes;
  fetch.max_redirects = options.max_redirects;
  fetch.max_requests_per_second_per_host = options.max_requests_per_second;
  fetch.request_burst_per_host = std::max(1.0, options.max_requests_per_second);
  fetch.allow_private_addresses = options.allow_private_addresses;
  fetch.verify_tls = true;
  fetch.ca_file = options.ca_file;
  fetch.user_agent = options.user_agent;
  fetch.clock = options.clock;
  auto fetcher = HttpFetcher::Create(std::move(fetch));
  if (!fetcher.ok()) {
    return absl::Status(fetcher.status().code(),
                        fmt::format("RDAP client: {}", std::string(fetcher.status().message())));
  }
  return std::unique_ptr<RdapClient>(
      new RdapClient(std::move(options), std::move(base_url), std::move(*fetcher)));
}

RdapClient::RdapClient(RdapClientOptions options, std::string base_url, std::unique_ptr<HttpFetcher> fetcher)
    : options_(std::move(options)),
      base_url_(std::move(base_url)),
      clock_(options_.clock != nullptr ? *options_.clock : SystemClock::Get()),
      fetcher_(std::move(fetcher)) {}

RdapClient::~RdapClient() = default;

absl::StatusOr<std::string> RdapClient::QueryUrl(std::string_view ip) const {
  ASSIGN_OR_RETURN(std::string canonical, CanonicalIp(ip));
  return base_url_ + "ip/" + canonical;
}

absl::StatusOr<RdapNetwork> RdapClient::Lookup(std::string_view ip) {
  ASSIGN_OR_RETURN(std::string canonical, CanonicalIp(ip));
  const bool caching = options_.cache_ttl > absl::ZeroDuration();
  if (caching) {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<RdapNetwork> cached;
    if (CachedLocked(canonical, &cached)) return cached;
  }
  absl::StatusOr<RdapNetwork> result = Fetch(canonical, base_url_ + "ip/" + canonical);
  if (caching && (result.ok() || absl::IsNotFound(result.status()))) Remember(canonical, result);
  return result;
}

absl::StatusOr<RdapNetwork> RdapClient::Fetch(const std::string& ip, const std::string& url) {
  HttpFetchRequest request;
  request.url = url;
  request.method = HttpMethod::kGet;
  request.keep_body = true;
  request.headers.emplace_back("Accept", "application/rdap+json");
  const HttpFetchResult fetched = fetcher_->Fetch(std::move(request));

  // A redirect may lead to plain http; such an answer is not trusted.
  if (!options_.allow_insecure_http) {
    for (size_t i = 0; i < fetched.hops.size(); ++i) {
      auto hop = ParseHttpUrl(fetched.hops[i].url);
      if (hop.ok() && hop->scheme == "http" && !IsLoopbackHost(hop->host)) {
        return absl::FailedPreconditionError(fmt::format(
            "RDAP lookup of {}: {}: hop {} is plain http to a host other than loopback; the answer "
            "is not trusted (set allow_insecure_http to accept it)",
            ip, fetched.Describe(), i + 1));
      }
    }
  }
  if (!fetched.ok()) {
    const absl::Status status = fetched.ToStatus();
    const std::string message(status.message());
    if (absl::IsNotFound(status)) {
      return absl::NotFoundError(fmt::format("no RDAP record for {} ({})", ip, message));
    }
    return absl::Status(status.code(), fmt::format("RDAP lookup of {}: {}", ip, message));
  }
  absl::StatusOr<RdapNetwork> network = ParseRdapIpResponse(fetched.body, options_.limits);
  if (!network.ok()) {
    return absl::Status(network.status().code(),
                        fmt::format("RDAP lookup of {}: {}: {}", ip, fetched.Describe(),
                                    std::string(network.status().message())));
  }
  return network;
}

bool RdapClient::CachedLocked(const std::string& ip, absl::StatusOr<RdapNetwork>* result) {
  auto it = cache_.find(ip);
  if (it == cache_.end()) return false;
  if (clock_.Now() >= it->second.expires) {
    cache_.erase(it);
    return false;
  }
  *result = it->second.result;
  return true;
}

void RdapClient::Remember(const std::string& ip, const absl::StatusOr<RdapNetwork>& result) {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  if (cache_.size() >= options_.cache_max_entries && cache_.find(ip) == cache_.end()) {
    for (auto it = cache_.begin(); it != cache_.end();) {
      it = now >= it->second.expires ? cache_.erase(it) : std::next(it);
    }
    if (cache_.size() >= options_.cache_max_entries) {
      auto soonest = cache_.begin();
      for (auto it = cache_.begin(); it != cache_.end(); ++it) {
        if (it->second.expires < soonest->second.expires) soonest = it;
      }
      cache_.erase(soonest);
    }
  }
  cache_[ip] = CacheEntry{result, now + options_.cache_ttl};
}

}  // namespace takedown
