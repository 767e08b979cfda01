// Test harness for the daemon's sweep pipeline: a temporary directory, and
// the pipeline's parts (Store, AuditLog, DaemonMetrics, ExactIndex,
// CaseRecorder, HashListManager, ObjectProcessor, ThreadPool) wired by hand
// as Daemon::Init does, over a real RocksDB store. Plus small readers of what
// the pipeline stored. Header-only; for tests in tests/daemon/.
#pragma once

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/digest_set.h"
#include "common/hex.h"
#include "common/thread_pool.h"
#include "daemon/audit_log.h"
#include "daemon/case_recorder.h"
#include "daemon/daemon_metrics.h"
#include "daemon/hash_list_manager.h"
#include "daemon/list_policy.h"
#include "daemon/metrics.h"
#include "daemon/object_processor.h"
#include "daemon/object_record.h"
#include "daemon/store.h"
#include "daemon/sweep_state.h"
#include "gtest/gtest.h"
#include "matcher/exact_index.h"
#include "matcher/multi_digester.h"
#include "matcher/pdq_hash.h"
#include "nlohmann/json.hpp"
#include "notices/case.h"
#include "notices/outbox_record.h"
#include "tests/fakes/fake_clock.h"
#include "tests/scratch_dir.h"

namespace takedown::testing {

// The bytes of a test data file (a failed EXPECT if it cannot be read).
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// `hex` (a PDQ hash) with its first `bits` bits flipped.
inline std::string FlipBits(const std::string& hex, int bits) {
  std::optional<PdqHash> h = PdqHash::FromHex(hex);
  EXPECT_TRUE(h.has_value());
  for (int k = 0; k < bits; ++k) h->words[k / 16] ^= static_cast<uint16_t>(1u << (k % 16));
  return h->ToHex();
}

using TempDir = ScratchDir;

struct PipelineOptions {
  size_t workers = 3;
  size_t queue_capacity = 16;
  ProcessorLimits limits;
  rocksdb::Env* env = nullptr;  // borrowed; for fault injection
  std::optional<PdqMatcherOptions> pdq;  // PDQ matching on when set
  ListPolicies policies;
};

// The pipeline's parts. Members are destroyed in reverse order: the pool
// first (it finishes queued tasks), the store last. A SweepRunner using the
// pool must be destroyed before the Pipeline.
class Pipeline {
 public:
  static absl::StatusOr<std::unique_ptr<Pipeline>> Open(const std::string& store_path, Clock& clock,
                                                        const PipelineOptions& options = {}) {
    std::unique_ptr<Pipeline> p(new Pipeline());
    StoreOptions store_options;
    store_options.env = options.env;
    store_options.block_cache_bytes = 8 << 20;
    store_options.write_buffer_bytes = 8 << 20;
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(store_path, store_options);
    if (!store.ok()) return store.status();
    p->store = std::move(*store);
    absl::StatusOr<std::unique_ptr<AuditLog>> audit = AuditLog::Open(*p->store, clock);
    if (!audit.ok()) return audit.status();
    p->audit = std::move(*audit);
    p->metrics = std::make_unique<DaemonMetrics>(p->registry);
    Pipeline* raw = p.get();
    p->recorder = std::make_unique<CaseRecorder>(*p->store, *p->audit, clock, *p->metrics,
                                                 [raw] { raw->notices_queued++; });
    p->policies = std::make_unique<ListPolicies>(options.policies);
    if (options.pdq) {
      absl::StatusOr<std::unique_ptr<PdqMatcher>> pdq = PdqMatcher::Create(*options.pdq);
      if (!pdq.ok()) return pdq.status();
      p->pdq = std::move(*pdq);
    }
    p->lists = std::make_unique<HashListManager>(*p->store, *p->audit, p->index, *p->recorder, clock,
                                                 HashListLimits{}, p->policies.get(), p->pdq.get());
    p->processor = std::make_unique<ObjectProcessor>(*p->store, p->index, *p->recorder, clock, *p->metrics,
                                                     options.limits,
                                                     ProcessorMatching{p->pdq.get(), p->policies.get()});
    p->pool = std::make_unique<ThreadPool>(options.workers, options.queue_capacity);
    return p;
  }

  std::unique_ptr<Store> store;
  std::unique_ptr<AuditLog> audit;
  MetricsRegistry registry;
  std::unique_ptr<DaemonMetrics> metrics;
  ExactIndex index;
  std::unique_ptr<ListPolicies> policies;
  std::unique_ptr<PdqMatcher> pdq;
  std::unique_ptr<CaseRecorder> recorder;
  std::unique_ptr<HashListManager> lists;
  std::unique_ptr<ObjectProcessor> processor;
  std::unique_ptr<ThreadPool> pool;
  std::atomic<int> notices_queued{0};

 private:
  Pipeline() = default;
};

inline auto Tie(const SweepCounters& c) {
  return std::make_tuple(c.listed, c.done, c.unchanged, c.skipped, c.failed, c.bytes, c.matches);
}

inline DigestSet DigestsOf(std::string_view bytes) {
  absl::StatusOr<MultiDigester> digester = MultiDigester::Create();
  EXPECT_TRUE(digester.ok()) << digester.status();
  digester->Update(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  return digester->Finish();
}

inline HashListEntry EntryFor(HashType type, const DigestSet& digests, ContentCategory category,
                              std::string entry_id) {
  HashListEntry e;
  e.type = type;
  e.digest = std::string(digests.Get(type));
  e.category = category;
  e.entry_id = std::move(entry_id);
  return e;
}

// A plain-format hash list line for `digests`.
inline std::string ListLine(HashType type, const DigestSet& digests, std::string_view category,
                            std::string_view entry_id) {
  std::string line(HashTypeName(type));
  line += ",";
  line += HexEncode(digests.Get(type));
  line += ",";
  line += category;
  line += ",";
  line += entry_id;
  line += "\n";
  return line;
}

inline std::map<std::string, std::string> ScanAll(const Store& store, Cf cf, std::string_view prefix = "") {
  std::map<std::string, std::string> out;
  absl::Status s = store.Scan(cf, prefix, [&](std::string_view k, std::string_view v) {
    out.emplace(std::string(k), std::string(v));
    return true;
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

inline uint64_t CountKeys(const Store& store, Cf cf) {
  absl::StatusOr<uint64_t> n = store.CountKeys(cf);
  EXPECT_TRUE(n.ok()) << n.status();
  return n.value_or(0);
}

inline std::optional<ObjectRecord> ReadObject(const Store& store, std::string_view source_id,
                                              std::string_view key) {
  absl::StatusOr<std::optional<std::string>> v = store.Get(Cf::kObjects, ObjectKey(source_id, key));
  EXPECT_TRUE(v.ok()) << v.status();
  if (!v.ok() || !*v) return std::nullopt;
  absl::StatusOr<ObjectRecord> r = DecodeObjectRecord(**v);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return std::nullopt;
  return *r;
}

inline std::optional<Case> ReadCase(const Store& store, const std::string& case_id) {
  absl::StatusOr<std::optional<std::string>> v = store.Get(Cf::kCases, case_id);
  EXPECT_TRUE(v.ok()) << v.status();
  if (!v.ok() || !*v) return std::nullopt;
  absl::StatusOr<Case> c = CaseFromJson(nlohmann::json::parse(**v));
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) return std::nullopt;
  return *c;
}

inline std::map<std::string, Case> ReadAllCases(const Store& store) {
  std::map<std::string, Case> out;
  for (const auto& [id, json] : ScanAll(store, Cf::kCases)) {
    absl::StatusOr<Case> c = CaseFromJson(nlohmann::json::parse(json));
    EXPECT_TRUE(c.ok()) << c.status();
    if (c.ok()) out.emplace(id, *c);
  }
  return out;
}

inline std::map<std::string, OutboxRecord> ReadOutbox(const Store& store) {
  std::map<std::string, OutboxRecord> out;
  for (const auto& [id, json] : ScanAll(store, Cf::kOutbox)) {
    absl::StatusOr<OutboxRecord> r = OutboxRecordFromJson(nlohmann::json::parse(json));
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok()) out.emplace(id, *r);
  }
  return out;
}

inline std::optional<SweepState> ReadSweepState(const Store& store, std::string_view source_id) {
  absl::StatusOr<std::optional<std::string>> v = store.Get(Cf::kCursors, source_id);
  EXPECT_TRUE(v.ok()) << v.status();
  if (!v.ok() || !*v) return std::nullopt;
  absl::StatusOr<SweepState> s = DecodeSweepState(**v);
  EXPECT_TRUE(s.ok()) << s.status();
  if (!s.ok()) return std::nullopt;
  return *s;
}

inline std::vector<AuditRecord> ReadAudit(const AuditLog& audit) {
  absl::StatusOr<std::vector<AuditRecord>> records = audit.Read(1, 1'000'000);
  EXPECT_TRUE(records.ok()) << records.status();
  return records.value_or(std::vector<AuditRecord>{});
}

// Number of audit records per action.
inline std::map<std::string, int> AuditActionCounts(const AuditLog& audit) {
  std::map<std::string, int> counts;
  for (const AuditRecord& r : ReadAudit(audit)) counts[r.action]++;
  return counts;
}

inline void ExpectAuditChainIntact(const AuditLog& audit) {
  absl::StatusOr<AuditVerification> v = audit.Verify();
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->ok) << v->problem;
  EXPECT_EQ(v->records_checked, v->last_seq);
  EXPECT_EQ(v->last_seq, audit.last_seq());
  EXPECT_GT(v->last_seq, 0u);
}

}  // namespace takedown::testing
