// Store: takedownd's persistent state, one RocksDB database with one column
// family per kind of record (see docs/storage.md for keys and values).
//
// Open() creates missing column families, stamps a new database with
// kSchemaVersion, refuses a database written by a newer takedownd, and runs
// the migrations from an older schema version before returning.
//
// Writes go through Batch + Write() and are atomic across column families.
// The write-ahead log is always on: a write that returned OK survives a crash
// of the process (kill -9) even with sync=false, because the WAL sits in the
// OS page cache. sync=true additionally fsyncs the WAL, for power loss.
//
// A Store is safe for concurrent use from multiple threads without external
// synchronization. Iteration (Scan, ScanFrom) sees a consistent point-in-time
// view taken when the call starts.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rocksdb {
class Cache;
class ColumnFamilyHandle;
class DB;
class Env;
}  // namespace rocksdb

namespace takedown {

enum class Cf : uint8_t {
  kObjects,
  kCursors,
  kLists,
  kEntries,
  kMatches,
  kCases,
  kTimers,
  kOutbox,
  kAudit,
  kMeta,
};
inline constexpr size_t kNumCfs = 10;

// The column family's name in RocksDB ("objects", "cursors", ...).
std::string_view CfName(Cf cf);

// Every column family, in enum order.
const std::array<Cf, kNumCfs>& AllCfs();

// Schema version written by this build. Bump it together with a migration.
inline constexpr uint32_t kSchemaVersion = 1;

// Key in Cf::kMeta holding the schema version as decimal ASCII.
inline constexpr std::string_view kSchemaVersionKey = "schema_version";

class Store;

// One batch of pending writes (see Store::Batch).
class StoreBatch;

// Upgrades a store from `from_version` to `from_version + 1`. `apply` reads
// through `store` and puts its changes into `batch`; the batch is written
// atomically together with the new schema version, so a crash during a
// migration leaves the store at `from_version` and the migration runs again.
struct Migration {
  uint32_t from_version = 0;
  std::string description;
  std::function<absl::Status(Store& store, StoreBatch& batch)> apply;
};

// Migrations of this build, one per version step, ascending. Empty while
// kSchemaVersion is 1.
const std::vector<Migration>& BuiltinMigrations();

struct StoreOptions {
  // Shared LRU block cache for all column families (data, index and filters).
  size_t block_cache_bytes = 64 << 20;
  // Upper bound on memtable memory across all column families; each column
  // family's memtable is flushed at a quarter of it (at most 4 MiB), so a
  // sweep's memory stops growing after a few thousand objects.
  size_t write_buffer_bytes = 16 << 20;
  bool create_if_missing = true;
  // Borrowed, may be null (the default Env). For fault-injection tests.
  rocksdb::Env* env = nullptr;

  // Test hooks: pretend this build supports `schema_version_for_test` and
  // migrates with `migrations_for_test` instead of the built-in list.
  std::optional<uint32_t> schema_version_for_test;
  std::optional<std::vector<Migration>> migrations_for_test;
};

// Pending writes, applied atomically by Store::Write(). Operations on the same
// key apply in the order they were added. Not thread-safe; cheap to move.
class StoreBatch {
 public:
  StoreBatch() = default;
  StoreBatch(StoreBatch&&) = default;
  StoreBatch& operator=(StoreBatch&&) = default;
  StoreBatch(const StoreBatch&) = delete;
  StoreBatch& operator=(const StoreBatch&) = delete;

  void Put(Cf cf, std::string_view key, std::string_view value);
  void Delete(Cf cf, std::string_view key);

  size_t Count() const { return ops_.size(); }
  bool Empty() const { return ops_.empty(); }
  // Bytes of keys and values held.
  size_t ByteSize() const { return bytes_; }
  void Clear();

 private:
  friend class Store;
  struct Op {
    Cf cf;
    bool is_delete;
    std::string key;
    std::string value;
  };
  std::vector<Op> ops_;
  size_t bytes_ = 0;
};

class Store {
 public:
  using Batch = StoreBatch;
  // Return false to stop iterating. The views are valid only during the call.
  using ScanFn = std::function<bool(std::string_view key, std::string_view value)>;

  // Opens (or creates, if options.create_if_missing) the database at `path`.
  // Errors: FailedPrecondition for a newer schema version, a database without
  // a schema version that is not empty, or a missing migration; Unavailable if
  // another process holds the database; other RocksDB errors mapped by code.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path,
                                                     const StoreOptions& options);

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return path_; }

  // The value at `key`, nullopt if absent.
  absl::StatusOr<std::optional<std::string>> Get(Cf cf, std::string_view key) const;

  // The values at `keys` (same order; nullopt where absent), read in one
  // batched lookup. The first error fails the whole call.
  absl::StatusOr<std::vector<std::optional<std::string>>> MultiGet(Cf cf,
                                                                    const std::vector<std::string>& keys) const;

  // True if some key starts with `prefix`.
  absl::StatusOr<bool> HasPrefix(Cf cf, std::string_view prefix) const;

  // Calls fn for every key starting with `prefix`, in key order, until fn
  // returns false. An empty prefix visits the whole column family.
  absl::Status Scan(Cf cf, std::string_view prefix, const ScanFn& fn) const;

  // Calls fn for every key >= start_key, in key order, until fn returns false.
  absl::Status ScanFrom(Cf cf, std::string_view start_key, const ScanFn& fn) const;

  // The last key-value pair of the column family (largest key), nullopt if empty.
  absl::StatusOr<std::optional<std::pair<std::string, std::string>>> Last(Cf cf) const;

  // Applies the batch atomically. sync=true fsyncs the WAL before returning.
  absl::Status Write(Batch&& batch, bool sync = false);

  // Exact number of keys (iterates the column family; for tests and stats).
  absl::StatusOr<uint64_t> CountKeys(Cf cf) const;

  // RocksDB's estimate of the number of keys (cheap; may be off).
  absl::StatusOr<uint64_t> EstimateKeys(Cf cf) const;

  // The schema version stored in meta.
  uint32_t schema_version() const { return schema_version_; }

 private:
  Store(std::string path, std::shared_ptr<rocksdb::Cache> cache);

  rocksdb::ColumnFamilyHandle* Handle(Cf cf) const;
  absl::Status Initialize(const StoreOptions& options, bool created);
  absl::StatusOr<std::optional<uint32_t>> ReadSchemaVersion() const;
  absl::Status WriteSchemaVersion(Batch& batch, uint32_t version);
  absl::StatusOr<bool> AllColumnFamiliesEmpty() const;
  absl::Status Iterate(Cf cf, std::string_view start, std::string_view prefix,
                       const ScanFn& fn, const char* operation) const;

  // Constant after Open().
  const std::string path_;
  std::shared_ptr<rocksdb::Cache> block_cache_;
  rocksdb::DB* db_ = nullptr;
  std::array<rocksdb::ColumnFamilyHandle*, kNumCfs> handles_{};
  // Column families present on disk that this build does not know; kept open
  // because RocksDB requires all of them to be opened.
  std::vector<rocksdb::ColumnFamilyHandle*> foreign_handles_;
  rocksdb::ColumnFamilyHandle* default_handle_ = nullptr;
  uint32_t schema_version_ = 0;
};

}  // namespace takedown
