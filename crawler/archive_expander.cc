#include "crawler/archive_expander.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/status_macros.h"
#include "fmt/format.h"

namespace takedown {
namespace {

using namespace std::string_view_literals;

// Bytes pulled from a stream per libarchive read callback, and per drain read.
constexpr size_t kBlockBytes = 64 << 10;
// Bytes of a member peeked to decide whether it is a nested archive (the tar
// header is 512 bytes, its "ustar" magic at 257).
constexpr size_t kHeadBytes = 512;
constexpr size_t kMaxNameBytes = 1024;
constexpr int kMaxDepthBound = 32;
constexpr int kMaxHeaderRetries = 16;

bool Is7z(std::string_view head) { return head.starts_with("7z\xBC\xAF\x27\x1C"sv); }
bool IsZip(std::string_view head) {
  return head.starts_with("PK\x03\x04"sv) || head.starts_with("PK\x05\x06"sv);
}

// A tar header: the POSIX/GNU "ustar" magic, or (V7 archives) a checksum
// field that equals the sum of the 512 header bytes with the field itself
// counted as spaces.
bool LooksLikeTar(std::string_view head) {
  if (head.size() >= 262 && head.substr(257, 5) == "ustar"sv) return true;
  if (head.size() < 512 || head[0] == '\0') return false;
  std::string_view field = head.substr(148, 8);
  size_t i = 0;
  while (i < field.size() && field[i] == ' ') ++i;
  uint32_t stored = 0;
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

bool EndsWithIgnoringCase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  return std::equal(
      suffix.begin(), suffix.end(), s.end() - static_cast<std::ptrdiff_t>(suffix.size()),
      [](char a, char b) { return a == (b >= 'A' && b <= 'Z' ? static_cast<char>(b - 'A' + 'a') : b); });
}

std::string_view BaseName(std::string_view path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// The name of the one member of a compressed non-archive file (libarchive's
// "raw" format): the file's name without its compression suffix.
std::string DecompressedName(std::string_view compressed_name) {
  static constexpr std::pair<std::string_view, std::string_view> kSuffixes[] = {
      {".tgz", ".tar"}, {".tbz2", ".tar"}, {".tbz", ".tar"}, {".txz", ".tar"},
      {".gz", ""},      {".bz2", ""},      {".xz", ""},
  };
  for (const auto& [suffix, replacement] : kSuffixes) {
    if (compressed_name.size() > suffix.size() && EndsWithIgnoringCase(compressed_name, suffix)) {
      return std::string(compressed_name.substr(0, compressed_name.size() - suffix.size())) +
             std::string(replacement);
    }
  }
  return std::string(compressed_name);
}

bool RatioExceeded(uint64_t expanded, uint64_t read, const ArchiveLimits& limits) {
  return expanded > limits.ratio_grace_bytes &&
         static_cast<double>(expanded) > limits.max_ratio * static_cast<double>(read);
}

absl::Status ValidateLimits(const ArchiveLimits& limits) {
  if (limits.max_depth < 1 || limits.max_depth > kMaxDepthBound) {
    return absl::InvalidArgumentError(
        fmt::format("archive limits: limits.archive_max_depth is {}; it must be 1..{}", limits.max_depth,
                    kMaxDepthBound));
  }
  if (!(limits.max_ratio > 0) || !std::isfinite(limits.max_ratio)) {
    return absl::InvalidArgumentError(fmt::format(
        "archive limits: limits.archive_max_ratio is {}; it must be a positive number", limits.max_ratio));
  }
  return absl::OkStatus();
}

// Appends bytes of `reader` to `out` until the end of the object (returns
// true) or until `out` holds more than `stop_after` bytes (returns false).
absl::StatusOr<bool> ReadInto(ObjectReader& reader, std::string& out, uint64_t stop_after) {
  while (out.size() <= stop_after) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(kBlockBytes, stop_after + 1 - out.size()));
    size_t old_size = out.size();
    out.resize(old_size + want);
    absl::StatusOr<size_t> n =
        reader.Read(std::span<uint8_t>(reinterpret_cast<uint8_t*>(out.data()) + old_size, want));
    if (!n.ok()) {
      out.resize(old_size);
      return n.status();
    }
    if (*n > want) {
      out.resize(old_size);
      return absl::InternalError(
          fmt::format("object reader returned {} bytes for a {}-byte buffer", *n, want));
    }
    out.resize(old_size + *n);
    if (*n == 0) return true;
  }
  return false;
}

class MemoryReader final : public ObjectReader {
 public:
  explicit MemoryReader(std::string_view bytes) : bytes_(bytes) {}
  absl::StatusOr<size_t> Read(std::span<uint8_t> buffer) override {
    size_t n = std::min(buffer.size(), bytes_.size() - position_);
    std::memcpy(buffer.data(), bytes_.data() + position_, n);
    position_ += n;
    return n;
  }

 private:
  std::string_view bytes_;
  size_t position_ = 0;
};

// The bytes of one archive as libarchive pulls them: either a forward-only
// stream (bytes already read from it, then the rest of the reader) or a
// buffer in memory with random access (needed by 7z).
class ArchiveInput {
 public:
  ArchiveInput(const std::string& key, std::string prefix, ObjectReader& reader)
      : key_(key), reader_(&reader), prefix_(std::move(prefix)), consumed_(prefix_.size()) {}
  // `bytes` must outlive this input.
  ArchiveInput(const std::string& key, std::string_view bytes)
      : key_(key), memory_(bytes), consumed_(bytes.size()) {}

  bool seekable() const { return reader_ == nullptr; }
  // Memory only.
  bool IsZip() const { return takedown::IsZip(memory_); }
  void Rewind() { position_ = 0; }
  // Bytes of the archive read so far (all of them for a buffer in memory):
  // the denominator of the compression ratio.
  uint64_t consumed() const { return consumed_; }
  // The stream's read error, if any; sticky.
  const absl::Status& error() const { return error_; }

  la_ssize_t Read(const void** block) {
    if (seekable()) {
      size_t n = memory_.size() - position_;
      *block = memory_.data() + position_;
      position_ = memory_.size();
      return static_cast<la_ssize_t>(n);
    }
    if (prefix_position_ < prefix_.size()) {
      size_t n = prefix_.size() - prefix_position_;
      *block = prefix_.data() + prefix_position_;
      prefix_position_ = prefix_.size();
      return static_cast<la_ssize_t>(n);
    }
    if (!error_.ok()) return ARCHIVE_FATAL;
    if (at_end_) return 0;
    block_.resize(kBlockBytes);
    absl::StatusOr<size_t> n = reader_->Read(block_);
    if (!n.ok()) {
      error_ = Annotate(n.status(), fmt::format("archive {}: reading the archive", key_));
      return ARCHIVE_FATAL;
    }
    if (*n > block_.size()) {
      error_ = absl::InternalError(fmt::format(
          "archive {}: object reader returned {} bytes for a {}-byte buffer", key_, *n, block_.size()));
      return ARCHIVE_FATAL;
    }
    if (*n == 0) at_end_ = true;
    consumed_ += *n;
    *block = block_.data();
    return static_cast<la_ssize_t>(*n);
  }

  // Memory only.
  la_int64_t Skip(la_int64_t request) {
    if (request <= 0) return 0;
    uint64_t n = std::min<uint64_t>(static_cast<uint64_t>(request), memory_.size() - position_);
    position_ += n;
    return static_cast<la_int64_t>(n);
  }

  // Memory only. Offsets outside the buffer fail.
  la_int64_t Seek(la_int64_t offset, int whence) {
    la_int64_t base = 0;
    if (whence == SEEK_CUR) {
      base = static_cast<la_int64_t>(position_);
    } else if (whence == SEEK_END) {
      base = static_cast<la_int64_t>(memory_.size());
    } else if (whence != SEEK_SET) {
      return ARCHIVE_FATAL;
    }
    la_int64_t target = 0;
    if (__builtin_add_overflow(base, offset, &target) || target < 0 ||
        static_cast<uint64_t>(target) > memory_.size()) {
      return ARCHIVE_FATAL;
    }
    position_ = static_cast<size_t>(target);
    return target;
  }

 private:
  const std::string& key_;
  // Stream.
  ObjectReader* reader_ = nullptr;
  std::string prefix_;
  size_t prefix_position_ = 0;
  std::vector<uint8_t> block_;
  bool at_end_ = false;
  absl::Status error_;
  // Memory.
  std::string_view memory_;
  size_t position_ = 0;

  uint64_t consumed_ = 0;
};

// What all levels of one ExpandArchive() call share.
struct Expansion {
  Expansion(const ArchiveLimits& l, ArchiveVisitor& v, const std::string& key)
      : limits(l), visitor(v), top_key(key) {}

  const ArchiveLimits& limits;
  ArchiveVisitor& visitor;
  const std::string& top_key;
  const ArchiveInput* top_input = nullptr;
  uint64_t members = 0;
  uint64_t total_bytes = 0;
  std::vector<uint8_t> drain_buffer = std::vector<uint8_t>(kBlockBytes);
  // The visitor returned an error: it goes up unchanged, nothing else runs.
  bool aborted = false;
};

struct ArchiveReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

class MemberReader;

// One archive being read: the outer one, or a nested one (from memory).
class Level {
 public:
  Level(Expansion& expansion, const std::string& key, std::string name, int depth, ArchiveInput& input)
      : x_(expansion), key_(key), name_(std::move(name)), depth_(depth), input_(input) {}

  // Reads every member. A zip in memory is read through its central
  // directory; if that fails before any member (a truncated upload has
  // none), its local headers are read in order instead, as for a stream.
  absl::Status Run();

  // Reads the current member's next bytes into `buffer`, counting them
  // against the limits. 0 at the member's end.
  absl::StatusOr<size_t> ReadData(const std::string& member_key, uint64_t& member_bytes,
                                  std::span<uint8_t> buffer);

  std::span<uint8_t> drain_buffer() { return x_.drain_buffer; }

 private:
  static la_ssize_t ReadCallback(struct archive* a, void* self, const void** block);
  static la_int64_t SkipCallback(struct archive* a, void* self, la_int64_t request);
  static la_int64_t SeekCallback(struct archive* a, void* self, la_int64_t offset, int whence);

  absl::Status ReadMembers(bool zip_streaming);
  absl::Status VisitEntry(struct archive_entry* entry);
  absl::Status VisitPlain(ArchiveMember member, MemberReader& reader);
  absl::Status VisitNested(ArchiveMember member, std::string bytes, std::string name);
  absl::Status SkipEntry(const std::string& member_key);
  // Reports `member` unreadable because of `status`; returns what ends the
  // expansion (a limit, a failing stream, a dead archive) or OK.
  absl::Status Unreadable(ArchiveMember member, const absl::Status& status);
  absl::Status CheckLimits(const std::string& member_key, uint64_t member_bytes) const;
  absl::Status Failure(std::string_view doing) const;
  std::string MemberPath(struct archive_entry* entry);

  // Constant after construction.
  Expansion& x_;
  const std::string& key_;
  // The archive's own file name (for the one member of a compressed file).
  const std::string name_;
  const int depth_;
  ArchiveInput& input_;

  std::unique_ptr<struct archive, ArchiveReadFree> archive_;
  uint64_t level_bytes_ = 0;
  uint64_t entries_ = 0;
  // Occurrences of each normalised path (by hash), to tell duplicates apart.
  std::unordered_map<size_t, uint64_t> path_counts_;
  // Set once libarchive reported a fatal error while reading member data:
  // nothing more can be read from this archive.
  absl::Status dead_;
};

// The bytes of the current member, for the visitor. Bytes peeked (to detect
// a nested archive) are replayed first.
class MemberReader final : public ObjectReader {
 public:
  MemberReader(Level& level, std::string key) : level_(level), key_(std::move(key)) {}

  absl::StatusOr<size_t> Read(std::span<uint8_t> buffer) override {
    if (!status_.ok()) return status_;
    if (buffer.empty()) return 0;
    if (pending_position_ < pending_.size()) {
      size_t n = std::min(buffer.size(), pending_.size() - pending_position_);
      std::memcpy(buffer.data(), pending_.data() + pending_position_, n);
      pending_position_ += n;
      if (pending_position_ == pending_.size()) {
        pending_ = std::string();
        pending_position_ = 0;
      }
      return n;
    }
    return ReadFromArchive(buffer);
  }

  // Reads up to `n` bytes ahead without consuming them and returns them (all
  // of the member if it is shorter).
  absl::StatusOr<std::string_view> Peek(size_t n) {
    if (!status_.ok()) return status_;
    std::vector<uint8_t> chunk(n);
    while (pending_.size() - pending_position_ < n && !at_end_) {
      size_t want = n - (pending_.size() - pending_position_);
      ASSIGN_OR_RETURN(size_t got, ReadFromArchive(std::span<uint8_t>(chunk.data(), want)));
      pending_.append(reinterpret_cast<const char*>(chunk.data()), got);
    }
    return std::string_view(pending_).substr(pending_position_);
  }

  // Moves the member's bytes into `out` until its end (returns true) or until
  // `out` holds more than `stop_after` bytes (returns false; Unread() can
  // give them back).
  absl::StatusOr<bool> ReadAll(std::string& out, uint64_t stop_after) {
    out = pending_.substr(pending_position_);
    pending_ = std::string();
    pending_position_ = 0;
    return ReadInto(*this, out, stop_after);
  }

  void Unread(std::string bytes) {
    pending_ = std::move(bytes);
    pending_position_ = 0;
  }

  // Reads (and counts) whatever is left of the member.
  absl::Status Drain() {
    pending_ = std::string();
    pending_position_ = 0;
    while (true) {
      absl::StatusOr<size_t> n = Read(level_.drain_buffer());
      if (!n.ok()) return n.status();
      if (*n == 0) return absl::OkStatus();
    }
  }

  // The first read error; sticky.
  const absl::Status& status() const { return status_; }

 private:
  absl::StatusOr<size_t> ReadFromArchive(std::span<uint8_t> buffer) {
    if (at_end_) return 0;
    absl::StatusOr<size_t> n = level_.ReadData(key_, bytes_, buffer);
    if (!n.ok()) {
      status_ = n.status();
      return status_;
    }
    if (*n == 0) at_end_ = true;
    return n;
  }

  Level& level_;
  const std::string key_;
  std::string pending_;
  size_t pending_position_ = 0;
  uint64_t bytes_ = 0;
  bool at_end_ = false;
  absl::Status status_;
};

la_ssize_t Level::ReadCallback(struct archive* a, void* self, const void** block) {
  auto* level = static_cast<Level*>(self);
  la_ssize_t n = level->input_.Read(block);
  if (n < 0) archive_set_error(a, EIO, "%s", std::string(level->input_.error().message()).c_str());
  return n;
}

la_int64_t Level::SkipCallback(struct archive*, void* self, la_int64_t request) {
  return static_cast<Level*>(self)->input_.Skip(request);
}

la_int64_t Level::SeekCallback(struct archive*, void* self, la_int64_t offset, int whence) {
  return static_cast<Level*>(self)->input_.Seek(offset, whence);
}

absl::Status Level::Failure(std::string_view doing) const {
  if (!input_.error().ok()) return input_.error();
  const char* message = archive_error_string(archive_.get());
  std::string text = fmt::format("archive {}: {}: {}", key_, doing,
                                 message != nullptr ? message : "unknown libarchive error");
  if (archive_errno(archive_.get()) == ENOMEM) return absl::ResourceExhaustedError(text);
  return absl::DataLossError(text);
}

absl::Status Level::Run() {
  absl::Status status = ReadMembers(/*zip_streaming=*/!input_.seekable());
  const bool retry =
      !status.ok() && entries_ == 0 && input_.seekable() && input_.IsZip() &&
      (status.code() == absl::StatusCode::kDataLoss || status.code() == absl::StatusCode::kInvalidArgument);
  if (!retry) return status;
  input_.Rewind();
  level_bytes_ = 0;
  path_counts_.clear();
  dead_ = absl::OkStatus();
  return ReadMembers(/*zip_streaming=*/true);
}

absl::Status Level::ReadMembers(bool zip_streaming) {
  archive_.reset(archive_read_new());
  if (archive_ == nullptr) {
    return absl::ResourceExhaustedError(fmt::format("archive {}: cannot allocate a libarchive reader", key_));
  }
  struct archive* a = archive_.get();
  // Only the documented formats and filters: the rest of libarchive stays
  // off (less code facing untrusted bytes). ARCHIVE_WARN from a filter means
  // libarchive would run an external program; that is refused too.
  using Enable = int (*)(struct archive*);
  static constexpr std::pair<Enable, std::string_view> kSupport[] = {
      {archive_read_support_format_tar, "tar"},     {archive_read_support_format_7zip, "7z"},
      {archive_read_support_format_rar, "rar"},     {archive_read_support_format_rar5, "rar5"},
      {archive_read_support_format_raw, "raw"},     {archive_read_support_filter_gzip, "gzip"},
      {archive_read_support_filter_bzip2, "bzip2"}, {archive_read_support_filter_xz, "xz"},
  };
  Enable enable_zip =
      zip_streaming ? archive_read_support_format_zip_streamable : archive_read_support_format_zip_seekable;
  for (const auto& [enable, name] : kSupport) {
    if (enable(a) != ARCHIVE_OK) {
      return absl::InternalError(
          fmt::format("archive {}: this libarchive has no built-in {} support ({})", key_, name,
                      archive_error_string(a) ? archive_error_string(a) : "no details"));
    }
  }
  if (enable_zip(a) != ARCHIVE_OK) {
    return absl::InternalError(fmt::format("archive {}: this libarchive has no built-in zip support", key_));
  }
  archive_read_set_callback_data(a, this);
  archive_read_set_read_callback(a, &Level::ReadCallback);
  if (input_.seekable()) {
    archive_read_set_skip_callback(a, &Level::SkipCallback);
    archive_read_set_seek_callback(a, &Level::SeekCallback);
  }
  if (archive_read_open1(a) < ARCHIVE_WARN) return Failure("opening the archive");

  int retries = 0;
  for (bool first = true;;) {
    struct archive_entry* entry = nullptr;
    int r = archive_read_next_header(a, &entry);
    if (r == ARCHIVE_EOF) return absl::OkStatus();
    if (r == ARCHIVE_RETRY && ++retries <= kMaxHeaderRetries) continue;
    if (r < ARCHIVE_WARN || r == ARCHIVE_RETRY) return Failure("reading a member header");
    if (first) {
      first = false;
      // libarchive's "raw" format takes anything; it is wanted only for the
      // content of a gzip/bzip2/xz-compressed file.
      if (archive_format(a) == ARCHIVE_FORMAT_RAW && archive_filter_count(a) <= 1) {
        return absl::InvalidArgumentError(fmt::format(
            "archive {}: not a supported archive format (zip, tar, 7z, rar, or gzip/bzip2/xz-compressed "
            "data)",
            key_));
      }
    }
    RETURN_IF_ERROR(VisitEntry(entry));
  }
}

std::string Level::MemberPath(struct archive_entry* entry) {
  std::string path;
  if (archive_format(archive_.get()) == ARCHIVE_FORMAT_RAW) {
    path = NormalizeMemberName(DecompressedName(name_));
  } else {
    const char* name = archive_entry_pathname(entry);
    if (name == nullptr) name = archive_entry_pathname_utf8(entry);
    path = NormalizeMemberName(name != nullptr ? name : "");
  }
  uint64_t& count = path_counts_[std::hash<std::string>{}(path)];
  ++count;
  if (count > 1) path += fmt::format("#{}", count);
  return path;
}

absl::Status Level::CheckLimits(const std::string& member_key, uint64_t member_bytes) const {
  const ArchiveLimits& limits = x_.limits;
  if (member_bytes > limits.max_member_bytes) {
    return absl::ResourceExhaustedError(
        fmt::format("archive {}: member {} expands past limits.archive_max_member_bytes ({})", x_.top_key,
                    member_key, limits.max_member_bytes));
  }
  if (x_.total_bytes > limits.max_total_bytes) {
    return absl::ResourceExhaustedError(
        fmt::format("archive {}: expanded bytes exceed limits.archive_max_total_bytes ({})", x_.top_key,
                    limits.max_total_bytes));
  }
  if (RatioExceeded(level_bytes_, input_.consumed(), limits)) {
    return absl::ResourceExhaustedError(fmt::format(
        "archive {}: compression ratio exceeds limits.archive_max_ratio ({}): {} bytes expanded from {} "
        "bytes read",
        key_, limits.max_ratio, level_bytes_, input_.consumed()));
  }
  if (x_.top_input != &input_ && RatioExceeded(x_.total_bytes, x_.top_input->consumed(), limits)) {
    return absl::ResourceExhaustedError(fmt::format(
        "archive {}: compression ratio exceeds limits.archive_max_ratio ({}): {} bytes expanded over all "
        "nesting levels from {} bytes read",
        x_.top_key, limits.max_ratio, x_.total_bytes, x_.top_input->consumed()));
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> Level::ReadData(const std::string& member_key, uint64_t& member_bytes,
                                       std::span<uint8_t> buffer) {
  la_ssize_t n = archive_read_data(archive_.get(), buffer.data(), buffer.size());
  if (n < 0) {
    if (!input_.error().ok()) return input_.error();
    const char* message = archive_error_string(archive_.get());
    std::string text = fmt::format("archive {}: member {}: {}", key_, member_key,
                                   message != nullptr ? message : "unknown libarchive error");
    if (archive_errno(archive_.get()) == ENOMEM) return absl::ResourceExhaustedError(text);
    absl::Status status = absl::DataLossError(text);
    if (n == ARCHIVE_FATAL) dead_ = status;
    return status;
  }
  auto got = static_cast<size_t>(n);
  if (got > buffer.size()) {
    return absl::InternalError(fmt::format("archive {}: libarchive returned more bytes than asked", key_));
  }
  member_bytes += got;
  level_bytes_ += got;
  x_.total_bytes += got;
  RETURN_IF_ERROR(CheckLimits(member_key, member_bytes));
  return got;
}

absl::Status Level::Unreadable(ArchiveMember member, const absl::Status& status) {
  member.error = std::string(status.message());
  x_.visitor.OnUnreadable(member, member.error);
  if (status.code() == absl::StatusCode::kResourceExhausted || !input_.error().ok()) return status;
  if (!dead_.ok()) return dead_;
  // Corrupt member data; the next header read tells whether the archive goes on.
  return absl::OkStatus();
}

absl::Status Level::SkipEntry(const std::string& member_key) {
  MemberReader reader(*this, member_key);
  absl::Status drained = reader.Drain();
  if (drained.code() == absl::StatusCode::kResourceExhausted || !input_.error().ok()) return drained;
  if (!dead_.ok()) return dead_;
  return absl::OkStatus();
}

absl::Status Level::VisitEntry(struct archive_entry* entry) {
  const ArchiveLimits& limits = x_.limits;
  ++entries_;
  if (++x_.members > limits.max_members) {
    return absl::ResourceExhaustedError(fmt::format(
        "archive {}: more than limits.archive_max_members ({}) members", x_.top_key, limits.max_members));
  }
  ArchiveMember member;
  member.key = key_ + "!" + MemberPath(entry);
  member.depth = depth_;
  // Directories, links and devices have no bytes of their own; whatever data
  // the archive stores for them is still read, to count it against the limits.
  if (archive_entry_filetype(entry) != AE_IFREG) return SkipEntry(member.key);

  if (archive_entry_size_is_set(entry) && archive_entry_size(entry) >= 0) {
    member.size_known = true;
    member.size = static_cast<uint64_t>(archive_entry_size(entry));
  }
  if (archive_entry_is_data_encrypted(entry)) {
    member.error = "member is encrypted; it cannot be read without its passphrase";
    x_.visitor.OnUnreadable(member, member.error);
    if (archive_read_data_skip(archive_.get()) < ARCHIVE_WARN)
      return Failure("skipping encrypted member " + member.key);
    return absl::OkStatus();
  }
  if (member.size_known && member.size > limits.max_member_bytes) {
    std::string reason =
        fmt::format("archive {}: member {} declares {} bytes, over limits.archive_max_member_bytes ({})",
                    x_.top_key, member.key, member.size, limits.max_member_bytes);
    return Unreadable(std::move(member), absl::ResourceExhaustedError(reason));
  }

  MemberReader reader(*this, member.key);
  absl::StatusOr<std::string_view> head = reader.Peek(kHeadBytes);
  if (!head.ok()) return Unreadable(std::move(member), head.status());
  if (LooksLikeArchive(*head)) {
    if (depth_ >= limits.max_depth) {
      member.not_expanded =
          fmt::format("nested archive would be level {}, beyond limits.archive_max_depth ({})", depth_ + 1,
                      limits.max_depth);
    } else {
      std::string bytes;
      absl::StatusOr<bool> complete = reader.ReadAll(bytes, limits.max_buffered_bytes);
      if (!complete.ok()) return Unreadable(std::move(member), complete.status());
      if (*complete) {
        const char* name = archive_entry_pathname(entry);
        if (name == nullptr) name = archive_entry_pathname_utf8(entry);
        std::string nested_name(BaseName(name != nullptr ? name : ""));
        return VisitNested(std::move(member), std::move(bytes), std::move(nested_name));
      }
      member.not_expanded = fmt::format(
          "nested archive is larger than limits.archive_max_buffered_bytes ({})", limits.max_buffered_bytes);
      reader.Unread(std::move(bytes));
    }
  }
  return VisitPlain(std::move(member), reader);
}

absl::Status Level::VisitPlain(ArchiveMember member, MemberReader& reader) {
  absl::Status visited = x_.visitor.OnMember(member, reader);
  if (!reader.status().ok()) return Unreadable(std::move(member), reader.status());
  if (!visited.ok()) {
    x_.aborted = true;
    return visited;
  }
  absl::Status rest = reader.Drain();
  if (rest.code() == absl::StatusCode::kResourceExhausted || !input_.error().ok()) return rest;
  if (!dead_.ok()) return dead_;
  // Corrupt bytes the visitor chose not to read are not the member's
  // problem; the next header read tells whether the archive goes on.
  return absl::OkStatus();
}

absl::Status Level::VisitNested(ArchiveMember member, std::string bytes, std::string name) {
  absl::Status expanded;
  {
    ArchiveInput input(member.key, std::string_view(bytes));
    Level nested(x_, member.key, std::move(name), depth_ + 1, input);
    expanded = nested.Run();
  }
  if (x_.aborted) return expanded;
  if (!expanded.ok()) member.not_expanded = std::string(expanded.message());
  MemoryReader reader(bytes);
  absl::Status visited = x_.visitor.OnMember(member, reader);
  if (!visited.ok()) {
    x_.aborted = true;
    return visited;
  }
  // A limit ends everything; a corrupt or unsupported nested archive stays
  // recorded on its member.
  if (expanded.code() == absl::StatusCode::kResourceExhausted) return expanded;
  return absl::OkStatus();
}

}  // namespace

bool LooksLikeArchive(std::string_view head) {
  static constexpr std::string_view kMagics[] = {
      "PK\x03\x04"sv,            // zip
      "PK\x05\x06"sv,            // empty zip
      "\x1F\x8B\x08"sv,          // gzip (deflate)
      "\xFD\x37zXZ\x00"sv,       // xz
      "7z\xBC\xAF\x27\x1C"sv,    // 7z
      "Rar!\x1A\x07\x00"sv,      // rar 4
      "Rar!\x1A\x07\x01\x00"sv,  // rar 5
  };
  for (std::string_view magic : kMagics) {
    if (head.starts_with(magic)) return true;
  }
  if (head.size() >= 4 && head.starts_with("BZh"sv) && head[3] >= '1' && head[3] <= '9') return true;
  return LooksLikeTar(head);
}

std::string NormalizeMemberName(std::string_view name) {
  std::string out;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view segment = name.substr(start, end - start);
    start = end + 1;
    if (segment.empty() || segment == "."sv) continue;
    if (!out.empty()) out += '/';
    if (segment == ".."sv) {
      out += "%2E%2E";
      continue;
    }
    for (char c : segment) {
      auto byte = static_cast<unsigned char>(c);
      if (c == '%' || c == '!' || c == '#' || byte < 0x20 || byte == 0x7F) {
        out += fmt::format("%{:02X}", byte);
      } else {
        out += c;
      }
    }
  }
  if (out.empty()) return "%2E";
  if (out.size() > kMaxNameBytes) {
    size_t cut = kMaxNameBytes;
    // Do not split a %XX escape.
    size_t percent = out.rfind('%', cut - 1);
    if (percent != std::string::npos && percent + 3 > cut) cut = percent;
    out.resize(cut);
    out += "#truncated";
  }
  return out;
}

absl::Status ExpandArchive(const std::string& outer_key, ObjectReader& archive_bytes,
                           const ArchiveLimits& limits, ArchiveVisitor& visitor) {
  RETURN_IF_ERROR(ValidateLimits(limits));
  std::string head;
  absl::StatusOr<bool> read = ReadInto(archive_bytes, head, kHeadBytes - 1);
  if (!read.ok()) return Annotate(read.status(), fmt::format("archive {}: reading the archive", outer_key));

  Expansion expansion(limits, visitor, outer_key);
  std::string name(BaseName(outer_key));
  // 7z needs random access; a zip is best read through its central directory
  // (member types, sizes of encrypted members), which needs it too. Both are
  // read into memory when they fit; a larger zip is streamed.
  if (Is7z(head) || IsZip(head)) {
    if (!*read) read = ReadInto(archive_bytes, head, limits.max_buffered_bytes);
    if (!read.ok()) return Annotate(read.status(), fmt::format("archive {}: reading the archive", outer_key));
    if (*read) {
      ArchiveInput input(outer_key, std::string_view(head));
      expansion.top_input = &input;
      return Level(expansion, outer_key, std::move(name), 1, input).Run();
    }
    if (Is7z(head)) {
      return absl::ResourceExhaustedError(fmt::format(
          "archive {}: 7z archives need random access and are read into memory; this one is larger "
          "than limits.archive_max_buffered_bytes ({})",
          outer_key, limits.max_buffered_bytes));
    }
  }
  ArchiveInput input(outer_key, std::move(head), archive_bytes);
  expansion.top_input = &input;
  return Level(expansion, outer_key, std::move(name), 1, input).Run();
}

}  // namespace takedown
