// PDQ in the sweep pipeline: images get a PDQ hash on their record, PDQ list
// entries make cases with distance/threshold/quality evidence, low-quality
// images are not matched, allowlists veto (audited), corrupt images are
// recorded, and a PDQ list imported later retro-matches stored hashes
// without reading storage again.
#include <fstream>
#include <sstream>

#include "daemon/sweep_runner.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "tests/daemon/pipeline_harness.h"
#include "tests/fakes/in_memory_source.h"

namespace takedown::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kSourceId[] = "images";
const std::string kVectors = std::string(TAKEDOWN_SOURCE_DIR) + "/../shared/vectors/pdq/images/";

// From shared/vectors/pdq/MANIFEST.tsv (the reference implementation's output).
constexpr char kSquareHash[] = "d8f8f0cec4f4a84f0637022a078f67f0b36e2ee5b6621e1d33e6239c4e9c9b22";
constexpr char kQ0122Hash[] = "cfb2009ddd21c6dab0046a7745b5984757a8a4535b3377aea2591d32b33ff940";
constexpr char kQ0003Hash[] = "54a9f7c321d1443c43ba566e21d4a13989a3553f1472611cbbc5fda59e03b677";  // quality 3

class PdqPipelineTest : public ::testing::Test {
 protected:
  void FillSource(InMemorySource& source) {
    square_ = ReadFile(kVectors + "bridge-mods/square-256x256.jpg");
    source.Put("square.jpg", square_, "v1");
    source.Put("square-cut.jpg", square_.substr(0, square_.size() / 2), "v1");
    source.Put("q0122.jpg", ReadFile(kVectors + "reg-test-input/labelme-subset/q0122.jpg"), "v1");
    source.Put("q0003.jpg", ReadFile(kVectors + "reg-test-input/labelme-subset/q0003.jpg"), "v1");
    source.Put("q0291.jpg", ReadFile(kVectors + "reg-test-input/labelme-subset/q0291.jpg"), "v1");
    source.Put("notes.txt", "not an image at all", "v1");
  }

  std::unique_ptr<Pipeline> OpenPipeline(PipelineOptions options) {
    PdqMatcherOptions pdq;
    pdq.mode = PdqHashMode::kExact;
    options.pdq = pdq;
    std::map<std::string, ListPolicy, std::less<>> policies;
    ListPolicy fp;
    fp.allowlist = true;
    fp.pdq.threshold = 10;
    policies["false-positives"] = fp;
    ListPolicy hot;
    hot.pdq.threshold = 31;
    hot.pdq.min_quality = 50;
    policies["hotline"] = hot;
    options.policies = ListPolicies(std::move(policies));
    absl::StatusOr<std::unique_ptr<Pipeline>> p = Pipeline::Open(dir_.Sub("store"), clock_, options);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? std::move(*p) : nullptr;
  }

  SweepState Sweep(Pipeline& p, Source& source) {
    SweepRunner runner(source, *p.processor, *p.pool, *p.store, *p.audit, clock_, 10);
    absl::Status s = runner.Start(std::nullopt, "test");
    EXPECT_TRUE(s.ok()) << s;
    runner.Join();
    return runner.Progress();
  }

  void Import(Pipeline& p, const std::string& name, const std::string& content) {
    absl::StatusOr<ImportResult> r = p.lists->ImportContent(name, content, "test");
    ASSERT_TRUE(r.ok()) << r.status();
  }

  TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  std::string square_;
};

TEST_F(PdqPipelineTest, SweepHashesImagesMatchesPdqEntriesAndRecordsEveryOutcome) {
  std::unique_ptr<Pipeline> p = OpenPipeline({});
  ASSERT_NE(p, nullptr);
  // 5 bits from the square's hash: a near-duplicate entry; q0122 is on the
  // blocklist and on the allowlist; q0003 is listed but of quality 3.
  Import(*p, "hotline",
         fmt::format("pdq,{},csam,near-square\npdq,{},terrorist,q0122-entry\npdq,{},csam,q0003-entry\n",
                     FlipBits(kSquareHash, 5), kQ0122Hash, kQ0003Hash));
  Import(*p, "false-positives", fmt::format("pdq,{},other,fp-1\n", FlipBits(kQ0122Hash, 3)));

  InMemorySource source(kSourceId);
  FillSource(source);
  SweepState end = Sweep(*p, source);
  EXPECT_EQ(end.phase, SweepPhase::kCompleted) << end.error;
  EXPECT_EQ(end.counters.matches, 1u);

  std::map<std::string, Case> cases = ReadAllCases(*p->store);
  ASSERT_EQ(cases.size(), 1u);
  const Case& c = cases.begin()->second;
  EXPECT_EQ(c.object.key, "square.jpg");
  EXPECT_EQ(c.category, "csam");
  ASSERT_EQ(c.evidence.size(), 1u);
  const MatchEvidence& e = c.evidence[0];
  EXPECT_EQ(e.hash_type, "pdq");
  EXPECT_EQ(e.digest_hex, kSquareHash);
  EXPECT_EQ(e.list_name, "hotline");
  EXPECT_EQ(e.entry_id, "near-square");
  EXPECT_EQ(e.distance, 5);
  EXPECT_EQ(e.threshold, 31);
  EXPECT_EQ(e.quality, 100);
  EXPECT_THAT(e.algorithm_version, HasSubstr(std::string(kPdqImplementationVersion)));
  EXPECT_EQ(ReadOutbox(*p->store).size(), 1u);

  std::optional<ObjectRecord> square = ReadObject(*p->store, kSourceId, "square.jpg");
  ASSERT_TRUE(square.has_value());
  EXPECT_EQ(square->pdq_outcome, "hashed");
  EXPECT_EQ(square->pdq_quality, 100);
  EXPECT_EQ(square->pdq_mode, "exact");
  EXPECT_EQ(square->image_width, 256u);
  std::optional<PdqDihedral> dihedral = StoredPdqDihedral(*square);
  ASSERT_TRUE(dihedral.has_value());
  EXPECT_EQ(dihedral->hashes[0].ToHex(), kSquareHash);

  std::optional<ObjectRecord> cut = ReadObject(*p->store, kSourceId, "square-cut.jpg");
  ASSERT_TRUE(cut.has_value());
  EXPECT_EQ(cut->status, ObjectStatus::kHashed);  // digests are still recorded
  EXPECT_EQ(cut->pdq_outcome, "corrupt");
  EXPECT_FALSE(cut->pdq_message.empty());

  std::optional<ObjectRecord> vetoed = ReadObject(*p->store, kSourceId, "q0122.jpg");
  ASSERT_TRUE(vetoed.has_value());
  EXPECT_EQ(vetoed->pdq_outcome, "hashed");
  EXPECT_EQ(vetoed->vetoed_matches, 1u);
  EXPECT_EQ(vetoed->match_count, 0u);

  std::optional<ObjectRecord> low = ReadObject(*p->store, kSourceId, "q0003.jpg");
  ASSERT_TRUE(low.has_value());
  EXPECT_EQ(low->pdq_quality, 3);
  EXPECT_EQ(low->match_count, 0u);

  std::optional<ObjectRecord> text = ReadObject(*p->store, kSourceId, "notes.txt");
  ASSERT_TRUE(text.has_value());
  EXPECT_TRUE(text->pdq_outcome.empty());

  // The veto is audited with the allowlist entry and both distances.
  int vetoes = 0;
  for (const AuditRecord& r : ReadAudit(*p->audit)) {
    if (r.action != "match.veto") continue;
    ++vetoes;
    ASSERT_TRUE(r.details.contains("pdq_vetoes"));
    const nlohmann::json& v = r.details["pdq_vetoes"][0];
    EXPECT_EQ(v["entry_id"], "q0122-entry");
    EXPECT_EQ(v["allowlist"], "false-positives");
    EXPECT_EQ(v["allowlist_entry_id"], "fp-1");
    EXPECT_EQ(v["allowlist_distance"], 3);
    EXPECT_EQ(v["distance"], 0);
  }
  EXPECT_EQ(vetoes, 1);
  ExpectAuditChainIntact(*p->audit);
}

TEST_F(PdqPipelineTest, ExactDigestOnAnAllowlistVetoesEveryMatch) {
  std::unique_ptr<Pipeline> p = OpenPipeline({});
  ASSERT_NE(p, nullptr);
  InMemorySource source(kSourceId);
  FillSource(source);
  DigestSet digests = DigestsOf(square_);
  Import(*p, "hotline",
         ListLine(HashType::kSha256, digests, "csam", "exact-square") +
             fmt::format("pdq,{},csam,pdq-square\n", kSquareHash));
  Import(*p, "false-positives", ListLine(HashType::kMd5, digests, "other", "fp-square"));
  SweepState end = Sweep(*p, source);
  EXPECT_EQ(end.phase, SweepPhase::kCompleted) << end.error;
  EXPECT_TRUE(ReadAllCases(*p->store).empty());
  std::optional<ObjectRecord> square = ReadObject(*p->store, kSourceId, "square.jpg");
  ASSERT_TRUE(square.has_value());
  EXPECT_EQ(square->vetoed_matches, 2u);
  EXPECT_EQ(AuditActionCounts(*p->audit)["match.veto"], 1);
}

TEST_F(PdqPipelineTest, PdqListImportedLaterRetroMatchesStoredHashesWithoutReadingAgain) {
  std::unique_ptr<Pipeline> p = OpenPipeline({});
  ASSERT_NE(p, nullptr);
  InMemorySource source(kSourceId);
  FillSource(source);
  SweepState end = Sweep(*p, source);
  EXPECT_EQ(end.phase, SweepPhase::kCompleted) << end.error;
  EXPECT_TRUE(ReadAllCases(*p->store).empty());
  const uint64_t opens = source.TotalOpens();

  // An entry 20 bits from the square's hash: within 31.
  Import(*p, "hotline", fmt::format("pdq,{},terrorist,late-entry\n", FlipBits(kSquareHash, 20)));
  EXPECT_EQ(source.TotalOpens(), opens);
  std::map<std::string, Case> cases = ReadAllCases(*p->store);
  ASSERT_EQ(cases.size(), 1u);
  const Case& c = cases.begin()->second;
  EXPECT_EQ(c.object.key, "square.jpg");
  ASSERT_EQ(c.evidence.size(), 1u);
  EXPECT_EQ(c.evidence[0].distance, 20);
  EXPECT_EQ(c.evidence[0].category, "terrorist");
  EXPECT_EQ(AuditActionCounts(*p->audit)["case.create"], 1);
}

TEST_F(PdqPipelineTest, ImageOverTheByteLimitIsRecordedAndNotDecoded) {
  PipelineOptions options;
  std::unique_ptr<Pipeline> p;
  {
    PdqMatcherOptions pdq;
    pdq.max_image_bytes = 1000;  // every vector image is larger
    options.pdq = pdq;
    absl::StatusOr<std::unique_ptr<Pipeline>> opened = Pipeline::Open(dir_.Sub("store"), clock_, options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    p = std::move(*opened);
  }
  Import(*p, "hotline", fmt::format("pdq,{},csam,square\n", kSquareHash));
  InMemorySource source(kSourceId);
  FillSource(source);
  SweepState end = Sweep(*p, source);
  EXPECT_EQ(end.phase, SweepPhase::kCompleted) << end.error;
  EXPECT_TRUE(ReadAllCases(*p->store).empty());
  std::optional<ObjectRecord> square = ReadObject(*p->store, kSourceId, "square.jpg");
  ASSERT_TRUE(square.has_value());
  EXPECT_EQ(square->status, ObjectStatus::kHashed);
  EXPECT_EQ(square->pdq_outcome, "too_large");
  EXPECT_THAT(square->pdq_message, HasSubstr("max_image_bytes"));
}

}  // namespace
}  // namespace takedown::testing
