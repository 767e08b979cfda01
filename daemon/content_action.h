// ContentAction: carries out a removal decision on a stored object — disable
// access, move it to quarantine, or delete it — for removal orders executed
// by the hosting provider (daemon/order_intake.h).
//
// Implementations wrap a source's own operations (the S3 source can delete
// and copy to a quarantine prefix; a filesystem source could chmod or move);
// tests use a fake. Must be thread-safe; may block.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace takedown {

enum class ContentActionKind {
  kDisable,     // access disabled, content kept (Annex II: access disabled)
  kQuarantine,  // moved out of public reach, kept for preservation (access disabled)
  kDelete,      // removed (Annex II: removed)
};

// "disable", "quarantine", "delete".
std::string_view ContentActionKindName(ContentActionKind kind);
// InvalidArgument naming the valid names otherwise.
absl::StatusOr<ContentActionKind> ParseContentActionKind(std::string_view name);

// Where the object lives, as the sources name it.
struct ContentTarget {
  std::string source_id;
  std::string key;
};

class ContentAction {
 public:
  virtual ~ContentAction() = default;
  // OK once the action is done, including when it was already done (an
  // object already deleted is OK for kDelete). Unavailable for transient
  // failures (try again), FailedPrecondition when the source cannot do this
  // action, NotFound when the object does not exist.
  virtual absl::Status Execute(const ContentTarget& target, ContentActionKind kind) = 0;
};

}  // namespace takedown
