// Compliance statistics per hosting provider, computed from the stored cases
// (authority role: how fast each provider removes what it is sent; hosting
// role: the provider's own record, under provider ""). Cases without a
// removal term and rejected cases (false positives) are not counted.
//
// Pure over a consistent snapshot of the `cases` column family; thread-safe.
// Cost: one scan of all cases.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/store.h"
#include "notices/case.h"

namespace takedown {

struct ProviderCompliance {
  std::string provider;
  uint64_t cases = 0;            // with a removal term
  uint64_t removed = 0;          // removed (any time)
  uint64_t removed_on_time = 0;  // removed at or before the deadline
  uint64_t overdue_open = 0;     // not removed, deadline passed
  uint64_t escalated = 0;        // reached escalated or fined at least once
  // Cases whose deadline outcome is known: removed, or deadline passed.
  uint64_t decided = 0;
  // removed_on_time / decided; nullopt when nothing is decided yet.
  std::optional<double> share_within_deadline;
  // Receipt to removal over removed cases (nearest-rank percentiles);
  // nullopt when none was removed.
  std::optional<absl::Duration> median_time_to_removal;
  std::optional<absl::Duration> p95_time_to_removal;
};

// Adds one case to the running figures (exposed for tests and other stores).
class ComplianceAccumulator {
 public:
  void Add(const Case& c, absl::Time now);
  // One entry per provider, sorted by name.
  std::vector<ProviderCompliance> Finish() const;

 private:
  struct Running {
    ProviderCompliance figures;
    std::vector<absl::Duration> times;
  };
  std::vector<Running> providers_;  // small: one per provider
};

// DataLoss naming the case for an unreadable record.
absl::StatusOr<std::vector<ProviderCompliance>> ComputeComplianceStats(const Store& store, absl::Time now);

}  // namespace takedown
