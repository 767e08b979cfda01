#include "matcher/pdq_index.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "matcher/pdq_hash.h"
#include "matcher/pdq_hasher.h"
#include "matcher/pdq_linear_index.h"
#include "matcher/pdq_mih_index.h"

namespace takedown {
namespace {

using Dihedral = std::array<PdqHash, 8>;

PdqHash RandomHash(std::mt19937_64& rng) {
  PdqHash hash;
  for (uint16_t& word : hash.words) word = static_cast<uint16_t>(rng());
  return hash;
}

// `hash` with exactly `bits` distinct bits flipped.
PdqHash FlipBits(PdqHash hash, int bits, std::mt19937_64& rng) {
  std::vector<int> positions(PdqHash::kBits);
  for (int i = 0; i < PdqHash::kBits; ++i) positions[i] = i;
  std::shuffle(positions.begin(), positions.end(), rng);
  for (int i = 0; i < bits; ++i) {
    const int k = positions[i];
    hash.words[k / 16] ^= static_cast<uint16_t>(1u << (k % 16));
  }
  return hash;
}

Dihedral RandomDihedral(std::mt19937_64& rng) {
  Dihedral d;
  for (PdqHash& h : d) h = RandomHash(rng);
  return d;
}

PdqIndexEntry Entry(const PdqHash& hash, std::string list, std::string id,
                    ContentCategory category = ContentCategory::kCsam) {
  return PdqIndexEntry{hash, std::move(list), std::move(id), category};
}

std::set<std::string> Ids(const std::vector<PdqMatch>& matches) {
  std::set<std::string> ids;
  for (const PdqMatch& m : matches) ids.insert(m.entry.list_name + "/" + m.entry.entry_id);
  return ids;
}

// Random entries in three lists, plus planted groups: for each base hash,
// one entry at each distance 0..40 from it.
struct Corpus {
  std::vector<PdqIndexEntry> entries;
  std::vector<PdqHash> bases;
};

Corpus MakeCorpus(int random_entries, int groups, std::mt19937_64& rng) {
  Corpus corpus;
  const char* lists[] = {"ncmec", "iwf", "tcap"};
  for (int i = 0; i < random_entries; ++i) {
    corpus.entries.push_back(Entry(RandomHash(rng), lists[i % 3], "r" + std::to_string(i),
                                   i % 2 ? ContentCategory::kCsam : ContentCategory::kTerrorist));
  }
  for (int g = 0; g < groups; ++g) {
    const PdqHash base = RandomHash(rng);
    corpus.bases.push_back(base);
    for (int d = 0; d <= 40; ++d) {
      corpus.entries.push_back(
          Entry(FlipBits(base, d, rng), lists[g % 3], "g" + std::to_string(g) + "d" + std::to_string(d)));
    }
  }
  return corpus;
}

TEST(PdqMihIndex, SameResultsAsLinearScanForEveryThreshold) {
  std::mt19937_64 rng(20240611);
  const Corpus corpus = MakeCorpus(20000, 120, rng);
  PdqMihIndex mih;
  PdqLinearIndex linear;
  ASSERT_TRUE(mih.Insert(corpus.entries).ok());
  ASSERT_TRUE(linear.Insert(corpus.entries).ok());
  ASSERT_EQ(mih.size(), corpus.entries.size());
  ASSERT_EQ(linear.size(), corpus.entries.size());

  const int thresholds[] = {0, 1, 10, 15, 16, 31, 32, 40, 47, 48, 63};
  std::map<int, size_t> total_matches;
  for (int q = 0; q < 120; ++q) {
    Dihedral query = RandomDihedral(rng);
    const int group = q % static_cast<int>(corpus.bases.size());
    if (q % 4 != 3) {
      // One variant is a near-duplicate of a planted base; the others random.
      const int variant = q % 8;
      const int noise = q % 13;
      query[variant] = FlipBits(corpus.bases[group], noise, rng);
    }
    if (q % 10 == 0) query[(q + 3) % 8] = FlipBits(corpus.bases[(group + 1) % corpus.bases.size()], 5, rng);
    for (int t : thresholds) {
      const std::vector<PdqMatch> expected = linear.Query(query, t);
      const std::vector<PdqMatch> actual = mih.Query(query, t);
      ASSERT_EQ(actual, expected) << "query " << q << " threshold " << t;
      total_matches[t] += expected.size();
      for (const PdqMatch& m : expected) {
        ASSERT_LE(m.distance, t);
        ASSERT_EQ(m.distance, m.entry.hash.Distance(query[m.variant]));
      }
    }
  }
  // The comparison is not vacuous: the planted groups produce many matches,
  // more with every threshold step.
  EXPECT_GT(total_matches[0], 0u);
  EXPECT_GT(total_matches[31], total_matches[10]);
  EXPECT_GT(total_matches[63], total_matches[40]);
  EXPECT_GT(total_matches[31], 1000u);

  // Thresholds above 256 act as 256: every entry matches. Negative: none.
  const Dihedral query = RandomDihedral(rng);
  EXPECT_EQ(mih.Query(query, 300).size(), corpus.entries.size());
  EXPECT_EQ(mih.Query(query, 300), linear.Query(query, 256));
  EXPECT_TRUE(mih.Query(query, -1).empty());
  EXPECT_TRUE(linear.Query(query, -1).empty());
}

TEST(PdqMihIndex, FindsEveryPlantedEntryWithinThreshold) {
  std::mt19937_64 rng(7);
  const Corpus corpus = MakeCorpus(5000, 10, rng);
  PdqMihIndex mih;
  ASSERT_TRUE(mih.Insert(corpus.entries).ok());
  for (int g = 0; g < 10; ++g) {
    Dihedral query = RandomDihedral(rng);
    query[PdqDihedral::kRotate180] = corpus.bases[g];
    const std::vector<PdqMatch> matches = mih.Query(query, 31);
    std::set<std::string> planted;
    for (const PdqMatch& m : matches) {
      if (m.entry.entry_id.rfind("g" + std::to_string(g) + "d", 0) != 0) continue;
      planted.insert(m.entry.entry_id);
      EXPECT_EQ(m.variant, PdqDihedral::kRotate180);
      EXPECT_EQ(m.entry.entry_id, "g" + std::to_string(g) + "d" + std::to_string(m.distance));
    }
    EXPECT_EQ(planted.size(), 32u) << "group " << g;  // distances 0..31
    ASSERT_FALSE(matches.empty());
    EXPECT_EQ(matches[0].distance, 0);
    EXPECT_TRUE(std::is_sorted(matches.begin(), matches.end(), PdqMatchLess));
  }
}

// The manifest's dihedral hashes of the reference's rotated bridge photo,
// queried against the original photo's hash.
std::map<std::string, std::vector<std::string>> ReadManifest() {
  std::ifstream in(std::string(TAKEDOWN_SOURCE_DIR) + "/../shared/vectors/pdq/MANIFEST.tsv");
  std::map<std::string, std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::istringstream fields_in(line);
    std::string field;
    while (std::getline(fields_in, field, '\t')) fields.push_back(field);
    if (!fields.empty()) rows[fields[0]] = fields;
  }
  return rows;
}

TEST(PdqMihIndex, RotatedImageMatchesThroughItsRotatedVariant) {
  const auto rows = ReadManifest();
  ASSERT_TRUE(rows.count("reg-test-input/dih/bridge-1-original.jpg"));
  ASSERT_TRUE(rows.count("reg-test-input/dih/bridge-2-rotate-90.jpg"));
  const auto& original = rows.at("reg-test-input/dih/bridge-1-original.jpg");
  const auto& rotated = rows.at("reg-test-input/dih/bridge-2-rotate-90.jpg");
  ASSERT_GE(rotated.size(), 16u);
  // Columns 8..15 are dih_orig .. dih_flipminus1.
  Dihedral query;
  for (int v = 0; v < 8; ++v) query[v] = *PdqHash::FromHex(rotated[8 + v]);
  const PdqHash original_hash = *PdqHash::FromHex(original[6]);

  PdqMihIndex mih;
  ASSERT_TRUE(mih.Insert({Entry(original_hash, "list", "bridge")}).ok());
  const std::vector<PdqMatch> matches = mih.Query(query, 31);
  ASSERT_EQ(matches.size(), 1u);
  // The unrotated hash of the rotated file is far away; a quarter-turn
  // variant brings it back within a few bits.
  EXPECT_GT(query[PdqDihedral::kOriginal].Distance(original_hash), 31);
  EXPECT_TRUE(matches[0].variant == PdqDihedral::kRotate90 || matches[0].variant == PdqDihedral::kRotate270)
      << matches[0].variant;
  EXPECT_EQ(matches[0].distance, query[matches[0].variant].Distance(original_hash));
  EXPECT_LE(matches[0].distance, 18);
}

TEST(PdqMihIndex, SyntheticVariantIsRecorded) {
  std::mt19937_64 rng(99);
  const PdqHash target = RandomHash(rng);
  PdqMihIndex mih;
  ASSERT_TRUE(mih.Insert({Entry(target, "l", "x", ContentCategory::kTerrorist)}).ok());
  for (int variant = 0; variant < 8; ++variant) {
    Dihedral query = RandomDihedral(rng);
    query[variant] = FlipBits(target, 3 + variant, rng);
    const std::vector<PdqMatch> matches = mih.Query(query, 31);
    ASSERT_EQ(matches.size(), 1u);
    EXPECT_EQ(matches[0].variant, variant);
    EXPECT_EQ(matches[0].distance, 3 + variant);
    EXPECT_EQ(matches[0].entry, Entry(target, "l", "x", ContentCategory::kTerrorist));
  }
  // Two variants equally close: the lower index is reported.
  Dihedral query = RandomDihedral(rng);
  query[6] = target;
  query[2] = target;
  const std::vector<PdqMatch> matches = mih.Query(query, 0);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].variant, 2);
}

template <typename Index>
void CheckInsertRemove() {
  std::mt19937_64 rng(5);
  Index index;
  const PdqHash a = RandomHash(rng);
  const PdqHash b = RandomHash(rng);
  const PdqHash c = RandomHash(rng);
  auto query_for = [&](const PdqHash& h) {
    Dihedral q = RandomDihedral(rng);
    q[0] = h;
    return q;
  };
  ASSERT_TRUE(index.Insert({Entry(a, "one", "a"), Entry(b, "one", "b"), Entry(a, "two", "a")}).ok());
  EXPECT_EQ(index.size(), 3u);
  EXPECT_EQ(Ids(index.Query(query_for(a), 0)), (std::set<std::string>{"one/a", "two/a"}));

  // Re-inserting a key replaces its hash and category.
  ASSERT_TRUE(index.Insert({Entry(c, "one", "a", ContentCategory::kTerrorist)}).ok());
  EXPECT_EQ(index.size(), 3u);
  EXPECT_EQ(Ids(index.Query(query_for(a), 0)), (std::set<std::string>{"two/a"}));
  const std::vector<PdqMatch> replaced = index.Query(query_for(c), 0);
  ASSERT_EQ(replaced.size(), 1u);
  EXPECT_EQ(replaced[0].entry, Entry(c, "one", "a", ContentCategory::kTerrorist));

  EXPECT_TRUE(index.Remove("one", "b"));
  EXPECT_FALSE(index.Remove("one", "b"));
  EXPECT_FALSE(index.Remove("nope", "b"));
  EXPECT_TRUE(index.Query(query_for(b), 31).empty());
  EXPECT_EQ(index.size(), 2u);

  EXPECT_EQ(index.RemoveList("one"), 1u);
  EXPECT_EQ(index.RemoveList("one"), 0u);
  EXPECT_TRUE(index.Query(query_for(c), 31).empty());
  EXPECT_EQ(Ids(index.Query(query_for(a), 31)), (std::set<std::string>{"two/a"}));

  // A removed list can come back; freed slots are reused.
  ASSERT_TRUE(index.Insert({Entry(b, "one", "b2")}).ok());
  EXPECT_EQ(Ids(index.Query(query_for(b), 0)), (std::set<std::string>{"one/b2"}));
  EXPECT_EQ(index.size(), 2u);

  // Invalid batches insert nothing.
  const absl::Status empty_list = index.Insert({Entry(c, "ok", "1"), Entry(c, "", "2")});
  EXPECT_EQ(empty_list.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(empty_list.message()).find("empty list name"), std::string::npos);
  const absl::Status long_id = index.Insert({Entry(c, "ok", std::string(PdqIndex::kMaxNameBytes + 1, 'x'))});
  EXPECT_EQ(long_id.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.size(), 2u);
  EXPECT_TRUE(index.Query(query_for(c), 31).empty());
}

TEST(PdqMihIndex, InsertReplaceRemoveAndRemoveList) { CheckInsertRemove<PdqMihIndex>(); }
TEST(PdqLinearIndex, InsertReplaceRemoveAndRemoveList) { CheckInsertRemove<PdqLinearIndex>(); }

TEST(PdqMihIndex, ManyRemovalsKeepResultsEqualToLinearScan) {
  std::mt19937_64 rng(11);
  const Corpus corpus = MakeCorpus(20000, 40, rng);
  PdqMihIndex mih;
  PdqLinearIndex linear;
  ASSERT_TRUE(mih.Insert(corpus.entries).ok());
  ASSERT_TRUE(linear.Insert(corpus.entries).ok());
  // Retract every third entry, drop one list, re-add some entries elsewhere.
  for (size_t i = 0; i < corpus.entries.size(); i += 3) {
    const PdqIndexEntry& e = corpus.entries[i];
    ASSERT_TRUE(mih.Remove(e.list_name, e.entry_id));
    ASSERT_TRUE(linear.Remove(e.list_name, e.entry_id));
  }
  EXPECT_EQ(mih.RemoveList("iwf"), linear.RemoveList("iwf"));
  std::vector<PdqIndexEntry> again;
  for (size_t i = 0; i < corpus.entries.size(); i += 5) {
    PdqIndexEntry e = corpus.entries[i];
    e.list_name = "readded";
    again.push_back(e);
  }
  ASSERT_TRUE(mih.Insert(again).ok());
  ASSERT_TRUE(linear.Insert(again).ok());
  ASSERT_EQ(mih.size(), linear.size());
  size_t total = 0;
  for (int q = 0; q < 80; ++q) {
    Dihedral query = RandomDihedral(rng);
    query[q % 8] = FlipBits(corpus.bases[q % corpus.bases.size()], q % 9, rng);
    for (int t : {0, 31, 40, 63}) {
      const std::vector<PdqMatch> expected = linear.Query(query, t);
      ASSERT_EQ(mih.Query(query, t), expected) << "query " << q << " threshold " << t;
      total += expected.size();
    }
  }
  EXPECT_GT(total, 500u);
}

// Queries running while a large list is imported and then removed see, for
// the list being changed, only entries that are really in it (each with its
// own hash), and the other lists' matches always complete.
TEST(PdqMihIndex, QueriesDuringLargeImportAndRemovalStayConsistent) {
  std::mt19937_64 rng(3);
  const Corpus stable = MakeCorpus(2000, 8, rng);
  PdqMihIndex mih;
  ASSERT_TRUE(mih.Insert(stable.entries).ok());

  const int kImport = 60000;
  std::vector<PdqIndexEntry> import;
  std::map<std::string, PdqHash> import_hashes;
  for (int i = 0; i < kImport; ++i) {
    // Every 100th imported entry is within 2 bits of a stable base, so
    // queries find imported entries while the import runs.
    const PdqHash h = i % 100 == 0 ? FlipBits(stable.bases[(i / 100) % 8], 2, rng) : RandomHash(rng);
    import.push_back(Entry(h, "import", "i" + std::to_string(i)));
    import_hashes[import.back().entry_id] = h;
  }
  std::vector<Dihedral> queries;
  std::vector<std::set<std::string>> stable_expected;
  for (int g = 0; g < 8; ++g) {
    Dihedral q = RandomDihedral(rng);
    q[g] = stable.bases[g];
    queries.push_back(q);
    std::set<std::string> ids;
    for (const PdqMatch& m : mih.Query(q, 31)) ids.insert(m.entry.list_name + "/" + m.entry.entry_id);
    ASSERT_GE(ids.size(), 32u);
    stable_expected.push_back(ids);
  }

  std::atomic<bool> writer_done{false};
  std::atomic<int> queries_during_write{0};
  std::atomic<int> failures{0};
  std::atomic<int> max_imported_seen{0};
  auto reader = [&](int seed) {
    size_t i = static_cast<size_t>(seed);
    do {
      const bool during = !writer_done.load();
      const size_t g = i++ % queries.size();
      const std::vector<PdqMatch> matches = mih.Query(queries[g], 31);
      std::set<std::string> stable_ids;
      int imported = 0;
      for (const PdqMatch& m : matches) {
        if (m.distance != m.entry.hash.Distance(queries[g][m.variant]) || m.distance > 31) {
          ++failures;
        }
        if (m.entry.list_name == "import") {
          ++imported;
          auto it = import_hashes.find(m.entry.entry_id);
          if (it == import_hashes.end() || !(it->second == m.entry.hash)) ++failures;
        } else {
          stable_ids.insert(m.entry.list_name + "/" + m.entry.entry_id);
        }
      }
      if (stable_ids != stable_expected[g]) ++failures;
      int seen = max_imported_seen.load();
      while (imported > seen && !max_imported_seen.compare_exchange_weak(seen, imported)) {
      }
      if (during) ++queries_during_write;
    } while (!writer_done.load());
  };
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) readers.emplace_back(reader, r);

  ASSERT_TRUE(mih.Insert(import).ok());
  EXPECT_EQ(mih.size(), stable.entries.size() + kImport);
  // After Insert returned, every imported near-duplicate is visible.
  for (size_t g = 0; g < queries.size(); ++g) {
    int imported = 0;
    for (const PdqMatch& m : mih.Query(queries[g], 31)) imported += m.entry.list_name == "import";
    EXPECT_EQ(imported, kImport / 100 / 8) << "group " << g;
  }
  EXPECT_EQ(mih.RemoveList("import"), static_cast<size_t>(kImport));
  writer_done = true;
  for (std::thread& t : readers) t.join();

  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(queries_during_write.load(), 0);
  EXPECT_LE(max_imported_seen.load(), kImport / 100 / 8);
  EXPECT_EQ(mih.size(), stable.entries.size());
  for (size_t g = 0; g < queries.size(); ++g) {
    EXPECT_EQ(Ids(mih.Query(queries[g], 31)), stable_expected[g]);
  }
}

}  // namespace
}  // namespace takedown
