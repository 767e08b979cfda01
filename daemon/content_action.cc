#include "daemon/content_action.h"

#include "fmt/format.h"

namespace takedown {

std::string_view ContentActionKindName(ContentActionKind kind) {
  switch (kind) {
    case ContentActionKind::kDisable:
      return "disable";
    case ContentActionKind::kQuarantine:
      return "quarantine";
    case ContentActionKind::kDelete:
      return "delete";
  }
  return "unknown";
}

absl::StatusOr<ContentActionKind> ParseContentActionKind(std::string_view name) {
  for (ContentActionKind k :
       {ContentActionKind::kDisable, ContentActionKind::kQuarantine, ContentActionKind::kDelete}) {
    if (ContentActionKindName(k) == name) return k;
  }
  return absl::InvalidArgumentError(fmt::format(
      "unknown content action '{}'; use disable, quarantine or delete", std::string(name).substr(0, 64)));
}

}  // namespace takedown
