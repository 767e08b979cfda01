// libFuzzer target for sealed files (daemon/sealed_file.h), the one format
// takedownd reads back from disk in the preservation vault. Two modes by the
// first byte:
//   'S': the rest is content; it is sealed with a fixed key in chunks of 1..64
//        bytes (the second byte picks the size) and must open back to exactly
//        the same bytes.
//   else: the input is taken as a sealed file. Opening it never crashes and
//        ends in OK, InvalidArgument (not a sealed file), FailedPrecondition
//        (another key) or DataLoss (fails authentication); a parsed header
//        stays within its limits.
//
// To fuzz, build this file with clang++ -std=c++20 -I. -fsanitize=fuzzer,address,undefined
// together with daemon/sealed_file.cc and common/hex.cc, linked with -lcrypto
// -lfmt and the Abseil status libraries, then run it on the seed corpus:
//   ./sealed_file_fuzz -max_len=4096 tests/fuzz/corpus/sealed_file
// The ctest "sealed_file_fuzz_replay" runs the seed corpus without libFuzzer.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "daemon/sealed_file.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

takedown::SealKey FixedKey() {
  std::array<uint8_t, takedown::kSealKeyBytes> bytes{};
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7 + 1);
  return takedown::MakeSealKey(bytes);
}

// One scratch file for all inputs, removed at exit.
struct ScratchFile {
  ScratchFile() {
    char pattern[] = "/tmp/sealed_file_fuzz_XXXXXX";
    const int fd = mkstemp(pattern);
    Check(fd >= 0);
    close(fd);
    path = pattern;
  }
  ~ScratchFile() { unlink(path.c_str()); }
  std::string path;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const takedown::SealKey key = FixedKey();
  static const ScratchFile scratch;
  const std::string& path = scratch.path;
  std::string opened;
  auto sink = [&](std::span<const uint8_t> chunk) {
    opened.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    return absl::OkStatus();
  };
  if (size >= 2 && data[0] == 'S') {
    const uint32_t chunk = 1 + data[1] % 64;
    const int fd = open(path.c_str(), O_WRONLY | O_TRUNC);
    Check(fd >= 0);
    absl::StatusOr<takedown::SealedFileWriter> writer =
        takedown::SealedFileWriter::Start(fd, key, "fuzz", chunk);
    Check(writer.ok());
    Check(writer->Append(std::span<const uint8_t>(data + 2, size - 2)).ok());
    Check(writer->Finish().ok());
    close(fd);
    Check(takedown::OpenSealedFile(path, key, sink).ok());
    Check(opened == std::string(reinterpret_cast<const char*>(data + 2), size - 2));
    return 0;
  }
  size_t header_bytes = 0;
  absl::StatusOr<takedown::SealedFileInfo> info =
      takedown::ParseSealedHeader(std::span<const uint8_t>(data, size), header_bytes);
  if (info.ok()) {
    Check(header_bytes <= size);
    Check(info->context.size() <= takedown::kMaxSealContextBytes);
    Check(info->chunk_bytes >= 1 && info->chunk_bytes <= takedown::kMaxSealChunkBytes);
  } else {
    Check(info.status().code() == absl::StatusCode::kInvalidArgument);
  }
  const int fd = open(path.c_str(), O_WRONLY | O_TRUNC);
  Check(fd >= 0);
  Check(write(fd, data, size) == static_cast<ssize_t>(size));
  close(fd);
  const absl::Status status = takedown::OpenSealedFile(path, key, sink);
  Check(status.ok() || absl::IsInvalidArgument(status) || absl::IsFailedPrecondition(status) ||
        absl::IsDataLoss(status));
  return 0;
}
