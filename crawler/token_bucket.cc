#include "crawler/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace takedown {

TokenBucket::TokenBucket(double rate_per_second, double burst, absl::Time now)
    : rate_(rate_per_second), burst_(std::max(1.0, burst)), tokens_(burst_), updated_(now) {}

double TokenBucket::TokensAt(absl::Time now) const {
  // A clock that steps backwards adds nothing (and takes nothing away).
  const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - updated_));
  return std::min(burst_, tokens_ + elapsed * rate_);
}

bool TokenBucket::TryTake(absl::Time now) {
  if (rate_ <= 0) return true;
  const double tokens = TokensAt(now);
  if (now > updated_) updated_ = now;
  tokens_ = tokens;
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

absl::Duration TokenBucket::TimeUntilAvailable(absl::Time now) const {
  if (rate_ <= 0) return absl::ZeroDuration();
  const double missing = 1.0 - TokensAt(now);
  if (missing <= 0) return absl::ZeroDuration();
  // Rounded up so that waiting this long always yields a token.
  return absl::Microseconds(std::ceil(missing / rate_ * 1e6));
}

bool TokenBucket::Full(absl::Time now) const { return rate_ <= 0 || TokensAt(now) >= burst_; }

}  // namespace takedown
