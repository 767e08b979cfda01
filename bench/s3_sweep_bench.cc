// s3_sweep_bench: reads every object of a bucket through S3Source (List, then
// Open + Read on worker threads) and, in the same run, with a plain libcurl
// loop (one keep-alive easy handle per thread, SigV4-signed GETs, body
// discarded), and prints both rates, their ratio, and the CPU time this
// process spent in each (user + system, all threads; the server's is not
// counted). Rounds alternate which of the two goes first; the best round of
// each is reported, with the median.
//
// It needs an S3 endpoint; run it against s3rver on 127.0.0.1 with
//   python3 tests/crawler/s3rver_fixture.py --cache-dir <build>/s3rver-cache
//       -- <build>/bench/s3_sweep_bench [--objects N] [--size BYTES] [--threads T] [--rounds R]
//          [--chunk-bytes B]
// which sets S3_TEST_ENDPOINT. Credentials are s3rver's (S3RVER/S3RVER). The
// bucket "bench-sweep" is filled once per server with seeded random bytes.
#include <curl/curl.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "crawler/s3_client.h"
#include "crawler/s3_source.h"
#include "fmt/format.h"

namespace takedown {
namespace {

struct Flags {
  int objects = 300;
  size_t size = 256 * 1024;
  int threads = 4;
  int rounds = 3;
  uint64_t chunk_bytes = 0;  // 0: S3SourceOptions' default
};

// CPU seconds (user + system) used by this process so far.
double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

class RefSink : public ListingSink {
 public:
  bool OnObject(ObjectRef ref) override {
    refs.push_back(std::move(ref));
    return true;
  }
  void OnSkipped(std::string_view, std::string_view) override {}
  std::vector<ObjectRef> refs;
};

size_t Discard(char*, size_t size, size_t count, void* user) {
  *static_cast<uint64_t*>(user) += size * count;
  return size * count;
}

// Runs `work(i)` for i in [0, n) on `threads` threads; returns seconds.
template <typename Work>
double Timed(int n, int threads, Work work) {
  std::atomic<int> next{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = next++; i < n; i = next++) work(t, i);
    });
  }
  for (std::thread& thread : pool) thread.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int Run(const Flags& flags) {
  const char* endpoint = std::getenv("S3_TEST_ENDPOINT");
  if (endpoint == nullptr) {
    fmt::print(stderr,
               "s3_sweep_bench: S3_TEST_ENDPOINT is unset; run it through tests/crawler/s3rver_fixture.py\n");
    return 2;
  }
  S3ClientOptions client_options;
  client_options.endpoint = endpoint;
  client_options.credentials = S3Credentials{"S3RVER", "S3RVER", ""};
  client_options.max_concurrent_requests = flags.threads;
  auto client_or = S3Client::Create(client_options);
  if (!client_or.ok()) {
    fmt::print(stderr, "s3_sweep_bench: {}\n", client_or.status().ToString());
    return 2;
  }
  std::shared_ptr<S3Client> client(std::move(*client_or));
  const std::string bucket = "bench-sweep";

  S3Request make_bucket;
  make_bucket.method = "PUT";
  make_bucket.bucket = bucket;
  (void)client->Send(make_bucket);
  std::vector<std::string> keys;
  for (int i = 0; i < flags.objects; ++i) keys.push_back(fmt::format("bench/{:06d}.bin", i));
  std::atomic<int> put_failures{0};
  double put_seconds = Timed(flags.objects, flags.threads, [&](int, int i) {
    std::mt19937_64 rng(static_cast<uint64_t>(i) + 1);
    std::string data(flags.size, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    S3Request put;
    put.method = "PUT";
    put.bucket = bucket;
    put.key = keys[static_cast<size_t>(i)];
    put.body = std::move(data);
    if (!client->SendChecked(put).ok()) ++put_failures;
  });
  if (put_failures > 0) {
    fmt::print(stderr, "s3_sweep_bench: {} PUTs failed\n", put_failures.load());
    return 1;
  }

  S3SourceOptions source_options;
  source_options.id = "bench";
  source_options.bucket = bucket;
  source_options.prefix = "bench/";
  if (flags.chunk_bytes != 0) source_options.read_chunk_bytes = flags.chunk_bytes;
  auto source_or = S3Source::CreateWithClient(source_options, client);
  if (!source_or.ok()) {
    fmt::print(stderr, "s3_sweep_bench: {}\n", source_or.status().ToString());
    return 2;
  }
  S3Source& source = **source_or;

  const uint64_t expected = static_cast<uint64_t>(flags.objects) * flags.size;
  std::vector<double> source_times, plain_times, list_times, source_cpu, plain_cpu;
  for (int round = 0; round < flags.rounds; ++round) {
    std::atomic<uint64_t> source_bytes{0};
    std::atomic<int> source_errors{0};
    std::atomic<uint64_t> plain_bytes{0};
    std::atomic<int> plain_errors{0};
    // S3Source: list, then read every object in parallel.
    auto run_source = [&] {
      const double cpu_start = CpuSeconds();
      auto start = std::chrono::steady_clock::now();
      RefSink sink;
      if (!source.List("", sink).ok()) ++source_errors;
      list_times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      Timed(static_cast<int>(sink.refs.size()), flags.threads, [&](int, int i) {
        std::vector<uint8_t> buffer(256 * 1024);
        auto reader = source.Open(sink.refs[static_cast<size_t>(i)]);
        if (!reader.ok()) {
          ++source_errors;
          return;
        }
        while (true) {
          auto n = (*reader)->Read(buffer);
          if (!n.ok()) {
            ++source_errors;
            return;
          }
          if (*n == 0) break;
          source_bytes += *n;
        }
      });
      source_times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      source_cpu.push_back(CpuSeconds() - cpu_start);
    };

    // Plain libcurl: one keep-alive handle per thread, signed GETs of known keys.
    auto run_plain = [&] {
      const double cpu_start = CpuSeconds();
      std::vector<CURL*> handles;
      for (int t = 0; t < flags.threads; ++t) handles.push_back(curl_easy_init());
      // S3 requires the payload hash header, which libcurl 7.88 does not add.
      curl_slist* headers = curl_slist_append(
          nullptr, "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
      plain_times.push_back(Timed(flags.objects, flags.threads, [&](int t, int i) {
        CURL* curl = handles[static_cast<size_t>(t)];
        S3Request get;
        get.bucket = bucket;
        get.key = keys[static_cast<size_t>(i)];
        const std::string url = client->UrlFor(get);
        uint64_t bytes = 0;
        curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
        curl_easy_setopt(curl, CURLOPT_USERPWD, "S3RVER:S3RVER");
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Discard);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &bytes);
        long status = 0;
        if (curl_easy_perform(curl) != CURLE_OK ||
            (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status), status != 200)) {
          ++plain_errors;
        }
        plain_bytes += bytes;
      }));
      for (CURL* curl : handles) curl_easy_cleanup(curl);
      curl_slist_free_all(headers);
      plain_cpu.push_back(CpuSeconds() - cpu_start);
    };

    if (round % 2 == 0) {
      run_source();
      run_plain();
    } else {
      run_plain();
      run_source();
    }

    if (source_errors > 0 || plain_errors > 0 || source_bytes != expected || plain_bytes != expected) {
      fmt::print(stderr, "s3_sweep_bench: round {}: errors {}/{}, bytes {}/{} (expected {})\n", round,
                 source_errors.load(), plain_errors.load(), source_bytes.load(), plain_bytes.load(),
                 expected);
      return 1;
    }
  }
  const double source_best = *std::min_element(source_times.begin(), source_times.end());
  const double plain_best = *std::min_element(plain_times.begin(), plain_times.end());
  const double mib = static_cast<double>(expected) / (1024.0 * 1024.0);
  fmt::print(
      "s3_sweep_bench: {} objects x {} bytes ({:.1f} MiB), {} threads, best of {} rounds (setup PUTs {:.2f} "
      "s)\n",
      flags.objects, flags.size, mib, flags.threads, flags.rounds, put_seconds);
  fmt::print(
      "  S3Source list+read : {:7.3f} s  {:8.1f} objects/s  {:7.1f} MiB/s  (median {:.3f} s, CPU {:.3f} s)\n",
      source_best, flags.objects / source_best, mib / source_best, Median(source_times),
      *std::min_element(source_cpu.begin(), source_cpu.end()));
  fmt::print("    of which List    : {:7.3f} s (best round)\n",
             *std::min_element(list_times.begin(), list_times.end()));
  fmt::print(
      "  plain libcurl GETs : {:7.3f} s  {:8.1f} objects/s  {:7.1f} MiB/s  (median {:.3f} s, CPU {:.3f} s)\n",
      plain_best, flags.objects / plain_best, mib / plain_best, Median(plain_times),
      *std::min_element(plain_cpu.begin(), plain_cpu.end()));
  fmt::print("  ratio S3Source / plain (time): {:.2f} best, {:.2f} median\n", source_best / plain_best,
             Median(source_times) / Median(plain_times));
  return 0;
}

}  // namespace
}  // namespace takedown

int main(int argc, char** argv) {
  constexpr const char* kUsage =
      "usage: s3_sweep_bench [--objects N] [--size BYTES] [--threads T] [--rounds R] [--chunk-bytes B]\n"
      "  (defaults: 300 objects of 262144 bytes, 4 threads, 3 rounds, S3Source's read_chunk_bytes)\n"
      "  needs S3_TEST_ENDPOINT: run it under tests/crawler/s3rver_fixture.py\n";
  takedown::Flags flags;
  for (int i = 1; i < argc; i += 2) {
    const std::string name = argv[i];
    if (name == "--help" || name == "-h") {
      fmt::print("{}", kUsage);
      return 0;
    }
    if (i + 1 >= argc) {
      fmt::print(stderr, "s3_sweep_bench: {} needs a value\n{}", name, kUsage);
      return 2;
    }
    const long value = std::strtol(argv[i + 1], nullptr, 10);
    if (value <= 0) {
      fmt::print(stderr, "s3_sweep_bench: {} needs a positive number\n", name);
      return 2;
    }
    if (name == "--objects") {
      flags.objects = static_cast<int>(value);
    } else if (name == "--size") {
      flags.size = static_cast<size_t>(value);
    } else if (name == "--threads") {
      flags.threads = static_cast<int>(value);
    } else if (name == "--rounds") {
      flags.rounds = static_cast<int>(value);
    } else if (name == "--chunk-bytes") {
      flags.chunk_bytes = static_cast<uint64_t>(value);
    } else {
      fmt::print(stderr, "{}", kUsage);
      return 2;
    }
  }
  return takedown::Run(flags);
}
