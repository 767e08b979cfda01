#include "daemon/hash_command.h"

#include <array>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>

#include "absl/status/statusor.h"
#include "common/digest_set.h"
#include "common/hex.h"
#include "fmt/format.h"
#include "matcher/content_type.h"
#include "matcher/image_decoder.h"
#include "matcher/multi_digester.h"
#include "matcher/pdq_fast.h"
#include "matcher/pdq_hasher.h"
#include "nlohmann/json.hpp"

namespace takedown {
namespace {

constexpr char kUsage[] = "usage: takedownctl hash [--mode exact|fast] [--dihedral] [--json] FILE...\n";

// Output names of PdqDihedral variants 1..7 (variant 0 is "pdq").
constexpr std::array<const char*, PdqDihedral::kCount> kVariantNames = {
    "pdq",       "pdq_rot90", "pdq_rot180",    "pdq_rot270",
    "pdq_flipx", "pdq_flipy", "pdq_flipplus1", "pdq_flipminus1"};

struct Options {
  bool fast = false;
  bool dihedral = false;
  bool json = false;
  std::vector<std::string> files;
};

struct FileResult {
  std::string path;
  DigestSet digests;
  std::optional<PdqDihedral> pdq;  // absent for non-images and failures
  std::string error;               // why an image could not be hashed
};

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(fmt::format("{}: is a directory, not a file", path));
  }
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) {
    return absl::NotFoundError(fmt::format("{}: cannot read: {}", path, ec.message()));
  }
  if (size > kMaxHashFileBytes) {
    return absl::ResourceExhaustedError(fmt::format(
        "{}: {} bytes, over the limit of {} bytes (256 MiB); not hashed", path, size, kMaxHashFileBytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("{}: cannot open for reading", path));
  std::string bytes;
  bytes.reserve(static_cast<size_t>(size));
  bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(fmt::format("{}: read error", path));
  // The file may have grown since file_size().
  if (bytes.size() > kMaxHashFileBytes) {
    return absl::ResourceExhaustedError(
        fmt::format("{}: over the limit of {} bytes (256 MiB); not hashed", path, kMaxHashFileBytes));
  }
  return bytes;
}

absl::StatusOr<PdqDihedral> HashImage(std::span<const uint8_t> bytes, bool fast) {
  const ImageLimits limits;
  absl::StatusOr<DecodedImage> image = fast ? DecodeImageFast(bytes, limits) : DecodeImage(bytes, limits);
  if (!image.ok()) return image.status();
  return PdqHasher().HashDihedral(*image);
}

std::string TextLine(const FileResult& r, bool dihedral) {
  std::string line = fmt::format("md5={} sha1={} sha256={}", HexEncode(r.digests.md5),
                                 HexEncode(r.digests.sha1), HexEncode(r.digests.sha256));
  const int variants = dihedral ? PdqDihedral::kCount : 1;
  for (int v = 0; v < variants; ++v) {
    line += fmt::format(" {}={}", kVariantNames[v], r.pdq ? r.pdq->hashes[v].ToHex() : "-");
  }
  line += r.pdq ? fmt::format(" quality={}", r.pdq->quality) : std::string(" quality=-");
  line += " file=" + r.path;
  return line;
}

nlohmann::json JsonObject(const FileResult& r, bool dihedral) {
  nlohmann::json object = {{"file", r.path},
                           {"md5", HexEncode(r.digests.md5)},
                           {"sha1", HexEncode(r.digests.sha1)},
                           {"sha256", HexEncode(r.digests.sha256)},
                           {"pdq", nullptr},
                           {"quality", nullptr}};
  if (r.pdq) {
    object["pdq"] = r.pdq->hashes[PdqDihedral::kOriginal].ToHex();
    object["quality"] = r.pdq->quality;
  }
  if (dihedral) {
    nlohmann::json variants = nlohmann::json::object();
    for (int v = 1; v < PdqDihedral::kCount; ++v) {
      variants[kVariantNames[v]] = r.pdq ? nlohmann::json(r.pdq->hashes[v].ToHex()) : nullptr;
    }
    object["dihedral"] = variants;
  }
  if (!r.error.empty()) object["error"] = r.error;
  return object;
}

}  // namespace

int RunHashCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Options options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      options.files.insert(options.files.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg == "--dihedral") {
      options.dihedral = true;
    } else if (arg == "--json") {
      options.json = true;
    } else if (arg == "--mode" || arg.rfind("--mode=", 0) == 0) {
      std::string mode;
      if (arg == "--mode") {
        if (i + 1 >= args.size()) {
          err << "takedownctl hash: --mode needs a value: exact or fast\n" << kUsage;
          return 2;
        }
        mode = args[++i];
      } else {
        mode = arg.substr(7);
      }
      if (mode != "exact" && mode != "fast") {
        err << "takedownctl hash: unknown mode '" << mode << "'; use exact or fast\n" << kUsage;
        return 2;
      }
      options.fast = mode == "fast";
    } else if (arg.size() > 1 && arg[0] == '-') {
      err << "takedownctl hash: unknown option '" << arg << "'\n" << kUsage;
      return 2;
    } else {
      options.files.push_back(arg);
    }
  }
  if (options.files.empty()) {
    err << "takedownctl hash: no files given\n" << kUsage;
    return 2;
  }

  absl::StatusOr<MultiDigester> digester = MultiDigester::Create();
  if (!digester.ok()) {
    err << "takedownctl hash: " << std::string(digester.status().message()) << "\n";
    return 1;
  }
  bool failed = false;
  nlohmann::json array = nlohmann::json::array();
  for (const std::string& path : options.files) {
    absl::StatusOr<std::string> bytes = ReadWholeFile(path);
    if (!bytes.ok()) {
      err << "takedownctl hash: " << std::string(bytes.status().message()) << "\n";
      failed = true;
      continue;
    }
    const std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
    FileResult result;
    result.path = path;
    digester->Update(data);
    result.digests = digester->Finish();
    const std::string_view type = SniffContentType(std::string_view(*bytes).substr(0, kSniffBytes));
    if (type.substr(0, 6) == "image/") {
      absl::StatusOr<PdqDihedral> pdq = HashImage(data, options.fast);
      if (pdq.ok()) {
        result.pdq = *pdq;
      } else {
        result.error = std::string(pdq.status().message());
        err << "takedownctl hash: " << path << ": cannot compute PDQ: " << result.error << "\n";
        failed = true;
      }
    }
    if (options.json) {
      array.push_back(JsonObject(result, options.dihedral));
    } else {
      out << TextLine(result, options.dihedral) << "\n";
    }
  }
  if (options.json) out << array.dump(2) << "\n";
  out.flush();
  return failed ? 1 : 0;
}

int RunHashCommand(const std::vector<std::string>& args) {
  return RunHashCommand(args, std::cout, std::cerr);
}

}  // namespace takedown
