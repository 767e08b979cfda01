// libFuzzer target for the GIF decoder (matcher/gif_decoder.h). Besides
// "never crashes", it checks what a successful decode promises: a non-empty
// image within the pixel budget, 1 or 3 channels, a buffer of exactly
// width x height x channels bytes; and that a refusal is one of the
// documented codes with a message.
//
// To fuzz, build this file with clang++ -std=c++20 -I. -isystem /usr/include/opencv4
// -fsanitize=fuzzer,address,undefined together with matcher/gif_decoder.cc and
// matcher/image_decoder.cc, linked with -lopencv_imgcodecs -lopencv_imgproc
// -lopencv_core -lfmt and the Abseil status libraries, then run it on the seed
// corpus:
//   ./gif_fuzz -max_len=65536 tests/fuzz/corpus/gif
// The ctest "gif_fuzz_replay" runs the seed corpus without libFuzzer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "absl/status/status.h"
#include "matcher/gif_decoder.h"
#include "matcher/image_decoder.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

void CheckResult(const absl::StatusOr<takedown::DecodedImage>& image, const takedown::ImageLimits& limits) {
  if (!image.ok()) {
    const absl::StatusCode code = image.status().code();
    Check(code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kDataLoss ||
          code == absl::StatusCode::kResourceExhausted);
    Check(!image.status().message().empty());
    return;
  }
  Check(image->format == takedown::ImageFormat::kGif);
  Check(image->width > 0 && image->height > 0);
  Check(image->channels == 1 || image->channels == 3);
  const uint64_t pixels = uint64_t(image->width) * uint64_t(image->height);
  Check(pixels <= limits.max_pixels);
  Check(image->pixels.size() == pixels * uint64_t(image->channels));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  takedown::ImageLimits limits;
  limits.max_pixels = 1 << 20;
  const std::span<const uint8_t> bytes(data, size);
  CheckResult(takedown::DecodeGif(bytes, limits), limits);
  // Through the dispatcher, which reads the logical screen size first.
  if (size >= 6 && data[0] == 'G' && data[1] == 'I' && data[2] == 'F') {
    absl::StatusOr<takedown::DecodedImage> image = takedown::DecodeImage(bytes, limits);
    CheckResult(image, limits);
  }
  return 0;
}
