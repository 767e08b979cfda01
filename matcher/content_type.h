// Content-type sniffing from an object's first bytes (magic numbers), never
// from its name.
//
// SniffContentType() returns a MIME type that is a static string (it lives
// for the whole process). It recognises:
//   image/jpeg, image/png, image/gif, image/webp, image/bmp, image/tiff,
//   image/heic, image/avif (ISO-BMFF "ftyp" with an image brand),
//   video/mp4 (any other "ftyp" box at offset 4), video/quicktime ("qt  "),
//   video/webm and video/x-matroska (EBML; "webm" DocType within the head),
//   application/pdf, application/zip, application/gzip, application/x-bzip2,
//   application/x-xz, application/x-7z-compressed, application/vnd.rar,
//   application/x-tar ("ustar" at offset 257: needs a head of at least 262
//   bytes, which kSniffBytes in matcher/multi_digester.h provides),
//   text/plain (non-empty, valid UTF-8, no control characters other than
//   tab, CR, LF, FF; a multi-byte sequence cut off at the end of the head is
//   allowed), and application/octet-stream for everything else.
// Thread-safe (pure function).
#pragma once

#include <string_view>

namespace takedown {

std::string_view SniffContentType(std::string_view head);

}  // namespace takedown
