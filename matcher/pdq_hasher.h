// PdqHasher: PDQ perceptual hashes (256 bits + a 0..100 quality), computed to
// be bit-identical with the reference C++ implementation (facebook/ThreatExchange
// pdq/cpp) on the same pixels. docs/pdq.md describes the algorithm step by step
// and the conformance results against shared/vectors/pdq.
//
// Also the 8 dihedral variants (the hashes of the image rotated and mirrored),
// obtained from one DCT by sign changes and transposition, as the reference
// does; they are what a query uses to find rotated or mirrored copies.
//
// Images smaller than 5 pixels on a side hash to all zeros with quality 0,
// as in the reference.
//
// Floating-point order matters for bit-exactness: this code must not be
// compiled with -ffast-math or with FMA contraction (-ffp-contract=fast on a
// target with FMA); pdq_hasher.cc refuses -ffast-math at compile time and the
// conformance test catches the rest.
//
// PdqHasher has no state: all methods are const and thread-safe.
#pragma once

#include <array>
#include <span>

#include "absl/status/statusor.h"
#include "matcher/image_decoder.h"
#include "matcher/pdq_hash.h"

namespace takedown {

struct PdqResult {
  PdqHash hash;
  int quality = 0;  // 0..100; hashes below 50 are usually not matched.
};

struct PdqDihedral {
  // Index into `hashes`; the order of the reference's --dihedral output.
  enum Variant {
    kOriginal = 0,
    kRotate90,     // counter-clockwise: the right edge becomes the top.
    kRotate180,
    kRotate270,
    kFlipX,        // upside down (mirror about the horizontal axis).
    kFlipY,        // left-right mirror.
    kFlipPlus1,    // transpose (mirror about the main diagonal).
    kFlipMinus1,   // mirror about the anti-diagonal.
  };
  static constexpr int kCount = 8;
  std::array<PdqHash, kCount> hashes;
  int quality = 0;
};

class PdqHasher {
 public:
  // Images with a side above this are first resampled to exactly
  // kSquashSize x kSquashSize by nearest neighbour, as the reference does.
  static constexpr int kSquashSize = 512;
  static constexpr int kMinDimension = 5;

  // Hashes a decoded image (1 grey or 3 R,G,B channels). InvalidArgument if
  // the pixel buffer does not match width * height * channels.
  absl::StatusOr<PdqResult> Hash(const DecodedImage& image) const;
  absl::StatusOr<PdqDihedral> HashDihedral(const DecodedImage& image) const;

  // Hashes a luma plane (row-major, width * height values, 0..255 scale) as
  // is: no 512x512 squash. Used for video frames already scaled down.
  // As in the reference, HashLuma() skips the blur for an input of exactly
  // 64x64 while HashLumaDihedral() does not, so the two can differ slightly
  // for that size.
  absl::StatusOr<PdqResult> HashLuma(std::span<const float> luma, int width,
                                     int height) const;
  absl::StatusOr<PdqDihedral> HashLumaDihedral(std::span<const float> luma,
                                               int width, int height) const;
};

}  // namespace takedown
