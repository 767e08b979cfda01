// MultiDigester: MD5, SHA-1 and SHA-256 of one byte stream, computed in a
// single pass over the bytes (OpenSSL EVP).
//
// A MultiDigester is not thread-safe; give each worker its own and reuse it
// across objects (Finish() leaves it ready for the next object). The OpenSSL
// algorithm objects are fetched once per process and shared.
//
// DigestStream() reads an ObjectReader to its end through a caller-provided
// buffer and returns the digests, the byte count and the first kSniffBytes
// bytes (for content-type sniffing, see matcher/content_type.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "common/digest_set.h"
#include "common/object_reader.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace takedown {

// Bytes of an object kept for content-type sniffing: enough for every magic
// number SniffContentType() knows, including the tar header's "ustar" at 257.
inline constexpr size_t kSniffBytes = 512;

class MultiDigester {
 public:
  // Fails only if OpenSSL cannot provide one of the three algorithms (e.g. a
  // FIPS-only provider configuration without MD5).
  static absl::StatusOr<MultiDigester> Create();

  MultiDigester(MultiDigester&& other) noexcept;
  MultiDigester& operator=(MultiDigester&& other) noexcept;
  MultiDigester(const MultiDigester&) = delete;
  MultiDigester& operator=(const MultiDigester&) = delete;
  ~MultiDigester();

  // Feeds the next bytes of the stream to all three digests.
  void Update(std::span<const uint8_t> data);
  // Returns the digests of everything fed since the last Reset()/Finish()
  // and resets the digester for the next stream.
  DigestSet Finish();
  // Discards everything fed so far.
  void Reset();

 private:
  MultiDigester() = default;
  void Free();

  EVP_MD_CTX* md5_ = nullptr;
  EVP_MD_CTX* sha1_ = nullptr;
  EVP_MD_CTX* sha256_ = nullptr;
};

struct DigestedObject {
  DigestSet digests;
  uint64_t bytes = 0;
  // The first min(bytes, kSniffBytes) bytes of the object.
  std::string head;
};

// Reads `reader` to its end through `buffer` (its size is the read size;
// 256 KiB to 1 MiB is a good choice) and digests every byte once.
// Returns ResourceExhausted as soon as more than `max_bytes` bytes have been
// read, InvalidArgument for an empty buffer, and the reader's error if a
// read fails. `digester` is reset before use and left reset afterwards.
absl::StatusOr<DigestedObject> DigestStream(MultiDigester& digester, ObjectReader& reader,
                                            std::span<uint8_t> buffer, uint64_t max_bytes);

// As above with a digester made for this call.
absl::StatusOr<DigestedObject> DigestStream(ObjectReader& reader, std::span<uint8_t> buffer,
                                            uint64_t max_bytes);

}  // namespace takedown
