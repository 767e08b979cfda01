// Schema-checked reading of a parsed YAML document (yaml-cpp) that collects
// every problem with its position instead of stopping at the first, so a
// user fixes a config in one round trip.
//
//   SchemaReader reader("demo.yaml");
//   MapReader top(reader, reader.Root(document));
//   if (std::optional<YamlField> daemon = top.Required("daemon")) {
//     MapReader map(reader, *daemon);
//     map.ReadInteger("workers", 0, 256, &config.workers);
//     map.Finish();                       // reports keys never declared
//   }
//   top.Finish();
//   RETURN_IF_ERROR(reader.errors().ToStatus());
//
// Errors read `<file>:<line>:<col>: <path>: <problem>` with 1-based positions
// from yaml-cpp's marks. Reading never throws for any document shape; a
// work budget bounds documents that YAML aliases make expand (the same large
// node referenced many times).
//
// Not thread-safe: one SchemaReader per document, used by one thread. The
// YAML nodes must outlive the readers that view them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "yaml-cpp/yaml.h"

namespace takedown {

// Positioned errors of one document.
class SchemaErrors {
 public:
  // Errors in the message; the rest are counted in a final line.
  static constexpr size_t kMaxReported = 20;

  explicit SchemaErrors(std::string file_name);

  // `path` is the dotted location ("daemon.workers", "sources[1].id"); the
  // empty path is shown as "top level".
  void Add(const YAML::Mark& mark, std::string_view path, std::string_view problem);
  // An error with a bare message, e.g. yaml-cpp's syntax errors:
  // `<file>:<line>:<col>: <message>`.
  void AddRaw(const YAML::Mark& mark, std::string_view message);

  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  const std::string& file_name() const { return file_name_; }

  // OK when there are no errors; otherwise InvalidArgument listing the first
  // kMaxReported errors in document order, one per line.
  absl::Status ToStatus() const;

 private:
  struct Entry {
    int line;
    int column;
    std::string text;
  };
  // Bounds memory for hostile documents; only the count grows past it.
  static constexpr size_t kMaxStored = 1000;

  std::string file_name_;
  std::vector<Entry> entries_;
  size_t count_ = 0;
};

// One value to read: the node, where to point at it and its dotted path.
struct YamlField {
  YAML::Node value;
  YAML::Mark mark;   // the value's, or its key's when the value is null
  std::string path;  // "" for the document root
};

// Returns `text` safe for a one-line message: bytes outside printable ASCII
// escaped as \xNN and backslashes doubled, cut after `max_bytes` input bytes
// with "..." appended.
std::string EscapeForMessage(std::string_view text, size_t max_bytes);

// Returns `text` escaped and in single quotes for a message ('many'), the
// first 64 bytes only for longer text, followed by " (N bytes)".
std::string QuoteForMessage(std::string_view text);

// Returns the candidate closest to `text` by edit distance (adjacent
// transpositions count one) if that distance is at most 2 and less than the
// candidate's length; std::nullopt otherwise. Ties go to the earlier one.
std::optional<std::string_view> SuggestKey(std::string_view text,
                                           const std::vector<std::string_view>& candidates);

// Typed reads of fields; failures are recorded in errors() and read as
// std::nullopt / false. A null value is never accepted by a scalar read.
class SchemaReader {
 public:
  // Budget over the whole document (see the file comment).
  static constexpr size_t kMaxNodes = 1'000'000;
  static constexpr size_t kMaxScalarBytes = 16u << 20;
  static constexpr size_t kMaxStringBytes = 4096;

  explicit SchemaReader(std::string file_name);
  SchemaReader(const SchemaReader&) = delete;
  SchemaReader& operator=(const SchemaReader&) = delete;

  SchemaErrors& errors() { return errors_; }

  // The field for a document root (an empty document reads as null at 1:1).
  YamlField Root(const YAML::Node& document) const;

  void Error(const YamlField& field, std::string_view problem);

  // Charges visiting `nodes` nodes and copying `bytes` bytes of text; false
  // once the budget is exhausted (reported once, at `at`).
  bool Charge(const YamlField& at, size_t nodes, size_t bytes);
  bool exhausted() const { return exhausted_; }

  // A non-empty scalar of at most kMaxStringBytes without NUL bytes.
  std::optional<std::string> String(const YamlField& field);
  std::optional<int64_t> Integer(const YamlField& field, int64_t min, int64_t max);
  std::optional<uint64_t> ByteSize(const YamlField& field, uint64_t min, uint64_t max);
  // Returns the index in `choices` of the value.
  std::optional<size_t> Choice(const YamlField& field, const std::vector<std::string_view>& choices);
  // Calls `fn` with each item ("path[i]") of a sequence; null reads as an
  // empty sequence. More than `max_items` items is an error and none is read.
  bool ForEach(const YamlField& field, size_t max_items, const std::function<void(const YamlField&)>& fn);
  // A sequence of String()s; nullopt if the field or any item is invalid.
  std::optional<std::vector<std::string>> StringList(const YamlField& field, size_t max_items);

 private:
  SchemaErrors errors_;
  size_t nodes_ = 0;
  size_t scalar_bytes_ = 0;
  bool exhausted_ = false;
};

// A view of one YAML mapping with a closed set of keys. Keys are declared by
// asking for them; Finish() reports the keys present that were never asked
// for. A null value reads as an empty mapping.
class MapReader {
 public:
  // Reports a value that is not a mapping, duplicate keys and keys that are
  // not strings.
  MapReader(SchemaReader& reader, const YamlField& field);
  MapReader(const MapReader&) = delete;
  MapReader& operator=(const MapReader&) = delete;

  // Whether the value was a mapping (or null); all reads of an invalid map
  // return nothing and report nothing.
  bool valid() const { return valid_; }
  const YamlField& field() const { return field_; }

  // Declares `key` and returns its field if present.
  std::optional<YamlField> Optional(std::string_view key);
  // Same; when absent reports "missing required key '<key>'<detail>".
  std::optional<YamlField> Required(std::string_view key, std::string_view detail = "");

  // Optional reads that leave `*out` unchanged when the key is absent or the
  // value is invalid.
  void ReadString(std::string_view key, std::string* out);
  template <typename Int>
  void ReadInteger(std::string_view key, int64_t min, int64_t max, Int* out) {
    if (std::optional<YamlField> field = Optional(key)) {
      if (std::optional<int64_t> value = reader_.Integer(*field, min, max)) {
        *out = static_cast<Int>(*value);
      }
    }
  }
  void ReadByteSize(std::string_view key, uint64_t min, uint64_t max, uint64_t* out);
  template <typename T>
  void ReadChoice(std::string_view key, const std::vector<std::pair<std::string_view, T>>& choices, T* out) {
    std::optional<YamlField> field = Optional(key);
    if (!field) return;
    std::vector<std::string_view> names;
    for (const auto& [name, value] : choices) names.push_back(name);
    if (std::optional<size_t> index = reader_.Choice(*field, names)) {
      *out = choices[*index].second;
    }
  }

  // Finish() then stays silent about undeclared keys: for a mapping whose
  // schema depends on a value that was itself invalid.
  void IgnoreUndeclaredKeys() { ignore_undeclared_ = true; }
  // Reports each present key that was never declared, with the declared
  // keys and a spelling suggestion.
  void Finish();

 private:
  struct Entry {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;
    bool declared = false;
  };

  std::string ChildPath(std::string_view key) const;

  SchemaReader& reader_;
  const YamlField field_;
  bool valid_ = false;
  bool ignore_undeclared_ = false;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;  // key -> first entry
  std::vector<std::string> declared_;
};

}  // namespace takedown
