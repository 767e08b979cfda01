#include "daemon/store.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include "common/status_macros.h"
#include "daemon/keys.h"
#include "fmt/format.h"
#include "rocksdb/cache.h"
#include "rocksdb/convenience.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"
#include "rocksdb/slice.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "spdlog/spdlog.h"

namespace takedown {
namespace {

constexpr std::array<std::string_view, kNumCfs> kCfNames = {
    "objects", "cursors", "lists", "entries", "matches",
    "cases",   "timers",  "outbox", "audit",  "meta",
};

constexpr std::array<Cf, kNumCfs> kAllCfs = {
    Cf::kObjects, Cf::kCursors, Cf::kLists,  Cf::kEntries, Cf::kMatches,
    Cf::kCases,   Cf::kTimers,  Cf::kOutbox, Cf::kAudit,   Cf::kMeta,
};

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view ToView(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

// Maps a RocksDB status to an absl::Status whose message names the store,
// the operation and (if any) the key.
absl::Status FromRocks(const rocksdb::Status& s, const std::string& path, std::string_view operation) {
  if (s.ok()) return absl::OkStatus();
  std::string message = fmt::format("store {}: {}: {}", path, operation, s.ToString());
  switch (s.code()) {
    case rocksdb::Status::kNotFound:
      return absl::NotFoundError(message);
    case rocksdb::Status::kCorruption:
      return absl::DataLossError(message + "; the database is damaged: restore a backup");
    case rocksdb::Status::kNotSupported:
      return absl::UnimplementedError(message);
    case rocksdb::Status::kInvalidArgument:
      return absl::InvalidArgumentError(message);
    case rocksdb::Status::kIOError:
      if (s.subcode() == rocksdb::Status::kNoSpace) {
        return absl::ResourceExhaustedError(message + "; free disk space");
      }
      if (s.ToString().find("lock") != std::string::npos) {
        return absl::UnavailableError(message + "; is another takedownd using this store?");
      }
      return absl::UnavailableError(message);
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTimedOut:
    case rocksdb::Status::kTryAgain:
      return absl::UnavailableError(message);
    case rocksdb::Status::kAborted:
      return absl::AbortedError(message);
    case rocksdb::Status::kShutdownInProgress:
      return absl::CancelledError(message);
    case rocksdb::Status::kIncomplete:
      return absl::FailedPreconditionError(message);
    default:
      return absl::InternalError(message);
  }
}

std::string KeyOp(std::string_view operation, Cf cf, std::string_view key) {
  return fmt::format("{} {}/{}", operation, CfName(cf), PrintableKey(key));
}

// The smallest key greater than every key starting with `prefix`; empty if
// there is none (prefix is all 0xFF).
std::string PrefixSuccessor(std::string_view prefix) {
  std::string bound(prefix);
  while (!bound.empty()) {
    auto last = static_cast<uint8_t>(bound.back());
    if (last != 0xFF) {
      bound.back() = static_cast<char>(last + 1);
      return bound;
    }
    bound.pop_back();
  }
  return bound;
}

std::optional<uint32_t> ParseVersion(std::string_view text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  uint32_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

rocksdb::ColumnFamilyOptions MakeCfOptions(const std::shared_ptr<rocksdb::Cache>& cache,
                                           const StoreOptions& options) {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  // Objects are looked up by exact key on every sweep; most lookups of a
  // new object miss, and the bloom filter answers those without disk reads.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;
  // Index and filter blocks count against the cache, so memory stays bounded.
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.format_version = 5;

  rocksdb::ColumnFamilyOptions cf;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf.level_compaction_dynamic_level_bytes = true;
  cf.write_buffer_size = std::min<size_t>(options.write_buffer_bytes / 4, 4 << 20);
  cf.max_write_buffer_number = 3;

  std::vector<rocksdb::CompressionType> supported = rocksdb::GetSupportedCompressions();
  auto has = [&](rocksdb::CompressionType type) {
    return std::find(supported.begin(), supported.end(), type) != supported.end();
  };
  if (has(rocksdb::kLZ4Compression)) {
    cf.compression = rocksdb::kLZ4Compression;
  } else if (has(rocksdb::kSnappyCompression)) {
    cf.compression = rocksdb::kSnappyCompression;
  } else {
    cf.compression = rocksdb::kNoCompression;
  }
  if (has(rocksdb::kZSTD)) {
    cf.bottommost_compression = rocksdb::kZSTD;
  }
  return cf;
}

rocksdb::DBOptions MakeDbOptions(const StoreOptions& options) {
  rocksdb::DBOptions db;
  db.create_if_missing = options.create_if_missing;
  db.create_missing_column_families = true;
  db.max_background_jobs = 2;
  db.db_write_buffer_size = options.write_buffer_bytes;
  // With ten column families a WAL file can only be deleted once every
  // family holding data in it has flushed; this forces such flushes.
  db.max_total_wal_size = 4 * options.write_buffer_bytes;
  // RocksDB starts this many threads per column family at open, even when
  // there are few table files; the default (16) means ~180 threads for us.
  db.max_file_opening_threads = 2;
  db.keep_log_file_num = 5;
  db.max_log_file_size = 16 << 20;
  if (options.env != nullptr) db.env = options.env;
  return db;
}

}  // namespace

std::string_view CfName(Cf cf) { return kCfNames[static_cast<size_t>(cf)]; }

const std::array<Cf, kNumCfs>& AllCfs() { return kAllCfs; }

const std::vector<Migration>& BuiltinMigrations() {
  static const auto* migrations = new std::vector<Migration>();
  return *migrations;
}

void StoreBatch::Put(Cf cf, std::string_view key, std::string_view value) {
  bytes_ += key.size() + value.size();
  ops_.push_back(Op{cf, false, std::string(key), std::string(value)});
}

void StoreBatch::Delete(Cf cf, std::string_view key) {
  bytes_ += key.size();
  ops_.push_back(Op{cf, true, std::string(key), std::string()});
}

void StoreBatch::Clear() {
  ops_.clear();
  bytes_ = 0;
}

Store::Store(std::string path, std::shared_ptr<rocksdb::Cache> cache)
    : path_(std::move(path)), block_cache_(std::move(cache)) {}

Store::~Store() {
  if (db_ == nullptr) return;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    if (handle != nullptr) db_->DestroyColumnFamilyHandle(handle);
  }
  for (rocksdb::ColumnFamilyHandle* handle : foreign_handles_) {
    db_->DestroyColumnFamilyHandle(handle);
  }
  if (default_handle_ != nullptr) db_->DestroyColumnFamilyHandle(default_handle_);
  rocksdb::Status s = db_->Close();
  if (!s.ok()) spdlog::error("store {}: close: {}", path_, s.ToString());
  delete db_;
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path,
                                                   const StoreOptions& options) {
  if (path.empty()) {
    return absl::InvalidArgumentError("store path is empty; set store.path in the config");
  }
  std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  std::unique_ptr<Store> store(new Store(path, cache));

  rocksdb::DBOptions db_options = MakeDbOptions(options);
  rocksdb::ColumnFamilyOptions cf_options = MakeCfOptions(cache, options);

  std::vector<std::string> existing;
  bool created = !rocksdb::DB::ListColumnFamilies(db_options, path, &existing).ok();
  if (created && !options.create_if_missing) {
    return absl::NotFoundError(fmt::format(
        "store {}: no database there and create_if_missing is off; check store.path", path));
  }

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options);
  for (Cf cf : kAllCfs) descriptors.emplace_back(std::string(CfName(cf)), cf_options);
  for (const std::string& name : existing) {
    bool known = name == rocksdb::kDefaultColumnFamilyName ||
                 std::find(kCfNames.begin(), kCfNames.end(), name) != kCfNames.end();
    if (!known) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s = rocksdb::DB::Open(db_options, path, descriptors, &handles, &store->db_);
  RETURN_IF_ERROR(FromRocks(s, path, "open"));
  store->default_handle_ = handles[0];
  for (size_t i = 0; i < kNumCfs; ++i) store->handles_[i] = handles[i + 1];
  for (size_t i = kNumCfs + 1; i < handles.size(); ++i) {
    store->foreign_handles_.push_back(handles[i]);
  }

  RETURN_IF_ERROR(store->Initialize(options, created));
  return store;
}

absl::Status Store::Initialize(const StoreOptions& options, bool created) {
  const uint32_t supported = options.schema_version_for_test.value_or(kSchemaVersion);
  const std::vector<Migration>& migrations =
      options.migrations_for_test.has_value() ? *options.migrations_for_test : BuiltinMigrations();

  ASSIGN_OR_RETURN(std::optional<uint32_t> stored, ReadSchemaVersion());
  if (!stored.has_value()) {
    ASSIGN_OR_RETURN(bool empty, AllColumnFamiliesEmpty());
    if (!created && !empty) {
      return absl::FailedPreconditionError(fmt::format(
          "store {} holds data but has no meta/{}; it was not written by takedownd or is "
          "damaged; point store.path at an empty directory or restore a backup",
          path_, kSchemaVersionKey));
    }
    Batch batch;
    RETURN_IF_ERROR(WriteSchemaVersion(batch, supported));
    RETURN_IF_ERROR(Write(std::move(batch), /*sync=*/true));
    schema_version_ = supported;
    return absl::OkStatus();
  }

  uint32_t version = *stored;
  if (version > supported) {
    return absl::FailedPreconditionError(
        fmt::format("store {} has schema version {}; this takedownd supports up to {}; "
                    "upgrade takedownd",
                    path_, version, supported));
  }
  while (version < supported) {
    auto it = std::find_if(migrations.begin(), migrations.end(),
                           [&](const Migration& m) { return m.from_version == version; });
    if (it == migrations.end() || !it->apply) {
      return absl::FailedPreconditionError(fmt::format(
          "store {} has schema version {}; this takedownd has no migration from version {} to "
          "{}; upgrade through an intermediate takedownd release",
          path_, version, version, version + 1));
    }
    spdlog::info("store {}: migrating schema {} -> {}: {}", path_, version, version + 1,
                 it->description);
    Batch batch;
    absl::Status applied = it->apply(*this, batch);
    if (!applied.ok()) {
      return Annotate(applied, fmt::format("store {}: migration {} -> {} ({})", path_, version,
                                           version + 1, it->description));
    }
    RETURN_IF_ERROR(WriteSchemaVersion(batch, version + 1));
    RETURN_IF_ERROR(Write(std::move(batch), /*sync=*/true));
    ++version;
  }
  schema_version_ = version;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<uint32_t>> Store::ReadSchemaVersion() const {
  ASSIGN_OR_RETURN(std::optional<std::string> value, Get(Cf::kMeta, kSchemaVersionKey));
  if (!value.has_value()) return std::optional<uint32_t>();
  std::optional<uint32_t> version = ParseVersion(*value);
  if (!version.has_value()) {
    return absl::DataLossError(
        fmt::format("store {}: meta/{} is '{}', not a version number; the store is damaged; "
                    "restore a backup",
                    path_, kSchemaVersionKey, PrintableKey(*value)));
  }
  return version;
}

absl::Status Store::WriteSchemaVersion(Batch& batch, uint32_t version) {
  batch.Put(Cf::kMeta, kSchemaVersionKey, std::to_string(version));
  return absl::OkStatus();
}

absl::StatusOr<bool> Store::AllColumnFamiliesEmpty() const {
  for (Cf cf : kAllCfs) {
    ASSIGN_OR_RETURN(auto last, Last(cf));
    if (last.has_value()) return false;
  }
  return true;
}

rocksdb::ColumnFamilyHandle* Store::Handle(Cf cf) const { return handles_[static_cast<size_t>(cf)]; }

absl::StatusOr<std::optional<std::string>> Store::Get(Cf cf, std::string_view key) const {
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), Handle(cf), ToSlice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  RETURN_IF_ERROR(FromRocks(s, path_, KeyOp("get", cf, key)));
  return std::optional<std::string>(value.ToString());
}

absl::StatusOr<std::vector<std::optional<std::string>>> Store::MultiGet(
    Cf cf, const std::vector<std::string>& keys) const {
  std::vector<rocksdb::Slice> slices;
  slices.reserve(keys.size());
  for (const std::string& key : keys) slices.push_back(ToSlice(key));
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), Handle(cf), keys.size(), slices.data(), values.data(),
                statuses.data());
  std::vector<std::optional<std::string>> out(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    RETURN_IF_ERROR(FromRocks(statuses[i], path_, KeyOp("get", cf, keys[i])));
    out[i] = values[i].ToString();
  }
  return out;
}

absl::StatusOr<bool> Store::HasPrefix(Cf cf, std::string_view prefix) const {
  bool found = false;
  RETURN_IF_ERROR(Scan(cf, prefix, [&](std::string_view, std::string_view) {
    found = true;
    return false;
  }));
  return found;
}

absl::Status Store::Scan(Cf cf, std::string_view prefix, const ScanFn& fn) const {
  return Iterate(cf, prefix, prefix, fn, "scan");
}

absl::Status Store::ScanFrom(Cf cf, std::string_view start_key, const ScanFn& fn) const {
  return Iterate(cf, start_key, std::string_view(), fn, "scan from");
}

absl::Status Store::Iterate(Cf cf, std::string_view start, std::string_view prefix,
                            const ScanFn& fn, const char* operation) const {
  rocksdb::ReadOptions read_options;
  std::string upper = PrefixSuccessor(prefix);
  rocksdb::Slice upper_slice(upper);
  if (!upper.empty()) read_options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, Handle(cf)));
  for (it->Seek(ToSlice(start)); it->Valid(); it->Next()) {
    std::string_view key = ToView(it->key());
    if (key.substr(0, prefix.size()) != prefix) break;
    if (!fn(key, ToView(it->value()))) break;
  }
  return FromRocks(it->status(), path_, KeyOp(operation, cf, start));
}

absl::StatusOr<std::optional<std::pair<std::string, std::string>>> Store::Last(Cf cf) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), Handle(cf)));
  it->SeekToLast();
  if (!it->Valid()) {
    RETURN_IF_ERROR(FromRocks(it->status(), path_, fmt::format("seek to last in {}", CfName(cf))));
    return std::optional<std::pair<std::string, std::string>>();
  }
  return std::optional<std::pair<std::string, std::string>>(
      std::make_pair(it->key().ToString(), it->value().ToString()));
}

absl::Status Store::Write(Batch&& batch, bool sync) {
  if (batch.Empty()) return absl::OkStatus();
  rocksdb::WriteBatch write_batch(batch.ByteSize() + 24 * batch.Count());
  for (const StoreBatch::Op& op : batch.ops_) {
    rocksdb::Status s = op.is_delete
                            ? write_batch.Delete(Handle(op.cf), ToSlice(op.key))
                            : write_batch.Put(Handle(op.cf), ToSlice(op.key), ToSlice(op.value));
    RETURN_IF_ERROR(FromRocks(s, path_, KeyOp("batch", op.cf, op.key)));
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = sync;
  write_options.disableWAL = false;
  rocksdb::Status s = db_->Write(write_options, &write_batch);
  RETURN_IF_ERROR(
      FromRocks(s, path_, fmt::format("write batch of {} operations", batch.Count())));
  batch.Clear();
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Store::CountKeys(Cf cf) const {
  uint64_t count = 0;
  RETURN_IF_ERROR(Scan(cf, std::string_view(), [&](std::string_view, std::string_view) {
    ++count;
    return true;
  }));
  return count;
}

absl::StatusOr<uint64_t> Store::EstimateKeys(Cf cf) const {
  uint64_t value = 0;
  if (!db_->GetIntProperty(Handle(cf), "rocksdb.estimate-num-keys", &value)) {
    return absl::InternalError(
        fmt::format("store {}: property rocksdb.estimate-num-keys unavailable for {}", path_,
                    CfName(cf)));
  }
  return value;
}

}  // namespace takedown
