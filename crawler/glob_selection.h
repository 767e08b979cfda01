// The selection rules of a filesystem source's include/exclude globs, shared
// by FilesystemSource (what a listing reports) and FsWatcher (what a watch
// reports), so both always agree:
//  - a file is selected when some include glob matches it and no exclude
//    glob does;
//  - a directory is pruned (never read) when an exclude glob matches it or
//    everything under it, or when no include glob could match anything under
//    it. The root ("") is never pruned.
#pragma once

#include <string_view>
#include <vector>

#include "crawler/glob.h"

namespace takedown {

inline bool GlobsSelectFile(const std::vector<GlobMatcher>& include, const std::vector<GlobMatcher>& exclude,
                            std::string_view key) {
  bool included = false;
  for (const GlobMatcher& glob : include) {
    if (glob.Matches(key)) {
      included = true;
      break;
    }
  }
  if (!included) return false;
  for (const GlobMatcher& glob : exclude) {
    if (glob.Matches(key)) return false;
  }
  return true;
}

inline bool GlobsPruneDirectory(const std::vector<GlobMatcher>& include, const std::vector<GlobMatcher>& exclude,
                                std::string_view dir_key) {
  if (dir_key.empty()) return false;
  for (const GlobMatcher& glob : exclude) {
    if (glob.Matches(dir_key) || glob.MatchesEverythingUnder(dir_key)) return true;
  }
  for (const GlobMatcher& glob : include) {
    if (glob.CouldMatchUnder(dir_key)) return false;
  }
  return true;
}

}  // namespace takedown
