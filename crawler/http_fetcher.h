// HttpFetcher: GET and HEAD of untrusted http(s) URLs with every bound the
// outside world needs, recording what happened for evidence.
//
// One libcurl multi handle, driven by one thread that the fetcher owns,
// carries every transfer. Requests wait in per-host queues ("host:port") and
// start only while the host has fewer than max_concurrent_per_host transfers
// running, the fetcher fewer than max_concurrent_total, and the host's token
// bucket (crawler/token_bucket.h, on the injected Clock) has a token.
//
// Bounds, per fetch: connect_timeout per connection; total_timeout for the
// whole fetch, redirects included (time spent queued for a host's limits is
// not counted); a transfer slower than low_speed_bytes_per_second for
// low_speed_time is cut off (kTooSlow), so a server that trickles bytes
// cannot hold a slot; a body over max_body_bytes aborts the transfer
// (kBodyTooLarge; announced lengths are refused before any byte is read);
// response headers over max_header_bytes abort it too.
//
// Redirects (301, 302, 303, 307, 308 with a Location) are followed by the
// fetcher itself, not by libcurl, so each hop is recorded (URL, status,
// resolved IP, time). At most max_redirects are followed (kTooManyRedirects);
// a Location naming a URL already visited in this fetch is kRedirectLoop.
// Every hop is checked like the first: only http and https
// (CURLOPT_PROTOCOLS_STR too), no user info. The method is kept across
// redirects (HEAD stays HEAD; GET stays GET).
//
// Nothing is sent anywhere but to the URL's host (and, by default, never to
// a private or loopback address, see allow_private_addresses): no proxy (environment
// proxies are ignored), no cookies, no credentials, no Accept-Encoding (bodies
// are recorded as served). TLS peer and host verification are on unless
// verify_tls is false; ca_file replaces the system CA bundle.
//
// The body: with keep_body it is held in memory (at most max_body_bytes per
// fetch; so at most max_body_bytes times the number of fetches in flight with
// keep_body); with a digester factory it is digested as it arrives, so a
// fetch can record digests without holding the body. Redirect bodies are
// read (within the same bounds) and discarded.
//
// Thread-safety: Fetch and FetchAsync may be called from any thread, except
// that Fetch must not be called from inside a FetchAsync callback (those run
// on the fetcher's thread, which Fetch would wait on). The destructor cancels
// what is still queued or running (kCancelled) and joins the thread; it must
// not run on that thread (so a callback must not own the last reference to
// its fetcher).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/digest_set.h"
#include "crawler/body_digester.h"

namespace takedown {

struct HttpFetcherOptions {
  // Per connection attempt.
  std::chrono::milliseconds connect_timeout{10'000};
  // Whole fetch, every hop and the body included.
  std::chrono::milliseconds total_timeout{60'000};
  // A transfer averaging fewer bytes per second than this over low_speed_time
  // is cut off. 0 disables the check.
  uint32_t low_speed_bytes_per_second = 1024;
  std::chrono::seconds low_speed_time{15};
  // Largest body accepted (1 KiB .. 4 GiB).
  uint64_t max_body_bytes = 32ull * 1024 * 1024;
  // Largest total size of one response's header lines (1 KiB .. 1 MiB).
  size_t max_header_bytes = 64 * 1024;
  // Redirects followed per fetch (0 .. 20); 0 returns the 3xx itself.
  int max_redirects = 5;
  // Transfers in flight to one host:port (1 .. 256) and in all (1 .. 4096).
  int max_concurrent_per_host = 4;
  int max_concurrent_total = 64;
  // Requests started per second per host:port (each redirect hop counts);
  // <= 0 means unlimited. Up to request_burst_per_host start at once.
  double max_requests_per_second_per_host = 10.0;
  double request_burst_per_host = 10.0;
  // Fetches queued or running before new ones are refused (kOverloaded).
  size_t max_pending = 100'000;
  // Connections to loopback, private (RFC 1918, fc00::/7), link-local
  // (169.254/16 incl. cloud metadata, fe80::/10), CGNAT, multicast and
  // unspecified addresses are refused (kAddressBlocked) unless this is set:
  // a reported URL, or a redirect, must not reach into the operator's own
  // network. Checked on the resolved address of every connection.
  bool allow_private_addresses = false;
  bool verify_tls = true;
  // PEM bundle of CAs to trust instead of the system's; empty: system CAs.
  std::string ca_file;
  std::string user_agent = "takedownd/0.1";
  // Time of records and of the rate limits. nullptr: SystemClock::Get().
  // Borrowed; must outlive the fetcher.
  Clock* clock = nullptr;
};

enum class HttpMethod { kGet, kHead };

struct HttpFetchRequest {
  std::string url;
  HttpMethod method = HttpMethod::kGet;
  // Hold the final response's body in HttpFetchResult::body.
  bool keep_body = true;
  // When set, the final response's body is digested as it arrives
  // (HttpFetchResult::digests).
  BodyDigesterFactory digester;
  // Lowers (never raises) the fetcher's max_body_bytes when non-zero.
  uint64_t max_body_bytes = 0;
  // Extra request headers (e.g. If-None-Match); no CR, LF or NUL allowed.
  std::vector<std::pair<std::string, std::string>> headers;
};

// Why a fetch produced no usable response. kNone: a response arrived; look
// at the status.
enum class FetchError {
  kNone,
  kInvalidUrl,         // unparsable, user info, bad redirect Location
  kSchemeNotAllowed,   // anything but http/https, on the first hop or a redirect
  kDnsFailure,         // host name did not resolve
  kConnectionRefused,  // ECONNREFUSED
  kConnectFailed,      // other connect failures (unreachable, reset)
  kAddressBlocked,     // resolved only to addresses allow_private_addresses refuses
  kTimeout,            // connect_timeout or total_timeout
  kTooSlow,            // under low_speed_bytes_per_second for low_speed_time
  kTls,                // handshake or certificate verification failed
  kBodyTooLarge,       // over max_body_bytes (body_bytes says how far it got)
  kHeadersTooLarge,    // over max_header_bytes
  kTooManyRedirects,   // more than max_redirects
  kRedirectLoop,       // a Location named a URL already visited
  kTransport,          // other transfer errors (reset mid-body, bad framing)
  kOverloaded,         // max_pending fetches already queued
  kCancelled,          // the fetcher was destroyed first
};

// "none", "invalid_url", "scheme_not_allowed", "dns_failure",
// "connection_refused", "connect_failed", "address_blocked", "timeout", "too_slow", "tls",
// "body_too_large", "headers_too_large", "too_many_redirects",
// "redirect_loop", "transport", "overloaded", "cancelled".
std::string_view FetchErrorName(FetchError error);

// One request of a fetch: the first, or one per redirect followed.
struct HttpHop {
  std::string url;  // as requested (normalized)
  long status = 0;  // 0 when no response arrived
  std::string ip;   // the peer's address (CURLINFO_PRIMARY_IP); empty when no connection
  long port = 0;
  std::string location;  // the raw Location header of a redirect
  absl::Time start;      // on the fetcher's clock
  absl::Duration duration;
};

// Everything recorded about one fetch. Times are on the fetcher's clock.
struct HttpFetchResult {
  HttpMethod method = HttpMethod::kGet;
  std::string requested_url;  // as given to the fetcher
  std::string final_url;      // the last hop's URL
  std::vector<HttpHop> hops;  // in order; empty when refused before any request
  FetchError error = FetchError::kNone;
  std::string error_message;  // libcurl's or the fetcher's text; empty for kNone

  // Of the last hop's response (also when error != kNone, if one arrived).
  long status = 0;
  std::string ip;
  std::string content_type;
  std::string server;
  std::string etag;
  std::string last_modified;
  std::optional<uint64_t> content_length;
  // The last response's headers, names lower-cased, in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;

  absl::Time start;  // when the first hop started
  absl::Duration duration;
  // Body bytes received from the last hop (up to where a transfer stopped).
  uint64_t body_bytes = 0;
  // With keep_body and error == kNone: the final body. Otherwise empty or
  // partial.
  std::string body;
  // With a digester, error == kNone and a final response: its body's digests.
  std::optional<DigestSet> digests;

  // No transfer error and a 2xx status.
  bool ok() const { return error == FetchError::kNone && status >= 200 && status <= 299; }

  // OK when ok(); otherwise the status a source returns:
  //   404, 410 NotFound; 401, 403 PermissionDenied; 451 FailedPrecondition
  //   ("unavailable for legal reasons"); 408, 429, 5xx Unavailable; other
  //   statuses (unfollowed 3xx, other 4xx) FailedPrecondition;
  //   DNS, connect, timeout, too slow, transport, overloaded Unavailable;
  //   invalid URL and scheme InvalidArgument; TLS, blocked address, redirect
  //   limit and loop FailedPrecondition; body or headers too large ResourceExhausted;
  //   cancelled Cancelled.
  // The message names the method, URL, final URL, status or error.
  absl::Status ToStatus() const;

  // One line for logs and messages: "GET <url> -> 302 <url2> -> 200 from
  // <ip> (1234 bytes, text/html) in 12 ms" or "... failed: timeout: ...".
  std::string Describe() const;
};

class HttpFetcher {
 public:
  using Callback = std::function<void(HttpFetchResult)>;

  // InvalidArgument for out-of-range options or an unreadable ca_file;
  // Internal when libcurl cannot be set up.
  static absl::StatusOr<std::unique_ptr<HttpFetcher>> Create(HttpFetcherOptions options);
  ~HttpFetcher();
  HttpFetcher(const HttpFetcher&) = delete;
  HttpFetcher& operator=(const HttpFetcher&) = delete;

  // Fetches and waits for the result. Failures are in the result (error,
  // status), never thrown or returned separately.
  HttpFetchResult Fetch(HttpFetchRequest request);

  // Queues the fetch; `done` receives the result exactly once, on the
  // fetcher's thread (keep it short; it may call FetchAsync but not Fetch),
  // or on the calling thread when the request is refused before being queued
  // (kOverloaded, kCancelled).
  void FetchAsync(HttpFetchRequest request, Callback done);

  const HttpFetcherOptions& options() const { return options_; }

 private:
  class Loop;

  explicit HttpFetcher(HttpFetcherOptions options);

  // Constant after construction.
  const HttpFetcherOptions options_;
  std::unique_ptr<Loop> loop_;
};

}  // namespace takedown
