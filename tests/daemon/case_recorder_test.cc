#include "daemon/case_recorder.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/pipeline_harness.h"
#include "tests/fakes/fake_clock.h"

namespace takedown {
namespace {

using ::takedown::testing::AuditActionCounts;
using ::takedown::testing::CountKeys;
using ::takedown::testing::DigestsOf;
using ::takedown::testing::EntryFor;
using ::takedown::testing::ExpectAuditChainIntact;
using ::takedown::testing::Pipeline;
using ::takedown::testing::ReadAllCases;
using ::takedown::testing::ReadAudit;
using ::takedown::testing::ReadCase;
using ::takedown::testing::ReadObject;
using ::takedown::testing::ReadOutbox;
using ::takedown::testing::TempDir;

constexpr char kContent[] = "bytes of a known bad object";

class CaseRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Pipeline>> p = Pipeline::Open(dir_.Sub("store"), clock_);
    ASSERT_TRUE(p.ok()) << p.status();
    p_ = std::move(*p);
    DigestSet d = DigestsOf(kContent);
    p_->index.ReplaceList("list-csam", "v-csam", {EntryFor(HashType::kMd5, d, ContentCategory::kCsam, "c1")});
    p_->index.ReplaceList("list-other", "v-other",
                          {EntryFor(HashType::kSha1, d, ContentCategory::kOther, "o1")});
    p_->index.ReplaceList("list-terror", "v-terror",
                          {EntryFor(HashType::kSha256, d, ContentCategory::kTerrorist, "t1"),
                           EntryFor(HashType::kMd5, d, ContentCategory::kTerrorist, "t2")});
    record_.source_id = "src";
    record_.key = "dir/bad.jpg";
    record_.version = "v1";
    record_.size = sizeof(kContent) - 1;
    record_.digests = d;
    record_.sweep_id = "sweep-1";
    record_.swept_at = clock_.Now();
  }

  // The index's matches for the object, restricted to `lists`.
  std::vector<ExactMatch> MatchesFrom(const std::vector<std::string>& lists) const {
    std::vector<ExactMatch> all = p_->index.Lookup(record_.digests);
    std::vector<ExactMatch> out;
    for (ExactMatch& m : all) {
      if (std::find(lists.begin(), lists.end(), m.entry.list_name) != lists.end()) out.push_back(m);
    }
    return out;
  }

  RecordOutcome RecordOrDie(const std::vector<ExactMatch>& matches, bool write_object = true) {
    absl::StatusOr<RecordOutcome> outcome = p_->recorder->Record(record_, matches, write_object, "test");
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    return outcome.value_or(RecordOutcome{});
  }

  std::string CaseId() const { return CaseIdFor(record_.source_id, record_.key); }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Pipeline> p_;
  ObjectRecord record_;
};

TEST_F(CaseRecorderTest, NoMatchesWritesOnlyTheObjectRecord) {
  RecordOutcome outcome = RecordOrDie({});
  EXPECT_FALSE(outcome.case_created);
  EXPECT_EQ(outcome.evidence_added, 0u);
  std::optional<ObjectRecord> stored = ReadObject(*p_->store, "src", "dir/bad.jpg");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->version, "v1");
  EXPECT_EQ(CountKeys(*p_->store, Cf::kCases), 0u);
  EXPECT_EQ(CountKeys(*p_->store, Cf::kOutbox), 0u);
  EXPECT_EQ(p_->audit->last_seq(), 0u);
}

TEST_F(CaseRecorderTest, RecordingTheSameMatchesTwiceLeavesOneCaseOneNoticeAndNoDuplicateEvidence) {
  std::vector<ExactMatch> matches = MatchesFrom({"list-csam", "list-terror"});
  ASSERT_EQ(matches.size(), 3u);
  RecordOutcome first = RecordOrDie(matches);
  EXPECT_TRUE(first.case_created);
  EXPECT_EQ(first.evidence_added, 3u);
  const uint64_t seq_after_first = p_->audit->last_seq();
  std::optional<Case> before = ReadCase(*p_->store, CaseId());
  ASSERT_TRUE(before.has_value());

  clock_.Advance(absl::Minutes(3));
  RecordOutcome second = RecordOrDie(matches);
  EXPECT_FALSE(second.case_created);
  EXPECT_EQ(second.evidence_added, 0u);

  std::map<std::string, Case> cases = ReadAllCases(*p_->store);
  ASSERT_EQ(cases.size(), 1u);
  const Case& c = cases.at(CaseId());
  EXPECT_EQ(c.evidence.size(), 3u);
  EXPECT_EQ(c, *before) << "a repeat changed the case";
  EXPECT_EQ(c.state, CaseState::kDetected);
  EXPECT_EQ(c.category, "csam");
  EXPECT_EQ(CountKeys(*p_->store, Cf::kMatches), 3u);

  std::map<std::string, OutboxRecord> outbox = ReadOutbox(*p_->store);
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(outbox.begin()->second.notice.case_id, CaseId());
  EXPECT_EQ(p_->notices_queued.load(), 1);

  EXPECT_EQ(p_->audit->last_seq(), seq_after_first);
  std::map<std::string, int> actions = AuditActionCounts(*p_->audit);
  EXPECT_EQ(actions["case.create"], 1);
  EXPECT_EQ(actions["case.evidence_add"], 0);
  ExpectAuditChainIntact(*p_->audit);
}

TEST_F(CaseRecorderTest, ASecondListAddsEvidenceWithoutASecondNoticeAndRaisesTheCategory) {
  const absl::Time created = clock_.Now();
  RecordOutcome first = RecordOrDie(MatchesFrom({"list-terror"}));
  EXPECT_TRUE(first.case_created);
  EXPECT_EQ(first.evidence_added, 2u);
  EXPECT_EQ(ReadCase(*p_->store, CaseId())->category, "terrorist");

  clock_.Advance(absl::Hours(2));
  RecordOutcome second = RecordOrDie(MatchesFrom({"list-csam"}));
  EXPECT_FALSE(second.case_created);
  EXPECT_EQ(second.evidence_added, 1u);

  std::optional<Case> c = ReadCase(*p_->store, CaseId());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->category, "csam");
  EXPECT_EQ(c->evidence.size(), 3u);
  EXPECT_EQ(c->created_at, created);
  EXPECT_EQ(c->updated_at, clock_.Now());
  EXPECT_EQ(c->state, CaseState::kDetected);
  EXPECT_EQ(CountKeys(*p_->store, Cf::kOutbox), 1u);
  EXPECT_EQ(p_->notices_queued.load(), 1);

  std::vector<AuditRecord> records = ReadAudit(*p_->audit);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].action, "case.create");
  EXPECT_EQ(records[1].action, "case.evidence_add");
  EXPECT_EQ(records[1].subject, CaseId());
  EXPECT_EQ(records[1].actor, "test");
  EXPECT_EQ(records[1].details.at("evidence_added"), 1);
  EXPECT_EQ(records[1].details.at("category"), "csam");
  ExpectAuditChainIntact(*p_->audit);

  // Less severe evidence afterwards does not lower the category.
  RecordOutcome third = RecordOrDie(MatchesFrom({"list-other"}));
  EXPECT_EQ(third.evidence_added, 1u);
  c = ReadCase(*p_->store, CaseId());
  EXPECT_EQ(c->category, "csam");
  EXPECT_EQ(c->evidence.size(), 4u);
  EXPECT_EQ(CountKeys(*p_->store, Cf::kOutbox), 1u);
}

TEST_F(CaseRecorderTest, WithoutWriteObjectOnlyTheCaseIsWritten) {
  RecordOutcome outcome = RecordOrDie(MatchesFrom({"list-csam"}), /*write_object=*/false);
  EXPECT_TRUE(outcome.case_created);
  EXPECT_FALSE(ReadObject(*p_->store, "src", "dir/bad.jpg").has_value());
  EXPECT_EQ(CountKeys(*p_->store, Cf::kCases), 1u);
}

// Keys from a filesystem are bytes, not necessarily UTF-8; nlohmann's dump()
// throws on invalid UTF-8, and a throw on a sweep worker ends the process.
TEST_F(CaseRecorderTest, NonUtf8KeyIsRecordedWithoutThrowing) {
  record_.key = "caf\xe9.jpg";
  absl::StatusOr<RecordOutcome> outcome = absl::InternalError("not run");
  ASSERT_NO_THROW(outcome = p_->recorder->Record(record_, MatchesFrom({"list-csam"}), /*write_object=*/false,
                                                  "test"));
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_TRUE(outcome->case_created);
  std::optional<Case> c = ReadCase(*p_->store, CaseId());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->object.key, record_.key);
  EXPECT_EQ(CountKeys(*p_->store, Cf::kMatches), 1u);
  EXPECT_EQ(CountKeys(*p_->store, Cf::kOutbox), 1u);
}

TEST_F(CaseRecorderTest, ConcurrentRecordsOfOneObjectMakeOneCase) {
  std::vector<std::vector<std::string>> subsets = {
      {"list-csam"}, {"list-terror"}, {"list-other"}, {"list-csam", "list-other"}, {"list-terror", "list-csam"}};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        std::vector<ExactMatch> matches = MatchesFrom(subsets[(t + round) % subsets.size()]);
        absl::StatusOr<RecordOutcome> outcome = p_->recorder->Record(record_, matches, true, "test");
        EXPECT_TRUE(outcome.ok()) << outcome.status();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::optional<Case> c = ReadCase(*p_->store, CaseId());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->evidence.size(), 4u);
  EXPECT_EQ(c->category, "csam");
  EXPECT_EQ(CountKeys(*p_->store, Cf::kCases), 1u);
  EXPECT_EQ(CountKeys(*p_->store, Cf::kOutbox), 1u);
  EXPECT_EQ(CountKeys(*p_->store, Cf::kMatches), 4u);
  std::map<std::string, int> actions = AuditActionCounts(*p_->audit);
  EXPECT_EQ(actions["case.create"], 1);
  EXPECT_EQ(p_->notices_queued.load(), 1);
  ExpectAuditChainIntact(*p_->audit);
}

}  // namespace
}  // namespace takedown
