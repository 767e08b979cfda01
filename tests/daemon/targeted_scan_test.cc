// ScanKeys over a real FilesystemSource and the sweep pipeline: records,
// cases and unchanged-detection as in sweeps, a result per key; and
// RecheckStoredObject on what it stored.
#include "daemon/targeted_scan.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/hex.h"
#include "crawler/filesystem_source.h"
#include "daemon/multi_body_digester.h"
#include "daemon/object_recheck.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "notices/case.h"
#include "tests/daemon/pipeline_harness.h"
#include "tests/fakes/fake_clock.h"

namespace takedown {
namespace {

using ::takedown::testing::DigestsOf;
using ::takedown::testing::EntryFor;
using ::takedown::testing::Pipeline;
using ::takedown::testing::ReadAllCases;
using ::takedown::testing::ReadObject;
using ::takedown::testing::TempDir;
using ::testing::HasSubstr;

namespace fs = std::filesystem;

void WriteFile(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  ASSERT_TRUE(out.good()) << path;
}

constexpr char kKnown[] = "known bytes that a hash list carries";

class TargetedScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.Sub("root");
    WriteFile(root_ + "/uploads/known.jpg", kKnown);
    WriteFile(root_ + "/uploads/plain.jpg", "nothing to see");
    WriteFile(root_ + "/uploads/other.txt", "not selected");
    absl::StatusOr<std::unique_ptr<Pipeline>> p = Pipeline::Open(dir_.Sub("store"), clock_);
    ASSERT_TRUE(p.ok()) << p.status();
    pipeline_ = std::move(*p);
    pipeline_->index.ReplaceList(
        "list", "v1", {EntryFor(HashType::kMd5, DigestsOf(kKnown), ContentCategory::kCsam, "entry-1")});
    FilesystemSourceOptions options;
    options.id = "disk";
    options.root = root_;
    options.include = {"**/*.jpg"};
    absl::StatusOr<std::unique_ptr<FilesystemSource>> source = FilesystemSource::Create(options);
    ASSERT_TRUE(source.ok()) << source.status();
    source_ = std::move(*source);
  }

  absl::StatusOr<ScanReport> Scan(const std::vector<std::string>& keys, const std::string& id,
                                  const ScanLimits& limits = {}) {
    return ScanKeys(*source_, keys, id, *pipeline_->processor, *pipeline_->store, *pipeline_->pool, limits);
  }

  TempDir dir_;
  FakeClock clock_;
  std::string root_;
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<FilesystemSource> source_;
};

TEST_F(TargetedScanTest, EachKeyGetsItsOutcomeAndAMatchMakesACase) {
  absl::StatusOr<ScanReport> report = Scan({"uploads/known.jpg", "uploads/plain.jpg", "uploads/gone.jpg",
                                            "../etc/passwd", "uploads/other.txt", "uploads/known.jpg"},
                                           "scan-1");
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->scan_id, "scan-1");
  ASSERT_EQ(report->results.size(), 5u) << "the duplicate is scanned once";

  const ScanKeyResult& known = report->results[0];
  EXPECT_EQ(known.key, "uploads/known.jpg");
  EXPECT_EQ(known.outcome, ScanOutcome::kDone);
  EXPECT_EQ(known.matches, 1u);
  EXPECT_EQ(known.bytes, sizeof(kKnown) - 1);
  EXPECT_EQ(known.case_id, CaseIdFor("disk", "uploads/known.jpg"));

  const ScanKeyResult& plain = report->results[1];
  EXPECT_EQ(plain.outcome, ScanOutcome::kDone);
  EXPECT_EQ(plain.matches, 0u);
  EXPECT_EQ(plain.case_id, "");

  EXPECT_EQ(report->results[2].outcome, ScanOutcome::kNotFound);
  EXPECT_THAT(report->results[2].message, HasSubstr("no such file"));
  EXPECT_EQ(report->results[3].outcome, ScanOutcome::kError);
  EXPECT_THAT(report->results[3].message, HasSubstr("'..' component"));
  EXPECT_EQ(report->results[4].outcome, ScanOutcome::kError);
  EXPECT_THAT(report->results[4].message, HasSubstr("globs do not select it"));

  EXPECT_EQ(report->counters.listed, 2u);
  EXPECT_EQ(report->counters.done, 2u);
  EXPECT_EQ(report->counters.matches, 1u);
  EXPECT_EQ(report->not_found, 1u);
  EXPECT_EQ(report->errors, 2u);

  std::optional<ObjectRecord> record = ReadObject(*pipeline_->store, "disk", "uploads/known.jpg");
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->sweep_id, "scan-1");
  EXPECT_EQ(record->status, ObjectStatus::kHashed);
  EXPECT_EQ(HexEncode(record->digests.md5), HexEncode(DigestsOf(kKnown).md5));
  EXPECT_EQ(record->version, known.version);
  std::map<std::string, Case> cases = ReadAllCases(*pipeline_->store);
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases.begin()->second.object.key, "uploads/known.jpg");
  EXPECT_EQ(cases.begin()->second.evidence.size(), 1u);
}

TEST_F(TargetedScanTest, AnUnchangedObjectIsNotReadAgainAndAChangedOneIs) {
  ASSERT_TRUE(Scan({"uploads/known.jpg", "uploads/plain.jpg"}, "scan-1").ok());
  WriteFile(root_ + "/uploads/plain.jpg", "changed content, longer");
  absl::StatusOr<ScanReport> again = Scan({"uploads/known.jpg", "uploads/plain.jpg"}, "scan-2");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->results[0].outcome, ScanOutcome::kUnchanged);
  EXPECT_EQ(again->results[0].bytes, 0u);
  EXPECT_EQ(again->results[1].outcome, ScanOutcome::kDone);
  EXPECT_EQ(again->results[1].bytes, 23u);
  EXPECT_EQ(again->counters.unchanged, 1u);
  EXPECT_EQ(ReadObject(*pipeline_->store, "disk", "uploads/known.jpg")->sweep_id, "scan-1");
  EXPECT_EQ(ReadObject(*pipeline_->store, "disk", "uploads/plain.jpg")->sweep_id, "scan-2");
  EXPECT_EQ(ReadAllCases(*pipeline_->store).size(), 1u);
}

TEST_F(TargetedScanTest, ManyKeysSpreadOverChunksKeepTheirOrder) {
  std::vector<std::string> keys;
  for (int i = 0; i < 150; ++i) {
    std::string key = "bulk/" + std::to_string(i) + ".jpg";
    if (i % 3 != 0) WriteFile(root_ + "/" + key, "bulk object " + std::to_string(i));
    keys.push_back(key);
  }
  absl::StatusOr<ScanReport> report = Scan(keys, "scan-bulk");
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->results.size(), keys.size());
  for (int i = 0; i < 150; ++i) {
    EXPECT_EQ(report->results[i].key, keys[i]);
    EXPECT_EQ(report->results[i].outcome, i % 3 == 0 ? ScanOutcome::kNotFound : ScanOutcome::kDone)
        << keys[i];
  }
  EXPECT_EQ(report->not_found, 50u);
  EXPECT_EQ(report->counters.done, 100u);
}

TEST_F(TargetedScanTest, LimitsAreCheckedBeforeAnythingIsScanned) {
  ScanLimits limits;
  limits.max_keys = 2;
  limits.max_key_bytes = 20;
  absl::StatusOr<ScanReport> too_many = Scan({"a.jpg", "b.jpg", "c.jpg"}, "scan-x", limits);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(too_many.status().message()), HasSubstr("at most 2"));
  absl::StatusOr<ScanReport> too_long = Scan({"uploads/known.jpg", std::string(21, 'k')}, "scan-x", limits);
  ASSERT_FALSE(too_long.ok());
  EXPECT_THAT(std::string(too_long.status().message()), HasSubstr("key #2"));
  EXPECT_EQ(Scan({}, "scan-x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ReadObject(*pipeline_->store, "disk", "uploads/known.jpg").has_value());
}

TEST_F(TargetedScanTest, RecheckOfAStoredObjectTellsStillPresentChangedAndGone) {
  ASSERT_TRUE(Scan({"uploads/known.jpg"}, "scan-1").ok());
  std::optional<ObjectRecord> record = ReadObject(*pipeline_->store, "disk", "uploads/known.jpg");
  ASSERT_TRUE(record.has_value());
  RecheckOptions options;
  options.digester = MultiBodyDigesterFactory();
  options.clock = &clock_;

  absl::StatusOr<RecheckResult> present = RecheckStoredObject(*source_, *record, options);
  ASSERT_TRUE(present.ok()) << present.status();
  EXPECT_EQ(present->outcome, RecheckOutcome::kStillPresent) << present->reason;
  EXPECT_TRUE(present->digest_match);
  EXPECT_EQ(present->checked_at, clock_.Now());

  WriteFile(root_ + "/uploads/known.jpg", "replaced by something else");
  absl::StatusOr<RecheckResult> changed = RecheckStoredObject(*source_, *record, options);
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->outcome, RecheckOutcome::kChanged) << changed->reason;
  EXPECT_THAT(changed->reason, HasSubstr("differs"));
  ASSERT_TRUE(changed->digests.has_value());
  EXPECT_EQ(HexEncode(changed->digests->sha256), HexEncode(DigestsOf("replaced by something else").sha256));

  fs::remove(root_ + "/uploads/known.jpg");
  absl::StatusOr<RecheckResult> gone = RecheckStoredObject(*source_, *record, options);
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->outcome, RecheckOutcome::kGone) << gone->reason;

  ObjectRecord unread = *record;
  unread.status = ObjectStatus::kFailed;
  unread.error = "read failed";
  EXPECT_EQ(RecheckStoredObject(*source_, unread, options).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace takedown
