// Decoding of untrusted image bytes into 8-bit pixels, with a pixel budget.
//
// DecodeImage() reads the width and height from the file's own header first
// (JPEG SOF, PNG IHDR, GIF logical screen, BMP DIB header, WebP VP8/VP8L/VP8X,
// TIFF first IFD) and refuses an image whose width x height exceeds
// ImageLimits::max_pixels before any pixel is decoded, so decompression bombs
// cost nothing. Only then are the bytes decoded: GIF by our own decoder
// (matcher/gif_decoder.h: the first frame), the others by OpenCV imgcodecs
// (the system libjpeg-turbo, libpng, libwebp and libtiff), which writes
// straight into the returned buffer.
//
// The result is what the PDQ reference implementation sees when it reads the
// same file through ImageMagick: EXIF/TIFF orientation is NOT applied, alpha is
// dropped (not composited), 16-bit samples are reduced to 8 bits, and an image
// whose every pixel has R == G == B comes back with one grey channel (ImageMagick
// hands such images to the reference as greyscale, and the reference then
// takes the grey value as luma instead of 0.299 R + 0.587 G + 0.114 B).
//
// Errors (never exceptions, never a crash):
//   InvalidArgument   not one of the formats above, or a malformed header
//                     (or GIF structure);
//   ResourceExhausted over max_pixels ("image is WxH = N pixels, over
//                     max_image_pixels M");
//   DataLoss          header or data cut short, or the decoder rejected the
//                     data as corrupt;
//   Unimplemented     an image whose header we read but that this OpenCV build
//                     cannot decode (animated WebP, JPEG whose height comes in
//                     a DNL marker).
//
// All functions are thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace takedown {

enum class ImageFormat { kJpeg, kPng, kGif, kBmp, kWebp, kTiff };

// "JPEG", "PNG", "GIF", "BMP", "WebP", "TIFF".
std::string_view ImageFormatName(ImageFormat format);

struct ImageLimits {
  // 64 Mi pixels: a 3-channel decode then needs at most ~200 MB.
  static constexpr uint64_t kDefaultMaxPixels = uint64_t{1} << 26;
  uint64_t max_pixels = kDefaultMaxPixels;
};

struct ImageHeader {
  ImageFormat format = ImageFormat::kJpeg;
  uint32_t width = 0;
  uint32_t height = 0;
};

// Row-major, tightly packed pixels, one byte per sample.
struct DecodedImage {
  ImageFormat format = ImageFormat::kJpeg;
  int width = 0;
  int height = 0;
  int channels = 0;             // 1: grey; 3: R, G, B interleaved.
  std::vector<uint8_t> pixels;  // width * height * channels bytes.
};

// Identifies the format from the magic bytes and reads the dimensions, looking
// at no more of `bytes` than the header needs. Width and height are > 0.
absl::StatusOr<ImageHeader> ReadImageHeader(std::span<const uint8_t> bytes);

// ReadImageHeader(), the pixel budget, then a full decode (see above). A JPEG
// must reach its end-of-image marker: a truncated JPEG is DataLoss, although
// libjpeg itself would pad it with grey.
absl::StatusOr<DecodedImage> DecodeImage(std::span<const uint8_t> bytes,
                                         const ImageLimits& limits);

}  // namespace takedown
