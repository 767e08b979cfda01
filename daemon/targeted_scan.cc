#include "daemon/targeted_scan.h"

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <unordered_set>

#include "daemon/object_record.h"
#include "daemon/sweep_runner.h"
#include "daemon/watermark.h"
#include "fmt/format.h"
#include "notices/case.h"

namespace takedown {
namespace {

// The stored record's reason for a failed or skipped object.
std::string StoredError(const Store& store, const std::string& source_id, const std::string& key) {
  absl::StatusOr<std::optional<std::string>> stored = store.Get(Cf::kObjects, ObjectKey(source_id, key));
  if (!stored.ok() || !*stored) return "recorded without a reason";
  absl::StatusOr<ObjectRecord> record = DecodeObjectRecord(**stored);
  if (!record.ok()) return std::string(record.status().message());
  return record->error;
}

struct Waiter {
  std::mutex mu;
  std::condition_variable done;
  size_t pending = 0;
};

}  // namespace

std::string_view ScanOutcomeName(ScanOutcome outcome) {
  switch (outcome) {
    case ScanOutcome::kDone:
      return "done";
    case ScanOutcome::kUnchanged:
      return "unchanged";
    case ScanOutcome::kSkipped:
      return "skipped";
    case ScanOutcome::kNotFound:
      return "not_found";
    case ScanOutcome::kError:
      return "error";
  }
  return "unknown";
}

absl::StatusOr<ScanReport> ScanKeys(Source& source, std::span<const std::string> keys,
                                    const std::string& scan_id, ObjectProcessor& processor,
                                    const Store& store, ThreadPool& pool, const ScanLimits& limits) {
  if (keys.empty()) return absl::InvalidArgumentError("no keys to scan; give at least one key");
  if (keys.size() > limits.max_keys) {
    return absl::InvalidArgumentError(
        fmt::format("{} keys in one scan request; at most {} are taken per request: split the list",
                    keys.size(), limits.max_keys));
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].size() > limits.max_key_bytes) {
      return absl::InvalidArgumentError(fmt::format("key #{} is {} bytes long; keys are at most {} bytes",
                                                    i + 1, keys[i].size(), limits.max_key_bytes));
    }
  }

  ScanReport report;
  report.scan_id = scan_id;
  std::unordered_set<std::string_view> seen;
  for (const std::string& key : keys) {
    if (!seen.insert(key).second) continue;
    ScanKeyResult result;
    result.key = key;
    report.results.push_back(std::move(result));
  }
  std::vector<SweepCounters> counters(report.results.size());

  auto waiter = std::make_shared<Waiter>();
  ScanKeyResult* results = report.results.data();
  SweepCounters* object_counters = counters.data();
  const size_t total = report.results.size();
  for (size_t begin = 0; begin < total; begin += SweepRunner::kChunkObjects) {
    const size_t end = std::min(total, begin + SweepRunner::kChunkObjects);
    {
      std::lock_guard lock(waiter->mu);
      ++waiter->pending;
    }
    auto task = [&source, &processor, &store, &scan_id, results, object_counters, begin, end, waiter] {
      std::vector<ObjectRef> refs;
      std::vector<size_t> index;
      for (size_t i = begin; i < end; ++i) {
        absl::StatusOr<ObjectRef> ref = source.Stat(results[i].key);
        if (!ref.ok()) {
          results[i].outcome = ref.status().code() == absl::StatusCode::kNotFound ? ScanOutcome::kNotFound
                                                                                  : ScanOutcome::kError;
          results[i].message = std::string(ref.status().message());
          continue;
        }
        results[i].key = ref->key;
        results[i].version = ref->version;
        refs.push_back(*std::move(ref));
        index.push_back(i);
      }
      if (!refs.empty()) {
        absl::StatusOr<std::vector<SweepCounters>> processed =
            processor.ProcessChunk(source, refs, scan_id, /*lookup_previous=*/true);
        for (size_t j = 0; j < refs.size(); ++j) {
          ScanKeyResult& r = results[index[j]];
          if (!processed.ok()) {
            r.outcome = ScanOutcome::kError;
            r.message = std::string(processed.status().message());
            continue;
          }
          const SweepCounters& c = (*processed)[j];
          object_counters[index[j]] = c;
          r.bytes = c.bytes;
          r.matches = c.matches;
          if (c.unchanged > 0) {
            r.outcome = ScanOutcome::kUnchanged;
          } else if (c.failed > 0) {
            r.outcome = ScanOutcome::kError;
            r.message = StoredError(store, source.id(), r.key);
          } else if (c.skipped > 0) {
            r.outcome = ScanOutcome::kSkipped;
            r.message = StoredError(store, source.id(), r.key);
          } else {
            r.outcome = ScanOutcome::kDone;
            if (c.matches > 0) r.case_id = CaseIdFor(source.id(), r.key);
          }
        }
      }
      std::lock_guard lock(waiter->mu);
      if (--waiter->pending == 0) waiter->done.notify_all();
    };
    if (!pool.Submit(task)) {
      for (size_t i = begin; i < end; ++i) {
        results[i].outcome = ScanOutcome::kError;
        results[i].message = "takedownd is shutting down; scan the key again after the restart";
      }
      std::lock_guard lock(waiter->mu);
      --waiter->pending;
    }
  }
  {
    std::unique_lock lock(waiter->mu);
    waiter->done.wait(lock, [&] { return waiter->pending == 0; });
  }

  for (size_t i = 0; i < total; ++i) {
    AddCounters(report.counters, counters[i]);
    if (report.results[i].outcome == ScanOutcome::kNotFound) ++report.not_found;
    if (report.results[i].outcome == ScanOutcome::kError) ++report.errors;
  }
  return report;
}

}  // namespace takedown
