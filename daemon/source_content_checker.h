// SourceContentChecker: the daemon's ContentChecker, over crawler/recheck.h.
// A case whose object belongs to a configured source is checked with
// RecheckObject (Stat for the current version, then Open and digest: the
// hosting role, and URL-list sources in the authority role); otherwise its
// location URL (CaseTerms::location, or an http(s) object key) is fetched
// with RecheckUrl. The expected content is the case object's digests (MD5,
// SHA-1, SHA-256, whichever are known); bytes that no longer match count as
// changed. The result holds no content.
//
// Thread-safe if the source lookup and fetcher are. Borrows both.
#pragma once

#include <functional>
#include <string_view>

#include "crawler/http_fetcher.h"
#include "crawler/recheck.h"
#include "crawler/source.h"
#include "daemon/content_checker.h"

namespace takedown {

class SourceContentChecker final : public ContentChecker {
 public:
  // `sources` returns the source with that id or null; `fetcher` may be null
  // (URLs are then not re-checked: kError). options.digester is required.
  SourceContentChecker(std::function<Source*(std::string_view source_id)> sources, HttpFetcher* fetcher,
                       RecheckOptions options);

  // FailedPrecondition for a case with no known digest or nothing to fetch.
  absl::StatusOr<ContentCheck> Recheck(const Case& c) override;

 private:
  std::function<Source*(std::string_view)> sources_;
  HttpFetcher* const fetcher_;
  const RecheckOptions options_;
};

}  // namespace takedown
