#include "crawler/http_url.h"

#include <curl/curl.h>

#include <charconv>
#include <memory>

#include "absl/status/status.h"
#include "fmt/format.h"

namespace takedown {
namespace {

struct CurlUrlDeleter {
  void operator()(CURLU* handle) const { curl_url_cleanup(handle); }
};
using CurlUrlPtr = std::unique_ptr<CURLU, CurlUrlDeleter>;

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Percent-encodes spaces (when allowed) and bytes >= 0x80; false on any
// other control byte.
bool EncodeUnsafeBytes(std::string_view in, bool allow_space, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out->clear();
  out->reserve(in.size());
  for (char ch : in) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f || (c == ' ' && !allow_space)) return false;
    if (c == ' ' || c >= 0x80) {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xF]);
    } else {
      out->push_back(ch);
    }
  }
  return true;
}

std::string GetPart(CURLU* handle, CURLUPart part, unsigned int flags) {
  char* value = nullptr;
  if (curl_url_get(handle, part, &value, flags) != CURLUE_OK || value == nullptr) return std::string();
  std::string out(value);
  curl_free(value);
  return out;
}

// Checks the parsed handle and fills `out`. `shown` is the URL as given, for
// messages.
absl::StatusOr<HttpUrl> Finish(CURLU* handle, std::string_view shown) {
  HttpUrl out;
  out.scheme = ToLower(GetPart(handle, CURLUPART_SCHEME, 0));
  if (!IsAllowedScheme(out.scheme)) {
    return absl::InvalidArgumentError(
        fmt::format("URL '{}': scheme '{}' is not allowed (only http and https)", PrintableUrl(shown),
                    PrintableUrl(out.scheme, 32)));
  }
  if (!GetPart(handle, CURLUPART_USER, 0).empty() || !GetPart(handle, CURLUPART_PASSWORD, 0).empty()) {
    return absl::InvalidArgumentError(
        fmt::format("URL '{}': user info (user:password@) is not allowed", PrintableUrl(shown)));
  }
  out.host = ToLower(GetPart(handle, CURLUPART_HOST, 0));
  if (out.host.empty()) {
    return absl::InvalidArgumentError(fmt::format("URL '{}': no host", PrintableUrl(shown)));
  }
  const std::string port = GetPart(handle, CURLUPART_PORT, CURLU_DEFAULT_PORT);
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (ec != std::errc() || ptr != port.data() + port.size() || out.port <= 0 || out.port > 65535) {
    return absl::InvalidArgumentError(
        fmt::format("URL '{}': bad port '{}'", PrintableUrl(shown), PrintableUrl(port, 16)));
  }
  // Scheme and host are case-insensitive; libcurl 7.88 keeps their case.
  curl_url_set(handle, CURLUPART_SCHEME, out.scheme.c_str(), 0);
  curl_url_set(handle, CURLUPART_HOST, out.host.c_str(), 0);
  // The fragment is never sent; drop it so it does not split visited URLs.
  curl_url_set(handle, CURLUPART_FRAGMENT, nullptr, 0);
  out.url = GetPart(handle, CURLUPART_URL, 0);
  if (out.url.empty() || out.url.size() > kMaxHttpUrlBytes) {
    return absl::InvalidArgumentError(
        fmt::format("URL '{}': cannot be normalized within {} bytes", PrintableUrl(shown), kMaxHttpUrlBytes));
  }
  return out;
}

absl::Status CurlUrlError(std::string_view shown, CURLUcode code) {
  return absl::InvalidArgumentError(
      fmt::format("URL '{}': {}", PrintableUrl(shown), curl_url_strerror(code)));
}

}  // namespace

std::string UrlScheme(std::string_view url) {
  const size_t colon = url.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::string();
  for (size_t i = 0; i < colon; ++i) {
    const char c = url[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool other = (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    if (!letter && (i == 0 || !other)) return std::string();
  }
  return ToLower(url.substr(0, colon));
}

bool IsAllowedScheme(std::string_view lowercase_scheme) {
  return lowercase_scheme == "http" || lowercase_scheme == "https";
}

std::string HttpUrl::HostKey() const { return fmt::format("{}:{}", host, port); }

std::string PrintableUrl(std::string_view text, size_t limit) {
  std::string out;
  const size_t n = std::min(text.size(), limit);
  out.reserve(n + 3);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (text.size() > limit) out += "...";
  return out;
}

absl::StatusOr<HttpUrl> ParseHttpUrl(std::string_view url) {
  if (url.empty()) return absl::InvalidArgumentError("URL is empty");
  if (url.size() > kMaxHttpUrlBytes) {
    return absl::InvalidArgumentError(
        fmt::format("URL '{}': longer than {} bytes", PrintableUrl(url, 80), kMaxHttpUrlBytes));
  }
  std::string encoded;
  if (!EncodeUnsafeBytes(url, /*allow_space=*/false, &encoded)) {
    return absl::InvalidArgumentError(
        fmt::format("URL '{}': contains whitespace or a control byte", PrintableUrl(url)));
  }
  CurlUrlPtr handle(curl_url());
  if (handle == nullptr) return absl::ResourceExhaustedError("curl_url: out of memory");
  const CURLUcode code = curl_url_set(handle.get(), CURLUPART_URL, encoded.c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (code != CURLUE_OK) {
    // Tell "not a URL at all" from a scheme problem when the prefix shows it.
    const std::string scheme = UrlScheme(url);
    if (code == CURLUE_NO_SCHEME || scheme.empty()) {
      return absl::InvalidArgumentError(
          fmt::format("URL '{}': not an absolute http:// or https:// URL", PrintableUrl(url)));
    }
    if (!IsAllowedScheme(scheme)) {
      return absl::InvalidArgumentError(
          fmt::format("URL '{}': scheme '{}' is not allowed (only http and https)", PrintableUrl(url),
                      PrintableUrl(scheme, 32)));
    }
    return CurlUrlError(url, code);
  }
  return Finish(handle.get(), url);
}

absl::StatusOr<HttpUrl> ResolveRedirect(const HttpUrl& base, std::string_view location) {
  if (location.empty()) return absl::InvalidArgumentError("redirect without a Location");
  if (location.size() > kMaxHttpUrlBytes) {
    return absl::InvalidArgumentError(fmt::format("redirect Location '{}': longer than {} bytes",
                                                  PrintableUrl(location, 80), kMaxHttpUrlBytes));
  }
  std::string encoded;
  if (!EncodeUnsafeBytes(location, /*allow_space=*/true, &encoded)) {
    return absl::InvalidArgumentError(
        fmt::format("redirect Location '{}': contains a control byte", PrintableUrl(location)));
  }
  CurlUrlPtr handle(curl_url());
  if (handle == nullptr) return absl::ResourceExhaustedError("curl_url: out of memory");
  CURLUcode code = curl_url_set(handle.get(), CURLUPART_URL, base.url.c_str(), 0);
  if (code != CURLUE_OK) return CurlUrlError(base.url, code);
  // With a base URL set, a relative reference is resolved against it.
  code = curl_url_set(handle.get(), CURLUPART_URL, encoded.c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (code != CURLUE_OK) {
    return absl::InvalidArgumentError(fmt::format("redirect Location '{}' from {}: {}",
                                                  PrintableUrl(location), PrintableUrl(base.url),
                                                  curl_url_strerror(code)));
  }
  absl::StatusOr<HttpUrl> resolved = Finish(handle.get(), location);
  if (!resolved.ok()) {
    return absl::InvalidArgumentError(fmt::format("redirect from {}: {}", PrintableUrl(base.url),
                                                  std::string(resolved.status().message())));
  }
  return resolved;
}

}  // namespace takedown
