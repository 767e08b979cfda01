#include "crawler/url_list_source.h"

#include <algorithm>
#include <future>
#include <utility>

#include "common/hex.h"
#include "common/status_macros.h"
#include "crawler/http_object_reader.h"
#include "crawler/http_url.h"
#include "fmt/format.h"

namespace takedown {
namespace {

struct ProbeResult {
  bool ok = false;
  ObjectRef ref;
  std::string reason;
  absl::Status status;  // why the probe failed, as the fetch maps it
};

// What a probe needs. The fetcher is borrowed: List() waits for every probe
// it starts, so the source (which owns a reference) outlives them. Holding a
// shared_ptr here could make a callback drop the last reference and destroy
// the fetcher on its own thread.
struct ProbeContext {
  HttpFetcher* fetcher;
  BodyDigesterFactory digester;
  std::string source_id;
  std::string url;
};

std::string ValidatorVersion(const HttpFetchResult& fetch) {
  if (!fetch.etag.empty()) return "etag:" + fetch.etag;
  if (!fetch.last_modified.empty()) return "last-modified:" + fetch.last_modified;
  return std::string();
}

ObjectRef RefFrom(const ProbeContext& context, std::string version, uint64_t size) {
  ObjectRef ref;
  ref.source_id = context.source_id;
  ref.key = context.url;
  ref.version = std::move(version);
  ref.size = size;
  return ref;
}

void GetProbe(ProbeContext context, std::shared_ptr<std::promise<ProbeResult>> promise) {
  HttpFetchRequest request;
  request.url = context.url;
  request.keep_body = false;
  request.digester = context.digester;
  HttpFetcher& fetcher = *context.fetcher;
  fetcher.FetchAsync(std::move(request), [context = std::move(context), promise](HttpFetchResult fetch) {
    ProbeResult result;
    if (!fetch.ok() || !fetch.digests.has_value()) {
      result.status = fetch.ToStatus();
      if (result.status.ok()) result.status = absl::InternalError("GET probe produced no digest");
      result.reason = std::string(result.status.message());
      promise->set_value(std::move(result));
      return;
    }
    std::string version = ValidatorVersion(fetch);
    if (version.empty()) version = "sha256:" + HexEncode(fetch.digests->sha256);
    result.ok = true;
    result.ref = RefFrom(context, std::move(version), fetch.body_bytes);
    promise->set_value(std::move(result));
  });
}

std::future<ProbeResult> StartProbe(ProbeContext context, UrlProbe probe) {
  auto promise = std::make_shared<std::promise<ProbeResult>>();
  std::future<ProbeResult> future = promise->get_future();
  if (probe == UrlProbe::kGet) {
    GetProbe(std::move(context), std::move(promise));
    return future;
  }
  HttpFetchRequest request;
  request.url = context.url;
  request.method = HttpMethod::kHead;
  request.keep_body = false;
  HttpFetcher& fetcher = *context.fetcher;
  fetcher.FetchAsync(
      std::move(request), [context = std::move(context), promise](HttpFetchResult fetch) mutable {
        if (fetch.ok() && !ValidatorVersion(fetch).empty()) {
          ProbeResult result;
          result.ok = true;
          result.ref = RefFrom(context, ValidatorVersion(fetch), fetch.content_length.value_or(0));
          promise->set_value(std::move(result));
          return;
        }
        if (fetch.error != FetchError::kNone) {
          // No response at all: a GET would fail the same way, after as long.
          ProbeResult result;
          result.status = fetch.ToStatus();
          result.reason = std::string(result.status.message());
          promise->set_value(std::move(result));
          return;
        }
        GetProbe(std::move(context), std::move(promise));
      });
  return future;
}

}  // namespace

absl::StatusOr<std::unique_ptr<UrlListSource>> UrlListSource::Create(UrlListSourceOptions options) {
  ASSIGN_OR_RETURN(std::unique_ptr<HttpFetcher> fetcher, HttpFetcher::Create(options.fetcher));
  return CreateWithFetcher(std::move(options), std::shared_ptr<HttpFetcher>(std::move(fetcher)));
}

absl::StatusOr<std::unique_ptr<UrlListSource>> UrlListSource::CreateWithFetcher(
    UrlListSourceOptions options, std::shared_ptr<HttpFetcher> fetcher) {
  if (options.id.empty()) return absl::InvalidArgumentError("URL-list source: empty id");
  const std::string where = fmt::format("URL-list source '{}'", options.id);
  if (fetcher == nullptr) return absl::InvalidArgumentError(where + ": no fetcher");
  if (!options.digester) {
    return absl::InvalidArgumentError(where +
                                      ": no body digester (needed for versions of URLs without validators)");
  }
  if (options.list_parallelism < 1 || options.list_parallelism > 256) {
    return absl::InvalidArgumentError(
        fmt::format("{}: list_parallelism {}: must be 1..256", where, options.list_parallelism));
  }
  if (options.limits.max_urls < 1 || options.limits.max_line_bytes < 16) {
    return absl::InvalidArgumentError(where + ": max_urls must be at least 1 and max_line_bytes at least 16");
  }
  if (!options.file.empty()) {
    absl::StatusOr<UrlList> list = ReadUrlListFile(options.file, options.limits);
    if (!list.ok()) return Annotate(list.status(), where);
  }
  return std::unique_ptr<UrlListSource>(new UrlListSource(std::move(options), std::move(fetcher)));
}

UrlListSource::UrlListSource(UrlListSourceOptions options, std::shared_ptr<HttpFetcher> fetcher)
    : id_(options.id), options_(std::move(options)), fetcher_(std::move(fetcher)) {}

int UrlListSource::CompareKeys(std::string_view a, std::string_view b) const {
  const int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

absl::Status UrlListSource::AddUrls(const std::vector<std::string>& urls) {
  for (size_t i = 0; i < urls.size(); ++i) {
    absl::StatusOr<HttpUrl> parsed = ParseHttpUrl(urls[i]);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("URL-list source '{}': AddUrls: URL #{}: {}; nothing added", id_, i + 1,
                      std::string(parsed.status().message())));
    }
  }
  std::lock_guard lock(mu_);
  size_t fresh = 0;
  std::set<std::string_view> counted;
  for (const std::string& url : urls) {
    if (!added_.contains(url) && counted.insert(url).second) ++fresh;
  }
  if (added_.size() + fresh > options_.limits.max_urls) {
    return absl::ResourceExhaustedError(fmt::format(
        "URL-list source '{}': AddUrls: {} added URLs plus {} new would exceed max_urls {}; nothing added",
        id_, added_.size(), fresh, options_.limits.max_urls));
  }
  added_.insert(urls.begin(), urls.end());
  return absl::OkStatus();
}

absl::Status UrlListSource::List(std::string_view after, ListingSink& sink) {
  std::vector<std::string> urls;
  if (!options_.file.empty()) {
    absl::StatusOr<UrlList> list = ReadUrlListFile(options_.file, options_.limits);
    if (!list.ok()) return Annotate(list.status(), fmt::format("URL-list source '{}'", id_));
    if (after.empty()) {
      for (const UrlListProblem& problem : list->problems) sink.OnSkipped(problem.where, problem.message);
    }
    urls = std::move(list->urls);
  }
  {
    std::lock_guard lock(mu_);
    urls.insert(urls.end(), added_.begin(), added_.end());
  }
  std::sort(urls.begin(), urls.end());
  urls.erase(std::unique(urls.begin(), urls.end()), urls.end());
  auto next = after.empty() ? urls.begin() : std::upper_bound(urls.begin(), urls.end(), after);

  // A window of probes in flight, consumed in key order.
  std::deque<std::pair<std::string, std::future<ProbeResult>>> window;
  bool stopped = false;
  while (true) {
    while (!stopped && next != urls.end() && window.size() < static_cast<size_t>(options_.list_parallelism)) {
      ProbeContext context{fetcher_.get(), options_.digester, id_, *next};
      window.emplace_back(*next, StartProbe(std::move(context), options_.probe));
      ++next;
    }
    if (window.empty()) break;
    ProbeResult probe = window.front().second.get();
    const std::string url = std::move(window.front().first);
    window.pop_front();
    if (stopped) continue;  // drain the probes still in flight
    if (!probe.ok) {
      sink.OnSkipped(url, probe.reason);
    } else if (!sink.OnObject(std::move(probe.ref))) {
      stopped = true;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ObjectRef> UrlListSource::Stat(std::string_view key) {
  const std::string url(key);
  bool listed = false;
  {
    std::lock_guard lock(mu_);
    listed = added_.contains(url);
  }
  if (!listed && !options_.file.empty()) {
    absl::StatusOr<UrlList> list = ReadUrlListFile(options_.file, options_.limits);
    if (!list.ok()) return Annotate(list.status(), fmt::format("URL-list source '{}'", id_));
    listed = std::find(list->urls.begin(), list->urls.end(), url) != list->urls.end();
  }
  if (!listed) {
    return absl::NotFoundError(
        fmt::format("URL-list source '{}': '{}' is not in the list{}; only listed URLs are swept (add it to "
                    "the list first)",
                    id_, PrintableUrl(url, 200), options_.file.empty() ? "" : " " + options_.file));
  }
  ProbeContext context{fetcher_.get(), options_.digester, id_, url};
  ProbeResult probe = StartProbe(std::move(context), options_.probe).get();
  if (!probe.ok) {
    absl::Status status = probe.status.ok() ? absl::UnavailableError(probe.reason) : probe.status;
    return Annotate(status, fmt::format("URL-list source '{}'", id_));
  }
  return std::move(probe.ref);
}

absl::StatusOr<std::unique_ptr<ObjectReader>> UrlListSource::Open(const ObjectRef& ref) {
  if (ref.source_id != id_) {
    return absl::InvalidArgumentError(fmt::format("URL-list source '{}': Open of a ref of source '{}'", id_,
                                                  PrintableUrl(ref.source_id, 100)));
  }
  absl::StatusOr<HttpUrl> parsed = ParseHttpUrl(ref.key);
  if (!parsed.ok()) return Annotate(parsed.status(), fmt::format("URL-list source '{}'", id_));
  HttpFetchRequest request;
  request.url = ref.key;
  HttpFetchResult fetch = fetcher_->Fetch(std::move(request));
  Record(ref.key, fetch);
  if (!fetch.ok()) return Annotate(fetch.ToStatus(), fmt::format("URL-list source '{}'", id_));
  return std::make_unique<HttpObjectReader>(std::move(fetch));
}

void UrlListSource::Record(const std::string& key, const HttpFetchResult& fetch) {
  if (options_.max_recorded_fetches == 0) return;
  HttpFetchResult record;
  record.requested_url = fetch.requested_url;
  record.final_url = fetch.final_url;
  record.hops = fetch.hops;
  record.error = fetch.error;
  record.error_message = fetch.error_message;
  record.status = fetch.status;
  record.ip = fetch.ip;
  record.content_type = fetch.content_type;
  record.server = fetch.server;
  record.etag = fetch.etag;
  record.last_modified = fetch.last_modified;
  record.content_length = fetch.content_length;
  record.headers = fetch.headers;
  record.start = fetch.start;
  record.duration = fetch.duration;
  record.body_bytes = fetch.body_bytes;
  record.digests = fetch.digests;
  std::lock_guard lock(mu_);
  auto [it, inserted] = last_fetch_.insert_or_assign(key, std::move(record));
  if (!inserted) return;
  last_fetch_order_.push_back(key);
  while (last_fetch_order_.size() > options_.max_recorded_fetches) {
    last_fetch_.erase(last_fetch_order_.front());
    last_fetch_order_.pop_front();
  }
}

std::optional<HttpFetchResult> UrlListSource::LastFetch(std::string_view key) const {
  std::lock_guard lock(mu_);
  auto it = last_fetch_.find(std::string(key));
  if (it == last_fetch_.end()) return std::nullopt;
  return it->second;
}

}  // namespace takedown
