#include "matcher/pdq_hasher.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "absl/status/status.h"

#if defined(__FAST_MATH__)
#error "PDQ must be bit-exact with the reference: do not build with -ffast-math"
#endif

namespace takedown {
namespace {

// The 64x64 downsample and the 16x16 block of DCT coefficients kept from it.
constexpr int kGrid = 64;
constexpr int kCoefficients = 16;

using Grid = std::array<float, kGrid * kGrid>;
using Block = std::array<float, kCoefficients * kCoefficients>;

// Row u (0..15) holds DCT-II basis function u + 1 sampled at 64 points:
// sqrt(2/64) * cos(pi/128 * (u + 1) * (2k + 1)). The DC term is not used. The
// scale is rounded to float first and each entry computed in double, then
// rounded, exactly as the reference builds its table.
const std::array<float, kCoefficients * kGrid>& DctMatrix() {
  static const std::array<float, kCoefficients * kGrid> matrix = [] {
    constexpr double kPi = 3.14159265358979323846;
    const float scale = static_cast<float>(std::sqrt(2.0 / kGrid));
    std::array<float, kCoefficients * kGrid> m{};
    for (int u = 0; u < kCoefficients; ++u) {
      for (int k = 0; k < kGrid; ++k) {
        const double angle = (kPi / 2.0 / kGrid) * static_cast<double>(u + 1) *
                             static_cast<double>(2 * k + 1);
        m[u * kGrid + k] = static_cast<float>(static_cast<double>(scale) * std::cos(angle));
      }
    }
    return m;
  }();
  return matrix;
}

// The reference's window: ceil(old / (2 * new)), so that two passes of the
// box filter together span one output cell.
int JaroszWindow(int old_size, int new_size) {
  return (old_size + 2 * new_size - 1) / (2 * new_size);
}

// One box-filter pass over `n` values spaced `stride` apart. Output o averages
// inputs [o - behind, o + ahead] clipped to the vector, with
// ahead = floor(window / 2) and behind = window - 1 - ahead. The running sum is
// updated add-then-subtract in index order and divided by the clipped count:
// the exact float operation sequence of the reference.
void BoxFilter(const float* in, float* out, int n, int stride, int window) {
  const int ahead = (window + 2) / 2 - 1;
  const int behind = window - 1 - ahead;
  float sum = 0.0f;
  for (int i = 0; i < ahead && i < n; ++i) sum += in[i * stride];
  for (int o = 0; o < n; ++o) {
    if (o + ahead < n) sum += in[(o + ahead) * stride];
    if (o - behind - 1 >= 0) sum -= in[(o - behind - 1) * stride];
    const int count = std::min(o + ahead, n - 1) - std::max(o - behind, 0) + 1;
    out[o * stride] = sum / count;
  }
}

// BoxFilter() down every column at once: one running sum per column, rows
// read in order (the column-wise walk of BoxFilter() touches a new cache line
// per value). Each column sees the same float operations in the same order as
// BoxFilter(in + x, out + x, height, width, window), so the result is
// bit-identical; the inner loops over x vectorise.
void ColumnBoxFilter(const float* in, float* out, int width, int height, int window,
                     std::vector<float>& sums) {
  const int ahead = (window + 2) / 2 - 1;
  const int behind = window - 1 - ahead;
  sums.assign(width, 0.0f);
  float* s = sums.data();
  for (int i = 0; i < ahead && i < height; ++i) {
    const float* row = in + static_cast<size_t>(i) * width;
    for (int x = 0; x < width; ++x) s[x] += row[x];
  }
  for (int o = 0; o < height; ++o) {
    if (o + ahead < height) {
      const float* row = in + static_cast<size_t>(o + ahead) * width;
      for (int x = 0; x < width; ++x) s[x] += row[x];
    }
    if (o - behind - 1 >= 0) {
      const float* row = in + static_cast<size_t>(o - behind - 1) * width;
      for (int x = 0; x < width; ++x) s[x] -= row[x];
    }
    const float count = static_cast<float>(std::min(o + ahead, height - 1) - std::max(o - behind, 0) + 1);
    float* dst = out + static_cast<size_t>(o) * width;
    for (int x = 0; x < width; ++x) dst[x] = s[x] / count;
  }
}

// Two rounds of (box along rows, box along columns): the Jarosz tent
// approximation. Result in `plane`; `scratch` is the same size.
void JaroszFilter(std::vector<float>& plane, std::vector<float>& scratch, int width,
                  int height) {
  const int window_x = JaroszWindow(width, kGrid);
  const int window_y = JaroszWindow(height, kGrid);
  std::vector<float> sums;
  for (int round = 0; round < 2; ++round) {
    for (int y = 0; y < height; ++y) {
      BoxFilter(&plane[static_cast<size_t>(y) * width], &scratch[static_cast<size_t>(y) * width],
                width, 1, window_x);
    }
    ColumnBoxFilter(scratch.data(), plane.data(), width, height, window_y, sums);
  }
}

// Samples the centre of each of the 64x64 cells.
void Decimate(const std::vector<float>& plane, int width, int height, Grid& grid) {
  for (int gy = 0; gy < kGrid; ++gy) {
    const int y = static_cast<int>(((gy + 0.5) * height) / kGrid);
    for (int gx = 0; gx < kGrid; ++gx) {
      const int x = static_cast<int>(((gx + 0.5) * width) / kGrid);
      grid[gy * kGrid + gx] = plane[static_cast<size_t>(y) * width + x];
    }
  }
}

// Sum of |neighbour difference| in percent of full scale, truncated per pair,
// over all horizontal and vertical neighbours; / 90, capped at 100.
int Quality(const Grid& grid) {
  int gradient_sum = 0;
  auto add = [&gradient_sum](float u, float v) {
    const int d = static_cast<int>(((u - v) * 100) / 255);
    gradient_sum += std::abs(d);
  };
  for (int y = 0; y + 1 < kGrid; ++y) {
    for (int x = 0; x < kGrid; ++x) add(grid[y * kGrid + x], grid[(y + 1) * kGrid + x]);
  }
  for (int y = 0; y < kGrid; ++y) {
    for (int x = 0; x + 1 < kGrid; ++x) add(grid[y * kGrid + x], grid[y * kGrid + x + 1]);
  }
  return std::min(gradient_sum / 90, 100);
}

// coefficients = D * grid * D^T, D the 16x64 matrix above; each dot product
// accumulated in float in increasing k.
void Dct(const Grid& grid, Block& coefficients) {
  const auto& d = DctMatrix();
  std::array<float, kCoefficients * kGrid> partial;  // D * grid
  for (int u = 0; u < kCoefficients; ++u) {
    for (int x = 0; x < kGrid; ++x) {
      float sum = 0.0f;
      for (int k = 0; k < kGrid; ++k) sum += d[u * kGrid + k] * grid[k * kGrid + x];
      partial[u * kGrid + x] = sum;
    }
  }
  for (int u = 0; u < kCoefficients; ++u) {
    for (int v = 0; v < kCoefficients; ++v) {
      float sum = 0.0f;
      for (int k = 0; k < kGrid; ++k) sum += partial[u * kGrid + k] * d[v * kGrid + k];
      coefficients[u * kCoefficients + v] = sum;
    }
  }
}

// Bit (u * 16 + v) is set when coefficient (u, v) is strictly greater than
// the median. The median is the 128th smallest of the 256 values (the lower
// median), the value the reference's Torben selection returns for n = 256.
PdqHash ToBits(const Block& coefficients) {
  Block sorted = coefficients;
  constexpr int kMedianIndex = (kCoefficients * kCoefficients - 1) / 2;
  std::nth_element(sorted.begin(), sorted.begin() + kMedianIndex, sorted.end());
  const float median = sorted[kMedianIndex];
  PdqHash hash;
  for (int k = 0; k < PdqHash::kBits; ++k) {
    if (coefficients[k] > median) hash.SetBit(k);
  }
  return hash;
}

// A rotation or mirror of the image, as an operation on its DCT coefficients.
// Reversing the rows multiplies coefficient row u by (-1)^(u+1) (basis u + 1 is
// odd-symmetric for even u); reversing the columns does the same to columns;
// transposing the image transposes the block. Negation and transposition are
// exact, so these equal the reference's variants bit for bit.
struct DihedralOp {
  bool negate_even_rows;
  bool negate_even_cols;
  bool transpose;
};

constexpr std::array<DihedralOp, PdqDihedral::kCount> kDihedralOps = {{
    {false, false, false},  // kOriginal
    {false, true, true},    // kRotate90
    {true, true, false},    // kRotate180
    {true, false, true},    // kRotate270
    {true, false, false},   // kFlipX
    {false, true, false},   // kFlipY
    {false, false, true},   // kFlipPlus1
    {true, true, true},     // kFlipMinus1
}};

Block ApplyDihedral(const Block& in, const DihedralOp& op) {
  Block out;
  for (int u = 0; u < kCoefficients; ++u) {
    for (int v = 0; v < kCoefficients; ++v) {
      float value = in[u * kCoefficients + v];
      if (op.negate_even_rows && u % 2 == 0) value = -value;
      if (op.negate_even_cols && v % 2 == 0) value = -value;
      const int target = op.transpose ? v * kCoefficients + u : u * kCoefficients + v;
      out[target] = value;
    }
  }
  return out;
}

absl::Status CheckLumaShape(std::span<const float> luma, int width, int height) {
  if (width <= 0 || height <= 0 ||
      static_cast<uint64_t>(width) * static_cast<uint64_t>(height) != luma.size()) {
    return absl::InvalidArgumentError(fmt::format(
        "PDQ luma plane: {} values do not make a {}x{} image", luma.size(), width, height));
  }
  return absl::OkStatus();
}

// Blur + decimate (or, when `allow_passthrough` and the plane is already
// 64x64, a copy), then quality and DCT.
int Coefficients(std::span<const float> luma, int width, int height, bool allow_passthrough,
                 Block& coefficients) {
  Grid grid;
  if (allow_passthrough && width == kGrid && height == kGrid) {
    std::copy(luma.begin(), luma.end(), grid.begin());
  } else {
    // Per-thread buffers: a 512x512 plane is 1 MB, and allocating three of
    // them per image costs ~10 ms of page faults on a VM (malloc hands
    // blocks this size back to the kernel on free).
    thread_local std::vector<float> plane;
    thread_local std::vector<float> scratch;
    plane.assign(luma.begin(), luma.end());
    scratch.resize(plane.size());
    JaroszFilter(plane, scratch, width, height);
    Decimate(plane, width, height, grid);
  }
  Dct(grid, coefficients);
  return Quality(grid);
}

bool TooSmall(int width, int height) {
  return width < PdqHasher::kMinDimension || height < PdqHasher::kMinDimension;
}

// Luma of the image, after the reference's squash: any image wider or taller
// than 512 becomes exactly 512x512, source pixel (floor(x * W / 512),
// floor(y * H / 512)) for target (x, y), whatever the aspect ratio. The
// reference does this (CImg nearest-neighbour resize) because the Jarosz
// filter on a full-size photo is slow; sampling before the blur is what makes
// its hashes, so it is part of the algorithm for bit-exactness.
// Grey pixels are taken as is; colour ones as 0.299 R + 0.587 G + 0.114 B in
// float, summed in that order.
struct LumaPlane {
  std::vector<float> values;
  int width = 0;
  int height = 0;
};

absl::StatusOr<LumaPlane> Luma(const DecodedImage& image) {
  if (image.width <= 0 || image.height <= 0 || (image.channels != 1 && image.channels != 3) ||
      static_cast<uint64_t>(image.width) * static_cast<uint64_t>(image.height) *
              static_cast<uint64_t>(image.channels) !=
          image.pixels.size()) {
    return absl::InvalidArgumentError(fmt::format(
        "PDQ input image: {} bytes do not make a {}x{} image with {} channels (need 1 or 3)",
        image.pixels.size(), image.width, image.height, image.channels));
  }
  const bool squash =
      image.width > PdqHasher::kSquashSize || image.height > PdqHasher::kSquashSize;
  const int width = squash ? PdqHasher::kSquashSize : image.width;
  const int height = squash ? PdqHasher::kSquashSize : image.height;
  // Double constants rounded to float, as the reference declares them.
  constexpr float kRed = static_cast<float>(0.299);
  constexpr float kGreen = static_cast<float>(0.587);
  constexpr float kBlue = static_cast<float>(0.114);
  std::vector<float> luma(static_cast<size_t>(width) * height);
  for (int y = 0; y < height; ++y) {
    const uint64_t sy = squash ? uint64_t{static_cast<uint32_t>(y)} * image.height / height
                               : static_cast<uint64_t>(y);
    const uint8_t* row = image.pixels.data() + sy * image.width * image.channels;
    for (int x = 0; x < width; ++x) {
      const uint64_t sx = squash ? uint64_t{static_cast<uint32_t>(x)} * image.width / width
                                 : static_cast<uint64_t>(x);
      const uint8_t* p = row + sx * image.channels;
      luma[static_cast<size_t>(y) * width + x] =
          image.channels == 1 ? static_cast<float>(p[0])
                              : kRed * p[0] + kGreen * p[1] + kBlue * p[2];
    }
  }
  return LumaPlane{std::move(luma), width, height};
}

}  // namespace

absl::StatusOr<PdqResult> PdqHasher::HashLuma(std::span<const float> luma, int width,
                                              int height) const {
  if (absl::Status status = CheckLumaShape(luma, width, height); !status.ok()) return status;
  PdqResult result;
  if (TooSmall(width, height)) return result;
  Block coefficients;
  result.quality = Coefficients(luma, width, height, /*allow_passthrough=*/true, coefficients);
  result.hash = ToBits(coefficients);
  return result;
}

absl::StatusOr<PdqDihedral> PdqHasher::HashLumaDihedral(std::span<const float> luma, int width,
                                                        int height) const {
  if (absl::Status status = CheckLumaShape(luma, width, height); !status.ok()) return status;
  PdqDihedral result;
  if (TooSmall(width, height)) return result;
  Block coefficients;
  result.quality = Coefficients(luma, width, height, /*allow_passthrough=*/false, coefficients);
  for (int i = 0; i < PdqDihedral::kCount; ++i) {
    result.hashes[i] = ToBits(ApplyDihedral(coefficients, kDihedralOps[i]));
  }
  return result;
}

absl::StatusOr<PdqResult> PdqHasher::Hash(const DecodedImage& image) const {
  absl::StatusOr<LumaPlane> luma = Luma(image);
  if (!luma.ok()) return luma.status();
  return HashLuma(luma->values, luma->width, luma->height);
}

absl::StatusOr<PdqDihedral> PdqHasher::HashDihedral(const DecodedImage& image) const {
  absl::StatusOr<LumaPlane> luma = Luma(image);
  if (!luma.ok()) return luma.status();
  return HashLumaDihedral(luma->values, luma->width, luma->height);
}

}  // namespace takedown
