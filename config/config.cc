#include "config/config.h"

namespace takedown {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kHostingProvider:
      return "hosting-provider";
    case Role::kAuthority:
      return "authority";
  }
  return "unknown";
}

std::string_view ListKindName(ListKind kind) {
  switch (kind) {
    case ListKind::kBlocklist:
      return "blocklist";
    case ListKind::kAllowlist:
      return "allowlist";
  }
  return "unknown";
}

std::string_view PdqModeName(PdqMode mode) {
  switch (mode) {
    case PdqMode::kOff:
      return "off";
    case PdqMode::kExact:
      return "exact";
    case PdqMode::kFast:
      return "fast";
  }
  return "unknown";
}

}  // namespace takedown
