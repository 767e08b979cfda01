// CaseTerms: what the case engine (daemon/case_engine.h) keeps on a case next
// to its evidence: the legal profile and removal term, the order the case
// answers (hosting-provider role) or the provider it addresses (authority
// role), the timers still pending, the removal and its timing, penalties
// accrued, sealed copies of removed content, and whether preserved data was
// purged.
//
// Terms are stored inside the case record (CaseToJson member "terms"). A case
// without terms (a fresh detection) omits the member, so records written
// before the engine existed read unchanged. Plain value; the functions are
// pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "notices/removal_order.h"
#include "notices/timer.h"

namespace takedown {

// Bound on the pending timers a case record carries (a profile's schedule is
// far smaller: tens to a few hundred).
inline constexpr size_t kMaxCaseTimers = 20'000;

// CaseTerms::removal values.
inline constexpr std::string_view kRemovalRemoved = "removed";
inline constexpr std::string_view kRemovalAccessDisabled = "access_disabled";
inline constexpr std::string_view kRemovalGone = "gone";        // re-check: no longer served
inline constexpr std::string_view kRemovalChanged = "changed";  // re-check: bytes no longer match

// Bound on the sealed copies a case record lists (one per executed removal).
inline constexpr size_t kMaxPreservedContent = 1'000;

// Content sealed in the preservation vault (daemon/preservation_vault.h)
// before a removal destroyed it at the source.
struct PreservedContent {
  std::string location;    // path of the sealed file
  std::string key_id;      // hex id of the sealing key
  uint64_t bytes = 0;      // plaintext bytes
  std::string sha256_hex;  // of the plaintext
  absl::Time preserved_at = absl::InfinitePast();
  absl::Time retain_until = absl::InfinitePast();  // end of the profile's preservation period
  absl::Time erased_at = absl::InfinitePast();     // InfinitePast while kept

  friend bool operator==(const PreservedContent&, const PreservedContent&) = default;
};

struct CaseTerms {
  std::string profile;  // legal profile name; empty until the engine assigns one
  // Start of the removal term (receipt of the order, or when the removal
  // request went out) and the binding deadline; InfinitePast while unset.
  absl::Time received_at = absl::InfinitePast();
  absl::Time deadline = absl::InfinitePast();
  // Hosting-provider role: the order this case answers, trimmed to the one
  // location the case covers.
  std::optional<RemovalOrder> order;
  std::string location;  // URL of the content (order location or reported URL); may be empty
  std::string provider;  // authority role: the hosting provider addressed (provider table name)
  // Timers written to the `timers` column family and neither fired nor
  // cancelled yet. A stored timer not listed here is stale.
  std::vector<Timer> timers;
  // When the content was removed or access disabled, and how that was
  // established (kRemoval*); InfinitePast / empty while not removed.
  absl::Time removed_at = absl::InfinitePast();
  std::string removal;
  // Penalty order (last onder dwangsom): forfeited so far, periods counted.
  int64_t penalty_accrued_cents = 0;
  int penalty_periods = 0;
  std::string penalty_currency;
  absl::Time fine_proposed_at = absl::InfinitePast();
  int rechecks = 0;   // re-checks done
  int renotices = 0;  // notices repeated because a re-check found the content still there
  // When preserved data (evidence, object metadata, order) was purged at the
  // end of preservation; InfinitePast while kept.
  absl::Time purged_at = absl::InfinitePast();
  // Sealed copies of the removed content, oldest first.
  std::vector<PreservedContent> preserved;

  friend bool operator==(const CaseTerms&, const CaseTerms&) = default;
};

// True for default-constructed terms (nothing to store).
bool IsEmpty(const CaseTerms& terms);

// Lossless: CaseTermsFromJson(CaseTermsToJson(t)) == t. Times as in
// notices/json_fields.h (null when unset); the order in the JSON form of
// notices/removal_order.h.
nlohmann::json CaseTermsToJson(const CaseTerms& terms);
// InvalidArgument prefixed by `where` (e.g. "case c-12: terms") for a
// missing, mistyped or out-of-range field, an invalid order or timer, an
// unknown removal value, more than kMaxCaseTimers timers or more than
// kMaxPreservedContent sealed copies. A record without "preserved" (written
// before it existed) reads as none.
absl::StatusOr<CaseTerms> CaseTermsFromJson(const nlohmann::json& json, std::string_view where);

}  // namespace takedown
