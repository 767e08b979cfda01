// Sealed files: content encrypted at rest with AES-256-GCM, for removed
// content a legal profile requires the provider to preserve
// (daemon/preservation_vault.h). docs/preservation.md describes the format.
//
//   header  "TDSEAL01" | key id (8) | nonce prefix (8, random per file) |
//           chunk size (u32 LE) | context length (u16 LE) | context
//   chunks  ciphertext (chunk size bytes, the last one shorter or empty) |
//           16-byte GCM tag
//
// Chunk i uses the nonce (nonce prefix | i as u32 BE) and authenticates
// SHA-256(header) | final flag, so a file cut at a chunk boundary, chunks
// swapped, or a header edited (context, key id) fail to open: every byte
// of plaintext handed out has been authenticated, and a file that decrypts
// to the end decrypted whole. The context (e.g. the case and object the
// content was taken from) travels in clear.
//
// Not thread-safe per object; separate objects are independent.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace takedown {

inline constexpr size_t kSealKeyBytes = 32;
inline constexpr size_t kSealKeyIdBytes = 8;
inline constexpr size_t kMaxSealContextBytes = 4096;
inline constexpr uint32_t kSealChunkBytes = 64 * 1024;
inline constexpr uint32_t kMaxSealChunkBytes = 4 * 1024 * 1024;

struct SealKey {
  std::array<uint8_t, kSealKeyBytes> bytes{};
  // Names the key without revealing it: the first 8 bytes of
  // SHA-256("takedownd seal key id" | key), hex in messages.
  std::array<uint8_t, kSealKeyIdBytes> id{};
};

// The key with its id filled in.
SealKey MakeSealKey(const std::array<uint8_t, kSealKeyBytes>& bytes);

// Writes a sealed file to an open, empty file descriptor (borrowed).
class SealedFileWriter {
 public:
  // InvalidArgument for a context over kMaxSealContextBytes; Internal when
  // no random nonce can be drawn; the write error of the header.
  static absl::StatusOr<SealedFileWriter> Start(int fd, const SealKey& key, std::string_view context,
                                                uint32_t chunk_bytes = kSealChunkBytes);

  SealedFileWriter(SealedFileWriter&&) noexcept;
  SealedFileWriter& operator=(SealedFileWriter&&) noexcept;
  ~SealedFileWriter();

  // Encrypts and writes `bytes` (buffered up to one chunk).
  absl::Status Append(std::span<const uint8_t> bytes);
  // Writes the final chunk and fsyncs. Nothing may be appended after.
  absl::Status Finish();

  uint64_t plaintext_bytes() const { return plaintext_bytes_; }

 private:
  SealedFileWriter() = default;
  absl::Status SealChunk(bool final);

  int fd_ = -1;
  SealKey key_;
  std::array<uint8_t, 8> nonce_prefix_{};
  std::array<uint8_t, 32> header_digest_{};
  uint32_t chunk_bytes_ = kSealChunkBytes;
  uint32_t chunk_index_ = 0;
  std::vector<uint8_t> pending_;
  uint64_t plaintext_bytes_ = 0;
  bool finished_ = false;
};

struct SealedFileInfo {
  std::array<uint8_t, kSealKeyIdBytes> key_id{};
  std::string context;
  uint32_t chunk_bytes = 0;
};

// Reads the clear header of the sealed file at `path`. InvalidArgument (with
// the path) for a file that is not a sealed file or has a malformed header.
absl::StatusOr<SealedFileInfo> ReadSealedFileInfo(const std::string& path);

// Parses a header from the first bytes of a file; `header_bytes` gets the
// header's length. InvalidArgument for anything malformed or over the
// limits (context, chunk size). Exposed for the fuzz target.
absl::StatusOr<SealedFileInfo> ParseSealedHeader(std::span<const uint8_t> bytes, size_t& header_bytes);

// Decrypts the sealed file at `path` with `key`, handing each authenticated
// chunk to `sink` in order. FailedPrecondition when the file was sealed with
// another key (both ids named); DataLoss when any chunk fails
// authentication or the file is truncated (the sink may have received the
// chunks before it); the sink's own error as is.
absl::Status OpenSealedFile(const std::string& path, const SealKey& key,
                            const std::function<absl::Status(std::span<const uint8_t>)>& sink);

}  // namespace takedown
