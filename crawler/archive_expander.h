// Archive expansion: zip, tar (plain, gzip, bzip2, xz), 7z, rar (v4 and v5)
// and single gzip/bzip2/xz-compressed files are read with libarchive and
// expanded recursively. Every regular file in an archive becomes a member
// with its own key and its own bytes, handed to an ArchiveVisitor:
//
//   outer.zip!dir/file.jpg                     a member of outer.zip
//   outer.zip!inner.tar!dir/file.jpg           a member of a nested archive
//   photos/x.jpg.gz!x.jpg                      the content of a compressed file
//
// Member names are normalised (NormalizeMemberName) so a key is unambiguous
// and never names a path outside the archive; docs/archives.md has the rules.
//
// Nothing is ever written to disk. Members are streamed from the archive to
// the visitor in memory. Some archives are held in memory, up to
// ArchiveLimits::max_buffered_bytes: a nested archive (so the visitor gets
// its own bytes as well as its members'), and a zip or 7z at the top (read
// with random access: a zip through its central directory, which knows
// member types and the sizes of encrypted members). A larger top-level zip is
// streamed; a larger 7z is refused.
//
// Thread-safety: concurrent ExpandArchive() calls on different readers and
// visitors share nothing. The other functions are pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "common/object_reader.h"

namespace takedown {

// Bounds on what one archive may expand to. Member counts and byte counts are
// summed over every nesting level of one ExpandArchive() call. The names in
// error messages are the configuration keys these come from
// (limits.archive_max_depth, ...).
struct ArchiveLimits {
  // Levels of archives expanded: 1 expands only the outer archive, 3 expands
  // outer.zip!a.zip!b.zip but not a fourth archive inside b.zip. 1..32.
  int max_depth = 3;
  // Entries of any type (files, directories, links) over all levels.
  uint64_t max_members = 100'000;
  // Bytes produced by decompression over all levels (a nested archive's bytes
  // count, and so do its members').
  uint64_t max_total_bytes = 8ull << 30;
  // Bytes of one member, declared in its header or counted as it streams.
  uint64_t max_member_bytes = 2ull << 30;
  // Bytes expanded per byte read, checked continuously as bytes stream, both
  // per archive level and for everything against the outer archive's bytes.
  double max_ratio = 200.0;
  // The ratio is only enforced once this many bytes have been expanded, so a
  // small file of zeros in a tiny archive is not refused.
  uint64_t ratio_grace_bytes = 1 << 20;
  // Largest archive held in memory. A larger nested archive is visited as a
  // plain member and not expanded; a larger top-level zip is streamed; a
  // larger top-level 7z is refused with ResourceExhausted.
  uint64_t max_buffered_bytes = 64ull << 20;
};

struct ArchiveMember {
  // outer_key + "!" + normalised member path, nested levels joined by "!".
  std::string key;
  // Size declared in the archive's header, when size_known.
  uint64_t size = 0;
  bool size_known = false;
  // 1 for a member of the outer archive, 2 for a member of an archive inside
  // it, and so on.
  int depth = 1;
  // Empty if the member is readable; otherwise why not (OnUnreadable's
  // reason).
  std::string error;
  // Set when the member is itself an archive that was not expanded (depth or
  // buffer limit, or the nested archive is corrupt): why.
  std::string not_expanded;
};

// Receives what ExpandArchive() finds, on the calling thread, in archive
// order. A nested archive is reported after its own members.
class ArchiveVisitor {
 public:
  virtual ~ArchiveVisitor() = default;

  // A readable member. `bytes` streams the member's content and is valid only
  // during the call; the visitor need not read it to the end.
  // When a Read on `bytes` fails (corrupt data, a limit, the outer reader's
  // error), OnMember should return without recording the member (returning
  // that error is simplest): ExpandArchive then reports the member through
  // OnUnreadable. Any other error returned aborts the expansion, and
  // ExpandArchive returns it unchanged.
  virtual absl::Status OnMember(const ArchiveMember& member, ObjectReader& bytes) = 0;

  // A member whose bytes cannot be read: encrypted, corrupt, or over a
  // limit. `reason` equals member.error.
  virtual void OnUnreadable(const ArchiveMember& member, std::string_view reason) = 0;
};

// True if `head` (an object's first bytes; 512 are enough) starts like an
// archive ExpandArchive() reads: zip ("PK\3\4", or "PK\5\6" when empty),
// gzip, bzip2, xz, 7z, rar 4 or 5, or tar (the "ustar" magic at offset 257,
// or an old-style header with a valid checksum).
bool LooksLikeArchive(std::string_view head);

// Returns the key form of an archive member's path: '/'-separated segments
// with empty and "." segments dropped (so a leading '/' goes), each ".."
// segment written as "%2E%2E" (kept, never resolved), and the bytes '%',
// '!', '#', 0x00-0x1F and 0x7F written as %XX (uppercase hex). A name that
// normalises to nothing becomes "%2E". A result longer than 1024 bytes is cut
// there and "#truncated" appended. Never empty; never starts with '/'; never
// has a ".." segment; never contains '!'.
std::string NormalizeMemberName(std::string_view name);

// Reads an archive from `archive_bytes` and reports every regular-file member
// to `visitor`, expanding nested archives (detected with LooksLikeArchive on
// the member's first bytes) up to limits.max_depth. `outer_key` is the
// archive's own key, the prefix of every member key.
//
// Returns OK when every member was reported (unreadable and unexpanded ones
// included). Otherwise, members already reported stay reported, and:
//   ResourceExhausted  a limit was hit; the message names it, e.g.
//                      "archive x.zip: expanded bytes exceed
//                      limits.archive_max_total_bytes (8589934592)". The
//                      member being read when it tripped is reported through
//                      OnUnreadable.
//   DataLoss           the archive is corrupt or truncated (libarchive's
//                      message), or its headers are encrypted.
//   InvalidArgument    the bytes are not an archive of a supported format,
//                      or `limits` are out of range.
//   the reader's error (same code) if reading `archive_bytes` fails.
//   the visitor's error, unchanged, if OnMember aborted.
absl::Status ExpandArchive(const std::string& outer_key, ObjectReader& archive_bytes,
                           const ArchiveLimits& limits, ArchiveVisitor& visitor);

}  // namespace takedown
