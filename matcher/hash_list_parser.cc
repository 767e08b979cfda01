#include "matcher/hash_list_parser.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/hex.h"
#include "common/status_macros.h"
#include "fmt/format.h"

namespace takedown {
namespace {

constexpr size_t kMaxReportedErrors = 20;
constexpr size_t kMaxTagBytes = 128;
constexpr size_t kMaxFields = 5;
constexpr size_t kReadChunkBytes = 1 << 20;
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr std::array<std::string_view, kMaxFields> kHeaderNames = {"hash_type", "hash", "category",
                                                                   "entry_id", "tags"};

// A value from the file, shortened and with unprintable bytes escaped, for
// an error message.
std::string Quote(std::string_view value) {
  constexpr size_t kMaxShown = 64;
  std::string out = "'";
  for (size_t i = 0; i < value.size() && i < kMaxShown; ++i) {
    auto c = static_cast<uint8_t>(value[i]);
    if (c < 0x20 || c >= 0x7F || c == '\'' || c == '\\') {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (value.size() > kMaxShown) out += "...";
  out += "'";
  return out;
}

std::string_view Trim(std::string_view s) {
  size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(" \t");
  return s.substr(begin, end - begin + 1);
}

std::string_view DisplayHashType(HashType type) {
  switch (type) {
    case HashType::kMd5:
      return "MD5";
    case HashType::kSha1:
      return "SHA-1";
    case HashType::kSha256:
      return "SHA-256";
    case HashType::kPdq:
      return "PDQ hash";
  }
  return "digest";
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!ok) return false;
  }
  return true;
}

// Hash and equality over indices into the entry vector, with heterogeneous
// lookup by value, so the duplicate checks cost 4 bytes per entry instead of
// a second copy of every digest and entry id.
struct DigestKey {
  HashType type;
  std::string_view digest;
};

struct DigestIndexHash {
  using is_transparent = void;
  const std::vector<HashListEntry>* entries;
  size_t operator()(const DigestKey& key) const {
    return absl::HashOf(static_cast<int>(key.type), absl::string_view(key.digest.data(), key.digest.size()));
  }
  size_t operator()(uint32_t i) const {
    const HashListEntry& e = (*entries)[i];
    return (*this)(DigestKey{e.type, e.digest});
  }
};

struct DigestIndexEq {
  using is_transparent = void;
  const std::vector<HashListEntry>* entries;
  DigestKey Key(uint32_t i) const { return {(*entries)[i].type, (*entries)[i].digest}; }
  static bool Same(const DigestKey& a, const DigestKey& b) {
    return a.type == b.type && a.digest == b.digest;
  }
  bool operator()(uint32_t a, uint32_t b) const { return Same(Key(a), Key(b)); }
  bool operator()(uint32_t a, const DigestKey& b) const { return Same(Key(a), b); }
  bool operator()(const DigestKey& a, uint32_t b) const { return Same(a, Key(b)); }
};

struct EntryIdIndexHash {
  using is_transparent = void;
  const std::vector<HashListEntry>* entries;
  size_t operator()(std::string_view id) const {
    return absl::HashOf(absl::string_view(id.data(), id.size()));
  }
  size_t operator()(uint32_t i) const { return (*this)(std::string_view((*entries)[i].entry_id)); }
};

struct EntryIdIndexEq {
  using is_transparent = void;
  const std::vector<HashListEntry>* entries;
  std::string_view Id(uint32_t i) const { return (*entries)[i].entry_id; }
  bool operator()(uint32_t a, uint32_t b) const { return Id(a) == Id(b); }
  bool operator()(uint32_t a, std::string_view b) const { return Id(a) == b; }
  bool operator()(std::string_view a, uint32_t b) const { return a == Id(b); }
};

// Turns lines into entries, collecting per-line errors. Not copyable or
// movable: its index sets point at its own entry vector.
class HashListBuilder {
 public:
  HashListBuilder(const std::string& display_name, const std::string& list_name, const HashListLimits& limits)
      : display_name_(display_name),
        list_name_(list_name),
        limits_(limits),
        digests_(0, DigestIndexHash{&entries_}, DigestIndexEq{&entries_}),
        entry_ids_(0, EntryIdIndexHash{&entries_}, EntryIdIndexEq{&entries_}) {}
  HashListBuilder(const HashListBuilder&) = delete;
  HashListBuilder& operator=(const HashListBuilder&) = delete;

  // `line` excludes the line terminator. Returns an error only when parsing
  // must stop (a limit was hit).
  absl::Status AddLine(std::string_view line, uint64_t line_number);
  void AddLineTooLong(uint64_t line_number) {
    AddError(line_number, fmt::format("line longer than {} bytes", limits_.max_line_bytes));
  }

  absl::StatusOr<HashList> Finish(std::string version);

 private:
  void AddError(uint64_t line_number, std::string reason);
  // Returns the reason the fields are not a valid entry, or nullopt and
  // fills `entry`.
  std::optional<std::string> ParseEntry(const std::array<std::string_view, kMaxFields>& fields,
                                        size_t field_count, uint64_t line_number, HashListEntry& entry);

  // Constant after construction.
  const std::string display_name_;
  const std::string list_name_;
  const HashListLimits limits_;

  std::optional<char> separator_;  // decided by the first non-comment line
  std::vector<HashListEntry> entries_;
  uint64_t duplicate_lines_ = 0;
  absl::flat_hash_set<uint32_t, DigestIndexHash, DigestIndexEq> digests_;
  absl::flat_hash_set<uint32_t, EntryIdIndexHash, EntryIdIndexEq> entry_ids_;
  std::vector<std::string> errors_;  // the first kMaxReportedErrors
  uint64_t error_count_ = 0;
};

void HashListBuilder::AddError(uint64_t line_number, std::string reason) {
  ++error_count_;
  if (errors_.size() < kMaxReportedErrors) {
    errors_.push_back(fmt::format("{}:{}: {}", display_name_, line_number, reason));
  }
}

absl::Status HashListBuilder::AddLine(std::string_view line, uint64_t line_number) {
  if (line_number == 1 && line.substr(0, kUtf8Bom.size()) == kUtf8Bom) line.remove_prefix(kUtf8Bom.size());
  std::string_view trimmed = Trim(line);
  if (trimmed.empty() || trimmed.front() == '#') return absl::OkStatus();

  bool first_significant_line = !separator_.has_value();
  if (first_significant_line) separator_ = line.find('\t') != std::string_view::npos ? '\t' : ',';

  if (line.find('"') != std::string_view::npos) {
    AddError(line_number, "quoted fields are not supported; remove the double quotes");
    return absl::OkStatus();
  }

  std::array<std::string_view, kMaxFields> fields;
  size_t field_count = 0;
  bool too_many = false;
  std::string_view rest = line;
  while (true) {
    size_t sep = rest.find(*separator_);
    if (field_count == kMaxFields) {
      too_many = true;
      break;
    }
    fields[field_count++] = Trim(rest.substr(0, sep));
    if (sep == std::string_view::npos) break;
    rest.remove_prefix(sep + 1);
  }
  if (too_many) {
    size_t total = field_count + 1;
    for (char c : rest) total += c == *separator_;
    AddError(line_number,
             fmt::format("expected at most {} fields (hash_type, hash, category, entry_id, tags), found {}",
                         kMaxFields, total));
    return absl::OkStatus();
  }

  if (first_significant_line && fields[0] == kHeaderNames[0]) {
    bool exact = field_count >= 3;
    for (size_t i = 0; i < field_count && exact; ++i) exact = fields[i] == kHeaderNames[i];
    if (!exact) {
      AddError(line_number,
               "a header line must be exactly hash_type,hash,category[,entry_id[,tags]] "
               "(with the file's separator)");
    }
    return absl::OkStatus();
  }

  if (field_count < 3) {
    AddError(line_number,
             fmt::format("expected at least 3 fields (hash_type, hash, category), found {}", field_count));
    return absl::OkStatus();
  }

  HashListEntry entry;
  if (std::optional<std::string> error = ParseEntry(fields, field_count, line_number, entry)) {
    AddError(line_number, std::move(*error));
    return absl::OkStatus();
  }

  if (digests_.contains(DigestKey{entry.type, entry.digest})) {
    ++duplicate_lines_;
    return absl::OkStatus();
  }
  if (auto it = entry_ids_.find(std::string_view(entry.entry_id)); it != entry_ids_.end()) {
    AddError(line_number,
             fmt::format("entry id {} already used on line {}", Quote(entry.entry_id), entries_[*it].line));
    return absl::OkStatus();
  }
  uint64_t max_entries = std::min<uint64_t>(limits_.max_entries, std::numeric_limits<uint32_t>::max());
  if (entries_.size() >= max_entries) {
    return absl::ResourceExhaustedError(fmt::format(
        "hash list '{}' ({}:{}): more than {} entries; raise limits.hash_list_max_entries if the list is "
        "genuine",
        list_name_, display_name_, line_number, max_entries));
  }
  entries_.push_back(std::move(entry));
  auto index = static_cast<uint32_t>(entries_.size() - 1);
  digests_.insert(index);
  entry_ids_.insert(index);
  return absl::OkStatus();
}

std::optional<std::string> HashListBuilder::ParseEntry(const std::array<std::string_view, kMaxFields>& fields,
                                                       size_t field_count, uint64_t line_number,
                                                       HashListEntry& entry) {
  if (!ParseHashType(fields[0], &entry.type)) {
    return fmt::format("unknown hash type {}; expected md5, sha1, sha256 or pdq", Quote(fields[0]));
  }

  std::string_view hex = fields[1];
  size_t want_digits = 2 * HashTypeLength(entry.type);
  if (hex.size() != want_digits || !IsHex(hex)) {
    std::string reason =
        fmt::format("{} is not a {}-hex-digit {}", Quote(hex), want_digits, DisplayHashType(entry.type));
    if (IsHex(hex) && (hex.size() == 32 || hex.size() == 40 || hex.size() == 64)) {
      reason += fmt::format(" (it has {} hex digits: is the hash_type right?)", hex.size());
    }
    return reason;
  }
  std::optional<std::string> digest = HexDecode(hex);
  if (!digest.has_value()) return fmt::format("{} is not hexadecimal", Quote(hex));
  entry.digest = std::move(*digest);

  if (!ParseContentCategory(fields[2], &entry.category)) {
    return fmt::format("unknown category {}; expected csam, terrorist or other", Quote(fields[2]));
  }

  if (field_count > 3 && !fields[3].empty()) {
    if (!IsValidEntryId(fields[3])) {
      return fmt::format("invalid entry id {}; expected 1 to {} characters from A-Z a-z 0-9 . _ : -",
                         Quote(fields[3]), kMaxEntryIdBytes);
    }
    entry.entry_id = std::string(fields[3]);
  } else {
    entry.entry_id = std::to_string(line_number);
  }

  if (field_count > 4) {
    std::string_view tags = fields[4];
    while (!tags.empty()) {
      size_t semi = tags.find(';');
      std::string_view tag = Trim(tags.substr(0, semi));
      tags = semi == std::string_view::npos ? std::string_view() : tags.substr(semi + 1);
      if (tag.empty()) continue;
      if (tag.size() > kMaxTagBytes) {
        return fmt::format("tag {} is longer than {} bytes", Quote(tag), kMaxTagBytes);
      }
      for (char c : tag) {
        auto u = static_cast<uint8_t>(c);
        if (u < 0x20 || u == 0x7F) return fmt::format("tag {} contains a control character", Quote(tag));
      }
      entry.tags.emplace_back(tag);
    }
  }

  entry.line = static_cast<uint32_t>(std::min<uint64_t>(line_number, std::numeric_limits<uint32_t>::max()));
  return std::nullopt;
}

absl::StatusOr<HashList> HashListBuilder::Finish(std::string version) {
  if (error_count_ > 0) {
    std::string message =
        fmt::format("hash list '{}' ({}) has {} invalid line{}; nothing was loaded:", list_name_,
                    display_name_, error_count_, error_count_ == 1 ? "" : "s");
    for (const std::string& error : errors_) message += "\n" + error;
    if (error_count_ > errors_.size()) {
      message += fmt::format("\n(and {} more errors)", error_count_ - errors_.size());
    }
    return absl::InvalidArgumentError(message);
  }
  digests_.clear();
  entry_ids_.clear();
  HashList list;
  list.name = list_name_;
  list.version = std::move(version);
  list.entries = std::move(entries_);
  list.duplicate_lines = duplicate_lines_;
  return list;
}

// Splits a stream of chunks into lines for a HashListBuilder. A line is
// buffered only when it spans chunks, and never beyond the line limit.
class LineSplitter {
 public:
  LineSplitter(uint64_t max_line_bytes, HashListBuilder& builder)
      : max_line_bytes_(max_line_bytes),
        // One byte more than the limit, for the CR of a CRLF terminator.
        max_buffered_(max_line_bytes == std::numeric_limits<uint64_t>::max() ? max_line_bytes
                                                                             : max_line_bytes + 1),
        builder_(builder) {}

  absl::Status Feed(std::string_view chunk) {
    while (!chunk.empty()) {
      size_t newline = chunk.find('\n');
      std::string_view piece = chunk.substr(0, newline);
      if (!too_long_) {
        if (partial_.size() + piece.size() > max_buffered_) {
          too_long_ = true;
          partial_.clear();
        } else if (newline == std::string_view::npos) {
          partial_.append(piece);
        } else if (partial_.empty()) {
          RETURN_IF_ERROR(EmitLine(piece));
        } else {
          partial_.append(piece);
          RETURN_IF_ERROR(EmitLine(partial_));
        }
      }
      if (newline == std::string_view::npos) break;
      if (too_long_) builder_.AddLineTooLong(line_number_);
      too_long_ = false;
      partial_.clear();
      ++line_number_;
      chunk.remove_prefix(newline + 1);
    }
    return absl::OkStatus();
  }

  absl::Status End() {
    if (too_long_) {
      builder_.AddLineTooLong(line_number_);
    } else if (!partial_.empty()) {
      RETURN_IF_ERROR(EmitLine(partial_));
    }
    partial_.clear();
    return absl::OkStatus();
  }

 private:
  absl::Status EmitLine(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > max_line_bytes_) {
      builder_.AddLineTooLong(line_number_);
      return absl::OkStatus();
    }
    return builder_.AddLine(line, line_number_);
  }

  const uint64_t max_line_bytes_;
  const uint64_t max_buffered_;
  HashListBuilder& builder_;
  std::string partial_;
  bool too_long_ = false;
  uint64_t line_number_ = 1;
};

class Sha256Hasher {
 public:
  Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ != nullptr && EVP_DigestInit_ex2(ctx_.get(), EVP_sha256(), nullptr) != 1) ctx_.reset();
  }
  bool ok() const { return ctx_ != nullptr; }
  void Update(std::string_view data) { EVP_DigestUpdate(ctx_.get(), data.data(), data.size()); }
  std::string FinishHex() {
    std::array<uint8_t, 32> digest{};
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), digest.data(), &len);
    return HexEncode(std::span<const uint8_t>(digest.data(), len));
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

absl::Status TooLarge(const std::string& list_name, const std::string& display_name, uint64_t max_bytes) {
  return absl::ResourceExhaustedError(fmt::format(
      "hash list '{}' ({}): file is larger than {} bytes; raise limits.hash_list_max_bytes if the "
      "list is genuine",
      list_name, display_name, max_bytes));
}

absl::Status ErrnoStatus(int err, const std::string& what) {
  std::string message = what + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message + "; check the list's path in the config");
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message + "; the daemon's user must be able to read it");
    case EISDIR:
      return absl::FailedPreconditionError(message + "; the list's path must name a file");
    default:
      return absl::UnavailableError(message);
  }
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

absl::StatusOr<HashList> ParseHashList(std::string_view content, const std::string& display_name,
                                       const std::string& list_name, const HashListLimits& limits) {
  if (content.size() > limits.max_bytes) return TooLarge(list_name, display_name, limits.max_bytes);
  Sha256Hasher sha256;
  if (!sha256.ok()) return absl::InternalError("cannot initialise OpenSSL SHA-256");
  sha256.Update(content);
  HashListBuilder builder(display_name, list_name, limits);
  LineSplitter splitter(limits.max_line_bytes, builder);
  RETURN_IF_ERROR(splitter.Feed(content));
  RETURN_IF_ERROR(splitter.End());
  return builder.Finish(sha256.FinishHex());
}

absl::StatusOr<HashList> ParseHashListFile(const std::string& path, const std::string& list_name,
                                           const HashListLimits& limits) {
  FileDescriptor fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus(errno, fmt::format("cannot open hash list file '{}'", path));
  struct stat st;
  if (fstat(fd.get(), &st) != 0) {
    return ErrnoStatus(errno, fmt::format("cannot stat hash list file '{}'", path));
  }
  if (S_ISDIR(st.st_mode)) return ErrnoStatus(EISDIR, fmt::format("cannot read hash list file '{}'", path));
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > limits.max_bytes) {
    return TooLarge(list_name, path, limits.max_bytes);
  }

  Sha256Hasher sha256;
  if (!sha256.ok()) return absl::InternalError("cannot initialise OpenSSL SHA-256");
  HashListBuilder builder(path, list_name, limits);
  LineSplitter splitter(limits.max_line_bytes, builder);
  auto buffer = std::make_unique<char[]>(kReadChunkBytes);
  uint64_t total = 0;
  while (true) {
    ssize_t n = read(fd.get(), buffer.get(), kReadChunkBytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, fmt::format("cannot read hash list file '{}' at byte {}", path, total));
    }
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
    if (total > limits.max_bytes) return TooLarge(list_name, path, limits.max_bytes);
    std::string_view chunk(buffer.get(), static_cast<size_t>(n));
    sha256.Update(chunk);
    RETURN_IF_ERROR(splitter.Feed(chunk));
  }
  RETURN_IF_ERROR(splitter.End());
  return builder.Finish(sha256.FinishHex());
}

}  // namespace takedown
