// Helpers shared by the decoders in matcher/ that produce a DecodedImage;
// internal to matcher/ (image_decoder.h stays free of OpenCV types).
//
// The reference reads an image whose every pixel has R == G == B as
// greyscale and hashes the grey value itself, so a decoded image comes back
// with one grey channel in that case, R, G, B otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <opencv2/core.hpp>

#include "absl/status/statusor.h"
#include "matcher/image_decoder.h"

namespace takedown {

// A zero-filled buffer of `bytes` bytes for decoded pixels. Buffers of 4 MiB
// and more are advised to use transparent huge pages (madvise), which makes
// their first touch an order of magnitude cheaper where page faults are
// expensive (virtual machines); a no-op where the kernel does not allow it.
std::vector<uint8_t> AllocatePixels(size_t bytes);

// REQUIRES: image.pixels holds width * height B,G,R triples.
// Rewrites them in place as R,G,B, or as one grey channel (channels = 1, the
// vector shrunk to width * height) when every pixel is grey.
void FinishBgrInPlace(DecodedImage& image);

// Decodes `bytes` with cv::imdecode(flags), which must yield 8-bit B,G,R,
// expected to be width x height (the caller read the header and applied the
// pixel budget). OpenCV writes straight into the returned image's buffer;
// FinishBgrInPlace() then reorders it. A decoder that yields another size
// falls back to a copy (still within limits.max_pixels). Errors: DataLoss
// (corrupt or truncated data, OpenCV exception), ResourceExhausted (over
// INT_MAX bytes, or the decoder's size over the budget).
absl::StatusOr<DecodedImage> DecodeWithOpenCv(std::span<const uint8_t> bytes, int flags,
                                              ImageFormat format, int width, int height,
                                              const ImageLimits& limits);

// Copies an OpenCV 8-bit BGR image into a DecodedImage, as above.
DecodedImage DecodedImageFromBgr(const cv::Mat& bgr, ImageFormat format);

}  // namespace takedown
