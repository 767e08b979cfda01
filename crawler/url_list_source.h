// UrlListSource: a Source whose objects are http(s) URLs, from a list file
// (crawler/url_list_file.h: one URL per line, '#' comments) and/or added
// through AddUrls (the API). It is the authority's way of sweeping reported
// public URLs, and any operator's way of checking a known set of URLs.
//
// Keys are the URLs as written (trimmed), ordered bytewise (CompareKeys is a
// plain byte comparison); the same URL from the file and from AddUrls is one
// object. List() re-reads the file every time, so edits are picked up by the
// next listing. Bad lines are reported to sink.OnSkipped("<file>:<line>",
// reason) on full listings (empty `after`) only, so a resumed listing does not
// report them twice.
//
// Versions come from a probe made while listing, through the HttpFetcher:
//   - probe kHead (default): HEAD; when its 2xx response has an ETag the
//     version is "etag:<ETag as sent>", else with a Last-Modified it is
//     "last-modified:<value>"; otherwise (no validator, or HEAD not answered
//     with 2xx, e.g. 405) a GET follows, as below;
//   - probe kGet, or the fallback: GET with the body digested as it arrives
//     (not held) and the version is the ETag or Last-Modified of that
//     response if any, else "sha256:<hex of the body>".
// ObjectRef.size is the HEAD's Content-Length (0 when absent) or the GET's
// body length. A URL whose probe fails (transport error, non-2xx GET) is
// reported to sink.OnSkipped(url, reason) and not listed; the next listing
// probes it again. A weak ETag ("W/...") is used as it is: servers promise
// only semantic equivalence with it, so a byte change that keeps the weak
// ETag is missed until it changes.
//
// Open() fetches the URL again with GET and returns an HttpObjectReader over
// the body (held in memory, at most the fetcher's max_body_bytes) carrying the
// fetch record. Open reads whatever the URL serves at that time; it does not
// check the listed version. Non-2xx and transport failures are returned as
// HttpFetchResult::ToStatus() maps them: NotFound for 404/410,
// PermissionDenied for 401/403, FailedPrecondition for 451 (unavailable for
// legal reasons), Unavailable for 5xx, 429 and timeouts, ResourceExhausted for
// a body over the limit. The record of the latest Open of each key (success or
// failure, body dropped) is kept for LastFetch(), the last
// max_recorded_fetches keys.
//
// Thread-safety: List() on one thread while any number of threads call
// Open(), AddUrls() and LastFetch().
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crawler/body_digester.h"
#include "crawler/http_fetcher.h"
#include "crawler/source.h"
#include "crawler/url_list_file.h"

namespace takedown {

enum class UrlProbe { kHead, kGet };

struct UrlListSourceOptions {
  std::string id;
  // A URL-list file; empty when the URLs come only through AddUrls.
  std::string file;
  // Bounds on the file; max_urls also bounds AddUrls.
  UrlListLimits limits;
  UrlProbe probe = UrlProbe::kHead;
  // Probes in flight while listing (1 .. 256); the fetcher's per-host limits
  // apply on top.
  int list_parallelism = 8;
  // Required: digests GET probes (see body_digester.h for why it is injected).
  BodyDigesterFactory digester;
  // Options of the fetcher Create() makes; unused by CreateWithFetcher.
  HttpFetcherOptions fetcher;
  // Keys whose latest fetch record LastFetch() keeps (oldest dropped first).
  size_t max_recorded_fetches = 4096;
};

class UrlListSource final : public Source {
 public:
  // InvalidArgument for an empty id, a missing digester or out-of-range
  // options; the errors of ReadUrlListFile when the file cannot be read (bad
  // lines are not errors); the fetcher's errors.
  static absl::StatusOr<std::unique_ptr<UrlListSource>> Create(UrlListSourceOptions options);
  // As Create, sharing `fetcher` (and so its per-host limits) with others.
  static absl::StatusOr<std::unique_ptr<UrlListSource>> CreateWithFetcher(
      UrlListSourceOptions options, std::shared_ptr<HttpFetcher> fetcher);

  const std::string& id() const override { return id_; }

  // Errors only when the list file cannot be read as a whole (removed,
  // unreadable, over max_file_bytes).
  absl::Status List(std::string_view after, ListingSink& sink) override;

  // InvalidArgument for a ref of another source or a key that is not an
  // http(s) URL; otherwise as described above. The reader is an
  // HttpObjectReader.
  absl::StatusOr<std::unique_ptr<ObjectReader>> Open(const ObjectRef& ref) override;

  int CompareKeys(std::string_view a, std::string_view b) const override;

  // Probes `key` (a URL) as List() does and returns the ref List() would
  // give it. NotFound when the URL is neither in the list file (re-read) nor
  // added through AddUrls, or when the server answers 404/410; the probe's
  // fetch status otherwise (see Open). REQUIRES: not called from a
  // FetchAsync callback of this source's fetcher.
  absl::StatusOr<ObjectRef> Stat(std::string_view key) override;

  // Adds URLs to the list (kept in memory only: the daemon re-adds what it
  // stored at start). All or nothing: InvalidArgument naming the first bad
  // URL (its index and why), ResourceExhausted when the added URLs would
  // exceed limits.max_urls. URLs already present are not an error.
  absl::Status AddUrls(const std::vector<std::string>& urls);

  // The record of the latest Open() of `key` (body dropped), if still kept.
  std::optional<HttpFetchResult> LastFetch(std::string_view key) const;

  HttpFetcher& fetcher() { return *fetcher_; }

 private:
  UrlListSource(UrlListSourceOptions options, std::shared_ptr<HttpFetcher> fetcher);

  void Record(const std::string& key, const HttpFetchResult& fetch);

  // Constant after construction.
  const std::string id_;
  const UrlListSourceOptions options_;
  const std::shared_ptr<HttpFetcher> fetcher_;

  mutable std::mutex mu_;
  std::set<std::string> added_;                                  // guarded by mu_
  std::unordered_map<std::string, HttpFetchResult> last_fetch_;  // guarded by mu_
  std::deque<std::string> last_fetch_order_;                     // guarded by mu_
};

}  // namespace takedown
