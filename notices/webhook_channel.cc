#include "notices/webhook_channel.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <span>
#include <utility>

#include "common/hex.h"
#include "fmt/format.h"
#include "notices/curl_support.h"
#include "notices/json_fields.h"

#ifndef TAKEDOWN_VERSION
#define TAKEDOWN_VERSION "0"
#endif

namespace takedown {
namespace {

using curl_support::GlobalInitOnce;
using curl_support::IsLoopbackHost;
using curl_support::UrlPart;
template <typename T>
using CurlPtr = curl_support::Ptr<T>;

constexpr size_t kMinSecretBytes = 16;
constexpr size_t kMaxUrlBytes = 4096;
constexpr size_t kExcerptBytes = 200;

// A printable one-line excerpt of a response body: valid UTF-8, controls as
// spaces, at most kExcerptBytes.
std::string Excerpt(std::string_view body) {
  std::string text = SanitizeUtf8(body.substr(0, kExcerptBytes + 4));
  for (char& ch : text) {
    const unsigned char byte = static_cast<unsigned char>(ch);
    if (byte < 0x20 || byte == 0x7F) ch = ' ';
  }
  if (text.size() > kExcerptBytes || body.size() > kExcerptBytes + 4) {
    size_t cut = std::min(text.size(), kExcerptBytes);
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text.resize(cut);
    text += "...";
  }
  return text;
}

// The parts of a URL that matter here, from libcurl's own parser so that
// what we check is what libcurl will connect to.
struct UrlParts {
  std::string scheme, host, port, path, display;
  bool has_credentials = false;
  bool has_fragment = false;
};

absl::StatusOr<UrlParts> ParseUrl(const std::string& text, std::string_view channel) {
  CurlPtr<CURLU> url(curl_url());
  if (url == nullptr) return absl::ResourceExhaustedError("webhook: out of memory parsing the URL");
  if (text.size() > kMaxUrlBytes || curl_url_set(url.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
    return absl::InvalidArgumentError(fmt::format(
        "webhook '{}': url is not a valid absolute URL (expected https://host[:port]/path)", channel));
  }
  UrlParts parts;
  parts.scheme = UrlPart(url.get(), CURLUPART_SCHEME);
  parts.host = UrlPart(url.get(), CURLUPART_HOST);
  parts.port = UrlPart(url.get(), CURLUPART_PORT);
  parts.path = UrlPart(url.get(), CURLUPART_PATH);
  parts.has_credentials =
      !UrlPart(url.get(), CURLUPART_USER).empty() || !UrlPart(url.get(), CURLUPART_PASSWORD).empty();
  parts.has_fragment = !UrlPart(url.get(), CURLUPART_FRAGMENT).empty();
  parts.display =
      fmt::format("{}://{}{}{}", parts.scheme, parts.host, parts.port.empty() ? "" : ":", parts.port) +
      (parts.path.empty() ? "/" : parts.path);
  return parts;
}

std::string Redact(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  for (size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos)) {
    text.replace(pos, secret.size(), "[redacted]");
  }
  return text;
}

struct Response {
  std::string excerpt;  // the first bytes of the body
  size_t received = 0;
  size_t limit = 0;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<Response*>(user);
  const size_t n = size * count;
  response->received += n;
  if (response->excerpt.size() < kExcerptBytes + 4) {
    response->excerpt.append(data, std::min(n, kExcerptBytes + 4 - response->excerpt.size()));
  }
  // Returning less than n makes libcurl stop reading with CURLE_WRITE_ERROR.
  return response->received > response->limit ? 0 : n;
}

}  // namespace

WebhookChannel::WebhookChannel(WebhookChannelOptions options, std::string display_url, Clock& clock)
    : options_(std::move(options)), display_url_(std::move(display_url)), clock_(clock) {}

absl::StatusOr<std::unique_ptr<WebhookChannel>> WebhookChannel::Create(WebhookChannelOptions options,
                                                                       Clock& clock) {
  GlobalInitOnce();
  if (options.name.empty()) return absl::InvalidArgumentError("webhook: the channel name must not be empty");
  const std::string& name = options.name;
  absl::StatusOr<UrlParts> url = ParseUrl(options.url, name);
  if (!url.ok()) return url.status();
  if (url->scheme != "https" && !(url->scheme == "http" && IsLoopbackHost(url->host))) {
    return absl::InvalidArgumentError(fmt::format(
        "webhook '{}': url {} must use https:// (http:// is allowed only to 127.0.0.1, [::1] or localhost)",
        name, url->display));
  }
  if (url->host.empty()) {
    return absl::InvalidArgumentError(fmt::format("webhook '{}': url {} has no host", name, url->display));
  }
  if (url->has_fragment) {
    return absl::InvalidArgumentError(
        fmt::format("webhook '{}': url {} must not have a #fragment", name, url->display));
  }
  if (options.secret.size() < kMinSecretBytes) {
    return absl::InvalidArgumentError(fmt::format(
        "webhook '{}': the signing secret must be at least {} bytes (use e.g. 32 random bytes, hex-encoded)",
        name, kMinSecretBytes));
  }
  if (options.connect_timeout <= absl::ZeroDuration() || options.total_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        fmt::format("webhook '{}': connect_timeout and total_timeout must be positive", name));
  }
  if (options.max_response_bytes == 0) {
    return absl::InvalidArgumentError(fmt::format("webhook '{}': max_response_bytes must be positive", name));
  }
  if (!options.ca_file.empty() && ::access(options.ca_file.c_str(), R_OK) != 0) {
    return absl::NotFoundError(
        fmt::format("webhook '{}': ca_file {} does not exist or is not readable", name, options.ca_file));
  }
  std::string display = std::move(url->display);
  return std::unique_ptr<WebhookChannel>(new WebhookChannel(std::move(options), std::move(display), clock));
}

std::string WebhookChannel::Body(const Notice& notice) { return DumpJson(notice.payload); }

std::string WebhookChannel::Signature(std::string_view secret, int64_t timestamp, std::string_view body) {
  std::string message = fmt::format("{}.", timestamp);
  message.append(body);
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned int mac_length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const uint8_t*>(message.data()), message.size(), mac, &mac_length);
  return "sha256=" + HexEncode(std::span<const uint8_t>(mac, mac_length));
}

absl::Status WebhookChannel::Deliver(const Notice& notice) {
  const std::string& name = options_.name;
  if (notice.channel != name) {
    return absl::InvalidArgumentError(
        fmt::format("webhook '{}': notice {} is addressed to channel '{}'", name, notice.id, notice.channel));
  }
  if (!IsSafeNoticeId(notice.id)) {
    return absl::InvalidArgumentError(fmt::format(
        "webhook '{}': notice id '{}' is not a safe idempotency key", name, SanitizeUtf8(notice.id)));
  }
  const std::string where = fmt::format("webhook '{}' POST {} (notice {})", name, display_url_, notice.id);

  CurlPtr<CURL> curl(curl_easy_init());
  if (curl == nullptr) return absl::ResourceExhaustedError(where + ": cannot create a libcurl handle");
  const std::string body = Body(notice);
  const int64_t timestamp = absl::ToUnixSeconds(clock_.Now());
  curl_slist* raw_headers = nullptr;
  for (const std::string& header : {
           std::string("Content-Type: application/json"),
           fmt::format("Idempotency-Key: {}", notice.id),
           fmt::format("X-Takedown-Notice-Id: {}", notice.id),
           fmt::format("X-Takedown-Timestamp: {}", timestamp),
           fmt::format("X-Takedown-Signature: {}", Signature(options_.secret, timestamp, body)),
           std::string("Expect:"),
       }) {
    curl_slist* appended = curl_slist_append(raw_headers, header.c_str());
    if (appended == nullptr) {
      curl_slist_free_all(raw_headers);
      return absl::ResourceExhaustedError(where + ": out of memory building headers");
    }
    raw_headers = appended;
  }
  CurlPtr<curl_slist> headers(raw_headers);

  Response response;
  response.limit = options_.max_response_bytes;
  char error_buffer[CURL_ERROR_SIZE] = {};
  const bool plain_http = display_url_.rfind("http://", 0) == 0;
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(h, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, plain_http ? "http" : "https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_PROXY, options_.proxy.c_str());
  curl_easy_setopt(h, CURLOPT_USERAGENT, "takedownd/" TAKEDOWN_VERSION);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(
      h, CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.connect_timeout))));
  curl_easy_setopt(
      h, CURLOPT_TIMEOUT_MS,
      static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.total_timeout))));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &response);

  const CURLcode result = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);

  if (status >= 200 && status <= 299) return absl::OkStatus();
  if (status == 0) {
    std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(result);
    detail = Redact(SanitizeUtf8(detail), options_.secret);
    if (result == CURLE_OPERATION_TIMEDOUT) {
      return absl::DeadlineExceededError(
          fmt::format("{}: timed out (connect_timeout {}, total_timeout {}): {}; will retry", where,
                      absl::FormatDuration(options_.connect_timeout),
                      absl::FormatDuration(options_.total_timeout), detail));
    }
    if (result == CURLE_OUT_OF_MEMORY)
      return absl::ResourceExhaustedError(fmt::format("{}: {}", where, detail));
    return absl::UnavailableError(fmt::format("{}: no HTTP response: {} (curl error {}); will retry", where,
                                              detail, static_cast<int>(result)));
  }

  const std::string excerpt = Redact(Excerpt(response.excerpt), options_.secret);
  const std::string said = excerpt.empty() ? "empty body" : fmt::format("body '{}'", excerpt);
  if (status == 408 || status == 429 || (status >= 500 && status <= 599)) {
    curl_off_t retry_after = 0;
    std::string hint;
    if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0) {
      hint = fmt::format(" (Retry-After {} s)", static_cast<int64_t>(retry_after));
    }
    absl::Status transient =
        absl::UnavailableError(fmt::format("{}: HTTP {}{}, {}; will retry", where, status, hint, said));
    if (retry_after > 0) transient = WithRetryAfter(std::move(transient), absl::Seconds(retry_after));
    return transient;
  }
  if (status == 400 || status == 413 || status == 415 || status == 422) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: HTTP {}, {}: the receiver refuses this notice; not retried (dead letter)", where, status, said));
  }
  std::string advice = "check the URL, the shared secret and the receiver's configuration";
  if (status >= 300 && status <= 399) {
    advice = "redirects are not followed: configure the final URL";
  } else if (status == 401 || status == 403) {
    advice = "the receiver rejected the signature or credentials: check the shared secret";
  }
  return absl::FailedPreconditionError(
      fmt::format("{}: HTTP {}, {}: {}; not retried (dead letter)", where, status, said, advice));
}

}  // namespace takedown
