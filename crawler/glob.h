// GlobMatcher: one include/exclude pattern over '/'-separated object keys
// ("photos/2024/a.jpg"), compiled once and matched many times.
//
// Syntax, per path component (a pattern is split on '/'):
//   *        any run of bytes within one component (possibly empty)
//   ?        exactly one byte (not one UTF-8 character)
//   [abc]    one byte from the set; ranges [a-z]; negation [!x] or [^x];
//            a ']' right after '[' (or '[!') is literal; a class cannot span '/'
//   \c       the byte c literally (to match '*', '?', '[' or '\' in a name)
//   **       as a whole component: any number of components, including zero
//            ("**/x.jpg" matches "x.jpg" and "a/b/x.jpg"). As the last of
//            several components it needs at least one ("a/**" matches
//            everything under "a" but not "a" itself), as in .gitignore.
//            Elsewhere ("a**b") it is the same as "*".
// A pattern is relative to the source root: it must not be empty, start or
// end with '/', or contain "//".
//
// Matching simulates the pattern as an automaton over components (no
// backtracking across components) and matches each component with the
// two-pointer wildcard algorithm, so the cost is O(pattern * key) in the
// worst case, never exponential.
//
// A GlobMatcher is immutable after Create() and safe to use from any number of
// threads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace takedown {

class GlobMatcher {
 public:
  // Compiles `pattern`. InvalidArgument, naming the pattern and the offending
  // byte offset, for an unterminated '[', a trailing '\', or an empty
  // component.
  static absl::StatusOr<GlobMatcher> Create(std::string pattern);

  const std::string& pattern() const { return pattern_; }

  // True when the whole key matches the whole pattern.
  bool Matches(std::string_view key) const;

  // False only when no key under the directory `dir_key` ("dir_key/...") can
  // match; a directory for which an include pattern returns false can be
  // skipped without being read. May return true when no key actually can.
  bool CouldMatchUnder(std::string_view dir_key) const;

  // True only when every key under the directory `dir_key` matches (exclude
  // "**/.snapshot/**" and dir_key "vol/.snapshot"); such a directory can be
  // pruned by an exclude pattern. May return false when all keys in fact do.
  bool MatchesEverythingUnder(std::string_view dir_key) const;

 private:
  struct Token {
    enum class Kind { kLiteral, kAnyByte, kClass, kStar };
    Kind kind;
    char literal = 0;
    // kClass: inclusive byte ranges, and whether the set is negated.
    std::vector<std::pair<unsigned char, unsigned char>> ranges;
    bool negated = false;

    bool MatchesByte(unsigned char c) const;
  };

  struct Segment {
    bool globstar = false;       // "**": zero or more whole components
    bool any_component = false;  // only '*' tokens: matches every component
    std::vector<Token> tokens;   // when !globstar

    bool MatchesComponent(std::string_view component) const;
  };

  GlobMatcher() = default;

  // States (segment indices) the automaton can be in after consuming every
  // component of `path`; state i means segments [0, i) have matched. The
  // result has size segments_.size() + 1.
  std::vector<bool> StatesAfter(std::string_view path) const;
  void AddGlobstarClosure(std::vector<bool>& states) const;

  std::string pattern_;
  std::vector<Segment> segments_;
  // suffix_matches_any_nonempty_[i]: segments [i, end) match every non-empty
  // sequence of components.
  std::vector<bool> suffix_matches_any_nonempty_;
};

}  // namespace takedown
