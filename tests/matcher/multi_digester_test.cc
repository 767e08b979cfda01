#include "matcher/multi_digester.h"

#include <openssl/evp.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "common/hex.h"
#include "gtest/gtest.h"

namespace takedown {
namespace {

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string OneShot(const char* algorithm, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD* md = EVP_MD_fetch(nullptr, algorithm, nullptr);
  EXPECT_NE(md, nullptr);
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), out, &len, md, nullptr), 1);
  EVP_MD_free(md);
  return HexEncode(std::span<const uint8_t>(out, len));
}

void ExpectMatchesOneShot(const DigestSet& d, std::string_view data) {
  EXPECT_EQ(HexEncode(d.md5), OneShot("MD5", data));
  EXPECT_EQ(HexEncode(d.sha1), OneShot("SHA1", data));
  EXPECT_EQ(HexEncode(d.sha256), OneShot("SHA256", data));
}

std::string Pattern(size_t size) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>((i * 131 + (i >> 8)) & 0xFF);
  return data;
}

// Serves `data` in reads of at most `max_read` bytes and counts what it served.
class StringReader : public ObjectReader {
 public:
  StringReader(std::string data, size_t max_read) : data_(std::move(data)), max_read_(max_read) {}
  absl::StatusOr<size_t> Read(std::span<uint8_t> buffer) override {
    size_t n = std::min({buffer.size(), max_read_, data_.size() - pos_});
    std::copy_n(data_.data() + pos_, n, buffer.data());
    pos_ += n;
    return n;
  }
  size_t served() const { return pos_; }

 private:
  std::string data_;
  size_t max_read_;
  size_t pos_ = 0;
};

class FailingReader : public ObjectReader {
 public:
  absl::StatusOr<size_t> Read(std::span<uint8_t> buffer) override {
    if (calls_++ == 0) {
      std::fill(buffer.begin(), buffer.end(), 'x');
      return buffer.size();
    }
    return absl::UnavailableError("object vanished");
  }

 private:
  int calls_ = 0;
};

class LyingReader : public ObjectReader {
 public:
  absl::StatusOr<size_t> Read(std::span<uint8_t> buffer) override { return buffer.size() + 1; }
};

TEST(MultiDigester, KnownVectorsForEmptyInput) {
  auto digester = MultiDigester::Create();
  ASSERT_TRUE(digester.ok()) << digester.status();
  DigestSet d = digester->Finish();
  EXPECT_EQ(HexEncode(d.md5), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(HexEncode(d.sha1), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(HexEncode(d.sha256), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(MultiDigester, KnownVectorsForAbc) {
  auto digester = MultiDigester::Create();
  ASSERT_TRUE(digester.ok());
  digester->Update(Bytes("abc"));
  DigestSet d = digester->Finish();
  EXPECT_EQ(HexEncode(d.md5), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(HexEncode(d.sha1), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(HexEncode(d.sha256), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(MultiDigester, OneMegabytePatternMatchesOneShotDigests) {
  std::string data = Pattern(1 << 20);
  auto digester = MultiDigester::Create();
  ASSERT_TRUE(digester.ok());
  digester->Update(Bytes(data));
  ExpectMatchesOneShot(digester->Finish(), data);
}

TEST(MultiDigester, ChunkingDoesNotChangeTheDigests) {
  std::string data = Pattern((1 << 20) + 12345);
  auto digester = MultiDigester::Create();
  ASSERT_TRUE(digester.ok());
  digester->Update(Bytes(data));
  DigestSet whole = digester->Finish();

  std::mt19937 rng(42);
  for (int round = 0; round < 5; ++round) {
    std::uniform_int_distribution<size_t> size(0, round == 0 ? 3 : 70000);
    size_t pos = 0;
    while (pos < data.size()) {
      size_t n = std::min(size(rng), data.size() - pos);
      digester->Update(Bytes(std::string_view(data).substr(pos, n)));
      pos += n;
    }
    DigestSet chunked = digester->Finish();
    EXPECT_EQ(chunked.md5, whole.md5) << "round " << round;
    EXPECT_EQ(chunked.sha1, whole.sha1) << "round " << round;
    EXPECT_EQ(chunked.sha256, whole.sha256) << "round " << round;
  }
}

TEST(MultiDigester, ResetDiscardsFedBytesAndFinishStartsOver) {
  auto digester = MultiDigester::Create();
  ASSERT_TRUE(digester.ok());
  digester->Update(Bytes("garbage"));
  digester->Reset();
  digester->Update(Bytes("abc"));
  EXPECT_EQ(HexEncode(digester->Finish().md5), "900150983cd24fb0d6963f7d28e17f72");
  digester->Update(Bytes("abc"));
  EXPECT_EQ(HexEncode(digester->Finish().md5), "900150983cd24fb0d6963f7d28e17f72");
}

TEST(MultiDigester, MovedDigesterKeepsWorking) {
  auto created = MultiDigester::Create();
  ASSERT_TRUE(created.ok());
  MultiDigester digester = std::move(*created);
  digester.Update(Bytes("ab"));
  MultiDigester other = std::move(digester);
  other.Update(Bytes("c"));
  EXPECT_EQ(HexEncode(other.Finish().sha1), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(DigestStream, DigestsCountsAndKeepsTheHead) {
  std::string data = Pattern(300000);
  StringReader reader(data, 7777);
  std::vector<uint8_t> buffer(65536);
  auto object = DigestStream(reader, buffer, data.size());
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_EQ(object->bytes, data.size());
  EXPECT_EQ(object->head, data.substr(0, kSniffBytes));
  ExpectMatchesOneShot(object->digests, data);
}

TEST(DigestStream, SmallObjectHeadIsTheWholeObject) {
  StringReader reader("abc", 1);
  std::vector<uint8_t> buffer(2);
  auto object = DigestStream(reader, buffer, 1000);
  ASSERT_TRUE(object.ok());
  EXPECT_EQ(object->bytes, 3u);
  EXPECT_EQ(object->head, "abc");
  EXPECT_EQ(HexEncode(object->digests.sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DigestStream, EmptyObject) {
  StringReader reader("", 100);
  std::vector<uint8_t> buffer(16);
  auto object = DigestStream(reader, buffer, 0);
  ASSERT_TRUE(object.ok());
  EXPECT_EQ(object->bytes, 0u);
  EXPECT_EQ(object->head, "");
  EXPECT_EQ(HexEncode(object->digests.md5), "d41d8cd98f00b204e9800998ecf8427e");
}

TEST(DigestStream, ObjectOfExactlyMaxBytesIsAccepted) {
  std::string data = Pattern(10000);
  StringReader reader(data, 4096);
  std::vector<uint8_t> buffer(4096);
  auto object = DigestStream(reader, buffer, 10000);
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_EQ(object->bytes, 10000u);
}

TEST(DigestStream, OneByteOverMaxBytesIsResourceExhaustedWithoutReadingTheRest) {
  std::string data = Pattern(1 << 20);
  StringReader reader(data, 1 << 20);
  std::vector<uint8_t> buffer(65536);
  auto object = DigestStream(reader, buffer, 9999);
  ASSERT_EQ(object.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(std::string(object.status().message()).find("limits.max_object_bytes"), std::string::npos);
  EXPECT_EQ(reader.served(), 10000u);
}

TEST(DigestStream, ReaderErrorIsReturned) {
  FailingReader reader;
  std::vector<uint8_t> buffer(100);
  auto object = DigestStream(reader, buffer, 1 << 20);
  EXPECT_EQ(object.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(object.status().message(), "object vanished");
}

TEST(DigestStream, ReaderClaimingMoreThanTheBufferIsAnInternalError) {
  LyingReader reader;
  std::vector<uint8_t> buffer(100);
  EXPECT_EQ(DigestStream(reader, buffer, 1 << 20).status().code(), absl::StatusCode::kInternal);
}

TEST(DigestStream, EmptyBufferIsRejected) {
  StringReader reader("abc", 10);
  EXPECT_EQ(DigestStream(reader, std::span<uint8_t>(), 10).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(DigestStream, ReusedDigesterGivesIndependentResults) {
  auto digester = MultiDigester::Create();
  ASSERT_TRUE(digester.ok());
  digester->Update(Bytes("left over from an abandoned object"));
  std::vector<uint8_t> buffer(8);
  StringReader first("abc", 100);
  auto a = DigestStream(*digester, first, buffer, 100);
  StringReader second("abc", 100);
  auto b = DigestStream(*digester, second, buffer, 100);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(HexEncode(a->digests.md5), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(a->digests.sha256, b->digests.sha256);
}

}  // namespace
}  // namespace takedown
