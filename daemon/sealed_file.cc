#include "daemon/sealed_file.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "common/hex.h"
#include "common/status_macros.h"
#include "crawler/unique_fd.h"
#include "fmt/format.h"

namespace takedown {
namespace {

constexpr std::string_view kMagic = "TDSEAL01";
constexpr size_t kTagBytes = 16;
constexpr size_t kFixedHeaderBytes = 8 + kSealKeyIdBytes + 8 + 4 + 2;

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

std::array<uint8_t, 12> ChunkNonce(const std::array<uint8_t, 8>& prefix, uint32_t index) {
  std::array<uint8_t, 12> nonce{};
  std::memcpy(nonce.data(), prefix.data(), prefix.size());
  nonce[8] = static_cast<uint8_t>(index >> 24);
  nonce[9] = static_cast<uint8_t>(index >> 16);
  nonce[10] = static_cast<uint8_t>(index >> 8);
  nonce[11] = static_cast<uint8_t>(index);
  return nonce;
}

std::array<uint8_t, 33> ChunkAad(const std::array<uint8_t, 32>& header_digest, bool final) {
  std::array<uint8_t, 33> aad{};
  std::memcpy(aad.data(), header_digest.data(), header_digest.size());
  aad[32] = final ? 1 : 0;
  return aad;
}

// One AES-256-GCM operation over a whole chunk. `out` receives the
// ciphertext (encrypt) or plaintext (decrypt) of in.size() bytes.
bool GcmChunk(bool encrypt, const SealKey& key, const std::array<uint8_t, 12>& nonce,
              std::span<const uint8_t> aad, std::span<const uint8_t> in, uint8_t* out,
              uint8_t tag[kTagBytes]) {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return false;
  if (EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes.data(), nonce.data(),
                        encrypt ? 1 : 0) != 1) {
    return false;
  }
  int len = 0;
  if (EVP_CipherUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) return false;
  if (!in.empty() && EVP_CipherUpdate(ctx.get(), out, &len, in.data(), static_cast<int>(in.size())) != 1) {
    return false;
  }
  if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) != 1) return false;
  uint8_t tail[16];
  if (EVP_CipherFinal_ex(ctx.get(), tail, &len) != 1) return false;
  if (encrypt && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, tag) != 1) return false;
  return true;
}

absl::Status WriteAll(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    const ssize_t n = write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(fmt::format("writing the sealed file: {}", std::strerror(errno)));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Reads exactly `size` bytes unless the file ends first; returns how many.
absl::StatusOr<size_t> ReadFull(int fd, uint8_t* data, size_t size, const std::string& path) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = read(fd, data + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(fmt::format("{}: read: {}", path, std::strerror(errno)));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

void PutLe(std::vector<uint8_t>& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

uint64_t GetLe(std::span<const uint8_t> in, size_t at, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= static_cast<uint64_t>(in[at + i]) << (8 * i);
  return value;
}

}  // namespace

SealKey MakeSealKey(const std::array<uint8_t, kSealKeyBytes>& bytes) {
  SealKey key;
  key.bytes = bytes;
  constexpr std::string_view kLabel = "takedownd seal key id";
  std::vector<uint8_t> input(kLabel.begin(), kLabel.end());
  input.insert(input.end(), bytes.begin(), bytes.end());
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(input.data(), input.size(), digest);
  std::memcpy(key.id.data(), digest, key.id.size());
  OPENSSL_cleanse(input.data(), input.size());
  return key;
}

absl::StatusOr<SealedFileWriter> SealedFileWriter::Start(int fd, const SealKey& key, std::string_view context,
                                                         uint32_t chunk_bytes) {
  if (context.size() > kMaxSealContextBytes) {
    return absl::InvalidArgumentError(
        fmt::format("the sealed file's context is {} bytes, over {}", context.size(), kMaxSealContextBytes));
  }
  if (chunk_bytes == 0 || chunk_bytes > kMaxSealChunkBytes) {
    return absl::InvalidArgumentError(
        fmt::format("chunk size {} is not in 1..{}", chunk_bytes, kMaxSealChunkBytes));
  }
  SealedFileWriter writer;
  writer.fd_ = fd;
  writer.key_ = key;
  writer.chunk_bytes_ = chunk_bytes;
  if (RAND_bytes(writer.nonce_prefix_.data(), static_cast<int>(writer.nonce_prefix_.size())) != 1) {
    return absl::InternalError("no random bytes for the sealed file's nonce (OpenSSL RAND_bytes failed)");
  }
  std::vector<uint8_t> header(kMagic.begin(), kMagic.end());
  header.insert(header.end(), key.id.begin(), key.id.end());
  header.insert(header.end(), writer.nonce_prefix_.begin(), writer.nonce_prefix_.end());
  PutLe(header, chunk_bytes, 4);
  PutLe(header, context.size(), 2);
  header.insert(header.end(), context.begin(), context.end());
  SHA256(header.data(), header.size(), writer.header_digest_.data());
  RETURN_IF_ERROR(WriteAll(fd, header.data(), header.size()));
  writer.pending_.reserve(chunk_bytes);
  return writer;
}

SealedFileWriter::SealedFileWriter(SealedFileWriter&&) noexcept = default;
SealedFileWriter& SealedFileWriter::operator=(SealedFileWriter&&) noexcept = default;

SealedFileWriter::~SealedFileWriter() {
  OPENSSL_cleanse(key_.bytes.data(), key_.bytes.size());
  if (!pending_.empty()) OPENSSL_cleanse(pending_.data(), pending_.size());
}

absl::Status SealedFileWriter::SealChunk(bool final) {
  if (chunk_index_ == UINT32_MAX) return absl::ResourceExhaustedError("the sealed file has too many chunks");
  std::vector<uint8_t> out(pending_.size() + kTagBytes);
  const auto aad = ChunkAad(header_digest_, final);
  if (!GcmChunk(true, key_, ChunkNonce(nonce_prefix_, chunk_index_), aad, pending_, out.data(),
                out.data() + pending_.size())) {
    return absl::InternalError("AES-256-GCM encryption failed (OpenSSL)");
  }
  RETURN_IF_ERROR(WriteAll(fd_, out.data(), out.size()));
  OPENSSL_cleanse(pending_.data(), pending_.size());
  pending_.clear();
  ++chunk_index_;
  return absl::OkStatus();
}

absl::Status SealedFileWriter::Append(std::span<const uint8_t> bytes) {
  if (finished_) return absl::FailedPreconditionError("the sealed file is already finished");
  while (!bytes.empty()) {
    // A full chunk is sealed only once more bytes follow: the last chunk
    // must carry the final flag.
    if (pending_.size() == chunk_bytes_) RETURN_IF_ERROR(SealChunk(false));
    const size_t take = std::min(bytes.size(), chunk_bytes_ - pending_.size());
    pending_.insert(pending_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
    bytes = bytes.subspan(take);
    plaintext_bytes_ += take;
  }
  return absl::OkStatus();
}

absl::Status SealedFileWriter::Finish() {
  if (finished_) return absl::FailedPreconditionError("the sealed file is already finished");
  RETURN_IF_ERROR(SealChunk(true));
  finished_ = true;
  if (fsync(fd_) != 0)
    return absl::InternalError(fmt::format("fsync of the sealed file: {}", std::strerror(errno)));
  return absl::OkStatus();
}

absl::StatusOr<SealedFileInfo> ParseSealedHeader(std::span<const uint8_t> bytes, size_t& header_bytes) {
  if (bytes.size() < kFixedHeaderBytes || std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) {
    return absl::InvalidArgumentError("not a sealed file (no TDSEAL01 header)");
  }
  SealedFileInfo info;
  std::memcpy(info.key_id.data(), bytes.data() + 8, kSealKeyIdBytes);
  info.chunk_bytes = static_cast<uint32_t>(GetLe(bytes, 24, 4));
  const size_t context_bytes = GetLe(bytes, 28, 2);
  if (info.chunk_bytes == 0 || info.chunk_bytes > kMaxSealChunkBytes) {
    return absl::InvalidArgumentError(fmt::format("sealed file header: chunk size {} is not in 1..{}",
                                                  info.chunk_bytes, kMaxSealChunkBytes));
  }
  if (context_bytes > kMaxSealContextBytes) {
    return absl::InvalidArgumentError(
        fmt::format("sealed file header: context of {} bytes, over {}", context_bytes, kMaxSealContextBytes));
  }
  if (bytes.size() < kFixedHeaderBytes + context_bytes) {
    return absl::InvalidArgumentError("sealed file header: cut off inside the context");
  }
  info.context.assign(reinterpret_cast<const char*>(bytes.data()) + kFixedHeaderBytes, context_bytes);
  header_bytes = kFixedHeaderBytes + context_bytes;
  return info;
}

namespace {

struct OpenedHeader {
  SealedFileInfo info;
  std::vector<uint8_t> header;  // the raw header bytes
  std::array<uint8_t, 8> nonce_prefix{};
};

absl::StatusOr<OpenedHeader> ReadHeader(int fd, const std::string& path) {
  std::vector<uint8_t> head(kFixedHeaderBytes + kMaxSealContextBytes);
  ASSIGN_OR_RETURN(size_t got, ReadFull(fd, head.data(), head.size(), path));
  head.resize(got);
  size_t header_bytes = 0;
  absl::StatusOr<SealedFileInfo> info = ParseSealedHeader(head, header_bytes);
  if (!info.ok())
    return absl::InvalidArgumentError(fmt::format("{}: {}", path, std::string(info.status().message())));
  OpenedHeader opened;
  opened.info = *std::move(info);
  std::memcpy(opened.nonce_prefix.data(), head.data() + 8 + kSealKeyIdBytes, 8);
  head.resize(header_bytes);
  opened.header = std::move(head);
  if (lseek(fd, static_cast<off_t>(header_bytes), SEEK_SET) < 0)
    return absl::InternalError(fmt::format("{}: seek: {}", path, std::strerror(errno)));
  return opened;
}

absl::StatusOr<UniqueFd> OpenForReading(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    const int err = errno;
    const std::string message = fmt::format("{}: cannot open: {}", path, std::strerror(err));
    return err == ENOENT ? absl::NotFoundError(message) : absl::PermissionDeniedError(message);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    return absl::InvalidArgumentError(fmt::format("{}: not a regular file", path));
  return fd;
}

}  // namespace

absl::StatusOr<SealedFileInfo> ReadSealedFileInfo(const std::string& path) {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenForReading(path));
  ASSIGN_OR_RETURN(OpenedHeader header, ReadHeader(fd.get(), path));
  return header.info;
}

absl::Status OpenSealedFile(const std::string& path, const SealKey& key,
                            const std::function<absl::Status(std::span<const uint8_t>)>& sink) {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenForReading(path));
  ASSIGN_OR_RETURN(OpenedHeader header, ReadHeader(fd.get(), path));
  if (header.info.key_id != key.id) {
    return absl::FailedPreconditionError(
        fmt::format("{}: sealed with key {}, but the key given is {}; use the key file it was sealed with",
                    path, HexEncode(header.info.key_id), HexEncode(key.id)));
  }
  std::array<uint8_t, 32> header_digest{};
  SHA256(header.header.data(), header.header.size(), header_digest.data());
  const size_t record = header.info.chunk_bytes + kTagBytes;
  // One record of look-ahead tells the last chunk (followed by end of file)
  // from the others.
  std::vector<uint8_t> current(record), next(record), plain(header.info.chunk_bytes);
  ASSIGN_OR_RETURN(size_t current_size, ReadFull(fd.get(), current.data(), record, path));
  for (uint32_t index = 0;; ++index) {
    size_t next_size = 0;
    if (current_size == record) {
      ASSIGN_OR_RETURN(next_size, ReadFull(fd.get(), next.data(), record, path));
    }
    const bool final = next_size == 0;
    if (current_size < kTagBytes) {
      return absl::DataLossError(fmt::format("{}: cut off in chunk {}; the file is incomplete", path, index));
    }
    const size_t cipher_bytes = current_size - kTagBytes;
    if (!GcmChunk(false, key, ChunkNonce(header.nonce_prefix, index), ChunkAad(header_digest, final),
                  std::span<const uint8_t>(current.data(), cipher_bytes), plain.data(),
                  current.data() + cipher_bytes)) {
      return absl::DataLossError(fmt::format(
          "{}: chunk {} fails authentication: the file was altered, cut off or corrupted", path, index));
    }
    absl::Status sunk = sink(std::span<const uint8_t>(plain.data(), cipher_bytes));
    OPENSSL_cleanse(plain.data(), plain.size());
    RETURN_IF_ERROR(sunk);
    if (final) return absl::OkStatus();
    if (index == UINT32_MAX) return absl::DataLossError(fmt::format("{}: too many chunks", path));
    std::swap(current, next);
    current_size = next_size;
  }
}

}  // namespace takedown
