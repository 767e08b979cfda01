#include "matcher/content_type.h"

#include <string>

#include "gtest/gtest.h"
#include "matcher/multi_digester.h"

namespace takedown {
namespace {

std::string Bin(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

std::string IsoMedia(std::string_view major, std::string_view compatible) {
  std::string box =
      Bin({0, 0, 0, 0}) + "ftyp" + std::string(major) + Bin({0, 0, 0, 0}) + std::string(compatible);
  box[3] = static_cast<char>(box.size());
  return box + Bin({0, 0, 0, 8}) + "mdat";
}

std::string TarHeader(bool ustar) {
  std::string h(512, '\0');
  h.replace(0, 9, "hello.txt");
  h.replace(100, 7, "0000644");
  h.replace(124, 11, "00000000005");
  h[156] = '0';
  if (ustar) h.replace(257, 6, std::string("ustar\0", 6));
  h.replace(148, 8, "        ");
  unsigned sum = 0;
  for (char c : h) sum += static_cast<unsigned char>(c);
  char field[8];
  snprintf(field, sizeof(field), "%06o", sum);
  h.replace(148, 7, std::string(field, 6) + '\0');
  return h;
}

struct Case {
  const char* name;
  std::string head;
  std::string_view want;
};

TEST(SniffContentType, RecognisesMagicNumbers) {
  const Case cases[] = {
      {"jpeg", Bin({0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10}) + "JFIF", "image/jpeg"},
      {"png", "\x89PNG\r\n\x1A\n" + Bin({0, 0, 0, 13}) + "IHDR", "image/png"},
      {"gif87", "GIF87a\x01", "image/gif"},
      {"gif89", "GIF89a\x01", "image/gif"},
      {"webp", "RIFF" + Bin({0x24, 0, 0, 0}) + "WEBPVP8 ", "image/webp"},
      {"bmp", "BM" + Bin({0x46, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 40, 0, 0, 0}), "image/bmp"},
      {"tiff-le", Bin({'I', 'I', 42, 0, 8, 0, 0, 0}), "image/tiff"},
      {"tiff-be", Bin({'M', 'M', 0, 42, 0, 0, 0, 8}), "image/tiff"},
      {"pdf", "%PDF-1.7\n%\xE2\xE3\xCF\xD3", "application/pdf"},
      {"zip", "PK" + Bin({3, 4, 20, 0}), "application/zip"},
      {"zip-empty", "PK" + Bin({5, 6, 0, 0}), "application/zip"},
      {"gzip", Bin({0x1F, 0x8B, 8, 0, 0, 0}), "application/gzip"},
      {"bzip2", "BZh91AY&SY", "application/x-bzip2"},
      {"xz", Bin({0xFD, '7', 'z', 'X', 'Z', 0, 0, 4}), "application/x-xz"},
      {"7z", Bin({'7', 'z', 0xBC, 0xAF, 0x27, 0x1C, 0, 4}), "application/x-7z-compressed"},
      {"rar4", Bin({'R', 'a', 'r', '!', 0x1A, 7, 0, 0xCF}), "application/vnd.rar"},
      {"rar5", Bin({'R', 'a', 'r', '!', 0x1A, 7, 1, 0, 0x33}), "application/vnd.rar"},
      {"mp4", IsoMedia("isom", "isomiso2mp41"), "video/mp4"},
      {"quicktime", IsoMedia("qt  ", "qt  "), "video/quicktime"},
      {"heic", IsoMedia("heic", "mif1heic"), "image/heic"},
      {"avif", IsoMedia("avif", "mif1avif"), "image/avif"},
      {"mif1-avif", IsoMedia("mif1", "avifmiaf"), "image/avif"},
      {"webm", Bin({0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x82, 0x84}) + "webm", "video/webm"},
      {"matroska", Bin({0x1A, 0x45, 0xDF, 0xA3, 0xA3, 0x42, 0x82, 0x88}) + "matroska", "video/x-matroska"},
      {"ustar", TarHeader(true), "application/x-tar"},
      {"v7-tar", TarHeader(false), "application/x-tar"},
      {"text", "hash_type,hash,category\nmd5,abc,csam\n", "text/plain"},
      {"utf8-text",
       "Gr\xC3\xBC\xC3\x9F"
       "e aus K\xC3\xB6ln\n",
       "text/plain"},
      {"utf8-cut-at-end", "caf\xC3", "text/plain"},
      {"empty", "", "application/octet-stream"},
      {"binary", Bin({0, 1, 2, 3, 4, 5}), "application/octet-stream"},
      {"latin1", "caf\xE9 cr\xE8me", "application/octet-stream"},
      {"overlong-utf8", "\xC0\xAF", "application/octet-stream"},
      {"bm-without-dib", "BM hello world, not a bitmap", "text/plain"},
      {"short-jpeg", Bin({0xFF, 0xD8}), "application/octet-stream"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(SniffContentType(c.head), c.want) << c.name;
  }
}

TEST(SniffContentType, TarNeedsTheFullSniffHead) {
  std::string tar = TarHeader(true);
  ASSERT_GE(kSniffBytes, tar.size());
  EXPECT_EQ(SniffContentType(tar.substr(0, 64)), "application/octet-stream");
  EXPECT_EQ(SniffContentType(tar.substr(0, 262)), "application/x-tar");
}

TEST(SniffContentType, CorruptedTarChecksumIsNotTar) {
  std::string tar = TarHeader(false);
  tar[0] = 'j';
  EXPECT_EQ(SniffContentType(tar), "application/octet-stream");
}

}  // namespace
}  // namespace takedown
