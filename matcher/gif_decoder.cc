#include "matcher/gif_decoder.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "absl/status/status.h"
#include "matcher/decoded_image_from_bgr.h"

namespace takedown {
namespace {

constexpr int kMaxCodeBits = 12;
constexpr int kMaxCodes = 1 << kMaxCodeBits;
constexpr int kMaxColors = 256;

absl::Status Truncated(size_t offset, std::string_view what) {
  return absl::DataLossError(fmt::format(
      "GIF image is truncated: the file ends at byte {} while reading {}", offset, what));
}

absl::Status Malformed(size_t offset, std::string_view what) {
  return absl::InvalidArgumentError(
      fmt::format("GIF image is malformed at byte {}: {}", offset, what));
}

absl::Status TooLarge(std::string_view what, uint64_t width, uint64_t height,
                      const ImageLimits& limits) {
  return absl::ResourceExhaustedError(
      fmt::format("GIF {} is {}x{} = {} pixels, over max_image_pixels {}", what, width, height,
                  width * height, limits.max_pixels));
}

// A cursor over the file. Every read is preceded by a Has() check.
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> data) : data_(data) {}

  size_t pos() const { return pos_; }
  bool Has(size_t n) const { return n <= data_.size() - pos_; }
  uint8_t U8() { return data_[pos_++]; }
  uint32_t U16() {
    const uint32_t v = data_[pos_] | (uint32_t{data_[pos_ + 1]} << 8);
    pos_ += 2;
    return v;
  }
  // REQUIRES: Has(n) for the n bytes the caller reads.
  const uint8_t* Peek() const { return data_.data() + pos_; }
  const uint8_t* Take(size_t n) {
    const uint8_t* p = data_.data() + pos_;
    pos_ += n;
    return p;
  }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

// ImageMagick's model of a colour table: `size` entries (2^(n+1) from the
// packed field), all black when the table is absent from the file.
struct ColorTable {
  std::array<uint8_t, 3 * kMaxColors> rgb{};
  int size = 0;
  bool present = false;

  bool IsGrey(int i) const { return rgb[3 * i] == rgb[3 * i + 1] && rgb[3 * i + 1] == rgb[3 * i + 2]; }
};

absl::Status ReadColorTable(Cursor& in, uint8_t packed, bool present, ColorTable& table) {
  table.size = 2 << (packed & 0x07);
  table.present = present;
  table.rgb.fill(0);
  if (!present) return absl::OkStatus();
  const size_t bytes = 3 * static_cast<size_t>(table.size);
  if (!in.Has(bytes)) return Truncated(in.pos(), "a colour table");
  std::memcpy(table.rgb.data(), in.Take(bytes), bytes);
  return absl::OkStatus();
}

// Skips a chain of data sub-blocks up to and including its terminator.
absl::Status SkipSubBlocks(Cursor& in, std::string_view what) {
  while (true) {
    if (!in.Has(1)) return Truncated(in.pos(), what);
    const uint8_t length = in.U8();
    if (length == 0) return absl::OkStatus();
    if (!in.Has(length)) return Truncated(in.pos(), what);
    in.Take(length);
  }
}

struct Frame {
  size_t offset = 0;  // of the image separator
  uint32_t width = 0;
  uint32_t height = 0;
  uint8_t packed = 0;             // the image descriptor's flags
  size_t local_table_offset = 0;  // when it has a local colour table
  int transparent_index = -1;     // from the preceding graphic control extension
  int min_code_size = 0;
  size_t data_offset = 0;  // the first sub-block's length byte

  bool interlaced() const { return (packed & 0x40) != 0; }
  bool has_local_table() const { return (packed & 0x80) != 0; }
};

// The frame's colour table: its local one when it has one (NextFrame()
// checked that its bytes are present), else the global one.
ColorTable TableOf(const Frame& frame, std::span<const uint8_t> bytes, const ColorTable& global) {
  if (!frame.has_local_table()) return global;
  ColorTable table;
  table.size = 2 << (frame.packed & 0x07);
  table.present = true;
  std::memcpy(table.rgb.data(), bytes.data() + frame.local_table_offset, 3 * static_cast<size_t>(table.size));
  return table;
}

// Reads blocks from `in` up to the next image and returns it, positioned at
// its data; nullopt at the trailer. Extensions are skipped; a graphic control
// extension's transparent index is noted on the frame.
absl::StatusOr<std::optional<Frame>> NextFrame(Cursor& in) {
  int transparent_index = -1;
  while (true) {
    if (!in.Has(1)) return Truncated(in.pos(), "the next block (no trailer)");
    const size_t offset = in.pos();
    const uint8_t introducer = in.U8();
    if (introducer == 0x3B) return std::optional<Frame>();
    if (introducer == 0x21) {
      if (!in.Has(1)) return Truncated(in.pos(), "an extension label");
      const uint8_t label = in.U8();
      // Graphic control: block size (4), flags, delay (2), transparent index.
      if (label == 0xF9 && in.Has(5) && in.Peek()[0] >= 4) {
        const uint8_t* gce = in.Peek();
        transparent_index = (gce[1] & 0x01) != 0 ? gce[4] : -1;
      }
      if (absl::Status s = SkipSubBlocks(in, "an extension"); !s.ok()) return s;
      continue;
    }
    if (introducer != 0x2C) {
      return Malformed(offset, fmt::format("block introducer 0x{:02X} is none of 0x21 "
                                           "(extension), 0x2C (image), 0x3B (trailer)",
                                           introducer));
    }
    Frame frame;
    frame.offset = offset;
    frame.transparent_index = transparent_index;
    if (!in.Has(9)) return Truncated(in.pos(), "an image descriptor");
    in.U16();  // left
    in.U16();  // top
    frame.width = in.U16();
    frame.height = in.U16();
    frame.packed = in.U8();
    if (frame.width == 0 || frame.height == 0) {
      return Malformed(offset, fmt::format("image of {}x{} pixels", frame.width, frame.height));
    }
    if (frame.has_local_table()) {
      const size_t bytes = 3 * (size_t{2} << (frame.packed & 0x07));
      if (!in.Has(bytes)) return Truncated(in.pos(), "a local colour table");
      frame.local_table_offset = in.pos();
      in.Take(bytes);
    }
    if (!in.Has(1)) return Truncated(in.pos(), "the LZW minimum code size");
    frame.min_code_size = in.U8();
    if (frame.min_code_size < 2 || frame.min_code_size > 8) {
      return Malformed(in.pos() - 1,
                       fmt::format("LZW minimum code size {} (must be 2..8)", frame.min_code_size));
    }
    frame.data_offset = in.pos();
    return std::optional<Frame>(frame);
  }
}

// Reads LZW codes, least significant bit first, from a chain of sub-blocks.
class CodeReader {
 public:
  explicit CodeReader(Cursor& in) : in_(in) {}

  enum Result { kCode, kEndOfData, kTruncated };

  Result Next(int width, int& code) {
    while (bits_ < width) {
      if (block_left_ == 0) {
        if (!in_.Has(1)) return kTruncated;
        block_left_ = in_.U8();
        if (block_left_ == 0) {
          ended_ = true;
          return kEndOfData;
        }
      }
      if (!in_.Has(1)) return kTruncated;
      accumulator_ |= uint64_t{in_.U8()} << bits_;
      bits_ += 8;
      --block_left_;
    }
    code = static_cast<int>(accumulator_ & ((uint64_t{1} << width) - 1));
    accumulator_ >>= width;
    bits_ -= width;
    return kCode;
  }

  // Moves the cursor past the rest of the sub-blocks.
  absl::Status SkipRest() {
    if (ended_) return absl::OkStatus();
    if (!in_.Has(block_left_)) return Truncated(in_.pos(), "image data");
    in_.Take(block_left_);
    block_left_ = 0;
    return SkipSubBlocks(in_, "image data");
  }

 private:
  Cursor& in_;
  uint64_t accumulator_ = 0;
  int bits_ = 0;
  size_t block_left_ = 0;
  bool ended_ = false;
};

// The GIF flavour of LZW: codes of min_code_size + 1 bits growing to 12, a
// clear code, an end code, no early change; a full table is kept (no entry
// added) until the encoder sends a clear ("deferred clear").
class LzwDecoder {
 public:
  explicit LzwDecoder(int min_code_size)
      : min_code_size_(min_code_size), clear_(1 << min_code_size), end_(clear_ + 1) {
    for (int i = 0; i < clear_; ++i) {
      suffix_[i] = static_cast<uint8_t>(i);
      first_[i] = static_cast<uint8_t>(i);
      length_[i] = 1;
    }
    Reset();
  }

  // Decodes the frame's pixels into `out` (exactly out.size() indices, in
  // stream order), stopping at the last one; the cursor is left after the
  // frame's data.
  absl::Status Decode(Cursor& in, std::span<uint8_t> out) {
    const size_t data_offset = in.pos();
    CodeReader reader(in);
    size_t pos = 0;
    while (pos < out.size()) {
      int code = 0;
      const CodeReader::Result result = reader.Next(width_, code);
      if (result == CodeReader::kTruncated) return Truncated(in.pos(), "image data");
      if (result == CodeReader::kEndOfData) return ShortData(data_offset, pos, out.size());
      if (code == clear_) {
        Reset();
        continue;
      }
      if (code == end_) {
        // The end code must still be followed by the block terminator.
        if (absl::Status s = reader.SkipRest(); !s.ok()) return s;
        return ShortData(data_offset, pos, out.size());
      }
      if (previous_ < 0) {
        if (code >= clear_) {
          return Malformed(in.pos(), fmt::format("LZW code {} where a literal (< {}) must follow "
                                                 "a clear code",
                                                 code, clear_));
        }
      } else {
        if (code > next_) {
          return Malformed(in.pos(), fmt::format("LZW code {} is not defined yet (next code {})",
                                                 code, next_));
        }
        if (next_ < kMaxCodes) {
          // code == next_ is the string of the previous code plus its own
          // first byte ("KwKwK").
          const uint8_t first = code < next_ ? first_[code] : first_[previous_];
          prefix_[next_] = static_cast<uint16_t>(previous_);
          suffix_[next_] = first;
          first_[next_] = first_[previous_];
          length_[next_] = static_cast<uint16_t>(length_[previous_] + 1);
          ++next_;
          if (next_ == (1 << width_) && width_ < kMaxCodeBits) ++width_;
        }
      }
      pos += Emit(code, out.data() + pos, out.size() - pos);
      previous_ = code;
    }
    // Anything after the last pixel (normally the end code) is not read.
    return reader.SkipRest();
  }

 private:
  void Reset() {
    width_ = min_code_size_ + 1;
    next_ = end_ + 1;
    previous_ = -1;
  }

  // Writes the string of `code`, or as much of its beginning as fits.
  size_t Emit(int code, uint8_t* out, size_t room) {
    const size_t length = length_[code];
    const size_t n = std::min(length, room);
    for (size_t i = length; i > n; --i) code = prefix_[code];
    for (size_t i = n; i > 0; --i) {
      out[i - 1] = suffix_[code];
      code = prefix_[code];
    }
    return n;
  }

  static absl::Status ShortData(size_t offset, size_t decoded, size_t expected) {
    return absl::DataLossError(fmt::format(
        "GIF image data starting at byte {} ends after {} of the frame's {} pixels: the "
        "file is truncated or corrupt",
        offset, decoded, expected));
  }

  const int min_code_size_;
  const int clear_;
  const int end_;
  int width_ = 0;
  int next_ = 0;
  int previous_ = -1;
  std::array<uint16_t, kMaxCodes> prefix_{};
  std::array<uint8_t, kMaxCodes> suffix_{};
  std::array<uint8_t, kMaxCodes> first_{};
  std::array<uint16_t, kMaxCodes> length_{};
};

// Row of the frame that the r-th decoded row lands on.
std::vector<uint32_t> RowOrder(uint32_t height, bool interlaced) {
  std::vector<uint32_t> order;
  order.reserve(height);
  if (!interlaced) {
    for (uint32_t y = 0; y < height; ++y) order.push_back(y);
    return order;
  }
  constexpr std::array<std::pair<uint32_t, uint32_t>, 4> kPasses = {
      {{0, 8}, {4, 8}, {2, 4}, {1, 2}}};
  for (const auto& [start, step] : kPasses) {
    for (uint32_t y = start; y < height; y += step) order.push_back(y);
  }
  return order;
}

// Whether a frame uses a colour with R, G, B not all equal. `indices` holds
// its decoded pixels.
bool UsesColor(std::span<const uint8_t> indices, const ColorTable& table) {
  std::array<bool, kMaxColors> used{};
  for (uint8_t i : indices) used[i] = true;
  for (int i = 0; i < kMaxColors; ++i) {
    if (!used[i]) continue;
    const int entry = i < table.size ? i : 0;
    if (!table.IsGrey(entry)) return true;
  }
  return false;
}

bool TableHasColor(const ColorTable& table) {
  for (int i = 0; i < table.size; ++i) {
    if (!table.IsGrey(i)) return true;
  }
  return false;
}

// Bounds the walk (and its memory) on a file of many tiny frames.
constexpr size_t kMaxLaterFrames = size_t{1} << 16;

struct LaterFrames {
  uint32_t max_width = 0;
  uint32_t max_height = 0;
  std::optional<Frame> oversized;    // the first one over max_pixels
  std::vector<Frame> colour_frames;  // those whose table has a non-grey entry
};

// Walks the blocks after the first frame, best effort: a malformed or
// truncated block ends the walk, since the first frame is already whole.
LaterFrames WalkLaterFrames(Cursor in, std::span<const uint8_t> bytes, const ColorTable& global,
                            const ImageLimits& limits) {
  const bool global_has_color = TableHasColor(global);
  LaterFrames later;
  for (size_t n = 0; n < kMaxLaterFrames; ++n) {
    absl::StatusOr<std::optional<Frame>> frame = NextFrame(in);
    if (!frame.ok() || !frame->has_value()) break;
    if (!SkipSubBlocks(in, "image data").ok()) break;
    const Frame& f = **frame;
    later.max_width = std::max(later.max_width, f.width);
    later.max_height = std::max(later.max_height, f.height);
    if (!later.oversized && uint64_t{f.width} * f.height > limits.max_pixels) later.oversized = f;
    if (f.has_local_table() ? TableHasColor(TableOf(f, bytes, global)) : global_has_color) {
      later.colour_frames.push_back(f);
    }
  }
  return later;
}

}  // namespace

absl::StatusOr<DecodedImage> DecodeGif(std::span<const uint8_t> bytes, const ImageLimits& limits) {
  Cursor in(bytes);
  if (!in.Has(6)) return Truncated(0, "the signature");
  const uint8_t* signature = in.Take(6);
  if (std::memcmp(signature, "GIF87a", 6) != 0 && std::memcmp(signature, "GIF89a", 6) != 0) {
    return Malformed(0, "the file does not start with GIF87a or GIF89a");
  }
  if (!in.Has(7)) return Truncated(in.pos(), "the logical screen descriptor");
  const uint32_t screen_width = in.U16();
  const uint32_t screen_height = in.U16();
  const uint8_t screen_packed = in.U8();
  in.Take(2);  // background colour index, pixel aspect ratio
  if (uint64_t{screen_width} * screen_height > limits.max_pixels) {
    return TooLarge("logical screen", screen_width, screen_height, limits);
  }
  ColorTable global;
  if (absl::Status s = ReadColorTable(in, screen_packed, (screen_packed & 0x80) != 0, global);
      !s.ok()) {
    return s;
  }

  absl::StatusOr<std::optional<Frame>> first = NextFrame(in);
  if (!first.ok()) return first.status();
  if (!first->has_value()) return Malformed(in.pos() - 1, "the file has no image");
  const Frame& frame = **first;
  if (uint64_t{frame.width} * frame.height > limits.max_pixels) {
    return TooLarge(fmt::format("frame at byte {}", frame.offset), frame.width, frame.height,
                    limits);
  }
  const ColorTable table = TableOf(frame, bytes, global);

  // Walk ahead over the first frame's data to the later frames' sizes
  // before allocating anything; the first frame's data is decoded below.
  Cursor after_first = in;
  LaterFrames later;
  if (SkipSubBlocks(after_first, "image data").ok()) {
    later = WalkLaterFrames(after_first, bytes, global, limits);
  }
  if (later.oversized) {
    return TooLarge(fmt::format("frame at byte {}", later.oversized->offset), later.oversized->width,
                    later.oversized->height, limits);
  }
  const uint32_t width = std::max(frame.width, later.max_width);
  const uint32_t height = std::max(frame.height, later.max_height);
  if (uint64_t{width} * height > limits.max_pixels) {
    return TooLarge("image (largest frame size)", width, height, limits);
  }

  std::vector<uint8_t> indices(size_t{frame.width} * frame.height);
  {
    LzwDecoder lzw(frame.min_code_size);
    if (absl::Status s = lzw.Decode(in, indices); !s.ok()) return s;
  }

  bool grey = !UsesColor(indices, table);
  bool red_only = false;  // grey first frame stacked with a colour frame
  if (grey) {
    // Later frames are decoded only if one could be in colour.
    uint64_t budget = limits.max_pixels;
    std::vector<uint8_t> scratch;
    for (const Frame& f : later.colour_frames) {
      const uint64_t pixels = uint64_t{f.width} * f.height;
      if (pixels > budget) break;
      budget -= pixels;
      scratch.resize(pixels);
      Cursor data(bytes);
      data.Take(f.data_offset);
      LzwDecoder lzw(f.min_code_size);
      if (!lzw.Decode(data, scratch).ok()) break;
      if (UsesColor(scratch, TableOf(f, bytes, global))) {
        red_only = true;
        break;
      }
    }
    grey = !red_only;
  }

  DecodedImage image;
  image.format = ImageFormat::kGif;
  image.width = static_cast<int>(width);
  image.height = static_cast<int>(height);
  image.channels = grey ? 1 : 3;
  image.pixels = AllocatePixels(size_t{width} * height * image.channels);
  const std::vector<uint32_t> rows = RowOrder(frame.height, frame.interlaced());
  std::array<std::array<uint8_t, 3>, kMaxColors> palette;
  for (int i = 0; i < kMaxColors; ++i) {
    const int entry = i < table.size ? i : 0;
    palette[i] = {table.rgb[3 * entry], table.rgb[3 * entry + 1], table.rgb[3 * entry + 2]};
  }
  for (uint32_t r = 0; r < frame.height; ++r) {
    const uint8_t* src = indices.data() + size_t{r} * frame.width;
    uint8_t* dst = image.pixels.data() + size_t{rows[r]} * width * image.channels;
    if (grey) {
      for (uint32_t x = 0; x < frame.width; ++x) dst[x] = palette[src[x]][0];
    } else if (red_only) {
      for (uint32_t x = 0; x < frame.width; ++x) dst[3 * x] = palette[src[x]][0];
    } else {
      for (uint32_t x = 0; x < frame.width; ++x) {
        std::memcpy(dst + 3 * x, palette[src[x]].data(), 3);
      }
    }
  }
  return image;
}

}  // namespace takedown
