#include "daemon/prefix_location_resolver.h"

#include <optional>

#include "crawler/http_url.h"
#include "fmt/format.h"

namespace takedown {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = HexValue(s[i + 1]);
    int lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string WithoutQuery(std::string url) {
  size_t cut = url.find_first_of("?#");
  if (cut != std::string::npos) url.resize(cut);
  return url;
}

}  // namespace

absl::StatusOr<PrefixLocationResolver> PrefixLocationResolver::Create(std::vector<LocationPrefix> prefixes) {
  for (size_t i = 0; i < prefixes.size(); ++i) {
    LocationPrefix& p = prefixes[i];
    absl::StatusOr<HttpUrl> parsed = ParseHttpUrl(p.url_prefix);
    if (!parsed.ok() || p.url_prefix.empty() || p.url_prefix.back() != '/') {
      return absl::InvalidArgumentError(
          fmt::format("location prefix {} ('{}') must be an absolute http(s) URL ending in '/'", i,
                      p.url_prefix.substr(0, 200)));
    }
    if (p.source_id.empty()) {
      return absl::InvalidArgumentError(
          fmt::format("location prefix {} ('{}') needs a source id", i, p.url_prefix));
    }
    p.url_prefix = WithoutQuery(parsed->url);
  }
  return PrefixLocationResolver(std::move(prefixes));
}

absl::StatusOr<ResolvedLocation> PrefixLocationResolver::Resolve(std::string_view url) const {
  absl::StatusOr<HttpUrl> parsed = ParseHttpUrl(url);
  if (!parsed.ok()) return parsed.status();
  const std::string normal = WithoutQuery(parsed->url);
  const LocationPrefix* best = nullptr;
  for (const LocationPrefix& p : prefixes_) {
    if (normal.starts_with(p.url_prefix) &&
        (best == nullptr || p.url_prefix.size() > best->url_prefix.size())) {
      best = &p;
    }
  }
  if (best == nullptr) {
    return absl::NotFoundError(fmt::format(
        "'{}' is not served by any configured source (no location prefix matches)", normal.substr(0, 200)));
  }
  const std::string_view rest = std::string_view(normal).substr(best->url_prefix.size());
  std::optional<std::string> decoded = PercentDecode(rest);
  if (!decoded || decoded->empty() || decoded->find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(
        fmt::format("'{}' does not name an object under {}", normal.substr(0, 200), best->url_prefix));
  }
  size_t start = 0;
  while (start <= decoded->size()) {
    size_t end = decoded->find('/', start);
    std::string_view segment =
        std::string_view(*decoded).substr(start, end == std::string::npos ? end : end - start);
    if (segment == "." || segment == "..") {
      return absl::InvalidArgumentError(fmt::format(
          "'{}' has a '.' or '..' path segment; it cannot name a stored object", normal.substr(0, 200)));
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return ResolvedLocation{best->source_id, best->key_prefix + *decoded};
}

}  // namespace takedown
