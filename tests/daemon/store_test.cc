#include "daemon/store.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "daemon/keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"

namespace takedown {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/takedown_store_test_XXXXXX";
    char* dir = mkdtemp(tmpl.data());
    EXPECT_NE(dir, nullptr);
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::unique_ptr<Store> OpenOrDie(const std::string& path, const StoreOptions& options = {}) {
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path, options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

std::optional<std::string> GetOrDie(const Store& store, Cf cf, std::string_view key) {
  absl::StatusOr<std::optional<std::string>> value = store.Get(cf, key);
  EXPECT_TRUE(value.ok()) << value.status();
  return value.ok() ? *value : std::nullopt;
}

std::vector<std::pair<std::string, std::string>> ScanAll(const Store& store, Cf cf,
                                                         std::string_view prefix) {
  std::vector<std::pair<std::string, std::string>> out;
  absl::Status s = store.Scan(cf, prefix, [&](std::string_view k, std::string_view v) {
    out.emplace_back(std::string(k), std::string(v));
    return true;
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

TEST(Keys, BigEndianEncodingSortsNumerically) {
  EXPECT_EQ(EncodeUint64BE(0x0102030405060708ULL), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  std::vector<uint64_t> values = {0, 1, 255, 256, 65535, 1ULL << 40, ~0ULL};
  for (size_t i = 1; i < values.size(); ++i) {
    EXPECT_LT(EncodeUint64BE(values[i - 1]), EncodeUint64BE(values[i])) << values[i];
    EXPECT_EQ(DecodeUint64BE(EncodeUint64BE(values[i])), values[i]);
  }
  EXPECT_EQ(DecodeUint64BE("short"), std::nullopt);
  EXPECT_EQ(DecodeUint64BE("nine bytes"), std::nullopt);
}

TEST(Keys, JoinAndSplitAtFirstSeparator) {
  std::string key = JoinKey("src1", std::string("a\0b", 3));
  EXPECT_EQ(key, std::string("src1\0a\0b", 8));
  EXPECT_EQ(key.rfind(KeyPrefix("src1"), 0), 0u);
  auto parts = SplitKey(key);
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->first, "src1");
  EXPECT_EQ(parts->second, std::string("a\0b", 3));
  EXPECT_EQ(SplitKey("nosep"), std::nullopt);
  EXPECT_EQ(PrintableKey(std::string("ab\0\xff\\", 5)), "ab\\x00\\xff\\x5c");
  EXPECT_EQ(PrintableKey(std::string(100, 'k'), 10), "kkkkkkkkkk...");
}

TEST(Store, NewStoreHasSchemaVersionAndAllColumnFamilies) {
  TempDir dir;
  auto store = OpenOrDie(dir.Sub("db"));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->schema_version(), kSchemaVersion);
  EXPECT_EQ(GetOrDie(*store, Cf::kMeta, kSchemaVersionKey), "1");

  Store::Batch batch;
  for (Cf cf : AllCfs()) batch.Put(cf, "k", std::string(CfName(cf)));
  ASSERT_TRUE(store->Write(std::move(batch)).ok());
  for (Cf cf : AllCfs()) EXPECT_EQ(GetOrDie(*store, cf, "k"), std::string(CfName(cf)));
  EXPECT_EQ(CfName(Cf::kObjects), "objects");
  EXPECT_EQ(CfName(Cf::kMeta), "meta");
}

TEST(Store, ReopenKeepsData) {
  TempDir dir;
  {
    auto store = OpenOrDie(dir.Sub("db"));
    Store::Batch batch;
    batch.Put(Cf::kObjects, JoinKey("src", "a.jpg"), "record-a");
    batch.Put(Cf::kCursors, "src", "cursor-1");
    ASSERT_TRUE(store->Write(std::move(batch), /*sync=*/true).ok());
  }
  auto store = OpenOrDie(dir.Sub("db"));
  EXPECT_EQ(GetOrDie(*store, Cf::kObjects, JoinKey("src", "a.jpg")), "record-a");
  EXPECT_EQ(GetOrDie(*store, Cf::kCursors, "src"), "cursor-1");
  EXPECT_EQ(GetOrDie(*store, Cf::kObjects, "absent"), std::nullopt);
  EXPECT_EQ(store->schema_version(), 1u);
}

TEST(Store, MultiGetReturnsValuesInKeyOrderOfTheRequest) {
  TempDir dir;
  auto store = OpenOrDie(dir.Sub("db"));
  Store::Batch batch;
  batch.Put(Cf::kObjects, JoinKey("src", "b"), "value-b");
  batch.Put(Cf::kObjects, JoinKey("src", "a"), std::string("value\0a", 7));
  batch.Put(Cf::kCases, JoinKey("src", "c"), "other column family");
  ASSERT_TRUE(store->Write(std::move(batch)).ok());
  absl::StatusOr<std::vector<std::optional<std::string>>> values = store->MultiGet(
      Cf::kObjects, {JoinKey("src", "b"), JoinKey("src", "missing"), JoinKey("src", "a"), JoinKey("src", "c")});
  ASSERT_TRUE(values.ok()) << values.status();
  ASSERT_EQ(values->size(), 4u);
  EXPECT_EQ((*values)[0], "value-b");
  EXPECT_EQ((*values)[1], std::nullopt);
  EXPECT_EQ((*values)[2], std::string("value\0a", 7));
  EXPECT_EQ((*values)[3], std::nullopt);
  absl::StatusOr<std::vector<std::optional<std::string>>> none = store->MultiGet(Cf::kObjects, {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(Store, HasPrefixSeesOnlyItsOwnColumnFamilyAndPrefix) {
  TempDir dir;
  auto store = OpenOrDie(dir.Sub("db"));
  Store::Batch batch;
  batch.Put(Cf::kObjects, JoinKey("src-b", "x"), "1");
  batch.Put(Cf::kCases, JoinKey("src-a", "x"), "2");
  ASSERT_TRUE(store->Write(std::move(batch)).ok());
  EXPECT_EQ(*store->HasPrefix(Cf::kObjects, JoinKey("src-b", "")), true);
  EXPECT_EQ(*store->HasPrefix(Cf::kObjects, JoinKey("src-a", "")), false);
  EXPECT_EQ(*store->HasPrefix(Cf::kObjects, JoinKey("src", "")), false);
  EXPECT_EQ(*store->HasPrefix(Cf::kCases, JoinKey("src-a", "")), true);
}

TEST(Store, RefusesStoreFromNewerTakedownd) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  {
    StoreOptions newer;
    newer.schema_version_for_test = 2;
    auto store = OpenOrDie(path, newer);
    EXPECT_EQ(GetOrDie(*store, Cf::kMeta, kSchemaVersionKey), "2");
  }
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path, StoreOptions());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(std::string(store.status().message()),
            "store " + path + " has schema version 2; this takedownd supports up to 1; "
            "upgrade takedownd");
}

TEST(Store, RunsMigrationsInOrderOnce) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  {
    auto store = OpenOrDie(path);
    Store::Batch batch;
    batch.Put(Cf::kObjects, "o1", "old");
    ASSERT_TRUE(store->Write(std::move(batch)).ok());
  }
  std::vector<uint32_t> ran;
  StoreOptions options;
  options.schema_version_for_test = 3;
  options.migrations_for_test = std::vector<Migration>{
      // Deliberately listed out of order: lookup is by from_version.
      {2, "add a cases key", [&](Store&, StoreBatch& batch) {
         ran.push_back(2);
         batch.Put(Cf::kCases, "c1", "added-by-2");
         return absl::OkStatus();
       }},
      {1, "rewrite objects", [&](Store& store, StoreBatch& batch) {
         ran.push_back(1);
         auto old = store.Get(Cf::kObjects, "o1");
         if (!old.ok()) return old.status();
         batch.Put(Cf::kObjects, "o1", **old + "->v2");
         return absl::OkStatus();
       }},
  };
  {
    auto store = OpenOrDie(path, options);
    EXPECT_EQ(store->schema_version(), 3u);
    EXPECT_THAT(ran, ElementsAre(1u, 2u));
    EXPECT_EQ(GetOrDie(*store, Cf::kObjects, "o1"), "old->v2");
    EXPECT_EQ(GetOrDie(*store, Cf::kCases, "c1"), "added-by-2");
    EXPECT_EQ(GetOrDie(*store, Cf::kMeta, kSchemaVersionKey), "3");
  }
  auto store = OpenOrDie(path, options);
  EXPECT_THAT(ran, ElementsAre(1u, 2u));
}

TEST(Store, FailedMigrationLeavesOldVersion) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  OpenOrDie(path).reset();
  StoreOptions options;
  options.schema_version_for_test = 2;
  options.migrations_for_test = std::vector<Migration>{
      {1, "breaks", [](Store&, StoreBatch& batch) {
         batch.Put(Cf::kObjects, "half", "done");
         return absl::InternalError("disk on fire");
       }},
  };
  absl::StatusOr<std::unique_ptr<Store>> failed = Store::Open(path, options);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("migration 1 -> 2 (breaks)"));
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("disk on fire"));

  auto store = OpenOrDie(path);
  EXPECT_EQ(store->schema_version(), 1u);
  EXPECT_EQ(GetOrDie(*store, Cf::kObjects, "half"), std::nullopt);
}

TEST(Store, MissingMigrationIsFailedPrecondition) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  OpenOrDie(path).reset();
  StoreOptions options;
  options.schema_version_for_test = 2;
  options.migrations_for_test = std::vector<Migration>{};
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path, options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("no migration from version 1 to 2"));
}

TEST(Store, StampsEmptyStoreWithoutVersionButRefusesOneWithData) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  {
    auto store = OpenOrDie(path);
    Store::Batch batch;
    batch.Delete(Cf::kMeta, kSchemaVersionKey);
    ASSERT_TRUE(store->Write(std::move(batch)).ok());
  }
  {
    auto store = OpenOrDie(path);
    EXPECT_EQ(GetOrDie(*store, Cf::kMeta, kSchemaVersionKey), "1");
    Store::Batch batch;
    batch.Delete(Cf::kMeta, kSchemaVersionKey);
    batch.Put(Cf::kCases, "c", "v");
    ASSERT_TRUE(store->Write(std::move(batch)).ok());
  }
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path, StoreOptions());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("has no meta/schema_version"));
}

TEST(Store, RejectsDamagedSchemaVersion) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  {
    auto store = OpenOrDie(path);
    Store::Batch batch;
    batch.Put(Cf::kMeta, kSchemaVersionKey, "one");
    ASSERT_TRUE(store->Write(std::move(batch)).ok());
  }
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path, StoreOptions());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("'one'"));
}

TEST(Store, SecondOpenOfSamePathIsUnavailable) {
  TempDir dir;
  auto first = OpenOrDie(dir.Sub("db"));
  absl::StatusOr<std::unique_ptr<Store>> second = Store::Open(dir.Sub("db"), StoreOptions());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(dir.Sub("db")));
}

TEST(Store, MissingStoreWithoutCreateIsNotFound) {
  TempDir dir;
  StoreOptions options;
  options.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir.Sub("none"), options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kNotFound);
}

TEST(Store, OpensStoreWithUnknownColumnFamily) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  OpenOrDie(path).reset();
  {
    rocksdb::DB* db = nullptr;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
        {rocksdb::kDefaultColumnFamilyName, {}}};
    for (Cf cf : AllCfs()) cfs.emplace_back(std::string(CfName(cf)), rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), path, cfs, &handles, &db).ok());
    rocksdb::ColumnFamilyHandle* extra = nullptr;
    ASSERT_TRUE(db->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), "future", &extra).ok());
    handles.push_back(extra);
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    delete db;
  }
  auto store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->schema_version(), 1u);
}

TEST(Store, BatchAppliesInOrderAcrossColumnFamilies) {
  TempDir dir;
  auto store = OpenOrDie(dir.Sub("db"));
  Store::Batch batch;
  batch.Put(Cf::kObjects, "gone", "1");
  batch.Delete(Cf::kObjects, "gone");
  batch.Delete(Cf::kObjects, "back");
  batch.Put(Cf::kObjects, "back", "2");
  batch.Put(Cf::kCases, "case", "3");
  batch.Put(Cf::kTimers, "timer", "4");
  EXPECT_EQ(batch.Count(), 6u);
  EXPECT_EQ(batch.ByteSize(), 4u + 1 + 4 + 4 + 4 + 1 + 4 + 1 + 5 + 1);
  ASSERT_TRUE(store->Write(std::move(batch)).ok());
  EXPECT_EQ(GetOrDie(*store, Cf::kObjects, "gone"), std::nullopt);
  EXPECT_EQ(GetOrDie(*store, Cf::kObjects, "back"), "2");
  EXPECT_EQ(GetOrDie(*store, Cf::kCases, "case"), "3");
  EXPECT_EQ(GetOrDie(*store, Cf::kTimers, "timer"), "4");
  // Same key in different column families stays separate.
  EXPECT_EQ(GetOrDie(*store, Cf::kTimers, "case"), std::nullopt);
}

TEST(Store, BatchIsAllOrNothingAcrossProcessKill) {
  // A child writes 100 batches (without sync) of two keys in two column
  // families each, then is killed with SIGKILL. Every batch must be complete
  // after reopening: both keys or neither, and all acknowledged batches present.
  TempDir dir;
  const std::string path = dir.Sub("db");
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path, StoreOptions());
    if (!store.ok()) _exit(2);
    for (int i = 0; i < 100; ++i) {
      Store::Batch batch;
      batch.Put(Cf::kObjects, EncodeUint64BE(i), "object");
      batch.Put(Cf::kCursors, EncodeUint64BE(i), "cursor");
      if (!(*store)->Write(std::move(batch), /*sync=*/false).ok()) _exit(3);
    }
    kill(getpid(), SIGKILL);
    _exit(4);
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited with " << WEXITSTATUS(wstatus);
  EXPECT_EQ(WTERMSIG(wstatus), SIGKILL);

  auto store = OpenOrDie(path);
  EXPECT_EQ(store->CountKeys(Cf::kObjects).value(), 100u);
  EXPECT_EQ(store->CountKeys(Cf::kCursors).value(), 100u);
}

TEST(Store, ScanVisitsOnlyPrefixInKeyOrderAndStops) {
  TempDir dir;
  auto store = OpenOrDie(dir.Sub("db"));
  Store::Batch batch;
  batch.Put(Cf::kObjects, JoinKey("s1", "b"), "2");
  batch.Put(Cf::kObjects, JoinKey("s1", "a"), "1");
  batch.Put(Cf::kObjects, JoinKey("s1", "\xff"), "3");
  batch.Put(Cf::kObjects, JoinKey("s10", "a"), "other");
  batch.Put(Cf::kObjects, "s1", "no-separator");
  batch.Put(Cf::kObjects, "\xff\xff", "high");
  batch.Put(Cf::kObjects, "\xff\xff\x01", "higher");
  ASSERT_TRUE(store->Write(std::move(batch)).ok());

  EXPECT_THAT(ScanAll(*store, Cf::kObjects, KeyPrefix("s1")),
              ElementsAre(Pair(JoinKey("s1", "a"), "1"), Pair(JoinKey("s1", "b"), "2"),
                          Pair(JoinKey("s1", "\xff"), "3")));
  EXPECT_THAT(ScanAll(*store, Cf::kObjects, "\xff\xff"),
              ElementsAre(Pair("\xff\xff", "high"), Pair("\xff\xff\x01", "higher")));
  EXPECT_EQ(ScanAll(*store, Cf::kObjects, "").size(), 7u);
  EXPECT_TRUE(ScanAll(*store, Cf::kCases, "").empty());

  std::vector<std::string> seen;
  ASSERT_TRUE(store
                  ->Scan(Cf::kObjects, KeyPrefix("s1"),
                         [&](std::string_view k, std::string_view) {
                           seen.emplace_back(k);
                           return seen.size() < 2;
                         })
                  .ok());
  EXPECT_THAT(seen, ElementsAre(JoinKey("s1", "a"), JoinKey("s1", "b")));
}

TEST(Store, ScanFromIteratesBigEndianKeysNumerically) {
  TempDir dir;
  auto store = OpenOrDie(dir.Sub("db"));
  Store::Batch batch;
  for (uint64_t due : {65536ULL, 1ULL, 256ULL, 2ULL}) {
    batch.Put(Cf::kTimers, JoinKey(EncodeUint64BE(due), "case"), std::to_string(due));
  }
  ASSERT_TRUE(store->Write(std::move(batch)).ok());
  std::vector<std::string> values;
  ASSERT_TRUE(store
                  ->ScanFrom(Cf::kTimers, EncodeUint64BE(2),
                             [&](std::string_view, std::string_view v) {
                               values.emplace_back(v);
                               return true;
                             })
                  .ok());
  EXPECT_THAT(values, ElementsAre("2", "256", "65536"));

  auto last = store->Last(Cf::kTimers);
  ASSERT_TRUE(last.ok());
  ASSERT_TRUE(last->has_value());
  EXPECT_EQ((*last)->second, "65536");
  auto none = store->Last(Cf::kOutbox);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(Store, CountsAndEstimatesKeys) {
  TempDir dir;
  auto store = OpenOrDie(dir.Sub("db"));
  Store::Batch batch;
  for (int i = 0; i < 250; ++i) batch.Put(Cf::kEntries, "entry" + std::to_string(i), "v");
  ASSERT_TRUE(store->Write(std::move(batch)).ok());
  EXPECT_EQ(store->CountKeys(Cf::kEntries).value(), 250u);
  EXPECT_EQ(store->CountKeys(Cf::kLists).value(), 0u);
  absl::StatusOr<uint64_t> estimate = store->EstimateKeys(Cf::kEntries);
  ASSERT_TRUE(estimate.ok()) << estimate.status();
  EXPECT_EQ(*estimate, 250u);
}

TEST(Store, ConcurrentWritersAndReaders) {
  TempDir dir;
  auto store = OpenOrDie(dir.Sub("db"));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        Store::Batch batch;
        batch.Put(Cf::kMatches, JoinKey(std::to_string(t), std::to_string(i)), "m");
        EXPECT_TRUE(store->Write(std::move(batch)).ok());
        EXPECT_TRUE(store->Get(Cf::kMatches, JoinKey(std::to_string(t), "0")).ok());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(store->CountKeys(Cf::kMatches).value(), 800u);
}

}  // namespace
}  // namespace takedown
