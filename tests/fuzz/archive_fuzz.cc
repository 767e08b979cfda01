// libFuzzer target for archive expansion (crawler/archive_expander.h) over
// in-memory bytes with small limits. Besides "never crashes", it checks what
// ExpandArchive promises: member keys are the outer key, '!' and a
// normalised path (no leading '/', no ".." segment, no empty segment) per
// nesting level; depth, member count and byte totals stay within the limits;
// errors carry a message and one of the documented codes.
//
// To fuzz, build this file with clang++ -std=c++20 -I. -fsanitize=fuzzer,address,undefined
// together with crawler/archive_expander.cc and common/status_macros.cc, linked with
// -larchive -lfmt and the Abseil status libraries, then run it on the seed corpus:
//   ./archive_fuzz -max_len=65536 tests/fuzz/corpus/archive
// The ctest "archive_fuzz_replay" runs the seed corpus without libFuzzer. The seeds
// are small archives written with libarchive's write API: zip, ustar, pax+gzip,
// gnutar+bzip2, pax+xz, 7z, a gzip-compressed file, nested archives, traversal
// names, an encrypted zip, and truncated copies.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crawler/archive_expander.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

class BytesReader : public takedown::ObjectReader {
 public:
  BytesReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  absl::StatusOr<size_t> Read(std::span<uint8_t> buffer) override {
    size_t n = std::min(buffer.size(), size_ - position_);
    if (n > 0) std::memcpy(buffer.data(), data_ + position_, n);
    position_ += n;
    return n;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t position_ = 0;
};

void CheckKey(const takedown::ArchiveMember& member, int max_depth) {
  constexpr std::string_view kOuter = "fuzz.bin!";
  Check(member.key.starts_with(kOuter));
  Check(member.depth >= 1 && member.depth <= max_depth);
  std::string_view rest = std::string_view(member.key).substr(kOuter.size());
  int levels = 1;
  size_t start = 0;
  while (true) {
    size_t end = rest.find('!', start);
    std::string_view path =
        rest.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    Check(!path.empty() && path.front() != '/' && path.back() != '/');
    size_t segment_start = 0;
    while (segment_start <= path.size()) {
      size_t segment_end = path.find('/', segment_start);
      if (segment_end == std::string_view::npos) segment_end = path.size();
      std::string_view segment = path.substr(segment_start, segment_end - segment_start);
      Check(!segment.empty() && segment != "." && segment != "..");
      segment_start = segment_end + 1;
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
    ++levels;
  }
  Check(levels == member.depth);
}

class CheckingVisitor : public takedown::ArchiveVisitor {
 public:
  explicit CheckingVisitor(const takedown::ArchiveLimits& limits) : limits_(limits) {}

  absl::Status OnMember(const takedown::ArchiveMember& member, takedown::ObjectReader& bytes) override {
    CheckKey(member, limits_.max_depth);
    Check(member.error.empty());
    std::vector<uint8_t> buffer(4096);
    uint64_t size = 0;
    while (true) {
      absl::StatusOr<size_t> n = bytes.Read(buffer);
      if (!n.ok()) return n.status();
      if (*n == 0) break;
      Check(*n <= buffer.size());
      size += *n;
    }
    Check(size <= limits_.max_member_bytes);
    ++members;
    total += size;
    return absl::OkStatus();
  }

  void OnUnreadable(const takedown::ArchiveMember& member, std::string_view reason) override {
    CheckKey(member, limits_.max_depth);
    Check(!reason.empty() && reason == member.error);
    ++unreadable;
  }

  const takedown::ArchiveLimits& limits_;
  uint64_t members = 0;
  uint64_t unreadable = 0;
  uint64_t total = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  takedown::ArchiveLimits limits;
  limits.max_depth = 3;
  limits.max_members = 64;
  limits.max_total_bytes = 4 << 20;
  limits.max_member_bytes = 1 << 20;
  limits.max_ratio = 100.0;
  limits.ratio_grace_bytes = 64 << 10;
  limits.max_buffered_bytes = 256 << 10;
  BytesReader reader(data, size);
  CheckingVisitor visitor(limits);
  absl::Status status = takedown::ExpandArchive("fuzz.bin", reader, limits, visitor);
  Check(visitor.members + visitor.unreadable <= limits.max_members);
  // Nested archives' bytes count towards the total as well as their members'.
  Check(visitor.total <= limits.max_total_bytes);
  if (!status.ok()) {
    Check(!status.message().empty());
    Check(status.code() == absl::StatusCode::kResourceExhausted ||
          status.code() == absl::StatusCode::kDataLoss ||
          status.code() == absl::StatusCode::kInvalidArgument);
  }
  return 0;
}
