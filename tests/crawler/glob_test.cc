#include "crawler/glob.h"

#include <fnmatch.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace takedown {
namespace {

GlobMatcher MustCreate(const std::string& pattern) {
  auto glob = GlobMatcher::Create(pattern);
  EXPECT_TRUE(glob.ok()) << pattern << ": " << glob.status();
  return *std::move(glob);
}

struct MatchCase {
  const char* pattern;
  const char* key;
  bool matches;
};

TEST(GlobMatcher, MatchesTable) {
  const MatchCase cases[] = {
      {"*.jpg", "a.jpg", true},
      {"*.jpg", "dir/a.jpg", false},  // '*' stays within one component
      {"*.jpg", ".jpg", true},
      {"a?c", "abc", true},
      {"a?c", "ac", false},
      {"a?c", "a/c", false},
      {"[abc].txt", "b.txt", true},
      {"[abc].txt", "d.txt", false},
      {"[a-c]x", "bx", true},
      {"[a-c]x", "dx", false},
      {"[!a-c]x", "dx", true},
      {"[!a-c]x", "ax", false},
      {"[^a]", "b", true},
      {"[]a]", "]", true},
      {"[!]]", "]", false},
      {"[a-]", "-", true},
      {"\\*", "*", true},
      {"\\*", "x", false},
      {"a\\?b", "a?b", true},
      {"**/x.jpg", "x.jpg", true},
      {"**/x.jpg", "a/b/x.jpg", true},
      {"**/x.jpg", "a/b/y.jpg", false},
      {"a/**", "a/b", true},
      {"a/**", "a/b/c/d", true},
      {"a/**", "a", false},  // everything under a, not a itself
      {"a/**", "ab/c", false},
      {"a/**/z", "a/z", true},
      {"a/**/z", "a/b/c/z", true},
      {"a/**/z", "a/b/c/y", false},
      {"**", "anything/at/all", true},
      {"**/.snapshot/**", "vol/.snapshot/x", true},
      {"**/.snapshot/**", ".snapshot/x/y", true},
      {"**/.snapshot/**", "vol/.snapshot", false},
      {"a**b", "axxb", true},  // "**" inside a component is '*'
      {"a**b", "ax/xb", false},
      {"photos/*/*.png", "photos/2024/p.png", true},
      {"photos/*/*.png", "photos/2024/05/p.png", false},
      {"\xc3\xa9*", "\xc3\xa9t\xc3\xa9", true},
      {"[\x80-\xff]?", "\xc3\xa9", true},
  };
  for (const MatchCase& c : cases) {
    EXPECT_EQ(MustCreate(c.pattern).Matches(c.key), c.matches)
        << "pattern '" << c.pattern << "' key '" << c.key << "'";
  }
}

TEST(GlobMatcher, RejectsMalformedPatternsWithReason) {
  const std::pair<const char*, const char*> cases[] = {
      {"[abc", "unterminated '['"},
      {"a/[b/c]", "unterminated '['"},
      {"[!", "unterminated '['"},
      {"[]", "unterminated '['"},
      {"abc\\", "nothing to escape"},
      {"[z-a]", "reversed range"},
      {"", "empty"},
      {"/etc/*", "empty path component"},
      {"a/", "empty path component"},
      {"a//b", "empty path component"},
  };
  for (const auto& [pattern, reason] : cases) {
    auto glob = GlobMatcher::Create(pattern);
    ASSERT_FALSE(glob.ok()) << pattern;
    EXPECT_EQ(glob.status().code(), absl::StatusCode::kInvalidArgument);
    std::string message(glob.status().message());
    EXPECT_NE(message.find(reason), std::string::npos) << message;
  }
  auto unterminated = GlobMatcher::Create("ok/x[ab");
  ASSERT_FALSE(unterminated.ok());
  EXPECT_NE(std::string(unterminated.status().message()).find("'ok/x[ab'"), std::string::npos);
  EXPECT_NE(std::string(unterminated.status().message()).find("offset 4"), std::string::npos);
  EXPECT_FALSE(GlobMatcher::Create(std::string(5000, 'a')).ok());
}

TEST(GlobMatcher, PrunesDirectories) {
  GlobMatcher snapshot = MustCreate("**/.snapshot/**");
  EXPECT_TRUE(snapshot.MatchesEverythingUnder(".snapshot"));
  EXPECT_TRUE(snapshot.MatchesEverythingUnder("vol/home/.snapshot"));
  EXPECT_TRUE(snapshot.MatchesEverythingUnder("vol/.snapshot/daily"));
  EXPECT_FALSE(snapshot.MatchesEverythingUnder("vol"));
  EXPECT_FALSE(snapshot.MatchesEverythingUnder("vol/.snapshots"));

  GlobMatcher under_tmp = MustCreate("tmp/**");
  EXPECT_TRUE(under_tmp.MatchesEverythingUnder("tmp"));
  EXPECT_FALSE(under_tmp.MatchesEverythingUnder("tmpx"));
  EXPECT_FALSE(MustCreate("tmp/*").MatchesEverythingUnder("tmp"));
  EXPECT_FALSE(MustCreate("tmp/**/*.jpg").MatchesEverythingUnder("tmp"));

  GlobMatcher jpgs = MustCreate("photos/**/*.jpg");
  EXPECT_TRUE(jpgs.CouldMatchUnder(""));
  EXPECT_TRUE(jpgs.CouldMatchUnder("photos"));
  EXPECT_TRUE(jpgs.CouldMatchUnder("photos/2024/05"));
  EXPECT_FALSE(jpgs.CouldMatchUnder("videos"));
  GlobMatcher one_level = MustCreate("docs/*.txt");
  EXPECT_TRUE(one_level.CouldMatchUnder("docs"));
  EXPECT_FALSE(one_level.CouldMatchUnder("docs/sub"));
  EXPECT_FALSE(one_level.CouldMatchUnder("src"));
}

TEST(GlobMatcher, AdversarialPatternsStayFast) {
  std::string pattern;
  for (int i = 0; i < 30; ++i) pattern += "*a";
  pattern += "*b";
  const std::string component(20000, 'a');
  std::string globstars;
  for (int i = 0; i < 30; ++i) globstars += "**/a/";
  globstars += "b";
  std::string deep_key;
  for (int i = 0; i < 2000; ++i) deep_key += i == 0 ? "a" : "/a";

  GlobMatcher stars = MustCreate(pattern);
  GlobMatcher deep = MustCreate(globstars);
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(stars.Matches(component));
  EXPECT_TRUE(stars.Matches(component + "b"));
  EXPECT_FALSE(deep.Matches(deep_key));
  EXPECT_TRUE(deep.Matches(deep_key + "/b"));
  EXPECT_TRUE(deep.CouldMatchUnder(deep_key));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

// Reference semantics, exponential but fine on tiny inputs: fnmatch(3) per
// component, "**" as zero or more components, a trailing "/**" one or more.
bool ReferenceMatch(const std::vector<std::string>& segs, size_t s, const std::vector<std::string>& comps,
                    size_t c) {
  if (s == segs.size()) return c == comps.size();
  if (segs[s] == "**") {
    const size_t min_take = (s + 1 == segs.size() && segs.size() > 1) ? 1 : 0;
    for (size_t take = min_take; c + take <= comps.size(); ++take) {
      if (ReferenceMatch(segs, s + 1, comps, c + take)) return true;
    }
    return false;
  }
  if (c == comps.size()) return false;
  if (fnmatch(segs[s].c_str(), comps[c].c_str(), 0) != 0) return false;
  return ReferenceMatch(segs, s + 1, comps, c + 1);
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t slash = s.find('/', start);
    out.push_back(s.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) return out;
    start = slash + 1;
  }
}

TEST(GlobMatcher, AgreesWithReferenceOnRandomPatterns) {
  std::mt19937 rng(20240611);
  const std::vector<std::string> atoms = {"a", "b", "*", "?", "[ab]", "[!a]", "[a-b]", "aa"};
  auto random_pattern = [&] {
    const int segments = 1 + static_cast<int>(rng() % 4);
    std::string p;
    for (int s = 0; s < segments; ++s) {
      if (s) p += '/';
      if (rng() % 4 == 0) {
        p += "**";
        continue;
      }
      const int n = 1 + static_cast<int>(rng() % 3);
      for (int i = 0; i < n; ++i) p += atoms[rng() % atoms.size()];
    }
    return p;
  };
  auto random_key = [&] {
    const int components = 1 + static_cast<int>(rng() % 5);
    std::string k;
    for (int c = 0; c < components; ++c) {
      if (c) k += '/';
      const int n = 1 + static_cast<int>(rng() % 3);
      for (int i = 0; i < n; ++i) k += "ab"[rng() % 2];
    }
    return k;
  };

  int matched = 0, prunable = 0;
  for (int round = 0; round < 400; ++round) {
    const std::string pattern = random_pattern();
    GlobMatcher glob = MustCreate(pattern);
    const std::vector<std::string> segs = Split(pattern);
    std::vector<std::string> keys;
    for (int i = 0; i < 40; ++i) keys.push_back(random_key());
    for (const std::string& key : keys) {
      const bool expected = ReferenceMatch(segs, 0, Split(key), 0);
      matched += expected;
      ASSERT_EQ(glob.Matches(key), expected) << "pattern '" << pattern << "' key '" << key << "'";
    }
    // Directory predicates must be sound: never prune what could match.
    for (int d = 0; d < 5; ++d) {
      const std::string& dir = keys[d];
      bool any_under = false, all_under = true;
      for (int i = 0; i < 20; ++i) {
        const std::string key = dir + "/" + random_key();
        const bool m = ReferenceMatch(segs, 0, Split(key), 0);
        any_under |= m;
        all_under &= m;
      }
      if (any_under) {
        EXPECT_TRUE(glob.CouldMatchUnder(dir)) << pattern << " under " << dir;
      }
      if (glob.MatchesEverythingUnder(dir)) {
        ++prunable;
        EXPECT_TRUE(all_under) << pattern << " under " << dir;
      }
    }
  }
  // The random cases exercise both outcomes and the pruning predicate.
  EXPECT_GT(matched, 100);
  EXPECT_GT(prunable, 10);
}

}  // namespace
}  // namespace takedown
