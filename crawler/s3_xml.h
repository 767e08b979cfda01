// S3 XML: a small, bounded parser for the XML documents an S3-compatible
// server returns (ListBucketResult, Error, CopyObjectResult, Tagging).
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
// Thread-safety: the functions are pure; XmlElement is a plain value.
#pragma once

#include <cstddef>
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

// Escapes &, <, >, " and ' for use in character data or attribute values.
std::string XmlEscape(std::string_view text);

}  // namespace takedown
