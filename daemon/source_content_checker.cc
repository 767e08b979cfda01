#include "daemon/source_content_checker.h"

#include <optional>
#include <utility>

#include "common/hex.h"
#include "fmt/format.h"

namespace takedown {

SourceContentChecker::SourceContentChecker(std::function<Source*(std::string_view)> sources,
                                           HttpFetcher* fetcher, RecheckOptions options)
    : sources_(std::move(sources)), fetcher_(fetcher), options_(std::move(options)) {}

absl::StatusOr<ContentCheck> SourceContentChecker::Recheck(const Case& c) {
  RecheckExpectation expected;
  for (const auto& [type, hex] :
       {std::pair{HashType::kMd5, &c.object.md5_hex}, std::pair{HashType::kSha1, &c.object.sha1_hex},
        std::pair{HashType::kSha256, &c.object.sha256_hex}}) {
    if (hex->empty()) continue;
    std::optional<std::string> raw = HexDecode(*hex);
    if (raw) expected.digests.push_back(ExpectedDigest{type, *raw});
  }
  if (expected.digests.empty()) {
    return absl::FailedPreconditionError(fmt::format(
        "case {}: no digest of the reported content is known, so a re-check cannot tell it apart", c.id));
  }
  absl::StatusOr<RecheckResult> result;
  Source* source = sources_ ? sources_(c.object.source_id) : nullptr;
  if (source != nullptr) {
    ObjectRef ref{c.object.source_id, c.object.key, c.object.version, c.object.size};
    if (absl::StatusOr<ObjectRef> now = source->Stat(c.object.key); now.ok()) {
      ref = *now;
    } else if (absl::IsNotFound(now.status())) {
      return ContentCheck{RecheckOutcome::kGone, std::string(now.status().message())};
    }
    result = RecheckObject(*source, ref, expected, options_);
  } else {
    const std::string& url = c.terms.location.empty() ? c.object.key : c.terms.location;
    if (fetcher_ == nullptr || url.empty()) {
      return absl::FailedPreconditionError(
          fmt::format("case {}: source '{}' is not configured and no URL fetcher is available", c.id,
                      c.object.source_id));
    }
    result = RecheckUrl(*fetcher_, url, expected, options_);
  }
  if (!result.ok()) return result.status();
  return ContentCheck{result->outcome, result->reason};
}

}  // namespace takedown
