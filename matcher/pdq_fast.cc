#include "matcher/pdq_fast.h"

#include <fmt/format.h>

#include <climits>
#include <exception>
#include <opencv2/imgcodecs.hpp>

#include "matcher/decoded_image_from_bgr.h"

namespace takedown {

int FastJpegReduction(int width, int height, const FastDecodeOptions& options) {
  for (int factor : {8, 4, 2}) {
    if ((width + factor - 1) / factor >= options.min_side &&
        (height + factor - 1) / factor >= options.min_side) {
      return factor;
    }
  }
  return 1;
}

absl::StatusOr<DecodedImage> DecodeImageFast(std::span<const uint8_t> bytes, const ImageLimits& limits,
                                             const FastDecodeOptions& options) {
  absl::StatusOr<ImageHeader> header = ReadImageHeader(bytes);
  if (!header.ok()) return header.status();
  const int width = static_cast<int>(header->width);
  const int height = static_cast<int>(header->height);
  const int factor =
      header->format == ImageFormat::kJpeg && header->width <= INT_MAX && header->height <= INT_MAX
          ? FastJpegReduction(width, height, options)
          : 1;
  // DecodeImage() applies the pixel budget and does the full decode.
  if (factor == 1) return DecodeImage(bytes, limits);
  const uint64_t pixels = uint64_t{header->width} * header->height;
  if (pixels > limits.max_pixels) {
    return absl::ResourceExhaustedError(fmt::format("image is {}x{} = {} pixels, over max_image_pixels {}",
                                                    width, height, pixels, limits.max_pixels));
  }
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    return absl::ResourceExhaustedError(
        fmt::format("JPEG image is {} bytes, more than the decoder accepts", bytes.size()));
  }
  const int flag = factor == 8   ? cv::IMREAD_REDUCED_COLOR_8
                   : factor == 4 ? cv::IMREAD_REDUCED_COLOR_4
                                 : cv::IMREAD_REDUCED_COLOR_2;
  cv::Mat decoded;
  try {
    const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<uint8_t*>(bytes.data()));
    decoded = cv::imdecode(encoded, flag | cv::IMREAD_IGNORE_ORIENTATION);
  } catch (const std::exception& e) {
    return absl::DataLossError(
        fmt::format("JPEG image ({}x{}) could not be decoded at 1/{}: {}", width, height, factor, e.what()));
  }
  const int expected_width = (width + factor - 1) / factor;
  const int expected_height = (height + factor - 1) / factor;
  if (decoded.empty() || decoded.type() != CV_8UC3 || decoded.cols != expected_width ||
      decoded.rows != expected_height) {
    return absl::DataLossError(
        fmt::format("JPEG image ({}x{}, {} bytes) could not be decoded at 1/{}: the data is corrupt or a "
                    "variant the decoder does not support",
                    width, height, bytes.size(), factor));
  }
  return DecodedImageFromBgr(decoded, ImageFormat::kJpeg);
}

}  // namespace takedown
