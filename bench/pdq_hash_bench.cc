// pdq_hash_bench: PDQ hashing speed per core against the time OpenCV alone
// needs to decode the same files, measured in the same run, and fast mode
// (matcher/pdq_fast.h) against exact mode: speed and Hamming distance.
//
//   pdq_hash_bench [--repeat=3] [--min_side=512] DIR_OR_FILE...
//
// Directories are searched recursively for .jpg/.jpeg/.png/.webp files (e.g.
// the corpus of shared/corpus/make-images.sh, generated outside the repo).
// Every file is read into memory first; each phase then runs over all files
// `repeat` times on one thread and is timed by that thread's CPU time:
//   decode      cv::imdecode(IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION), full size
//   exact       DecodeImage() + PdqHasher::Hash()
//   exact+dih   DecodeImage() + PdqHasher::HashDihedral()
//   fast        DecodeImageFast() + PdqHasher::Hash()
// Figures are given for all files and for those of at least 1920x1080 pixels.
#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <span>
#include <string>
#include <vector>

#include "matcher/image_decoder.h"
#include "matcher/pdq_fast.h"
#include "matcher/pdq_hasher.h"

namespace takedown {
namespace {

struct File {
  std::string path;
  std::string bytes;
  int width = 0;
  int height = 0;
  bool jpeg = false;
  bool large = false;  // at least 1920 x 1080 pixels
};

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

bool IsImageName(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".webp";
}

std::vector<std::string> ListFiles(const std::vector<std::string>& roots) {
  std::vector<std::string> paths;
  for (const std::string& root : roots) {
    std::error_code ec;
    if (std::filesystem::is_directory(root, ec)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(root, ec)) {
        if (entry.is_regular_file() && IsImageName(entry.path())) paths.push_back(entry.path());
      }
    } else {
      paths.push_back(root);
    }
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

struct Phase {
  double seconds = 0;
  int images = 0;
  double Rate() const { return images / seconds; }
};

// Runs `work` on each selected file `repeat` times; returns CPU time per phase
// for all files and for the large ones.
template <typename Work>
std::pair<Phase, Phase> Time(const std::vector<File>& files, int repeat, Work work) {
  Phase all;
  Phase large;
  for (int r = 0; r < repeat; ++r) {
    for (const File& f : files) {
      const double start = ThreadCpuSeconds();
      work(f);
      const double elapsed = ThreadCpuSeconds() - start;
      all.seconds += elapsed;
      ++all.images;
      if (f.large) {
        large.seconds += elapsed;
        ++large.images;
      }
    }
  }
  return {all, large};
}

int Run(const std::vector<std::string>& roots, int repeat, const FastDecodeOptions& fast) {
  std::vector<File> files;
  for (const std::string& path : ListFiles(roots)) {
    File f;
    f.path = path;
    std::ifstream in(path, std::ios::binary);
    f.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    absl::StatusOr<ImageHeader> header = ReadImageHeader(Bytes(f.bytes));
    absl::StatusOr<DecodedImage> check = DecodeImage(Bytes(f.bytes), ImageLimits());
    if (!header.ok() || !check.ok()) {
      fmt::print("skipped {}: not decodable\n", path);
      continue;
    }
    f.width = static_cast<int>(header->width);
    f.height = static_cast<int>(header->height);
    f.jpeg = header->format == ImageFormat::kJpeg;
    f.large = int64_t{f.width} * f.height >= int64_t{1920} * 1080;
    files.push_back(std::move(f));
  }
  if (files.empty()) {
    fmt::print(stderr, "pdq_hash_bench: no decodable images under the given paths\n");
    return 2;
  }
  std::map<std::string, int> by_size;
  for (const File& f : files) ++by_size[fmt::format("{}x{}", f.width, f.height)];
  fmt::print("{} images:", files.size());
  for (const auto& [size, count] : by_size) fmt::print(" {}x {}", count, size);
  fmt::print("\n");

  const PdqHasher hasher;
  bool failed = false;
  auto [decode_all, decode_large] = Time(files, repeat, [&](const File& f) {
    const cv::Mat encoded(1, static_cast<int>(f.bytes.size()), CV_8UC1, const_cast<char*>(f.bytes.data()));
    const cv::Mat image = cv::imdecode(encoded, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
    failed |= image.empty();
  });
  std::vector<PdqHash> exact_hashes(files.size());
  auto [exact_all, exact_large] = Time(files, repeat, [&](const File& f) {
    absl::StatusOr<DecodedImage> image = DecodeImage(Bytes(f.bytes), ImageLimits());
    absl::StatusOr<PdqResult> result =
        image.ok() ? hasher.Hash(*image) : absl::StatusOr<PdqResult>(image.status());
    failed |= !result.ok();
    if (result.ok()) exact_hashes[&f - files.data()] = result->hash;
  });
  auto [dih_all, dih_large] = Time(files, repeat, [&](const File& f) {
    absl::StatusOr<DecodedImage> image = DecodeImage(Bytes(f.bytes), ImageLimits());
    failed |= !image.ok() || !hasher.HashDihedral(*image).ok();
  });
  std::vector<PdqHash> fast_hashes(files.size());
  auto [fast_all, fast_large] = Time(files, repeat, [&](const File& f) {
    absl::StatusOr<DecodedImage> image = DecodeImageFast(Bytes(f.bytes), ImageLimits(), fast);
    absl::StatusOr<PdqResult> result =
        image.ok() ? hasher.Hash(*image) : absl::StatusOr<PdqResult>(image.status());
    failed |= !result.ok();
    if (result.ok()) fast_hashes[&f - files.data()] = result->hash;
  });
  // Fast mode on large JPEGs only, where the reduced decode applies.
  std::vector<File> large_jpegs;
  for (const File& f : files) {
    if (f.jpeg && f.large) large_jpegs.push_back(f);
  }

  auto line = [](const char* name, const Phase& p, const Phase& decode) {
    if (p.images == 0) return;
    fmt::print("  {:<10} {:8.1f} images/s per core  {:7.2f} ms/image  {:.2f}x decode time\n", name, p.Rate(),
               1e3 * p.seconds / p.images, p.seconds / decode.seconds);
  };
  fmt::print("all images ({} runs of {}):\n", repeat, files.size());
  line("decode", decode_all, decode_all);
  line("exact", exact_all, decode_all);
  line("exact+dih", dih_all, decode_all);
  line("fast", fast_all, decode_all);
  fmt::print("images of at least 1920x1080 ({} of {}):\n", decode_large.images / repeat, files.size());
  line("decode", decode_large, decode_large);
  line("exact", exact_large, decode_large);
  line("exact+dih", dih_large, decode_large);
  line("fast", fast_large, decode_large);
  if (fast_large.images > 0) {
    fmt::print("  fast is {:.2f}x faster than exact on these\n", exact_large.seconds / fast_large.seconds);
  }
  if (!large_jpegs.empty()) {
    auto [e, unused_e] = Time(large_jpegs, repeat, [&](const File& f) {
      absl::StatusOr<DecodedImage> image = DecodeImage(Bytes(f.bytes), ImageLimits());
      failed |= !image.ok() || !hasher.Hash(*image).ok();
    });
    auto [q, unused_q] = Time(large_jpegs, repeat, [&](const File& f) {
      absl::StatusOr<DecodedImage> image = DecodeImageFast(Bytes(f.bytes), ImageLimits(), fast);
      failed |= !image.ok() || !hasher.Hash(*image).ok();
    });
    fmt::print(
        "JPEGs of at least 1920x1080 ({}): exact {:.1f} images/s, fast {:.1f} images/s, "
        "fast is {:.2f}x faster\n",
        large_jpegs.size(), e.Rate(), q.Rate(), e.seconds / q.seconds);
  }

  fmt::print("fast vs exact hash, Hamming distance per image (min_side {}):\n", fast.min_side);
  int max_distance = 0;
  double sum = 0;
  int reduced = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const int factor = files[i].jpeg ? FastJpegReduction(files[i].width, files[i].height, fast) : 1;
    if (factor == 1) continue;
    const int d = exact_hashes[i].Distance(fast_hashes[i]);
    fmt::print("  {:3d}  1/{}  {}x{}  {}\n", d, factor, files[i].width, files[i].height, files[i].path);
    max_distance = std::max(max_distance, d);
    sum += d;
    ++reduced;
  }
  if (reduced > 0) {
    fmt::print(
        "  {} images decoded reduced: mean distance {:.1f}, max {}; the other {} are "
        "identical by construction\n",
        reduced, sum / reduced, max_distance, files.size() - reduced);
  } else {
    fmt::print("  no image was large enough to be decoded reduced\n");
  }
  if (failed) fmt::print("FAIL: some image failed to decode or hash during timing\n");
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace takedown

int main(int argc, char** argv) {
  int repeat = 3;
  takedown::FastDecodeOptions fast;
  std::vector<std::string> roots;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    try {
      if (arg.rfind("--repeat=", 0) == 0) {
        repeat = std::max(1, std::stoi(arg.substr(9)));
      } else if (arg.rfind("--min_side=", 0) == 0) {
        fast.min_side = std::max(1, std::stoi(arg.substr(11)));
      } else if (arg.rfind("--", 0) == 0) {
        fmt::print(stderr, "pdq_hash_bench: unknown option '{}'\n", arg);
        return 2;
      } else {
        roots.push_back(arg);
      }
    } catch (const std::exception&) {
      fmt::print(stderr, "pdq_hash_bench: '{}' needs a number\n", arg);
      return 2;
    }
  }
  if (roots.empty()) {
    fmt::print(stderr,
               "usage: pdq_hash_bench [--repeat=3] [--min_side=512] DIR_OR_FILE...\n"
               "  e.g. shared/corpus/make-images.sh /tmp/corpus 25 5 && pdq_hash_bench "
               "/tmp/corpus/base\n");
    return 2;
  }
  return takedown::Run(roots, repeat, fast);
}
