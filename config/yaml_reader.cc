#include "config/yaml_reader.h"

#include <algorithm>
#include <tuple>

#include "config/scalars.h"
#include "fmt/format.h"

namespace takedown {
namespace {

constexpr size_t kMaxQuotedBytes = 64;
constexpr size_t kMaxSuggestibleKeyBytes = 64;

// Uses the key's position when the value is null: yaml-cpp places an empty
// value at the start of the next token, often on the following line.
YamlField MakeField(const YAML::Node& key, const YAML::Node& value, std::string path) {
  YAML::Mark mark = value.IsNull() ? key.Mark() : value.Mark();
  return YamlField{value, mark, std::move(path)};
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return QuoteForMessage(node.Scalar());
    case YAML::NodeType::Sequence:
      return node.size() == 0 ? "an empty sequence" : "a sequence";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "null";
}

std::string JoinNames(const std::vector<std::string_view>& names) {
  std::string joined;
  for (std::string_view name : names) {
    if (!joined.empty()) joined += ", ";
    joined += name;
  }
  return joined;
}

std::string DidYouMean(std::string_view text, const std::vector<std::string_view>& candidates) {
  std::optional<std::string_view> suggestion = SuggestKey(text, candidates);
  if (!suggestion) return "";
  return fmt::format(" (did you mean '{}'?)", *suggestion);
}

// Optimal string alignment distance.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

// ---------------------------------------------------------------------------
// SchemaErrors

SchemaErrors::SchemaErrors(std::string file_name) : file_name_(std::move(file_name)) {}

void SchemaErrors::Add(const YAML::Mark& mark, std::string_view path, std::string_view problem) {
  AddRaw(mark, fmt::format("{}: {}", path.empty() ? "top level" : path, problem));
}

void SchemaErrors::AddRaw(const YAML::Mark& mark, std::string_view message) {
  ++count_;
  if (entries_.size() >= kMaxStored) return;
  const int line = std::max(mark.line, 0) + 1;
  const int column = std::max(mark.column, 0) + 1;
  entries_.push_back(Entry{line, column, fmt::format("{}:{}:{}: {}", file_name_, line, column, message)});
}

absl::Status SchemaErrors::ToStatus() const {
  if (count_ == 0) return absl::OkStatus();
  std::vector<const Entry*> sorted;
  sorted.reserve(entries_.size());
  for (const Entry& entry : entries_) sorted.push_back(&entry);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Entry* a, const Entry* b) {
    return std::tie(a->line, a->column) < std::tie(b->line, b->column);
  });
  std::string message;
  const size_t shown = std::min(sorted.size(), kMaxReported);
  for (size_t i = 0; i < shown; ++i) {
    if (i > 0) message += '\n';
    message += sorted[i]->text;
  }
  if (count_ > shown) {
    message += fmt::format("\n{}: {} more error{} not shown", file_name_, count_ - shown,
                           count_ - shown == 1 ? "" : "s");
  }
  return absl::InvalidArgumentError(message);
}

// ---------------------------------------------------------------------------
// Free helpers

std::string EscapeForMessage(std::string_view text, size_t max_bytes) {
  std::string escaped;
  for (size_t i = 0; i < text.size() && i < max_bytes; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      escaped += static_cast<char>(c);
    } else {
      escaped += fmt::format("\\x{:02x}", c);
    }
  }
  if (text.size() > max_bytes) escaped += "...";
  return escaped;
}

std::string QuoteForMessage(std::string_view text) {
  std::string quoted = "'" + EscapeForMessage(text.substr(0, kMaxQuotedBytes), kMaxQuotedBytes) + "'";
  if (text.size() > kMaxQuotedBytes) {
    quoted += fmt::format(" ({} bytes)", text.size());
  }
  return quoted;
}

std::optional<std::string_view> SuggestKey(std::string_view text,
                                           const std::vector<std::string_view>& candidates) {
  if (text.size() > kMaxSuggestibleKeyBytes) return std::nullopt;
  std::optional<std::string_view> best;
  size_t best_distance = 3;
  for (std::string_view candidate : candidates) {
    const size_t distance = EditDistance(text, candidate);
    if (distance < best_distance && distance < candidate.size()) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------
// SchemaReader

SchemaReader::SchemaReader(std::string file_name) : errors_(std::move(file_name)) {}

YamlField SchemaReader::Root(const YAML::Node& document) const {
  YAML::Mark mark = document.Mark();
  if (mark.is_null() || document.IsNull()) mark = YAML::Mark();
  return YamlField{document, mark, ""};
}

void SchemaReader::Error(const YamlField& field, std::string_view problem) {
  errors_.Add(field.mark, field.path, problem);
}

bool SchemaReader::Charge(const YamlField& at, size_t nodes, size_t bytes) {
  if (exhausted_) return false;
  nodes_ += nodes;
  scalar_bytes_ += bytes;
  if (nodes_ <= kMaxNodes && scalar_bytes_ <= kMaxScalarBytes) return true;
  exhausted_ = true;
  Error(at, fmt::format("the document expands to more than {} nodes or {} of text "
                        "(YAML aliases repeating large parts?); reading stopped here",
                        kMaxNodes, FormatByteSize(kMaxScalarBytes)));
  return false;
}

std::optional<std::string> SchemaReader::String(const YamlField& field) {
  if (!field.value.IsScalar()) {
    Error(field, fmt::format("expected a string, got {}", Describe(field.value)));
    return std::nullopt;
  }
  const std::string& text = field.value.Scalar();
  if (!Charge(field, 0, text.size())) return std::nullopt;
  if (text.empty()) {
    Error(field, "expected a non-empty string, got ''");
    return std::nullopt;
  }
  if (text.size() > kMaxStringBytes) {
    Error(field, fmt::format("expected a string of at most {} bytes, got {} "
                             "bytes",
                             kMaxStringBytes, text.size()));
    return std::nullopt;
  }
  if (text.find('\0') != std::string::npos) {
    Error(field, fmt::format("expected a string without NUL bytes, got {}", QuoteForMessage(text)));
    return std::nullopt;
  }
  return text;
}

std::optional<int64_t> SchemaReader::Integer(const YamlField& field, int64_t min, int64_t max) {
  std::optional<int64_t> value;
  if (field.value.IsScalar()) value = ParseInteger(field.value.Scalar());
  if (!value || *value < min || *value > max) {
    Error(field, fmt::format("expected an integer {}..{}, got {}", min, max, Describe(field.value)));
    return std::nullopt;
  }
  return value;
}

std::optional<uint64_t> SchemaReader::ByteSize(const YamlField& field, uint64_t min, uint64_t max) {
  std::optional<uint64_t> value;
  if (field.value.IsScalar()) value = ParseByteSize(field.value.Scalar());
  if (!value || *value < min || *value > max) {
    Error(field,
          fmt::format("expected a byte size {}..{}{}, got {}", FormatByteSize(min), FormatByteSize(max),
                      value ? ""
                            : " (an integer, or an integer and a unit: B, "
                              "KB, MB, GB, TB, PB, KiB, MiB, GiB, TiB, PiB)",
                      Describe(field.value)));
    return std::nullopt;
  }
  return value;
}

std::optional<size_t> SchemaReader::Choice(const YamlField& field,
                                           const std::vector<std::string_view>& choices) {
  if (field.value.IsScalar()) {
    const std::string& text = field.value.Scalar();
    for (size_t i = 0; i < choices.size(); ++i) {
      if (text == choices[i]) return i;
    }
  }
  Error(field, fmt::format("expected one of {}, got {}{}", JoinNames(choices), Describe(field.value),
                           field.value.IsScalar() ? DidYouMean(field.value.Scalar(), choices) : ""));
  return std::nullopt;
}

bool SchemaReader::ForEach(const YamlField& field, size_t max_items,
                           const std::function<void(const YamlField&)>& fn) {
  if (field.value.IsNull()) return true;
  if (!field.value.IsSequence()) {
    Error(field, fmt::format("expected a sequence, got {}", Describe(field.value)));
    return false;
  }
  if (field.value.size() > max_items) {
    Error(field, fmt::format("expected at most {} entries, got {}", max_items, field.value.size()));
    return false;
  }
  size_t index = 0;
  for (const YAML::Node& item : field.value) {
    YamlField item_field{item, item.IsNull() ? field.mark : item.Mark(),
                         fmt::format("{}[{}]", field.path, index++)};
    if (!Charge(item_field, 1, 0)) return false;
    fn(item_field);
  }
  return true;
}

std::optional<std::vector<std::string>> SchemaReader::StringList(const YamlField& field, size_t max_items) {
  std::vector<std::string> items;
  bool all_valid = true;
  const bool listed = ForEach(field, max_items, [&](const YamlField& item) {
    if (std::optional<std::string> text = String(item)) {
      items.push_back(std::move(*text));
    } else {
      all_valid = false;
    }
  });
  if (!listed || !all_valid) return std::nullopt;
  return items;
}

// ---------------------------------------------------------------------------
// MapReader

MapReader::MapReader(SchemaReader& reader, const YamlField& field) : reader_(reader), field_(field) {
  if (reader_.exhausted()) return;
  if (field_.value.IsNull()) {
    valid_ = true;
    return;
  }
  if (!field_.value.IsMap()) {
    reader_.Error(field_, fmt::format("expected a mapping, got {}", Describe(field_.value)));
    return;
  }
  valid_ = true;
  entries_.reserve(field_.value.size());
  for (const auto& pair : field_.value) {
    const YAML::Node& key = pair.first;
    if (!reader_.Charge(field_, 1, 0)) {
      valid_ = false;
      return;
    }
    if (!key.IsScalar()) {
      reader_.Error(YamlField{key, key.IsNull() ? field_.mark : key.Mark(), field_.path},
                    fmt::format("expected a string key, got {}", Describe(key)));
      continue;
    }
    const std::string& name = key.Scalar();
    auto [it, inserted] = index_.emplace(name, entries_.size());
    if (!inserted) {
      reader_.Error(MakeField(key, key, ChildPath(name)),
                    fmt::format("duplicate key {} (first at line {})", QuoteForMessage(name),
                                entries_[it->second].key_node.Mark().line + 1));
      continue;
    }
    entries_.push_back(Entry{name, key, pair.second});
  }
}

std::string MapReader::ChildPath(std::string_view key) const {
  std::string_view separator = field_.path.empty() ? "" : ".";
  bool plain = !key.empty() && key.size() <= kMaxQuotedBytes;
  for (char c : key) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      plain = false;
    }
  }
  return fmt::format("{}{}{}", field_.path, separator, plain ? std::string(key) : QuoteForMessage(key));
}

std::optional<YamlField> MapReader::Optional(std::string_view key) {
  if (std::find(declared_.begin(), declared_.end(), key) == declared_.end()) {
    declared_.emplace_back(key);
  }
  if (!valid_) return std::nullopt;
  auto it = index_.find(std::string(key));
  if (it == index_.end()) return std::nullopt;
  Entry& entry = entries_[it->second];
  entry.declared = true;
  return MakeField(entry.key_node, entry.value, ChildPath(key));
}

std::optional<YamlField> MapReader::Required(std::string_view key, std::string_view detail) {
  std::optional<YamlField> field = Optional(key);
  if (!field && valid_ && !reader_.exhausted()) {
    reader_.Error(field_, fmt::format("missing required key '{}'{}", key, detail));
  }
  return field;
}

void MapReader::ReadString(std::string_view key, std::string* out) {
  if (std::optional<YamlField> field = Optional(key)) {
    if (std::optional<std::string> value = reader_.String(*field)) {
      *out = std::move(*value);
    }
  }
}

void MapReader::ReadByteSize(std::string_view key, uint64_t min, uint64_t max, uint64_t* out) {
  if (std::optional<YamlField> field = Optional(key)) {
    if (std::optional<uint64_t> value = reader_.ByteSize(*field, min, max)) {
      *out = *value;
    }
  }
}

void MapReader::Finish() {
  if (!valid_ || ignore_undeclared_ || reader_.exhausted()) return;
  std::vector<std::string_view> declared(declared_.begin(), declared_.end());
  for (const Entry& entry : entries_) {
    if (entry.declared) continue;
    reader_.Error(MakeField(entry.key_node, entry.key_node, ChildPath(entry.key)),
                  fmt::format("unknown key; expected one of {}{}", JoinNames(declared),
                              DidYouMean(entry.key, declared)));
  }
}

}  // namespace takedown
