#include "crawler/recheck.h"

#include <algorithm>
#include <vector>

#include "common/hex.h"
#include "crawler/http_object_reader.h"
#include "crawler/http_url.h"
#include "crawler/url_list_source.h"
#include "fmt/format.h"

namespace takedown {
namespace {

constexpr size_t kReadChunkBytes = 256 * 1024;

absl::Status ValidateExpectation(const RecheckExpectation& expected, const RecheckOptions& options) {
  if (expected.digests.empty() && !expected.perceptual) {
    return absl::InvalidArgumentError(
        "re-check: nothing to compare with: give expected digests and/or a perceptual check");
  }
  for (const ExpectedDigest& digest : expected.digests) {
    if (!IsCryptographicHashType(digest.type)) {
      return absl::InvalidArgumentError(fmt::format(
          "re-check: expected digest of type {} is not a byte digest (use the perceptual check for PDQ)",
          HashTypeName(digest.type)));
    }
    if (digest.raw.size() != HashTypeLength(digest.type)) {
      return absl::InvalidArgumentError(
          fmt::format("re-check: expected {} digest is {} bytes, need {} (raw bytes, not hex)",
                      HashTypeName(digest.type), digest.raw.size(), HashTypeLength(digest.type)));
    }
  }
  if (!expected.digests.empty() && !options.digester) {
    return absl::InvalidArgumentError("re-check: expected digests given but no digester configured");
  }
  return absl::OkStatus();
}

bool MatchesNoticeUrl(const std::string& url, const std::vector<std::string>& notice_urls) {
  for (const std::string& notice : notice_urls) {
    if (!notice.empty() && notice.back() == '*') {
      if (url.starts_with(std::string_view(notice).substr(0, notice.size() - 1))) return true;
    } else if (url == notice) {
      return true;
    }
  }
  return false;
}

// Compares a complete body with the expectation and sets outcome and reason.
void Judge(const RecheckExpectation& expected, std::span<const uint8_t> body, RecheckResult& result) {
  std::vector<std::string> differing;
  if (!expected.digests.empty()) {
    for (const ExpectedDigest& digest : expected.digests) {
      const std::string_view served = result.digests->Get(digest.type);
      if (served != digest.raw) {
        differing.push_back(fmt::format("{} differs (expected {}, served {})", HashTypeName(digest.type),
                                        HexEncode(digest.raw), HexEncode(served)));
      }
    }
    result.digest_match = differing.empty();
  }
  if (result.digest_match) {
    result.outcome = RecheckOutcome::kStillPresent;
    result.reason = fmt::format("served bytes match the expected digests ({} bytes)", result.body_bytes);
    return;
  }
  std::string digest_text;
  for (const std::string& d : differing) digest_text += (digest_text.empty() ? "" : "; ") + d;
  if (expected.perceptual) {
    absl::StatusOr<bool> still = expected.perceptual(body);
    if (!still.ok()) {
      result.outcome = RecheckOutcome::kError;
      result.reason = "perceptual check failed: " + std::string(still.status().message());
      return;
    }
    result.perceptual_match = *still;
    if (*still) {
      result.outcome = RecheckOutcome::kStillPresent;
      result.reason = digest_text.empty()
                          ? "perceptual match"
                          : "bytes differ (" + digest_text + ") but the perceptual check still matches";
      return;
    }
    result.outcome = RecheckOutcome::kChanged;
    result.reason = digest_text.empty() ? "the perceptual check no longer matches"
                                        : digest_text + "; the perceptual check no longer matches";
    return;
  }
  result.outcome = RecheckOutcome::kChanged;
  result.reason = digest_text;
}

std::span<const uint8_t> AsBytes(std::string_view s) {
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

void DropBody(HttpFetchResult& fetch) {
  fetch.body.clear();
  fetch.body.shrink_to_fit();
}

}  // namespace

std::string_view RecheckOutcomeName(RecheckOutcome outcome) {
  switch (outcome) {
    case RecheckOutcome::kGone:
      return "gone";
    case RecheckOutcome::kAccessDisabled:
      return "access_disabled";
    case RecheckOutcome::kChanged:
      return "changed";
    case RecheckOutcome::kStillPresent:
      return "still_present";
    case RecheckOutcome::kError:
      return "error";
  }
  return "unknown";
}

absl::StatusOr<RecheckResult> RecheckUrl(HttpFetcher& fetcher, std::string_view url,
                                         const RecheckExpectation& expected, const RecheckOptions& options) {
  if (absl::Status valid = ValidateExpectation(expected, options); !valid.ok()) return valid;
  absl::StatusOr<HttpUrl> parsed = ParseHttpUrl(url);
  if (!parsed.ok()) return absl::InvalidArgumentError("re-check: " + std::string(parsed.status().message()));

  HttpFetchRequest request;
  request.url = std::string(url);
  request.keep_body = static_cast<bool>(expected.perceptual) || !options.disabled_markers.empty();
  request.digester = options.digester;
  HttpFetchResult fetch = fetcher.Fetch(std::move(request));

  RecheckResult result;
  Clock& clock = options.clock != nullptr ? *options.clock : SystemClock::Get();
  result.checked_at = fetch.hops.empty() ? clock.Now() : fetch.start;
  result.body_bytes = fetch.body_bytes;
  auto finish = [&](RecheckOutcome outcome, std::string reason) {
    result.outcome = outcome;
    result.reason = std::move(reason);
    DropBody(fetch);
    result.fetch = std::move(fetch);
    return result;
  };

  for (size_t i = 1; i < fetch.hops.size(); ++i) {
    if (MatchesNoticeUrl(fetch.hops[i].url, options.disabled_notice_urls)) {
      return finish(RecheckOutcome::kAccessDisabled, fmt::format("redirected to the notice URL {} (hop {})",
                                                                 PrintableUrl(fetch.hops[i].url), i + 1));
    }
  }
  switch (fetch.error) {
    case FetchError::kNone:
      break;
    case FetchError::kConnectionRefused:
      return finish(RecheckOutcome::kGone,
                    fmt::format("connection refused by {}", PrintableUrl(fetch.final_url)));
    case FetchError::kDnsFailure:
      return finish(options.dns_failure_is_gone ? RecheckOutcome::kGone : RecheckOutcome::kError,
                    "host name does not resolve: " + fetch.error_message);
    default:
      return finish(RecheckOutcome::kError, fmt::format("not conclusive: fetch failed: {}: {}",
                                                        FetchErrorName(fetch.error), fetch.error_message));
  }
  const long status = fetch.status;
  if (status == 401 || status == 403) {
    return finish(RecheckOutcome::kAccessDisabled, fmt::format("HTTP {}", status));
  }
  if (status == 404 || status == 410 || status == 451) {
    return finish(RecheckOutcome::kGone,
                  fmt::format("HTTP {}{}", status, status == 451 ? " (unavailable for legal reasons)" : ""));
  }
  if (status < 200 || status > 299) {
    return finish(RecheckOutcome::kError, fmt::format("not conclusive: HTTP {}", status));
  }
  const std::string_view searched =
      std::string_view(fetch.body).substr(0, std::min(fetch.body.size(), options.marker_search_bytes));
  for (const std::string& marker : options.disabled_markers) {
    if (!marker.empty() && searched.find(marker) != std::string_view::npos) {
      return finish(RecheckOutcome::kAccessDisabled,
                    fmt::format("HTTP {} with the disabled marker '{}' in the body", status,
                                PrintableUrl(marker, 100)));
    }
  }
  result.digests = fetch.digests;
  Judge(expected, AsBytes(fetch.body), result);
  RecheckOutcome outcome = result.outcome;
  std::string reason = std::move(result.reason);
  return finish(outcome, fmt::format("HTTP {}: {}", status, reason));
}

absl::StatusOr<RecheckResult> RecheckObject(Source& source, const ObjectRef& ref,
                                            const RecheckExpectation& expected,
                                            const RecheckOptions& options) {
  if (absl::Status valid = ValidateExpectation(expected, options); !valid.ok()) return valid;
  // A URL's re-check needs the HTTP detail (451, notice pages, refused
  // connections) that Source::Open folds into status codes.
  if (auto* urls = dynamic_cast<UrlListSource*>(&source); urls != nullptr && ref.source_id == urls->id()) {
    return RecheckUrl(urls->fetcher(), ref.key, expected, options);
  }

  RecheckResult result;
  Clock& clock = options.clock != nullptr ? *options.clock : SystemClock::Get();
  result.checked_at = clock.Now();
  const std::string where = fmt::format("{}: {}", source.id(), PrintableUrl(ref.key));
  auto from_status = [&](const absl::Status& status, std::string_view stage) {
    result.object_status = status;
    result.reason = fmt::format("{} failed: {}", stage, std::string(status.message()));
    if (status.code() == absl::StatusCode::kNotFound) {
      result.outcome = RecheckOutcome::kGone;
    } else if (status.code() == absl::StatusCode::kPermissionDenied) {
      result.outcome = RecheckOutcome::kAccessDisabled;
    } else {
      result.outcome = RecheckOutcome::kError;
      result.reason = "not conclusive: " + result.reason;
    }
    return result;
  };

  absl::StatusOr<std::unique_ptr<ObjectReader>> reader = source.Open(ref);
  if (!reader.ok()) return from_status(reader.status(), "open");
  std::unique_ptr<BodyDigester> digester;
  if (options.digester) digester = options.digester();
  if (!expected.digests.empty() && digester == nullptr) {
    result.reason = "not conclusive: the digester factory returned no digester";
    return result;
  }
  std::string body;
  std::vector<uint8_t> buffer(kReadChunkBytes);
  while (true) {
    absl::StatusOr<size_t> n = (*reader)->Read(buffer);
    if (!n.ok()) return from_status(n.status(), "read");
    if (*n == 0) break;
    result.body_bytes += *n;
    if (result.body_bytes > options.max_object_bytes) {
      result.outcome = RecheckOutcome::kError;
      result.reason = fmt::format("not conclusive: {} is larger than max_object_bytes {}", where,
                                  options.max_object_bytes);
      return result;
    }
    const std::span<const uint8_t> chunk(buffer.data(), *n);
    if (digester != nullptr) digester->Update(chunk);
    if (expected.perceptual) body.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
  }
  if (auto* http = dynamic_cast<const HttpObjectReader*>(reader->get()); http != nullptr) {
    result.fetch = http->fetch();
    DropBody(*result.fetch);
  }
  if (digester != nullptr) result.digests = digester->Finish();
  Judge(expected, AsBytes(body), result);
  return result;
}

}  // namespace takedown
