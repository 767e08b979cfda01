// RecheckStoredObject: is what a sweep read at (source, key) still there? The
// expectation is the stored record's MD5, SHA-1 and SHA-256 (all must equal
// for "still present"); the outcomes are crawler/recheck.h's: gone, access
// disabled, changed, still present, or error (not conclusive).
//
// A URL-list source's object is fetched again with the source's own fetcher
// (so its address policy, allow_private_addresses, limits and per-host rates
// apply) through RecheckUrl. Any other source's object is looked up with
// Source::Stat and read through Source::Open (RecheckObject); when Stat
// refuses, Open's answer for the bare key decides (NotFound: gone).
//
// Thread-safe if the source is (every Source is).
#pragma once

#include "absl/status/statusor.h"
#include "crawler/recheck.h"
#include "crawler/source.h"
#include "daemon/object_record.h"

namespace takedown {

// FailedPrecondition when the record holds no digests (its object was never
// read: skipped or failed); InvalidArgument when it belongs to another
// source or options has no digester. Every outcome of the re-check itself is
// a RecheckResult.
absl::StatusOr<RecheckResult> RecheckStoredObject(Source& source, const ObjectRecord& record,
                                                  const RecheckOptions& options);

}  // namespace takedown
