#include "crawler/glob.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "fmt/format.h"

namespace takedown {
namespace {

constexpr size_t kMaxPatternBytes = 4096;

absl::Status PatternError(const std::string& pattern, size_t offset, std::string_view what) {
  return absl::InvalidArgumentError(
      fmt::format("glob pattern '{}': {} at byte offset {}", pattern, what, offset));
}

// Calls fn(component) for every '/'-separated component of `path`; an empty
// path has no components. Stops early when fn returns false.
template <typename Fn>
void ForEachComponent(std::string_view path, Fn fn) {
  if (path.empty()) return;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view component =
        path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!fn(component)) return;
    if (slash == std::string_view::npos) return;
    start = slash + 1;
  }
}

}  // namespace

bool GlobMatcher::Token::MatchesByte(unsigned char c) const {
  switch (kind) {
    case Kind::kLiteral:
      return c == static_cast<unsigned char>(literal);
    case Kind::kAnyByte:
      return true;
    case Kind::kClass: {
      bool in_set = false;
      for (const auto& [lo, hi] : ranges) {
        if (c >= lo && c <= hi) {
          in_set = true;
          break;
        }
      }
      return in_set != negated;
    }
    case Kind::kStar:
      return false;
  }
  return false;
}

bool GlobMatcher::Segment::MatchesComponent(std::string_view component) const {
  // Two-pointer wildcard match: on a mismatch, retry from the most recent '*'
  // consuming one more byte. Earlier stars never need revisiting, so this is
  // O(tokens * bytes) at worst.
  constexpr size_t kNone = static_cast<size_t>(-1);
  const size_t n = tokens.size();
  size_t t = 0, c = 0, star_t = kNone, star_c = 0;
  while (c < component.size()) {
    if (t < n && tokens[t].kind == Token::Kind::kStar) {
      star_t = t++;
      star_c = c;
    } else if (t < n && tokens[t].MatchesByte(static_cast<unsigned char>(component[c]))) {
      ++t;
      ++c;
    } else if (star_t != kNone) {
      t = star_t + 1;
      c = ++star_c;
    } else {
      return false;
    }
  }
  while (t < n && tokens[t].kind == Token::Kind::kStar) ++t;
  return t == n;
}

absl::StatusOr<GlobMatcher> GlobMatcher::Create(std::string pattern) {
  if (pattern.empty()) {
    return absl::InvalidArgumentError("glob pattern is empty; use '**' to match every key");
  }
  if (pattern.size() > kMaxPatternBytes) {
    return absl::InvalidArgumentError(
        fmt::format("glob pattern '{}...' is {} bytes long; at most {} are allowed", pattern.substr(0, 64),
                    pattern.size(), kMaxPatternBytes));
  }

  GlobMatcher matcher;
  size_t start = 0;
  while (start <= pattern.size()) {
    size_t slash = pattern.find('/', start);
    size_t end = slash == std::string::npos ? pattern.size() : slash;
    std::string_view text(pattern.data() + start, end - start);
    if (text.empty()) {
      return PatternError(pattern, start,
                          "empty path component (patterns are relative to the source root, "
                          "without a leading, trailing or doubled '/')");
    }

    Segment segment;
    if (text == "**") {
      segment.globstar = true;
    } else {
      for (size_t i = 0; i < text.size(); ++i) {
        const size_t offset = start + i;
        Token token{};
        switch (text[i]) {
          case '*':
            if (!segment.tokens.empty() && segment.tokens.back().kind == Token::Kind::kStar) {
              continue;
            }
            token.kind = Token::Kind::kStar;
            break;
          case '?':
            token.kind = Token::Kind::kAnyByte;
            break;
          case '\\':
            if (i + 1 == text.size()) {
              return PatternError(pattern, offset, "'\\' with nothing to escape (a name cannot contain '/')");
            }
            token.kind = Token::Kind::kLiteral;
            token.literal = text[++i];
            break;
          case '[': {
            token.kind = Token::Kind::kClass;
            size_t j = i + 1;
            if (j < text.size() && (text[j] == '!' || text[j] == '^')) {
              token.negated = true;
              ++j;
            }
            bool first = true;
            bool closed = false;
            while (j < text.size()) {
              if (text[j] == ']' && !first) {
                closed = true;
                break;
              }
              first = false;
              // Reads one class member byte at text[k], honouring '\'.
              auto read_member = [&](size_t& k) -> unsigned char {
                if (text[k] == '\\' && k + 1 < text.size()) ++k;
                return static_cast<unsigned char>(text[k++]);
              };
              unsigned char lo = read_member(j);
              unsigned char hi = lo;
              if (j + 1 < text.size() && text[j] == '-' && text[j + 1] != ']') {
                ++j;
                hi = read_member(j);
                if (hi < lo) {
                  return PatternError(pattern, offset,
                                      fmt::format("reversed range '{}-{}' in '[...]'", static_cast<char>(lo),
                                                  static_cast<char>(hi)));
                }
              }
              token.ranges.emplace_back(lo, hi);
            }
            if (!closed) {
              return PatternError(pattern, offset,
                                  "unterminated '[' (a class must end with ']' and cannot contain '/')");
            }
            i = j;
            break;
          }
          default:
            token.kind = Token::Kind::kLiteral;
            token.literal = text[i];
            break;
        }
        segment.tokens.push_back(std::move(token));
      }
      segment.any_component = true;
      for (const Token& token : segment.tokens) {
        if (token.kind != Token::Kind::kStar) segment.any_component = false;
      }
    }
    matcher.segments_.push_back(std::move(segment));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }

  // "a/**" means "everything under a": a trailing globstar after other
  // components needs at least one component, expressed as "a/*/**".
  if (matcher.segments_.size() > 1 && matcher.segments_.back().globstar) {
    Segment any;
    any.any_component = true;
    Token star{};
    star.kind = Token::Kind::kStar;
    any.tokens.push_back(std::move(star));
    matcher.segments_.insert(matcher.segments_.end() - 1, std::move(any));
  }

  const size_t m = matcher.segments_.size();
  matcher.suffix_matches_any_nonempty_.assign(m + 1, false);
  for (size_t i = 0; i < m; ++i) {
    int globstars = 0, any_components = 0;
    bool others = false;
    for (size_t k = i; k < m; ++k) {
      if (matcher.segments_[k].globstar) {
        ++globstars;
      } else if (matcher.segments_[k].any_component) {
        ++any_components;
      } else {
        others = true;
      }
    }
    matcher.suffix_matches_any_nonempty_[i] = !others && globstars >= 1 && any_components <= 1;
  }
  matcher.pattern_ = std::move(pattern);
  return matcher;
}

void GlobMatcher::AddGlobstarClosure(std::vector<bool>& states) const {
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (states[i] && segments_[i].globstar) states[i + 1] = true;
  }
}

std::vector<bool> GlobMatcher::StatesAfter(std::string_view path) const {
  const size_t m = segments_.size();
  std::vector<bool> states(m + 1, false);
  states[0] = true;
  AddGlobstarClosure(states);
  std::vector<bool> next(m + 1);
  ForEachComponent(path, [&](std::string_view component) {
    std::fill(next.begin(), next.end(), false);
    bool any = false;
    for (size_t i = 0; i < m; ++i) {
      if (!states[i]) continue;
      if (segments_[i].globstar) {
        next[i] = true;
        any = true;
      } else if (segments_[i].MatchesComponent(component)) {
        next[i + 1] = true;
        any = true;
      }
    }
    AddGlobstarClosure(next);
    states.swap(next);
    return any;
  });
  return states;
}

bool GlobMatcher::Matches(std::string_view key) const { return StatesAfter(key)[segments_.size()]; }

bool GlobMatcher::CouldMatchUnder(std::string_view dir_key) const {
  std::vector<bool> states = StatesAfter(dir_key);
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (states[i]) return true;
  }
  return false;
}

bool GlobMatcher::MatchesEverythingUnder(std::string_view dir_key) const {
  std::vector<bool> states = StatesAfter(dir_key);
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (states[i] && suffix_matches_any_nonempty_[i]) return true;
  }
  return false;
}

}  // namespace takedown
