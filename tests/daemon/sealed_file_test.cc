// Sealed files (daemon/sealed_file.h) and seal key files
// (daemon/seal_key_file.h): round trips at every chunk boundary, and every
// way of altering a file (a byte, a cut, swapped chunks, the clear header)
// refused.
#include "daemon/sealed_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "common/hex.h"
#include "daemon/seal_key_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/scratch_dir.h"

namespace takedown {
namespace {

using ::takedown::testing::ScratchDir;
using ::testing::HasSubstr;

SealKey KeyOf(uint8_t fill) {
  std::array<uint8_t, kSealKeyBytes> bytes{};
  bytes.fill(fill);
  return MakeSealKey(bytes);
}

std::string Bytes(size_t size, uint32_t seed) {
  std::mt19937 random(seed);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(random());
  return out;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Seals `plain` in pieces of `piece` bytes.
void Seal(const std::string& path, const SealKey& key, const std::string& plain, uint32_t chunk, size_t piece,
          std::string_view context = "case c-1") {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  absl::StatusOr<SealedFileWriter> writer = SealedFileWriter::Start(fd, key, context, chunk);
  ASSERT_TRUE(writer.ok()) << writer.status();
  for (size_t at = 0; at < plain.size(); at += piece) {
    const std::string part = plain.substr(at, piece);
    ASSERT_TRUE(writer->Append({reinterpret_cast<const uint8_t*>(part.data()), part.size()}).ok());
  }
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(writer->plaintext_bytes(), plain.size());
  close(fd);
}

absl::StatusOr<std::string> Open(const std::string& path, const SealKey& key) {
  std::string out;
  absl::Status status = OpenSealedFile(path, key, [&](std::span<const uint8_t> chunk) {
    out.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

TEST(SealedFileTest, RoundTripsEverySizeAroundTheChunkBoundaries) {
  ScratchDir dir;
  const SealKey key = KeyOf(7);
  constexpr uint32_t kChunk = 64;
  for (size_t size : {0, 1, 63, 64, 65, 127, 128, 129, 1000}) {
    for (size_t piece : {1, 7, 64, 5000}) {
      const std::string plain = Bytes(size, static_cast<uint32_t>(size * 31 + piece));
      const std::string path = dir.Sub("f.sealed");
      Seal(path, key, plain, kChunk, piece);
      absl::StatusOr<std::string> opened = Open(path, key);
      ASSERT_TRUE(opened.ok()) << "size " << size << " piece " << piece << ": " << opened.status();
      EXPECT_EQ(*opened, plain) << "size " << size << " piece " << piece;
      // The content does not appear in clear.
      if (size >= 16) {
        EXPECT_EQ(ReadAll(path).find(plain.substr(0, 16)), std::string::npos);
      }
    }
  }
}

TEST(SealedFileTest, TheSameContentSealsDifferentlyEachTime) {
  ScratchDir dir;
  const SealKey key = KeyOf(7);
  const std::string plain = Bytes(300, 1);
  Seal(dir.Sub("a"), key, plain, 64, 300);
  Seal(dir.Sub("b"), key, plain, 64, 300);
  EXPECT_NE(ReadAll(dir.Sub("a")), ReadAll(dir.Sub("b")));
}

TEST(SealedFileTest, EveryAlterationIsRefusedAsDataLoss) {
  ScratchDir dir;
  const SealKey key = KeyOf(9);
  const std::string plain = Bytes(200, 2);  // chunks of 64: 64 64 64 8
  const std::string path = dir.Sub("f.sealed");
  Seal(path, key, plain, 64, 200, "case c-2");
  const std::string sealed = ReadAll(path);
  const size_t header = 8 + 8 + 8 + 4 + 2 + std::string("case c-2").size();
  const size_t record = 64 + 16;
  ASSERT_EQ(sealed.size(), header + 3 * record + 8 + 16);

  auto expect_refused = [&](const std::string& altered, const std::string& what) {
    WriteAll(path, altered);
    absl::StatusOr<std::string> opened = Open(path, key);
    ASSERT_FALSE(opened.ok()) << what;
    EXPECT_TRUE(absl::IsDataLoss(opened.status())) << what << ": " << opened.status();
  };
  for (size_t at : {header, header + 70, header + record + 3, sealed.size() - 1}) {
    std::string flipped = sealed;
    flipped[at] ^= 0x01;
    expect_refused(flipped, "a flipped byte at " + std::to_string(at));
  }
  // Cut at a chunk boundary: the chunk now last was not sealed as the last.
  expect_refused(sealed.substr(0, header + 2 * record), "cut after two chunks");
  expect_refused(sealed.substr(0, header + 2 * record + 10), "cut inside a chunk");
  expect_refused(sealed.substr(0, header), "no chunks at all");
  std::string swapped = sealed;
  swapped.replace(header, record, sealed.substr(header + record, record));
  swapped.replace(header + record, record, sealed.substr(header, record));
  expect_refused(swapped, "two chunks swapped");
  std::string context = sealed;
  context[header - 1] = '3';  // "case c-3"
  expect_refused(context, "the clear context changed");
  expect_refused(sealed + "x", "a byte appended");
}

TEST(SealedFileTest, AnotherKeyIsNamedAndRefused) {
  ScratchDir dir;
  const std::string path = dir.Sub("f.sealed");
  Seal(path, KeyOf(1), "content", 64, 7);
  absl::StatusOr<std::string> opened = Open(path, KeyOf(2));
  ASSERT_TRUE(absl::IsFailedPrecondition(opened.status())) << opened.status();
  EXPECT_THAT(opened.status().message(), HasSubstr(HexEncode(std::span<const uint8_t>(KeyOf(1).id))));
  absl::StatusOr<SealedFileInfo> info = ReadSealedFileInfo(path);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->key_id, KeyOf(1).id);
  EXPECT_EQ(info->context, "case c-1");
}

TEST(SealedFileTest, HeadersOverTheLimitsOrNotSealedAreInvalid) {
  size_t header_bytes = 0;
  std::vector<uint8_t> junk = {'n', 'o', 'p', 'e'};
  EXPECT_TRUE(absl::IsInvalidArgument(ParseSealedHeader(junk, header_bytes).status()));
  std::vector<uint8_t> header = {'T', 'D', 'S', 'E', 'A', 'L', '0', '1'};
  header.resize(24, 0);
  const auto with = [&](uint32_t chunk, uint16_t context, size_t extra) {
    std::vector<uint8_t> h = header;
    for (int i = 0; i < 4; ++i) h.push_back(static_cast<uint8_t>(chunk >> (8 * i)));
    h.push_back(static_cast<uint8_t>(context));
    h.push_back(static_cast<uint8_t>(context >> 8));
    h.resize(h.size() + extra, 'c');
    return h;
  };
  EXPECT_TRUE(ParseSealedHeader(with(64, 3, 3), header_bytes).ok());
  EXPECT_EQ(header_bytes, 33u);
  EXPECT_TRUE(absl::IsInvalidArgument(ParseSealedHeader(with(0, 0, 0), header_bytes).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(ParseSealedHeader(with(kMaxSealChunkBytes + 1, 0, 0), header_bytes).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseSealedHeader(with(64, 5000, 5000), header_bytes).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseSealedHeader(with(64, 10, 9), header_bytes).status()));
  ScratchDir dir;
  WriteAll(dir.Sub("plain.jpg"), "not sealed at all");
  absl::StatusOr<std::string> opened = Open(dir.Sub("plain.jpg"), KeyOf(1));
  EXPECT_TRUE(absl::IsInvalidArgument(opened.status())) << opened.status();
  EXPECT_THAT(opened.status().message(), HasSubstr("plain.jpg"));
}

TEST(SealKeyFileTest, KeygenWritesAnOwnerOnlyKeyThatLoadsBackAndIsNeverOverwritten) {
  ScratchDir dir;
  const std::string path = dir.Sub("seal.key");
  absl::StatusOr<SealKey> made = WriteNewSealKeyFile(path);
  ASSERT_TRUE(made.ok()) << made.status();
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ReadAll(path).size(), 65u);
  absl::StatusOr<SealKey> loaded = LoadSealKeyFile(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->bytes, made->bytes);
  EXPECT_EQ(loaded->id, made->id);
  EXPECT_TRUE(absl::IsAlreadyExists(WriteNewSealKeyFile(path).status()));
  EXPECT_EQ(LoadSealKeyFile(path)->id, made->id);
  absl::StatusOr<SealKey> other = WriteNewSealKeyFile(dir.Sub("other.key"));
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->id, made->id);
}

TEST(SealKeyFileTest, KeysOthersCanReadOrMalformedKeysAreRefusedWithTheFile) {
  ScratchDir dir;
  const std::string path = dir.Sub("seal.key");
  WriteAll(path, std::string(64, 'a') + "\n");
  chmod(path.c_str(), 0644);
  absl::StatusOr<SealKey> loaded = LoadSealKeyFile(path);
  EXPECT_TRUE(absl::IsPermissionDenied(loaded.status())) << loaded.status();
  EXPECT_THAT(loaded.status().message(), HasSubstr("chmod 600"));
  chmod(path.c_str(), 0600);
  EXPECT_TRUE(LoadSealKeyFile(path).ok());
  for (const std::string& bad : {std::string(63, 'a'), std::string(64, 'g'), std::string(66, 'a'),
                                 std::string(64, 'a') + "\n\n", std::string()}) {
    WriteAll(path, bad);
    loaded = LoadSealKeyFile(path);
    EXPECT_TRUE(absl::IsInvalidArgument(loaded.status())) << bad << ": " << loaded.status();
    EXPECT_THAT(loaded.status().message(), HasSubstr(path));
  }
  EXPECT_TRUE(absl::IsNotFound(LoadSealKeyFile(dir.Sub("missing.key")).status()));
}

}  // namespace
}  // namespace takedown
