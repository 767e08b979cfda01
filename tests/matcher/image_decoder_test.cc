#include "matcher/image_decoder.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

// OpenCV 4.6's headers do arithmetic between enums, deprecated in C++20.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-enum-enum-conversion"
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#pragma GCC diagnostic pop

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace takedown {
namespace {

using ::testing::HasSubstr;

const std::string kVectorDir = std::string(TAKEDOWN_SOURCE_DIR) + "/../shared/vectors/pdq/images/";

std::vector<uint8_t> ReadVector(const std::string& name) {
  std::ifstream in(kVectorDir + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << kVectorDir + name;
  std::ostringstream data;
  data << in.rdbuf();
  const std::string s = data.str();
  return std::vector<uint8_t>(s.begin(), s.end());
}

// Appends fields to a byte vector; for hand-made headers.
class Writer {
 public:
  Writer& Str(std::string_view s) {
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    return *this;
  }
  Writer& U8(uint32_t v) {
    bytes_.push_back(static_cast<uint8_t>(v));
    return *this;
  }
  Writer& Be(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  Writer& Le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  Writer& Zeros(int n) {
    bytes_.insert(bytes_.end(), n, 0);
    return *this;
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

std::vector<uint8_t> PngHeader(uint32_t width, uint32_t height) {
  Writer w;
  w.Str("\x89PNG\r\n\x1A\n").Be(13, 4).Str("IHDR").Be(width, 4).Be(height, 4);
  w.U8(8).U8(2).U8(0).U8(0).U8(0).Be(0x12345678, 4);  // CRC not checked by us.
  return w.bytes();
}

std::vector<uint8_t> JpegHeader(uint32_t width, uint32_t height) {
  Writer w;
  w.Be(0xFFD8, 2).Be(0xFFE0, 2).Be(16, 2).Str(std::string_view("JFIF\0", 5)).Zeros(9);
  w.Be(0xFFC2, 2).Be(17, 2).U8(8).Be(height, 2).Be(width, 2).U8(3);
  w.U8(1).U8(0x22).U8(0).U8(2).U8(0x11).U8(1).U8(3).U8(0x11).U8(1);
  return w.bytes();
}

struct HeaderCase {
  std::string name;
  std::vector<uint8_t> bytes;
  ImageFormat format;
  uint32_t width;
  uint32_t height;
};

std::vector<HeaderCase> HugeHeaders() {
  std::vector<HeaderCase> cases;
  cases.push_back({"png", PngHeader(100000, 100000), ImageFormat::kPng, 100000, 100000});
  cases.push_back({"jpeg", JpegHeader(65000, 64000), ImageFormat::kJpeg, 65000, 64000});
  cases.push_back({"gif", Writer().Str("GIF89a").Le(65535, 2).Le(65000, 2).Zeros(3).bytes(),
                   ImageFormat::kGif, 65535, 65000});
  cases.push_back({"bmp top-down",
                   Writer().Str("BM").Zeros(12).Le(40, 4).Le(30000, 4).Le(-30000, 4).Zeros(28).bytes(),
                   ImageFormat::kBmp, 30000, 30000});
  cases.push_back({"bmp core", Writer().Str("BM").Zeros(12).Le(12, 4).Le(60000, 2).Le(2000, 2).bytes(),
                   ImageFormat::kBmp, 60000, 2000});
  cases.push_back({"webp vp8x",
                   Writer().Str("RIFF").Le(22, 4).Str("WEBPVP8X").Le(10, 4).Zeros(4)
                       .Le(16777215, 3).Le(99999, 3).bytes(),
                   ImageFormat::kWebp, 16777216, 100000});
  cases.push_back({"webp vp8l",
                   Writer().Str("RIFF").Le(18, 4).Str("WEBPVP8L").Le(5, 4).U8(0x2F)
                       .Le((16383u) | (16383u << 14), 4).Zeros(1).bytes(),
                   ImageFormat::kWebp, 16384, 16384});
  cases.push_back({"webp vp8",
                   Writer().Str("RIFF").Le(22, 4).Str("WEBPVP8 ").Le(10, 4).Zeros(3)
                       .U8(0x9D).U8(0x01).U8(0x2A).Le(16383, 2).Le(16000, 2).bytes(),
                   ImageFormat::kWebp, 16383, 16000});
  cases.push_back({"tiff little-endian long",
                   Writer().Str(std::string_view("II*\0", 4)).Le(8, 4).Le(2, 2)
                       .Le(256, 2).Le(4, 2).Le(1, 4).Le(100000, 4)
                       .Le(257, 2).Le(4, 2).Le(1, 4).Le(90000, 4).Le(0, 4).bytes(),
                   ImageFormat::kTiff, 100000, 90000});
  cases.push_back({"tiff big-endian short",
                   Writer().Str(std::string_view("MM\0*", 4)).Be(8, 4).Be(3, 2)
                       .Be(254, 2).Be(4, 2).Be(1, 4).Be(0, 4)
                       .Be(257, 2).Be(3, 2).Be(1, 4).Be(60000, 2).Zeros(2)
                       .Be(256, 2).Be(3, 2).Be(1, 4).Be(50000, 2).Zeros(2).Be(0, 4).bytes(),
                   ImageFormat::kTiff, 50000, 60000});
  cases.push_back({"bigtiff",
                   Writer().Str(std::string_view("II+\0", 4)).Le(8, 2).Le(0, 2).Le(16, 8).Le(2, 8)
                       .Le(256, 2).Le(16, 2).Le(1, 8).Le(200000, 8)
                       .Le(257, 2).Le(16, 2).Le(1, 8).Le(200000, 8).Le(0, 8).bytes(),
                   ImageFormat::kTiff, 200000, 200000});
  return cases;
}

// Headers claiming huge sizes are refused from the header alone: none of these
// has any pixel data, so a decode attempt would have been DataLoss instead.
TEST(ImageDecoder, RefusesImagesOverThePixelLimitBeforeDecoding) {
  for (const HeaderCase& c : HugeHeaders()) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<ImageHeader> header = ReadImageHeader(c.bytes);
    ASSERT_TRUE(header.ok()) << header.status();
    EXPECT_EQ(header->format, c.format);
    EXPECT_EQ(header->width, c.width);
    EXPECT_EQ(header->height, c.height);

    absl::StatusOr<DecodedImage> image = DecodeImage(c.bytes, ImageLimits{});
    EXPECT_EQ(image.status().code(), absl::StatusCode::kResourceExhausted);
    const uint64_t pixels = uint64_t{c.width} * c.height;
    EXPECT_EQ(std::string(image.status().message()),
              "image is " + std::to_string(c.width) + "x" + std::to_string(c.height) + " = " +
                  std::to_string(pixels) + " pixels, over max_image_pixels 67108864");
  }
}

TEST(ImageDecoder, PixelLimitIsInclusive) {
  const std::vector<uint8_t> jpeg = ReadVector("bridge-mods/square-128x128.jpg");
  ImageLimits limits;
  limits.max_pixels = 128 * 128;
  absl::StatusOr<DecodedImage> image = DecodeImage(jpeg, limits);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->width, 128);
  EXPECT_EQ(image->height, 128);
  EXPECT_EQ(image->channels, 3);
  EXPECT_EQ(image->pixels.size(), 128u * 128u * 3u);

  limits.max_pixels = 128 * 128 - 1;
  image = DecodeImage(jpeg, limits);
  EXPECT_EQ(image.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(image.status().message()),
              HasSubstr("image is 128x128 = 16384 pixels, over max_image_pixels 16383"));
}

TEST(ImageDecoder, TruncatedJpegIsDataLoss) {
  const std::vector<uint8_t> jpeg = ReadVector("bridge-mods/square-128x128.jpg");
  for (size_t keep : {jpeg.size() / 2, jpeg.size() - 2, size_t{400}}) {
    SCOPED_TRACE(keep);
    const std::vector<uint8_t> cut(jpeg.begin(), jpeg.begin() + keep);
    absl::StatusOr<DecodedImage> image = DecodeImage(cut, ImageLimits{});
    EXPECT_EQ(image.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(image.status().message()), HasSubstr("truncated"));
  }
  // Cut inside the header segments, before the frame header.
  const std::vector<uint8_t> head(jpeg.begin(), jpeg.begin() + 10);
  EXPECT_EQ(DecodeImage(head, ImageLimits{}).status().code(), absl::StatusCode::kDataLoss);
}

TEST(ImageDecoder, TruncatedPngAndWebpAreDataLoss) {
  for (const char* name : {"misc-images/modes/P.png", "misc-images/modes/F.webp"}) {
    SCOPED_TRACE(name);
    const std::vector<uint8_t> full = ReadVector(name);
    const std::vector<uint8_t> cut(full.begin(), full.begin() + full.size() / 3);
    EXPECT_EQ(DecodeImage(cut, ImageLimits{}).status().code(), absl::StatusCode::kDataLoss);
  }
}

TEST(ImageDecoder, RejectsUnknownAndMalformedData) {
  absl::StatusOr<DecodedImage> empty = DecodeImage({}, ImageLimits{});
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string text = "%PDF-1.7 not an image";
  absl::StatusOr<DecodedImage> pdf = DecodeImage(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
      ImageLimits{});
  EXPECT_EQ(pdf.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(pdf.status().message()), HasSubstr("25 50 44 46"));

  EXPECT_EQ(DecodeImage(PngHeader(0, 10), ImageLimits{}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A plausible PNG header with no image data behind it.
  EXPECT_EQ(DecodeImage(PngHeader(10, 10), ImageLimits{}).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeImage(JpegHeader(10, 0), ImageLimits{}).status().code(),
            absl::StatusCode::kUnimplemented);
  const std::vector<uint8_t> animated_webp = Writer()
                                                 .Str("RIFF").Le(22, 4).Str("WEBPVP8X").Le(10, 4)
                                                 .U8(0x02).Zeros(3).Le(9, 3).Le(9, 3)
                                                 .bytes();
  EXPECT_EQ(DecodeImage(animated_webp, ImageLimits{}).status().code(),
            absl::StatusCode::kUnimplemented);
}

std::vector<uint8_t> Encode(const cv::Mat& image, const std::string& ext,
                            const std::vector<int>& params = {}) {
  std::vector<uint8_t> out;
  EXPECT_TRUE(cv::imencode(ext, image, out, params)) << ext;
  return out;
}

// R, G, B come out in that order, for every lossless format OpenCV writes.
TEST(ImageDecoder, DecodesLosslessFormatsToExactRgb) {
  cv::Mat bgr(23, 37, CV_8UC3);
  for (int y = 0; y < bgr.rows; ++y) {
    for (int x = 0; x < bgr.cols; ++x) {
      bgr.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>(x * 7), static_cast<uint8_t>(y * 11),
                                          static_cast<uint8_t>(x + y));
    }
  }
  struct Case {
    std::string ext;
    std::vector<int> params;
    ImageFormat format;
  };
  const std::vector<Case> cases = {
      {".png", {}, ImageFormat::kPng},
      {".bmp", {}, ImageFormat::kBmp},
      {".tiff", {}, ImageFormat::kTiff},
      {".webp", {cv::IMWRITE_WEBP_QUALITY, 101}, ImageFormat::kWebp},  // > 100: lossless
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.ext);
    const std::vector<uint8_t> bytes = Encode(bgr, c.ext, c.params);
    absl::StatusOr<DecodedImage> image = DecodeImage(bytes, ImageLimits{});
    ASSERT_TRUE(image.ok()) << image.status();
    EXPECT_EQ(image->format, c.format);
    ASSERT_EQ(image->width, 37);
    ASSERT_EQ(image->height, 23);
    ASSERT_EQ(image->channels, 3);
    for (int y = 0; y < 23; ++y) {
      for (int x = 0; x < 37; ++x) {
        const uint8_t* p = &image->pixels[(y * 37 + x) * 3];
        ASSERT_EQ(p[0], x + y) << x << "," << y;
        ASSERT_EQ(p[1], y * 11);
        ASSERT_EQ(p[2], x * 7);
      }
    }
  }
}

// Baseline, progressive (several scans) and restart-marker JPEGs all reach
// their end-of-image marker through the structure walk.
TEST(ImageDecoder, DecodesJpegVariantsAtHeaderSize) {
  cv::Mat bgr(40, 64, CV_8UC3, cv::Scalar(10, 200, 30));
  const std::vector<std::vector<int>> variants = {
      {}, {cv::IMWRITE_JPEG_PROGRESSIVE, 1}, {cv::IMWRITE_JPEG_RST_INTERVAL, 1}};
  for (const std::vector<int>& params : variants) {
    SCOPED_TRACE(params.empty() ? -1 : params[0]);
    absl::StatusOr<DecodedImage> image = DecodeImage(Encode(bgr, ".jpg", params), ImageLimits{});
    ASSERT_TRUE(image.ok()) << image.status();
    EXPECT_EQ(image->format, ImageFormat::kJpeg);
    EXPECT_EQ(image->width, 64);
    EXPECT_EQ(image->height, 40);
    ASSERT_EQ(image->channels, 3);
    EXPECT_NEAR(image->pixels[0], 30, 3);
    EXPECT_NEAR(image->pixels[1], 200, 3);
    EXPECT_NEAR(image->pixels[2], 10, 3);
  }
}

// An image with no colour comes back as one grey channel; one coloured pixel
// is enough to keep three.
TEST(ImageDecoder, GreyImagesHaveOneChannel) {
  cv::Mat bgr(8, 9, CV_8UC3);
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 9; ++x) {
      const uint8_t v = static_cast<uint8_t>(20 * y + x);
      bgr.at<cv::Vec3b>(y, x) = cv::Vec3b(v, v, v);
    }
  }
  absl::StatusOr<DecodedImage> grey = DecodeImage(Encode(bgr, ".png"), ImageLimits{});
  ASSERT_TRUE(grey.ok()) << grey.status();
  ASSERT_EQ(grey->channels, 1);
  ASSERT_EQ(grey->pixels.size(), 72u);
  EXPECT_EQ(grey->pixels[5 * 9 + 4], 20 * 5 + 4);

  bgr.at<cv::Vec3b>(7, 8) = cv::Vec3b(1, 2, 3);
  absl::StatusOr<DecodedImage> colour = DecodeImage(Encode(bgr, ".png"), ImageLimits{});
  ASSERT_TRUE(colour.ok()) << colour.status();
  EXPECT_EQ(colour->channels, 3);
  EXPECT_EQ(colour->pixels.size(), 216u);
}

// Alpha is dropped, not composited: the colour under a transparent pixel stays.
TEST(ImageDecoder, DropsAlphaWithoutCompositing) {
  cv::Mat bgra(4, 4, CV_8UC4, cv::Scalar(50, 100, 150, 0));
  absl::StatusOr<DecodedImage> image = DecodeImage(Encode(bgra, ".png"), ImageLimits{});
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_EQ(image->channels, 3);
  EXPECT_EQ(image->pixels[0], 150);
  EXPECT_EQ(image->pixels[1], 100);
  EXPECT_EQ(image->pixels[2], 50);
}

TEST(ImageDecoder, IgnoresExifOrientation) {
  // Orientation 6 (rotate 90 to display); stored as 4032x3024 landscape.
  absl::StatusOr<DecodedImage> image =
      DecodeImage(ReadVector("reg-test-input/exif-rotn/exif-rotn-6.jpg"), ImageLimits{});
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->width, 4032);
  EXPECT_EQ(image->height, 3024);
}

// GIF is decoded by matcher/gif_decoder.h (tests/matcher/gif_decoder_test.cc).
TEST(ImageDecoder, DecodesGif) {
  // A complete 1x1 GIF: black and white table, one black pixel.
  const std::vector<uint8_t> gif = Writer()
                                       .Str("GIF89a").Le(1, 2).Le(1, 2).U8(0x80).U8(0).U8(0)
                                       .Zeros(3).U8(255).U8(255).U8(255)
                                       .U8(0x2C).Le(0, 2).Le(0, 2).Le(1, 2).Le(1, 2).U8(0)
                                       .U8(2).U8(2).U8(0x44).U8(0x01).U8(0).U8(0x3B)
                                       .bytes();
  absl::StatusOr<ImageHeader> header = ReadImageHeader(gif);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->format, ImageFormat::kGif);
  absl::StatusOr<DecodedImage> image = DecodeImage(gif, ImageLimits{});
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->format, ImageFormat::kGif);
  EXPECT_EQ(image->width, 1);
  EXPECT_EQ(image->height, 1);
  EXPECT_EQ(image->channels, 1);
  EXPECT_EQ(image->pixels, std::vector<uint8_t>{0});
}

// Large images are decoded straight into the returned buffer (over 4 MiB:
// huge-page advice) and reordered in place: wide rows exercise the
// vectorised swap and its tail, and the result is exact.
TEST(ImageDecoder, DecodesLargeImagesExactlyInPlace) {
  cv::Mat bgr(1001, 1531, CV_8UC3);
  cv::randu(bgr, cv::Scalar::all(0), cv::Scalar::all(256));
  absl::StatusOr<DecodedImage> image = DecodeImage(Encode(bgr, ".png"), ImageLimits{});
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_EQ(image->width, 1531);
  ASSERT_EQ(image->height, 1001);
  ASSERT_EQ(image->channels, 3);
  ASSERT_EQ(image->pixels.size(), size_t{1531} * 1001 * 3);
  for (int y = 0; y < bgr.rows; ++y) {
    for (int x = 0; x < bgr.cols; ++x) {
      const cv::Vec3b& p = bgr.at<cv::Vec3b>(y, x);
      const uint8_t* q = &image->pixels[(size_t{static_cast<size_t>(y)} * 1531 + x) * 3];
      ASSERT_EQ(q[0], p[2]) << x << "," << y;
      ASSERT_EQ(q[1], p[1]) << x << "," << y;
      ASSERT_EQ(q[2], p[0]) << x << "," << y;
    }
  }

  cv::Mat grey(1001, 1531, CV_8UC1);
  cv::randu(grey, cv::Scalar::all(0), cv::Scalar::all(256));
  cv::Mat grey_bgr;
  cv::merge(std::vector<cv::Mat>{grey, grey, grey}, grey_bgr);
  image = DecodeImage(Encode(grey_bgr, ".png"), ImageLimits{});
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_EQ(image->channels, 1);
  ASSERT_EQ(image->pixels.size(), size_t{1531} * 1001);
  EXPECT_TRUE(std::equal(image->pixels.begin(), image->pixels.end(), grey.data));
}

// Seeded random corruption of real files: every outcome is an image of the
// header's size or an error status; nothing crashes or throws.
TEST(ImageDecoder, SurvivesCorruptedInput) {
  std::mt19937 rng(20240611);
  cv::Mat bgr(48, 64, CV_8UC3);
  cv::randu(bgr, cv::Scalar::all(0), cv::Scalar::all(255));
  const std::vector<std::vector<uint8_t>> seeds = {
      ReadVector("misc-images/wee.jpg"), Encode(bgr, ".png"), Encode(bgr, ".webp"),
      Encode(bgr, ".bmp"), Encode(bgr, ".tiff")};
  int decoded = 0;
  int refused = 0;
  for (const std::vector<uint8_t>& seed : seeds) {
    for (int trial = 0; trial < 60; ++trial) {
      std::vector<uint8_t> bytes = seed;
      const int edits = 1 + static_cast<int>(rng() % 8);
      for (int e = 0; e < edits; ++e) bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
      if (rng() % 3 == 0) bytes.resize(rng() % bytes.size());
      absl::StatusOr<DecodedImage> image = DecodeImage(bytes, ImageLimits{});
      if (image.ok()) {
        ++decoded;
        absl::StatusOr<ImageHeader> header = ReadImageHeader(bytes);
        ASSERT_TRUE(header.ok());
        EXPECT_EQ(static_cast<uint64_t>(image->width) * image->height * image->channels,
                  image->pixels.size());
      } else {
        ++refused;
        EXPECT_THAT(image.status().code(),
                    ::testing::AnyOf(absl::StatusCode::kInvalidArgument,
                                     absl::StatusCode::kDataLoss,
                                     absl::StatusCode::kResourceExhausted,
                                     absl::StatusCode::kUnimplemented));
        EXPECT_FALSE(image.status().message().empty());
      }
    }
  }
  EXPECT_EQ(decoded + refused, 300);
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace takedown
