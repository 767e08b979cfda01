#include "daemon/preservation_vault.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <optional>

#include "common/hex.h"
#include "common/status_macros.h"
#include "crawler/unique_fd.h"
#include "fmt/format.h"

namespace takedown {
namespace {

constexpr std::string_view kPartialPrefix = ".partial-";
constexpr int kMaxSealingsPerCase = 10'000;

bool ValidCaseId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  }
  return true;
}

struct DigestCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// Removes partial files a crash left in the case directories.
void RemovePartials(const std::string& dir) {
  std::error_code ec;
  for (const auto& case_dir : std::filesystem::directory_iterator(dir, ec)) {
    if (!case_dir.is_directory(ec)) continue;
    for (const auto& file : std::filesystem::directory_iterator(case_dir.path(), ec)) {
      if (file.path().filename().string().rfind(kPartialPrefix, 0) == 0)
        std::filesystem::remove(file.path(), ec);
    }
  }
}

}  // namespace

struct PreservationVault::Sealing::State {
  std::string case_dir;
  std::string partial_path;
  UniqueFd fd;
  std::optional<SealedFileWriter> writer;
  std::unique_ptr<EVP_MD_CTX, DigestCtxFree> sha256;
  std::string key_id;
  bool committed = false;
};

absl::StatusOr<std::unique_ptr<PreservationVault>> PreservationVault::Open(const std::string& dir,
                                                                           const SealKey& key) {
  if (dir.empty() || dir.front() != '/') {
    return absl::InvalidArgumentError(
        fmt::format("preservation directory '{}' must be an absolute path (preservation.dir)", dir));
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || chmod(dir.c_str(), 0700) != 0) {
    return absl::PermissionDeniedError(fmt::format("preservation directory {}: cannot create it 0700: {}",
                                                   dir, ec ? ec.message() : std::strerror(errno)));
  }
  const std::string canonical = std::filesystem::canonical(dir, ec).string();
  if (ec) return absl::PermissionDeniedError(fmt::format("preservation directory {}: {}", dir, ec.message()));
  RemovePartials(canonical);
  return std::unique_ptr<PreservationVault>(new PreservationVault(canonical, key));
}

std::string PreservationVault::key_id() const { return HexEncode(std::span<const uint8_t>(key_.id)); }

absl::StatusOr<PreservationVault::Sealing> PreservationVault::Begin(std::string_view case_id,
                                                                    std::string_view context) {
  if (!ValidCaseId(case_id)) {
    return absl::InvalidArgumentError(fmt::format("'{}' is not a case id the vault can file under", case_id));
  }
  auto state = std::make_unique<Sealing::State>();
  state->case_dir = fmt::format("{}/{}", dir_, case_id);
  if (mkdir(state->case_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(
        fmt::format("preservation directory {}: {}", state->case_dir, std::strerror(errno)));
  }
  std::array<uint8_t, 8> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1)
    return absl::InternalError("no random bytes for a temporary name (OpenSSL RAND_bytes failed)");
  state->partial_path =
      fmt::format("{}/{}{}", state->case_dir, kPartialPrefix, HexEncode(std::span<const uint8_t>(random)));
  state->fd =
      UniqueFd(open(state->partial_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0400));
  if (!state->fd.valid()) {
    return absl::PermissionDeniedError(
        fmt::format("preservation: cannot create {}: {}", state->partial_path, std::strerror(errno)));
  }
  state->key_id = key_id();
  state->sha256.reset(EVP_MD_CTX_new());
  if (!state->sha256 || EVP_DigestInit_ex(state->sha256.get(), EVP_sha256(), nullptr) != 1) {
    unlink(state->partial_path.c_str());
    return absl::InternalError("cannot set up SHA-256 (OpenSSL)");
  }
  absl::StatusOr<SealedFileWriter> writer = SealedFileWriter::Start(state->fd.get(), key_, context);
  if (!writer.ok()) {
    unlink(state->partial_path.c_str());
    return writer.status();
  }
  state->writer.emplace(*std::move(writer));
  return Sealing(std::move(state));
}

absl::StatusOr<std::optional<SealedContent>> PreservationVault::FindUnrecorded(
    std::string_view case_id, const std::vector<std::string>& known) const {
  if (!ValidCaseId(case_id)) return std::optional<SealedContent>();
  const std::string case_dir = fmt::format("{}/{}", dir_, case_id);
  int newest = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(case_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.ends_with(".sealed")) continue;
    int n = 0;
    auto [end, error] = std::from_chars(name.data(), name.data() + name.size() - 7, n);
    if (error != std::errc() || end != name.data() + name.size() - 7 || n <= newest) continue;
    if (std::find(known.begin(), known.end(), entry.path().string()) != known.end()) continue;
    newest = n;
  }
  if (newest == 0) return std::optional<SealedContent>();
  SealedContent found;
  found.location = fmt::format("{}/{}.sealed", case_dir, newest);
  found.key_id = key_id();
  std::unique_ptr<EVP_MD_CTX, DigestCtxFree> sha256(EVP_MD_CTX_new());
  if (!sha256 || EVP_DigestInit_ex(sha256.get(), EVP_sha256(), nullptr) != 1)
    return absl::InternalError("cannot set up SHA-256 (OpenSSL)");
  RETURN_IF_ERROR(OpenSealedFile(found.location, key_, [&](std::span<const uint8_t> chunk) {
    found.bytes += chunk.size();
    EVP_DigestUpdate(sha256.get(), chunk.data(), chunk.size());
    return absl::OkStatus();
  }));
  std::array<uint8_t, 32> digest{};
  unsigned int size = 0;
  EVP_DigestFinal_ex(sha256.get(), digest.data(), &size);
  found.sha256_hex = HexEncode(std::span<const uint8_t>(digest));
  return std::optional<SealedContent>(std::move(found));
}

absl::Status PreservationVault::Erase(const std::string& location) {
  const std::string prefix = dir_ + "/";
  if (location.rfind(prefix, 0) != 0 || location.find("/..") != std::string::npos ||
      location.find("/.", prefix.size() - 1) != std::string::npos) {
    return absl::InvalidArgumentError(
        fmt::format("{} is not a sealed file of the preservation directory {}", location, dir_));
  }
  if (unlink(location.c_str()) != 0 && errno != ENOENT) {
    return absl::PermissionDeniedError(fmt::format("cannot erase {}: {}", location, std::strerror(errno)));
  }
  // The case directory goes with its last file; it stays while others remain.
  const std::string case_dir = location.substr(0, location.rfind('/'));
  if (case_dir.size() > dir_.size()) rmdir(case_dir.c_str());
  return absl::OkStatus();
}

PreservationVault::Sealing::Sealing(std::unique_ptr<State> state) : state_(std::move(state)) {}
PreservationVault::Sealing::Sealing(Sealing&&) noexcept = default;
PreservationVault::Sealing& PreservationVault::Sealing::operator=(Sealing&&) noexcept = default;

PreservationVault::Sealing::~Sealing() {
  if (state_ && !state_->committed) unlink(state_->partial_path.c_str());
}

absl::Status PreservationVault::Sealing::Append(std::span<const uint8_t> bytes) {
  if (state_->committed) return absl::FailedPreconditionError("the sealing is already committed");
  if (EVP_DigestUpdate(state_->sha256.get(), bytes.data(), bytes.size()) != 1)
    return absl::InternalError("SHA-256 update failed (OpenSSL)");
  return state_->writer->Append(bytes);
}

absl::StatusOr<SealedContent> PreservationVault::Sealing::Commit() {
  if (state_->committed) return absl::FailedPreconditionError("the sealing is already committed");
  RETURN_IF_ERROR(state_->writer->Finish());
  std::array<uint8_t, 32> digest{};
  unsigned int digest_size = 0;
  if (EVP_DigestFinal_ex(state_->sha256.get(), digest.data(), &digest_size) != 1)
    return absl::InternalError("SHA-256 final failed (OpenSSL)");
  for (int n = 1; n <= kMaxSealingsPerCase; ++n) {
    const std::string path = fmt::format("{}/{}.sealed", state_->case_dir, n);
    if (renameat2(AT_FDCWD, state_->partial_path.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) == 0) {
      state_->committed = true;
      UniqueFd dir(open(state_->case_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (dir.valid()) fsync(dir.get());
      SealedContent sealed;
      sealed.location = path;
      sealed.key_id = state_->key_id;
      sealed.bytes = state_->writer->plaintext_bytes();
      sealed.sha256_hex = HexEncode(std::span<const uint8_t>(digest));
      return sealed;
    }
    if (errno != EEXIST) {
      return absl::PermissionDeniedError(
          fmt::format("preservation: cannot name {}: {}", path, std::strerror(errno)));
    }
  }
  return absl::ResourceExhaustedError(
      fmt::format("preservation: {} already holds {} sealed files", state_->case_dir, kMaxSealingsPerCase));
}

}  // namespace takedown
