// DecodedImageFromBgr: copies an OpenCV 8-bit BGR image into a DecodedImage
// as tightly packed R, G, B, or as one grey channel when every pixel has
// R == G == B (the reference reads such images as greyscale and hashes the
// grey value itself). Internal to matcher/: the decoders that call OpenCV
// share it; image_decoder.h stays free of OpenCV types.
#pragma once

#include <opencv2/core.hpp>

#include "matcher/image_decoder.h"

namespace takedown {

DecodedImage DecodedImageFromBgr(const cv::Mat& bgr, ImageFormat format);

}  // namespace takedown
