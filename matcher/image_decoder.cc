#include "matcher/image_decoder.h"

#include <sys/mman.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <exception>
#include <optional>
#include <string>

#include <fmt/format.h>
// OpenCV 4.6's headers do arithmetic between enums, deprecated in C++20.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-enum-enum-conversion"
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc/hal/hal.hpp>
#pragma GCC diagnostic pop

#include "absl/status/status.h"
#include "matcher/decoded_image_from_bgr.h"
#include "matcher/gif_decoder.h"

namespace takedown {
namespace {

// Bounds-checked reads from an untrusted buffer. Every accessor first checks
// Has(); callers turn a failed check into a "truncated" error.
class Bytes {
 public:
  explicit Bytes(std::span<const uint8_t> data) : data_(data) {}

  size_t size() const { return data_.size(); }
  bool Has(uint64_t pos, uint64_t n) const {
    return pos <= data_.size() && n <= data_.size() - pos;
  }
  uint8_t U8(size_t pos) const { return data_[pos]; }
  uint32_t U16(size_t pos, bool big_endian) const {
    return big_endian ? (uint32_t{data_[pos]} << 8) | data_[pos + 1]
                      : (uint32_t{data_[pos + 1]} << 8) | data_[pos];
  }
  uint32_t U24Le(size_t pos) const {
    return uint32_t{data_[pos]} | (uint32_t{data_[pos + 1]} << 8) |
           (uint32_t{data_[pos + 2]} << 16);
  }
  uint32_t U32(size_t pos, bool big_endian) const {
    return big_endian ? (U16(pos, true) << 16) | U16(pos + 2, true)
                      : (U16(pos + 2, false) << 16) | U16(pos, false);
  }
  uint64_t U64(size_t pos, bool big_endian) const {
    return big_endian
               ? (uint64_t{U32(pos, true)} << 32) | U32(pos + 4, true)
               : (uint64_t{U32(pos + 4, false)} << 32) | U32(pos, false);
  }
  bool StartsWith(size_t pos, std::string_view magic) const {
    return Has(pos, magic.size()) &&
           std::memcmp(data_.data() + pos, magic.data(), magic.size()) == 0;
  }

 private:
  std::span<const uint8_t> data_;
};

absl::Status Truncated(ImageFormat format, std::string_view what) {
  return absl::DataLossError(fmt::format(
      "{} header is cut short while reading {}: the file is truncated",
      ImageFormatName(format), what));
}

absl::Status Malformed(ImageFormat format, std::string_view what) {
  return absl::InvalidArgumentError(
      fmt::format("{} header is malformed: {}", ImageFormatName(format), what));
}

absl::StatusOr<ImageHeader> Dimensions(ImageFormat format, uint64_t width,
                                       uint64_t height) {
  if (width == 0 || height == 0) {
    return Malformed(format, fmt::format("image size {}x{} has a zero side",
                                         width, height));
  }
  if (width > INT_MAX || height > INT_MAX) {
    return absl::ResourceExhaustedError(fmt::format(
        "{} image claims {}x{}, larger than any decoder supports",
        ImageFormatName(format), width, height));
  }
  return ImageHeader{format, static_cast<uint32_t>(width),
                     static_cast<uint32_t>(height)};
}

bool IsJpegFrameMarker(uint8_t m) {
  // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
  return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

bool IsJpegStandaloneMarker(uint8_t m) {
  return m == 0x01 || (m >= 0xD0 && m <= 0xD7);  // TEM, RST0..RST7.
}

struct JpegWalk {
  std::optional<ImageHeader> header;
  bool reached_end = false;  // Saw EOI.
};

// Walks the marker segments from SOI. With `stop_at_frame`, returns as soon as
// the frame header (SOF) is read; otherwise continues through the entropy-coded
// scans to the EOI marker. Stray bytes between segments are skipped, as libjpeg
// does.
absl::StatusOr<JpegWalk> WalkJpeg(const Bytes& b, bool stop_at_frame) {
  constexpr ImageFormat kFormat = ImageFormat::kJpeg;
  JpegWalk walk;
  size_t pos = 2;  // After SOI.
  bool in_scan = false;
  while (true) {
    if (in_scan) {
      // Entropy-coded data: FF 00 is a stuffed byte, FF D0..D7 a restart
      // marker; any other FF xx ends the scan.
      while (true) {
        if (!b.Has(pos, 2)) return walk;
        if (b.U8(pos) == 0xFF) {
          const uint8_t next = b.U8(pos + 1);
          if (next != 0x00 && next != 0xFF && !IsJpegStandaloneMarker(next)) {
            break;
          }
          pos += next == 0xFF ? 1 : 2;
        } else {
          ++pos;
        }
      }
      in_scan = false;
    }
    while (b.Has(pos, 1) && b.U8(pos) != 0xFF) ++pos;
    while (b.Has(pos, 1) && b.U8(pos) == 0xFF) ++pos;  // Fill bytes.
    if (!b.Has(pos, 1)) {
      if (!walk.header) return Truncated(kFormat, "the marker segments");
      return walk;
    }
    const uint8_t marker = b.U8(pos++);
    if (marker == 0xD9) {
      walk.reached_end = true;
      if (!walk.header) return Malformed(kFormat, "end of image before any frame header");
      return walk;
    }
    if (marker == 0xD8 || marker == 0x00) {
      return Malformed(kFormat, fmt::format("unexpected marker FF{:02X} at byte {}",
                                            marker, pos - 2));
    }
    if (IsJpegStandaloneMarker(marker)) continue;
    if (!b.Has(pos, 2)) {
      if (!walk.header) return Truncated(kFormat, "a segment length");
      return walk;
    }
    const uint32_t length = b.U16(pos, /*big_endian=*/true);
    if (length < 2) {
      return Malformed(kFormat, fmt::format("segment FF{:02X} at byte {} has length {}",
                                            marker, pos - 2, length));
    }
    if (!b.Has(pos, length)) {
      if (!walk.header) {
        return Truncated(kFormat, fmt::format("segment FF{:02X}", marker));
      }
      return walk;
    }
    if (IsJpegFrameMarker(marker) && !walk.header) {
      if (length < 8) {
        return Malformed(kFormat, fmt::format("frame header at byte {} is {} bytes long",
                                              pos - 2, length));
      }
      const uint32_t height = b.U16(pos + 3, true);
      const uint32_t width = b.U16(pos + 5, true);
      if (height == 0) {
        return absl::UnimplementedError(
            "JPEG frame header gives height 0 (height defined later by a DNL "
            "marker), which is not supported");
      }
      auto header = Dimensions(kFormat, width, height);
      if (!header.ok()) return header.status();
      walk.header = *header;
      if (stop_at_frame) return walk;
    }
    if (marker == 0xDA) {
      if (!walk.header) return Malformed(kFormat, "scan before any frame header");
      in_scan = true;
    }
    pos += length;
  }
}

absl::StatusOr<ImageHeader> ReadPngHeader(const Bytes& b) {
  constexpr ImageFormat kFormat = ImageFormat::kPng;
  if (!b.Has(8, 8 + 8)) return Truncated(kFormat, "IHDR");
  if (!b.StartsWith(12, "IHDR") || b.U32(8, true) != 13) {
    return Malformed(kFormat, "the first chunk is not a 13-byte IHDR");
  }
  return Dimensions(kFormat, b.U32(16, true), b.U32(20, true));
}

absl::StatusOr<ImageHeader> ReadGifHeader(const Bytes& b) {
  if (!b.Has(6, 4)) return Truncated(ImageFormat::kGif, "the logical screen size");
  return Dimensions(ImageFormat::kGif, b.U16(6, false), b.U16(8, false));
}

absl::StatusOr<ImageHeader> ReadBmpHeader(const Bytes& b) {
  constexpr ImageFormat kFormat = ImageFormat::kBmp;
  if (!b.Has(14, 4)) return Truncated(kFormat, "the DIB header size");
  const uint32_t dib_size = b.U32(14, false);
  if (dib_size == 12) {  // BITMAPCOREHEADER: unsigned 16-bit sizes.
    if (!b.Has(18, 4)) return Truncated(kFormat, "the image size");
    return Dimensions(kFormat, b.U16(18, false), b.U16(20, false));
  }
  if (dib_size < 16 || dib_size > 4096) {
    return Malformed(kFormat, fmt::format("DIB header size {}", dib_size));
  }
  if (!b.Has(18, 8)) return Truncated(kFormat, "the image size");
  const int64_t width = static_cast<int32_t>(b.U32(18, false));
  const int64_t height = static_cast<int32_t>(b.U32(22, false));
  if (width <= 0) return Malformed(kFormat, fmt::format("width {}", width));
  // A negative height marks a top-down bitmap.
  return Dimensions(kFormat, static_cast<uint64_t>(width),
                    static_cast<uint64_t>(height < 0 ? -height : height));
}

absl::StatusOr<ImageHeader> ReadWebpHeader(const Bytes& b) {
  constexpr ImageFormat kFormat = ImageFormat::kWebp;
  const uint64_t riff_size = b.U32(4, false);
  if (riff_size < 4 + 8) {
    return Malformed(kFormat, fmt::format("RIFF size {}", riff_size));
  }
  if (!b.Has(0, 8 + riff_size)) {
    return absl::DataLossError(fmt::format(
        "WebP file is truncated: its RIFF header announces {} bytes, only {} present",
        8 + riff_size, b.size()));
  }
  if (!b.Has(12, 8)) return Truncated(kFormat, "the first chunk header");
  const uint64_t chunk_size = b.U32(16, false);
  const size_t payload = 20;
  if (!b.Has(payload, chunk_size)) return Truncated(kFormat, "the first chunk");
  if (b.StartsWith(12, "VP8 ")) {
    if (chunk_size < 10) return Truncated(kFormat, "the VP8 frame header");
    if ((b.U8(payload) & 1) != 0 || b.U8(payload + 3) != 0x9D ||
        b.U8(payload + 4) != 0x01 || b.U8(payload + 5) != 0x2A) {
      return Malformed(kFormat, "VP8 chunk does not start with a key frame");
    }
    return Dimensions(kFormat, b.U16(payload + 6, false) & 0x3FFF,
                      b.U16(payload + 8, false) & 0x3FFF);
  }
  if (b.StartsWith(12, "VP8L")) {
    if (chunk_size < 5) return Truncated(kFormat, "the VP8L header");
    if (b.U8(payload) != 0x2F) return Malformed(kFormat, "VP8L signature byte is not 0x2F");
    const uint32_t bits = b.U32(payload + 1, false);
    return Dimensions(kFormat, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
  }
  if (b.StartsWith(12, "VP8X")) {
    if (chunk_size < 10) return Truncated(kFormat, "the VP8X header");
    return Dimensions(kFormat, uint64_t{b.U24Le(payload + 4)} + 1,
                      uint64_t{b.U24Le(payload + 7)} + 1);
  }
  return Malformed(kFormat, "first chunk is none of VP8, VP8L, VP8X");
}

absl::StatusOr<ImageHeader> ReadTiffHeader(const Bytes& b) {
  constexpr ImageFormat kFormat = ImageFormat::kTiff;
  const bool big_endian = b.U8(0) == 'M';
  const bool big_tiff = b.U16(2, big_endian) == 43;
  uint64_t ifd;
  if (big_tiff) {
    if (!b.Has(4, 12)) return Truncated(kFormat, "the BigTIFF header");
    if (b.U16(4, big_endian) != 8) return Malformed(kFormat, "BigTIFF offset size is not 8");
    ifd = b.U64(8, big_endian);
  } else {
    if (!b.Has(4, 4)) return Truncated(kFormat, "the first IFD offset");
    ifd = b.U32(4, big_endian);
  }
  const size_t count_size = big_tiff ? 8 : 2;
  const size_t entry_size = big_tiff ? 20 : 12;
  if (!b.Has(ifd, count_size)) return Truncated(kFormat, "the first IFD");
  const uint64_t entries = big_tiff ? b.U64(ifd, big_endian) : b.U16(ifd, big_endian);
  if (entries > 4096) return Malformed(kFormat, fmt::format("IFD with {} entries", entries));
  if (!b.Has(ifd + count_size, entries * entry_size)) {
    return Truncated(kFormat, "the first IFD's entries");
  }
  uint64_t width = 0;
  uint64_t height = 0;
  for (uint64_t i = 0; i < entries; ++i) {
    const size_t entry = ifd + count_size + i * entry_size;
    const uint32_t tag = b.U16(entry, big_endian);
    if (tag != 256 && tag != 257) continue;
    const uint32_t type = b.U16(entry + 2, big_endian);
    const size_t value = entry + (big_tiff ? 12 : 8);
    uint64_t v;
    if (type == 3) {  // SHORT
      v = b.U16(value, big_endian);
    } else if (type == 4) {  // LONG
      v = b.U32(value, big_endian);
    } else if (type == 16 && big_tiff) {  // LONG8
      v = b.U64(value, big_endian);
    } else {
      return Malformed(kFormat, fmt::format("tag {} has type {}", tag, type));
    }
    (tag == 256 ? width : height) = v;
  }
  if (width == 0 || height == 0) {
    return Malformed(kFormat, "first IFD lacks ImageWidth or ImageLength");
  }
  return Dimensions(kFormat, width, height);
}


// Hands OpenCV a caller's buffer for the one matrix a decode creates, so the
// decoder writes its full-size output there and nowhere else. A request of
// another shape (the decoder disagreeing with our header reader) gets
// ordinary memory. Unlike a preset destination matrix, this leaves the
// matrix empty when the decoder gives up before creating it, so failure
// stays visible.
class TargetAllocator : public cv::MatAllocator {
 public:
  TargetAllocator(uint8_t* target, int rows, int cols)
      : target_(target), rows_(rows), cols_(cols) {}

  cv::UMatData* allocate(int dims, const int* sizes, int type, void* data, size_t* step,
                         cv::AccessFlag flags, cv::UMatUsageFlags usage) const override {
    if (data != nullptr || target_ == nullptr || dims != 2 || sizes[0] != rows_ ||
        sizes[1] != cols_ || type != CV_8UC3) {
      return cv::Mat::getStdAllocator()->allocate(dims, sizes, type, data, step, flags, usage);
    }
    step[1] = 3;
    step[0] = static_cast<size_t>(cols_) * 3;
    auto* u = new cv::UMatData(this);
    u->data = u->origdata = target_;
    u->size = step[0] * static_cast<size_t>(rows_);
    u->flags |= cv::UMatData::USER_ALLOCATED;
    target_ = nullptr;  // One matrix only.
    return u;
  }

  bool allocate(cv::UMatData* u, cv::AccessFlag, cv::UMatUsageFlags) const override {
    return u != nullptr;
  }

  void deallocate(cv::UMatData* u) const override { delete u; }

 private:
  mutable uint8_t* target_;
  const int rows_;
  const int cols_;
};

}  // namespace

std::vector<uint8_t> AllocatePixels(size_t bytes) {
  // Below this, a buffer usually comes from malloc's heap and few pages fault.
  constexpr size_t kHugePageThreshold = size_t{4} << 20;
  std::vector<uint8_t> pixels;
  pixels.reserve(bytes);
  if (bytes >= kHugePageThreshold) {
    const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const uintptr_t start = (reinterpret_cast<uintptr_t>(pixels.data()) + page - 1) & ~(page - 1);
    const uintptr_t end = (reinterpret_cast<uintptr_t>(pixels.data()) + bytes) & ~(page - 1);
    // Advice only: without transparent huge pages this fails and changes nothing.
    if (end > start) madvise(reinterpret_cast<void*>(start), end - start, MADV_HUGEPAGE);
  }
  pixels.resize(bytes);
  return pixels;
}

void FinishBgrInPlace(DecodedImage& image) {
  const size_t count = static_cast<size_t>(image.width) * static_cast<size_t>(image.height);
  uint8_t* p = image.pixels.data();
  // A colour photo fails this test at its first pixels; only grey images are
  // scanned to the end.
  bool grey = true;
  for (size_t i = 0; i < count; ++i) {
    if (p[3 * i] != p[3 * i + 1] || p[3 * i + 1] != p[3 * i + 2]) {
      grey = false;
      break;
    }
  }
  if (grey) {
    for (size_t i = 0; i < count; ++i) p[i] = p[3 * i];
    image.pixels.resize(count);
    image.channels = 1;
    return;
  }
  // One row per call: OpenCV runs a one-row range on this thread instead of
  // its thread pool, and its vectorised swap works in place (each block is
  // loaded before it is stored).
  const size_t row_bytes = static_cast<size_t>(image.width) * 3;
  for (int y = 0; y < image.height; ++y) {
    uint8_t* row = p + static_cast<size_t>(y) * row_bytes;
    cv::hal::cvtBGRtoBGR(row, row_bytes, row, row_bytes, image.width, 1, CV_8U, 3, 3,
                         /*swapBlue=*/true);
  }
  image.channels = 3;
}

DecodedImage DecodedImageFromBgr(const cv::Mat& bgr, ImageFormat format) {
  DecodedImage image;
  image.format = format;
  image.width = bgr.cols;
  image.height = bgr.rows;
  image.pixels = AllocatePixels(static_cast<size_t>(bgr.cols) * bgr.rows * 3);
  const size_t row_bytes = static_cast<size_t>(bgr.cols) * 3;
  for (int y = 0; y < bgr.rows; ++y) {
    std::memcpy(image.pixels.data() + y * row_bytes, bgr.ptr<uint8_t>(y), row_bytes);
  }
  FinishBgrInPlace(image);
  return image;
}

absl::StatusOr<DecodedImage> DecodeWithOpenCv(std::span<const uint8_t> bytes, int flags,
                                              ImageFormat format, int width, int height,
                                              const ImageLimits& limits) {
  const std::string_view name = ImageFormatName(format);
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    return absl::ResourceExhaustedError(
        fmt::format("{} image is {} bytes, more than the decoder accepts", name, bytes.size()));
  }
  // OpenCV decodes straight into the returned buffer (TargetAllocator), so
  // the image is written once and never copied; B,G,R then become R,G,B in
  // place.
  DecodedImage image;
  image.format = format;
  image.width = width;
  image.height = height;
  image.pixels = AllocatePixels(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  const TargetAllocator allocator(image.pixels.data(), height, width);
  cv::Mat decoded;
  decoded.allocator = const_cast<TargetAllocator*>(&allocator);
  try {
    const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8UC1,
                          const_cast<uint8_t*>(bytes.data()));
    cv::imdecode(encoded, flags, &decoded);
  } catch (const std::exception& e) {
    return absl::DataLossError(
        fmt::format("{} image ({}x{}) could not be decoded: {}", name, width, height, e.what()));
  }
  if (decoded.empty()) {
    return absl::DataLossError(fmt::format(
        "{} image ({}x{}, {} bytes) could not be decoded: the data is corrupt, "
        "truncated, or a variant of the format the decoder does not support",
        name, width, height, bytes.size()));
  }
  if (decoded.data == image.pixels.data()) {
    FinishBgrInPlace(image);
    return image;
  }
  // The decoder produced another size or type than expected (OpenCV then
  // allocated its own matrix).
  if (decoded.type() != CV_8UC3 ||
      uint64_t{static_cast<uint32_t>(decoded.cols)} * static_cast<uint32_t>(decoded.rows) >
          limits.max_pixels) {
    return absl::DataLossError(
        fmt::format("{} image: expected {}x{} but the decoder produced {}x{} of type {}", name,
                    width, height, decoded.cols, decoded.rows, decoded.type()));
  }
  return DecodedImageFromBgr(decoded, format);
}

std::string_view ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg: return "JPEG";
    case ImageFormat::kPng: return "PNG";
    case ImageFormat::kGif: return "GIF";
    case ImageFormat::kBmp: return "BMP";
    case ImageFormat::kWebp: return "WebP";
    case ImageFormat::kTiff: return "TIFF";
  }
  return "unknown";
}

absl::StatusOr<ImageHeader> ReadImageHeader(std::span<const uint8_t> bytes) {
  const Bytes b(bytes);
  if (b.StartsWith(0, "\xFF\xD8\xFF")) {
    auto walk = WalkJpeg(b, /*stop_at_frame=*/true);
    if (!walk.ok()) return walk.status();
    if (!walk->header) return Truncated(ImageFormat::kJpeg, "the frame header");
    return *walk->header;
  }
  if (b.StartsWith(0, "\x89PNG\r\n\x1A\n")) return ReadPngHeader(b);
  if (b.StartsWith(0, "GIF87a") || b.StartsWith(0, "GIF89a")) return ReadGifHeader(b);
  if (b.StartsWith(0, "BM")) return ReadBmpHeader(b);
  if (b.StartsWith(0, "RIFF") && b.StartsWith(8, "WEBP")) return ReadWebpHeader(b);
  if (b.StartsWith(0, std::string_view("II*\0", 4)) ||
      b.StartsWith(0, std::string_view("MM\0*", 4)) ||
      b.StartsWith(0, std::string_view("II+\0", 4)) ||
      b.StartsWith(0, std::string_view("MM\0+", 4))) {
    return ReadTiffHeader(b);
  }
  std::string start;
  for (size_t i = 0; i < bytes.size() && i < 8; ++i) {
    start += fmt::format("{}{:02x}", i == 0 ? "" : " ", bytes[i]);
  }
  return absl::InvalidArgumentError(fmt::format(
      "not an image in a supported format (JPEG, PNG, GIF, BMP, WebP, TIFF); "
      "the data starts with [{}]",
      start));
}

absl::StatusOr<DecodedImage> DecodeImage(std::span<const uint8_t> bytes,
                                         const ImageLimits& limits) {
  auto header = ReadImageHeader(bytes);
  if (!header.ok()) return header.status();
  const uint64_t pixels = uint64_t{header->width} * header->height;
  if (pixels > limits.max_pixels) {
    return absl::ResourceExhaustedError(
        fmt::format("image is {}x{} = {} pixels, over max_image_pixels {}",
                    header->width, header->height, pixels, limits.max_pixels));
  }
  if (header->format == ImageFormat::kJpeg) {
    auto walk = WalkJpeg(Bytes(bytes), /*stop_at_frame=*/false);
    if (!walk.ok()) return walk.status();
    if (!walk->reached_end) {
      return absl::DataLossError(fmt::format(
          "JPEG image ({}x{}, {} bytes) is truncated: no end-of-image marker",
          header->width, header->height, bytes.size()));
    }
  }
  if (header->format == ImageFormat::kGif) return DecodeGif(bytes, limits);
  constexpr uint8_t kWebpAnimationFlag = 0x02;
  if (header->format == ImageFormat::kWebp && Bytes(bytes).StartsWith(12, "VP8X") &&
      (bytes[20] & kWebpAnimationFlag) != 0) {
    return absl::UnimplementedError(fmt::format(
        "WebP image ({}x{}) is animated; animated WebP is not supported", header->width,
        header->height));
  }
  return DecodeWithOpenCv(bytes, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION,
                          header->format, static_cast<int>(header->width),
                          static_cast<int>(header->height), limits);
}

}  // namespace takedown
