#include "crawler/http_fetcher.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "crawler/http_url.h"
#include "crawler/token_bucket.h"
#include "fmt/format.h"

namespace takedown {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Longest the loop sleeps in curl_multi_poll without a reason to wake (new
// requests wake it at once through curl_multi_wakeup).
constexpr int kMaxPollMs = 100;
// How often idle per-host state is dropped.
constexpr std::chrono::seconds kHostSweepInterval{1};
constexpr size_t kMaxErrorText = 300;

std::once_flag g_curl_init;

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsRedirectStatus(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

const std::string* FindHeader(const std::vector<std::pair<std::string, std::string>>& headers,
                              std::string_view lowercase_name) {
  const std::string* found = nullptr;
  for (const auto& [name, value] : headers) {
    if (name == lowercase_name) found = &value;  // the last one wins
  }
  return found;
}

std::string HeaderOrEmpty(const std::vector<std::pair<std::string, std::string>>& headers,
                          std::string_view lowercase_name) {
  const std::string* value = FindHeader(headers, lowercase_name);
  return value != nullptr ? *value : std::string();
}

const char* MethodName(HttpMethod method) { return method == HttpMethod::kHead ? "HEAD" : "GET"; }

HttpFetchResult Refused(const HttpFetchRequest& request, FetchError error, std::string message) {
  HttpFetchResult result;
  result.method = request.method;
  result.requested_url = request.url;
  result.final_url = request.url;
  result.error = error;
  result.error_message = std::move(message);
  return result;
}

struct CurlEasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};

// One fetch, across its hops. Owned by the loop thread.
struct Transfer {
  HttpFetchRequest request;
  HttpFetcher::Callback done;
  HttpFetchResult result;
  HttpUrl url;  // the current hop's
  std::set<std::string> visited;
  std::unique_ptr<BodyDigester> digester;
  uint64_t body_limit = 0;
  size_t header_limit = 0;
  bool follow_redirects = true;
  bool allow_private_addresses = false;
  bool started = false;
  SteadyClock::time_point started_at;
  SteadyClock::time_point deadline;

  // The current hop.
  enum class BodyMode { kUndecided, kKeep, kDiscard };
  std::unique_ptr<CURL, CurlEasyDeleter> easy;
  struct curl_slist* header_list = nullptr;
  std::string host_key;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  std::vector<std::pair<std::string, std::string>> hop_headers;
  size_t header_bytes = 0;
  bool headers_too_large = false;
  bool body_too_large = false;
  std::string blocked_address;  // the last address refused, if any
  BodyMode body_mode = BodyMode::kUndecided;
  uint64_t hop_body_bytes = 0;
  absl::Time hop_start;
  SteadyClock::time_point hop_started_at;

  void ResetHop() {
    error_buffer[0] = '\0';
    hop_headers.clear();
    header_bytes = 0;
    headers_too_large = false;
    body_too_large = false;
    blocked_address.clear();
    body_mode = BodyMode::kUndecided;
    hop_body_bytes = 0;
  }
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->body_mode == Transfer::BodyMode::kUndecided) {
    // Headers are complete by the first body byte: a redirect's body is
    // thrown away (but still bounded).
    long status = 0;
    curl_easy_getinfo(t->easy.get(), CURLINFO_RESPONSE_CODE, &status);
    t->body_mode =
        t->follow_redirects && IsRedirectStatus(status) && FindHeader(t->hop_headers, "location") != nullptr
            ? Transfer::BodyMode::kDiscard
            : Transfer::BodyMode::kKeep;
  }
  if (n > t->body_limit - std::min(t->body_limit, t->hop_body_bytes)) {
    t->body_too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  t->hop_body_bytes += n;
  if (t->body_mode == Transfer::BodyMode::kDiscard) return n;
  if (t->request.keep_body) t->result.body.append(data, n);
  if (t->digester != nullptr) {
    t->digester->Update(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data), n));
  }
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  t->header_bytes += n;
  if (t->header_bytes > t->header_limit) {
    t->headers_too_large = true;
    return 0;
  }
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    t->hop_headers.clear();  // a new (interim or final) response begins
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return n;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() &&
         (value.back() == '\r' || value.back() == '\n' || value.back() == ' ' || value.back() == '\t')) {
    value.remove_suffix(1);
  }
  t->hop_headers.emplace_back(ToLower(line.substr(0, colon)), std::string(value));
  return n;
}

bool IsBlockedIpv4(uint32_t a) {  // host byte order
  auto in = [a](uint32_t net, int bits) { return (a >> (32 - bits)) == (net >> (32 - bits)); };
  return in(0x00000000, 8) ||   // 0/8 "this network"
         in(0x0A000000, 8) ||   // 10/8
         in(0x64400000, 10) ||  // 100.64/10 CGNAT
         in(0x7F000000, 8) ||   // 127/8 loopback
         in(0xA9FE0000, 16) ||  // 169.254/16 link-local, cloud metadata
         in(0xAC100000, 12) ||  // 172.16/12
         in(0xC0000000, 24) ||  // 192.0.0/24 protocol assignments
         in(0xC0A80000, 16) ||  // 192.168/16
         in(0xC6120000, 15) ||  // 198.18/15 benchmarking
         in(0xE0000000, 4) ||   // 224/4 multicast
         in(0xF0000000, 4);     // 240/4 reserved, broadcast
}

// True (and `text` set) when `address` is one allow_private_addresses guards.
bool IsBlockedAddress(const struct sockaddr* address, std::string* text) {
  char buffer[INET6_ADDRSTRLEN] = {0};
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    inet_ntop(AF_INET, &v4->sin_addr, buffer, sizeof(buffer));
    *text = buffer;
    return IsBlockedIpv4(ntohl(v4->sin_addr.s_addr));
  }
  if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    const uint8_t* b = v6->sin6_addr.s6_addr;
    inet_ntop(AF_INET6, &v6->sin6_addr, buffer, sizeof(buffer));
    *text = buffer;
    static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(b, kMappedPrefix, 12) == 0) {
      return IsBlockedIpv4((uint32_t{b[12]} << 24) | (uint32_t{b[13]} << 16) | (uint32_t{b[14]} << 8) |
                           b[15]);
    }
    static constexpr uint8_t kZero[15] = {0};
    if (std::memcmp(b, kZero, 15) == 0 && (b[15] == 0 || b[15] == 1)) return true;  // :: and ::1
    if ((b[0] & 0xfe) == 0xfc) return true;                                         // fc00::/7 unique local
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true;                         // fe80::/10 link-local
    if (b[0] == 0xff) return true;                                                  // ff00::/8 multicast
    return false;
  }
  *text = "non-IP address";
  return true;
}

curl_socket_t OnOpenSocket(void* user, curlsocktype purpose, struct curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(user);
  if (purpose == CURLSOCKTYPE_IPCXN && !t->allow_private_addresses) {
    std::string text;
    if (IsBlockedAddress(&address->addr, &text)) {
      t->blocked_address = std::move(text);
      return CURL_SOCKET_BAD;
    }
  }
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

FetchError MapCurlCode(CURLcode code, const Transfer& t, long os_errno) {
  if (t.body_too_large || code == CURLE_FILESIZE_EXCEEDED) return FetchError::kBodyTooLarge;
  if (t.headers_too_large) return FetchError::kHeadersTooLarge;
  switch (code) {
    case CURLE_URL_MALFORMAT:
      return FetchError::kInvalidUrl;
    case CURLE_COULDNT_RESOLVE_HOST:
      return FetchError::kDnsFailure;
    case CURLE_COULDNT_CONNECT:
      if (!t.blocked_address.empty()) return FetchError::kAddressBlocked;
      return os_errno == ECONNREFUSED ? FetchError::kConnectionRefused : FetchError::kConnectFailed;
    case CURLE_OPERATION_TIMEDOUT:
      // The low-speed limit reports as a timeout too; only its text differs.
      return std::strstr(t.error_buffer, "too slow") != nullptr ? FetchError::kTooSlow : FetchError::kTimeout;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return FetchError::kTls;
    default:
      return FetchError::kTransport;
  }
}

std::string Truncate(std::string_view text, size_t limit) {
  if (text.size() <= limit) return std::string(text);
  return std::string(text.substr(0, limit)) + "...";
}

}  // namespace

std::string_view FetchErrorName(FetchError error) {
  switch (error) {
    case FetchError::kNone:
      return "none";
    case FetchError::kInvalidUrl:
      return "invalid_url";
    case FetchError::kSchemeNotAllowed:
      return "scheme_not_allowed";
    case FetchError::kDnsFailure:
      return "dns_failure";
    case FetchError::kConnectionRefused:
      return "connection_refused";
    case FetchError::kConnectFailed:
      return "connect_failed";
    case FetchError::kAddressBlocked:
      return "address_blocked";
    case FetchError::kTimeout:
      return "timeout";
    case FetchError::kTooSlow:
      return "too_slow";
    case FetchError::kTls:
      return "tls";
    case FetchError::kBodyTooLarge:
      return "body_too_large";
    case FetchError::kHeadersTooLarge:
      return "headers_too_large";
    case FetchError::kTooManyRedirects:
      return "too_many_redirects";
    case FetchError::kRedirectLoop:
      return "redirect_loop";
    case FetchError::kTransport:
      return "transport";
    case FetchError::kOverloaded:
      return "overloaded";
    case FetchError::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

std::string HttpFetchResult::Describe() const {
  std::string out = fmt::format("{} ", MethodName(method));
  if (hops.empty()) out += PrintableUrl(requested_url);
  for (size_t i = 0; i < hops.size(); ++i) {
    if (i > 0) out += " -> ";
    out += PrintableUrl(hops[i].url);
    if (hops[i].status != 0) out += fmt::format(" {}", hops[i].status);
  }
  if (!ip.empty()) out += fmt::format(" from {}", ip);
  if (error == FetchError::kNone) {
    out += fmt::format(" ({} bytes", body_bytes);
    if (!content_type.empty()) out += ", " + PrintableUrl(content_type, 100);
    if (!server.empty()) out += ", server " + PrintableUrl(server, 100);
    out += ")";
  } else {
    out += fmt::format(" failed: {}", FetchErrorName(error));
    if (!error_message.empty()) out += ": " + Truncate(error_message, kMaxErrorText);
  }
  out += fmt::format(" in {} ms", absl::ToInt64Milliseconds(duration));
  return out;
}

absl::Status HttpFetchResult::ToStatus() const {
  if (ok()) return absl::OkStatus();
  std::string where = fmt::format("{} {}", MethodName(method), PrintableUrl(requested_url));
  if (!final_url.empty() && final_url != requested_url && hops.size() > 1) {
    where += fmt::format(" (redirected {} times to {})", hops.size() - 1, PrintableUrl(final_url));
  }
  if (error != FetchError::kNone) {
    std::string message = fmt::format("{}: {}", where, FetchErrorName(error));
    if (!error_message.empty()) message += ": " + Truncate(error_message, kMaxErrorText);
    switch (error) {
      case FetchError::kInvalidUrl:
      case FetchError::kSchemeNotAllowed:
        return absl::InvalidArgumentError(message);
      case FetchError::kTls:
        return absl::FailedPreconditionError(message + " (check the server's certificate, or set ca_file)");
      case FetchError::kAddressBlocked:
        return absl::FailedPreconditionError(message +
                                             " (set allow_private_addresses to fetch from private networks)");
      case FetchError::kTooManyRedirects:
      case FetchError::kRedirectLoop:
        return absl::FailedPreconditionError(message);
      case FetchError::kBodyTooLarge:
      case FetchError::kHeadersTooLarge:
        return absl::ResourceExhaustedError(message);
      case FetchError::kCancelled:
        return absl::CancelledError(message);
      default:
        return absl::UnavailableError(message);
    }
  }
  std::string message = fmt::format("{}: HTTP {}", where, status);
  if (status == 404 || status == 410) return absl::NotFoundError(message);
  if (status == 401 || status == 403) return absl::PermissionDeniedError(message);
  if (status == 451) return absl::FailedPreconditionError(message + " (unavailable for legal reasons)");
  if (status == 408 || status == 429 || (status >= 500 && status <= 599))
    return absl::UnavailableError(message);
  return absl::FailedPreconditionError(message);
}

// The multi handle, its thread and every transfer. All members below
// "Loop thread only" are touched by the loop thread alone.
class HttpFetcher::Loop {
 public:
  Loop(const HttpFetcherOptions& options, Clock& clock) : options_(options), clock_(clock) {}

  ~Loop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    if (multi_ != nullptr) curl_multi_wakeup(multi_);
    if (thread_.joinable()) thread_.join();
    if (multi_ != nullptr) curl_multi_cleanup(multi_);
  }

  absl::Status Start() {
    multi_ = curl_multi_init();
    if (multi_ == nullptr) return absl::InternalError("curl_multi_init failed");
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS,
                      static_cast<long>(options_.max_concurrent_per_host));
    curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      static_cast<long>(options_.max_concurrent_total));
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(options_.max_concurrent_total));
    thread_ = std::thread([this] { Run(); });
    return absl::OkStatus();
  }

  void Submit(HttpFetchRequest request, Callback done) {
    auto transfer = std::make_unique<Transfer>();
    {
      std::unique_lock lock(mu_);
      if (stop_) {
        lock.unlock();
        done(Refused(request, FetchError::kCancelled, "the fetcher is shutting down"));
        return;
      }
      if (pending_ >= options_.max_pending) {
        lock.unlock();
        done(Refused(request, FetchError::kOverloaded,
                     fmt::format("{} fetches already pending (max_pending)", options_.max_pending)));
        return;
      }
      ++pending_;
      transfer->request = std::move(request);
      transfer->done = std::move(done);
      incoming_.push_back(std::move(transfer));
    }
    curl_multi_wakeup(multi_);
  }

 private:
  struct HostState {
    explicit HostState(TokenBucket b) : bucket(b) {}
    int active = 0;
    TokenBucket bucket;
    std::deque<Transfer*> waiting;
  };

  void Run() {
    SteadyClock::time_point next_sweep = SteadyClock::now() + kHostSweepInterval;
    while (true) {
      std::vector<std::unique_ptr<Transfer>> incoming;
      {
        std::lock_guard lock(mu_);
        if (stop_) break;
        incoming.swap(incoming_);
      }
      for (std::unique_ptr<Transfer>& t : incoming) Admit(std::move(t));
      StartReady();
      int running = 0;
      curl_multi_perform(multi_, &running);
      DrainCompleted();
      StartReady();
      curl_multi_poll(multi_, nullptr, 0, NextWaitMs(), nullptr);
      if (SteadyClock::now() >= next_sweep) {
        SweepIdleHosts();
        next_sweep = SteadyClock::now() + kHostSweepInterval;
      }
    }
    CancelAll();
  }

  void Admit(std::unique_ptr<Transfer> owned) {
    Transfer* t = owned.get();
    transfers_.emplace(t, std::move(owned));
    t->result.method = t->request.method;
    t->result.requested_url = t->request.url;
    t->result.final_url = t->request.url;
    t->body_limit = options_.max_body_bytes;
    if (t->request.max_body_bytes != 0) t->body_limit = std::min(t->body_limit, t->request.max_body_bytes);
    t->header_limit = options_.max_header_bytes;
    t->follow_redirects = options_.max_redirects > 0;
    t->allow_private_addresses = options_.allow_private_addresses;
    for (const auto& [name, value] : t->request.headers) {
      if (name.empty() || name.find_first_of(":\r\n", 0) != std::string::npos ||
          name.find('\0') != std::string::npos || value.find_first_of("\r\n") != std::string::npos ||
          value.find('\0') != std::string::npos) {
        Fail(t, FetchError::kInvalidUrl,
             fmt::format("request header '{}' is empty or contains a colon, line break or NUL",
                         PrintableUrl(name, 64)));
        return;
      }
    }
    absl::StatusOr<HttpUrl> url = ParseHttpUrl(t->request.url);
    if (!url.ok()) {
      const std::string scheme = UrlScheme(t->request.url);
      Fail(t,
           !scheme.empty() && !IsAllowedScheme(scheme) ? FetchError::kSchemeNotAllowed
                                                       : FetchError::kInvalidUrl,
           std::string(url.status().message()));
      return;
    }
    t->url = *std::move(url);
    t->visited.insert(t->url.url);
    if (t->request.digester) {
      t->digester = t->request.digester();
      if (t->digester == nullptr) {
        Fail(t, FetchError::kTransport, "the digester factory returned no digester");
        return;
      }
    }
    Enqueue(t);
  }

  void Enqueue(Transfer* t) {
    const std::string key = t->url.HostKey();
    auto it = hosts_.find(key);
    if (it == hosts_.end()) {
      it = hosts_
               .emplace(key, HostState(TokenBucket(options_.max_requests_per_second_per_host,
                                                   options_.request_burst_per_host, clock_.Now())))
               .first;
    }
    it->second.waiting.push_back(t);
    waiting_hosts_.insert(key);
  }

  void StartReady() {
    if (waiting_hosts_.empty()) return;
    const absl::Time now = clock_.Now();
    // Start after the host served last, so one busy host cannot starve the
    // others of the global limit.
    auto it = waiting_hosts_.upper_bound(last_served_host_);
    for (size_t visited = 0, n = waiting_hosts_.size(); visited < n; ++visited) {
      if (active_total_ >= options_.max_concurrent_total) return;
      if (it == waiting_hosts_.end()) it = waiting_hosts_.begin();
      const std::string key = *it;
      HostState& host = hosts_.at(key);
      while (!host.waiting.empty() && host.active < options_.max_concurrent_per_host &&
             active_total_ < options_.max_concurrent_total && host.bucket.TryTake(now)) {
        Transfer* t = host.waiting.front();
        host.waiting.pop_front();
        last_served_host_ = key;
        StartHop(t, key, host);
      }
      it = host.waiting.empty() ? waiting_hosts_.erase(it) : std::next(it);
    }
  }

  int NextWaitMs() const {
    if (waiting_hosts_.empty() || active_total_ >= options_.max_concurrent_total) return kMaxPollMs;
    const absl::Time now = clock_.Now();
    absl::Duration wait = absl::Milliseconds(kMaxPollMs);
    for (const std::string& key : waiting_hosts_) {
      const HostState& host = hosts_.at(key);
      if (host.active >= options_.max_concurrent_per_host) continue;  // a completion wakes the poll
      wait = std::min(wait, host.bucket.TimeUntilAvailable(now));
    }
    return static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(wait) + 1, 1, kMaxPollMs));
  }

  void SweepIdleHosts() {
    const absl::Time now = clock_.Now();
    for (auto it = hosts_.begin(); it != hosts_.end();) {
      const HostState& host = it->second;
      if (host.active == 0 && host.waiting.empty() && host.bucket.Full(now)) {
        it = hosts_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void StartHop(Transfer* t, const std::string& key, HostState& host) {
    const SteadyClock::time_point now = SteadyClock::now();
    if (!t->started) {
      t->started = true;
      t->started_at = now;
      t->deadline = now + options_.total_timeout;
      t->result.start = clock_.Now();
    }
    const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(t->deadline - now);
    if (remaining.count() <= 0) {
      Fail(t, FetchError::kTimeout,
           fmt::format("total_timeout of {} ms used up after {} hops", options_.total_timeout.count(),
                       t->result.hops.size()));
      return;
    }
    t->ResetHop();
    t->easy.reset(curl_easy_init());
    if (t->easy == nullptr) {
      Fail(t, FetchError::kTransport, "curl_easy_init failed");
      return;
    }
    CURL* easy = t->easy.get();
    for (const auto& [name, value] : t->request.headers) {
      t->header_list = curl_slist_append(t->header_list, (name + ": " + value).c_str());
    }
    curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(easy, CURLOPT_URL, t->url.url.c_str());
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error_buffer);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_PROXY, "");
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min(remaining, options_.connect_timeout).count()));
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(remaining.count()));
    if (options_.low_speed_bytes_per_second > 0) {
      curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(options_.low_speed_bytes_per_second));
      curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.low_speed_time.count()));
    }
    curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(t->body_limit));
    curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
    if (!options_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &OnOpenSocket);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, t);
    if (t->request.method == HttpMethod::kHead) curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    if (t->header_list != nullptr) curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->header_list);

    t->hop_start = clock_.Now();
    t->hop_started_at = now;
    const CURLMcode added = curl_multi_add_handle(multi_, easy);
    if (added != CURLM_OK) {
      ReleaseEasy(t, /*in_multi=*/false);
      Fail(t, FetchError::kTransport, fmt::format("curl_multi_add_handle: {}", curl_multi_strerror(added)));
      return;
    }
    t->host_key = key;
    ++host.active;
    ++active_total_;
  }

  void ReleaseEasy(Transfer* t, bool in_multi) {
    if (t->easy != nullptr) {
      if (in_multi) curl_multi_remove_handle(multi_, t->easy.get());
      t->easy.reset();
    }
    curl_slist_free_all(t->header_list);
    t->header_list = nullptr;
    if (in_multi) {
      auto it = hosts_.find(t->host_key);
      if (it != hosts_.end()) --it->second.active;
      --active_total_;
    }
  }

  void DrainCompleted() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* easy = msg->easy_handle;
      const CURLcode code = msg->data.result;
      char* priv = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
      OnHopDone(reinterpret_cast<Transfer*>(priv), code);
    }
  }

  void OnHopDone(Transfer* t, CURLcode code) {
    CURL* easy = t->easy.get();
    HttpHop hop;
    hop.url = t->url.url;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &hop.status);
    char* ip = nullptr;
    if (curl_easy_getinfo(easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip != nullptr) hop.ip = ip;
    curl_easy_getinfo(easy, CURLINFO_PRIMARY_PORT, &hop.port);
    long os_errno = 0;
    curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
    hop.start = t->hop_start;
    hop.duration = absl::FromChrono(SteadyClock::now() - t->hop_started_at);
    const std::string location = HeaderOrEmpty(t->hop_headers, "location");
    const bool redirect = code == CURLE_OK && IsRedirectStatus(hop.status) && !location.empty();
    if (redirect) hop.location = location;

    std::string curl_text;
    if (code != CURLE_OK) curl_text = t->error_buffer[0] != '\0' ? t->error_buffer : curl_easy_strerror(code);
    const FetchError error = code == CURLE_OK ? FetchError::kNone : MapCurlCode(code, *t, os_errno);
    ReleaseEasy(t, /*in_multi=*/true);

    HttpFetchResult& r = t->result;
    r.final_url = hop.url;
    r.status = hop.status;
    r.ip = hop.ip;
    r.hops.push_back(std::move(hop));
    r.content_type = HeaderOrEmpty(t->hop_headers, "content-type");
    r.server = HeaderOrEmpty(t->hop_headers, "server");
    r.etag = HeaderOrEmpty(t->hop_headers, "etag");
    r.last_modified = HeaderOrEmpty(t->hop_headers, "last-modified");
    r.content_length.reset();
    if (const std::string* length = FindHeader(t->hop_headers, "content-length")) {
      uint64_t value = 0;
      auto [ptr, ec] = std::from_chars(length->data(), length->data() + length->size(), value);
      if (ec == std::errc() && ptr == length->data() + length->size()) r.content_length = value;
    }
    r.headers = std::move(t->hop_headers);
    t->hop_headers.clear();
    r.body_bytes = t->hop_body_bytes;

    if (error != FetchError::kNone) {
      std::string message = curl_text;
      if (error == FetchError::kAddressBlocked) {
        message = fmt::format("{} resolves to {}, a loopback, private or link-local address (refused)",
                              PrintableUrl(t->url.host, 255), t->blocked_address);
      } else if (error == FetchError::kBodyTooLarge) {
        message = fmt::format("body larger than {} bytes (max_body_bytes){}", t->body_limit,
                              r.content_length ? fmt::format("; Content-Length {}", *r.content_length) : "");
      } else if (error == FetchError::kHeadersTooLarge) {
        message = fmt::format("response headers larger than {} bytes (max_header_bytes)", t->header_limit);
      }
      Fail(t, error, std::move(message));
      return;
    }
    if (redirect && options_.max_redirects > 0) {
      FollowRedirect(t, location);
      return;
    }
    if (t->digester != nullptr) r.digests = t->digester->Finish();
    Finish(t);
  }

  void FollowRedirect(Transfer* t, const std::string& location) {
    const size_t redirects = t->result.hops.size();
    if (redirects > static_cast<size_t>(options_.max_redirects)) {
      Fail(t, FetchError::kTooManyRedirects,
           fmt::format("more than {} redirects (max_redirects); the last one pointed to '{}'",
                       options_.max_redirects, PrintableUrl(location)));
      return;
    }
    absl::StatusOr<HttpUrl> next = ResolveRedirect(t->url, location);
    if (!next.ok()) {
      const std::string scheme = UrlScheme(location);
      Fail(t,
           !scheme.empty() && !IsAllowedScheme(scheme) ? FetchError::kSchemeNotAllowed
                                                       : FetchError::kInvalidUrl,
           std::string(next.status().message()));
      return;
    }
    if (!t->visited.insert(next->url).second) {
      Fail(t, FetchError::kRedirectLoop,
           fmt::format("redirect loop: {} redirects back to {}, visited earlier in this fetch",
                       PrintableUrl(t->url.url), PrintableUrl(next->url)));
      return;
    }
    t->url = *std::move(next);
    t->result.body.clear();
    Enqueue(t);
  }

  void Fail(Transfer* t, FetchError error, std::string message) {
    t->result.error = error;
    t->result.error_message = std::move(message);
    Finish(t);
  }

  // Hands the result over and forgets the transfer.
  void Finish(Transfer* t) {
    if (t->started) t->result.duration = absl::FromChrono(SteadyClock::now() - t->started_at);
    if (t->result.error != FetchError::kNone) t->result.digests.reset();
    Callback done = std::move(t->done);
    HttpFetchResult result = std::move(t->result);
    transfers_.erase(t);
    {
      std::lock_guard lock(mu_);
      --pending_;
    }
    done(std::move(result));
  }

  void CancelAll() {
    std::vector<std::unique_ptr<Transfer>> incoming;
    {
      std::lock_guard lock(mu_);
      incoming.swap(incoming_);
    }
    for (std::unique_ptr<Transfer>& t : incoming) {
      Transfer* raw = t.get();
      transfers_.emplace(raw, std::move(t));
    }
    std::vector<Transfer*> all;
    all.reserve(transfers_.size());
    for (auto& [raw, owned] : transfers_) all.push_back(raw);
    for (Transfer* t : all) {
      if (t->easy != nullptr) ReleaseEasy(t, /*in_multi=*/true);
      if (t->result.requested_url.empty()) t->result.requested_url = t->request.url;
      Fail(t, FetchError::kCancelled, "the fetcher was shut down before the fetch completed");
    }
    hosts_.clear();
    waiting_hosts_.clear();
  }

  // Constant after construction.
  const HttpFetcherOptions& options_;
  Clock& clock_;
  CURLM* multi_ = nullptr;
  std::thread thread_;

  std::mutex mu_;
  bool stop_ = false;                                // guarded by mu_
  size_t pending_ = 0;                               // guarded by mu_
  std::vector<std::unique_ptr<Transfer>> incoming_;  // guarded by mu_

  // Loop thread only.
  std::unordered_map<Transfer*, std::unique_ptr<Transfer>> transfers_;
  std::map<std::string, HostState> hosts_;
  std::set<std::string> waiting_hosts_;
  std::string last_served_host_;
  int active_total_ = 0;
};

absl::StatusOr<std::unique_ptr<HttpFetcher>> HttpFetcher::Create(HttpFetcherOptions options) {
  auto invalid = [](std::string message) { return absl::InvalidArgumentError("HTTP fetcher: " + message); };
  if (options.connect_timeout.count() <= 0 || options.total_timeout.count() <= 0) {
    return invalid("connect_timeout and total_timeout must be positive");
  }
  if (options.low_speed_bytes_per_second > 0 && options.low_speed_time.count() < 1) {
    return invalid("low_speed_time must be at least 1 s when low_speed_bytes_per_second is set");
  }
  if (options.max_body_bytes < 1024 || options.max_body_bytes > (uint64_t{4} << 30)) {
    return invalid(fmt::format("max_body_bytes {}: must be 1 KiB .. 4 GiB", options.max_body_bytes));
  }
  if (options.max_header_bytes < 1024 || options.max_header_bytes > (size_t{1} << 20)) {
    return invalid(fmt::format("max_header_bytes {}: must be 1 KiB .. 1 MiB", options.max_header_bytes));
  }
  if (options.max_redirects < 0 || options.max_redirects > 20) {
    return invalid(fmt::format("max_redirects {}: must be 0..20", options.max_redirects));
  }
  if (options.max_concurrent_per_host < 1 || options.max_concurrent_per_host > 256) {
    return invalid(
        fmt::format("max_concurrent_per_host {}: must be 1..256", options.max_concurrent_per_host));
  }
  if (options.max_concurrent_total < 1 || options.max_concurrent_total > 4096) {
    return invalid(fmt::format("max_concurrent_total {}: must be 1..4096", options.max_concurrent_total));
  }
  if (options.max_requests_per_second_per_host > 0 && options.request_burst_per_host < 1) {
    return invalid("request_burst_per_host must be at least 1 when a request rate is set");
  }
  if (options.max_pending < 1) return invalid("max_pending must be at least 1");
  if (options.user_agent.find_first_of("\r\n") != std::string::npos) {
    return invalid("user_agent contains a line break");
  }
  if (!options.ca_file.empty() && ::access(options.ca_file.c_str(), R_OK) != 0) {
    return invalid(fmt::format("ca_file {}: cannot be read: {}", options.ca_file, std::strerror(errno)));
  }
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<HttpFetcher> fetcher(new HttpFetcher(std::move(options)));
  Clock& clock = fetcher->options_.clock != nullptr ? *fetcher->options_.clock : SystemClock::Get();
  fetcher->loop_ = std::make_unique<Loop>(fetcher->options_, clock);
  absl::Status started = fetcher->loop_->Start();
  if (!started.ok()) return started;
  return fetcher;
}

HttpFetcher::HttpFetcher(HttpFetcherOptions options) : options_(std::move(options)) {}

HttpFetcher::~HttpFetcher() = default;

void HttpFetcher::FetchAsync(HttpFetchRequest request, Callback done) {
  loop_->Submit(std::move(request), std::move(done));
}

HttpFetchResult HttpFetcher::Fetch(HttpFetchRequest request) {
  std::promise<HttpFetchResult> promise;
  std::future<HttpFetchResult> future = promise.get_future();
  FetchAsync(std::move(request),
             [&promise](HttpFetchResult result) { promise.set_value(std::move(result)); });
  return future.get();
}

}  // namespace takedown
