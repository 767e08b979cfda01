#include "matcher/multi_digester.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>
#include <string>
#include <utility>

#include "fmt/format.h"

namespace takedown {
namespace {

// The three EVP_MD objects, fetched once: in OpenSSL 3 an implicit fetch
// (EVP_md5() etc.) on every EVP_DigestInit_ex costs a provider lookup.
struct Algorithms {
  EVP_MD* md5 = nullptr;
  EVP_MD* sha1 = nullptr;
  EVP_MD* sha256 = nullptr;
  std::string error;
};

std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  if (code == 0) return "no OpenSSL error queued";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

const Algorithms& GetAlgorithms() {
  // Intentionally never freed: shared by every digester for the process lifetime.
  static const Algorithms* algorithms = [] {
    auto* a = new Algorithms();
    a->md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
    if (a->md5 == nullptr) a->error = "MD5: " + OpenSslError();
    a->sha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
    if (a->sha1 == nullptr) a->error = "SHA-1: " + OpenSslError();
    a->sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (a->sha256 == nullptr) a->error = "SHA-256: " + OpenSslError();
    return a;
  }();
  return *algorithms;
}

// Bytes fed to one digest before moving to the next: small enough that the
// second and third digest read the data from L1/L2 cache rather than memory.
constexpr size_t kStride = 16 * 1024;

template <size_t N>
void FinalInto(EVP_MD_CTX* ctx, std::array<uint8_t, N>& out) {
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, out.data(), &len);
}

}  // namespace

absl::StatusOr<MultiDigester> MultiDigester::Create() {
  const Algorithms& algorithms = GetAlgorithms();
  if (!algorithms.error.empty()) {
    return absl::FailedPreconditionError(
        fmt::format("OpenSSL cannot provide a digest algorithm ({}); check the OpenSSL provider "
                    "configuration (OPENSSL_CONF): MD5, SHA-1 and SHA-256 are all required",
                    algorithms.error));
  }
  MultiDigester digester;
  digester.md5_ = EVP_MD_CTX_new();
  digester.sha1_ = EVP_MD_CTX_new();
  digester.sha256_ = EVP_MD_CTX_new();
  if (digester.md5_ == nullptr || digester.sha1_ == nullptr || digester.sha256_ == nullptr) {
    return absl::ResourceExhaustedError("cannot allocate OpenSSL digest contexts");
  }
  if (EVP_DigestInit_ex2(digester.md5_, algorithms.md5, nullptr) != 1 ||
      EVP_DigestInit_ex2(digester.sha1_, algorithms.sha1, nullptr) != 1 ||
      EVP_DigestInit_ex2(digester.sha256_, algorithms.sha256, nullptr) != 1) {
    return absl::InternalError("cannot initialise OpenSSL digests: " + OpenSslError());
  }
  return digester;
}

MultiDigester::MultiDigester(MultiDigester&& other) noexcept
    : md5_(std::exchange(other.md5_, nullptr)),
      sha1_(std::exchange(other.sha1_, nullptr)),
      sha256_(std::exchange(other.sha256_, nullptr)) {}

MultiDigester& MultiDigester::operator=(MultiDigester&& other) noexcept {
  if (this != &other) {
    Free();
    md5_ = std::exchange(other.md5_, nullptr);
    sha1_ = std::exchange(other.sha1_, nullptr);
    sha256_ = std::exchange(other.sha256_, nullptr);
  }
  return *this;
}

MultiDigester::~MultiDigester() { Free(); }

void MultiDigester::Free() {
  EVP_MD_CTX_free(md5_);
  EVP_MD_CTX_free(sha1_);
  EVP_MD_CTX_free(sha256_);
  md5_ = sha1_ = sha256_ = nullptr;
}

void MultiDigester::Update(std::span<const uint8_t> data) {
  const uint8_t* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    size_t n = std::min(left, kStride);
    EVP_DigestUpdate(md5_, p, n);
    EVP_DigestUpdate(sha1_, p, n);
    EVP_DigestUpdate(sha256_, p, n);
    p += n;
    left -= n;
  }
}

DigestSet MultiDigester::Finish() {
  DigestSet digests;
  FinalInto(md5_, digests.md5);
  FinalInto(sha1_, digests.sha1);
  FinalInto(sha256_, digests.sha256);
  Reset();
  return digests;
}

void MultiDigester::Reset() {
  const Algorithms& algorithms = GetAlgorithms();
  EVP_DigestInit_ex2(md5_, algorithms.md5, nullptr);
  EVP_DigestInit_ex2(sha1_, algorithms.sha1, nullptr);
  EVP_DigestInit_ex2(sha256_, algorithms.sha256, nullptr);
}

absl::StatusOr<DigestedObject> DigestStream(MultiDigester& digester, ObjectReader& reader,
                                            std::span<uint8_t> buffer, uint64_t max_bytes) {
  if (buffer.empty()) return absl::InvalidArgumentError("DigestStream needs a non-empty read buffer");
  digester.Reset();
  DigestedObject object;
  while (true) {
    // Never ask for more than one byte past the limit, so an oversized
    // object is detected without reading (much of) the excess.
    uint64_t allowed = max_bytes - std::min(max_bytes, object.bytes) + 1;
    size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), allowed));
    absl::StatusOr<size_t> got = reader.Read(buffer.first(want));
    if (!got.ok()) {
      digester.Reset();
      return got.status();
    }
    if (*got == 0) break;
    if (*got > want) {
      digester.Reset();
      return absl::InternalError(
          fmt::format("object reader returned {} bytes for a {}-byte read", *got, want));
    }
    object.bytes += *got;
    if (object.bytes > max_bytes) {
      digester.Reset();
      return absl::ResourceExhaustedError(
          fmt::format("object is larger than the {}-byte limit (limits.max_object_bytes)", max_bytes));
    }
    std::span<const uint8_t> chunk(buffer.data(), *got);
    if (object.head.size() < kSniffBytes) {
      size_t take = std::min(kSniffBytes - object.head.size(), chunk.size());
      object.head.append(reinterpret_cast<const char*>(chunk.data()), take);
    }
    digester.Update(chunk);
  }
  object.digests = digester.Finish();
  return object;
}

absl::StatusOr<DigestedObject> DigestStream(ObjectReader& reader, std::span<uint8_t> buffer,
                                            uint64_t max_bytes) {
  absl::StatusOr<MultiDigester> digester = MultiDigester::Create();
  if (!digester.ok()) return digester.status();
  return DigestStream(*digester, reader, buffer, max_bytes);
}

}  // namespace takedown
