// Archives in the sweep pipeline: members become objects of their own
// (`outer!member/path`), digested, PDQ-hashed and matched like any object;
// limits, corrupt archives and unreadable members are recorded; unchanged
// archives are not read again; records of members an archive no longer has
// are deleted.
#include <archive.h>
#include <archive_entry.h>
#include <sys/resource.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "daemon/archive_member_scanner.h"
#include "daemon/sweep_runner.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "tests/daemon/pipeline_harness.h"
#include "tests/fakes/in_memory_source.h"

namespace takedown::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

constexpr char kSourceId[] = "uploads";
const std::string kVectors = std::string(TAKEDOWN_SOURCE_DIR) + "/../shared/vectors/pdq/images/";
// From shared/vectors/pdq/MANIFEST.tsv.
constexpr char kSquareHash[] = "d8f8f0cec4f4a84f0637022a078f67f0b36e2ee5b6621e1d33e6239c4e9c9b22";

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xFF);
  return out;
}

long MaxRssKib() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// An archive built in memory with libarchive's write API. `format`: "zip",
// "ustar", ...; `filter`: "gzip", ... or null.
class ArchiveBuilder {
 public:
  explicit ArchiveBuilder(const char* format, const char* filter = nullptr, const char* options = nullptr,
                          const char* passphrase = nullptr)
      : a_(archive_write_new()) {
    ok_ = archive_write_set_format_by_name(a_, format) == ARCHIVE_OK &&
          (filter == nullptr || archive_write_add_filter_by_name(a_, filter) == ARCHIVE_OK) &&
          (options == nullptr || archive_write_set_options(a_, options) == ARCHIVE_OK) &&
          (passphrase == nullptr || archive_write_set_passphrase(a_, passphrase) == ARCHIVE_OK);
    archive_write_set_bytes_in_last_block(a_, 1);
    ok_ = ok_ && archive_write_open(a_, &out_, nullptr, &Append, nullptr) == ARCHIVE_OK;
  }
  ~ArchiveBuilder() { archive_write_free(a_); }
  ArchiveBuilder(const ArchiveBuilder&) = delete;
  ArchiveBuilder& operator=(const ArchiveBuilder&) = delete;

  bool ok() const { return ok_; }

  ArchiveBuilder& Add(const std::string& name, const std::string& bytes) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, name.c_str());
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    archive_entry_set_mtime(entry, 1'700'000'000, 0);
    archive_entry_set_size(entry, static_cast<la_int64_t>(bytes.size()));
    EXPECT_GE(archive_write_header(a_, entry), ARCHIVE_WARN) << name << ": " << archive_error_string(a_);
    if (!bytes.empty()) {
      EXPECT_EQ(archive_write_data(a_, bytes.data(), bytes.size()), static_cast<la_ssize_t>(bytes.size()));
    }
    archive_entry_free(entry);
    return *this;
  }

  std::string Finish() {
    EXPECT_EQ(archive_write_close(a_), ARCHIVE_OK) << archive_error_string(a_);
    return std::move(out_);
  }

 private:
  static la_ssize_t Append(struct archive*, void* out, const void* buffer, size_t length) {
    static_cast<std::string*>(out)->append(static_cast<const char*>(buffer), length);
    return static_cast<la_ssize_t>(length);
  }

  struct archive* a_;
  std::string out_;
  bool ok_ = false;
};

// `bytes` little-endian bytes of `v`; bytes past the 8th are zero.
void PutLe(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(i < 8 ? (v >> (8 * i)) & 0xFF : 0));
}

// A zip of one deflated member of `mib` MiB of zeros, streamed out of zlib one
// MiB at a time. Each MiB ends with a full flush, which resets the
// compressor, so every MiB after the first deflates to the same bytes: those
// are computed once and repeated, and a 1 GiB bomb costs two MiB of CPU.
std::string ZerosZip(const std::string& name, uint64_t mib) {
  const std::string zeros(1 << 20, '\0');
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
  auto deflate_more = [&](const std::string& in, int flush) {
    std::string out;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    char buffer[1 << 14];
    do {
      z.next_out = reinterpret_cast<Bytef*>(buffer);
      z.avail_out = sizeof(buffer);
      EXPECT_NE(deflate(&z, flush), Z_STREAM_ERROR);
      out.append(buffer, sizeof(buffer) - z.avail_out);
    } while (z.avail_out == 0);
    return out;
  };
  std::string data = deflate_more(zeros, Z_FULL_FLUSH);
  const std::string repeated = deflate_more(zeros, Z_FULL_FLUSH);
  for (uint64_t i = 2; i <= mib; ++i) data += repeated;
  data += deflate_more("", Z_FINISH);
  deflateEnd(&z);
  const uLong mib_crc =
      crc32(0L, reinterpret_cast<const Bytef*>(zeros.data()), static_cast<uInt>(zeros.size()));
  uLong crc = mib_crc;
  for (uint64_t i = 2; i <= mib; ++i) crc = crc32_combine(crc, mib_crc, 1 << 20);
  const uint64_t size = mib << 20;

  // Local header, data, one central directory entry, end of central directory.
  auto common = [&](std::string& out) {
    PutLe(out, 20, 2);  // version needed
    PutLe(out, 0, 2);   // flags
    PutLe(out, 8, 2);   // deflate
    PutLe(out, 0, 4);   // time, date
    PutLe(out, crc, 4);
    PutLe(out, data.size(), 4);
    PutLe(out, size & 0xFFFFFFFF, 4);
    PutLe(out, name.size(), 2);
    PutLe(out, 0, 2);  // extra length
  };
  std::string zip;
  PutLe(zip, 0x04034b50, 4);
  common(zip);
  zip += name;
  zip += data;
  const size_t central = zip.size();
  PutLe(zip, 0x02014b50, 4);
  PutLe(zip, 20, 2);  // made by
  common(zip);
  PutLe(zip, 0, 2 + 2 + 2 + 4 + 4);  // comment, disk, attributes, local header offset 0
  zip += name;
  const size_t central_size = zip.size() - central;
  PutLe(zip, 0x06054b50, 4);
  PutLe(zip, 0, 4);  // disks
  PutLe(zip, 1, 2);
  PutLe(zip, 1, 2);
  PutLe(zip, central_size, 4);
  PutLe(zip, central, 4);
  PutLe(zip, 0, 2);
  return zip;
}

class ArchivePipelineTest : public ::testing::Test {
 protected:
  std::unique_ptr<Pipeline> Open(PipelineOptions options = {}) {
    absl::StatusOr<std::unique_ptr<Pipeline>> p = Pipeline::Open(dir_.Sub("store"), clock_, options);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? std::move(*p) : nullptr;
  }

  std::unique_ptr<Pipeline> OpenWithPdq() {
    PipelineOptions options;
    PdqMatcherOptions pdq;
    pdq.mode = PdqHashMode::kExact;
    options.pdq = pdq;
    return Open(options);
  }

  SweepState Sweep(Pipeline& p, Source& source) {
    SweepRunner runner(source, *p.processor, *p.pool, *p.store, *p.audit, clock_, 10);
    absl::Status s = runner.Start(std::nullopt, "test");
    EXPECT_TRUE(s.ok()) << s;
    runner.Join();
    clock_.Advance(absl::Seconds(10));
    return runner.Progress();
  }

  void Import(Pipeline& p, const std::string& list, const std::string& content) {
    absl::StatusOr<ImportResult> r = p.lists->ImportContent(list, content, "test");
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // Every object record of the source, by key.
  std::map<std::string, ObjectRecord> Records(const Store& store) {
    std::map<std::string, ObjectRecord> out;
    for (const auto& [key, value] : ScanAll(store, Cf::kObjects, ObjectKey(kSourceId, ""))) {
      absl::StatusOr<ObjectRecord> r = DecodeObjectRecord(value);
      EXPECT_TRUE(r.ok()) << r.status();
      if (r.ok()) out.emplace(r->key, *r);
    }
    return out;
  }

  std::vector<std::string> Keys(const Store& store) {
    std::vector<std::string> keys;
    for (const auto& [key, record] : Records(store)) keys.push_back(key);
    return keys;
  }

  TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
};

TEST_F(ArchivePipelineTest, ListedZipMemberMakesACaseKeyedByTheMember) {
  std::unique_ptr<Pipeline> p = Open();
  ASSERT_NE(p, nullptr);
  const std::string listed = RandomBytes(5000, 1);
  Import(*p, "hotline", ListLine(HashType::kSha256, DigestsOf(listed), "csam", "entry-7"));
  ArchiveBuilder zip("zip");
  const std::string zip_bytes = zip.Add("dir/listed.bin", listed).Add("notes.txt", "harmless").Finish();
  InMemorySource source(kSourceId);
  source.Put("x.zip", zip_bytes, "v1");
  source.Put("y.txt", "plain object", "v1");

  SweepState end = Sweep(*p, source);
  EXPECT_EQ(end.phase, SweepPhase::kCompleted) << end.error;
  EXPECT_EQ(end.counters.listed, 2u);
  EXPECT_EQ(end.counters.done, 2u);
  EXPECT_EQ(end.counters.matches, 1u);

  std::map<std::string, Case> cases = ReadAllCases(*p->store);
  ASSERT_EQ(cases.size(), 1u);
  const Case& c = cases.begin()->second;
  EXPECT_EQ(c.id, CaseIdFor(kSourceId, "x.zip!dir/listed.bin"));
  EXPECT_EQ(c.object.key, "x.zip!dir/listed.bin");
  EXPECT_EQ(c.object.version, "v1");
  EXPECT_EQ(c.object.sha256_hex, HexEncode(DigestsOf(listed).sha256));
  ASSERT_EQ(c.evidence.size(), 1u);
  EXPECT_EQ(c.evidence[0].hash_type, "sha256");
  EXPECT_EQ(c.evidence[0].digest_hex, HexEncode(DigestsOf(listed).sha256));
  EXPECT_EQ(c.evidence[0].entry_id, "entry-7");
  EXPECT_EQ(ReadOutbox(*p->store).size(), 1u);

  std::map<std::string, ObjectRecord> records = Records(*p->store);
  EXPECT_THAT(Keys(*p->store), ElementsAre("x.zip", "x.zip!dir/listed.bin", "x.zip!notes.txt", "y.txt"));
  const ObjectRecord& outer = records["x.zip"];
  EXPECT_EQ(outer.digests.sha256, DigestsOf(zip_bytes).sha256);  // the archive as itself
  EXPECT_EQ(outer.match_count, 0u);
  EXPECT_EQ(outer.archive_outcome, ArchiveOutcome::kExpanded);
  EXPECT_EQ(outer.archive_members, 2u);
  EXPECT_EQ(outer.archive_members_unreadable, 0u);
  EXPECT_EQ(outer.archive_member_matches, 1u);
  EXPECT_TRUE(outer.container.empty());
  const ObjectRecord& member = records["x.zip!dir/listed.bin"];
  EXPECT_EQ(member.status, ObjectStatus::kHashed);
  EXPECT_EQ(member.container, "x.zip");
  EXPECT_EQ(member.version, "v1");
  EXPECT_EQ(member.size, listed.size());
  EXPECT_EQ(member.match_count, 1u);
  EXPECT_EQ(member.digests.md5, DigestsOf(listed).md5);
  const ObjectRecord& notes = records["x.zip!notes.txt"];
  EXPECT_EQ(notes.digests.sha1, DigestsOf("harmless").sha1);
  EXPECT_EQ(notes.content_type, records["y.txt"].content_type);
  EXPECT_EQ(records["y.txt"].archive_outcome, ArchiveOutcome::kNone);
  ExpectAuditChainIntact(*p->audit);
  EXPECT_THAT(p->registry.RenderText(),
              HasSubstr(fmt::format("takedown_archive_members_total{{source=\"{}\"}} 2", kSourceId)));
}

TEST_F(ArchivePipelineTest, MemberTwoLevelsDownInAZipInsideATarGzMatches) {
  std::unique_ptr<Pipeline> p = Open();
  ASSERT_NE(p, nullptr);
  const std::string listed = RandomBytes(3000, 2);
  Import(*p, "hotline", ListLine(HashType::kMd5, DigestsOf(listed), "terrorist", "deep-1"));
  ArchiveBuilder inner("zip");
  const std::string inner_zip = inner.Add("deep/listed.bin", listed).Add("deep/other.bin", "other").Finish();
  ArchiveBuilder outer("ustar", "gzip");
  const std::string tgz = outer.Add("readme.txt", "hello").Add("sub/inner.zip", inner_zip).Finish();
  InMemorySource source(kSourceId);
  source.Put("o.tar.gz", tgz, "v1");

  SweepState end = Sweep(*p, source);
  EXPECT_EQ(end.phase, SweepPhase::kCompleted) << end.error;
  EXPECT_EQ(end.counters.matches, 1u);
  std::map<std::string, Case> cases = ReadAllCases(*p->store);
  ASSERT_EQ(cases.size(), 1u);
  const Case& c = cases.begin()->second;
  EXPECT_EQ(c.object.key, "o.tar.gz!sub/inner.zip!deep/listed.bin");
  EXPECT_EQ(c.category, "terrorist");
  ASSERT_EQ(c.evidence.size(), 1u);
  EXPECT_EQ(c.evidence[0].digest_hex, HexEncode(DigestsOf(listed).md5));

  std::map<std::string, ObjectRecord> records = Records(*p->store);
  EXPECT_THAT(Keys(*p->store),
              ElementsAre("o.tar.gz", "o.tar.gz!readme.txt", "o.tar.gz!sub/inner.zip",
                          "o.tar.gz!sub/inner.zip!deep/listed.bin", "o.tar.gz!sub/inner.zip!deep/other.bin"));
  const ObjectRecord& nested = records["o.tar.gz!sub/inner.zip"];
  EXPECT_EQ(nested.digests.sha256, DigestsOf(inner_zip).sha256);
  EXPECT_EQ(nested.archive_outcome, ArchiveOutcome::kExpanded);
  EXPECT_EQ(nested.archive_members, 2u);
  EXPECT_EQ(nested.archive_member_matches, 1u);
  EXPECT_EQ(nested.container, "o.tar.gz");
  EXPECT_EQ(records["o.tar.gz!sub/inner.zip!deep/listed.bin"].container, "o.tar.gz");
  EXPECT_EQ(records["o.tar.gz"].archive_members, 4u);
  EXPECT_EQ(records["o.tar.gz"].archive_member_matches, 1u);
}

TEST_F(ArchivePipelineTest, ImageMemberIsPdqHashedAndMatched) {
  std::unique_ptr<Pipeline> p = OpenWithPdq();
  ASSERT_NE(p, nullptr);
  Import(*p, "hotline", fmt::format("pdq,{},csam,near-square\n", FlipBits(kSquareHash, 6)));
  const std::string square = ReadFile(kVectors + "bridge-mods/square-256x256.jpg");
  ArchiveBuilder zip("zip");
  InMemorySource source(kSourceId);
  source.Put("photos.zip", zip.Add("img/square.jpg", square).Add("img/notes.txt", "text").Finish(), "v1");

  SweepState end = Sweep(*p, source);
  EXPECT_EQ(end.phase, SweepPhase::kCompleted) << end.error;
  std::map<std::string, Case> cases = ReadAllCases(*p->store);
  ASSERT_EQ(cases.size(), 1u);
  const Case& c = cases.begin()->second;
  EXPECT_EQ(c.object.key, "photos.zip!img/square.jpg");
  ASSERT_EQ(c.evidence.size(), 1u);
  EXPECT_EQ(c.evidence[0].hash_type, "pdq");
  EXPECT_EQ(c.evidence[0].digest_hex, kSquareHash);
  EXPECT_EQ(c.evidence[0].distance, 6);

  std::optional<ObjectRecord> member = ReadObject(*p->store, kSourceId, "photos.zip!img/square.jpg");
  ASSERT_TRUE(member.has_value());
  EXPECT_EQ(member->pdq_outcome, "hashed");
  EXPECT_EQ(member->image_width, 256u);
  std::optional<PdqDihedral> dihedral = StoredPdqDihedral(*member);
  ASSERT_TRUE(dihedral.has_value());
  EXPECT_EQ(dihedral->hashes[0].ToHex(), kSquareHash);
  std::optional<ObjectRecord> text = ReadObject(*p->store, kSourceId, "photos.zip!img/notes.txt");
  ASSERT_TRUE(text.has_value());
  EXPECT_TRUE(text->pdq_outcome.empty());
}

TEST_F(ArchivePipelineTest, AllowlistVetoesAMemberMatch) {
  std::unique_ptr<Pipeline> p;
  {
    PipelineOptions options;
    ListPolicy fp;
    fp.allowlist = true;
    options.policies = ListPolicies({{"false-positives", fp}});
    p = Open(options);
  }
  ASSERT_NE(p, nullptr);
  const std::string member = RandomBytes(2000, 3);
  Import(*p, "hotline", ListLine(HashType::kSha256, DigestsOf(member), "csam", "e1"));
  Import(*p, "false-positives", ListLine(HashType::kSha1, DigestsOf(member), "other", "fp1"));
  ArchiveBuilder zip("zip");
  InMemorySource source(kSourceId);
  source.Put("a.zip", zip.Add("m.bin", member).Finish(), "v1");
  SweepState end = Sweep(*p, source);
  EXPECT_EQ(end.phase, SweepPhase::kCompleted) << end.error;
  EXPECT_TRUE(ReadAllCases(*p->store).empty());
  std::optional<ObjectRecord> record = ReadObject(*p->store, kSourceId, "a.zip!m.bin");
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->vetoed_matches, 1u);
  EXPECT_EQ(record->match_count, 0u);
  EXPECT_EQ(AuditActionCounts(*p->audit)["match.veto"], 1);
}

TEST_F(ArchivePipelineTest, ZipBombIsRefusedOnTheOuterRecordAndTheSweepGoesOn) {
  std::unique_ptr<Pipeline> p = Open();
  ASSERT_NE(p, nullptr);
  const std::string bomb = ZerosZip("zeros.bin", 1024);  // 1 GiB of zeros
  ASSERT_LT(bomb.size(), 2u << 20);
  InMemorySource source(kSourceId);
  source.Put("bomb.zip", bomb, "v1");
  source.Put("next.txt", "after the bomb", "v1");
  const long rss_before = MaxRssKib();
  const absl::Time started = absl::Now();

  SweepState end = Sweep(*p, source);
  EXPECT_EQ(end.phase, SweepPhase::kCompleted) << end.error;
  EXPECT_EQ(end.counters.done, 2u);
  EXPECT_LT(absl::Now() - started, absl::Seconds(10));
  EXPECT_LT(MaxRssKib() - rss_before, 128 << 10);  // KiB

  std::optional<ObjectRecord> outer = ReadObject(*p->store, kSourceId, "bomb.zip");
  ASSERT_TRUE(outer.has_value());
  EXPECT_EQ(outer->status, ObjectStatus::kHashed);
  EXPECT_EQ(outer->digests.sha256, DigestsOf(bomb).sha256);
  EXPECT_EQ(outer->archive_outcome, ArchiveOutcome::kLimit);
  EXPECT_THAT(outer->archive_message,
              StartsWith("archive bomb.zip: compression ratio exceeds limits.archive_max_ratio (200)"));
  EXPECT_EQ(outer->archive_members, 1u);
  EXPECT_EQ(outer->archive_members_unreadable, 1u);
  std::optional<ObjectRecord> zeros = ReadObject(*p->store, kSourceId, "bomb.zip!zeros.bin");
  ASSERT_TRUE(zeros.has_value());
  EXPECT_EQ(zeros->status, ObjectStatus::kFailed);
  EXPECT_EQ(zeros->error, outer->archive_message);
  std::optional<ObjectRecord> next = ReadObject(*p->store, kSourceId, "next.txt");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->status, ObjectStatus::kHashed);
  EXPECT_THAT(p->registry.RenderText(), HasSubstr("takedown_archives_refused_total{reason=\"limit\"} 1"));
}

TEST_F(ArchivePipelineTest, TraversalNameBecomesANormalisedKeyAndNothingIsWritten) {
  std::unique_ptr<Pipeline> p = Open();
  ASSERT_NE(p, nullptr);
  const std::string marker = "takedown-archive-pipeline-test-marker " + RandomBytes(16, 4);
  ArchiveBuilder tar("ustar");
  InMemorySource source(kSourceId);
  source.Put("t.tar", tar.Add("../../etc/passwd", marker).Add("/abs/x!y", "abs").Finish(), "v1");
  SweepState end = Sweep(*p, source);
  EXPECT_EQ(end.phase, SweepPhase::kCompleted) << end.error;
  EXPECT_THAT(Keys(*p->store), ElementsAre("t.tar", "t.tar!%2E%2E/%2E%2E/etc/passwd", "t.tar!abs/x%21y"));
  std::optional<ObjectRecord> member = ReadObject(*p->store, kSourceId, "t.tar!%2E%2E/%2E%2E/etc/passwd");
  ASSERT_TRUE(member.has_value());
  EXPECT_EQ(member->digests.sha256, DigestsOf(marker).sha256);
  // Nothing was extracted: not under the test's directory, not relative to
  // the working directory, not in /etc/passwd.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_.path())) {
    EXPECT_NE(entry.path().filename(), "passwd") << entry.path();
  }
  EXPECT_FALSE(std::filesystem::exists("../../etc/passwd") &&
               ReadFile("../../etc/passwd").find("takedown-archive-pipeline-test-marker") !=
                   std::string::npos);
  EXPECT_EQ(ReadFile("/etc/passwd").find("takedown-archive-pipeline-test-marker"), std::string::npos);
}

TEST_F(ArchivePipelineTest, TruncatedZipIsRecordedCorruptAndTheSweepGoesOn) {
  std::unique_ptr<Pipeline> p = Open();
  ASSERT_NE(p, nullptr);
  ArchiveBuilder zip("zip");
  const std::string whole = zip.Add("a.txt", "first member").Add("b.bin", RandomBytes(100'000, 5)).Finish();
  const std::string cut = whole.substr(0, whole.size() / 2);
  InMemorySource source(kSourceId);
  source.Put("cut.zip", cut, "v1");
  source.Put("next.txt", "after the broken zip", "v1");
  SweepState end = Sweep(*p, source);
  EXPECT_EQ(end.phase, SweepPhase::kCompleted) << end.error;
  EXPECT_EQ(end.counters.done, 2u);
  EXPECT_EQ(end.counters.failed, 0u);  // the archive itself was read and digested
  std::optional<ObjectRecord> outer = ReadObject(*p->store, kSourceId, "cut.zip");
  ASSERT_TRUE(outer.has_value());
  EXPECT_EQ(outer->status, ObjectStatus::kHashed);
  EXPECT_EQ(outer->archive_outcome, ArchiveOutcome::kCorrupt);
  EXPECT_THAT(outer->archive_message, StartsWith("archive cut.zip"));
  // The member before the damage is recorded.
  std::optional<ObjectRecord> first = ReadObject(*p->store, kSourceId, "cut.zip!a.txt");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->digests.sha256, DigestsOf("first member").sha256);
  ASSERT_TRUE(ReadObject(*p->store, kSourceId, "next.txt").has_value());
  EXPECT_THAT(p->registry.RenderText(), HasSubstr("takedown_archives_refused_total{reason=\"corrupt\"} 1"));
}

TEST_F(ArchivePipelineTest, EncryptedMemberIsRecordedUnreadable) {
  ArchiveBuilder zip("zip", nullptr, "zip:encryption=zipcrypt", "secret");
  if (!zip.ok()) GTEST_SKIP() << "this libarchive cannot write zipcrypt-encrypted zips";
  const std::string encrypted = zip.Add("hidden.jpg", RandomBytes(3000, 6)).Finish();
  std::unique_ptr<Pipeline> p = Open();
  ASSERT_NE(p, nullptr);
  InMemorySource source(kSourceId);
  source.Put("enc.zip", encrypted, "v1");
  absl::StatusOr<SweepCounters> c =
      p->processor->Process(source, {kSourceId, "enc.zip", "v1", encrypted.size()}, "sweep-1");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->members, 1u);
  EXPECT_EQ(c->members_failed, 1u);
  std::optional<ObjectRecord> member = ReadObject(*p->store, kSourceId, "enc.zip!hidden.jpg");
  ASSERT_TRUE(member.has_value());
  EXPECT_EQ(member->status, ObjectStatus::kFailed);
  EXPECT_THAT(member->error, HasSubstr("encrypted"));
  EXPECT_EQ(member->container, "enc.zip");
  std::optional<ObjectRecord> outer = ReadObject(*p->store, kSourceId, "enc.zip");
  ASSERT_TRUE(outer.has_value());
  EXPECT_EQ(outer->archive_outcome, ArchiveOutcome::kExpanded);
  EXPECT_EQ(outer->archive_members_unreadable, 1u);
}

TEST_F(ArchivePipelineTest, UnchangedArchiveIsNotReadAgainAndAReplacedOneLosesGoneMembers) {
  std::unique_ptr<Pipeline> p = Open();
  ASSERT_NE(p, nullptr);
  const std::string listed = RandomBytes(4000, 7);
  Import(*p, "hotline", ListLine(HashType::kSha256, DigestsOf(listed), "csam", "e1"));
  ArchiveBuilder v1("zip");
  const std::string zip1 = v1.Add("dir/listed.bin", listed).Add("keep.txt", "kept").Finish();
  InMemorySource source(kSourceId);
  source.Put("x.zip", zip1, "v1");
  // A source's own object whose key starts like a member's: never deleted
  // with the archive's members.
  source.Put("x.zip!own-object", "not a member", "v1");

  ObjectRef ref{kSourceId, "x.zip", "v1", zip1.size()};
  absl::StatusOr<SweepCounters> first = p->processor->Process(source, ref, "sweep-1");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->done, 1u);
  EXPECT_EQ(first->members, 2u);
  EXPECT_EQ(first->matches, 1u);
  EXPECT_EQ(source.OpenCount("x.zip"), 2u);  // digested, then expanded
  SweepState one = Sweep(*p, source);
  EXPECT_EQ(one.counters.unchanged, 1u);  // x.zip, stored above
  EXPECT_EQ(one.counters.done, 1u);       // x.zip!own-object

  // Unchanged: neither read nor expanded again; its members stay as stored.
  absl::StatusOr<SweepCounters> again = p->processor->Process(source, ref, "sweep-2");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->unchanged, 1u);
  EXPECT_EQ(again->done, 0u);
  EXPECT_EQ(again->members, 0u);
  SweepState two = Sweep(*p, source);
  EXPECT_EQ(two.counters.unchanged, 2u);
  EXPECT_EQ(two.counters.done, 0u);
  EXPECT_EQ(source.OpenCount("x.zip"), 2u);
  EXPECT_EQ(ReadObject(*p->store, kSourceId, "x.zip!keep.txt")->sweep_id, "sweep-1");

  // Replaced without dir/listed.bin: that member's record goes (its case stays).
  ArchiveBuilder v2("zip");
  const std::string zip2 = v2.Add("keep.txt", "kept, v2").Add("new.txt", "new").Finish();
  source.Put("x.zip", zip2, "v2");
  SweepState three = Sweep(*p, source);
  EXPECT_EQ(three.phase, SweepPhase::kCompleted) << three.error;
  EXPECT_EQ(three.counters.done, 1u);
  EXPECT_THAT(Keys(*p->store), ElementsAre("x.zip", "x.zip!keep.txt", "x.zip!new.txt", "x.zip!own-object"));
  std::optional<ObjectRecord> keep = ReadObject(*p->store, kSourceId, "x.zip!keep.txt");
  ASSERT_TRUE(keep.has_value());
  EXPECT_EQ(keep->version, "v2");
  EXPECT_EQ(keep->digests.sha256, DigestsOf("kept, v2").sha256);
  EXPECT_EQ(ReadAllCases(*p->store).size(), 1u);

  // Replaced by something that is no archive: every member record goes.
  source.Put("x.zip", "now plain text", "v3");
  Sweep(*p, source);
  EXPECT_THAT(Keys(*p->store), ElementsAre("x.zip", "x.zip!own-object"));
  EXPECT_EQ(ReadObject(*p->store, kSourceId, "x.zip")->archive_outcome, ArchiveOutcome::kNone);
}

TEST_F(ArchivePipelineTest, DepthZeroTurnsExpansionOffAndTurningItOnExpandsStoredArchives) {
  ArchiveBuilder zip("zip");
  const std::string bytes = zip.Add("a.txt", "a").Add("b.txt", "b").Finish();
  InMemorySource source(kSourceId);
  source.Put("x.zip", bytes, "v1");
  {
    PipelineOptions options;
    options.limits.archive.max_depth = 0;
    std::unique_ptr<Pipeline> p = Open(options);
    ASSERT_NE(p, nullptr);
    SweepState end = Sweep(*p, source);
    EXPECT_EQ(end.phase, SweepPhase::kCompleted) << end.error;
    EXPECT_THAT(Keys(*p->store), ElementsAre("x.zip"));
    std::optional<ObjectRecord> outer = ReadObject(*p->store, kSourceId, "x.zip");
    ASSERT_TRUE(outer.has_value());
    EXPECT_EQ(outer->archive_outcome, ArchiveOutcome::kDisabled);
    EXPECT_EQ(outer->digests.sha256, DigestsOf(bytes).sha256);
    EXPECT_EQ(source.OpenCount("x.zip"), 1u);
  }
  std::unique_ptr<Pipeline> p = Open();
  ASSERT_NE(p, nullptr);
  SweepState end = Sweep(*p, source);
  EXPECT_EQ(end.counters.done, 1u);  // same version, but never expanded: read again
  EXPECT_THAT(Keys(*p->store), ElementsAre("x.zip", "x.zip!a.txt", "x.zip!b.txt"));
  EXPECT_EQ(ReadObject(*p->store, kSourceId, "x.zip")->archive_outcome, ArchiveOutcome::kExpanded);
}

TEST_F(ArchivePipelineTest, NestedArchiveBeyondTheDepthLimitIsAPlainMember) {
  PipelineOptions options;
  options.limits.archive.max_depth = 1;
  std::unique_ptr<Pipeline> p = Open(options);
  ASSERT_NE(p, nullptr);
  ArchiveBuilder inner("ustar");
  const std::string inner_tar = inner.Add("deep.txt", "deep").Finish();
  ArchiveBuilder outer("zip");
  InMemorySource source(kSourceId);
  source.Put("o.zip", outer.Add("in.tar", inner_tar).Finish(), "v1");
  Sweep(*p, source);
  EXPECT_THAT(Keys(*p->store), ElementsAre("o.zip", "o.zip!in.tar"));
  std::optional<ObjectRecord> nested = ReadObject(*p->store, kSourceId, "o.zip!in.tar");
  ASSERT_TRUE(nested.has_value());
  EXPECT_EQ(nested->archive_outcome, ArchiveOutcome::kNotExpanded);
  EXPECT_THAT(nested->archive_message, HasSubstr("limits.archive_max_depth (1)"));
  EXPECT_EQ(nested->digests.sha256, DigestsOf(inner_tar).sha256);
}

TEST_F(ArchivePipelineTest, ListImportedLaterRetroMatchesAMemberWithoutReadingAgain) {
  std::unique_ptr<Pipeline> p = Open();
  ASSERT_NE(p, nullptr);
  const std::string member = RandomBytes(1500, 8);
  ArchiveBuilder zip("zip");
  InMemorySource source(kSourceId);
  source.Put("late.zip", zip.Add("a/b.bin", member).Finish(), "v1");
  Sweep(*p, source);
  EXPECT_TRUE(ReadAllCases(*p->store).empty());
  const uint64_t opens = source.TotalOpens();

  Import(*p, "hotline", ListLine(HashType::kSha1, DigestsOf(member), "csam", "late-1"));
  EXPECT_EQ(source.TotalOpens(), opens);
  std::map<std::string, Case> cases = ReadAllCases(*p->store);
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases.begin()->second.object.key, "late.zip!a/b.bin");
  ASSERT_EQ(cases.begin()->second.evidence.size(), 1u);
  EXPECT_EQ(cases.begin()->second.evidence[0].digest_hex, HexEncode(DigestsOf(member).sha1));
}

TEST_F(ArchivePipelineTest, ManyMembersAreWrittenInBatchesAndDeletedAgain) {
  std::unique_ptr<Pipeline> p = Open();
  ASSERT_NE(p, nullptr);
  constexpr int kMembers = 3 * static_cast<int>(ArchiveMemberScanner::kBatchRecords) + 17;
  ArchiveBuilder tar("ustar");
  for (int i = 0; i < kMembers; ++i) tar.Add(fmt::format("m/{:04}.txt", i), fmt::format("member {}", i));
  const std::string bytes = tar.Finish();
  InMemorySource source(kSourceId);
  source.Put("many.tar", bytes, "v1");
  absl::StatusOr<SweepCounters> c =
      p->processor->Process(source, {kSourceId, "many.tar", "v1", bytes.size()}, "sweep-1");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->members, static_cast<uint64_t>(kMembers));
  EXPECT_EQ(Records(*p->store).size(), static_cast<size_t>(kMembers) + 1);
  EXPECT_EQ(ReadObject(*p->store, kSourceId, "many.tar!m/0500.txt")->digests.sha256,
            DigestsOf("member 500").sha256);

  ASSERT_TRUE(DeleteArchiveMembers(*p->store, kSourceId, "many.tar").ok());
  EXPECT_THAT(Keys(*p->store), ElementsAre("many.tar"));
}

}  // namespace
}  // namespace takedown::testing
