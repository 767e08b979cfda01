#include "daemon/seal_key_file.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/hex.h"
#include "crawler/unique_fd.h"
#include "fmt/format.h"

namespace takedown {

absl::StatusOr<SealKey> LoadSealKeyFile(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    const int err = errno;
    const std::string message =
        fmt::format("seal key file {}: {}; create one with `takedownctl preservation keygen --out {}`", path,
                    std::strerror(err), path);
    return err == ENOENT ? absl::NotFoundError(message) : absl::PermissionDeniedError(message);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    return absl::PermissionDeniedError(fmt::format("seal key file {}: not a regular file", path));
  if ((st.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(
        fmt::format("seal key file {}: mode {:o} lets others read or change the key; run chmod 600 {}", path,
                    st.st_mode & 0777, path));
  }
  char text[67];
  ssize_t n;
  do {
    n = read(fd.get(), text, sizeof text);
  } while (n < 0 && errno == EINTR);
  if (n < 0)
    return absl::PermissionDeniedError(fmt::format("seal key file {}: {}", path, std::strerror(errno)));
  size_t size = static_cast<size_t>(n);
  if (size == 65 && text[64] == '\n') size = 64;
  std::optional<std::string> decoded;
  if (size == 64) decoded = HexDecode(std::string_view(text, 64));
  OPENSSL_cleanse(text, sizeof text);
  if (!decoded || decoded->size() != kSealKeyBytes) {
    return absl::InvalidArgumentError(fmt::format(
        "seal key file {}: expected exactly 64 hex digits (a 256-bit key); `takedownctl preservation keygen` "
        "writes one",
        path));
  }
  std::array<uint8_t, kSealKeyBytes> bytes{};
  std::memcpy(bytes.data(), decoded->data(), bytes.size());
  OPENSSL_cleanse(decoded->data(), decoded->size());
  SealKey key = MakeSealKey(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return key;
}

absl::StatusOr<SealKey> WriteNewSealKeyFile(const std::string& path) {
  std::array<uint8_t, kSealKeyBytes> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
    return absl::InternalError("no random bytes for a new key (OpenSSL RAND_bytes failed)");
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) {
    const int err = errno;
    const std::string message = fmt::format("seal key file {}: {}", path, std::strerror(err));
    return err == EEXIST ? absl::AlreadyExistsError(message + "; an existing key is never overwritten")
                         : absl::PermissionDeniedError(message);
  }
  std::string text = HexEncode(std::span<const uint8_t>(bytes)) + "\n";
  const bool written =
      write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd.get()) == 0;
  OPENSSL_cleanse(text.data(), text.size());
  if (!written) {
    const std::string message = fmt::format("seal key file {}: cannot write: {}", path, std::strerror(errno));
    unlink(path.c_str());
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return absl::InternalError(message);
  }
  SealKey key = MakeSealKey(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return key;
}

}  // namespace takedown
