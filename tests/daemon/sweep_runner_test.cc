#include "daemon/sweep_runner.h"

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "tests/daemon/pipeline_harness.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/in_memory_source.h"

namespace takedown {
namespace {

using ::takedown::testing::AuditActionCounts;
using ::takedown::testing::CountKeys;
using ::takedown::testing::DigestsOf;
using ::takedown::testing::EntryFor;
using ::takedown::testing::ExpectAuditChainIntact;
using ::takedown::testing::Pipeline;
using ::takedown::testing::PipelineOptions;
using ::takedown::testing::ReadAllCases;
using ::takedown::testing::ReadCase;
using ::takedown::testing::ReadObject;
using ::takedown::testing::ReadOutbox;
using ::takedown::testing::ReadSweepState;
using ::takedown::testing::ScanAll;
using ::takedown::testing::TempDir;
using ::takedown::testing::Tie;
using ::testing::HasSubstr;

constexpr int kObjects = 500;
constexpr char kSourceId[] = "src";

std::string KeyOf(int i) { return fmt::format("key-{:04d}", i); }

// Distinct bytes per object and generation; sizes from 0 to ~6 KiB.
std::string ContentOf(int i, int generation = 0) {
  if (i == 0 && generation == 0) return "";
  std::string line = fmt::format("object {} generation {}\n", i, generation);
  int repeat = 1 + (i * 37) % 200;
  std::string out;
  for (int r = 0; r < repeat; ++r) out += line;
  return out;
}

// The hash lists of these tests:
//   list-a (csam):      MD5 of objects i % 50 == 3
//   list-b (terrorist): SHA-256 of objects i % 100 == 3, SHA-1 of i % 100 == 40
bool InListA(int i) { return i % 50 == 3; }
bool InListBSha256(int i) { return i % 100 == 3; }
bool InListBSha1(int i) { return i % 100 == 40; }

int ExpectedEvidence(int i) { return (InListA(i) ? 1 : 0) + (InListBSha256(i) ? 1 : 0) + (InListBSha1(i) ? 1 : 0); }
std::string ExpectedCategory(int i) { return InListA(i) ? "csam" : "terrorist"; }

void InstallLists(ExactIndex& index) {
  std::vector<HashListEntry> a;
  std::vector<HashListEntry> b;
  for (int i = 0; i < kObjects; ++i) {
    DigestSet d = DigestsOf(ContentOf(i));
    if (InListA(i)) a.push_back(EntryFor(HashType::kMd5, d, ContentCategory::kCsam, fmt::format("a-{}", i)));
    if (InListBSha256(i)) {
      b.push_back(EntryFor(HashType::kSha256, d, ContentCategory::kTerrorist, fmt::format("b-{}", i)));
    }
    if (InListBSha1(i)) b.push_back(EntryFor(HashType::kSha1, d, ContentCategory::kTerrorist, fmt::format("b-{}", i)));
  }
  index.ReplaceList("list-a", "va", a);
  index.ReplaceList("list-b", "vb", b);
}

void FillSource(InMemorySource& source) {
  for (int i = 0; i < kObjects; ++i) source.Put(KeyOf(i), ContentOf(i), "v1");
}

// What a complete sweep over the source counts when the objects in `failed`
// could not be read.
SweepCounters ExpectedCounters(const std::set<int>& failed = {}) {
  SweepCounters c;
  for (int i = 0; i < kObjects; ++i) {
    c.listed++;
    c.done++;
    if (failed.count(i)) {
      c.failed++;
      continue;
    }
    c.bytes += ContentOf(i).size();
    c.matches += ExpectedEvidence(i);
  }
  return c;
}

std::set<std::string> ExpectedCaseIds(const std::set<int>& failed = {}) {
  std::set<std::string> ids;
  for (int i = 0; i < kObjects; ++i) {
    if (ExpectedEvidence(i) > 0 && !failed.count(i)) ids.insert(CaseIdFor(kSourceId, KeyOf(i)));
  }
  return ids;
}

template <typename Map>
std::set<std::string> KeysOf(const Map& map) {
  std::set<std::string> keys;
  for (const auto& [k, v] : map) keys.insert(k);
  return keys;
}

// A FileSystem that simulates a crash (or a dying disk): from the first
// write-ahead-log append whose bytes contain `needle`, that append and every
// later append to any file fail, so nothing written from then on reaches the
// disk. Reopening the directory with the default Env afterwards sees exactly
// what a process killed at that moment would have left.
class CrashingFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  explicit CrashingFileSystem(std::string needle)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), needle_(std::move(needle)) {}

  static const char* kClassName() { return "CrashingFileSystem"; }
  const char* Name() const override { return kClassName(); }

  bool crashed() const {
    std::lock_guard lock(mu_);
    return crashed_;
  }

  // True if this append must fail.
  bool Fails(bool is_wal, const rocksdb::Slice& data) {
    std::lock_guard lock(mu_);
    if (!crashed_ && is_wal && std::string_view(data.data(), data.size()).find(needle_) != std::string_view::npos) {
      crashed_ = true;
    }
    return crashed_;
  }

  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewWritableFile(fname, options, result, dbg);
    if (s.ok()) *result = std::make_unique<File>(std::move(*result), *this, IsWal(fname));
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& fname, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->ReopenWritableFile(fname, options, result, dbg);
    if (s.ok()) *result = std::make_unique<File>(std::move(*result), *this, IsWal(fname));
    return s;
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->ReuseWritableFile(fname, old_fname, options, result, dbg);
    if (s.ok()) *result = std::make_unique<File>(std::move(*result), *this, IsWal(fname));
    return s;
  }

 private:
  class File final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile>&& file, CrashingFileSystem& fs, bool is_wal)
        : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs), is_wal_(is_wal) {}

    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
      if (fs_.Fails(is_wal_, data)) return Injected();
      return FSWritableFileOwnerWrapper::Append(data, options, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& info, rocksdb::IODebugContext* dbg) override {
      if (fs_.Fails(is_wal_, data)) return Injected();
      return FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                       const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
      if (fs_.Fails(is_wal_, data)) return Injected();
      return FSWritableFileOwnerWrapper::PositionedAppend(data, offset, options, dbg);
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                       const rocksdb::IOOptions& options, const rocksdb::DataVerificationInfo& info,
                                       rocksdb::IODebugContext* dbg) override {
      if (fs_.Fails(is_wal_, data)) return Injected();
      return FSWritableFileOwnerWrapper::PositionedAppend(data, offset, options, info, dbg);
    }

   private:
    static rocksdb::IOStatus Injected() { return rocksdb::IOStatus::IOError("injected crash: write refused"); }
    CrashingFileSystem& fs_;
    const bool is_wal_;
  };

  static bool IsWal(const std::string& fname) {
    return fname.size() > 4 && fname.compare(fname.size() - 4, 4, ".log") == 0;
  }

  const std::string needle_;
  mutable std::mutex mu_;
  bool crashed_ = false;
};

class SweepRunnerTest : public ::testing::Test {
 protected:
  SweepRunnerTest() { FillSource(source_); }

  std::unique_ptr<Pipeline> OpenPipeline(const std::string& name, const PipelineOptions& options = {}) {
    absl::StatusOr<std::unique_ptr<Pipeline>> p = Pipeline::Open(dir_.Sub(name), clock_, options);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return nullptr;
    InstallLists((*p)->index);
    return std::move(*p);
  }

  std::unique_ptr<SweepRunner> MakeRunner(Pipeline& p, Source& source, uint64_t checkpoint_every) {
    return std::make_unique<SweepRunner>(source, *p.processor, *p.pool, *p.store, *p.audit, clock_,
                                         checkpoint_every);
  }

  // Starts (or resumes) a sweep and waits for its end; returns its final state.
  SweepState RunToEnd(SweepRunner& runner, std::optional<SweepState> resume = std::nullopt) {
    absl::Status s = runner.Start(std::move(resume), "test");
    EXPECT_TRUE(s.ok()) << s;
    runner.Join();
    EXPECT_FALSE(runner.Running());
    return runner.Progress();
  }

  // Counters of an uninterrupted sweep of the same objects in a fresh store.
  SweepCounters UninterruptedCounters() {
    InMemorySource fresh(kSourceId);
    FillSource(fresh);
    std::unique_ptr<Pipeline> p = OpenPipeline("uninterrupted");
    if (!p) return {};
    std::unique_ptr<SweepRunner> runner = MakeRunner(*p, fresh, 10);
    SweepState end = RunToEnd(*runner);
    EXPECT_EQ(end.phase, SweepPhase::kCompleted);
    return end.counters;
  }

  TempDir dir_;
  FakeClock clock_;
  InMemorySource source_{kSourceId};
};

// (a)
TEST_F(SweepRunnerTest, SweepCreatesExactlyTheExpectedCasesAndRecordsEveryObject) {
  std::unique_ptr<Pipeline> p = OpenPipeline("store");
  ASSERT_NE(p, nullptr);
  std::unique_ptr<SweepRunner> runner = MakeRunner(*p, source_, 25);
  SweepState end = RunToEnd(*runner);

  EXPECT_EQ(end.phase, SweepPhase::kCompleted) << end.error;
  EXPECT_EQ(Tie(end.counters), Tie(ExpectedCounters()));
  EXPECT_EQ(end.resumes, 0u);

  std::optional<SweepState> stored = ReadSweepState(*p->store, kSourceId);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->phase, SweepPhase::kCompleted);
  EXPECT_EQ(stored->sweep_id, end.sweep_id);
  EXPECT_FALSE(stored->has_cursor);
  EXPECT_EQ(stored->started_at, clock_.Now());
  EXPECT_EQ(stored->finished_at, clock_.Now());
  EXPECT_EQ(Tie(stored->counters), Tie(ExpectedCounters()));

  // Every object read once and recorded with its digests.
  EXPECT_EQ(CountKeys(*p->store, Cf::kObjects), static_cast<uint64_t>(kObjects));
  EXPECT_EQ(source_.TotalOpens(), static_cast<uint64_t>(kObjects));
  for (int i = 0; i < kObjects; ++i) {
    SCOPED_TRACE(KeyOf(i));
    EXPECT_EQ(source_.OpenCount(KeyOf(i)), 1u);
    std::optional<ObjectRecord> r = ReadObject(*p->store, kSourceId, KeyOf(i));
    ASSERT_TRUE(r.has_value());
    DigestSet d = DigestsOf(ContentOf(i));
    EXPECT_EQ(r->status, ObjectStatus::kHashed);
    EXPECT_EQ(r->version, "v1");
    EXPECT_EQ(r->size, ContentOf(i).size());
    EXPECT_EQ(HexEncode(r->digests.md5), HexEncode(d.md5));
    EXPECT_EQ(HexEncode(r->digests.sha1), HexEncode(d.sha1));
    EXPECT_EQ(HexEncode(r->digests.sha256), HexEncode(d.sha256));
    EXPECT_EQ(r->sweep_id, end.sweep_id);
    EXPECT_EQ(r->match_count, static_cast<uint32_t>(ExpectedEvidence(i)));
  }

  // Exactly the matched objects have cases, with all their evidence.
  std::map<std::string, Case> cases = ReadAllCases(*p->store);
  EXPECT_EQ(KeysOf(cases), ExpectedCaseIds());
  ASSERT_EQ(cases.size(), 15u);
  for (int i = 0; i < kObjects; ++i) {
    if (ExpectedEvidence(i) == 0) continue;
    SCOPED_TRACE(KeyOf(i));
    const Case& c = cases.at(CaseIdFor(kSourceId, KeyOf(i)));
    EXPECT_EQ(c.state, CaseState::kDetected);
    EXPECT_EQ(c.object.key, KeyOf(i));
    EXPECT_EQ(c.object.md5_hex, HexEncode(DigestsOf(ContentOf(i)).md5));
    EXPECT_EQ(static_cast<int>(c.evidence.size()), ExpectedEvidence(i));
    EXPECT_EQ(c.category, ExpectedCategory(i));
  }
  EXPECT_EQ(CountKeys(*p->store, Cf::kMatches), ExpectedCounters().matches);

  // One detection notice per case.
  std::map<std::string, OutboxRecord> outbox = ReadOutbox(*p->store);
  EXPECT_EQ(outbox.size(), cases.size());
  std::set<std::string> noticed_cases;
  for (const auto& [id, record] : outbox) {
    EXPECT_EQ(record.state, OutboxRecord::State::kPending);
    EXPECT_EQ(record.notice.kind, "case.detected");
    noticed_cases.insert(record.notice.case_id);
  }
  EXPECT_EQ(noticed_cases, ExpectedCaseIds());
  EXPECT_EQ(p->notices_queued.load(), 15);

  std::map<std::string, int> actions = AuditActionCounts(*p->audit);
  EXPECT_EQ(actions["sweep.start"], 1);
  EXPECT_EQ(actions["sweep.complete"], 1);
  EXPECT_EQ(actions["case.create"], 15);
  EXPECT_EQ(actions["case.evidence_add"], 0);
  ExpectAuditChainIntact(*p->audit);

  std::string metrics = p->registry.RenderText();
  EXPECT_THAT(metrics, HasSubstr("takedown_objects_swept_total{source=\"src\"} 500"));
}

// (b)
TEST_F(SweepRunnerTest, VanishedAndUnreadableObjectsAreRecordedAsFailedAndTheSweepCompletes) {
  source_.Vanish(KeyOf(100));
  source_.Vanish(KeyOf(253));  // would match list-a
  source_.FailReadAfter(KeyOf(200), 10);
  std::unique_ptr<Pipeline> p = OpenPipeline("store");
  ASSERT_NE(p, nullptr);
  std::unique_ptr<SweepRunner> runner = MakeRunner(*p, source_, 25);
  SweepState end = RunToEnd(*runner);

  const std::set<int> failed = {100, 200, 253};
  EXPECT_EQ(end.phase, SweepPhase::kCompleted) << end.error;
  EXPECT_EQ(Tie(end.counters), Tie(ExpectedCounters(failed)));
  EXPECT_EQ(Tie(ReadSweepState(*p->store, kSourceId)->counters), Tie(ExpectedCounters(failed)));

  for (int i : {100, 253}) {
    std::optional<ObjectRecord> r = ReadObject(*p->store, kSourceId, KeyOf(i));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, ObjectStatus::kFailed);
    EXPECT_EQ(r->version, "v1");
    EXPECT_THAT(r->error, HasSubstr("does not exist"));
    EXPECT_THAT(r->error, HasSubstr(KeyOf(i)));
  }
  std::optional<ObjectRecord> r = ReadObject(*p->store, kSourceId, KeyOf(200));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, ObjectStatus::kFailed);
  EXPECT_THAT(r->error, HasSubstr("injected read failure at byte 10"));

  EXPECT_EQ(CountKeys(*p->store, Cf::kObjects), static_cast<uint64_t>(kObjects));
  EXPECT_EQ(KeysOf(ReadAllCases(*p->store)), ExpectedCaseIds(failed));
  EXPECT_EQ(ReadOutbox(*p->store).size(), ExpectedCaseIds(failed).size());
  EXPECT_THAT(p->registry.RenderText(), HasSubstr("takedown_errors_total{kind=\"object_unreadable\"} 3"));
  ExpectAuditChainIntact(*p->audit);
}

// (c)
TEST_F(SweepRunnerTest, SecondSweepReadsNothingAndAChangedVersionIsReadAgain) {
  std::unique_ptr<Pipeline> p = OpenPipeline("store");
  ASSERT_NE(p, nullptr);
  std::unique_ptr<SweepRunner> runner = MakeRunner(*p, source_, 25);
  SweepState first = RunToEnd(*runner);
  ASSERT_EQ(first.phase, SweepPhase::kCompleted);
  const uint64_t audit_after_first = p->audit->last_seq();

  clock_.Advance(absl::Hours(24));
  source_.ResetCounts();
  SweepState second = RunToEnd(*runner);
  EXPECT_EQ(second.phase, SweepPhase::kCompleted);
  EXPECT_NE(second.sweep_id, first.sweep_id);
  EXPECT_EQ(source_.TotalOpens(), 0u);
  SweepCounters all_unchanged;
  all_unchanged.listed = kObjects;
  all_unchanged.unchanged = kObjects;
  EXPECT_EQ(Tie(second.counters), Tie(all_unchanged));
  // Nothing but the sweep's own start and end was audited.
  EXPECT_EQ(p->audit->last_seq(), audit_after_first + 2);
  EXPECT_EQ(ReadObject(*p->store, kSourceId, KeyOf(7))->sweep_id, first.sweep_id);
  EXPECT_EQ(ReadAllCases(*p->store).size(), 15u);

  // A new version of one object: only that object is read.
  source_.Put(KeyOf(42), ContentOf(42, /*generation=*/1), "v2");
  clock_.Advance(absl::Hours(24));
  source_.ResetCounts();
  SweepState third = RunToEnd(*runner);
  EXPECT_EQ(third.phase, SweepPhase::kCompleted);
  EXPECT_EQ(source_.TotalOpens(), 1u);
  EXPECT_EQ(source_.OpenCount(KeyOf(42)), 1u);
  SweepCounters one_changed;
  one_changed.listed = kObjects;
  one_changed.unchanged = kObjects - 1;
  one_changed.done = 1;
  one_changed.bytes = ContentOf(42, 1).size();
  EXPECT_EQ(Tie(third.counters), Tie(one_changed));
  std::optional<ObjectRecord> r = ReadObject(*p->store, kSourceId, KeyOf(42));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->version, "v2");
  EXPECT_EQ(r->sweep_id, third.sweep_id);
  EXPECT_EQ(HexEncode(r->digests.sha256), HexEncode(DigestsOf(ContentOf(42, 1)).sha256));
  EXPECT_EQ(ReadObject(*p->store, kSourceId, KeyOf(43))->sweep_id, first.sweep_id);
  ExpectAuditChainIntact(*p->audit);
}

// An object that could not be read (transient I/O error, or listed while
// being replaced) has no digests. The next sweep must try it again even when
// the listed version is the same, or it is never matched.
TEST_F(SweepRunnerTest, ObjectThatFailedIsReadAgainInTheNextSweep) {
  source_.FailReadAfter(KeyOf(103), 5);  // matches list-a and list-b
  std::unique_ptr<Pipeline> p = OpenPipeline("store");
  ASSERT_NE(p, nullptr);
  std::unique_ptr<SweepRunner> runner = MakeRunner(*p, source_, 25);
  SweepState first = RunToEnd(*runner);
  ASSERT_EQ(first.counters.failed, 1u);
  ASSERT_EQ(ReadObject(*p->store, kSourceId, KeyOf(103))->status, ObjectStatus::kFailed);

  source_.Put(KeyOf(103), ContentOf(103), "v1");  // the fault is gone; same version
  clock_.Advance(absl::Hours(24));
  source_.ResetCounts();
  SweepState second = RunToEnd(*runner);
  EXPECT_EQ(source_.OpenCount(KeyOf(103)), 1u);
  EXPECT_EQ(second.counters.done, 1u);
  EXPECT_EQ(second.counters.unchanged, static_cast<uint64_t>(kObjects - 1));
  std::optional<ObjectRecord> r = ReadObject(*p->store, kSourceId, KeyOf(103));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, ObjectStatus::kHashed);
  EXPECT_EQ(KeysOf(ReadAllCases(*p->store)), ExpectedCaseIds());
}

// (d)
TEST_F(SweepRunnerTest, StopMidSweepThenResumeProcessesEveryObjectExactlyOnce) {
  const SweepCounters uninterrupted = UninterruptedCounters();
  ASSERT_EQ(Tie(uninterrupted), Tie(ExpectedCounters()));

  PipelineOptions options;
  options.workers = 3;
  options.queue_capacity = 4;
  std::unique_ptr<Pipeline> p = OpenPipeline("store", options);
  ASSERT_NE(p, nullptr);
  // All three workers end up blocked, out of order with their neighbours.
  // The keys lie further apart than a chunk of objects (32), so each blocks
  // its own worker.
  const std::vector<std::string> blocked = {KeyOf(200), KeyOf(240), KeyOf(280)};
  for (const std::string& key : blocked) source_.BlockOpen(key);

  std::string sweep_id;
  {
    std::unique_ptr<SweepRunner> runner = MakeRunner(*p, source_, 7);
    ASSERT_TRUE(runner->Start(std::nullopt, "test").ok());
    sweep_id = runner->Progress().sweep_id;
    for (const std::string& key : blocked) {
      ASSERT_TRUE(source_.WaitUntilBlocked(key, absl::Seconds(10))) << key;
    }
    std::thread stopper([&] { runner->Stop(); });
    // Stop() sets its flag first thing; give it ample time before releasing.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (const std::string& key : blocked) source_.ReleaseOpen(key);
    stopper.join();
    EXPECT_FALSE(runner->Running());
  }

  std::optional<SweepState> interrupted = ReadSweepState(*p->store, kSourceId);
  ASSERT_TRUE(interrupted.has_value());
  EXPECT_EQ(interrupted->phase, SweepPhase::kRunning);
  EXPECT_EQ(interrupted->sweep_id, sweep_id);
  ASSERT_TRUE(interrupted->has_cursor);
  EXPECT_GE(interrupted->cursor, KeyOf(280));
  EXPECT_LT(interrupted->cursor, KeyOf(kObjects - 1)) << "the sweep was not interrupted";
  // Every object up to the cursor is stored; the counters are those of that prefix.
  const uint64_t prefix = std::stoul(interrupted->cursor.substr(4)) + 1;
  EXPECT_EQ(interrupted->counters.listed, prefix);
  EXPECT_EQ(interrupted->counters.done, prefix);
  for (uint64_t i = 0; i < prefix; ++i) {
    ASSERT_TRUE(ReadObject(*p->store, kSourceId, KeyOf(static_cast<int>(i))).has_value()) << i;
  }
  EXPECT_EQ(AuditActionCounts(*p->audit)["sweep.complete"], 0);

  clock_.Advance(absl::Minutes(5));
  std::unique_ptr<SweepRunner> resumed = MakeRunner(*p, source_, 7);
  SweepState end = RunToEnd(*resumed, *interrupted);
  EXPECT_EQ(end.phase, SweepPhase::kCompleted) << end.error;
  EXPECT_EQ(end.sweep_id, sweep_id);
  EXPECT_EQ(end.resumes, 1u);
  EXPECT_EQ(Tie(end.counters), Tie(uninterrupted));
  EXPECT_EQ(Tie(ReadSweepState(*p->store, kSourceId)->counters), Tie(uninterrupted));
  EXPECT_EQ(source_.ListCalls(), 2u);

  for (int i = 0; i < kObjects; ++i) {
    EXPECT_EQ(source_.OpenCount(KeyOf(i)), 1u) << KeyOf(i);
    std::optional<ObjectRecord> r = ReadObject(*p->store, kSourceId, KeyOf(i));
    ASSERT_TRUE(r.has_value()) << KeyOf(i);
    EXPECT_EQ(r->sweep_id, sweep_id);
  }
  EXPECT_EQ(CountKeys(*p->store, Cf::kObjects), static_cast<uint64_t>(kObjects));
  EXPECT_EQ(KeysOf(ReadAllCases(*p->store)), ExpectedCaseIds());
  EXPECT_EQ(ReadOutbox(*p->store).size(), 15u);
  std::map<std::string, int> actions = AuditActionCounts(*p->audit);
  EXPECT_EQ(actions["case.create"], 15);
  EXPECT_EQ(actions["case.evidence_add"], 0);
  EXPECT_EQ(actions["sweep.start"], 1);
  EXPECT_EQ(actions["sweep.resume"], 1);
  EXPECT_EQ(actions["sweep.complete"], 1);
  ExpectAuditChainIntact(*p->audit);
}

// (e) and (f)
TEST_F(SweepRunnerTest, CrashAfterACheckpointReprocessesTheTailIdempotently) {
  const SweepCounters uninterrupted = UninterruptedCounters();
  const std::string store_dir = "store";
  std::string sweep_id;
  {
    // The "crash": the write of object 230's result never reaches the disk,
    // and nothing after it does. Object 203 (between the last checkpoint and
    // the crash) has a case, which must not be duplicated.
    auto fs = std::make_shared<CrashingFileSystem>(ObjectKey(kSourceId, KeyOf(230)));
    std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
    PipelineOptions options;
    options.workers = 1;
    options.env = env.get();
    std::unique_ptr<Pipeline> p = OpenPipeline(store_dir, options);
    ASSERT_NE(p, nullptr);
    std::unique_ptr<SweepRunner> runner = MakeRunner(*p, source_, 50);
    SweepState dead = RunToEnd(*runner);
    sweep_id = dead.sweep_id;
    EXPECT_TRUE(fs->crashed());
    runner.reset();
    p.reset();  // everything in memory is gone
  }

  absl::StatusOr<std::unique_ptr<Pipeline>> reopened = Pipeline::Open(dir_.Sub(store_dir), clock_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  std::unique_ptr<Pipeline> p = std::move(*reopened);
  InstallLists(p->index);
  ExpectAuditChainIntact(*p->audit);

  std::optional<SweepState> persisted = ReadSweepState(*p->store, kSourceId);
  ASSERT_TRUE(persisted.has_value());
  EXPECT_EQ(persisted->phase, SweepPhase::kRunning);
  EXPECT_EQ(persisted->sweep_id, sweep_id);
  ASSERT_TRUE(persisted->has_cursor);
  EXPECT_EQ(persisted->cursor, KeyOf(199));  // the last checkpoint (every 50, one worker)
  EXPECT_EQ(persisted->counters.done, 200u);
  // Objects after the checkpoint were stored before the crash: the chunks
  // before 230's, and the objects of its chunk that had a match (written at
  // once with their case, before the chunk's batch).
  const int chunk = static_cast<int>(SweepRunner::kChunkObjects);
  const int chunk_start = 230 / chunk * chunk;
  auto stored_early = [&](int i) { return i >= chunk_start && i < chunk_start + chunk && ExpectedEvidence(i) > 0; };
  uint64_t stored_in_chunk = 0;
  for (int i = chunk_start; i < chunk_start + chunk; ++i) stored_in_chunk += stored_early(i) ? 1 : 0;
  ASSERT_GT(stored_in_chunk, 0u) << "the test wants a match in the failing chunk";
  EXPECT_EQ(CountKeys(*p->store, Cf::kObjects), static_cast<uint64_t>(chunk_start) + stored_in_chunk);
  EXPECT_TRUE(ReadObject(*p->store, kSourceId, KeyOf(chunk_start - 1)).has_value());
  EXPECT_FALSE(ReadObject(*p->store, kSourceId, KeyOf(230)).has_value());
  ASSERT_TRUE(ReadAllCases(*p->store).count(CaseIdFor(kSourceId, KeyOf(203))));

  std::unique_ptr<SweepRunner> runner = MakeRunner(*p, source_, 50);
  SweepState end = RunToEnd(*runner, *persisted);
  EXPECT_EQ(end.phase, SweepPhase::kCompleted) << end.error;
  EXPECT_EQ(end.sweep_id, sweep_id);
  EXPECT_EQ(Tie(end.counters), Tie(uninterrupted));
  EXPECT_EQ(Tie(ReadSweepState(*p->store, kSourceId)->counters), Tie(uninterrupted));

  // Results stored before the crash, including those after the checkpoint,
  // are not read again. The rest of 230's chunk (whose write was lost) and
  // the objects already queued behind it were read before the crash and are
  // read again.
  for (int i = 0; i < kObjects; ++i) {
    if (i < chunk_start || stored_early(i)) {
      EXPECT_EQ(source_.OpenCount(KeyOf(i)), 1u) << KeyOf(i);
    } else {
      EXPECT_GE(source_.OpenCount(KeyOf(i)), 1u) << KeyOf(i);
      EXPECT_LE(source_.OpenCount(KeyOf(i)), 2u) << KeyOf(i);
    }
  }
  EXPECT_EQ(source_.OpenCount(KeyOf(230)), 2u);
  EXPECT_EQ(CountKeys(*p->store, Cf::kObjects), static_cast<uint64_t>(kObjects));
  std::map<std::string, Case> cases = ReadAllCases(*p->store);
  EXPECT_EQ(KeysOf(cases), ExpectedCaseIds());
  for (const auto& [id, c] : cases) {
    int i = std::stoi(c.object.key.substr(4));
    EXPECT_EQ(static_cast<int>(c.evidence.size()), ExpectedEvidence(i)) << c.object.key;
  }
  EXPECT_EQ(ReadOutbox(*p->store).size(), cases.size());
  EXPECT_EQ(CountKeys(*p->store, Cf::kMatches), uninterrupted.matches);
  std::map<std::string, int> actions = AuditActionCounts(*p->audit);
  EXPECT_EQ(actions["case.create"], 15);
  EXPECT_EQ(actions["case.evidence_add"], 0);
  EXPECT_EQ(actions["sweep.resume"], 1);
  EXPECT_EQ(actions["sweep.complete"], 1);
  ExpectAuditChainIntact(*p->audit);
}

// (g)
TEST_F(SweepRunnerTest, StoreWriteFailureFailsTheSweepWithoutPassingTheObject) {
  auto fs = std::make_shared<CrashingFileSystem>(ObjectKey(kSourceId, KeyOf(300)));
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  std::optional<SweepState> persisted;
  const uint64_t chunk_start = 300 / SweepRunner::kChunkObjects * SweepRunner::kChunkObjects;
  {
    PipelineOptions options;
    options.workers = 1;
    options.env = env.get();
    std::unique_ptr<Pipeline> p = OpenPipeline("store", options);
    ASSERT_NE(p, nullptr);
    std::unique_ptr<SweepRunner> runner = MakeRunner(*p, source_, 10);
    SweepState end = RunToEnd(*runner);
    EXPECT_TRUE(fs->crashed());
    EXPECT_EQ(end.phase, SweepPhase::kFailed);
    EXPECT_THAT(end.error, HasSubstr("injected crash"));
    // One worker: the chunks before 300's are stored; the cursor stays
    // before that chunk.
    ASSERT_TRUE(end.has_cursor);
    EXPECT_EQ(end.cursor, KeyOf(static_cast<int>(chunk_start) - 1));
    EXPECT_EQ(end.counters.listed, chunk_start);
    EXPECT_EQ(end.counters.done, chunk_start);
    // Nothing was read after the failing chunk: queued chunks are dropped.
    EXPECT_EQ(source_.TotalOpens(), chunk_start + SweepRunner::kChunkObjects);
    persisted = ReadSweepState(*p->store, kSourceId);
  }
  ASSERT_TRUE(persisted.has_value());
  ASSERT_TRUE(persisted->has_cursor);
  EXPECT_LT(persisted->cursor, KeyOf(300));
  // The last checkpoint (every 10 objects) before the failure persisted.
  EXPECT_GE(persisted->cursor, KeyOf(static_cast<int>(chunk_start) - 10));

  // Once the store works again, the next start resumes before the object and
  // finishes the sweep.
  absl::StatusOr<std::unique_ptr<Pipeline>> reopened = Pipeline::Open(dir_.Sub("store"), clock_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  std::unique_ptr<Pipeline> p = std::move(*reopened);
  InstallLists(p->index);
  std::unique_ptr<SweepRunner> runner = MakeRunner(*p, source_, 10);
  SweepState end = RunToEnd(*runner, *persisted);
  EXPECT_EQ(end.phase, SweepPhase::kCompleted) << end.error;
  EXPECT_EQ(Tie(end.counters), Tie(ExpectedCounters()));
  EXPECT_EQ(ReadObject(*p->store, kSourceId, KeyOf(300))->status, ObjectStatus::kHashed);
  EXPECT_EQ(KeysOf(ReadAllCases(*p->store)), ExpectedCaseIds());
  ExpectAuditChainIntact(*p->audit);
}

TEST_F(SweepRunnerTest, ListingFailureFailsTheSweepAndKeepsTheCursor) {
  source_.LimitListing(120, absl::UnavailableError("bucket listing refused"));
  std::unique_ptr<Pipeline> p = OpenPipeline("store");
  ASSERT_NE(p, nullptr);
  std::unique_ptr<SweepRunner> runner = MakeRunner(*p, source_, 25);
  SweepState end = RunToEnd(*runner);
  EXPECT_EQ(end.phase, SweepPhase::kFailed);
  EXPECT_THAT(end.error, HasSubstr("bucket listing refused"));
  std::optional<SweepState> stored = ReadSweepState(*p->store, kSourceId);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->phase, SweepPhase::kFailed);
  EXPECT_EQ(stored->cursor, KeyOf(119));
  EXPECT_EQ(stored->counters.listed, 120u);
  EXPECT_EQ(CountKeys(*p->store, Cf::kObjects), 120u);
  EXPECT_EQ(AuditActionCounts(*p->audit)["sweep.fail"], 1);
  ExpectAuditChainIntact(*p->audit);
}

TEST_F(SweepRunnerTest, SkippedEntriesAndOversizedObjectsAreRecordedWithTheReason) {
  InMemorySource source("small");
  source.Put("a", "alpha", "v1");
  source.AddSkipped("b-fifo", "not a regular file (fifo)");
  source.Put("c", std::string(2000, 'x'), "v1");
  source.Put("d", "delta", "v1");
  PipelineOptions options;
  options.limits.max_object_bytes = 1000;
  std::unique_ptr<Pipeline> p = OpenPipeline("store", options);
  ASSERT_NE(p, nullptr);
  std::unique_ptr<SweepRunner> runner = MakeRunner(*p, source, 1);
  SweepState end = RunToEnd(*runner);
  EXPECT_EQ(end.phase, SweepPhase::kCompleted);
  SweepCounters expected;
  expected.listed = 3;  // a, c, d (the fifo is not an object)
  expected.done = 2;
  expected.skipped = 2;
  expected.bytes = 10;
  EXPECT_EQ(Tie(end.counters), Tie(expected));
  EXPECT_EQ(source.OpenCount("c"), 0u);

  std::optional<ObjectRecord> fifo = ReadObject(*p->store, "small", "b-fifo");
  ASSERT_TRUE(fifo.has_value());
  EXPECT_EQ(fifo->status, ObjectStatus::kSkipped);
  EXPECT_EQ(fifo->error, "not a regular file (fifo)");
  std::optional<ObjectRecord> big = ReadObject(*p->store, "small", "c");
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(big->status, ObjectStatus::kSkipped);
  EXPECT_THAT(big->error, HasSubstr("max_object_bytes"));
}

// Filesystem keys are raw bytes, often not UTF-8 (file names in Latin-1).
// Such a key must be stored exactly and must not throw (nlohmann's dump()
// throws on invalid UTF-8), since a throw in a worker ends the process.
constexpr char kLatin1Key[] = "caf\xe9-latin1.jpg";

TEST(ObjectRecordEncoding, NonUtf8KeyAndErrorRoundTripWithoutThrowing) {
  ObjectRecord record;
  record.source_id = kSourceId;
  record.key = kLatin1Key;
  record.version = "v1";
  record.status = ObjectStatus::kFailed;
  record.error = std::string("cannot open ") + kLatin1Key;
  std::string encoded;
  ASSERT_NO_THROW(encoded = EncodeObjectRecord(record));
  absl::StatusOr<ObjectRecord> decoded = DecodeObjectRecord(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->key, kLatin1Key);
  EXPECT_EQ(decoded->status, ObjectStatus::kFailed);
}

TEST(SweepStateEncoding, NonUtf8CursorRoundTripsWithoutThrowing) {
  SweepState state;
  state.source_id = kSourceId;
  state.sweep_id = "s";
  state.cursor = kLatin1Key;
  state.has_cursor = true;
  std::string encoded;
  ASSERT_NO_THROW(encoded = EncodeSweepState(state));
  absl::StatusOr<SweepState> decoded = DecodeSweepState(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  // The cursor is a resume position: it must come back byte for byte.
  EXPECT_EQ(decoded->cursor, kLatin1Key);
}

TEST_F(SweepRunnerTest, NonUtf8KeyIsProcessedWithoutThrowing) {
  std::unique_ptr<Pipeline> p = OpenPipeline("store");
  ASSERT_NE(p, nullptr);
  InMemorySource source(kSourceId);
  source.Put("a-plain", ContentOf(1), "v1");
  source.Put(kLatin1Key, ContentOf(3), "v1");  // matches both lists
  source.Put("z-plain", ContentOf(2), "v1");
  absl::StatusOr<SweepCounters> counters = absl::InternalError("not run");
  ASSERT_NO_THROW(counters = p->processor->Process(
                      source, ObjectRef{kSourceId, kLatin1Key, "v1", ContentOf(3).size()}, "sweep-1"));
  ASSERT_TRUE(counters.ok()) << counters.status();
  EXPECT_EQ(counters->matches, 2u);
  std::optional<ObjectRecord> stored = ReadObject(*p->store, kSourceId, kLatin1Key);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->key, kLatin1Key);
  std::optional<Case> c = ReadCase(*p->store, CaseIdFor(kSourceId, kLatin1Key));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->object.key, kLatin1Key);

  // Only once the pieces do not throw: a whole sweep (a throw on a worker
  // thread would end the test binary).
  std::unique_ptr<SweepRunner> runner = MakeRunner(*p, source, 1);
  SweepState end = RunToEnd(*runner);
  EXPECT_EQ(end.phase, SweepPhase::kCompleted) << end.error;
  EXPECT_EQ(end.counters.listed, 3u);
}

}  // namespace
}  // namespace takedown
