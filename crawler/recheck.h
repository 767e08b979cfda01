// Re-checks: is reported material still served? A removal order's re-check
// timer fetches the object again and records one of five outcomes with the
// evidence (every hop, status, peer IP, times, digests of what was served).
//
// RecheckUrl(fetcher, url, expected, options) fetches a public URL:
//   kAccessDisabled  a hop redirected to a configured notice URL; HTTP 401 or
//                    403; or a 2xx body containing a configured "disabled"
//                    marker (checked in that order, before anything else);
//   kGone            HTTP 404, 410 or 451; connection refused; the host name
//                    did not resolve (libcurl cannot tell NXDOMAIN from a
//                    failing resolver, so this is an option,
//                    dns_failure_is_gone, on by default: re-checks repeat);
//   kStillPresent    a 2xx body whose digests all equal the expected ones, or
//                    that the perceptual callback (e.g. PDQ within the list's
//                    threshold) says still shows the material;
//   kChanged         a 2xx body that matches neither;
//   kError           not conclusive: timeouts, too slow, 5xx, 429, other
//                    statuses, TLS failures, redirect limits or loops, a body
//                    over the limit, the perceptual callback failing.
//
// RecheckObject(source, ref, expected, options) does the same for an object
// of any Source (filesystem, S3, URL list) through Source::Open: NotFound is
// kGone, PermissionDenied kAccessDisabled, any other Open or Read error kError;
// the bytes are digested and compared as above.
//
// Expected content: the cryptographic digests known for the material (any of
// MD5, SHA-1, SHA-256; all given must equal), and/or a perceptual callback.
// Digests come from the injected BodyDigester (body_digester.h).
//
// The results hold no content: the body is dropped from the fetch record
// (only its digests and length are kept). Functions are thread-safe if the
// fetcher, source and callbacks are (they are called on the calling thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/digest_set.h"
#include "common/object_ref.h"
#include "crawler/body_digester.h"
#include "crawler/http_fetcher.h"
#include "crawler/source.h"

namespace takedown {

enum class RecheckOutcome { kGone, kAccessDisabled, kChanged, kStillPresent, kError };

// "gone", "access_disabled", "changed", "still_present", "error".
std::string_view RecheckOutcomeName(RecheckOutcome outcome);

struct ExpectedDigest {
  HashType type = HashType::kSha256;  // kMd5, kSha1 or kSha256
  std::string raw;                    // raw bytes, HashTypeLength(type) long
};

// True when `body` still shows the material (e.g. its PDQ hash is within the
// list's threshold of the reported one); an error makes the re-check kError.
using PerceptualCheck = std::function<absl::StatusOr<bool>(std::span<const uint8_t> body)>;

struct RecheckExpectation {
  std::vector<ExpectedDigest> digests;
  PerceptualCheck perceptual;  // optional
};

struct RecheckOptions {
  // Required when the expectation has digests.
  BodyDigesterFactory digester;
  // A hop whose URL equals one of these (or starts with it, for an entry
  // ending in '*', the '*' removed) means access disabled: the provider
  // redirects removed content to its notice page.
  std::vector<std::string> disabled_notice_urls;
  // Byte strings that, found in a 2xx body, mean access disabled (the
  // provider's "this content has been removed" page served in place).
  std::vector<std::string> disabled_markers;
  // Markers are searched in the first this many bytes of the body.
  size_t marker_search_bytes = 1 << 20;
  // See above: a host name that does not resolve counts as gone.
  bool dns_failure_is_gone = true;
  // For RecheckObject: the largest object read (ResourceExhausted => kError),
  // and, when a perceptual check is set, the largest held in memory for it.
  uint64_t max_object_bytes = 64ull * 1024 * 1024;
  // For checked_at of RecheckObject; nullptr: SystemClock::Get(). Borrowed.
  Clock* clock = nullptr;
};

struct RecheckResult {
  RecheckOutcome outcome = RecheckOutcome::kError;
  // Why, for humans and the audit log ("HTTP 404", "sha256 differs", ...).
  std::string reason;
  absl::Time checked_at;
  // Of the bytes served, when a complete body was read.
  std::optional<DigestSet> digests;
  uint64_t body_bytes = 0;
  // Every expected digest matched.
  bool digest_match = false;
  // The perceptual callback's answer, when it was asked.
  std::optional<bool> perceptual_match;
  // RecheckUrl: the fetch (body dropped). RecheckObject: set when the
  // source's reader carried one (URL-list sources).
  std::optional<HttpFetchResult> fetch;
  // RecheckObject: the status of Open or Read when they failed.
  absl::Status object_status;
};

// InvalidArgument for a URL that is not http(s), a malformed expectation
// (wrong digest length, kPdq as a digest type, nothing expected at all) or
// digests expected without a digester. Every outcome of the fetch itself is
// a RecheckResult. REQUIRES: not called from a FetchAsync callback.
absl::StatusOr<RecheckResult> RecheckUrl(HttpFetcher& fetcher, std::string_view url,
                                         const RecheckExpectation& expected, const RecheckOptions& options);

// InvalidArgument for a malformed expectation, as above. Every outcome of
// Open and Read is a RecheckResult.
absl::StatusOr<RecheckResult> RecheckObject(Source& source, const ObjectRef& ref,
                                            const RecheckExpectation& expected,
                                            const RecheckOptions& options);

}  // namespace takedown
