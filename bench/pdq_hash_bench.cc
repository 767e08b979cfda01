// pdq_hash_bench: PDQ hashing speed per core against the time OpenCV alone
// needs to decode the same files, measured in the same run, and fast mode
// (matcher/pdq_fast.h) against exact mode: speed and Hamming distance.
//
//   pdq_hash_bench [--repeat=3] [--min_side=512] DIR_OR_FILE...
//
// Directories are searched recursively for .jpg/.jpeg/.png/.webp/.gif files
// (e.g. the corpus of shared/corpus/make-images.sh, generated outside the
// repo). Every file is read into memory first. Then, `repeat` times, each file
// goes through every phase in turn (so a change in the machine's load hits
// all phases alike), each timed by the thread's CPU time:
//   decode      cv::imdecode(IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION), full
//               size: the baseline (GIFs, which OpenCV 4.6 cannot read, have
//               no baseline and are left out of the ratios)
//   exact       DecodeImage() + PdqHasher::Hash()
//   exact+dih   DecodeImage() + PdqHasher::HashDihedral()
//   fast        DecodeImageFast() + PdqHasher::Hash()
// Printed: rates and times per phase for all files, per image size, and for
// the files of at least 1920x1080 pixels, then the ratios exact/decode
// (target <= 1.3) and exact/fast. The kernel's transparent-huge-page mode is
// printed too: DecodeImage() asks for huge pages for large buffers, which
// matters where page faults are expensive (see docs/pdq-index.md).
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
#include <tuple>
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
  bool gif = false;
  bool large = false;  // at least 1920 x 1080 pixels
};

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double WallSeconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

bool IsImageName(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".webp" || ext == ".gif";
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

struct Times {
  double decode = 0;
  double exact = 0;
  double dihedral = 0;
  double fast = 0;
  int images = 0;

  void Add(const Times& t) {
    decode += t.decode;
    exact += t.exact;
    dihedral += t.dihedral;
    fast += t.fast;
    images += t.images;
  }
};

std::string HugePageMode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  std::getline(in, mode);
  return mode.empty() ? "unknown" : mode;
}

template <typename Work>
double CpuSeconds(Work work) {
  const double start = ThreadCpuSeconds();
  work();
  return ThreadCpuSeconds() - start;
}

void PrintRow(const std::string& name, const Times& t) {
  if (t.images == 0) return;
  const double n = t.images;
  const std::string decode = t.decode > 0 ? fmt::format("{:8.2f}", 1e3 * t.decode / n) : "       -";
  const std::string ratio = t.decode > 0 ? fmt::format("{:6.2f}x", t.exact / t.decode) : "      -";
  fmt::print("  {:<22} {:>5}  {} {:8.2f} {:9.2f} {:8.2f}   {} {:6.2f}x\n", name, t.images, decode,
             1e3 * t.exact / n, 1e3 * t.dihedral / n, 1e3 * t.fast / n, ratio, t.exact / t.fast);
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
    f.width = check->width;
    f.height = check->height;
    f.jpeg = header->format == ImageFormat::kJpeg;
    f.gif = header->format == ImageFormat::kGif;
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
  fmt::print("\ntransparent huge pages: {}\n", HugePageMode());

  const PdqHasher hasher;
  bool failed = false;
  std::vector<PdqHash> exact_hashes(files.size());
  std::vector<PdqHash> fast_hashes(files.size());
  std::vector<Times> times(files.size());
  const double wall_start = WallSeconds();
  for (int r = 0; r < repeat; ++r) {
    for (size_t i = 0; i < files.size(); ++i) {
      const File& f = files[i];
      Times& t = times[i];
      ++t.images;
      if (!f.gif) {
        t.decode += CpuSeconds([&] {
          const cv::Mat encoded(1, static_cast<int>(f.bytes.size()), CV_8UC1,
                                const_cast<char*>(f.bytes.data()));
          const cv::Mat image =
              cv::imdecode(encoded, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
          failed |= image.empty();
        });
      }
      t.exact += CpuSeconds([&] {
        absl::StatusOr<DecodedImage> image = DecodeImage(Bytes(f.bytes), ImageLimits());
        absl::StatusOr<PdqResult> result =
            image.ok() ? hasher.Hash(*image) : absl::StatusOr<PdqResult>(image.status());
        failed |= !result.ok();
        if (result.ok()) exact_hashes[i] = result->hash;
      });
      t.dihedral += CpuSeconds([&] {
        absl::StatusOr<DecodedImage> image = DecodeImage(Bytes(f.bytes), ImageLimits());
        failed |= !image.ok() || !hasher.HashDihedral(*image).ok();
      });
      t.fast += CpuSeconds([&] {
        absl::StatusOr<DecodedImage> image = DecodeImageFast(Bytes(f.bytes), ImageLimits(), fast);
        absl::StatusOr<PdqResult> result =
            image.ok() ? hasher.Hash(*image) : absl::StatusOr<PdqResult>(image.status());
        failed |= !result.ok();
        if (result.ok()) fast_hashes[i] = result->hash;
      });
    }
  }
  const double wall = WallSeconds() - wall_start;

  Times all;
  Times large;
  Times large_jpeg;
  Times gifs;
  std::map<std::tuple<bool, int64_t, std::string>, Times> sizes;
  for (size_t i = 0; i < files.size(); ++i) {
    const File& f = files[i];
    const std::string size = fmt::format("{}x{}{}", f.width, f.height, f.gif ? " GIF" : "");
    sizes[{f.gif, int64_t{f.width} * f.height, size}].Add(times[i]);
    if (f.gif) {
      gifs.Add(times[i]);
      continue;
    }
    all.Add(times[i]);
    if (f.large) large.Add(times[i]);
    if (f.large && f.jpeg) large_jpeg.Add(times[i]);
  }
  fmt::print("\n{} runs over the files, {:.1f} s wall; CPU ms per image:\n", repeat, wall);
  fmt::print("  {:<22} {:>5}  {:>8} {:>8} {:>9} {:>8}   {:>7} {:>7}\n", "", "runs", "decode", "exact",
             "exact+dih", "fast", "ex/dec", "ex/fast");
  for (const auto& [key, t] : sizes) PrintRow(std::get<2>(key), t);
  PrintRow("all (no GIF)", all);
  PrintRow(">= 1920x1080", large);
  PrintRow(">= 1920x1080 JPEG", large_jpeg);
  PrintRow("all GIF (no baseline)", gifs);
  if (all.images == 0) {
    fmt::print("no image other than GIF: no OpenCV baseline, no ratios\n");
    return failed ? 1 : 0;
  }
  auto rate = [](double seconds, int images) { return seconds > 0 ? images / seconds : 0.0; };
  fmt::print("\nimages/s per core (all, no GIF): decode {:.1f}, exact {:.1f}, exact+dih {:.1f}, fast {:.1f}\n",
             rate(all.decode, all.images), rate(all.exact, all.images), rate(all.dihedral, all.images),
             rate(all.fast, all.images));
  if (large.images > 0) {
    fmt::print("images/s per core (>= 1920x1080): decode {:.1f}, exact {:.1f}, exact+dih {:.1f}, fast {:.1f}\n",
               rate(large.decode, large.images), rate(large.exact, large.images),
               rate(large.dihedral, large.images), rate(large.fast, large.images));
  }
  fmt::print("RATIO exact/decode (all): {:.2f}  (target <= 1.3)\n", all.exact / all.decode);
  if (large.images > 0) {
    fmt::print("RATIO exact/decode (>= 1920x1080): {:.2f}  (target <= 1.3)\n", large.exact / large.decode);
    fmt::print("RATIO exact/fast (>= 1920x1080): {:.2f}  (fast is that many times faster)\n",
               large.exact / large.fast);
  }
  if (large_jpeg.images > 0) {
    fmt::print("RATIO exact/fast (>= 1920x1080 JPEG): {:.2f}\n", large_jpeg.exact / large_jpeg.fast);
  }

  fmt::print("\nfast vs exact hash, Hamming distance per image (min_side {}):\n", fast.min_side);
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
