#include "matcher/hash_list.h"

namespace takedown {

bool IsValidEntryId(std::string_view id) {
  if (id.empty() || id.size() > kMaxEntryIdBytes) return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace takedown
