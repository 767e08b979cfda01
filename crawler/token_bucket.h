// TokenBucket: a request-rate limit. The bucket holds at most `burst` tokens
// and gains `rate_per_second` tokens per second of the clock the caller
// passes in (so a FakeClock drives it in tests); each request takes one.
// A rate <= 0 means unlimited: TryTake always succeeds.
//
// Not thread-safe: the owner serializes calls (HttpFetcher's loop thread
// owns its per-host buckets).
#pragma once

#include "absl/time/time.h"

namespace takedown {

class TokenBucket {
 public:
  // Starts full. REQUIRES: burst >= 1 when rate_per_second > 0.
  TokenBucket(double rate_per_second, double burst, absl::Time now);

  // Takes one token if one is available at `now`; false otherwise.
  bool TryTake(absl::Time now);

  // Zero when a token is available at `now`, else how long until one is.
  absl::Duration TimeUntilAvailable(absl::Time now) const;

  // True when the bucket has refilled completely by `now` (its state then
  // carries no information and it may be dropped).
  bool Full(absl::Time now) const;

 private:
  double TokensAt(absl::Time now) const;

  double rate_;
  double burst_;
  double tokens_;
  absl::Time updated_;
};

}  // namespace takedown
