#include "matcher/gif_decoder.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "matcher/image_decoder.h"
#include "matcher/pdq_hash.h"
#include "matcher/pdq_hasher.h"

namespace takedown {
namespace {

using ::testing::HasSubstr;

// --- A small GIF writer, independent of the decoder under test. ---

struct LzwOptions {
  // At a full table (4096 codes): send a clear code, or keep sending 12-bit
  // codes without adding entries (a "deferred clear").
  bool clear_when_full = true;
  // Also send a clear code after every this many codes (0: never).
  int clear_every = 0;
};

struct LzwStats {
  int max_width = 0;
  int clears = 0;
};

// GIF LZW: codes written least significant bit first; the code width grows
// when the next code to assign no longer fits, counted one entry ahead of the
// decoder (which adds its entry one code later).
std::vector<uint8_t> LzwEncode(const std::vector<uint8_t>& indices, int min_code_size,
                               const LzwOptions& options, LzwStats* stats = nullptr) {
  const int clear = 1 << min_code_size;
  const int end = clear + 1;
  std::vector<uint8_t> out;
  uint64_t accumulator = 0;
  int bits = 0;
  int width = min_code_size + 1;
  LzwStats local;
  auto emit = [&](int code) {
    accumulator |= uint64_t(code) << bits;
    bits += width;
    local.max_width = std::max(local.max_width, width);
    while (bits >= 8) {
      out.push_back(static_cast<uint8_t>(accumulator));
      accumulator >>= 8;
      bits -= 8;
    }
  };
  std::unordered_map<uint32_t, int> table;  // (prefix code << 8 | byte) -> code
  int next = end + 1;
  auto reset = [&] {
    table.clear();
    next = end + 1;
    width = min_code_size + 1;
  };
  emit(clear);
  int current = -1;
  int codes_since_clear = 0;
  for (uint8_t k : indices) {
    if (current < 0) {
      current = k;
      continue;
    }
    const uint32_t key = (uint32_t(current) << 8) | k;
    if (auto it = table.find(key); it != table.end()) {
      current = it->second;
      continue;
    }
    emit(current);
    ++codes_since_clear;
    if (next < 4096) {
      table[key] = next++;
      if (next > (1 << width) && width < 12) ++width;
    }
    const bool full = next == 4096;
    if ((full && options.clear_when_full) ||
        (options.clear_every > 0 && codes_since_clear >= options.clear_every)) {
      emit(clear);
      ++local.clears;
      reset();
      codes_since_clear = 0;
    }
    current = k;
  }
  if (current >= 0) emit(current);
  emit(end);
  if (bits > 0) out.push_back(static_cast<uint8_t>(accumulator));
  if (stats != nullptr) *stats = local;
  return out;
}

struct FrameSpec {
  uint32_t left = 0;
  uint32_t top = 0;
  uint32_t width = 0;
  uint32_t height = 0;
  std::vector<uint8_t> indices;      // row-major, width * height
  std::vector<uint8_t> local_table;  // R,G,B triples, a power of two >= 2; empty: none
  bool interlaced = false;
  int transparent = -1;
  int min_code_size = 8;
  LzwOptions lzw;
};

class GifWriter {
 public:
  GifWriter(uint32_t screen_width, uint32_t screen_height, std::vector<uint8_t> global_table,
            const char* version = "GIF89a") {
    Str(version).Le16(screen_width).Le16(screen_height);
    if (global_table.empty()) {
      U8(0x70).U8(0).U8(0);
    } else {
      U8(0xF0 | TableBits(global_table)).U8(0).U8(0);
      bytes_.insert(bytes_.end(), global_table.begin(), global_table.end());
    }
  }

  GifWriter& Frame(const FrameSpec& f, LzwStats* stats = nullptr) {
    if (f.transparent >= 0) {
      U8(0x21).U8(0xF9).U8(4).U8(0x01).Le16(0).U8(static_cast<uint32_t>(f.transparent)).U8(0);
    }
    U8(0x2C).Le16(f.left).Le16(f.top).Le16(f.width).Le16(f.height);
    uint8_t packed = f.interlaced ? 0x40 : 0;
    if (!f.local_table.empty()) packed |= 0x80 | TableBits(f.local_table);
    U8(packed);
    bytes_.insert(bytes_.end(), f.local_table.begin(), f.local_table.end());
    std::vector<uint8_t> stream = f.indices;
    if (f.interlaced) {
      stream.clear();
      for (auto [start, step] : {std::pair{0u, 8u}, {4u, 8u}, {2u, 4u}, {1u, 2u}}) {
        for (uint32_t y = start; y < f.height; y += step) {
          stream.insert(stream.end(), f.indices.begin() + y * f.width,
                        f.indices.begin() + (y + 1) * f.width);
        }
      }
    }
    U8(static_cast<uint32_t>(f.min_code_size));
    return SubBlocks(LzwEncode(stream, f.min_code_size, f.lzw, stats));
  }

  GifWriter& SubBlocks(const std::vector<uint8_t>& data) {
    for (size_t i = 0; i < data.size(); i += 255) {
      const size_t n = std::min<size_t>(255, data.size() - i);
      U8(static_cast<uint32_t>(n));
      bytes_.insert(bytes_.end(), data.begin() + i, data.begin() + i + n);
    }
    return U8(0);
  }
  GifWriter& Comment(const std::string& text) {
    U8(0x21).U8(0xFE);
    return SubBlocks(std::vector<uint8_t>(text.begin(), text.end()));
  }
  GifWriter& NetscapeLoop() {
    U8(0x21).U8(0xFF).U8(11).Str("NETSCAPE2.0");
    return U8(3).U8(1).Le16(0).U8(0);
  }
  GifWriter& Trailer() { return U8(0x3B); }
  GifWriter& U8(uint32_t v) {
    bytes_.push_back(static_cast<uint8_t>(v));
    return *this;
  }
  GifWriter& Le16(uint32_t v) { return U8(v & 0xFF).U8(v >> 8); }
  GifWriter& Str(const std::string& s) {
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    return *this;
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  static uint8_t TableBits(const std::vector<uint8_t>& table) {
    uint8_t bits = 0;
    while ((6u << bits) < table.size()) ++bits;
    return bits;
  }
  std::vector<uint8_t> bytes_;
};

// Entry i is (i, 255 - i, 7 i mod 256): every index has its own colour, and
// the red channel gives the index back.
std::vector<uint8_t> DistinctTable(int entries) {
  std::vector<uint8_t> table;
  for (int i = 0; i < entries; ++i) {
    table.push_back(static_cast<uint8_t>(i));
    table.push_back(static_cast<uint8_t>(255 - i));
    table.push_back(static_cast<uint8_t>(7 * i));
  }
  return table;
}

std::vector<uint8_t> GreyTable(int entries) {
  std::vector<uint8_t> table;
  for (int i = 0; i < entries; ++i) {
    const uint8_t v = static_cast<uint8_t>(i * 255 / (entries - 1));
    table.insert(table.end(), {v, v, v});
  }
  return table;
}

std::vector<uint8_t> Noise(uint32_t width, uint32_t height, int colours, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(size_t{width} * height);
  for (uint8_t& p : v) p = static_cast<uint8_t>((rng() >> 8) % colours);
  return v;
}

// A smooth texture with some detail, so that PDQ has something to hash.
std::vector<uint8_t> Texture(uint32_t width, uint32_t height, int colours) {
  std::vector<uint8_t> v(size_t{width} * height);
  for (uint32_t y = 0; y < height; ++y) {
    for (uint32_t x = 0; x < width; ++x) {
      v[size_t{y} * width + x] =
          static_cast<uint8_t>(((x * x + 3 * y * y) / 97 + (x * y) / 41 + x / 3) % colours);
    }
  }
  return v;
}

FrameSpec FullFrame(uint32_t width, uint32_t height, std::vector<uint8_t> indices) {
  FrameSpec f;
  f.width = width;
  f.height = height;
  f.indices = std::move(indices);
  return f;
}

absl::StatusOr<DecodedImage> Decode(const std::vector<uint8_t>& gif,
                                    const ImageLimits& limits = {}) {
  return DecodeGif(gif, limits);
}

// --- Tests ---

TEST(GifDecoder, DecodesGlobalColourTable) {
  const std::vector<uint8_t> table = DistinctTable(16);
  const std::vector<uint8_t> indices = Noise(7, 5, 16, 1);
  FrameSpec frame = FullFrame(7, 5, indices);
  frame.min_code_size = 4;
  const std::vector<uint8_t> gif = GifWriter(7, 5, table).Frame(frame).Trailer().bytes();
  absl::StatusOr<DecodedImage> image = Decode(gif);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->format, ImageFormat::kGif);
  ASSERT_EQ(image->width, 7);
  ASSERT_EQ(image->height, 5);
  ASSERT_EQ(image->channels, 3);
  for (size_t i = 0; i < indices.size(); ++i) {
    ASSERT_EQ(image->pixels[3 * i], indices[i]) << i;
    ASSERT_EQ(image->pixels[3 * i + 1], 255 - indices[i]) << i;
    ASSERT_EQ(image->pixels[3 * i + 2], static_cast<uint8_t>(7 * indices[i])) << i;
  }
}

TEST(GifDecoder, LocalColourTableReplacesTheGlobalOne) {
  std::vector<uint8_t> local;
  for (uint8_t i = 0; i < 4; ++i) local.insert(local.end(), {static_cast<uint8_t>(100 + i), 50, 9});
  FrameSpec frame = FullFrame(4, 2, {0, 1, 2, 3, 3, 2, 1, 0});
  frame.local_table = local;
  frame.min_code_size = 2;
  const std::vector<uint8_t> gif =
      GifWriter(4, 2, DistinctTable(4)).Comment("made by a test").Frame(frame).Trailer().bytes();
  absl::StatusOr<DecodedImage> image = Decode(gif);
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_EQ(image->channels, 3);
  EXPECT_EQ(image->pixels[0], 100);
  EXPECT_EQ(image->pixels[2], 9);
  EXPECT_EQ(image->pixels[3 * 3], 103);
  EXPECT_EQ(image->pixels[3 * 7], 100);
}

// 19 rows cover all four interlace passes (rows 0, 8, 16; 4, 12; 2, 6, 10,
// 14, 18; the odd rows), each pass ending part-way through the image.
TEST(GifDecoder, InterlacedRowsLandOnTheirRows) {
  constexpr uint32_t kWidth = 3;
  constexpr uint32_t kHeight = 19;
  std::vector<uint8_t> indices;
  for (uint32_t y = 0; y < kHeight; ++y) indices.insert(indices.end(), kWidth, static_cast<uint8_t>(10 * y));
  FrameSpec frame = FullFrame(kWidth, kHeight, indices);
  frame.interlaced = true;
  const std::vector<uint8_t> gif = GifWriter(kWidth, kHeight, DistinctTable(256)).Frame(frame).Trailer().bytes();
  absl::StatusOr<DecodedImage> image = Decode(gif);
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_EQ(image->channels, 3);
  for (uint32_t y = 0; y < kHeight; ++y) {
    EXPECT_EQ(image->pixels[3 * (y * kWidth + 1)], 10 * y) << "row " << y;
  }
}

// Random pixels fill the 4096-entry table many times over: the code width
// grows 9, 10, 11, 12 bits, then the encoder clears (or keeps sending 12-bit
// codes with a full table), and the decoder must follow every one.
TEST(GifDecoder, FollowsCodeWidthGrowthAndClearCodes) {
  constexpr uint32_t kWidth = 300;
  constexpr uint32_t kHeight = 200;
  const std::vector<uint8_t> indices = Noise(kWidth, kHeight, 256, 7);
  struct Case {
    std::string name;
    LzwOptions lzw;
    bool expect_clears;
  };
  const std::vector<Case> cases = {
      {"clear at full table", {true, 0}, true},
      {"deferred clear", {false, 0}, false},
      {"clear every 300 codes", {true, 300}, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    FrameSpec frame = FullFrame(kWidth, kHeight, indices);
    frame.lzw = c.lzw;
    LzwStats stats;
    const std::vector<uint8_t> gif =
        GifWriter(kWidth, kHeight, DistinctTable(256)).Frame(frame, &stats).Trailer().bytes();
    if (c.lzw.clear_every == 0) {
      EXPECT_EQ(stats.max_width, 12);
    } else {
      EXPECT_EQ(stats.max_width, 10);  // 300 codes after 258 fit in 10 bits
    }
    EXPECT_EQ(stats.clears > 0, c.expect_clears);
    absl::StatusOr<DecodedImage> image = Decode(gif);
    ASSERT_TRUE(image.ok()) << image.status();
    ASSERT_EQ(image->pixels.size(), indices.size() * 3);
    for (size_t i = 0; i < indices.size(); ++i) ASSERT_EQ(image->pixels[3 * i], indices[i]) << i;
  }
}

// A 2-colour image with the smallest code size (2: codes start at 3 bits).
TEST(GifDecoder, DecodesMinimumCodeSizeTwo) {
  const std::vector<uint8_t> indices = Noise(40, 30, 2, 3);
  FrameSpec frame = FullFrame(40, 30, indices);
  frame.min_code_size = 2;
  const std::vector<uint8_t> gif =
      GifWriter(40, 30, {0, 0, 0, 255, 255, 255}, "GIF87a").Frame(frame).Trailer().bytes();
  absl::StatusOr<DecodedImage> image = Decode(gif);
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_EQ(image->channels, 1);  // black and white only
  for (size_t i = 0; i < indices.size(); ++i) ASSERT_EQ(image->pixels[i], indices[i] * 255) << i;
}

TEST(GifDecoder, FrameLargerThanTheScreenKeepsItsOwnSize) {
  const std::vector<uint8_t> indices = Noise(10, 8, 256, 4);
  FrameSpec frame = FullFrame(10, 8, indices);
  frame.left = 2;
  frame.top = 1;
  const std::vector<uint8_t> gif = GifWriter(4, 3, DistinctTable(256)).Frame(frame).Trailer().bytes();
  absl::StatusOr<DecodedImage> image = Decode(gif);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->width, 10);
  EXPECT_EQ(image->height, 8);
  EXPECT_EQ(image->pixels[0], indices[0]);
  EXPECT_EQ(image->pixels[3 * 79], indices[79]);
}

// The frame's offset on a larger screen is not applied, and the background
// is not drawn: the image is the frame's rectangle (what ImageMagick writes).
TEST(GifDecoder, SmallFrameOnLargeScreenIsTheFrameAlone) {
  const std::vector<uint8_t> indices = Noise(6, 4, 256, 5);
  FrameSpec frame = FullFrame(6, 4, indices);
  frame.left = 30;
  frame.top = 20;
  const std::vector<uint8_t> gif = GifWriter(100, 80, DistinctTable(256)).Frame(frame).Trailer().bytes();
  absl::StatusOr<DecodedImage> image = Decode(gif);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->width, 6);
  EXPECT_EQ(image->height, 4);
  EXPECT_EQ(image->pixels[3 * 5], indices[5]);
}

TEST(GifDecoder, TransparentPixelsKeepTheirTableColour) {
  FrameSpec frame = FullFrame(3, 1, {5, 6, 5});
  frame.transparent = 5;
  const std::vector<uint8_t> gif =
      GifWriter(3, 1, DistinctTable(256)).NetscapeLoop().Frame(frame).Trailer().bytes();
  absl::StatusOr<DecodedImage> image = Decode(gif);
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_EQ(image->channels, 3);
  EXPECT_EQ(image->pixels[0], 5);
  EXPECT_EQ(image->pixels[1], 250);
  EXPECT_EQ(image->pixels[3], 6);
}

// ImageMagick's rules: an index past the table's end takes entry 0; without
// any colour table the frame is black.
TEST(GifDecoder, IndexPastTheTableAndMissingTable) {
  FrameSpec frame = FullFrame(4, 1, {0, 1, 2, 3});
  frame.min_code_size = 2;
  absl::StatusOr<DecodedImage> image =
      Decode(GifWriter(4, 1, {10, 20, 30, 40, 50, 60}).Frame(frame).Trailer().bytes());
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_EQ(image->channels, 3);
  EXPECT_EQ(image->pixels[3], 40);
  EXPECT_EQ(image->pixels[6], 10);
  EXPECT_EQ(image->pixels[9], 10);

  image = Decode(GifWriter(4, 1, {}).Frame(frame).Trailer().bytes());
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->channels, 1);
  EXPECT_EQ(image->pixels, std::vector<uint8_t>(4, 0));
}

TEST(GifDecoder, GreyFrameHasOneChannel) {
  const std::vector<uint8_t> indices = Noise(9, 9, 256, 6);
  const std::vector<uint8_t> gif =
      GifWriter(9, 9, GreyTable(256)).Frame(FullFrame(9, 9, indices)).Trailer().bytes();
  absl::StatusOr<DecodedImage> image = Decode(gif);
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_EQ(image->channels, 1);
  EXPECT_EQ(image->pixels, indices);  // GreyTable(256) is the identity
}

// The reference stacks all frames zero-padded to the largest: a larger second
// frame widens the first with black; a grey first frame followed by a colour
// frame lands in the red channel only.
TEST(GifDecoder, LaterFramesShapeTheFirstAsTheReferenceSeesIt) {
  const std::vector<uint8_t> first = Noise(4, 3, 256, 8);
  FrameSpec second = FullFrame(6, 5, Noise(6, 5, 256, 9));
  absl::StatusOr<DecodedImage> image = Decode(
      GifWriter(6, 5, DistinctTable(256)).Frame(FullFrame(4, 3, first)).Frame(second).Trailer().bytes());
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_EQ(image->width, 6);
  ASSERT_EQ(image->height, 5);
  ASSERT_EQ(image->channels, 3);
  EXPECT_EQ(image->pixels[3 * 1], first[1]);
  EXPECT_EQ(image->pixels[3 * (6 + 3)], first[4 + 3]);
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(image->pixels[3 * 4 + c], 0);         // right of the first frame
    EXPECT_EQ(image->pixels[3 * (6 * 4) + c], 0);   // below it
  }

  FrameSpec colour = FullFrame(2, 2, {1, 2, 3, 4});
  colour.local_table = DistinctTable(256);
  const std::vector<uint8_t> grey_then_colour = GifWriter(4, 3, GreyTable(256))
                                                    .Frame(FullFrame(4, 3, first))
                                                    .Frame(colour)
                                                    .Trailer()
                                                    .bytes();
  image = Decode(grey_then_colour);
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_EQ(image->channels, 3);
  ASSERT_EQ(image->width, 4);
  EXPECT_EQ(image->pixels[3 * 2], first[2]);
  EXPECT_EQ(image->pixels[3 * 2 + 1], 0);
  EXPECT_EQ(image->pixels[3 * 2 + 2], 0);

  // A colour table whose used entries are all grey keeps the image grey.
  FrameSpec grey_use = FullFrame(2, 2, {0, 0, 0, 0});
  grey_use.local_table = DistinctTable(256);
  grey_use.local_table[0] = grey_use.local_table[1] = grey_use.local_table[2] = 77;
  image = Decode(
      GifWriter(4, 3, GreyTable(256)).Frame(FullFrame(4, 3, first)).Frame(grey_use).Trailer().bytes());
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->channels, 1);
  EXPECT_EQ(image->pixels, first);
}

TEST(GifDecoder, TruncatedFilesAreDataLoss) {
  const std::vector<uint8_t> gif =
      GifWriter(50, 40, DistinctTable(256)).Frame(FullFrame(50, 40, Noise(50, 40, 256, 10))).Trailer().bytes();
  const size_t header = 6 + 7 + 768;
  for (size_t keep : {size_t{3}, size_t{10}, size_t{400}, header + 5, header + 12, gif.size() / 2,
                      gif.size() - 4}) {
    SCOPED_TRACE(keep);
    const std::vector<uint8_t> cut(gif.begin(), gif.begin() + keep);
    absl::StatusOr<DecodedImage> image = Decode(cut);
    EXPECT_EQ(image.status().code(), absl::StatusCode::kDataLoss) << image.status();
    EXPECT_THAT(std::string(image.status().message()), HasSubstr("truncated"));
  }
  // Without its trailer (the last byte) the image is complete: accepted.
  const std::vector<uint8_t> no_trailer(gif.begin(), gif.end() - 1);
  EXPECT_TRUE(Decode(no_trailer).ok());
}

TEST(GifDecoder, PixelDataEndingEarlyIsDataLoss) {
  FrameSpec frame = FullFrame(10, 10, Noise(10, 6, 256, 11));  // 60 of 100 pixels
  absl::StatusOr<DecodedImage> image =
      Decode(GifWriter(10, 10, DistinctTable(256)).Frame(frame).Trailer().bytes());
  EXPECT_EQ(image.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(image.status().message()), HasSubstr("after 60 of the frame's 100 pixels"));
}

TEST(GifDecoder, ExtraPixelDataIsIgnored) {
  const std::vector<uint8_t> indices = Noise(10, 12, 256, 12);
  FrameSpec frame = FullFrame(10, 10, indices);  // 120 pixels for a 100-pixel frame
  absl::StatusOr<DecodedImage> image =
      Decode(GifWriter(10, 10, DistinctTable(256)).Frame(frame).Trailer().bytes());
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->pixels[3 * 99], indices[99]);
}

TEST(GifDecoder, MalformedStructureIsInvalidArgument) {
  const std::vector<uint8_t> table = DistinctTable(4);
  auto code = [](const std::vector<uint8_t>& gif) { return Decode(gif).status().code(); };
  // Code 7 right after the clear code (4): neither a literal nor defined.
  GifWriter bad_code(2, 1, table);
  bad_code.U8(0x2C).Le16(0).Le16(0).Le16(2).Le16(1).U8(0).U8(2).SubBlocks({0x3C, 0x00}).Trailer();
  EXPECT_EQ(code(bad_code.bytes()), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(Decode(bad_code.bytes()).status().message()), HasSubstr("LZW code 7"));

  GifWriter code_size(2, 1, table);
  code_size.U8(0x2C).Le16(0).Le16(0).Le16(2).Le16(1).U8(0).U8(9).SubBlocks({0}).Trailer();
  EXPECT_EQ(code(code_size.bytes()), absl::StatusCode::kInvalidArgument);

  GifWriter zero_frame(2, 1, table);
  zero_frame.U8(0x2C).Le16(0).Le16(0).Le16(0).Le16(1).U8(0).U8(2).SubBlocks({0x44, 0x01}).Trailer();
  EXPECT_EQ(code(zero_frame.bytes()), absl::StatusCode::kInvalidArgument);

  GifWriter unknown_block(2, 1, table);
  unknown_block.U8(0x99).Trailer();
  EXPECT_EQ(code(unknown_block.bytes()), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(Decode(unknown_block.bytes()).status().message()),
              HasSubstr("0x99"));

  EXPECT_EQ(code(GifWriter(2, 1, table).Trailer().bytes()), absl::StatusCode::kInvalidArgument);
  const std::string png = "\x89PNG\r\n\x1A\n";
  EXPECT_EQ(code(std::vector<uint8_t>(png.begin(), png.end())), absl::StatusCode::kInvalidArgument);
}

// Every size is checked before a buffer is allocated: these files have no
// pixel data at all, so a decode attempt would have been DataLoss.
TEST(GifDecoder, RefusesBombsFromTheirHeaders) {
  GifWriter screen(65535, 65535, DistinctTable(4));
  screen.U8(0x2C).Le16(0).Le16(0).Le16(1).Le16(1);
  absl::StatusOr<DecodedImage> image = Decode(screen.bytes());
  EXPECT_EQ(image.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(image.status().message()),
              HasSubstr("logical screen is 65535x65535 = 4294836225 pixels, over max_image_pixels"));
  // The same through DecodeImage(), which reads the screen size first.
  image = DecodeImage(screen.bytes(), ImageLimits{});
  EXPECT_EQ(image.status().code(), absl::StatusCode::kResourceExhausted);

  GifWriter frame(16, 16, DistinctTable(4));
  frame.U8(0x2C).Le16(0).Le16(0).Le16(65535).Le16(65535).U8(0).U8(2);
  image = Decode(frame.bytes());
  EXPECT_EQ(image.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(image.status().message()), HasSubstr("frame at byte 25 is 65535x65535"));

  // A huge later frame would widen the output: refused too.
  GifWriter later(16, 16, DistinctTable(4));
  FrameSpec small = FullFrame(2, 2, {0, 1, 2, 3});
  small.min_code_size = 2;
  later.Frame(small).U8(0x2C).Le16(0).Le16(0).Le16(40000).Le16(40000).U8(0).U8(2).U8(0).Trailer();
  image = Decode(later.bytes());
  EXPECT_EQ(image.status().code(), absl::StatusCode::kResourceExhausted);

  ImageLimits limits;
  limits.max_pixels = 99;
  image = Decode(GifWriter(10, 10, DistinctTable(4)).bytes(), limits);
  EXPECT_EQ(image.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(GifDecoder, DecodeImageDispatchesGif) {
  const std::vector<uint8_t> indices = Noise(33, 17, 256, 13);
  const std::vector<uint8_t> gif =
      GifWriter(33, 17, DistinctTable(256)).Frame(FullFrame(33, 17, indices)).Trailer().bytes();
  absl::StatusOr<DecodedImage> image = DecodeImage(gif, ImageLimits{});
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->format, ImageFormat::kGif);
  EXPECT_EQ(image->width, 33);
  EXPECT_EQ(image->pixels[3 * 100], indices[100]);
}

// Seeded random corruption: every outcome is a consistent image or an error
// status with a message.
TEST(GifDecoder, SurvivesCorruptedInput) {
  FrameSpec interlaced = FullFrame(40, 30, Noise(40, 30, 64, 14));
  interlaced.interlaced = true;
  interlaced.local_table = DistinctTable(64);
  interlaced.transparent = 3;
  const std::vector<uint8_t> seed = GifWriter(40, 30, DistinctTable(256))
                                        .Frame(FullFrame(40, 30, Noise(40, 30, 256, 15)))
                                        .Frame(interlaced)
                                        .Trailer()
                                        .bytes();
  std::mt19937 rng(20240612);
  ImageLimits limits;
  limits.max_pixels = 1 << 16;
  int decoded = 0;
  int refused = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<uint8_t> bytes = seed;
    const int edits = 1 + static_cast<int>(rng() % 6);
    for (int e = 0; e < edits; ++e) bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
    if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
    absl::StatusOr<DecodedImage> image = Decode(bytes, limits);
    if (image.ok()) {
      ++decoded;
      ASSERT_TRUE(image->channels == 1 || image->channels == 3);
      ASSERT_GT(image->width, 0);
      ASSERT_GT(image->height, 0);
      ASSERT_LE(uint64_t(image->width) * image->height, limits.max_pixels);
      ASSERT_EQ(size_t(image->width) * image->height * image->channels, image->pixels.size());
    } else {
      ++refused;
      ASSERT_THAT(image.status().code(),
                  ::testing::AnyOf(absl::StatusCode::kInvalidArgument, absl::StatusCode::kDataLoss,
                                   absl::StatusCode::kResourceExhausted));
      ASSERT_FALSE(image.status().message().empty());
    }
  }
  EXPECT_GT(decoded, 0);
  EXPECT_GT(refused, 0);
}

// GIFs built here from formulas, hashed by the PDQ reference implementation
// (facebook/ThreatExchange pdq/cpp, pdq-photo-hasher, stock build reading
// through ImageMagick 6.9.11 on Debian 12), out of tree: set
// TAKEDOWN_GIF_TEST_DUMP_DIR to write the files, then run
// `pdq-photo-hasher DIR/*.gif`. PDQ depends on the decoded pixels only, so the
// expected hashes hold for any correct encoding of the same pictures.
struct ReferenceCase {
  std::string name;
  std::vector<uint8_t> gif;
  const char* hash;
  int quality;
};

std::vector<uint8_t> PaletteTable(int entries) {
  std::vector<uint8_t> table;
  for (int i = 0; i < entries; ++i) {
    table.push_back(static_cast<uint8_t>(i * 37));
    table.push_back(static_cast<uint8_t>(i * 91 + 40));
    table.push_back(static_cast<uint8_t>(255 - i * 13));
  }
  return table;
}

std::vector<ReferenceCase> ReferenceCases() {
  std::vector<ReferenceCase> cases;
  cases.push_back({"colour-300x200",
                   GifWriter(300, 200, PaletteTable(256))
                       .Frame(FullFrame(300, 200, Texture(300, 200, 256)))
                       .Trailer()
                       .bytes(),
                   "e15a4ad381df8ee953d422f2239e85723f4cbdc06a85b8d58a90fec09c78e19b", 100});
  FrameSpec interlaced = FullFrame(257, 190, Texture(257, 190, 64));
  interlaced.interlaced = true;
  interlaced.local_table = PaletteTable(64);
  cases.push_back({"interlaced-local-table-257x190",
                   GifWriter(257, 190, GreyTable(256)).Frame(interlaced).Trailer().bytes(),
                   "6fe2861614f30b39edbddd5b4b562465c8dd3e90e8e5611cb51436e5b0d83072", 100});
  FrameSpec transparent = FullFrame(600, 520, Texture(600, 520, 128));
  transparent.left = 17;
  transparent.top = 9;
  transparent.transparent = 5;
  cases.push_back({"transparent-offset-600x520",
                   GifWriter(700, 600, PaletteTable(128)).Frame(transparent).Trailer().bytes(),
                   "c858e9d947bacd07a1d05a4b888f843dd3361f8aa6694282d8e6ce1bfb6316dd", 100});
  FrameSpec colour_second = FullFrame(80, 60, Texture(80, 60, 256));
  colour_second.local_table = PaletteTable(256);
  // Low contrast, so that the quality tells (grey, 0, 0) from grey.
  cases.push_back({"grey-then-colour-160x120",
                   GifWriter(160, 120, GreyTable(256))
                       .Frame(FullFrame(160, 120, Texture(160, 120, 24)))
                       .Frame(colour_second)
                       .Trailer()
                       .bytes(),
                   "024b059e1f7f1ff77ffffff67fd0fea47f047900f600fc00f400f400e800f000", 28});
  cases.push_back({"larger-second-frame-200x150",
                   GifWriter(250, 170, PaletteTable(256))
                       .Frame(FullFrame(200, 150, Texture(200, 150, 256)))
                       .Frame(FullFrame(250, 170, Noise(250, 170, 256, 16)))
                       .Trailer()
                       .bytes(),
                   "f3b673c23c85495a42e59a72dcb520cad092f6bd2d6ac4a5694a96a56b5a96a5", 100});
  FrameSpec deferred = FullFrame(400, 300, Texture(400, 300, 256));
  deferred.lzw.clear_when_full = false;
  cases.push_back({"deferred-clear-400x300",
                   GifWriter(400, 300, PaletteTable(256)).Frame(deferred).Trailer().bytes(),
                   "f5ef342d108ce153fcb8fb1a8843640d971502a8de6f1e1ba724c5b12cf72d53", 100});
  return cases;
}

TEST(GifDecoder, MatchesTheReferenceHashes) {
  std::vector<ReferenceCase> cases = ReferenceCases();
  const char* dump = std::getenv("TAKEDOWN_GIF_TEST_DUMP_DIR");
  if (dump != nullptr) {
    for (const ReferenceCase& c : cases) {
      std::ofstream(std::string(dump) + "/" + c.name + ".gif", std::ios::binary)
          .write(reinterpret_cast<const char*>(c.gif.data()), static_cast<std::streamsize>(c.gif.size()));
    }
  }
  const PdqHasher hasher;
  for (const ReferenceCase& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<DecodedImage> image = DecodeImage(c.gif, ImageLimits{});
    ASSERT_TRUE(image.ok()) << image.status();
    absl::StatusOr<PdqResult> result = hasher.Hash(*image);
    ASSERT_TRUE(result.ok()) << result.status();
    const std::optional<PdqHash> expected = PdqHash::FromHex(c.hash);
    ASSERT_TRUE(expected.has_value()) << "ours: " << result->hash.ToHex() << "," << result->quality;
    EXPECT_EQ(result->hash.Distance(*expected), 0) << "ours " << result->hash.ToHex();
    EXPECT_EQ(result->quality, c.quality);
  }
}

}  // namespace
}  // namespace takedown
