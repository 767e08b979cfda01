#include "matcher/pdq_hasher.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "matcher/image_decoder.h"
#include "matcher/pdq_hash.h"

namespace takedown {
namespace {

const std::string kVectorDir = std::string(TAKEDOWN_SOURCE_DIR) + "/../shared/vectors/pdq";

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream data;
  data << in.rdbuf();
  return data.str();
}

std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// One row of MANIFEST.tsv, keyed by its header's column names.
using ManifestRow = std::map<std::string, std::string>;

std::vector<ManifestRow> ReadManifest() {
  std::istringstream lines(ReadFileOrDie(kVectorDir + "/MANIFEST.tsv"));
  auto split = [](const std::string& line) {
    std::vector<std::string> fields;
    std::string field;
    std::istringstream in(line);
    while (std::getline(in, field, '\t')) fields.push_back(field);
    return fields;
  };
  std::string line;
  std::getline(lines, line);
  const std::vector<std::string> columns = split(line);
  std::vector<ManifestRow> rows;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    const std::vector<std::string> fields = split(line);
    ManifestRow row;
    for (size_t i = 0; i < columns.size() && i < fields.size(); ++i) row[columns[i]] = fields[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

const char* const kDihedralColumns[PdqDihedral::kCount] = {
    "dih_orig", "dih_rot90", "dih_rot180", "dih_rot270",
    "dih_flipx", "dih_flipy", "dih_flipplus1", "dih_flipminus1"};

int DistanceToHex(const PdqHash& hash, const std::string& hex) {
  const std::optional<PdqHash> expected = PdqHash::FromHex(hex);
  EXPECT_TRUE(expected.has_value()) << "bad hex in manifest: " << hex;
  return expected ? hash.Distance(*expected) : PdqHash::kBits;
}

absl::StatusOr<DecodedImage> DecodeVector(const std::string& file) {
  return DecodeImage(AsBytes(ReadFileOrDie(kVectorDir + "/images/" + file)), ImageLimits{});
}

// Every vector decodes and hashes to the reference's hash, quality and eight
// dihedral hashes exactly. No vector needs an exception: with OpenCV 4.6 on
// Debian 12 (the same libjpeg-turbo, libpng and libwebp that the reference's
// ImageMagick used) all 49 decode to the same pixels.
TEST(PdqHasher, MatchesReferenceOnEveryVector) {
  const std::vector<ManifestRow> rows = ReadManifest();
  ASSERT_EQ(rows.size(), 49u);
  const PdqHasher hasher;
  int exact = 0;
  for (const ManifestRow& row : rows) {
    const std::string& file = row.at("file");
    SCOPED_TRACE(file);
    const std::string bytes = ReadFileOrDie(kVectorDir + "/images/" + file);
    ASSERT_EQ(std::to_string(bytes.size()), row.at("bytes"));
    absl::StatusOr<DecodedImage> image = DecodeImage(AsBytes(bytes), ImageLimits{});
    ASSERT_TRUE(image.ok()) << image.status();
    EXPECT_EQ(std::to_string(image->width), row.at("width"));
    EXPECT_EQ(std::to_string(image->height), row.at("height"));

    absl::StatusOr<PdqResult> result = hasher.Hash(*image);
    ASSERT_TRUE(result.ok()) << result.status();
    const int distance = DistanceToHex(result->hash, row.at("pdq_hex"));
    EXPECT_EQ(distance, 0) << "ours " << result->hash.ToHex() << " reference " << row.at("pdq_hex");
    EXPECT_EQ(std::to_string(result->quality), row.at("quality"));

    absl::StatusOr<PdqDihedral> dihedral = hasher.HashDihedral(*image);
    ASSERT_TRUE(dihedral.ok()) << dihedral.status();
    EXPECT_EQ(std::to_string(dihedral->quality), row.at("quality"));
    bool all_dihedral_exact = true;
    for (int i = 0; i < PdqDihedral::kCount; ++i) {
      const int d = DistanceToHex(dihedral->hashes[i], row.at(kDihedralColumns[i]));
      EXPECT_EQ(d, 0) << kDihedralColumns[i];
      all_dihedral_exact = all_dihedral_exact && d == 0;
    }
    if (distance == 0 && all_dihedral_exact) ++exact;
  }
  EXPECT_EQ(exact, 49);
}

// The reference's own dih/ images are the original re-encoded after a real
// rotation or mirror. The variant computed from the original must be the one
// that finds each, within the usual match radius of 31 (it is 0..18 bits).
TEST(PdqHasher, DihedralVariantsFindTheReferencesRotatedFiles) {
  const char* const kFiles[PdqDihedral::kCount] = {
      "bridge-1-original", "bridge-2-rotate-90", "bridge-3-rotate-180",
      "bridge-4-rotate-270", "bridge-5-flipx", "bridge-6-flipy",
      "bridge-7-flip-plus-1", "bridge-8-flip-minus-1"};
  const PdqHasher hasher;
  absl::StatusOr<DecodedImage> original = DecodeVector("reg-test-input/dih/bridge-1-original.jpg");
  ASSERT_TRUE(original.ok()) << original.status();
  absl::StatusOr<PdqDihedral> variants = hasher.HashDihedral(*original);
  ASSERT_TRUE(variants.ok());
  for (int v = 0; v < PdqDihedral::kCount; ++v) {
    SCOPED_TRACE(kFiles[v]);
    absl::StatusOr<DecodedImage> image =
        DecodeVector(std::string("reg-test-input/dih/") + kFiles[v] + ".jpg");
    ASSERT_TRUE(image.ok()) << image.status();
    absl::StatusOr<PdqResult> hash = hasher.Hash(*image);
    ASSERT_TRUE(hash.ok());
    EXPECT_LE(variants->hashes[v].Distance(hash->hash), 31);
    for (int other = 0; other < PdqDihedral::kCount; ++other) {
      if (other == v) continue;
      EXPECT_GT(variants->hashes[other].Distance(hash->hash), 64) << "variant " << other;
    }
  }
}

TEST(PdqHash, HexRoundTripsAndUsesTheReferenceLayout) {
  PdqHash hash;
  hash.SetBit(0);    // words[0] bit 0: the last hex digit.
  hash.SetBit(255);  // words[15] bit 15: the first hex digit.
  hash.SetBit(20);   // words[1] bit 4.
  const std::string hex = hash.ToHex();
  EXPECT_EQ(hex, "8000" + std::string(13 * 4, '0') + "0010" + "0001");
  EXPECT_EQ(PdqHash::FromHex(hex), hash);

  const std::string reference = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22";
  std::optional<PdqHash> parsed = PdqHash::FromHex(reference);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->ToHex(), reference);
  EXPECT_EQ(parsed->words[15], 0xd8f8);
  EXPECT_EQ(parsed->words[0], 0x9b22);
  std::string upper = reference;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(PdqHash::FromHex(upper), parsed);
}

TEST(PdqHash, FromHexRejectsWrongLengthAndNonHex) {
  EXPECT_FALSE(PdqHash::FromHex("").has_value());
  EXPECT_FALSE(PdqHash::FromHex(std::string(63, 'a')).has_value());
  EXPECT_FALSE(PdqHash::FromHex(std::string(65, 'a')).has_value());
  EXPECT_FALSE(PdqHash::FromHex(std::string(63, 'a') + "g").has_value());
  EXPECT_FALSE(PdqHash::FromHex(" " + std::string(63, 'a')).has_value());
}

TEST(PdqHash, DistanceCountsDifferingBits) {
  const PdqHash zero;
  PdqHash ones;
  ones.words.fill(0xFFFF);
  EXPECT_EQ(zero.Distance(zero), 0);
  EXPECT_EQ(zero.Distance(ones), 256);
  PdqHash some;
  for (int k : {0, 17, 100, 200, 255}) some.SetBit(k);
  EXPECT_EQ(zero.Distance(some), 5);
  EXPECT_EQ(some.Distance(zero), 5);
  EXPECT_EQ(ones.Distance(some), 251);
  // f = 4 bits, 1 = 1 bit.
  EXPECT_EQ(PdqHash::FromHex("f" + std::string(62, '0') + "1")->Distance(zero), 5);
}

// A photo-like synthetic picture: 24 seeded random plane waves of 1..16
// cycles per image, amplitude falling with frequency, plus colour ramps.
DecodedImage SyntheticImage(int width, int height) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  constexpr double kTwoPi = 6.283185307179586;
  struct Wave {
    double fx, fy, phase, amplitude;
  };
  std::vector<Wave> waves;
  for (int i = 0; i < 24; ++i) {
    const double f = 1 + 15 * unit(rng);
    const double angle = kTwoPi * unit(rng);
    waves.push_back({f * std::cos(angle), f * std::sin(angle), kTwoPi * unit(rng),
                     40 / std::sqrt(f)});
  }
  DecodedImage image;
  image.width = width;
  image.height = height;
  image.channels = 3;
  image.pixels.resize(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const double u = (x + 0.5) / width;
      const double v = (y + 0.5) / height;
      double value = 128;
      for (const Wave& w : waves) {
        value += w.amplitude * std::sin(kTwoPi * (w.fx * u + w.fy * v) + w.phase);
      }
      uint8_t* p = &image.pixels[(static_cast<size_t>(y) * width + x) * 3];
      p[0] = static_cast<uint8_t>(std::clamp(value + 20 * u, 0.0, 255.0));
      p[1] = static_cast<uint8_t>(std::clamp(value, 0.0, 255.0));
      p[2] = static_cast<uint8_t>(std::clamp(value - 20 * v, 0.0, 255.0));
    }
  }
  return image;
}

// Moves the pixels: output (row r, column c) takes source (SourceRow,
// SourceCol) for each variant; `transposed` variants swap width and height.
DecodedImage Transform(const DecodedImage& in, int variant) {
  const int w = in.width;
  const int h = in.height;
  const bool transposed = variant == PdqDihedral::kRotate90 ||
                          variant == PdqDihedral::kRotate270 ||
                          variant == PdqDihedral::kFlipPlus1 ||
                          variant == PdqDihedral::kFlipMinus1;
  DecodedImage out = in;
  out.width = transposed ? h : w;
  out.height = transposed ? w : h;
  for (int r = 0; r < out.height; ++r) {
    for (int c = 0; c < out.width; ++c) {
      int sr = r;
      int sc = c;
      switch (variant) {
        case PdqDihedral::kOriginal: break;
        case PdqDihedral::kRotate90: sr = c; sc = w - 1 - r; break;  // counter-clockwise
        case PdqDihedral::kRotate180: sr = h - 1 - r; sc = w - 1 - c; break;
        case PdqDihedral::kRotate270: sr = h - 1 - c; sc = r; break;
        case PdqDihedral::kFlipX: sr = h - 1 - r; break;
        case PdqDihedral::kFlipY: sc = w - 1 - c; break;
        case PdqDihedral::kFlipPlus1: sr = c; sc = r; break;
        case PdqDihedral::kFlipMinus1: sr = h - 1 - c; sc = w - 1 - r; break;
      }
      for (int k = 0; k < 3; ++k) {
        out.pixels[(static_cast<size_t>(r) * out.width + c) * 3 + k] =
            in.pixels[(static_cast<size_t>(sr) * w + sc) * 3 + k];
      }
    }
  }
  return out;
}

// The variants come from sign changes of the DCT, not from re-hashing; they
// agree with hashing the really transformed pixels up to the asymmetries of
// the box filter (an even window is off-centre by half a pixel), of the
// decimation grid and of the squash. Measured on these two images: 0..20 bits,
// while the other seven variants are all 98 or more bits away. (On small
// images, where there is little or no blur, aliasing makes it 20..50 bits:
// that is the algorithm, the reference gives the same hashes.)
TEST(PdqHasher, DihedralVariantsAgreeWithHashingTransformedPixels) {
  const PdqHasher hasher;
  for (const auto& [width, height] : std::vector<std::pair<int, int>>{{640, 480}, {600, 900}}) {
    SCOPED_TRACE(std::to_string(width) + "x" + std::to_string(height));
    const DecodedImage image = SyntheticImage(width, height);
    absl::StatusOr<PdqDihedral> variants = hasher.HashDihedral(image);
    ASSERT_TRUE(variants.ok());
    EXPECT_GE(variants->quality, 50);
    for (int v = 0; v < PdqDihedral::kCount; ++v) {
      SCOPED_TRACE(v);
      absl::StatusOr<PdqResult> direct = hasher.Hash(Transform(image, v));
      ASSERT_TRUE(direct.ok());
      EXPECT_EQ(direct->quality, variants->quality);
      EXPECT_LE(variants->hashes[v].Distance(direct->hash), 24);
      for (int other = 0; other < PdqDihedral::kCount; ++other) {
        if (other == v) continue;
        EXPECT_GT(variants->hashes[other].Distance(direct->hash), 64) << "variant " << other;
      }
    }
  }
}

TEST(PdqHasher, FlatImageHasZeroQuality) {
  DecodedImage flat;
  flat.width = 200;
  flat.height = 150;
  flat.channels = 1;
  flat.pixels.assign(200 * 150, 128);
  absl::StatusOr<PdqResult> result = PdqHasher().Hash(flat);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->quality, 0);

  absl::StatusOr<PdqResult> textured = PdqHasher().Hash(SyntheticImage(200, 150));
  ASSERT_TRUE(textured.ok());
  EXPECT_GE(textured->quality, 50);
}

TEST(PdqHasher, ImagesUnderFivePixelsOnASideHashToZero) {
  DecodedImage thin = SyntheticImage(300, 4);
  absl::StatusOr<PdqDihedral> result = PdqHasher().HashDihedral(thin);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->quality, 0);
  for (const PdqHash& hash : result->hashes) EXPECT_EQ(hash, PdqHash());

  absl::StatusOr<PdqResult> five = PdqHasher().Hash(SyntheticImage(5, 5));
  ASSERT_TRUE(five.ok());
  EXPECT_NE(five->hash, PdqHash());
}

// Above 512 on a side the image is squashed to 512x512 by nearest neighbour:
// doing that by hand must give the identical hash.
TEST(PdqHasher, LargeImagesAreSquashedByNearestNeighbour) {
  const DecodedImage big = SyntheticImage(1301, 517);
  DecodedImage squashed = big;
  squashed.width = 512;
  squashed.height = 512;
  squashed.pixels.resize(512 * 512 * 3);
  for (int y = 0; y < 512; ++y) {
    for (int x = 0; x < 512; ++x) {
      const int sy = y * big.height / 512;
      const int sx = x * big.width / 512;
      for (int k = 0; k < 3; ++k) {
        squashed.pixels[(y * 512 + x) * 3 + k] = big.pixels[(static_cast<size_t>(sy) * big.width + sx) * 3 + k];
      }
    }
  }
  const PdqHasher hasher;
  absl::StatusOr<PdqResult> a = hasher.Hash(big);
  absl::StatusOr<PdqResult> b = hasher.Hash(squashed);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->hash, b->hash);
  EXPECT_EQ(a->quality, b->quality);
}

TEST(PdqHasher, RejectsInconsistentBuffers) {
  DecodedImage bad = SyntheticImage(20, 20);
  bad.pixels.pop_back();
  EXPECT_EQ(PdqHasher().Hash(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = SyntheticImage(20, 20);
  bad.channels = 4;
  EXPECT_EQ(PdqHasher().HashDihedral(bad).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<float> luma(100, 1.0f);
  EXPECT_EQ(PdqHasher().HashLuma(luma, 10, 11).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PdqHasher().HashLuma(luma, -10, -10).status().code(), absl::StatusCode::kInvalidArgument);
}

// HashLuma() takes luma as is; for a colour image it must agree with Hash()
// given the same luma values.
TEST(PdqHasher, HashLumaOfGreyPixelsEqualsHashOfGreyImage) {
  DecodedImage grey;
  grey.width = 90;
  grey.height = 70;
  grey.channels = 1;
  const DecodedImage colour = SyntheticImage(90, 70);
  std::vector<float> luma;
  for (size_t i = 0; i < colour.pixels.size(); i += 3) {
    grey.pixels.push_back(colour.pixels[i + 1]);
    luma.push_back(static_cast<float>(colour.pixels[i + 1]));
  }
  absl::StatusOr<PdqResult> a = PdqHasher().Hash(grey);
  absl::StatusOr<PdqResult> b = PdqHasher().HashLuma(luma, 90, 70);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->hash, b->hash);
  EXPECT_EQ(a->quality, b->quality);
}

}  // namespace
}  // namespace takedown
