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

}  // namespace takedown
