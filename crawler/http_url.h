// HTTP(S) URL checks shared by the fetcher, the URL-list source and re-checks,
// built on libcurl's URL parser (CURLU).
//
// ParseHttpUrl accepts only absolute http:// and https:// URLs with a host,
// no user info, at most kMaxHttpUrlBytes bytes, and no whitespace or control
// bytes. Bytes >= 0x80 in the path or query are percent-encoded (an IDN host
// must be written in punycode). Everything else (file://, ftp://, gopher://,
// data:, relative references) is InvalidArgument with a message naming the
// problem.
//
// All functions are thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace takedown {

inline constexpr size_t kMaxHttpUrlBytes = 8192;

struct HttpUrl {
  // Normalized by libcurl (lower-case scheme and host, no fragment); this is
  // what is requested.
  std::string url;
  std::string scheme;  // "http" or "https"
  std::string host;    // lower case; IPv6 literals keep their brackets
  int port = 0;        // explicit or the scheme's default

  // "host:port": the unit of per-host limits.
  std::string HostKey() const;
};

absl::StatusOr<HttpUrl> ParseHttpUrl(std::string_view url);

// Resolves a Location header value against the URL that returned it
// (relative references allowed), with the same checks as ParseHttpUrl.
// Spaces in the value are percent-encoded, as browsers do; other control
// bytes are refused.
absl::StatusOr<HttpUrl> ResolveRedirect(const HttpUrl& base, std::string_view location);

// The scheme of an absolute URL, lower-cased ("http", "file", "gopher"), or
// "" when `url` does not start with one (RFC 3986: a letter, then letters,
// digits, '+', '-', '.', then ':').
std::string UrlScheme(std::string_view url);

// True for "http" and "https".
bool IsAllowedScheme(std::string_view lowercase_scheme);

// `text` made safe to quote in a message or log line: at most `limit` bytes
// (then "..."), control and non-ASCII bytes as \xNN.
std::string PrintableUrl(std::string_view text, size_t limit = 512);

}  // namespace takedown
