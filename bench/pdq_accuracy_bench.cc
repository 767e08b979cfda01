// pdq_accuracy_bench: how well PDQ matching finds near-duplicates, and how
// often it matches unrelated images, on a corpus with a manifest.
//
//   pdq_accuracy_bench [--threshold=31] [--fast_radius=T+8] [--min_quality=50] CORPUS_DIR
//
// CORPUS_DIR/manifest.tsv has the columns file, base, transform (the output of
// shared/corpus/make-images.sh): rows with transform "original" are the
// known images, every other row a modified copy of original `base`. More rows
// may be appended (e.g. GIF re-encodes) with any transform name.
//
// The originals' exact hashes (DecodeImage + PdqHasher, as the producer of a
// hash list computes them) are loaded into a PdqMihIndex, the index the
// daemon uses. Every file is then queried with its 8 dihedral hashes at the
// threshold, so mirrored and rotated copies can match through their variants:
//   exact       the file hashed in exact mode;
//   fast        the file hashed in fast mode (matcher/pdq_fast.h) at the
//               same threshold;
//   fast+check  fast mode as the pipeline runs it: candidates within
//               --fast_radius, each confirmed by an exact re-hash at the
//               threshold.
// Per transform kind: the fraction of copies that match their own original,
// the distance to it (minimum over the 8 variants) and the variant that gives
// it, and the distance with the original hash alone (no dihedral variants).
// False matches: every (file, original) pair whose base differs, counted when
// the index returns it; the smallest unrelated distance is the margin.
// Exit status 0 when it ran (the figures are for a person to judge), 2 on
// usage errors or an unreadable corpus.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <span>
#include <string>
#include <vector>

#include "matcher/image_decoder.h"
#include "matcher/pdq_fast.h"
#include "matcher/pdq_hasher.h"
#include "matcher/pdq_mih_index.h"

namespace takedown {
namespace {

constexpr std::array<const char*, PdqDihedral::kCount> kVariantNames = {
    "original", "rot90", "rot180", "rot270", "flipx", "flipy", "flip+1", "flip-1"};

struct Item {
  std::string file;
  std::string base;
  std::string transform;
  bool ok = false;
  PdqDihedral exact;
  PdqDihedral fast;
};

struct Options {
  int threshold = 31;
  int fast_radius = -1;  // default: threshold + 8
  int min_quality = 50;
};

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Minimum distance over the query's 8 variants to `hash`, and that variant.
std::pair<int, int> DihedralDistance(const PdqDihedral& query, const PdqHash& hash) {
  int best = PdqHash::kBits + 1;
  int variant = 0;
  for (int v = 0; v < PdqDihedral::kCount; ++v) {
    const int d = query.hashes[v].Distance(hash);
    if (d < best) {
      best = d;
      variant = v;
    }
  }
  return {best, variant};
}

struct KindStats {
  int count = 0;
  int matched_exact = 0;
  int matched_fast = 0;
  int matched_fast_checked = 0;
  int matched_without_dihedral = 0;
  int low_quality = 0;
  std::vector<int> exact_distances;
  std::vector<int> fast_distances;
  std::map<std::string, int> variants;
  std::vector<std::string> misses;  // copies the exact mode does not match
};

std::string Summary(std::vector<int> values) {
  if (values.empty()) return "-";
  std::sort(values.begin(), values.end());
  double sum = 0;
  for (int v : values) sum += v;
  return fmt::format("{:.1f} / {} / {}", sum / values.size(), values[values.size() / 2],
                     values.back());
}

int Run(const std::string& dir, const Options& options) {
  std::ifstream manifest(dir + "/manifest.tsv");
  if (!manifest) {
    fmt::print(stderr, "pdq_accuracy_bench: cannot read {}/manifest.tsv\n", dir);
    return 2;
  }
  std::vector<Item> items;
  std::string line;
  std::getline(manifest, line);  // header
  while (std::getline(manifest, line)) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    Item item;
    std::getline(fields, item.file, '\t');
    std::getline(fields, item.base, '\t');
    std::getline(fields, item.transform, '\t');
    if (item.transform.empty()) {
      fmt::print(stderr, "pdq_accuracy_bench: manifest line '{}' lacks columns\n", line);
      return 2;
    }
    items.push_back(std::move(item));
  }

  const PdqHasher hasher;
  int failed = 0;
  for (Item& item : items) {
    std::ifstream in(dir + "/" + item.file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    absl::StatusOr<DecodedImage> exact = DecodeImage(Bytes(bytes), ImageLimits());
    absl::StatusOr<DecodedImage> fast = DecodeImageFast(Bytes(bytes), ImageLimits());
    absl::StatusOr<PdqDihedral> exact_hash =
        exact.ok() ? hasher.HashDihedral(*exact) : absl::StatusOr<PdqDihedral>(exact.status());
    absl::StatusOr<PdqDihedral> fast_hash =
        fast.ok() ? hasher.HashDihedral(*fast) : absl::StatusOr<PdqDihedral>(fast.status());
    if (!exact_hash.ok() || !fast_hash.ok()) {
      fmt::print("skipped {}: {}\n", item.file,
                 std::string((exact_hash.ok() ? fast_hash.status() : exact_hash.status()).message()));
      ++failed;
      continue;
    }
    item.ok = true;
    item.exact = *exact_hash;
    item.fast = *fast_hash;
  }

  // The list: the originals' exact hashes.
  std::map<std::string, const Item*> originals;
  std::vector<PdqIndexEntry> entries;
  for (const Item& item : items) {
    if (!item.ok || item.transform != "original") continue;
    originals[item.base] = &item;
    entries.push_back({item.exact.hashes[PdqDihedral::kOriginal], "corpus", item.base,
                       ContentCategory::kOther});
  }
  PdqMihIndex index;
  if (absl::Status s = index.Insert(entries); !s.ok() || originals.empty()) {
    fmt::print(stderr, "pdq_accuracy_bench: no originals to index ({})\n", std::string(s.message()));
    return 2;
  }

  std::map<std::string, KindStats> kinds;
  std::vector<std::string> kind_order;
  int64_t unrelated_pairs = 0;
  int false_exact = 0;
  int false_fast = 0;
  int false_fast_checked = 0;
  int margin_exact = PdqHash::kBits;
  int margin_fast = PdqHash::kBits;
  int queries = 0;
  for (const Item& item : items) {
    if (!item.ok) continue;
    ++queries;
    const std::vector<PdqMatch> exact = index.Query(item.exact.hashes, options.threshold);
    const std::vector<PdqMatch> fast = index.Query(item.fast.hashes, options.threshold);
    const std::vector<PdqMatch> wide = index.Query(item.fast.hashes, options.fast_radius);
    // fast+check: a candidate counts only if the exact hash is within the threshold.
    std::vector<std::string> checked;
    for (const PdqMatch& m : wide) {
      if (DihedralDistance(item.exact, m.entry.hash).first <= options.threshold) {
        checked.push_back(m.entry.entry_id);
      }
    }
    for (const PdqMatch& m : exact) false_exact += m.entry.entry_id != item.base;
    for (const PdqMatch& m : fast) false_fast += m.entry.entry_id != item.base;
    for (const std::string& id : checked) false_fast_checked += id != item.base;
    for (const auto& [base, original] : originals) {
      if (base == item.base) continue;
      ++unrelated_pairs;
      const PdqHash& hash = original->exact.hashes[PdqDihedral::kOriginal];
      margin_exact = std::min(margin_exact, DihedralDistance(item.exact, hash).first);
      margin_fast = std::min(margin_fast, DihedralDistance(item.fast, hash).first);
    }
    if (item.transform == "original") continue;
    auto own = originals.find(item.base);
    if (own == originals.end()) continue;
    if (!kinds.contains(item.transform)) kind_order.push_back(item.transform);
    KindStats& k = kinds[item.transform];
    const PdqHash& target = own->second->exact.hashes[PdqDihedral::kOriginal];
    ++k.count;
    auto has = [&](const std::vector<PdqMatch>& matches) {
      return std::any_of(matches.begin(), matches.end(),
                         [&](const PdqMatch& m) { return m.entry.entry_id == item.base; });
    };
    k.matched_exact += has(exact);
    k.matched_fast += has(fast);
    k.matched_fast_checked += std::count(checked.begin(), checked.end(), item.base) > 0;
    k.matched_without_dihedral +=
        item.exact.hashes[PdqDihedral::kOriginal].Distance(target) <= options.threshold;
    k.low_quality += item.exact.quality < options.min_quality;
    const auto [distance, variant] = DihedralDistance(item.exact, target);
    if (distance > options.threshold) {
      k.misses.push_back(fmt::format("{} (distance {}, quality {})", item.file, distance, item.exact.quality));
    }
    k.exact_distances.push_back(distance);
    k.fast_distances.push_back(DihedralDistance(item.fast, target).first);
    ++k.variants[kVariantNames[variant]];
  }

  fmt::print("{} files ({} originals in the index, {} not hashable), threshold {}, fast radius {}\n",
             items.size(), originals.size(), failed, options.threshold, options.fast_radius);
  fmt::print("\n{:<18} {:>3}  {:>7} {:>7} {:>10}  {:>11}  {:<16} {:<16} {}\n", "transform", "n",
             "exact", "fast", "fast+check", "no dihedral", "exact d mean/med/max",
             "fast d mean/med/max", "variant (exact)");
  KindStats total;
  for (const std::string& name : kind_order) {
    const KindStats& k = kinds[name];
    std::string variants;
    for (const auto& [v, n] : k.variants) variants += fmt::format("{}{} x{}", variants.empty() ? "" : ", ", v, n);
    fmt::print("{:<18} {:>3}  {:>3}/{:<3} {:>3}/{:<3} {:>5}/{:<4}  {:>6}/{:<4}  {:<20} {:<19} {}{}\n", name,
               k.count, k.matched_exact, k.count, k.matched_fast, k.count, k.matched_fast_checked,
               k.count, k.matched_without_dihedral, k.count, Summary(k.exact_distances),
               Summary(k.fast_distances), variants,
               k.low_quality > 0 ? fmt::format("  ({} under quality {})", k.low_quality, options.min_quality)
                                 : "");
    total.count += k.count;
    total.matched_exact += k.matched_exact;
    total.matched_fast += k.matched_fast;
    total.matched_fast_checked += k.matched_fast_checked;
    total.matched_without_dihedral += k.matched_without_dihedral;
  }
  for (const std::string& name : kind_order) {
    for (const std::string& miss : kinds[name].misses) fmt::print("  missed ({}): {}\n", name, miss);
  }
  auto pct = [](int a, int b) { return b == 0 ? 0.0 : 100.0 * a / b; };
  fmt::print("{:<18} {:>3}  {:>6.1f}% {:>6.1f}% {:>9.1f}%  {:>10.1f}%\n", "all copies", total.count,
             pct(total.matched_exact, total.count), pct(total.matched_fast, total.count),
             pct(total.matched_fast_checked, total.count), pct(total.matched_without_dihedral, total.count));
  fmt::print(
      "\nunrelated pairs: {} ({} queries x {} originals, minus each query's own original)\n"
      "  false matches: exact {}, fast {}, fast+check {}\n"
      "  smallest unrelated distance (margin, over 8 variants): exact {}, fast {}\n",
      unrelated_pairs, queries, originals.size(), false_exact, false_fast, false_fast_checked,
      margin_exact, margin_fast);
  return 0;
}

}  // namespace
}  // namespace takedown

int main(int argc, char** argv) {
  takedown::Options options;
  std::string dir;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto number = [&](const std::string& prefix, int& out) {
      if (arg.rfind(prefix, 0) != 0) return false;
      try {
        out = std::stoi(arg.substr(prefix.size()));
      } catch (const std::exception&) {
        fmt::print(stderr, "pdq_accuracy_bench: '{}' needs a number\n", arg);
        std::exit(2);
      }
      return true;
    };
    if (number("--threshold=", options.threshold) || number("--fast_radius=", options.fast_radius) ||
        number("--min_quality=", options.min_quality)) {
      continue;
    }
    if (arg.rfind("--", 0) == 0 || !dir.empty()) {
      fmt::print(stderr, "usage: pdq_accuracy_bench [--threshold=31] [--fast_radius=T+8] "
                         "[--min_quality=50] CORPUS_DIR\n");
      return 2;
    }
    dir = arg;
  }
  if (dir.empty()) {
    fmt::print(stderr,
               "usage: pdq_accuracy_bench [--threshold=31] [--fast_radius=T+8] [--min_quality=50] "
               "CORPUS_DIR\n  e.g. shared/corpus/make-images.sh /tmp/corpus 30 10 && "
               "pdq_accuracy_bench /tmp/corpus\n");
    return 2;
  }
  if (options.fast_radius < 0) options.fast_radius = options.threshold + 8;
  return takedown::Run(dir, options);
}
