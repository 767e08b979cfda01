#include "matcher/exact_index.h"

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace takedown {
namespace {

// A raw digest of `length` bytes derived from `n`.
std::string Digest(uint32_t n, size_t length) {
  std::string d(length, '\0');
  for (size_t i = 0; i < length; ++i) d[i] = static_cast<char>((n >> (8 * (i % 4))) ^ (i * 37));
  return d;
}

HashListEntry Entry(HashType type, uint32_t n, std::string id,
                    ContentCategory category = ContentCategory::kCsam) {
  HashListEntry e;
  e.type = type;
  e.digest = Digest(n, HashTypeLength(type));
  e.category = category;
  e.entry_id = std::move(id);
  return e;
}

DigestSet Query(uint32_t md5, uint32_t sha1, uint32_t sha256) {
  DigestSet d;
  std::memcpy(d.md5.data(), Digest(md5, 16).data(), 16);
  std::memcpy(d.sha1.data(), Digest(sha1, 20).data(), 20);
  std::memcpy(d.sha256.data(), Digest(sha256, 32).data(), 32);
  return d;
}

std::string Describe(const ExactMatch& m) {
  return std::string(m.entry.list_name) + "@" + m.entry.list_version + "/" +
         std::string(HashTypeName(m.type)) + "/" + m.entry.entry_id + "/" +
         std::string(ContentCategoryName(m.entry.category));
}

std::vector<std::string> Describe(const std::vector<ExactMatch>& matches) {
  std::vector<std::string> out;
  for (const ExactMatch& m : matches) out.push_back(Describe(m));
  return out;
}

TEST(ExactIndex, EmptyIndexMatchesNothing) {
  ExactIndex index;
  EXPECT_TRUE(index.Lookup(Query(1, 2, 3)).empty());
  EXPECT_EQ(index.size(), 0u);
  EXPECT_TRUE(index.ListSizes().empty());
}

TEST(ExactIndex, FindsEveryTypeInEveryListInDeterministicOrder) {
  ExactIndex index;
  index.ReplaceList("ncmec", "v2",
                    {Entry(HashType::kSha256, 3, "n-3"), Entry(HashType::kMd5, 1, "n-1"),
                     Entry(HashType::kMd5, 99, "n-99")});
  index.ReplaceList("iwf", "v7",
                    {Entry(HashType::kSha1, 2, "i-2", ContentCategory::kTerrorist),
                     Entry(HashType::kMd5, 1, "i-1", ContentCategory::kOther)});

  std::vector<ExactMatch> matches = index.Lookup(Query(1, 2, 3));
  EXPECT_EQ(Describe(matches),
            (std::vector<std::string>{"iwf@v7/md5/i-1/other", "iwf@v7/sha1/i-2/terrorist",
                                      "ncmec@v2/md5/n-1/csam", "ncmec@v2/sha256/n-3/csam"}));
  ASSERT_EQ(matches.size(), 4u);
  EXPECT_EQ(matches[0].digest, Digest(1, 16));
  EXPECT_EQ(matches[1].digest, Digest(2, 20));
  EXPECT_EQ(matches[3].digest, Digest(3, 32));

  EXPECT_EQ(Describe(index.Lookup(Query(99, 5, 5))), (std::vector<std::string>{"ncmec@v2/md5/n-99/csam"}));
  EXPECT_TRUE(index.Lookup(Query(4, 5, 6)).empty());
  EXPECT_EQ(index.size(), 5u);
  EXPECT_EQ(index.ListSizes(), (std::vector<std::pair<std::string, size_t>>{{"iwf", 2}, {"ncmec", 3}}));
}

TEST(ExactIndex, SameDigestUnderAnotherTypeDoesNotMatch) {
  ExactIndex index;
  HashListEntry e = Entry(HashType::kSha1, 1, "x");
  index.ReplaceList("l", "v", {e});
  DigestSet q;  // md5 = the first 16 bytes of the SHA-1 entry's digest
  std::memcpy(q.md5.data(), e.digest.data(), 16);
  EXPECT_TRUE(index.Lookup(q).empty());
}

TEST(ExactIndex, ReplaceListSwapsTheWholeListAndRemoveListDropsIt) {
  ExactIndex index;
  index.ReplaceList("a", "v1", {Entry(HashType::kMd5, 1, "old-1"), Entry(HashType::kMd5, 2, "old-2")});
  index.ReplaceList("b", "v1", {Entry(HashType::kMd5, 1, "b-1")});
  index.ReplaceList("a", "v2", {Entry(HashType::kMd5, 2, "new-2"), Entry(HashType::kMd5, 3, "new-3")});

  EXPECT_EQ(Describe(index.Lookup(Query(1, 0, 0))), (std::vector<std::string>{"b@v1/md5/b-1/csam"}));
  EXPECT_EQ(Describe(index.Lookup(Query(2, 0, 0))), (std::vector<std::string>{"a@v2/md5/new-2/csam"}));
  EXPECT_EQ(index.size(), 3u);

  index.RemoveList("a");
  index.RemoveList("never-loaded");
  EXPECT_TRUE(index.Lookup(Query(2, 0, 0)).empty());
  EXPECT_EQ(index.ListSizes(), (std::vector<std::pair<std::string, size_t>>{{"b", 1}}));

  index.ReplaceList("b", "v2", {});
  EXPECT_TRUE(index.Lookup(Query(1, 0, 0)).empty());
  EXPECT_EQ(index.ListSizes(), (std::vector<std::pair<std::string, size_t>>{{"b", 0}}));
}

// PDQ entries are matched by distance elsewhere: a PDQ entry whose 32 bytes
// equal an object's SHA-256 must not match it, and is not counted.
TEST(ExactIndex, IgnoresPdqEntries) {
  ExactIndex index;
  HashListEntry pdq = Entry(HashType::kPdq, 3, "p-3");
  ASSERT_EQ(pdq.digest, Digest(3, 32));
  index.ReplaceList("mixed", "v1", {pdq, Entry(HashType::kMd5, 1, "m-1"), Entry(HashType::kSha256, 4, "s-4")});
  EXPECT_EQ(index.size(), 2u);
  EXPECT_EQ(index.ListSizes(), (std::vector<std::pair<std::string, size_t>>{{"mixed", 2}}));
  EXPECT_TRUE(index.Lookup(Query(0, 0, 3)).empty());
  EXPECT_EQ(Describe(index.Lookup(Query(1, 0, 4))),
            (std::vector<std::string>{"mixed@v1/md5/m-1/csam", "mixed@v1/sha256/s-4/csam"}));

  index.ReplaceList("only-pdq", "v1", {Entry(HashType::kPdq, 5, "p-5")});
  EXPECT_EQ(index.ListSizes(),
            (std::vector<std::pair<std::string, size_t>>{{"mixed", 2}, {"only-pdq", 0}}));
  EXPECT_TRUE(index.Lookup(Query(5, 5, 5)).empty());
}

TEST(ExactIndex, IgnoresBadLengthsAndKeepsTheFirstOfRepeatedDigests) {
  ExactIndex index;
  HashListEntry bad = Entry(HashType::kMd5, 7, "bad");
  bad.digest.pop_back();
  index.ReplaceList("l", "v", {bad, Entry(HashType::kMd5, 1, "first"), Entry(HashType::kMd5, 1, "second")});
  EXPECT_EQ(index.size(), 1u);
  EXPECT_EQ(Describe(index.Lookup(Query(1, 0, 0))), (std::vector<std::string>{"l@v/md5/first/csam"}));
  EXPECT_TRUE(index.Lookup(Query(7, 0, 0)).empty());
}

// Readers run while the list flips between two versions. Version v1 holds
// md5 digests 0..N-1 and SHA-1 digest kOnlyV1; v2 holds the same md5
// digests under other ids and SHA-256 digest kOnlyV2. Every lookup must see
// exactly one version, complete.
TEST(ExactIndex, ConcurrentReadersSeeTheOldOrTheNewListEntirely) {
  constexpr uint32_t kEntries = 5000;
  constexpr uint32_t kOnlyV1 = 1'000'001;
  constexpr uint32_t kOnlyV2 = 1'000'002;
  std::vector<HashListEntry> v1, v2;
  for (uint32_t i = 0; i < kEntries; ++i) {
    v1.push_back(Entry(HashType::kMd5, i, "v1-" + std::to_string(i)));
    v2.push_back(Entry(HashType::kMd5, i, "v2-" + std::to_string(i)));
  }
  v1.push_back(Entry(HashType::kSha1, kOnlyV1, "only-v1"));
  v2.push_back(Entry(HashType::kSha256, kOnlyV2, "only-v2"));

  ExactIndex index;
  index.ReplaceList("l", "v1", v1);
  std::atomic<bool> done{false};
  std::atomic<int> inconsistent{0};
  std::atomic<int> lookups{0};
  std::atomic<int> seen_v1{0}, seen_v2{0};
  auto reader = [&](uint32_t seed) {
    uint32_t i = seed;
    while (!done.load()) {
      i = (i * 1103515245u + 12345u) % kEntries;
      std::vector<ExactMatch> m = index.Lookup(Query(i, kOnlyV1, kOnlyV2));
      lookups++;
      std::string id = std::to_string(i);
      bool is_v1 = m.size() == 2 && m[0].entry.list_version == "v1" && m[0].entry.entry_id == "v1-" + id &&
                   m[1].type == HashType::kSha1 && m[1].entry.entry_id == "only-v1" &&
                   m[1].entry.list_version == "v1";
      bool is_v2 = m.size() == 2 && m[0].entry.list_version == "v2" && m[0].entry.entry_id == "v2-" + id &&
                   m[1].type == HashType::kSha256 && m[1].entry.entry_id == "only-v2" &&
                   m[1].entry.list_version == "v2";
      if (is_v1) seen_v1++;
      if (is_v2) seen_v2++;
      if (!is_v1 && !is_v2) inconsistent++;
      if (index.size() != kEntries + 1) inconsistent++;
    }
  };
  std::vector<std::thread> readers;
  for (uint32_t t = 0; t < 2; ++t) readers.emplace_back(reader, t + 1);
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    bool to_v2 = round % 2 == 0;
    std::atomic<int>& seen_new = to_v2 ? seen_v2 : seen_v1;
    int before = seen_new.load();
    index.ReplaceList("l", to_v2 ? "v2" : "v1", to_v2 ? v2 : v1);
    // Let the readers observe this version before replacing it again, so
    // both versions (and many transitions) are really exercised.
    while (seen_new.load() == before && inconsistent.load() == 0) std::this_thread::yield();
  }
  done = true;
  for (std::thread& t : readers) t.join();

  EXPECT_EQ(inconsistent.load(), 0);
  EXPECT_GE(seen_v1.load(), kRounds / 2);
  EXPECT_GE(seen_v2.load(), kRounds / 2);
  EXPECT_EQ(seen_v1.load() + seen_v2.load(), lookups.load());
  // The last round installed v1.
  EXPECT_EQ(Describe(index.Lookup(Query(5, kOnlyV1, kOnlyV2))),
            (std::vector<std::string>{"l@v1/md5/v1-5/csam", "l@v1/sha1/only-v1/csam"}));
}

}  // namespace
}  // namespace takedown
