#include "matcher/content_type.h"

#include <cstdint>

namespace takedown {
namespace {

bool HasAt(std::string_view head, size_t offset, std::string_view magic) {
  return head.size() >= offset + magic.size() && head.substr(offset, magic.size()) == magic;
}

uint32_t ReadBigEndian32(std::string_view s, size_t offset) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data() + offset);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

uint32_t ReadLittleEndian32(std::string_view s, size_t offset) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data() + offset);
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

// ISO base media file format (MP4, QuickTime, HEIF, AVIF): the first box is
// "ftyp" with a major brand and a list of compatible brands.
std::string_view SniffIsoMedia(std::string_view head) {
  std::string_view major = head.substr(8, 4);
  if (major == "avif" || major == "avis") return "image/avif";
  if (major == "heic" || major == "heix" || major == "hevc" || major == "hevx" || major == "heim" ||
      major == "heis") {
    return "image/heic";
  }
  if (major == "qt  ") return "video/quicktime";
  if (major == "mif1" || major == "msf1") {
    size_t box_end = ReadBigEndian32(head, 0);
    if (box_end > head.size()) box_end = head.size();
    for (size_t i = 16; i + 4 <= box_end; i += 4) {
      if (head.substr(i, 4) == "avif") return "image/avif";
    }
    return "image/heic";
  }
  return "video/mp4";
}

bool LooksLikeBmp(std::string_view head) {
  if (!HasAt(head, 0, "BM") || head.size() < 18) return false;
  switch (ReadLittleEndian32(head, 14)) {  // size of the DIB header that follows
    case 12:
    case 16:
    case 40:
    case 52:
    case 56:
    case 64:
    case 108:
    case 124:
      return true;
    default:
      return false;
  }
}

// A tar header: POSIX/GNU "ustar" magic, or (old V7 archives) a valid
// header checksum: the octal sum of all 512 header bytes with the checksum
// field itself counted as spaces.
bool LooksLikeTar(std::string_view head) {
  if (HasAt(head, 257, "ustar")) return true;
  if (head.size() < 512 || head[0] == '\0') return false;
  std::string_view field = head.substr(148, 8);
  uint32_t stored = 0;
  size_t i = 0;
  while (i < field.size() && field[i] == ' ') ++i;
  size_t digits = 0;
  for (; i < field.size() && field[i] >= '0' && field[i] <= '7'; ++i, ++digits) {
    stored = stored * 8 + static_cast<uint32_t>(field[i] - '0');
  }
  if (digits == 0) return false;
  for (; i < field.size(); ++i) {
    if (field[i] != ' ' && field[i] != '\0') return false;
  }
  uint32_t sum = 0;
  for (size_t j = 0; j < 512; ++j) {
    sum += (j >= 148 && j < 156) ? uint32_t{' '} : static_cast<uint8_t>(head[j]);
  }
  return sum == stored;
}

// Valid UTF-8 without control characters other than \t \n \f \r. A
// multi-byte sequence cut short by the end of the head is accepted.
bool LooksLikeText(std::string_view head) {
  if (head.empty()) return false;
  size_t i = 0;
  while (i < head.size()) {
    auto c = static_cast<uint8_t>(head[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\f' && c != '\r') || c == 0x7F) return false;
      ++i;
      continue;
    }
    size_t length;
    uint32_t min_code_point;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
      min_code_point = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      min_code_point = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      min_code_point = 0x10000;
    } else {
      return false;
    }
    uint32_t code_point = c & (0xFF >> (length + 1));
    size_t j = 1;
    for (; j < length && i + j < head.size(); ++j) {
      auto cc = static_cast<uint8_t>(head[i + j]);
      if ((cc & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (cc & 0x3F);
    }
    if (j < length) return true;  // truncated by the end of the head
    if (code_point < min_code_point || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

}  // namespace

std::string_view SniffContentType(std::string_view head) {
  if (HasAt(head, 0, "\xFF\xD8\xFF")) return "image/jpeg";
  if (HasAt(head, 0, "\x89PNG\r\n\x1A\n")) return "image/png";
  if (HasAt(head, 0, "GIF87a") || HasAt(head, 0, "GIF89a")) return "image/gif";
  if (HasAt(head, 0, "RIFF") && HasAt(head, 8, "WEBP")) return "image/webp";
  if (HasAt(head, 0, std::string_view("II*\0", 4)) || HasAt(head, 0, std::string_view("MM\0*", 4)) ||
      HasAt(head, 0, std::string_view("II+\0", 4)) || HasAt(head, 0, std::string_view("MM\0+", 4))) {
    return "image/tiff";
  }
  if (LooksLikeBmp(head)) return "image/bmp";
  if (HasAt(head, 4, "ftyp") && head.size() >= 12) return SniffIsoMedia(head);
  if (HasAt(head, 0, "\x1A\x45\xDF\xA3")) {
    return head.find("webm") != std::string_view::npos ? "video/webm" : "video/x-matroska";
  }
  if (HasAt(head, 0, "%PDF-")) return "application/pdf";
  if (HasAt(head, 0, "PK\x03\x04") || HasAt(head, 0, "PK\x05\x06") || HasAt(head, 0, "PK\x07\x08")) {
    return "application/zip";
  }
  if (HasAt(head, 0, "\x1F\x8B\x08")) return "application/gzip";
  if (HasAt(head, 0, "BZh") && head.size() >= 4 && head[3] >= '1' && head[3] <= '9') {
    return "application/x-bzip2";
  }
  if (HasAt(head, 0, std::string_view("\xFD\x37zXZ\0", 6))) return "application/x-xz";
  if (HasAt(head, 0, "7z\xBC\xAF\x27\x1C")) return "application/x-7z-compressed";
  if (HasAt(head, 0, std::string_view("Rar!\x1A\x07\x00", 7)) ||
      HasAt(head, 0, std::string_view("Rar!\x1A\x07\x01\x00", 8))) {
    return "application/vnd.rar";
  }
  if (LooksLikeTar(head)) return "application/x-tar";
  if (LooksLikeText(head)) return "text/plain";
  return "application/octet-stream";
}

}  // namespace takedown
