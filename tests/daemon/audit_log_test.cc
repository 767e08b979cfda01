#include "daemon/audit_log.h"

#include <stdlib.h>

#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon/keys.h"
#include "daemon/store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "openssl/evp.h"
#include "tests/fakes/fake_clock.h"

namespace takedown {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

const std::string kZeros(64, '0');

class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/takedown_audit_test_XXXXXX";
    EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string Sha256HexForTest(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    static const char kHex[] = "0123456789abcdef";
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xF]);
  }
  return hex;
}

AuditEvent Event(std::string action, std::string subject, json details = json::object()) {
  return AuditEvent{"system", std::move(action), std::move(subject), std::move(details)};
}

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    audit_.reset();
    store_.reset();
    auto store = Store::Open(dir_.Sub("db"), StoreOptions());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto audit = AuditLog::Open(*store_, clock_);
    ASSERT_TRUE(audit.ok()) << audit.status();
    audit_ = std::move(*audit);
  }

  void AppendN(int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(audit_->Append(Event("case.update", "case-" + std::to_string(i), {{"i", i}})).ok());
      clock_.Advance(absl::Seconds(1));
    }
  }

  json RawRecord(uint64_t seq) {
    auto value = store_->Get(Cf::kAudit, EncodeUint64BE(seq));
    EXPECT_TRUE(value.ok() && value->has_value());
    return json::parse(**value);
  }

  void PutRaw(uint64_t seq, const json& record) {
    Store::Batch batch;
    batch.Put(Cf::kAudit, EncodeUint64BE(seq), record.dump());
    ASSERT_TRUE(store_->Write(std::move(batch)).ok());
  }

  AuditVerification VerifyOrDie() {
    absl::StatusOr<AuditVerification> result = audit_->Verify();
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : AuditVerification{};
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AuditLog> audit_;
};

TEST_F(AuditLogTest, FirstRecordHashesItsCanonicalBytes) {
  ASSERT_TRUE(audit_->Append(Event("case.create", "case-1", {{"list", "demo"}})).ok());
  auto records = audit_->Read(1, 10);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 1u);
  const AuditRecord& r = (*records)[0];
  EXPECT_EQ(r.seq, 1u);
  EXPECT_EQ(r.time, "2027-01-15T08:00:00Z");
  EXPECT_EQ(r.actor, "system");
  EXPECT_EQ(r.action, "case.create");
  EXPECT_EQ(r.subject, "case-1");
  EXPECT_EQ(r.details, json({{"list", "demo"}}));
  EXPECT_EQ(r.prev_hash, kZeros);
  // sha256sum of the canonical JSON below, computed outside this code.
  const std::string canonical =
      R"({"action":"case.create","actor":"system","details":{"list":"demo"},"prev_hash":")" +
      kZeros + R"(","seq":1,"subject":"case-1","time":"2027-01-15T08:00:00Z"})";
  EXPECT_EQ(Sha256HexForTest(canonical), r.hash);
  EXPECT_EQ(r.hash, "c0425fb01836ea0bd19b78851a99ce78a8fe2a8e2f2d8d01185704b2d29ea91d");
}

TEST_F(AuditLogTest, ChainContinuesAcrossReopen) {
  AppendN(3);
  Reopen();
  EXPECT_EQ(audit_->last_seq(), 3u);
  AppendN(2);
  auto records = audit_->Read(0, 100);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 5u);
  for (size_t i = 0; i < records->size(); ++i) {
    const AuditRecord& r = (*records)[i];
    EXPECT_EQ(r.seq, i + 1);
    EXPECT_EQ(r.prev_hash, i == 0 ? kZeros : (*records)[i - 1].hash);
    json without_hash = RawRecord(r.seq);
    without_hash.erase("hash");
    EXPECT_EQ(Sha256HexForTest(without_hash.dump()), r.hash) << "seq " << r.seq;
  }
  EXPECT_EQ((*records)[4].time, "2027-01-15T08:00:04Z");
  AuditVerification v = VerifyOrDie();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.records_checked, 5u);
  EXPECT_EQ(v.last_seq, 5u);
  EXPECT_EQ(v.first_broken_seq, std::nullopt);
}

TEST_F(AuditLogTest, CommitWritesStateAndRecordsAtomically) {
  Store::Batch batch;
  batch.Put(Cf::kCases, "case-7", R"({"state":"detected"})");
  batch.Put(Cf::kTimers, "t", "x");
  std::vector<AuditEvent> events;
  events.push_back(Event("case.create", "case-7"));
  events.push_back(Event("timer.set", "case-7", {{"due", "2027-01-16T08:00:00Z"}}));
  ASSERT_TRUE(audit_->Commit(std::move(batch), std::move(events), /*sync=*/true).ok());
  EXPECT_EQ(store_->Get(Cf::kCases, "case-7").value(), R"({"state":"detected"})");
  EXPECT_EQ(audit_->last_seq(), 2u);
  auto records = audit_->Read(2, 1);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].action, "timer.set");
  EXPECT_EQ((*records)[0].details["due"], "2027-01-16T08:00:00Z");
}

TEST_F(AuditLogTest, InvalidEventsWriteNothing) {
  Store::Batch batch;
  batch.Put(Cf::kCases, "case-1", "x");
  std::vector<AuditEvent> events = {Event("case.create", "case-1"), AuditEvent{"", "a", "s", {}}};
  absl::Status s = audit_->Commit(std::move(batch), std::move(events));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Get(Cf::kCases, "case-1").value(), std::nullopt);
  EXPECT_EQ(audit_->last_seq(), 0u);

  EXPECT_EQ(audit_->Append(Event("x", "y", json::array({1, 2}))).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(audit_->Append(Event("x", "y", {{"blob", std::string(kMaxAuditDetailsBytes, 'a')}}))
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->CountKeys(Cf::kAudit).value(), 0u);
  // Null details become {}.
  ASSERT_TRUE(audit_->Append(Event("x", "y", json())).ok());
  EXPECT_EQ(audit_->Read(1, 1).value()[0].details, json::object());
}

TEST_F(AuditLogTest, InvalidUtf8IsStoredReplacedAndVerifies) {
  ASSERT_TRUE(audit_->Append(Event("object.skip", "src\xff", {{"key", "bad\xc3"}})).ok());
  AuditVerification v = VerifyOrDie();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(audit_->Read(1, 1).value()[0].subject, "src\xef\xbf\xbd");
}

TEST_F(AuditLogTest, VerifyDetectsAlteredRecord) {
  AppendN(5);
  json r = RawRecord(3);
  r["details"]["i"] = 99;
  PutRaw(3, r);
  AuditVerification v = VerifyOrDie();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_broken_seq, 3u);
  EXPECT_EQ(v.records_checked, 2u);
  EXPECT_THAT(v.problem, HasSubstr("record 3 was altered"));
}

TEST_F(AuditLogTest, VerifyDetectsRehashedReplacement) {
  AppendN(5);
  json r = RawRecord(3);
  r["actor"] = "api:mallory";
  r.erase("hash");
  r["hash"] = Sha256HexForTest(r.dump());
  PutRaw(3, r);
  AuditVerification v = VerifyOrDie();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_broken_seq, 3u);
  EXPECT_THAT(v.problem, HasSubstr("record 4 does not chain to record 3"));
}

TEST_F(AuditLogTest, VerifyDetectsDeletedRecord) {
  AppendN(5);
  Store::Batch batch;
  batch.Delete(Cf::kAudit, EncodeUint64BE(3));
  ASSERT_TRUE(store_->Write(std::move(batch)).ok());
  AuditVerification v = VerifyOrDie();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_broken_seq, 3u);
  EXPECT_THAT(v.problem, HasSubstr("record 3 is missing (the next record is 4)"));
}

TEST_F(AuditLogTest, VerifyDetectsSwappedRecords) {
  AppendN(5);
  json two = RawRecord(2);
  json four = RawRecord(4);
  PutRaw(2, four);
  PutRaw(4, two);
  AuditVerification v = VerifyOrDie();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_broken_seq, 2u);
  EXPECT_THAT(v.problem, HasSubstr("says it is record 4"));
}

TEST_F(AuditLogTest, TruncatedTailIsDetectedAndRefusedAtOpen) {
  AppendN(5);
  Store::Batch batch;
  batch.Delete(Cf::kAudit, EncodeUint64BE(5));
  batch.Delete(Cf::kAudit, EncodeUint64BE(4));
  ASSERT_TRUE(store_->Write(std::move(batch)).ok());
  AuditVerification v = VerifyOrDie();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_broken_seq, 4u);
  EXPECT_EQ(v.records_checked, 3u);
  EXPECT_THAT(v.problem, HasSubstr("records 4 to 5 were removed"));

  absl::StatusOr<std::unique_ptr<AuditLog>> reopened = AuditLog::Open(*store_, clock_);
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(reopened.status().message()), HasSubstr("ends at seq 3"));
}

TEST_F(AuditLogTest, ConcurrentCommitsFormGaplessValidChain) {
  constexpr int kThreads = 6;
  constexpr int kPerThread = 40;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = "case-" + std::to_string(t) + "-" + std::to_string(i);
        Store::Batch batch;
        batch.Put(Cf::kCases, id, "open");
        std::vector<AuditEvent> events;
        events.push_back(AuditEvent{"api:t" + std::to_string(t), "case.create", id, {{"i", i}}});
        EXPECT_TRUE(audit_->Commit(std::move(batch), std::move(events)).ok());
      }
    });
  }
  for (auto& thread : threads) thread.join();

  constexpr uint64_t kTotal = kThreads * kPerThread;
  EXPECT_EQ(audit_->last_seq(), kTotal);
  EXPECT_EQ(store_->CountKeys(Cf::kCases).value(), kTotal);
  AuditVerification v = VerifyOrDie();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.records_checked, kTotal);

  auto records = audit_->Read(1, 1000);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), kTotal);
  std::set<std::string> subjects;
  for (size_t i = 0; i < records->size(); ++i) {
    EXPECT_EQ((*records)[i].seq, i + 1);
    subjects.insert((*records)[i].subject);
  }
  EXPECT_EQ(subjects.size(), kTotal);
}

TEST_F(AuditLogTest, ReadPagesFromSeq) {
  AppendN(10);
  auto page = audit_->Read(4, 3);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 3u);
  EXPECT_EQ((*page)[0].seq, 4u);
  EXPECT_EQ((*page)[2].seq, 6u);
  EXPECT_EQ((*page)[0].subject, "case-3");
  EXPECT_TRUE(audit_->Read(11, 5).value().empty());
  EXPECT_TRUE(audit_->Read(1, 0).value().empty());
}

}  // namespace
}  // namespace takedown
