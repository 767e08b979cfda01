// SourceContentAction: the ContentAction of a running daemon. It carries out
// a removal order's action on the configured source that holds the object:
//
//   source        disable                     quarantine                  delete
//   filesystem    mode 000 (content kept)     move to quarantine_dir      unlink
//   s3            tag <disable_tag> (*)       copy to the quarantine      DeleteObject
//                                             location, then delete
//   url_list      FailedPrecondition: the content is not ours to touch
//
// (*) a tag alone does not stop reads: the bucket policy must deny
// s3:GetObject for objects carrying it (docs/removal-orders.md shows one).
// The object's other tags are kept.
//
// Thread-safe; borrows the sources through `lookup`, which must stay valid.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "crawler/source.h"
#include "daemon/content_action.h"

namespace takedown {

struct SourceContentActionOptions {
  // Where filesystem sources quarantine files (<dir>/<source id>/<key>);
  // empty: quarantine is refused for them (FailedPrecondition).
  std::string filesystem_quarantine_dir;
  // The tag `disable` sets on S3 objects.
  std::pair<std::string, std::string> s3_disable_tag = {"takedown-access", "disabled"};
};

class SourceContentAction final : public ContentAction {
 public:
  // `lookup` returns the source with that id, or null.
  SourceContentAction(std::function<Source*(std::string_view)> lookup, SourceContentActionOptions options);

  // NotFound for an unknown source id (or an object that is gone, where the
  // action cannot be done without it); the errors of the source's action.
  absl::Status Execute(const ContentTarget& target, ContentActionKind kind) override;

 private:
  const std::function<Source*(std::string_view)> lookup_;
  const SourceContentActionOptions options_;
};

}  // namespace takedown
