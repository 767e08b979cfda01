#include "crawler/s3_xml.h"

#include <charconv>
#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "fmt/format.h"

namespace takedown {
namespace {

bool IsXmlSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool IsNameEnd(char c) { return IsXmlSpace(c) || c == '/' || c == '>' || c == '='; }

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes one reference `ref` (between '&' and ';'); false if unknown/invalid.
bool DecodeReference(std::string_view ref, std::string& out) {
  if (ref == "amp") return out.push_back('&'), true;
  if (ref == "lt") return out.push_back('<'), true;
  if (ref == "gt") return out.push_back('>'), true;
  if (ref == "quot") return out.push_back('"'), true;
  if (ref == "apos") return out.push_back('\''), true;
  if (ref.size() < 2 || ref[0] != '#') return false;
  const bool hex = ref[1] == 'x' || ref[1] == 'X';
  std::string_view digits = ref.substr(hex ? 2 : 1);
  if (digits.empty() || digits.size() > 8) return false;
  uint32_t cp = 0;
  for (char c : digits) {
    uint32_t d;
    if (c >= '0' && c <= '9') {
      d = static_cast<uint32_t>(c - '0');
    } else if (hex && c >= 'a' && c <= 'f') {
      d = static_cast<uint32_t>(c - 'a' + 10);
    } else if (hex && c >= 'A' && c <= 'F') {
      d = static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return false;
    }
    cp = cp * (hex ? 16 : 10) + d;
    if (cp > 0x10FFFF) return false;
  }
  if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  AppendUtf8(cp, out);
  return true;
}

std::string_view LocalName(std::string_view qualified) {
  size_t colon = qualified.rfind(':');
  return colon == std::string_view::npos ? qualified : qualified.substr(colon + 1);
}

class Parser {
 public:
  explicit Parser(std::string_view doc) : doc_(doc) {}

  absl::StatusOr<XmlElement> Parse() {
    if (doc_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
    XmlElement root;
    std::vector<XmlElement*> stack;
    std::vector<std::string> open_names;
    bool root_done = false;
    while (pos_ < doc_.size()) {
      if (doc_[pos_] != '<') {
        size_t end = doc_.find('<', pos_);
        if (end == std::string_view::npos) end = doc_.size();
        std::string_view text = doc_.substr(pos_, end - pos_);
        if (stack.empty()) {
          for (char c : text) {
            if (!IsXmlSpace(c)) return Error("character data outside the root element");
          }
        } else {
          if (!DecodeText(text, stack.back()->text)) return Error("invalid entity or character reference");
        }
        pos_ = end;
        continue;
      }
      std::string_view rest = doc_.substr(pos_);
      if (rest.starts_with("<!--")) {
        if (!SkipPast("-->", 4)) return Error("unterminated comment");
        continue;
      }
      if (rest.starts_with("<?")) {
        if (!SkipPast("?>", 2)) return Error("unterminated processing instruction");
        continue;
      }
      if (rest.starts_with("<![CDATA[")) {
        if (stack.empty()) return Error("CDATA outside the root element");
        size_t end = doc_.find("]]>", pos_ + 9);
        if (end == std::string_view::npos) return Error("unterminated CDATA section");
        stack.back()->text.append(doc_.substr(pos_ + 9, end - pos_ - 9));
        pos_ = end + 3;
        continue;
      }
      if (rest.starts_with("<!")) return Error("DOCTYPE and declarations are not accepted");
      if (rest.starts_with("</")) {
        if (stack.empty()) return Error("closing tag without an open element");
        size_t end = doc_.find('>', pos_);
        if (end == std::string_view::npos) return Error("unterminated closing tag");
        std::string_view name = doc_.substr(pos_ + 2, end - pos_ - 2);
        while (!name.empty() && IsXmlSpace(name.back())) name.remove_suffix(1);
        if (name != open_names.back()) {
          return Error(fmt::format("closing tag '{}' does not match open element '{}'", std::string(name),
                                   open_names.back()));
        }
        stack.pop_back();
        open_names.pop_back();
        pos_ = end + 1;
        if (stack.empty()) root_done = true;
        continue;
      }
      // A start tag.
      if (root_done) return Error("a second root element");
      size_t name_start = pos_ + 1;
      size_t i = name_start;
      while (i < doc_.size() && !IsNameEnd(doc_[i])) ++i;
      if (i == name_start) return Error("empty element name");
      if (i >= doc_.size()) return Error("unterminated start tag");
      std::string_view qualified = doc_.substr(name_start, i - name_start);
      bool self_closing = false;
      // Attributes: skipped, but quoted values may contain '>' or '/'.
      while (true) {
        while (i < doc_.size() && IsXmlSpace(doc_[i])) ++i;
        if (i >= doc_.size()) return Error("unterminated start tag");
        if (doc_[i] == '>') {
          ++i;
          break;
        }
        if (doc_[i] == '/') {
          if (i + 1 >= doc_.size() || doc_[i + 1] != '>') return Error("stray '/' in start tag");
          self_closing = true;
          i += 2;
          break;
        }
        size_t attr_start = i;
        while (i < doc_.size() && !IsNameEnd(doc_[i])) ++i;
        if (i == attr_start) return Error("malformed attribute");
        while (i < doc_.size() && IsXmlSpace(doc_[i])) ++i;
        if (i >= doc_.size() || doc_[i] != '=') return Error("attribute without a value");
        ++i;
        while (i < doc_.size() && IsXmlSpace(doc_[i])) ++i;
        if (i >= doc_.size() || (doc_[i] != '"' && doc_[i] != '\'')) return Error("unquoted attribute value");
        size_t close = doc_.find(doc_[i], i + 1);
        if (close == std::string_view::npos) return Error("unterminated attribute value");
        i = close + 1;
      }
      if (++elements_ > kMaxXmlElements) return Error(fmt::format("more than {} elements", kMaxXmlElements));
      XmlElement* element;
      if (stack.empty()) {
        element = &root;
      } else {
        stack.back()->children.emplace_back();
        element = &stack.back()->children.back();
      }
      element->name = std::string(LocalName(qualified));
      pos_ = i;
      if (self_closing) {
        if (stack.empty()) root_done = true;
        continue;
      }
      if (stack.size() >= static_cast<size_t>(kMaxXmlDepth)) {
        return Error(fmt::format("elements nested deeper than {}", kMaxXmlDepth));
      }
      stack.push_back(element);
      open_names.emplace_back(qualified);
    }
    if (!stack.empty()) return Error(fmt::format("document ends inside element '{}'", open_names.back()));
    if (!root_done) return Error("no root element");
    return root;
  }

 private:
  absl::Status Error(const std::string& what) const {
    return absl::InvalidArgumentError(fmt::format("malformed XML at byte {}: {}", pos_, what));
  }

  bool SkipPast(std::string_view terminator, size_t opener_length) {
    size_t end = doc_.find(terminator, pos_ + opener_length);
    if (end == std::string_view::npos) return false;
    pos_ = end + terminator.size();
    return true;
  }

  static bool DecodeText(std::string_view text, std::string& out) {
    size_t i = 0;
    while (i < text.size()) {
      size_t amp = text.find('&', i);
      if (amp == std::string_view::npos) {
        out.append(text.substr(i));
        return true;
      }
      out.append(text.substr(i, amp - i));
      size_t semi = text.find(';', amp + 1);
      if (semi == std::string_view::npos || semi - amp > 12) return false;
      if (!DecodeReference(text.substr(amp + 1, semi - amp - 1), out)) return false;
      i = semi + 1;
    }
    return true;
  }

  std::string_view doc_;
  size_t pos_ = 0;
  size_t elements_ = 0;
};

}  // namespace

const XmlElement* XmlElement::Child(std::string_view child_name) const {
  for (const XmlElement& child : children) {
    if (child.name == child_name) return &child;
  }
  return nullptr;
}

std::string XmlElement::ChildText(std::string_view child_name) const {
  const XmlElement* child = Child(child_name);
  return child == nullptr ? std::string() : child->text;
}

absl::StatusOr<XmlElement> ParseS3Xml(std::string_view document) { return Parser(document).Parse(); }

absl::StatusOr<S3VersionPage> ParseListVersionsResult(std::string_view document) {
  absl::StatusOr<XmlElement> root = ParseS3Xml(document);
  if (!root.ok()) return root.status();
  if (root->name != "ListVersionsResult") {
    return absl::InvalidArgumentError(
        fmt::format("expected a <ListVersionsResult>, got <{}>", root->name.substr(0, 40)));
  }
  S3VersionPage page;
  const std::string truncated = root->ChildText("IsTruncated");
  if (truncated == "true") {
    page.truncated = true;
  } else if (!truncated.empty() && truncated != "false") {
    return absl::InvalidArgumentError(
        fmt::format("IsTruncated '{}' is neither true nor false", truncated.substr(0, 40)));
  }
  page.url_encoded = root->ChildText("EncodingType") == "url";
  page.next_key_marker = root->ChildText("NextKeyMarker");
  page.next_version_id_marker = root->ChildText("NextVersionIdMarker");
  for (const XmlElement& child : root->children) {
    const bool delete_marker = child.name == "DeleteMarker";
    if (!delete_marker && child.name != "Version") continue;
    if (page.entries.size() >= kMaxVersionEntriesPerPage) {
      return absl::InvalidArgumentError(
          fmt::format("more than {} versions and delete markers in one page", kMaxVersionEntriesPerPage));
    }
    S3VersionEntry& entry = page.entries.emplace_back();
    entry.delete_marker = delete_marker;
    entry.key = child.ChildText("Key");
    entry.version_id = child.ChildText("VersionId");
    entry.is_latest = child.ChildText("IsLatest") == "true";
    entry.last_modified = child.ChildText("LastModified");
    if (delete_marker) continue;
    entry.etag = child.ChildText("ETag");
    const std::string size = child.ChildText("Size");
    uint64_t value = 0;
    auto [end, error] = std::from_chars(size.data(), size.data() + size.size(), value);
    if (!size.empty() && error == std::errc() && end == size.data() + size.size()) entry.size = value;
  }
  return page;
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out.append("&amp;");
        break;
      case '<':
        out.append("&lt;");
        break;
      case '>':
        out.append("&gt;");
        break;
      case '"':
        out.append("&quot;");
        break;
      case '\'':
        out.append("&apos;");
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace takedown
