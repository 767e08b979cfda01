// S3 XML: a small, bounded parser for the XML documents an S3-compatible
// server returns (ListBucketResult, ListVersionsResult, Error,
// CopyObjectResult, Tagging), and the typed reading of a ListObjectVersions
// page on top of it.
//
// ParseS3Xml returns the document's root element as a tree of elements, each
// with its local name (namespace prefix dropped), its character data (entity
// and character references decoded, CDATA included) and its child elements.
// Attributes, comments and processing instructions are skipped. A DOCTYPE is
// refused (no entity expansion, no external references). Malformed input,
// nesting deeper than kMaxDepth or more than kMaxElements elements give
// InvalidArgument naming the byte offset; the parser never reads past the
// input and never recurses on untrusted depth beyond kMaxDepth.
//
// ParseListVersionsResult reads one ListObjectVersions page: its <Version>
// and <DeleteMarker> entries in document order (S3 sends keys ascending, the
// versions of one key newest first), IsTruncated and the next markers. Fields
// are returned as sent (keys still url-encoded when the page says
// EncodingType=url; ETags with their quotes); judging them is the caller's
// business. InvalidArgument for malformed XML, a root other than
// ListVersionsResult, an IsTruncated other than "true"/"false", or more than
// kMaxVersionEntriesPerPage entries.
//
// Thread-safety: the functions are pure; XmlElement is a plain value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace takedown {

struct XmlElement {
  std::string name;
  std::string text;
  std::vector<XmlElement> children;

  // The first child with this local name, or nullptr.
  const XmlElement* Child(std::string_view child_name) const;
  // The text of the first child with this name, or "" when there is none.
  std::string ChildText(std::string_view child_name) const;
};

inline constexpr int kMaxXmlDepth = 32;
inline constexpr size_t kMaxXmlElements = 200'000;

absl::StatusOr<XmlElement> ParseS3Xml(std::string_view document);

// One <Version> or <DeleteMarker> of a ListObjectVersions page.
struct S3VersionEntry {
  bool delete_marker = false;
  std::string key;
  std::string version_id;
  bool is_latest = false;        // <IsLatest>true</IsLatest>
  std::string etag;              // "" for delete markers
  std::optional<uint64_t> size;  // nullopt when absent or not a decimal number
  std::string last_modified;
};

struct S3VersionPage {
  std::vector<S3VersionEntry> entries;
  bool truncated = false;
  // Keys (and the markers) are url-encoded (EncodingType=url).
  bool url_encoded = false;
  std::string next_key_marker;
  std::string next_version_id_marker;
};

// max-keys is at most 1000; a page with far more entries is hostile.
inline constexpr size_t kMaxVersionEntriesPerPage = 10'000;

absl::StatusOr<S3VersionPage> ParseListVersionsResult(std::string_view document);

// Escapes &, <, >, " and ' for use in character data or attribute values.
std::string XmlEscape(std::string_view text);

}  // namespace takedown
