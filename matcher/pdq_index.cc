#include "matcher/pdq_index.h"

#include <fmt/format.h>

namespace takedown {

bool PdqMatchLess(const PdqMatch& a, const PdqMatch& b) {
  if (a.distance != b.distance) return a.distance < b.distance;
  if (a.entry.list_name != b.entry.list_name) return a.entry.list_name < b.entry.list_name;
  return a.entry.entry_id < b.entry.entry_id;
}

absl::Status ValidatePdqIndexEntries(const std::vector<PdqIndexEntry>& entries) {
  for (size_t i = 0; i < entries.size(); ++i) {
    const PdqIndexEntry& entry = entries[i];
    if (entry.list_name.empty()) {
      return absl::InvalidArgumentError(
          fmt::format("PDQ index insert: entry {} (id '{}') has an empty list name; every entry needs the "
                      "name of its hash list",
                      i, entry.entry_id.substr(0, 64)));
    }
    if (entry.list_name.size() > PdqIndex::kMaxNameBytes || entry.entry_id.size() > PdqIndex::kMaxNameBytes) {
      return absl::InvalidArgumentError(
          fmt::format("PDQ index insert: entry {} of list '{}' has a list name of {} bytes and an id of {} "
                      "bytes; at most {} bytes each are accepted",
                      i, entry.list_name.substr(0, 64), entry.list_name.size(), entry.entry_id.size(),
                      PdqIndex::kMaxNameBytes));
    }
  }
  return absl::OkStatus();
}

}  // namespace takedown
