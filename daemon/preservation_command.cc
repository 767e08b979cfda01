#include "daemon/preservation_command.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "common/hex.h"
#include "crawler/unique_fd.h"
#include "daemon/seal_key_file.h"
#include "daemon/sealed_file.h"
#include "fmt/format.h"

namespace takedown {
namespace {

constexpr char kUsage[] = R"(usage: takedownctl preservation keygen --out FILE
       takedownctl preservation info SEALED
       takedownctl preservation decrypt --key-file FILE --out OUT|- SEALED
)";

struct Args {
  std::string out;
  std::string key_file;
  std::vector<std::string> files;
};

bool Parse(const std::vector<std::string>& words, Args& args, std::ostream& err) {
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word == "--out" || word == "--key-file") {
      if (i + 1 >= words.size()) {
        err << "takedownctl preservation: " << word << " needs a value\n";
        return false;
      }
      (word == "--out" ? args.out : args.key_file) = words[++i];
    } else if (word.starts_with("--")) {
      err << "takedownctl preservation: unknown option " << word << "\n";
      return false;
    } else {
      args.files.push_back(word);
    }
  }
  return true;
}

int Keygen(const Args& args, std::ostream& out, std::ostream& err) {
  if (args.out.empty() || !args.files.empty() || !args.key_file.empty()) {
    err << kUsage;
    return 2;
  }
  absl::StatusOr<SealKey> key = WriteNewSealKeyFile(args.out);
  if (!key.ok()) {
    err << "takedownctl preservation keygen: " << key.status().message() << "\n";
    return 1;
  }
  out << fmt::format(
      "key {} written to {}; keep a copy apart from the vault: without it nothing "
      "sealed with it can be read\n",
      HexEncode(std::span<const uint8_t>(key->id)), args.out);
  return 0;
}

int Info(const Args& args, std::ostream& out, std::ostream& err) {
  if (args.files.size() != 1 || !args.out.empty() || !args.key_file.empty()) {
    err << kUsage;
    return 2;
  }
  absl::StatusOr<SealedFileInfo> info = ReadSealedFileInfo(args.files[0]);
  if (!info.ok()) {
    err << "takedownctl preservation info: " << info.status().message() << "\n";
    return 1;
  }
  out << fmt::format("key {}\ncontext {}\n", HexEncode(std::span<const uint8_t>(info->key_id)),
                     info->context);
  return 0;
}

struct DigestCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

int Decrypt(const Args& args, std::ostream& out, std::ostream& err) {
  if (args.files.size() != 1 || args.out.empty() || args.key_file.empty()) {
    err << kUsage;
    return 2;
  }
  const std::string& sealed = args.files[0];
  absl::StatusOr<SealKey> key = LoadSealKeyFile(args.key_file);
  if (!key.ok()) {
    err << "takedownctl preservation decrypt: " << key.status().message() << "\n";
    return 1;
  }
  const bool to_stdout = args.out == "-";
  // Written under a temporary name and renamed at the end, so OUT appears
  // only with the whole, authenticated content.
  const std::string partial = args.out + ".partial";
  UniqueFd fd(to_stdout ? dup(STDOUT_FILENO)
                        : open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) {
    err << fmt::format("takedownctl preservation decrypt: cannot create {}: {}\n", partial,
                       std::strerror(errno));
    return 1;
  }
  if (!to_stdout && access(args.out.c_str(), F_OK) == 0) {
    unlink(partial.c_str());
    err << fmt::format("takedownctl preservation decrypt: {} exists; it is never overwritten\n", args.out);
    return 1;
  }
  std::unique_ptr<EVP_MD_CTX, DigestCtxFree> sha256(EVP_MD_CTX_new());
  EVP_DigestInit_ex(sha256.get(), EVP_sha256(), nullptr);
  uint64_t bytes = 0;
  absl::Status opened = OpenSealedFile(sealed, *key, [&](std::span<const uint8_t> chunk) -> absl::Status {
    EVP_DigestUpdate(sha256.get(), chunk.data(), chunk.size());
    bytes += chunk.size();
    for (size_t done = 0; done < chunk.size();) {
      const ssize_t n = write(fd.get(), chunk.data() + done, chunk.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return absl::InternalError(fmt::format("writing {}: {}", args.out, std::strerror(errno)));
      done += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  });
  if (opened.ok() && !to_stdout && fsync(fd.get()) != 0) {
    opened = absl::InternalError(fmt::format("fsync of {}: {}", partial, std::strerror(errno)));
  }
  if (opened.ok() && !to_stdout && rename(partial.c_str(), args.out.c_str()) != 0) {
    opened = absl::InternalError(fmt::format("naming {}: {}", args.out, std::strerror(errno)));
  }
  if (!opened.ok()) {
    if (!to_stdout) unlink(partial.c_str());
    err << "takedownctl preservation decrypt: " << opened.message() << "\n";
    return 1;
  }
  std::array<uint8_t, 32> digest{};
  unsigned int size = 0;
  EVP_DigestFinal_ex(sha256.get(), digest.data(), &size);
  (to_stdout ? err : out) << fmt::format("{} bytes, sha256 {}{}\n", bytes,
                                         HexEncode(std::span<const uint8_t>(digest)),
                                         to_stdout ? "" : ", written to " + args.out);
  return 0;
}

}  // namespace

int RunPreservationCommand(const std::vector<std::string>& words, std::ostream& out, std::ostream& err) {
  Args args;
  if (words.empty() || !Parse(words, args, err)) {
    err << kUsage;
    return 2;
  }
  if (words[0] == "keygen") return Keygen(args, out, err);
  if (words[0] == "info") return Info(args, out, err);
  if (words[0] == "decrypt") return Decrypt(args, out, err);
  err << "takedownctl preservation: unknown command '" << words[0] << "'\n" << kUsage;
  return 2;
}

}  // namespace takedown
