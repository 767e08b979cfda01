// Fast-mode decoding for PDQ: a JPEG is decoded by libjpeg-turbo directly at
// 1/2, 1/4 or 1/8 of its size (its scaled inverse DCT skips most of the work
// of a full decode), then hashed as usual by PdqHasher, which squashes every
// image with a side over 512 to 512 x 512 anyway.
//
// The result is close to, but not bit-identical with, the exact hash (a
// reduced decode averages pixels where the exact path samples them):
// docs/pdq-index.md gives the measured distances. Fast hashes are for bulk
// sweeps only: a fast hash within a wider radius of a list entry must be
// re-hashed in exact mode (DecodeImage + PdqHasher) before it counts.
//
// Other formats, and JPEGs too small to reduce, are decoded exactly as by
// DecodeImage(). Unlike DecodeImage(), a truncated JPEG is not detected
// (libjpeg pads it with grey); the exact re-hash of a candidate refuses it.
// The header's pixel budget applies as in DecodeImage().
//
// Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "matcher/image_decoder.h"

namespace takedown {

struct FastDecodeOptions {
  // The reduction is the largest of 8, 4, 2 that keeps both sides at least
  // this long (no reduction if none does).
  int min_side = 512;
};

// The JPEG reduction factor (1, 2, 4 or 8) for an image of this size.
int FastJpegReduction(int width, int height, const FastDecodeOptions& options);

// As DecodeImage(), but with the reduced decode above for JPEGs. The returned
// image has the reduced size (libjpeg rounds up: ceil(width / factor)).
absl::StatusOr<DecodedImage> DecodeImageFast(std::span<const uint8_t> bytes, const ImageLimits& limits,
                                             const FastDecodeOptions& options = {});

}  // namespace takedown
