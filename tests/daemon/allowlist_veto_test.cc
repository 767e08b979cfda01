// The allowlist veto rule (daemon/allowlist_veto.h) on its own, and the sweep
// and retro-match applying it alike: an exact or PDQ allowlist hit vetoes
// every match of the object, exact and PDQ.
#include "daemon/allowlist_veto.h"

#include <fstream>
#include <sstream>

#include "daemon/sweep_runner.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "tests/daemon/pipeline_harness.h"
#include "tests/fakes/in_memory_source.h"

namespace takedown::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

ExactMatch Exact(std::string list, HashType type, std::string entry_id) {
  ExactMatch m;
  m.type = type;
  m.digest = std::string(HashTypeName(type)) + "-digest";
  m.entry.list_name = std::move(list);
  m.entry.list_version = "v1";
  m.entry.entry_id = std::move(entry_id);
  return m;
}

PdqListMatch Pdq(std::string list, std::string entry_id, int distance) {
  PdqListMatch m;
  m.list_name = std::move(list);
  m.entry_id = std::move(entry_id);
  m.distance = distance;
  m.threshold = 31;
  m.quality = 90;
  return m;
}

PdqVeto Veto(PdqListMatch match, std::string allowlist_entry) {
  PdqVeto v;
  v.match = std::move(match);
  v.allowlist_name = "false-positives";
  v.allowlist_entry_id = std::move(allowlist_entry);
  v.distance = 2;
  v.threshold = 10;
  return v;
}

ListPolicies Policies() {
  ListPolicy allow;
  allow.allowlist = true;
  return ListPolicies({{"false-positives", allow}, {"hotline", ListPolicy{}}});
}

std::vector<std::string> EntryIds(const std::vector<ExactMatch>& matches) {
  std::vector<std::string> ids;
  for (const ExactMatch& m : matches) ids.push_back(m.entry.entry_id);
  return ids;
}
std::vector<std::string> EntryIds(const std::vector<PdqListMatch>& matches) {
  std::vector<std::string> ids;
  for (const PdqListMatch& m : matches) ids.push_back(m.entry_id);
  return ids;
}

TEST(ApplyAllowlistVeto, WithoutAnAllowlistHitEveryMatchStandsInOrder) {
  PdqMatchResult pdq;
  pdq.matches = {Pdq("hotline", "p-1", 4), Pdq("ncmec", "p-2", 9)};
  // "ncmec" is named nowhere in the policies: a blocklist.
  AllowlistVerdict v = ApplyAllowlistVeto(
      {Exact("ncmec", HashType::kSha256, "e-2"), Exact("hotline", HashType::kMd5, "e-1")}, pdq, Policies());
  EXPECT_FALSE(v.allowlisted());
  EXPECT_THAT(EntryIds(v.matches), ElementsAre("e-2", "e-1"));
  EXPECT_THAT(EntryIds(v.pdq_matches), ElementsAre("p-1", "p-2"));
  EXPECT_THAT(v.allowlist_hits, IsEmpty());
  EXPECT_THAT(v.vetoed_matches, IsEmpty());
  EXPECT_THAT(v.vetoed_pdq_matches, IsEmpty());
  EXPECT_EQ(v.vetoed_count(), 0u);
}

TEST(ApplyAllowlistVeto, ExactAllowlistHitVetoesExactAndPdqMatches) {
  PdqMatchResult pdq;
  pdq.matches = {Pdq("hotline", "p-1", 4)};
  AllowlistVerdict v = ApplyAllowlistVeto(
      {Exact("hotline", HashType::kSha256, "e-1"), Exact("false-positives", HashType::kMd5, "fp-1"),
       Exact("ncmec", HashType::kSha1, "e-2")},
      pdq, Policies());
  EXPECT_TRUE(v.allowlisted());
  EXPECT_THAT(v.matches, IsEmpty());
  EXPECT_THAT(v.pdq_matches, IsEmpty());
  EXPECT_THAT(EntryIds(v.allowlist_hits), ElementsAre("fp-1"));
  EXPECT_THAT(EntryIds(v.vetoed_matches), ElementsAre("e-1", "e-2"));
  EXPECT_THAT(EntryIds(v.vetoed_pdq_matches), ElementsAre("p-1"));
  EXPECT_THAT(v.pdq_vetoes, IsEmpty());
  EXPECT_EQ(v.vetoed_count(), 3u);
}

TEST(ApplyAllowlistVeto, PdqVetoAlsoVetoesExactMatches) {
  PdqMatchResult pdq;
  pdq.vetoes = {Veto(Pdq("hotline", "p-1", 4), "fp-pdq")};
  AllowlistVerdict v = ApplyAllowlistVeto({Exact("hotline", HashType::kSha256, "e-1")}, pdq, Policies());
  EXPECT_TRUE(v.allowlisted());
  EXPECT_THAT(v.matches, IsEmpty());
  EXPECT_THAT(v.pdq_matches, IsEmpty());
  EXPECT_THAT(v.allowlist_hits, IsEmpty());
  EXPECT_THAT(EntryIds(v.vetoed_matches), ElementsAre("e-1"));
  ASSERT_EQ(v.pdq_vetoes.size(), 1u);
  EXPECT_EQ(v.pdq_vetoes[0].allowlist_entry_id, "fp-pdq");
  EXPECT_EQ(v.pdq_vetoes[0].match.entry_id, "p-1");
  EXPECT_EQ(v.vetoed_count(), 2u);
}

TEST(ApplyAllowlistVeto, AllowlistHitWithoutMatchesVetoesNothing) {
  AllowlistVerdict v =
      ApplyAllowlistVeto({Exact("false-positives", HashType::kMd5, "fp-1")}, PdqMatchResult{}, Policies());
  EXPECT_TRUE(v.allowlisted());
  EXPECT_THAT(EntryIds(v.allowlist_hits), ElementsAre("fp-1"));
  EXPECT_THAT(v.matches, IsEmpty());
  EXPECT_EQ(v.vetoed_count(), 0u);

  // Every list a blocklist by default: the same hit is a match then.
  v = ApplyAllowlistVeto({Exact("false-positives", HashType::kMd5, "fp-1")}, PdqMatchResult{},
                         ListPolicies{});
  EXPECT_FALSE(v.allowlisted());
  EXPECT_THAT(EntryIds(v.matches), ElementsAre("fp-1"));
}

// --- The sweep and retro-match decide alike ---

constexpr char kSourceId[] = "images";
const std::string kVectors = std::string(TAKEDOWN_SOURCE_DIR) + "/../shared/vectors/pdq/images/";
// From shared/vectors/pdq/MANIFEST.tsv.
constexpr char kSquareHash[] = "d8f8f0cec4f4a84f0637022a078f67f0b36e2ee5b6621e1d33e6239c4e9c9b22";

class AllowlistVetoPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    square_ = ReadFile(kVectors + "bridge-mods/square-256x256.jpg");
    source_.Put("square.jpg", square_, "v1");
    PipelineOptions options;
    options.pdq = PdqMatcherOptions{};
    ListPolicy fp;
    fp.allowlist = true;
    fp.pdq.threshold = 10;
    options.policies = ListPolicies({{"false-positives", fp}});
    absl::StatusOr<std::unique_ptr<Pipeline>> p = Pipeline::Open(dir_.Sub("store"), clock_, options);
    ASSERT_TRUE(p.ok()) << p.status();
    p_ = std::move(*p);
  }

  void Sweep() {
    SweepRunner runner(source_, *p_->processor, *p_->pool, *p_->store, *p_->audit, clock_, 10);
    absl::Status s = runner.Start(std::nullopt, "test");
    ASSERT_TRUE(s.ok()) << s;
    runner.Join();
    EXPECT_EQ(runner.Progress().phase, SweepPhase::kCompleted) << runner.Progress().error;
  }

  // The square's SHA-256 exactly, and its PDQ hash within 5 bits.
  std::string HotlineList() const {
    return ListLine(HashType::kSha256, DigestsOf(square_), "csam", "exact-square") +
           fmt::format("pdq,{},csam,pdq-square\n", FlipBits(kSquareHash, 5));
  }
  // A PDQ entry 3 bits from the square: a known false positive.
  static std::string PdqAllowlist() {
    return fmt::format("pdq,{},other,fp-square\n", FlipBits(kSquareHash, 3));
  }

  void Import(const std::string& name, const std::string& content) {
    absl::StatusOr<ImportResult> r = p_->lists->ImportContent(name, content, "test");
    ASSERT_TRUE(r.ok()) << r.status();
  }

  TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  InMemorySource source_{kSourceId};
  std::string square_;
  std::unique_ptr<Pipeline> p_;
};

TEST_F(AllowlistVetoPipelineTest, SweepLetsAPdqAllowlistHitVetoTheExactMatchToo) {
  Import("hotline", HotlineList());
  Import("false-positives", PdqAllowlist());
  Sweep();
  EXPECT_TRUE(ReadAllCases(*p_->store).empty());
  std::optional<ObjectRecord> square = ReadObject(*p_->store, kSourceId, "square.jpg");
  ASSERT_TRUE(square.has_value());
  EXPECT_EQ(square->match_count, 0u);
  EXPECT_EQ(square->vetoed_matches, 2u);  // the exact match and the PDQ one
  EXPECT_EQ(AuditActionCounts(*p_->audit)["match.veto"], 1);
}

TEST_F(AllowlistVetoPipelineTest, RetroMatchVetoesTheSameObject) {
  Import("false-positives", PdqAllowlist());
  Sweep();
  Import("hotline", HotlineList());
  EXPECT_TRUE(ReadAllCases(*p_->store).empty());
  EXPECT_EQ(AuditActionCounts(*p_->audit)["case.create"], 0);
}

TEST_F(AllowlistVetoPipelineTest, WithoutTheAllowlistRetroMatchMakesTheCase) {
  Sweep();
  Import("hotline", HotlineList());
  std::map<std::string, Case> cases = ReadAllCases(*p_->store);
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases.begin()->second.evidence.size(), 2u);
}

}  // namespace
}  // namespace takedown::testing
