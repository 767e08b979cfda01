// Review decisions through the whole sweep pipeline: a rejected false
// positive goes to the allowlist (a real file re-imported through the
// HashListManager), dependent cases are rejected with it, and the same bytes
// never make a case again.
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "daemon/case_engine.h"
#include "daemon/file_allowlist_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/case_engine_harness.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/in_memory_source.h"

namespace takedown {
namespace {

using ::takedown::testing::AuditActionCounts;
using ::takedown::testing::CountKeys;
using ::takedown::testing::DigestsOf;
using ::takedown::testing::ExpectAuditChainIntact;
using ::takedown::testing::ListLine;
using ::takedown::testing::Pipeline;
using ::takedown::testing::PipelineOptions;
using ::takedown::testing::ReadAllCases;
using ::takedown::testing::ReadCase;
using ::takedown::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr char kInnocent[] = "a holiday photo that collides with a list entry";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class CaseReviewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PipelineOptions options;
    ListPolicy allow;
    allow.allowlist = true;
    options.policies = ListPolicies({{"fp-allow", allow}});
    absl::StatusOr<std::unique_ptr<Pipeline>> p = Pipeline::Open(dir_.Sub("store"), clock_, options);
    ASSERT_TRUE(p.ok()) << p.status();
    p_ = std::move(*p);
    DigestSet d = DigestsOf(kInnocent);
    absl::StatusOr<ImportResult> imported = p_->lists->ImportContent(
        "blocklist",
        ListLine(HashType::kMd5, d, "csam", "ncmec-1") + ListLine(HashType::kSha1, d, "csam", "ncmec-2"),
        "test");
    ASSERT_TRUE(imported.ok()) << imported.status();

    FileAllowlistOptions allow_options;
    allow_options.default_allowlist = "fp-allow";
    allow_options.paths = {{"fp-allow", allowlist_path_}};
    writer_ = std::make_unique<FileAllowlistWriter>(*p_->lists, *p_->policies, allow_options);
    CaseEngineOptions engine_options;
    engine_options.allowlist = writer_.get();
    absl::StatusOr<std::unique_ptr<CaseEngine>> engine =
        CaseEngine::Create(*p_->store, *p_->audit, clock_, *p_->metrics, engine_options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    p_->recorder->SetAdmission(engine_.get());
  }

  void Sweep(const std::string& key, const std::string& version) {
    source_.Put(key, kInnocent, version);
    absl::StatusOr<SweepCounters> c = p_->processor->Process(
        source_, ObjectRef{"src", key, version, sizeof(kInnocent) - 1}, "sweep-" + version);
    ASSERT_TRUE(c.ok()) << c.status();
  }

  TempDir dir_;
  FakeClock clock_;
  InMemorySource source_{"src"};
  const std::string allowlist_path_ = dir_.Sub("fp-allow.csv");
  std::unique_ptr<Pipeline> p_;
  std::unique_ptr<FileAllowlistWriter> writer_;
  std::unique_ptr<CaseEngine> engine_;
};

TEST_F(CaseReviewTest, RejectedFalsePositiveIsAllowlistedTakesItsDependentsAlongAndNeverReturns) {
  Sweep("photos/a.jpg", "v1");
  Sweep("photos/copy-of-a.jpg", "v1");
  const std::string a = CaseIdFor("src", "photos/a.jpg");
  const std::string copy = CaseIdFor("src", "photos/copy-of-a.jpg");
  ASSERT_EQ(ReadAllCases(*p_->store).size(), 2u);
  // The blocklist does not allow auto-action: both wait for a reviewer.
  EXPECT_EQ(ReadCase(*p_->store, a)->state, CaseState::kInReview);
  EXPECT_EQ(ReadCase(*p_->store, copy)->state, CaseState::kInReview);

  absl::StatusOr<RejectOutcome> rejected =
      engine_->Reject(a, "reviewer:alice", "holiday photo, hash collision");
  ASSERT_TRUE(rejected.ok()) << rejected.status();
  EXPECT_EQ(rejected->rejected.state, CaseState::kRejected);
  EXPECT_THAT(rejected->dependent_cases_rejected, ElementsAre(copy));
  EXPECT_EQ(rejected->allowlist_additions, 2u);  // the md5 and sha1 evidence
  Case dependent = *ReadCase(*p_->store, copy);
  EXPECT_EQ(dependent.state, CaseState::kRejected);
  EXPECT_THAT(dependent.history.back().reason, HasSubstr(a));

  const std::string file = ReadFile(allowlist_path_);
  DigestSet d = DigestsOf(kInnocent);
  EXPECT_THAT(file, HasSubstr("md5," + HexEncode(d.Get(HashType::kMd5)) + ",csam,fp-md5-"));
  EXPECT_THAT(file, HasSubstr("sha1," + HexEncode(d.Get(HashType::kSha1)) + ",csam,fp-sha1-"));
  EXPECT_THAT(file, HasSubstr("rejected by reviewer:alice: holiday photo, hash collision"));
  absl::StatusOr<std::vector<HashListInfo>> lists = p_->lists->List();
  ASSERT_TRUE(lists.ok());
  bool allowlist_loaded = false;
  for (const HashListInfo& l : *lists) allowlist_loaded |= l.name == "fp-allow" && l.entries == 2;
  EXPECT_TRUE(allowlist_loaded);

  // The same bytes elsewhere, and the same object again, make no case.
  Sweep("uploads/again.jpg", "v1");
  Sweep("photos/a.jpg", "v2");
  std::map<std::string, Case> cases = ReadAllCases(*p_->store);
  EXPECT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases.count(CaseIdFor("src", "uploads/again.jpg")), 0u);
  EXPECT_EQ(cases.at(a).state, CaseState::kRejected);
  EXPECT_EQ(cases.at(a).evidence.size(), 2u);
  EXPECT_GE(AuditActionCounts(*p_->audit)["match.veto"], 2);

  // Rejecting again only re-runs the (idempotent) allowlist step.
  const std::string before = ReadFile(allowlist_path_);
  absl::StatusOr<RejectOutcome> again = engine_->Reject(a, "reviewer:alice", "again");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->dependent_cases_rejected.empty());
  EXPECT_EQ(ReadFile(allowlist_path_), before);
  ExpectAuditChainIntact(*p_->audit);
}

TEST_F(CaseReviewTest, EnsureFilesCreatesAnEmptyAllowlistTheStartUpImportAccepts) {
  ASSERT_FALSE(std::filesystem::exists(allowlist_path_));
  ASSERT_TRUE(writer_->EnsureFiles().ok());
  absl::StatusOr<ImportResult> imported = p_->lists->ImportFile("fp-allow", allowlist_path_, "config");
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->info.entries, 0u);
  const std::string first = ReadFile(allowlist_path_);
  ASSERT_TRUE(writer_->EnsureFiles().ok());  // an existing file is left as it is
  EXPECT_EQ(ReadFile(allowlist_path_), first);
}

TEST_F(CaseReviewTest, AllowlistWriterRefusesAListThatIsNotAnAllowlist) {
  FileAllowlistOptions options;
  options.default_allowlist = "blocklist";
  options.paths = {{"blocklist", dir_.Sub("blocklist.csv")}};
  FileAllowlistWriter wrong(*p_->lists, *p_->policies, options);
  absl::Status s =
      wrong.Add({AllowlistAddition{"blocklist", "md5", std::string(32, 'a'), "csam", "c-1", "x"}}, "t");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("not configured as an allowlist"));
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("blocklist.csv")));

  absl::Status malformed =
      writer_->Add({AllowlistAddition{"blocklist", "md5", "XYZ", "csam", "c-1", "x"}}, "t");
  EXPECT_EQ(malformed.code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CaseReviewTest, ConfirmedCaseIsNotifiedWithTimersInTheSameWrite) {
  Sweep("photos/a.jpg", "v1");
  const std::string a = CaseIdFor("src", "photos/a.jpg");
  const uint64_t seq = p_->audit->last_seq();
  absl::StatusOr<Case> confirmed = engine_->Confirm(a, "reviewer:alice", "it is the listed file");
  ASSERT_TRUE(confirmed.ok()) << confirmed.status();
  EXPECT_EQ(confirmed->state, CaseState::kNotified);
  EXPECT_EQ(CountKeys(*p_->store, Cf::kTimers), confirmed->terms.timers.size());
  EXPECT_EQ(confirmed->terms.timers.size(), 4u);
  // One audited write: two transition records appended together.
  std::vector<AuditRecord> records = testing::ReadAudit(*p_->audit);
  ASSERT_EQ(records.size(), seq + 2);
  EXPECT_EQ(records[seq].details["to"], "confirmed");
  EXPECT_EQ(records[seq + 1].details["to"], "notified");
  EXPECT_EQ(records[seq].actor, "reviewer:alice");
}

}  // namespace
}  // namespace takedown
