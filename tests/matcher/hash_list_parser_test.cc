#include "matcher/hash_list_parser.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "common/hex.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace takedown {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// A distinct hex digest of `digits` hex digits derived from `n`.
std::string Hex(int n, size_t digits) {
  std::string h = fmt::format("{:08x}", n);
  while (h.size() < digits) h += fmt::format("{:x}", (h.size() * 7 + n) % 16);
  return h.substr(0, digits);
}
std::string Md5(int n) { return Hex(n, 32); }
std::string Sha1(int n) { return Hex(n, 40); }
std::string Sha256(int n) { return Hex(n, 64); }

std::string Sha256Hex(std::string_view data) {
  unsigned char out[32];
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr), 1);
  return HexEncode(std::span<const uint8_t>(out, len));
}

absl::StatusOr<HashList> Parse(std::string_view content, HashListLimits limits = {}) {
  return ParseHashList(content, "t.csv", "test-list", limits);
}

std::string Message(const absl::Status& status) { return std::string(status.message()); }

TEST(ParseHashList, ParsesEveryFieldOfCsv) {
  std::string content = "md5," + Md5(1) + ",csam,ncmec-1,a;b\n" + "sha1," + Sha1(2) + ",terrorist\n" +
                        "sha256," + Sha256(3) + ",other,x.y:z_9-1\n";
  auto list = Parse(content);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->name, "test-list");
  EXPECT_EQ(list->version, Sha256Hex(content));
  EXPECT_EQ(list->duplicate_lines, 0u);
  ASSERT_EQ(list->entries.size(), 3u);

  const HashListEntry& a = list->entries[0];
  EXPECT_EQ(a.type, HashType::kMd5);
  EXPECT_EQ(a.digest, *HexDecode(Md5(1)));
  EXPECT_EQ(a.digest.size(), 16u);
  EXPECT_EQ(a.category, ContentCategory::kCsam);
  EXPECT_EQ(a.entry_id, "ncmec-1");
  EXPECT_THAT(a.tags, ElementsAre("a", "b"));
  EXPECT_EQ(a.line, 1u);

  const HashListEntry& b = list->entries[1];
  EXPECT_EQ(b.type, HashType::kSha1);
  EXPECT_EQ(b.digest, *HexDecode(Sha1(2)));
  EXPECT_EQ(b.category, ContentCategory::kTerrorist);
  EXPECT_EQ(b.entry_id, "2");  // default: the line number
  EXPECT_TRUE(b.tags.empty());
  EXPECT_EQ(b.line, 2u);

  const HashListEntry& c = list->entries[2];
  EXPECT_EQ(c.type, HashType::kSha256);
  EXPECT_EQ(c.digest, *HexDecode(Sha256(3)));
  EXPECT_EQ(c.category, ContentCategory::kOther);
  EXPECT_EQ(c.entry_id, "x.y:z_9-1");
}

// The two examples of docs/hash-lists.md.
TEST(ParseHashList, DocumentedExamplesParse) {
  auto csv = Parse(
      "# NCMEC export 2026-11-02\n"
      "hash_type,hash,category,entry_id,tags\n"
      "md5,d41d8cd98f00b204e9800998ecf8427e,csam,ncmec-88121,series:alpha;verified\n"
      "sha1,DA39A3EE5E6B4B0D3255BFEF95601890AFD80709,csam,ncmec-88122\n"
      "sha256,e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855,terrorist,tco-17\n");
  ASSERT_TRUE(csv.ok()) << csv.status();
  ASSERT_EQ(csv->entries.size(), 3u);
  EXPECT_THAT(csv->entries[0].tags, ElementsAre("series:alpha", "verified"));
  EXPECT_EQ(HexEncode(csv->entries[1].digest), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(csv->entries[2].category, ContentCategory::kTerrorist);

  auto tsv = Parse(
      "md5\t900150983cd24fb0d6963f7d28e17f72\tother\n"
      "sha1\ta9993e364706816aba3e25717850c26c9cd0d89d\tcsam\t\thotline:inhope;2026\n");
  ASSERT_TRUE(tsv.ok()) << tsv.status();
  ASSERT_EQ(tsv->entries.size(), 2u);
  EXPECT_EQ(tsv->entries[0].entry_id, "1");
  EXPECT_EQ(tsv->entries[1].entry_id, "2");
  EXPECT_THAT(tsv->entries[1].tags, ElementsAre("hotline:inhope", "2026"));
}

TEST(ParseHashList, DetectsTsvFromTheFirstDataLine) {
  std::string content =
      "# exported 2026-01-01, comma in a comment\n"
      "md5\t" +
      Md5(1) + "\tcsam\tid1\tseen,twice;other\n" + "sha1\t" + Sha1(2) + "\tother\n";
  auto list = Parse(content);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->entries.size(), 2u);
  EXPECT_EQ(list->entries[0].entry_id, "id1");
  EXPECT_THAT(list->entries[0].tags, ElementsAre("seen,twice", "other"));
  EXPECT_EQ(list->entries[1].line, 3u);
}

TEST(ParseHashList, SkipsHeaderCommentsAndBlankLines) {
  for (std::string header : {"hash_type,hash,category", "hash_type,hash,category,entry_id",
                             "hash_type,hash,category,entry_id,tags"}) {
    std::string content =
        "# comment\n\n   \n" + header + "\n  # indented comment\nmd5," + Md5(1) + ",csam\n\n";
    auto list = Parse(content);
    ASSERT_TRUE(list.ok()) << header << ": " << list.status();
    ASSERT_EQ(list->entries.size(), 1u);
    EXPECT_EQ(list->entries[0].line, 6u);
    EXPECT_EQ(list->entries[0].entry_id, "6");
  }
  auto tsv = Parse("hash_type\thash\tcategory\nsha1\t" + Sha1(1) + "\tcsam\n");
  ASSERT_TRUE(tsv.ok()) << tsv.status();
  EXPECT_EQ(tsv->entries.size(), 1u);
}

TEST(ParseHashList, ToleratesCrlfBomCaseAndSpaces) {
  std::string upper = Md5(7);
  for (char& c : upper) c = static_cast<char>(toupper(c));
  std::string content =
      "\xEF\xBB\xBFhash_type,hash,category\r\n MD5 , " + upper + " , CSAM , id-7 , x ; y ;\r\n";
  auto list = Parse(content);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->entries.size(), 1u);
  EXPECT_EQ(list->entries[0].digest, *HexDecode(Md5(7)));
  EXPECT_EQ(list->entries[0].category, ContentCategory::kCsam);
  EXPECT_EQ(list->entries[0].entry_id, "id-7");
  EXPECT_THAT(list->entries[0].tags, ElementsAre("x", "y"));
}

TEST(ParseHashList, BomOnADataLineIsTolerated) {
  auto list = Parse("\xEF\xBB\xBFsha1," + Sha1(1) + ",csam");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->entries.size(), 1u);
}

TEST(ParseHashList, LastLineWithoutNewlineIsParsed) {
  auto list = Parse("md5," + Md5(1) + ",csam\nmd5," + Md5(2) + ",other");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->entries.size(), 2u);
  EXPECT_EQ(list->entries[1].category, ContentCategory::kOther);
}

TEST(ParseHashList, EmptyListIsValid) {
  for (std::string content : {"", "\n\n", "# nothing yet\n", "hash_type,hash,category\n"}) {
    auto list = Parse(content);
    ASSERT_TRUE(list.ok()) << list.status();
    EXPECT_TRUE(list->entries.empty());
    EXPECT_EQ(list->version, Sha256Hex(content));
  }
  EXPECT_EQ(Parse("")->version, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ParseHashList, DuplicateDigestsKeepTheFirstAndAreCounted) {
  std::string upper = Sha1(5);
  for (char& c : upper) c = static_cast<char>(toupper(c));
  std::string content = "sha1," + Sha1(5) + ",csam,first\n" + "md5," + Md5(5) + ",csam,other-type\n" +
                        "SHA1," + upper + ",terrorist,second\n" + "sha1," + Sha1(5) + ",csam\n";
  auto list = Parse(content);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->entries.size(), 2u);
  EXPECT_EQ(list->entries[0].entry_id, "first");
  EXPECT_EQ(list->entries[0].category, ContentCategory::kCsam);
  EXPECT_EQ(list->entries[1].entry_id, "other-type");
  EXPECT_EQ(list->duplicate_lines, 2u);
}

TEST(ParseHashList, AcceptsPdqLinesMixedWithDigests) {
  // A PDQ hash in the reference's hex form; the same hex as a SHA-256 is a
  // different entry (the key is type and digest).
  const std::string pdq = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22";
  std::string upper = pdq;
  for (char& c : upper) c = static_cast<char>(toupper(c));
  std::string content = "hash_type,hash,category,entry_id,tags\n"
                        "md5," + Md5(1) + ",csam,m-1\n"
                        "pdq," + pdq + ",csam,p-1,series:bridge\n"
                        "sha256," + pdq + ",other,s-1\n"
                        "PDQ," + upper + ",terrorist,p-dup\n"
                        "pdq," + Sha256(9) + ",terrorist\n";
  auto list = Parse(content);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->entries.size(), 4u);
  EXPECT_EQ(list->duplicate_lines, 1u);

  const HashListEntry& p = list->entries[1];
  EXPECT_EQ(p.type, HashType::kPdq);
  EXPECT_EQ(p.digest.size(), 32u);
  EXPECT_EQ(HexEncode(p.digest), pdq);
  EXPECT_EQ(p.category, ContentCategory::kCsam);
  EXPECT_EQ(p.entry_id, "p-1");
  EXPECT_THAT(p.tags, ElementsAre("series:bridge"));
  EXPECT_EQ(p.line, 3u);

  EXPECT_EQ(list->entries[2].type, HashType::kSha256);
  EXPECT_EQ(list->entries[2].digest, p.digest);
  EXPECT_EQ(list->entries[3].type, HashType::kPdq);
  EXPECT_EQ(list->entries[3].entry_id, "6");
  EXPECT_EQ(HexEncode(list->entries[3].digest), Sha256(9));
}

struct ErrorCase {
  const char* name;
  std::string content;
  std::string want;  // a substring of the error message
  HashListLimits limits = {};
};

TEST(ParseHashList, ReportsEachErrorWithItsLine) {
  const std::string ok1 = "md5," + Md5(1) + ",csam,a\n";
  HashListLimits short_lines;
  short_lines.max_line_bytes = 64;
  const ErrorCase cases[] = {
      {"short hex", ok1 + "md5,abc,csam\n", "t.csv:2: 'abc' is not a 32-hex-digit MD5"},
      {"non-hex", "sha256," + std::string(63, 'a') + "g,csam\n",
       fmt::format("t.csv:1: '{}g' is not a 64-hex-digit SHA-256", std::string(63, 'a'))},
      {"wrong type for length", "md5," + Sha1(1) + ",csam\n",
       fmt::format("t.csv:1: '{}' is not a 32-hex-digit MD5 (it has 40 hex digits: is the hash_type right?)",
                   Sha1(1))},
      {"sha1 length", ok1 + "sha1," + Md5(2) + ",csam\n",
       "t.csv:2: '" + Md5(2) + "' is not a 40-hex-digit SHA-1"},
      {"unknown category", ok1 + "\n# c\nmd5," + Md5(2) + ",cp\n",
       "t.csv:4: unknown category 'cp'; expected csam, terrorist or other"},
      {"unknown hash type", "crc32,deadbeef,csam\n",
       "t.csv:1: unknown hash type 'crc32'; expected md5, sha1, sha256 or pdq"},
      {"pdq too short", ok1 + "pdq," + Sha1(2) + ",csam\n",
       fmt::format("t.csv:2: '{}' is not a 64-hex-digit PDQ hash (it has 40 hex digits: is the hash_type right?)",
                   Sha1(2))},
      {"pdq too long", "pdq," + Sha256(2) + "0,csam\n",
       fmt::format("t.csv:1: '{}...' is not a 64-hex-digit PDQ hash", Sha256(2))},  // shown cut at 64
      {"pdq non-hex", ok1 + "\npdq," + std::string(63, 'f') + "x,terrorist\n",
       fmt::format("t.csv:3: '{}x' is not a 64-hex-digit PDQ hash", std::string(63, 'f'))},
      {"too few fields", ok1 + "md5," + Md5(2) + "\n",
       "t.csv:2: expected at least 3 fields (hash_type, hash, category), found 2"},
      {"too many fields", ok1 + "md5," + Md5(2) + ",csam,b,t,extra,more\n",
       "t.csv:2: expected at most 5 fields (hash_type, hash, category, entry_id, tags), found 7"},
      {"quotes", ok1 + "\"md5\",\"" + Md5(2) + "\",csam\n",
       "t.csv:2: quoted fields are not supported; remove the double quotes"},
      {"bad entry id", ok1 + "md5," + Md5(2) + ",csam,no spaces!\n",
       "t.csv:2: invalid entry id 'no spaces!'; expected 1 to 128 characters from A-Z a-z 0-9 . _ : -"},
      {"entry id too long", "md5," + Md5(2) + ",csam," + std::string(129, 'x') + "\n",
       "t.csv:1: invalid entry id 'xxxx"},
      {"duplicate entry id", ok1 + "sha1," + Sha1(2) + ",csam,a\n",
       "t.csv:2: entry id 'a' already used on line 1"},
      {"explicit id equals a default id", "md5," + Md5(1) + ",csam,3\n\nmd5," + Md5(3) + ",csam\n",
       "t.csv:3: entry id '3' already used on line 1"},
      {"long line", ok1 + "md5," + Md5(2) + ",csam,b," + std::string(40, 't') + "\n",
       "t.csv:2: line longer than 64 bytes", short_lines},
      {"long last line without newline", ok1 + std::string(100, '#'), "t.csv:2: line longer than 64 bytes",
       short_lines},
      {"bad header", "hash_type,hash,categories\n" + ok1,
       "t.csv:1: a header line must be exactly hash_type,hash,category[,entry_id[,tags]]"},
      {"tag with control character", "md5," + Md5(2) + ",csam,b,ok;bad\x01tag\n",
       "t.csv:1: tag 'bad\\x01tag' contains a control character"},
      {"tag too long", "md5," + Md5(2) + ",csam,b," + std::string(129, 't') + "\n", "t.csv:1: tag 'tttt"},
      {"csv line in tsv file", "md5\t" + Md5(1) + "\tcsam\nmd5," + Md5(2) + ",csam\n",
       "t.csv:2: expected at least 3 fields (hash_type, hash, category), found 1"},
  };
  for (const ErrorCase& c : cases) {
    auto list = Parse(c.content, c.limits);
    ASSERT_FALSE(list.ok()) << c.name;
    EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(Message(list.status()), HasSubstr(c.want)) << c.name;
    EXPECT_THAT(Message(list.status()), HasSubstr("hash list 'test-list' (t.csv) has 1 invalid line;"))
        << c.name;
  }
}

TEST(ParseHashList, LongValuesAreShortenedInMessages) {
  auto list = Parse("md5," + std::string(200, 'z') + ",csam\n");
  ASSERT_FALSE(list.ok());
  EXPECT_THAT(Message(list.status()),
              HasSubstr("'" + std::string(64, 'z') + "...' is not a 32-hex-digit MD5"));
  EXPECT_THAT(Message(list.status()), Not(HasSubstr(std::string(65, 'z'))));
}

TEST(ParseHashList, LineOfExactlyTheLimitIsAcceptedWithOrWithoutCr) {
  HashListLimits limits;
  std::string line = "md5," + Md5(1) + ",csam,a,";
  limits.max_line_bytes = 60;
  line += std::string(limits.max_line_bytes - line.size(), 't');
  ASSERT_EQ(line.size(), 60u);
  EXPECT_TRUE(Parse(line + "\n", limits).ok());
  EXPECT_TRUE(Parse(line + "\r\n", limits).ok());
  EXPECT_TRUE(Parse(line, limits).ok());
  auto over = Parse(line + "t\r\n", limits);
  EXPECT_THAT(Message(over.status()), HasSubstr("t.csv:1: line longer than 60 bytes"));
}

TEST(ParseHashList, ListsTwentyErrorsAndCountsTheRest) {
  std::string content;
  for (int i = 1; i <= 25; ++i) content += "md5,bad" + std::to_string(i) + ",csam\n";
  auto list = Parse(content);
  ASSERT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument);
  std::string message = Message(list.status());
  EXPECT_THAT(message, HasSubstr("has 25 invalid lines; nothing was loaded:\n"));
  EXPECT_THAT(message, HasSubstr("t.csv:1: 'bad1' is not"));
  EXPECT_THAT(message, HasSubstr("t.csv:20: 'bad20' is not"));
  EXPECT_THAT(message, Not(HasSubstr("t.csv:21:")));
  EXPECT_THAT(message, HasSubstr("\n(and 5 more errors)"));
}

TEST(ParseHashList, ValidLinesDoNotSurviveABadLine) {
  auto list = Parse("md5," + Md5(1) + ",csam\nmd5,x,csam\n");
  EXPECT_FALSE(list.ok());
}

TEST(ParseHashList, MaxEntriesIsResourceExhausted) {
  HashListLimits limits;
  limits.max_entries = 3;
  std::string content;
  for (int i = 1; i <= 3; ++i) content += "md5," + Md5(i) + ",csam\n";
  content += "md5," + Md5(1) + ",csam\n";  // a duplicate does not count
  auto at_limit = Parse(content, limits);
  ASSERT_TRUE(at_limit.ok()) << at_limit.status();
  EXPECT_EQ(at_limit->entries.size(), 3u);

  auto over = Parse(content + "md5," + Md5(4) + ",csam\n", limits);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(Message(over.status()), HasSubstr("t.csv:5): more than 3 entries"));
  EXPECT_THAT(Message(over.status()), HasSubstr("limits.hash_list_max_entries"));
}

TEST(ParseHashList, MaxBytesIsResourceExhausted) {
  std::string content = "md5," + Md5(1) + ",csam\n";
  HashListLimits limits;
  limits.max_bytes = content.size();
  EXPECT_TRUE(Parse(content, limits).ok());
  limits.max_bytes = content.size() - 1;
  auto over = Parse(content, limits);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(Message(over.status()), HasSubstr("limits.hash_list_max_bytes"));
}

class ParseHashListFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/hash_list_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
  }
  void TearDown() override {
    for (const std::string& f : files_) unlink(f.c_str());
    rmdir(dir_.c_str());
  }
  std::string Write(const std::string& name, const std::string& content) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    files_.push_back(path);
    return path;
  }

  std::string dir_;
  std::vector<std::string> files_;
};

TEST_F(ParseHashListFileTest, FileSpanningManyReadChunksEqualsInMemoryParse) {
  std::string content = "\xEF\xBB\xBFhash_type,hash,category,entry_id,tags\r\n";
  for (int i = 0; i < 30000; ++i) {
    switch (i % 3) {
      case 0:
        content += "md5," + Md5(i) + ",csam,e" + std::to_string(i) + ",t1;t2\r\n";
        break;
      case 1:
        content += "sha1," + Sha1(i) + ",terrorist\r\n# comment\r\n";
        break;
      case 2:
        content += "sha256," + Sha256(i) + ",other,e" + std::to_string(i) + "\r\n";
        break;
    }
  }
  ASSERT_GT(content.size(), 3u << 19) << "must span two or more 1 MiB read chunks";
  std::string path = Write("big.csv", content);
  auto from_file = ParseHashListFile(path, "big", {});
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  auto from_memory = ParseHashList(content, path, "big", {});
  ASSERT_TRUE(from_memory.ok());
  EXPECT_EQ(from_file->version, Sha256Hex(content));
  EXPECT_EQ(from_file->version, from_memory->version);
  ASSERT_EQ(from_file->entries.size(), 30000u);
  ASSERT_EQ(from_file->entries.size(), from_memory->entries.size());
  for (size_t i = 0; i < from_file->entries.size(); ++i) {
    const HashListEntry& a = from_file->entries[i];
    const HashListEntry& b = from_memory->entries[i];
    ASSERT_EQ(a.digest, b.digest) << i;
    ASSERT_EQ(a.entry_id, b.entry_id) << i;
    ASSERT_EQ(a.line, b.line) << i;
    ASSERT_EQ(a.tags, b.tags) << i;
  }
  EXPECT_EQ(from_file->entries[1].entry_id, "3");
  EXPECT_EQ(from_file->entries[29999].line, 40001u);
}

TEST_F(ParseHashListFileTest, LongLineAcrossReadChunksIsReportedOnce) {
  std::string content = "md5," + Md5(1) + ",csam\n" + std::string(3 << 20, '#') + "\nmd5,bad,csam\n";
  std::string path = Write("long.csv", content);
  auto list = ParseHashListFile(path, "long", {});
  ASSERT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument);
  std::string message = Message(list.status());
  EXPECT_THAT(message, HasSubstr(path + ":2: line longer than 4096 bytes\n" + path + ":3: 'bad' is not"));
  EXPECT_THAT(message, HasSubstr("has 2 invalid lines"));
}

TEST_F(ParseHashListFileTest, FileErrors) {
  EXPECT_EQ(ParseHashListFile(dir_ + "/missing.csv", "x", {}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(ParseHashListFile(dir_ + "/missing.csv", "x", {}).status()),
              HasSubstr("cannot open hash list file '" + dir_ + "/missing.csv'"));
  EXPECT_EQ(ParseHashListFile(dir_, "x", {}).status().code(), absl::StatusCode::kFailedPrecondition);

  std::string path = Write("big.csv", "md5," + Md5(1) + ",csam\n");
  HashListLimits limits;
  limits.max_bytes = 10;
  auto over = ParseHashListFile(path, "x", limits);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(Message(over.status()), HasSubstr("limits.hash_list_max_bytes"));
}

}  // namespace
}  // namespace takedown
