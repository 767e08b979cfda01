// HttpObjectReader: an ObjectReader over the body of a completed fetch,
// returned by UrlListSource::Open. Besides the bytes it carries the fetch
// record (status, hops, final URL, peer IP, content type, Server header,
// times), so whoever reads the object can store that evidence with it:
//
//   if (auto* http = dynamic_cast<const HttpObjectReader*>(reader.get()))
//     StoreFetchRecord(http->fetch());
//
// The body is held in memory (bounded by the fetcher's max_body_bytes).
// Not thread-safe; one reader belongs to one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "common/object_reader.h"
#include "crawler/http_fetcher.h"

namespace takedown {

class HttpObjectReader final : public ObjectReader {
 public:
  // REQUIRES: fetch.ok() and the fetch kept its body.
  explicit HttpObjectReader(HttpFetchResult fetch) : fetch_(std::move(fetch)) {}

  absl::StatusOr<size_t> Read(std::span<uint8_t> buffer) override;

  // The whole record, body included.
  const HttpFetchResult& fetch() const { return fetch_; }

 private:
  HttpFetchResult fetch_;
  size_t offset_ = 0;
};

}  // namespace takedown
