#include "daemon/hash_list_manager.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/daemon/pipeline_harness.h"
#include "tests/fakes/fake_clock.h"

namespace takedown {
namespace {

using ::takedown::testing::AuditActionCounts;
using ::takedown::testing::CountKeys;
using ::takedown::testing::DigestsOf;
using ::takedown::testing::ExpectAuditChainIntact;
using ::takedown::testing::ListLine;
using ::takedown::testing::Pipeline;
using ::takedown::testing::ReadAllCases;
using ::takedown::testing::ReadAudit;
using ::takedown::testing::ReadCase;
using ::takedown::testing::ReadOutbox;
using ::takedown::testing::ScanAll;
using ::takedown::testing::TempDir;
using ::testing::HasSubstr;

// Objects already swept (stored in the objects CF) before lists arrive.
const char* const kObjectA = "bytes of object A";
const char* const kObjectB = "bytes of object B";
const char* const kObjectC = "bytes of object C";
const char* const kObjectD = "bytes of object D";

std::string VersionOf(std::string_view content) { return HexEncode(DigestsOf(content).sha256); }

class HashListManagerTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    p_.reset();
    absl::StatusOr<std::unique_ptr<Pipeline>> p = Pipeline::Open(dir_.Sub("store"), clock_);
    ASSERT_TRUE(p.ok()) << p.status();
    p_ = std::move(*p);
  }

  void StoreObject(const std::string& key, std::string_view content,
                   ObjectStatus status = ObjectStatus::kHashed) {
    ObjectRecord r;
    r.source_id = "src";
    r.key = key;
    r.version = "v1";
    r.size = content.size();
    r.status = status;
    if (status == ObjectStatus::kHashed) r.digests = DigestsOf(content);
    if (status == ObjectStatus::kFailed) r.error = "unreadable";
    r.sweep_id = "sweep-0";
    r.swept_at = clock_.Now();
    Store::Batch batch;
    batch.Put(Cf::kObjects, ObjectKey(r.source_id, r.key), EncodeObjectRecord(r));
    ASSERT_TRUE(p_->store->Write(std::move(batch)).ok());
  }

  ImportResult ImportOrDie(const std::string& name, const std::string& content) {
    absl::StatusOr<ImportResult> result = p_->lists->ImportContent(name, content, "test");
    EXPECT_TRUE(result.ok()) << result.status();
    return result.value_or(ImportResult{});
  }

  std::vector<ExactMatch> Lookup(std::string_view content) const {
    return p_->index.Lookup(DigestsOf(content));
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Pipeline> p_;
};

TEST_F(HashListManagerTest, ImportCreatesEntriesAndUpdatesTheIndex) {
  const std::string content = "hash_type,hash,category,entry_id\n" +
                              ListLine(HashType::kMd5, DigestsOf(kObjectA), "csam", "e-a") +
                              ListLine(HashType::kSha1, DigestsOf(kObjectB), "terrorist", "e-b") +
                              ListLine(HashType::kSha256, DigestsOf(kObjectC), "other", "e-c");
  ImportResult result = ImportOrDie("list-a", content);
  EXPECT_FALSE(result.unchanged);
  EXPECT_EQ(result.info.name, "list-a");
  EXPECT_EQ(result.info.version, VersionOf(content));
  EXPECT_EQ(result.info.entries, 3u);
  EXPECT_EQ(result.info.origin, "api");
  EXPECT_EQ(result.info.imported_at, clock_.Now());
  EXPECT_FALSE(result.info.retro_pending);
  EXPECT_EQ(result.retro_cases, 0u);

  EXPECT_EQ(CountKeys(*p_->store, Cf::kEntries), 3u);
  absl::StatusOr<std::vector<HashListInfo>> lists = p_->lists->List();
  ASSERT_TRUE(lists.ok()) << lists.status();
  ASSERT_EQ(lists->size(), 1u);
  EXPECT_EQ((*lists)[0].version, VersionOf(content));
  EXPECT_FALSE((*lists)[0].retro_pending);

  EXPECT_EQ(p_->index.size(), 3u);
  std::vector<ExactMatch> a = Lookup(kObjectA);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].entry.entry_id, "e-a");
  EXPECT_EQ(a[0].entry.list_version, VersionOf(content));
  EXPECT_EQ(a[0].entry.category, ContentCategory::kCsam);
  ASSERT_EQ(Lookup(kObjectB).size(), 1u);
  EXPECT_EQ(Lookup(kObjectB)[0].type, HashType::kSha1);
  EXPECT_TRUE(Lookup(kObjectD).empty());

  std::vector<AuditRecord> audit = ReadAudit(*p_->audit);
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].action, "list.import");
  EXPECT_EQ(audit[0].subject, "list-a");
  EXPECT_EQ(audit[0].details.at("entries"), 3);
}

TEST_F(HashListManagerTest, MalformedContentLeavesStoreAndIndexUnchanged) {
  const std::string v1 = ListLine(HashType::kMd5, DigestsOf(kObjectA), "csam", "e-a");
  ImportOrDie("list-a", v1);
  const auto lists_before = ScanAll(*p_->store, Cf::kLists);
  const auto entries_before = ScanAll(*p_->store, Cf::kEntries);
  const uint64_t audit_before = p_->audit->last_seq();

  const std::string bad = ListLine(HashType::kMd5, DigestsOf(kObjectB), "csam", "e-b") +
                          "md5,not-hex-at-all,csam,e-x\n";
  absl::StatusOr<ImportResult> result = p_->lists->ImportContent("list-a", bad, "test");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr(":2:"));

  EXPECT_EQ(ScanAll(*p_->store, Cf::kLists), lists_before);
  EXPECT_EQ(ScanAll(*p_->store, Cf::kEntries), entries_before);
  EXPECT_EQ(p_->audit->last_seq(), audit_before);
  std::vector<ExactMatch> a = Lookup(kObjectA);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].entry.list_version, VersionOf(v1));
  EXPECT_TRUE(Lookup(kObjectB).empty());

  absl::StatusOr<ImportResult> missing = p_->lists->ImportFile("list-a", dir_.Sub("no-such-file.csv"), "test");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<ImportResult> bad_name = p_->lists->ImportContent("Bad Name", v1, "test");
  EXPECT_EQ(bad_name.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ScanAll(*p_->store, Cf::kLists), lists_before);
  EXPECT_EQ(ScanAll(*p_->store, Cf::kEntries), entries_before);
}

TEST_F(HashListManagerTest, ReimportOfIdenticalContentIsUnchanged) {
  const std::string v1 = ListLine(HashType::kMd5, DigestsOf(kObjectA), "csam", "e-a");
  ImportResult first = ImportOrDie("list-a", v1);
  const auto lists_before = ScanAll(*p_->store, Cf::kLists);
  const uint64_t audit_before = p_->audit->last_seq();
  clock_.Advance(absl::Hours(1));

  ImportResult again = ImportOrDie("list-a", v1);
  EXPECT_TRUE(again.unchanged);
  EXPECT_EQ(again.info.version, first.info.version);
  EXPECT_EQ(again.info.imported_at, first.info.imported_at);
  EXPECT_EQ(ScanAll(*p_->store, Cf::kLists), lists_before);
  EXPECT_EQ(p_->audit->last_seq(), audit_before);
}

TEST_F(HashListManagerTest, NewVersionReplacesTheOldEntries) {
  ImportOrDie("list-a", ListLine(HashType::kMd5, DigestsOf(kObjectA), "csam", "e-a") +
                            ListLine(HashType::kMd5, DigestsOf(kObjectB), "csam", "e-b"));
  const std::string v2 = ListLine(HashType::kMd5, DigestsOf(kObjectB), "csam", "e-b") +
                         ListLine(HashType::kSha256, DigestsOf(kObjectC), "terrorist", "e-c");
  ImportResult second = ImportOrDie("list-a", v2);
  EXPECT_FALSE(second.unchanged);
  EXPECT_EQ(CountKeys(*p_->store, Cf::kEntries), 2u);
  EXPECT_TRUE(Lookup(kObjectA).empty());
  ASSERT_EQ(Lookup(kObjectB).size(), 1u);
  EXPECT_EQ(Lookup(kObjectB)[0].entry.list_version, VersionOf(v2));
  ASSERT_EQ(Lookup(kObjectC).size(), 1u);
  EXPECT_EQ(p_->index.size(), 2u);
}

TEST_F(HashListManagerTest, RetroMatchCreatesCasesForStoredObjectsAndIsIdempotent) {
  StoreObject("a", kObjectA);
  StoreObject("b", kObjectB);
  StoreObject("c", kObjectC);
  StoreObject("failed", kObjectD, ObjectStatus::kFailed);
  StoreObject("d", kObjectD);

  const std::string v1 = ListLine(HashType::kMd5, DigestsOf(kObjectA), "csam", "e-a") +
                         ListLine(HashType::kSha256, DigestsOf(kObjectB), "terrorist", "e-b");
  ImportResult first = ImportOrDie("list-a", v1);
  EXPECT_EQ(first.retro_cases, 2u);
  EXPECT_EQ(first.retro_evidence, 2u);
  std::map<std::string, Case> cases = ReadAllCases(*p_->store);
  ASSERT_EQ(cases.size(), 2u);
  const Case& a = cases.at(CaseIdFor("src", "a"));
  ASSERT_EQ(a.evidence.size(), 1u);
  EXPECT_EQ(a.evidence[0].entry_id, "e-a");
  EXPECT_EQ(a.evidence[0].list_version, VersionOf(v1));
  EXPECT_EQ(a.category, "csam");
  EXPECT_EQ(cases.at(CaseIdFor("src", "b")).category, "terrorist");
  EXPECT_EQ(ReadOutbox(*p_->store).size(), 2u);
  for (const AuditRecord& r : ReadAudit(*p_->audit)) {
    if (r.action == "case.create") {
      EXPECT_EQ(r.actor, "retro-match:list-a");
    }
  }

  // Identical content: nothing happens.
  ImportResult again = ImportOrDie("list-a", v1);
  EXPECT_TRUE(again.unchanged);
  EXPECT_EQ(again.retro_cases, 0u);
  EXPECT_EQ(ReadAllCases(*p_->store), cases);

  // A new version with one more entry: only the new entry adds anything.
  const std::string v2 = v1 + ListLine(HashType::kSha1, DigestsOf(kObjectC), "other", "e-c");
  ImportResult second = ImportOrDie("list-a", v2);
  EXPECT_EQ(second.retro_cases, 1u);
  EXPECT_EQ(second.retro_evidence, 1u);
  cases = ReadAllCases(*p_->store);
  EXPECT_EQ(cases.size(), 3u);
  EXPECT_EQ(cases.at(CaseIdFor("src", "a")).evidence.size(), 1u);
  EXPECT_EQ(ReadOutbox(*p_->store).size(), 3u);
  std::map<std::string, int> actions = AuditActionCounts(*p_->audit);
  EXPECT_EQ(actions["case.create"], 3);
  EXPECT_EQ(actions["case.evidence_add"], 0);
  EXPECT_EQ(actions["list.import"], 2);
  ExpectAuditChainIntact(*p_->audit);
}

TEST_F(HashListManagerTest, SecondListAddsEvidenceToTheExistingCase) {
  StoreObject("a", kObjectA);
  ImportOrDie("list-x", ListLine(HashType::kMd5, DigestsOf(kObjectA), "terrorist", "x-1"));
  ImportResult y = ImportOrDie("list-y", ListLine(HashType::kSha256, DigestsOf(kObjectA), "csam", "y-1"));
  EXPECT_EQ(y.retro_cases, 0u);
  EXPECT_EQ(y.retro_evidence, 1u);
  std::optional<Case> c = ReadCase(*p_->store, CaseIdFor("src", "a"));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->evidence.size(), 2u);
  EXPECT_EQ(c->category, "csam");
  EXPECT_EQ(ReadOutbox(*p_->store).size(), 1u);
  EXPECT_EQ(AuditActionCounts(*p_->audit)["case.evidence_add"], 1);
}

TEST_F(HashListManagerTest, LoadAllAfterReopenRebuildsTheIndex) {
  const std::string la = ListLine(HashType::kMd5, DigestsOf(kObjectA), "csam", "e-a") +
                         ListLine(HashType::kSha1, DigestsOf(kObjectB), "csam", "e-b");
  const std::string lb = ListLine(HashType::kSha256, DigestsOf(kObjectC), "terrorist", "e-c");
  ImportOrDie("list-a", la);
  ImportOrDie("list-b", lb);

  Reopen();
  EXPECT_EQ(p_->index.size(), 0u);
  ASSERT_TRUE(p_->lists->LoadAll().ok());
  EXPECT_EQ(p_->index.size(), 3u);
  std::vector<ExactMatch> b = Lookup(kObjectB);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].entry.list_name, "list-a");
  EXPECT_EQ(b[0].entry.list_version, VersionOf(la));
  EXPECT_EQ(b[0].entry.entry_id, "e-b");
  EXPECT_EQ(b[0].type, HashType::kSha1);
  std::vector<ExactMatch> c = Lookup(kObjectC);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].entry.list_version, VersionOf(lb));
  EXPECT_EQ(c[0].entry.category, ContentCategory::kTerrorist);
  EXPECT_TRUE(Lookup(kObjectD).empty());
  // Nothing was pending: LoadAll audits nothing and creates no cases.
  EXPECT_EQ(CountKeys(*p_->store, Cf::kCases), 0u);
}

TEST_F(HashListManagerTest, RetroMatchInterruptedByACrashIsFinishedByLoadAll) {
  const std::string content = ListLine(HashType::kMd5, DigestsOf(kObjectA), "csam", "e-a") +
                              ListLine(HashType::kMd5, DigestsOf(kObjectB), "csam", "e-b");
  ImportOrDie("list-a", content);
  // Objects the interrupted retro-match had not reached yet.
  StoreObject("a", kObjectA);
  StoreObject("b", kObjectB);
  StoreObject("d", kObjectD);
  // The state a crash right after the import's write leaves: retro_pending.
  absl::StatusOr<std::optional<std::string>> stored = p_->store->Get(Cf::kLists, "list-a");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  nlohmann::json info = nlohmann::json::parse(**stored);
  info["retro_pending"] = true;
  Store::Batch batch;
  batch.Put(Cf::kLists, "list-a", info.dump());
  ASSERT_TRUE(p_->store->Write(std::move(batch)).ok());
  ASSERT_EQ(CountKeys(*p_->store, Cf::kCases), 0u);

  Reopen();
  ASSERT_TRUE(p_->lists->LoadAll().ok());
  std::map<std::string, Case> cases = ReadAllCases(*p_->store);
  EXPECT_EQ(cases.size(), 2u);
  EXPECT_TRUE(cases.count(CaseIdFor("src", "a")));
  EXPECT_TRUE(cases.count(CaseIdFor("src", "b")));
  EXPECT_EQ(ReadOutbox(*p_->store).size(), 2u);
  absl::StatusOr<std::vector<HashListInfo>> lists = p_->lists->List();
  ASSERT_TRUE(lists.ok());
  ASSERT_EQ(lists->size(), 1u);
  EXPECT_FALSE((*lists)[0].retro_pending);
  EXPECT_EQ((*lists)[0].version, VersionOf(content));

  // A second start has nothing left to do.
  Reopen();
  ASSERT_TRUE(p_->lists->LoadAll().ok());
  EXPECT_EQ(ReadAllCases(*p_->store), cases);
  EXPECT_EQ(AuditActionCounts(*p_->audit)["case.create"], 2);
  ExpectAuditChainIntact(*p_->audit);
}

}  // namespace
}  // namespace takedown
