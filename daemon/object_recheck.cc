#include "daemon/object_recheck.h"

#include <string>

#include "crawler/url_list_source.h"
#include "fmt/format.h"

namespace takedown {

absl::StatusOr<RecheckResult> RecheckStoredObject(Source& source, const ObjectRecord& record,
                                                  const RecheckOptions& options) {
  if (record.source_id != source.id()) {
    return absl::InvalidArgumentError(fmt::format("re-check: the record of {}:{} is not of source '{}'",
                                                  record.source_id, record.key, source.id()));
  }
  if (record.status != ObjectStatus::kHashed) {
    return absl::FailedPreconditionError(fmt::format(
        "{}:{} was never read ({}: {}), so there are no digests to compare with; scan it again first",
        record.source_id, record.key, ObjectStatusName(record.status), record.error));
  }
  RecheckExpectation expected;
  for (HashType type : {HashType::kMd5, HashType::kSha1, HashType::kSha256}) {
    expected.digests.push_back(ExpectedDigest{type, std::string(record.digests.Get(type))});
  }
  ObjectRef ref;
  ref.source_id = record.source_id;
  ref.key = record.key;
  // A URL is fetched once, by RecheckObject itself: a probe first would only
  // fold 451, notice pages and refused connections into status codes.
  if (dynamic_cast<UrlListSource*>(&source) == nullptr) {
    absl::StatusOr<ObjectRef> current = source.Stat(record.key);
    if (current.ok()) ref = *std::move(current);
  }
  return RecheckObject(source, ref, expected, options);
}

}  // namespace takedown
