// DecodeGif: the first frame of a GIF87a/GIF89a file, decoded by our own
// parser and LZW decompressor (Debian 12's OpenCV 4.6 has no GIF reader).
//
// The result is the picture the PDQ reference hashes for the file. The
// reference reads a GIF through CImg, which has ImageMagick write every frame
// to its own PNG ("convert in.gif out.png", no -coalesce), reads each back as
// a PNM (alpha dropped) and stacks the frames, zero-padded to the largest
// one; it hashes the first slab. So:
//   - the image is the first frame's own rectangle (image descriptor width x
//     height). The logical screen, the frame's offset on it and the
//     background colour are not used;
//   - if a later frame is wider or taller, the image is widened to the
//     largest frame's size and the added area is black (0);
//   - a transparent pixel (graphic control extension) has the colour of its
//     index in the colour table: transparency is dropped, not composited;
//   - an index past the end of the colour table takes entry 0, and a frame
//     with neither a local nor a global colour table is black (ImageMagick's
//     rules);
//   - one grey channel when every pixel has R == G == B, else R, G, B. When
//     the first frame is grey but a later frame uses a non-grey colour, the
//     reference stacks a 1-channel frame into a 3-channel image and hashes
//     (grey, 0, 0); so do we.
// docs/pdq.md ("GIF") gives the evidence and the deviations: we are lenient
// where ImageMagick refuses the whole file (a corrupt or truncated later
// frame is ignored, extra pixel data after the first frame's last pixel is
// ignored).
//
// Limits, all checked before any pixel buffer is allocated: the logical
// screen, every frame rectangle, and the output size must each be at most
// limits.max_pixels. The LZW decoder never writes past the frame and stops
// at the frame's last pixel; later frames are decoded (for the grey test
// above) only within a budget of max_pixels pixels in total, and the walk
// over later frames stops after 65536 of them.
//
// Errors:
//   InvalidArgument   not a GIF, a malformed block, a zero-sized frame, an
//                     LZW minimum code size outside 2..8, an LZW code that
//                     is not yet defined, no image in the file;
//   ResourceExhausted over max_pixels (screen, frame or output);
//   DataLoss          the file ends before the first frame is complete, or
//                     its pixel data ends (end code or block terminator)
//                     before its last pixel.
//
// Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "matcher/image_decoder.h"

namespace takedown {

absl::StatusOr<DecodedImage> DecodeGif(std::span<const uint8_t> bytes, const ImageLimits& limits);

}  // namespace takedown
