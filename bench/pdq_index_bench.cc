// pdq_index_bench: query throughput of PdqMihIndex against PdqLinearIndex
// (the linear-scan reference) in the same run, on N random PDQ hashes plus
// planted near-duplicates, and the index's memory per million hashes.
//
//   pdq_index_bench [--sizes=1000000,10000000] [--threshold=31]
//                   [--mih_queries=2000] [--linear_queries=20] [--seed=1]
//                   [--concurrent_import=0]
//
// Every query the linear scan answers is also answered by the MIH index and
// the two result lists must be identical (exit status 1 otherwise). Memory is
// the growth of the process's resident set while the MIH index is built.
// With --concurrent_import=M, one more thread queries the MIH index without
// pause while M new entries are inserted and then removed as a list, and the
// query latencies (wall clock) during that time are reported: they show how
// long a writer's batch holds queries up.
// Otherwise single-threaded; rates are per CPU second of the querying thread (the wall
// clock is printed too, but on a shared machine it counts other processes).
#include <fmt/format.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "matcher/pdq_hash.h"
#include "matcher/pdq_index.h"
#include "matcher/pdq_linear_index.h"
#include "matcher/pdq_mih_index.h"

namespace takedown {
namespace {

struct Options {
  std::vector<size_t> sizes = {1000000, 10000000};
  int threshold = 31;
  int mih_queries = 2000;
  int linear_queries = 20;
  uint64_t seed = 1;
  size_t concurrent_import = 0;  // entries imported while a thread queries
};

constexpr int kGroups = 1000;      // planted bases
constexpr int kMaxPlanted = 40;    // one entry per distance 0..40 from each base
constexpr size_t kChunk = 250000;  // entries generated and inserted at a time

double Seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

// CPU time of the calling thread: on a shared machine the wall clock also
// counts the time other processes had the core.
double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

size_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t total = 0;
  size_t resident = 0;
  statm >> total >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

PdqHash RandomHash(std::mt19937_64& rng) {
  PdqHash hash;
  for (uint16_t& word : hash.words) word = static_cast<uint16_t>(rng());
  return hash;
}

// Exactly `bits` distinct bit positions of `hash` flipped.
PdqHash FlipDistinctBits(const PdqHash& hash, int bits, std::mt19937_64& rng) {
  PdqHash mask;
  int set = 0;
  while (set < bits) {
    const int k = static_cast<int>(rng() % PdqHash::kBits);
    if (mask.Bit(k)) continue;
    mask.SetBit(k);
    ++set;
  }
  PdqHash out = hash;
  for (int w = 0; w < PdqHash::kWords; ++w) out.words[w] ^= mask.words[w];
  return out;
}

// Calls `sink` with consecutive batches of the benchmark's entries: `n`
// random ones, then the planted groups. The same seed gives the same entries.
template <typename Sink>
void GenerateEntries(size_t n, const std::vector<PdqHash>& bases, uint64_t seed, Sink sink) {
  std::mt19937_64 rng(seed);
  std::vector<PdqIndexEntry> batch;
  for (size_t i = 0; i < n; ++i) {
    batch.push_back(PdqIndexEntry{RandomHash(rng), "bench", fmt::format("e{}", i), ContentCategory::kCsam});
    if (batch.size() == kChunk) {
      sink(batch);
      batch.clear();
    }
  }
  for (size_t g = 0; g < bases.size(); ++g) {
    for (int d = 0; d <= kMaxPlanted; ++d) {
      batch.push_back(PdqIndexEntry{FlipDistinctBits(bases[g], d, rng), "planted",
                                    fmt::format("g{}d{}", g, d), ContentCategory::kTerrorist});
    }
  }
  sink(batch);
}

std::vector<std::array<PdqHash, 8>> MakeQueries(int count, const std::vector<PdqHash>& bases,
                                                std::mt19937_64& rng) {
  std::vector<std::array<PdqHash, 8>> queries;
  for (int q = 0; q < count; ++q) {
    std::array<PdqHash, 8> query;
    for (PdqHash& h : query) h = RandomHash(rng);
    // Three queries in four have one variant near a planted base.
    if (q % 4 != 3) query[q % 8] = FlipDistinctBits(bases[rng() % bases.size()], q % 20, rng);
    queries.push_back(query);
  }
  return queries;
}

void MeasureImportLatency(PdqMihIndex& mih, const std::vector<std::array<PdqHash, 8>>& queries,
                          const Options& options) {
  std::vector<PdqIndexEntry> import;
  std::mt19937_64 rng(options.seed + 17);
  for (size_t i = 0; i < options.concurrent_import; ++i) {
    import.push_back(PdqIndexEntry{RandomHash(rng), "import", fmt::format("i{}", i), ContentCategory::kCsam});
  }
  std::atomic<bool> done{false};
  std::vector<double> latencies;
  std::thread reader([&] {
    size_t q = 0;
    while (!done.load()) {
      const auto start = std::chrono::steady_clock::now();
      mih.Query(queries[q++ % queries.size()], options.threshold);
      latencies.push_back(1e3 * Seconds(std::chrono::steady_clock::now() - start));
    }
  });
  const auto start = std::chrono::steady_clock::now();
  if (!mih.Insert(import).ok()) std::abort();
  const double insert_seconds = Seconds(std::chrono::steady_clock::now() - start);
  const auto remove_start = std::chrono::steady_clock::now();
  mih.RemoveList("import");
  const double remove_seconds = Seconds(std::chrono::steady_clock::now() - remove_start);
  done = true;
  reader.join();
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) {
    return latencies[std::min(latencies.size() - 1, static_cast<size_t>(p * latencies.size()))];
  };
  fmt::print(
      "concurrent import of {} entries: insert {:.1f} s, RemoveList {:.1f} s; {} queries "
      "meanwhile, latency (wall) median {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms\n",
      import.size(), insert_seconds, remove_seconds, latencies.size(), pct(0.5), pct(0.99), latencies.back());
  std::fflush(stdout);
}

bool RunSize(size_t n, const Options& options) {
  std::mt19937_64 rng(options.seed * 7919 + n);
  std::vector<PdqHash> bases;
  for (int g = 0; g < kGroups; ++g) bases.push_back(RandomHash(rng));
  const size_t total = n + bases.size() * (kMaxPlanted + 1);
  const std::vector<std::array<PdqHash, 8>> queries =
      MakeQueries(std::max(options.mih_queries, options.linear_queries), bases, rng);

  fmt::print("== {} random + {} planted = {} hashes, threshold {}\n", n, total - n, total, options.threshold);
  std::fflush(stdout);

  const size_t rss_before = ResidentBytes();
  PdqMihIndex mih;
  auto start = std::chrono::steady_clock::now();
  GenerateEntries(n, bases, options.seed, [&](const std::vector<PdqIndexEntry>& batch) {
    if (!mih.Insert(batch).ok()) std::abort();
  });
  const double mih_build = Seconds(std::chrono::steady_clock::now() - start);
  const size_t rss_mih = ResidentBytes();
  const double mb_per_million =
      static_cast<double>(rss_mih - rss_before) / 1e6 / (static_cast<double>(total) / 1e6);
  fmt::print(
      "mih build: {:.1f} s (generation included), {:.0f} entries/s; RSS +{:.0f} MB = "
      "{:.1f} MB per million hashes\n",
      mih_build, total / mih_build, (rss_mih - rss_before) / 1e6, mb_per_million);
  std::fflush(stdout);

  PdqLinearIndex linear;
  start = std::chrono::steady_clock::now();
  GenerateEntries(n, bases, options.seed, [&](const std::vector<PdqIndexEntry>& batch) {
    if (!linear.Insert(batch).ok()) std::abort();
  });
  fmt::print("linear build: {:.1f} s; RSS +{:.0f} MB\n", Seconds(std::chrono::steady_clock::now() - start),
             (ResidentBytes() - rss_mih) / 1e6);
  if (mih.size() != total || linear.size() != total) {
    fmt::print("FAIL: sizes {} (mih) and {} (linear), expected {}\n", mih.size(), linear.size(), total);
    return false;
  }

  std::vector<std::vector<PdqMatch>> mih_results(queries.size());
  size_t mih_matches = 0;
  start = std::chrono::steady_clock::now();
  double cpu_start = ThreadCpuSeconds();
  for (int q = 0; q < options.mih_queries; ++q) {
    mih_results[q] = mih.Query(queries[q], options.threshold);
    mih_matches += mih_results[q].size();
  }
  const double mih_wall = Seconds(std::chrono::steady_clock::now() - start);
  const double mih_cpu = ThreadCpuSeconds() - cpu_start;
  const double mih_qps = options.mih_queries / mih_cpu;
  fmt::print(
      "mih: {} queries in {:.3f} s CPU ({:.3f} s wall) = {:.1f} queries/s per core "
      "({:.3f} ms each), {} matches\n",
      options.mih_queries, mih_cpu, mih_wall, mih_qps, 1e3 * mih_cpu / options.mih_queries, mih_matches);
  std::fflush(stdout);

  std::vector<std::vector<PdqMatch>> linear_results(options.linear_queries);
  size_t linear_matches = 0;
  start = std::chrono::steady_clock::now();
  cpu_start = ThreadCpuSeconds();
  for (int q = 0; q < options.linear_queries; ++q) {
    linear_results[q] = linear.Query(queries[q], options.threshold);
    linear_matches += linear_results[q].size();
  }
  const double linear_wall = Seconds(std::chrono::steady_clock::now() - start);
  const double linear_cpu = ThreadCpuSeconds() - cpu_start;
  const double linear_qps = options.linear_queries / linear_cpu;
  fmt::print(
      "linear: {} queries in {:.3f} s CPU ({:.3f} s wall) = {:.2f} queries/s per core "
      "({:.1f} ms each), {} matches\n",
      options.linear_queries, linear_cpu, linear_wall, linear_qps, 1e3 * linear_cpu / options.linear_queries,
      linear_matches);

  if (options.concurrent_import > 0) MeasureImportLatency(mih, queries, options);

  int identical = 0;
  for (int q = 0; q < options.linear_queries; ++q) {
    if (q >= options.mih_queries) mih_results[q] = mih.Query(queries[q], options.threshold);
    if (mih_results[q] == linear_results[q]) ++identical;
  }
  fmt::print("results identical on {} of {} queries; speed-up {:.1f}x (CPU time), {:.1f}x (wall)\n",
             identical, options.linear_queries, mih_qps / linear_qps,
             (options.mih_queries / mih_wall) / (options.linear_queries / linear_wall));
  std::fflush(stdout);
  return identical == options.linear_queries;
}

bool ParseFlag(const std::string& arg, const std::string& name, std::string* value) {
  const std::string prefix = "--" + name + "=";
  if (arg.rfind(prefix, 0) != 0) return false;
  *value = arg.substr(prefix.size());
  return true;
}

}  // namespace
}  // namespace takedown

int main(int argc, char** argv) {
  using takedown::ParseFlag;
  takedown::Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    std::string value;
    try {
      if (ParseFlag(arg, "sizes", &value)) {
        options.sizes.clear();
        size_t pos = 0;
        while (pos <= value.size()) {
          const size_t comma = value.find(',', pos);
          const std::string item =
              value.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
          options.sizes.push_back(std::stoull(item));
          if (comma == std::string::npos) break;
          pos = comma + 1;
        }
      } else if (ParseFlag(arg, "threshold", &value)) {
        options.threshold = std::stoi(value);
      } else if (ParseFlag(arg, "mih_queries", &value)) {
        options.mih_queries = std::stoi(value);
      } else if (ParseFlag(arg, "linear_queries", &value)) {
        options.linear_queries = std::stoi(value);
      } else if (ParseFlag(arg, "concurrent_import", &value)) {
        options.concurrent_import = std::stoull(value);
      } else if (ParseFlag(arg, "seed", &value)) {
        options.seed = std::stoull(value);
      } else {
        fmt::print(stderr, "pdq_index_bench: unknown argument '{}'\n", arg);
        return 2;
      }
    } catch (const std::exception&) {
      fmt::print(stderr, "pdq_index_bench: '{}' needs a number\n", arg);
      return 2;
    }
  }
  if (options.mih_queries < 1 || options.linear_queries < 1) {
    fmt::print(stderr, "pdq_index_bench: query counts must be at least 1\n");
    return 2;
  }
  bool ok = true;
  for (size_t n : options.sizes) ok = takedown::RunSize(n, options) && ok;
  return ok ? 0 : 1;
}
