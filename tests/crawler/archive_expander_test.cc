#include "crawler/archive_expander.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace takedown {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

namespace fs = std::filesystem;

// Long byte strings are compared through a short summary, so a failure
// prints something readable.
std::string Summary(const std::string& bytes) {
  if (bytes.size() <= 64) return bytes;
  return fmt::format("<{} bytes, hash {:016x}>", bytes.size(), std::hash<std::string>{}(bytes));
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xFF);
  return out;
}

// Builds an archive in memory with libarchive's write API.
class ArchiveWriter {
 public:
  // `format` and `filter` are libarchive names ("zip", "pax", "ustar",
  // "7zip", "raw"; "gzip", "bzip2", "xz"). ok() is false when libarchive
  // rejects the format, filter, options or passphrase.
  explicit ArchiveWriter(const char* format, const char* filter = nullptr, const char* options = nullptr,
                         const char* passphrase = nullptr)
      : a_(archive_write_new()) {
    ok_ = archive_write_set_format_by_name(a_, format) == ARCHIVE_OK;
    if (ok_ && filter != nullptr) ok_ = archive_write_add_filter_by_name(a_, filter) == ARCHIVE_OK;
    if (ok_ && options != nullptr) ok_ = archive_write_set_options(a_, options) == ARCHIVE_OK;
    if (ok_ && passphrase != nullptr) ok_ = archive_write_set_passphrase(a_, passphrase) == ARCHIVE_OK;
    archive_write_set_bytes_in_last_block(a_, 1);
    if (ok_) ok_ = archive_write_open(a_, &out_, nullptr, &Write, nullptr) == ARCHIVE_OK;
  }
  ~ArchiveWriter() { archive_write_free(a_); }
  ArchiveWriter(const ArchiveWriter&) = delete;
  ArchiveWriter& operator=(const ArchiveWriter&) = delete;

  bool ok() const { return ok_; }

  ArchiveWriter& Add(const std::string& name, const std::string& bytes) {
    AddEntry(name, AE_IFREG, bytes, nullptr);
    return *this;
  }
  ArchiveWriter& AddDirectory(const std::string& name) {
    AddEntry(name, AE_IFDIR, "", nullptr);
    return *this;
  }
  ArchiveWriter& AddSymlink(const std::string& name, const char* target) {
    AddEntry(name, AE_IFLNK, "", target);
    return *this;
  }

  std::string Finish() {
    EXPECT_EQ(archive_write_close(a_), ARCHIVE_OK) << archive_error_string(a_);
    return std::move(out_);
  }

 private:
  static la_ssize_t Write(struct archive*, void* self, const void* buffer, size_t length) {
    static_cast<std::string*>(self)->append(static_cast<const char*>(buffer), length);
    return static_cast<la_ssize_t>(length);
  }

  void AddEntry(const std::string& name, unsigned type, const std::string& bytes, const char* target) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, name.c_str());
    archive_entry_set_filetype(entry, type);
    archive_entry_set_perm(entry, type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_mtime(entry, 1700000000, 0);
    archive_entry_set_size(entry, static_cast<la_int64_t>(bytes.size()));
    if (target != nullptr) archive_entry_set_symlink(entry, target);
    EXPECT_GE(archive_write_header(a_, entry), ARCHIVE_WARN) << name << ": " << archive_error_string(a_);
    if (!bytes.empty()) {
      EXPECT_EQ(archive_write_data(a_, bytes.data(), bytes.size()), static_cast<la_ssize_t>(bytes.size()))
          << archive_error_string(a_);
    }
    archive_entry_free(entry);
  }

  struct archive* a_;
  std::string out_;
  bool ok_ = false;
};

// A zip holding one member of `zero_bytes` zeros, deflated by zlib. A full
// flush after each 1 MiB chunk resets the compressor, so every chunk after
// the first compresses to the same bytes: the bomb costs two chunks' CPU and
// about 1 KiB per MiB of memory however large it claims to be
// (ZerosZipGeneratorMakesAValidZip checks that it inflates to the zeros).
std::string ZerosZip(const std::string& name, uint64_t zero_bytes) {
  constexpr size_t kChunk = 1 << 20;
  EXPECT_EQ(zero_bytes % kChunk, 0u);
  std::vector<uint8_t> zeros(kChunk, 0);
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
  auto deflate_chunk = [&](uint8_t* input, size_t length, int flush) {
    std::string out;
    z.next_in = input;
    z.avail_in = static_cast<uInt>(length);
    std::vector<uint8_t> buffer(1 << 16);
    do {
      z.next_out = buffer.data();
      z.avail_out = static_cast<uInt>(buffer.size());
      EXPECT_NE(deflate(&z, flush), Z_STREAM_ERROR);
      out.append(reinterpret_cast<char*>(buffer.data()), buffer.size() - z.avail_out);
    } while (z.avail_out == 0);
    return out;
  };
  const uint64_t chunks = zero_bytes / kChunk;
  std::string data = deflate_chunk(zeros.data(), kChunk, Z_FULL_FLUSH);
  if (chunks > 1) {
    const std::string repeated = deflate_chunk(zeros.data(), kChunk, Z_FULL_FLUSH);
    for (uint64_t i = 1; i < chunks; ++i) data += repeated;
  }
  data += deflate_chunk(nullptr, 0, Z_FINISH);
  deflateEnd(&z);
  uLong chunk_crc = crc32(0L, zeros.data(), static_cast<uInt>(kChunk));
  uLong crc = 0;
  for (uint64_t i = 0; i < chunks; ++i) crc = crc32_combine(crc, chunk_crc, kChunk);

  auto le16 = [](std::string& s, uint16_t v) {
    s += static_cast<char>(v & 0xFF);
    s += static_cast<char>(v >> 8);
  };
  auto le32 = [&](std::string& s, uint32_t v) {
    le16(s, static_cast<uint16_t>(v & 0xFFFF));
    le16(s, static_cast<uint16_t>(v >> 16));
  };
  std::string zip;
  le32(zip, 0x04034b50);
  le16(zip, 20);
  le16(zip, 0);
  le16(zip, 8);
  le16(zip, 0);
  le16(zip, 0x21);
  le32(zip, static_cast<uint32_t>(crc));
  le32(zip, static_cast<uint32_t>(data.size()));
  le32(zip, static_cast<uint32_t>(zero_bytes));
  le16(zip, static_cast<uint16_t>(name.size()));
  le16(zip, 0);
  zip += name;
  zip += data;
  const auto central_offset = static_cast<uint32_t>(zip.size());
  le32(zip, 0x02014b50);
  le16(zip, 20);
  le16(zip, 20);
  le16(zip, 0);
  le16(zip, 8);
  le16(zip, 0);
  le16(zip, 0x21);
  le32(zip, static_cast<uint32_t>(crc));
  le32(zip, static_cast<uint32_t>(data.size()));
  le32(zip, static_cast<uint32_t>(zero_bytes));
  le16(zip, static_cast<uint16_t>(name.size()));
  le16(zip, 0);
  le16(zip, 0);
  le16(zip, 0);
  le16(zip, 0);
  le32(zip, 0);
  le32(zip, 0);
  zip += name;
  const auto central_size = static_cast<uint32_t>(zip.size() - central_offset);
  le32(zip, 0x06054b50);
  le16(zip, 0);
  le16(zip, 0);
  le16(zip, 1);
  le16(zip, 1);
  le32(zip, central_size);
  le32(zip, central_offset);
  le16(zip, 0);
  return zip;
}

// Serves bytes in chunks of at most `chunk` bytes; after `fail_after` bytes,
// fails with `failure`.
class StringReader : public ObjectReader {
 public:
  explicit StringReader(std::string bytes, size_t chunk = 4096, size_t fail_after = SIZE_MAX,
                        absl::Status failure = absl::OkStatus())
      : bytes_(std::move(bytes)), chunk_(chunk), fail_after_(fail_after), failure_(std::move(failure)) {}
  absl::StatusOr<size_t> Read(std::span<uint8_t> buffer) override {
    if (position_ >= fail_after_) return failure_;
    size_t n = std::min({buffer.size(), chunk_, bytes_.size() - position_, fail_after_ - position_});
    std::memcpy(buffer.data(), bytes_.data() + position_, n);
    position_ += n;
    bytes_read_ += n;
    return n;
  }
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  std::string bytes_;
  size_t chunk_;
  size_t fail_after_;
  absl::Status failure_;
  size_t position_ = 0;
  uint64_t bytes_read_ = 0;
};

struct Visited {
  ArchiveMember member;
  std::string bytes;
  uint64_t byte_count = 0;
};

class RecordingVisitor : public ArchiveVisitor {
 public:
  absl::Status OnMember(const ArchiveMember& member, ObjectReader& bytes) override {
    if (members.size() == abort_at) return abort_status;
    Visited v{member, "", 0};
    std::vector<uint8_t> buffer(read_size);
    while (v.byte_count < read_at_most) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), read_at_most - v.byte_count));
      absl::StatusOr<size_t> n = bytes.Read(std::span<uint8_t>(buffer.data(), want));
      if (!n.ok()) return n.status();
      if (*n == 0) break;
      if (keep_bytes) v.bytes.append(reinterpret_cast<const char*>(buffer.data()), *n);
      v.byte_count += *n;
    }
    total_read += v.byte_count;
    members.push_back(std::move(v));
    return absl::OkStatus();
  }

  void OnUnreadable(const ArchiveMember& member, std::string_view reason) override {
    EXPECT_EQ(member.error, reason);
    unreadable.emplace_back(member.key, std::string(reason));
  }

  std::vector<std::string> Keys() const {
    std::vector<std::string> keys;
    for (const Visited& v : members) keys.push_back(v.member.key);
    return keys;
  }
  std::map<std::string, std::string> BytesByKey() const {
    std::map<std::string, std::string> out;
    for (const Visited& v : members) out[v.member.key] = Summary(v.bytes);
    return out;
  }
  const Visited* Find(const std::string& key) const {
    for (const Visited& v : members) {
      if (v.member.key == key) return &v;
    }
    return nullptr;
  }

  // Options.
  bool keep_bytes = true;
  size_t read_size = 4096;
  uint64_t read_at_most = UINT64_MAX;
  size_t abort_at = SIZE_MAX;
  absl::Status abort_status;

  std::vector<Visited> members;
  std::vector<std::pair<std::string, std::string>> unreadable;
  uint64_t total_read = 0;
};

absl::Status Expand(const std::string& key, std::string bytes, RecordingVisitor& visitor,
                    const ArchiveLimits& limits = ArchiveLimits()) {
  StringReader reader(std::move(bytes));
  return ExpandArchive(key, reader, limits, visitor);
}

long MaxRssKib() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

TEST(LooksLikeArchive, RecognisesMagicNumbers) {
  struct Case {
    std::string head;
    bool archive;
  };
  std::string ustar(512, '\0');
  ustar.replace(257, 6, std::string("ustar\0", 6));
  const Case cases[] = {
      {std::string("PK\x03\x04\x14\x00", 6), true},
      {std::string("PK\x05\x06\x00\x00", 6), true},
      {std::string("\x1F\x8B\x08\x00", 4), true},
      {"BZh91AY&SY", true},
      {std::string("\xFD\x37zXZ\x00\x00", 7), true},
      {std::string("7z\xBC\xAF\x27\x1C\x00\x04", 8), true},
      {std::string("Rar!\x1A\x07\x00\xCF", 8), true},
      {std::string("Rar!\x1A\x07\x01\x00", 8), true},
      {ustar, true},
      {"", false},
      {"PK", false},
      {"BZh0", false},
      {"BZx9", false},
      {std::string("\xFF\xD8\xFF\xE0", 4), false},
      {std::string("\x89PNG\r\n\x1A\n", 8), false},
      {"hello world, this is text", false},
      {std::string(512, '\0'), false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(LooksLikeArchive(c.head), c.archive) << testing::PrintToString(c.head.substr(0, 8));
  }
}

TEST(LooksLikeArchive, RecognisesWhatLibarchiveWrites) {
  const std::pair<const char*, const char*> kinds[] = {
      {"zip", nullptr}, {"ustar", nullptr}, {"pax", nullptr}, {"gnutar", nullptr}, {"v7tar", nullptr},
      {"pax", "gzip"},  {"pax", "bzip2"},   {"pax", "xz"},    {"7zip", nullptr},
  };
  for (const auto& [format, filter] : kinds) {
    ArchiveWriter writer(format, filter);
    ASSERT_TRUE(writer.ok()) << format;
    std::string bytes = writer.Add("a.txt", "hello").Finish();
    EXPECT_TRUE(LooksLikeArchive(std::string_view(bytes).substr(0, 512)))
        << format << " " << (filter ? filter : "");
  }
}

TEST(NormalizeMemberName, MakesSafeUnambiguousKeys) {
  const std::pair<std::string, std::string> cases[] = {
      {"a/b.jpg", "a/b.jpg"},
      {"/etc/passwd", "etc/passwd"},
      {"//x//y/", "x/y"},
      {"./a/./b", "a/b"},
      {"../../etc/passwd", "%2E%2E/%2E%2E/etc/passwd"},
      {"a/../b", "a/%2E%2E/b"},
      {"...", "..."},
      {"..a/b..", "..a/b.."},
      {"a!b#c%d", "a%21b%23c%25d"},
      {std::string("x\x01y\x7F\n", 5), "x%01y%7F%0A"},
      {std::string("nul\0byte", 8), "nul%00byte"},
      {"caf\xC3\xA9.jpg", "caf\xC3\xA9.jpg"},
      {"dir\\win\\path.txt", "dir\\win\\path.txt"},
      {"", "%2E"},
      {"/", "%2E"},
      {".", "%2E"},
      {"./", "%2E"},
  };
  for (const auto& [name, key] : cases) {
    EXPECT_EQ(NormalizeMemberName(name), key) << testing::PrintToString(name);
  }
}

TEST(NormalizeMemberName, TruncatesLongNamesWithoutSplittingEscapes) {
  std::string plain = NormalizeMemberName(std::string(5000, 'a'));
  EXPECT_EQ(plain, std::string(1024, 'a') + "#truncated");
  // 1023 'a's then "!" (escaped to %21): the escape would straddle byte 1024.
  std::string escaped = NormalizeMemberName(std::string(1023, 'a') + "!!!!");
  EXPECT_EQ(escaped, std::string(1023, 'a') + "#truncated");
}

TEST(ExpandArchive, ReadsEveryFormatWithTheSameMembers) {
  const std::string binary = RandomBytes(70'000, 7);
  const std::pair<const char*, const char*> kinds[] = {
      {"zip", nullptr}, {"ustar", nullptr}, {"pax", "gzip"},   {"gnutar", "bzip2"},
      {"pax", "xz"},    {"7zip", nullptr},  {"ustar", "gzip"},
  };
  for (const auto& [format, filter] : kinds) {
    SCOPED_TRACE(std::string(format) + "+" + (filter ? filter : "none"));
    ArchiveWriter writer(format, filter);
    ASSERT_TRUE(writer.ok());
    writer.Add("a.txt", "hello")
        .AddDirectory("dir/")
        .Add("dir/b.bin", binary)
        .Add("dir/sub/empty.txt", "")
        .AddSymlink("link", "a.txt");
    RecordingVisitor visitor;
    ASSERT_TRUE(Expand("store/x.arc", writer.Finish(), visitor).ok());
    EXPECT_THAT(visitor.BytesByKey(), ElementsAre(Pair("store/x.arc!a.txt", "hello"),
                                                  Pair("store/x.arc!dir/b.bin", Summary(binary)),
                                                  Pair("store/x.arc!dir/sub/empty.txt", "")));
    EXPECT_THAT(visitor.unreadable, IsEmpty());
    for (const Visited& v : visitor.members) {
      EXPECT_EQ(v.member.depth, 1);
      EXPECT_EQ(v.member.error, "");
      EXPECT_EQ(v.member.not_expanded, "");
      if (v.member.size_known) {
        EXPECT_EQ(v.member.size, v.byte_count) << v.member.key;
      }
    }
  }
}

TEST(ExpandArchive, TarDeclaresMemberSizes) {
  ArchiveWriter writer("ustar");
  RecordingVisitor visitor;
  ASSERT_TRUE(Expand("t.tar", writer.Add("a", "12345").Finish(), visitor).ok());
  ASSERT_EQ(visitor.members.size(), 1u);
  EXPECT_TRUE(visitor.members[0].member.size_known);
  EXPECT_EQ(visitor.members[0].member.size, 5u);
}

TEST(ExpandArchive, ACompressedFileHasOneMemberNamedWithoutItsSuffix) {
  const std::string content = RandomBytes(10'000, 3) + std::string(10'000, 'x');
  const std::pair<const char*, std::string> kinds[] = {
      {"gzip", "photos/x.jpg.gz"}, {"bzip2", "photos/x.jpg.bz2"}, {"xz", "photos/x.jpg.XZ"}};
  for (const auto& [filter, key] : kinds) {
    SCOPED_TRACE(filter);
    ArchiveWriter writer("raw", filter);
    ASSERT_TRUE(writer.ok());
    RecordingVisitor visitor;
    ASSERT_TRUE(Expand(key, writer.Add("ignored", content).Finish(), visitor).ok());
    EXPECT_THAT(visitor.BytesByKey(), ElementsAre(Pair(key + "!x.jpg", Summary(content))));
  }
  ArchiveWriter writer("raw", "gzip");
  RecordingVisitor visitor;
  ASSERT_TRUE(Expand("blob", writer.Add("ignored", content).Finish(), visitor).ok());
  EXPECT_THAT(visitor.Keys(), ElementsAre("blob!blob"));
}

std::string Hex(const std::string& bytes) {
  std::string out;
  for (char c : bytes) out += fmt::format("{:02x}", static_cast<unsigned char>(c));
  return out;
}

// SHA-256 of each member, computed while streaming it in small reads.
class DigestingVisitor : public ArchiveVisitor {
 public:
  absl::Status OnMember(const ArchiveMember& member, ObjectReader& bytes) override {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    EXPECT_EQ(EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr), 1);
    std::vector<uint8_t> buffer(1000);
    while (true) {
      absl::StatusOr<size_t> n = bytes.Read(buffer);
      if (!n.ok()) return n.status();
      if (*n == 0) break;
      EXPECT_EQ(EVP_DigestUpdate(context.get(), buffer.data(), *n), 1);
    }
    std::string digest(EVP_MAX_MD_SIZE, '\0');
    unsigned int length = 0;
    EXPECT_EQ(EVP_DigestFinal_ex(context.get(), reinterpret_cast<unsigned char*>(digest.data()), &length), 1);
    digest.resize(length);
    digests[member.key] = Hex(digest);
    depths[member.key] = member.depth;
    order.push_back(member.key);
    return absl::OkStatus();
  }
  void OnUnreadable(const ArchiveMember& member, std::string_view reason) override {
    ADD_FAILURE() << member.key << ": " << reason;
  }
  std::map<std::string, std::string> digests;
  std::map<std::string, int> depths;
  std::vector<std::string> order;
};

std::string Sha256(const std::string& bytes) {
  std::string digest(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
         reinterpret_cast<unsigned char*>(digest.data()));
  return Hex(digest);
}

TEST(ExpandArchive, NestedArchivesGetChainedKeysAndTheirOwnBytes) {
  const std::string photo = RandomBytes(30'000, 11);
  const std::string note = "middle level note";
  const std::string top = "top level text";

  ArchiveWriter deep_writer("zip");
  const std::string deep_zip = deep_writer.Add("img/file.jpg", photo).Finish();
  ArchiveWriter middle_writer("pax", "gzip");
  const std::string middle_tgz = middle_writer.Add("dir/deep.zip", deep_zip).Add("mid.txt", note).Finish();
  ArchiveWriter outer_writer("zip");
  const std::string outer_zip = outer_writer.Add("top.txt", top).Add("inner.tar.gz", middle_tgz).Finish();

  DigestingVisitor visitor;
  StringReader reader(outer_zip);
  ASSERT_TRUE(ExpandArchive("outer.zip", reader, ArchiveLimits(), visitor).ok());

  EXPECT_THAT(visitor.order,
              ElementsAre("outer.zip!top.txt", "outer.zip!inner.tar.gz!dir/deep.zip!img/file.jpg",
                          "outer.zip!inner.tar.gz!dir/deep.zip", "outer.zip!inner.tar.gz!mid.txt",
                          "outer.zip!inner.tar.gz"));
  EXPECT_EQ(visitor.digests["outer.zip!top.txt"], Sha256(top));
  EXPECT_EQ(visitor.digests["outer.zip!inner.tar.gz"], Sha256(middle_tgz));
  EXPECT_EQ(visitor.digests["outer.zip!inner.tar.gz!mid.txt"], Sha256(note));
  EXPECT_EQ(visitor.digests["outer.zip!inner.tar.gz!dir/deep.zip"], Sha256(deep_zip));
  EXPECT_EQ(visitor.digests["outer.zip!inner.tar.gz!dir/deep.zip!img/file.jpg"], Sha256(photo));
  EXPECT_EQ(visitor.depths["outer.zip!inner.tar.gz"], 1);
  EXPECT_EQ(visitor.depths["outer.zip!inner.tar.gz!mid.txt"], 2);
  EXPECT_EQ(visitor.depths["outer.zip!inner.tar.gz!dir/deep.zip!img/file.jpg"], 3);
}

TEST(ExpandArchive, SevenZipInsideAStreamedArchiveIsExpanded) {
  ArchiveWriter inner_writer("7zip");
  const std::string inner = inner_writer.Add("p/q.txt", "seven").Finish();
  ArchiveWriter outer_writer("pax", "xz");
  RecordingVisitor visitor;
  ASSERT_TRUE(Expand("o.tar.xz", outer_writer.Add("in.7z", inner).Finish(), visitor).ok());
  EXPECT_THAT(visitor.BytesByKey(),
              ElementsAre(Pair("o.tar.xz!in.7z", Summary(inner)), Pair("o.tar.xz!in.7z!p/q.txt", "seven")));
}

std::string NestedZips(int levels, const std::string& leaf_name, const std::string& leaf) {
  std::string bytes = leaf;
  std::string name = leaf_name;
  for (int i = levels; i >= 1; --i) {
    ArchiveWriter writer("zip");
    bytes = writer.Add(name, bytes).Finish();
    name = fmt::format("l{}.zip", i);
  }
  return bytes;
}

TEST(ExpandArchive, StopsExpandingBeyondMaxDepth) {
  // a.zip!l2.zip!l3.zip!d.txt: three levels of archives.
  const std::string outer = NestedZips(3, "d.txt", "deepest");
  ArchiveLimits limits;
  limits.max_depth = 2;
  RecordingVisitor visitor;
  ASSERT_TRUE(Expand("a.zip", outer, visitor, limits).ok());
  EXPECT_THAT(visitor.Keys(), ElementsAre("a.zip!l2.zip!l3.zip", "a.zip!l2.zip"));
  EXPECT_THAT(visitor.members[0].member.not_expanded,
              AllOf(HasSubstr("limits.archive_max_depth (2)"), HasSubstr("level 3")));
  EXPECT_EQ(visitor.members[1].member.not_expanded, "");
  EXPECT_TRUE(LooksLikeArchive(visitor.members[0].bytes));

  limits.max_depth = 3;
  RecordingVisitor deeper;
  ASSERT_TRUE(Expand("a.zip", outer, deeper, limits).ok());
  EXPECT_THAT(deeper.Keys(), ElementsAre("a.zip!l2.zip!l3.zip!d.txt", "a.zip!l2.zip!l3.zip", "a.zip!l2.zip"));
  EXPECT_EQ(deeper.BytesByKey()["a.zip!l2.zip!l3.zip!d.txt"], "deepest");
}

TEST(ExpandArchive, RefusesMoreMembersThanTheLimit) {
  ArchiveWriter writer("zip");
  for (int i = 0; i < 10; ++i) writer.Add(fmt::format("f{}.txt", i), fmt::format("file {}", i));
  ArchiveLimits limits;
  limits.max_members = 4;
  RecordingVisitor visitor;
  absl::Status status = Expand("many.zip", writer.Finish(), visitor, limits);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(status.message()),
              AllOf(StartsWith("archive many.zip: "), HasSubstr("limits.archive_max_members (4)")));
  EXPECT_THAT(visitor.Keys(),
              ElementsAre("many.zip!f0.txt", "many.zip!f1.txt", "many.zip!f2.txt", "many.zip!f3.txt"));
}

TEST(ExpandArchive, MemberCountCoversNestedLevelsAndDirectories) {
  ArchiveWriter inner_writer("zip");
  const std::string inner = inner_writer.Add("x", "1").Add("y", "2").Finish();
  ArchiveWriter outer_writer("ustar");
  outer_writer.AddDirectory("d/").Add("d/in.zip", inner);
  ArchiveLimits limits;
  limits.max_members = 3;  // d/, d/in.zip, x; y is the fourth
  RecordingVisitor visitor;
  absl::Status status = Expand("o.tar", outer_writer.Finish(), visitor, limits);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(visitor.Keys(), ElementsAre("o.tar!d/in.zip!x", "o.tar!d/in.zip"));
  EXPECT_THAT(visitor.members[1].member.not_expanded, HasSubstr("limits.archive_max_members (3)"));
}

TEST(ExpandArchive, RefusesMoreTotalBytesThanTheLimit) {
  ArchiveWriter writer("ustar");
  for (int i = 0; i < 5; ++i) writer.Add(fmt::format("f{}", i), RandomBytes(100'000, i));
  ArchiveLimits limits;
  limits.max_total_bytes = 250'000;
  RecordingVisitor visitor;
  absl::Status status = Expand("big.tar", writer.Finish(), visitor, limits);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(std::string(status.message()),
            "archive big.tar: expanded bytes exceed limits.archive_max_total_bytes (250000)");
  EXPECT_THAT(visitor.Keys(), ElementsAre("big.tar!f0", "big.tar!f1"));
  EXPECT_THAT(visitor.unreadable, ElementsAre(Pair("big.tar!f2", std::string(status.message()))));
}

TEST(ExpandArchive, RefusesAMemberDeclaredLargerThanTheLimit) {
  ArchiveWriter writer("ustar");
  writer.Add("small", "ok").Add("large", RandomBytes(5000, 1)).Add("after", "never read");
  ArchiveLimits limits;
  limits.max_member_bytes = 4096;
  RecordingVisitor visitor;
  absl::Status status = Expand("m.tar", writer.Finish(), visitor, limits);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(
      std::string(status.message()),
      "archive m.tar: member m.tar!large declares 5000 bytes, over limits.archive_max_member_bytes (4096)");
  EXPECT_THAT(visitor.Keys(), ElementsAre("m.tar!small"));
  EXPECT_THAT(visitor.unreadable, ElementsAre(Pair("m.tar!large", std::string(status.message()))));
}

TEST(ExpandArchive, RefusesAStreamingMemberThatGrowsPastTheLimit) {
  // A compressed file does not declare its size: the limit trips mid-stream.
  ArchiveWriter writer("raw", "gzip");
  const std::string compressed = writer.Add("x", RandomBytes(100'000, 5)).Finish();
  ArchiveLimits limits;
  limits.max_member_bytes = 50'000;
  RecordingVisitor visitor;
  absl::Status status = Expand("x.bin.gz", compressed, visitor, limits);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(std::string(status.message()),
            "archive x.bin.gz: member x.bin.gz!x.bin expands past limits.archive_max_member_bytes (50000)");
  EXPECT_THAT(visitor.Keys(), IsEmpty());
  EXPECT_THAT(visitor.unreadable, ElementsAre(Pair("x.bin.gz!x.bin", std::string(status.message()))));
}

TEST(ExpandArchive, ZerosZipGeneratorMakesAValidZip) {
  const std::string zip = ZerosZip("zeros.bin", 16 << 20);
  EXPECT_LT(zip.size(), 64u << 10);
  ArchiveLimits limits;
  limits.max_ratio = 1e9;
  RecordingVisitor visitor;
  visitor.keep_bytes = false;
  ASSERT_TRUE(Expand("z.zip", zip, visitor, limits).ok());
  ASSERT_EQ(visitor.members.size(), 1u);
  EXPECT_EQ(visitor.members[0].member.key, "z.zip!zeros.bin");
  EXPECT_EQ(visitor.members[0].byte_count, 16u << 20);
}

TEST(ExpandArchive, RefusesAZipBombEarlyWithBoundedMemory) {
  const std::string bomb = ZerosZip("zeros.bin", 1ull << 30);  // 1 GiB of zeros in about 1 MiB
  ASSERT_LT(bomb.size(), 2u << 20);
  const long rss_before = MaxRssKib();
  RecordingVisitor visitor;
  visitor.keep_bytes = false;
  visitor.read_size = 1 << 20;
  StringReader reader(bomb, 1 << 20);
  absl::Status status = ExpandArchive("bomb.zip", reader, ArchiveLimits(), visitor);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(
      std::string(status.message()),
      AllOf(StartsWith("archive bomb.zip: compression ratio exceeds limits.archive_max_ratio (200)")));
  EXPECT_THAT(visitor.unreadable, ElementsAre(Pair("bomb.zip!zeros.bin", std::string(status.message()))));
  // Refused after a few MiB, not after the whole GiB.
  EXPECT_LT(visitor.total_read, 32u << 20);
  EXPECT_LT(MaxRssKib() - rss_before, 64 << 10);
}

TEST(ExpandArchive, RefusesANestedBombEarly) {
  // 16 copies of a 1 GiB zeros zip inside one zip, 42.zip-style.
  const std::string bomb = ZerosZip("zeros.bin", 1ull << 30);
  ArchiveWriter writer("zip");
  for (int i = 0; i < 16; ++i) writer.Add(fmt::format("layer{}.zip", i), bomb);
  const std::string outer = writer.Finish();
  RecordingVisitor visitor;
  visitor.keep_bytes = false;
  visitor.read_size = 1 << 20;
  const long rss_before = MaxRssKib();
  absl::Status status = Expand("42.zip", outer, visitor);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(status.message()), HasSubstr("limits.archive_max_ratio (200)"));
  EXPECT_LT(visitor.total_read, 64u << 20);
  EXPECT_LT(MaxRssKib() - rss_before, 96 << 10);
}

TEST(ExpandArchive, RatioGraceLetsSmallCompressibleFilesThrough) {
  ArchiveWriter writer("zip");
  const std::string zeros(512 << 10, '\0');  // ratio far above 200, below the grace
  RecordingVisitor visitor;
  ASSERT_TRUE(Expand("z.zip", writer.Add("zeros", zeros).Finish(), visitor).ok());
  EXPECT_EQ(visitor.BytesByKey()["z.zip!zeros"], Summary(zeros));
}

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/takedown_archive_test_XXXXXX";
    const char* made = mkdtemp(pattern);
    EXPECT_NE(made, nullptr);
    path_ = made != nullptr ? made : "";
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::set<std::string> TreeOf(const std::string& root) {
  std::set<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    found.insert(fs::relative(entry.path(), root).string());
  }
  return found;
}

TEST(ExpandArchive, PathTraversalNamesGiveSafeKeysAndNothingIsWritten) {
  TempDir temp;
  const std::string work = temp.path() + "/a/b";
  fs::create_directories(work);
  const fs::path previous = fs::current_path();
  fs::current_path(work);

  ArchiveWriter inner_writer("ustar");
  const std::string inner = inner_writer.Add("../../../escape.txt", "tar escape").Finish();
  ArchiveWriter writer("zip");
  writer.Add("../../etc/passwd", "root:x:0:0")
      .Add("/abs/path.txt", "absolute")
      .Add("a/../../b.txt", "sneaky")
      .Add("./x/./y.txt", "dots")
      .Add("../nested.tar", inner);
  RecordingVisitor visitor;
  absl::Status status = Expand("up.zip", writer.Finish(), visitor);
  fs::current_path(previous);
  ASSERT_TRUE(status.ok()) << status;

  EXPECT_THAT(visitor.BytesByKey(),
              ElementsAre(Pair("up.zip!%2E%2E/%2E%2E/etc/passwd", "root:x:0:0"),
                          Pair("up.zip!%2E%2E/nested.tar", Summary(inner)),
                          Pair("up.zip!%2E%2E/nested.tar!%2E%2E/%2E%2E/%2E%2E/escape.txt", "tar escape"),
                          Pair("up.zip!a/%2E%2E/%2E%2E/b.txt", "sneaky"),
                          Pair("up.zip!abs/path.txt", "absolute"), Pair("up.zip!x/y.txt", "dots")));
  EXPECT_THAT(TreeOf(temp.path()), UnorderedElementsAre("a", "a/b"));
}

TEST(ExpandArchive, DuplicateNamesGetNumberedKeys) {
  ArchiveWriter writer("ustar");
  writer.Add("a.txt", "first").Add("a.txt", "second").Add("./a.txt", "third").Add("b#2", "hash in name");
  RecordingVisitor visitor;
  ASSERT_TRUE(Expand("d.tar", writer.Finish(), visitor).ok());
  EXPECT_THAT(visitor.BytesByKey(),
              ElementsAre(Pair("d.tar!a.txt", "first"), Pair("d.tar!a.txt#2", "second"),
                          Pair("d.tar!a.txt#3", "third"), Pair("d.tar!b%232", "hash in name")));
}

TEST(ExpandArchive, CorruptArchiveGivesDataLoss) {
  ArchiveWriter writer("pax", "gzip");
  const std::string tgz = writer.Add("a.bin", RandomBytes(200'000, 2)).Add("b.txt", "b").Finish();
  RecordingVisitor visitor;
  absl::Status status = Expand("cut.tar.gz", tgz.substr(0, tgz.size() / 2), visitor);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith("archive cut.tar.gz: "));
  EXPECT_THAT(visitor.Keys(), IsEmpty());
  ASSERT_EQ(visitor.unreadable.size(), 1u);
  EXPECT_EQ(visitor.unreadable[0].first, "cut.tar.gz!a.bin");

  std::string garbage = std::string("PK\x03\x04", 4) + RandomBytes(4000, 9);
  RecordingVisitor garbage_visitor;
  status = Expand("garbage.zip", garbage, garbage_visitor);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith("archive garbage.zip: "));
}

TEST(ExpandArchive, CorruptNestedArchiveStaysOnItsMember) {
  ArchiveWriter writer("ustar");
  const std::string bad = std::string("PK\x03\x04", 4) + RandomBytes(3000, 4);
  writer.Add("bad.zip", bad).Add("good.txt", "fine");
  RecordingVisitor visitor;
  ASSERT_TRUE(Expand("t.tar", writer.Finish(), visitor).ok());
  EXPECT_THAT(visitor.BytesByKey(),
              ElementsAre(Pair("t.tar!bad.zip", Summary(bad)), Pair("t.tar!good.txt", "fine")));
  EXPECT_THAT(visitor.Find("t.tar!bad.zip")->member.not_expanded, StartsWith("archive t.tar!bad.zip: "));
}

TEST(ExpandArchive, NonArchiveIsInvalidArgument) {
  for (const std::string& bytes : {std::string("just some text, not an archive"), std::string()}) {
    RecordingVisitor visitor;
    absl::Status status = Expand("note.txt", bytes, visitor);
    EXPECT_FALSE(status.ok());
    EXPECT_TRUE(status.code() == absl::StatusCode::kInvalidArgument ||
                status.code() == absl::StatusCode::kDataLoss)
        << status;
    EXPECT_THAT(std::string(status.message()), StartsWith("archive note.txt: "));
    EXPECT_THAT(visitor.Keys(), IsEmpty());
  }
  RecordingVisitor visitor;
  EXPECT_EQ(Expand("note.txt", "just some text, not an archive", visitor).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ExpandArchive, EncryptedMembersAreReportedUnreadable) {
  for (const char* method : {"zipcrypt", "aes256"}) {
    SCOPED_TRACE(method);
    ArchiveWriter writer("zip", nullptr, fmt::format("zip:encryption={}", method).c_str(), "secret");
    if (!writer.ok()) GTEST_SKIP() << "this libarchive cannot write " << method << "-encrypted zips";
    writer.Add("hidden/a.jpg", RandomBytes(3000, 8)).Add("b.txt", "b");
    const std::string encrypted = writer.Finish();
    ArchiveWriter outer_writer("ustar");
    outer_writer.Add("plain.txt", "visible").Add("secret.zip", encrypted);
    RecordingVisitor visitor;
    ASSERT_TRUE(Expand("o.tar", outer_writer.Finish(), visitor).ok());
    EXPECT_THAT(visitor.BytesByKey(), ElementsAre(Pair("o.tar!plain.txt", "visible"),
                                                  Pair("o.tar!secret.zip", Summary(encrypted))));
    ASSERT_EQ(visitor.unreadable.size(), 2u);
    EXPECT_EQ(visitor.unreadable[0].first, "o.tar!secret.zip!hidden/a.jpg");
    EXPECT_EQ(visitor.unreadable[1].first, "o.tar!secret.zip!b.txt");
    EXPECT_THAT(visitor.unreadable[0].second, HasSubstr("encrypted"));
  }
}

TEST(ExpandArchive, NestedArchiveOverTheBufferLimitIsVisitedButNotExpanded) {
  const std::string payload = RandomBytes(40'000, 12);
  ArchiveWriter inner_writer("ustar");
  const std::string inner = inner_writer.Add("inside.bin", payload).Finish();
  ArchiveWriter writer("zip");
  writer.Add("in.tar", inner).Add("next.txt", "next");
  ArchiveLimits limits;
  limits.max_buffered_bytes = 16 << 10;
  RecordingVisitor visitor;
  ASSERT_TRUE(Expand("o.zip", writer.Finish(), visitor, limits).ok());
  EXPECT_THAT(visitor.BytesByKey(),
              ElementsAre(Pair("o.zip!in.tar", Summary(inner)), Pair("o.zip!next.txt", "next")));
  EXPECT_THAT(visitor.Find("o.zip!in.tar")->member.not_expanded,
              HasSubstr("limits.archive_max_buffered_bytes (16384)"));
}

TEST(ExpandArchive, ZipOverTheBufferLimitIsStreamed) {
  const std::string payload = RandomBytes(40'000, 16);
  ArchiveWriter writer("zip");
  writer.Add("a.bin", payload).Add("b.txt", "b");
  ArchiveLimits limits;
  limits.max_buffered_bytes = 16 << 10;
  RecordingVisitor visitor;
  ASSERT_TRUE(Expand("s.zip", writer.Finish(), visitor, limits).ok());
  EXPECT_THAT(visitor.BytesByKey(),
              ElementsAre(Pair("s.zip!a.bin", Summary(payload)), Pair("s.zip!b.txt", "b")));
}

TEST(ExpandArchive, TruncatedZipStillGivesTheMembersBeforeTheCut) {
  // No central directory: the local headers are read in order.
  const std::string second = RandomBytes(20'000, 17);
  ArchiveWriter writer("zip");
  const std::string zip = writer.Add("first.txt", "complete").Add("second.bin", second).Finish();
  RecordingVisitor visitor;
  absl::Status status = Expand("cut.zip", zip.substr(0, zip.size() / 2), visitor);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_THAT(visitor.BytesByKey(), ElementsAre(Pair("cut.zip!first.txt", "complete")));
  ASSERT_EQ(visitor.unreadable.size(), 1u);
  EXPECT_EQ(visitor.unreadable[0].first, "cut.zip!second.bin");
}

TEST(ExpandArchive, TopLevelSevenZipOverTheBufferLimitIsRefused) {
  ArchiveWriter writer("7zip");
  const std::string archive = writer.Add("r.bin", RandomBytes(40'000, 13)).Finish();
  ArchiveLimits limits;
  limits.max_buffered_bytes = 16 << 10;
  RecordingVisitor visitor;
  absl::Status status = Expand("r.7z", archive, visitor, limits);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(status.message()), HasSubstr("limits.archive_max_buffered_bytes (16384)"));
  EXPECT_THAT(visitor.Keys(), IsEmpty());
}

TEST(ExpandArchive, ReaderErrorKeepsItsCode) {
  ArchiveWriter writer("ustar");
  const std::string tar = writer.Add("a.bin", RandomBytes(100'000, 6)).Add("b", "b").Finish();
  StringReader reader(tar, 4096, 50'000, absl::UnavailableError("bucket went away"));
  RecordingVisitor visitor;
  absl::Status status = ExpandArchive("s3.tar", reader, ArchiveLimits(), visitor);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(status.message()),
              AllOf(StartsWith("archive s3.tar: "), HasSubstr("bucket went away")));
  EXPECT_THAT(visitor.unreadable, ElementsAre(Pair("s3.tar!a.bin", std::string(status.message()))));
}

TEST(ExpandArchive, VisitorErrorAbortsUnchanged) {
  ArchiveWriter writer("zip");
  writer.Add("1", "one").Add("2", "two").Add("3", "three");
  RecordingVisitor visitor;
  visitor.abort_at = 1;
  visitor.abort_status = absl::InternalError("store is down");
  absl::Status status = Expand("v.zip", writer.Finish(), visitor);
  EXPECT_EQ(status, absl::InternalError("store is down"));
  EXPECT_THAT(visitor.Keys(), ElementsAre("v.zip!1"));
  EXPECT_THAT(visitor.unreadable, IsEmpty());
}

TEST(ExpandArchive, VisitorErrorInsideANestedArchiveAbortsUnchanged) {
  ArchiveWriter inner_writer("zip");
  const std::string inner = inner_writer.Add("x", "x").Add("y", "y").Finish();
  ArchiveWriter writer("zip");
  writer.Add("in.zip", inner).Add("after", "after");
  RecordingVisitor visitor;
  visitor.abort_at = 1;
  visitor.abort_status = absl::InternalError("store is down");
  EXPECT_EQ(Expand("o.zip", writer.Finish(), visitor), absl::InternalError("store is down"));
  EXPECT_THAT(visitor.Keys(), ElementsAre("o.zip!in.zip!x"));
}

TEST(ExpandArchive, PartlyReadMembersDoNotDisturbTheNext) {
  const std::string first = RandomBytes(100'000, 14);
  const std::string second = RandomBytes(50'000, 15);
  for (const char* format : {"zip", "pax"}) {
    SCOPED_TRACE(format);
    ArchiveWriter writer(format, std::string(format) == "pax" ? "gzip" : nullptr);
    writer.Add("first", first).Add("second", second);
    RecordingVisitor visitor;
    visitor.read_size = 1000;
    visitor.read_at_most = 1000;
    ASSERT_TRUE(Expand("p", writer.Finish(), visitor).ok());
    EXPECT_THAT(visitor.BytesByKey(), ElementsAre(Pair("p!first", Summary(first.substr(0, 1000))),
                                                  Pair("p!second", Summary(second.substr(0, 1000)))));
  }
}

TEST(ExpandArchive, RejectsInvalidLimits) {
  RecordingVisitor visitor;
  ArchiveLimits limits;
  limits.max_depth = 0;
  EXPECT_EQ(Expand("x.zip", "PK", visitor, limits).code(), absl::StatusCode::kInvalidArgument);
  limits = ArchiveLimits();
  limits.max_ratio = 0;
  EXPECT_EQ(Expand("x.zip", "PK", visitor, limits).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace takedown
