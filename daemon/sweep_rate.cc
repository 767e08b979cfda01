#include "daemon/sweep_rate.h"

#include <cmath>

namespace takedown {

SweepRate ComputeSweepRate(const SweepRateInput& in) {
  SweepRate rate;
  rate.elapsed = in.elapsed;
  const double seconds = absl::ToDoubleSeconds(in.elapsed);
  if (seconds > 0) {
    rate.objects_per_second = static_cast<double>(in.objects) / seconds;
    rate.bytes_per_second = static_cast<double>(in.bytes) / seconds;
  }
  if (in.estimated_total == 0) {
    rate.eta_unknown_reason = "no earlier completed sweep of this source to estimate the total from";
  } else if (in.finished >= in.estimated_total) {
    rate.eta_unknown_reason = "more objects than the previous sweep listed; the total is unknown";
  } else if (rate.objects_per_second <= 0) {
    rate.eta_unknown_reason = "no object finished yet in this run";
  } else {
    const double remaining = static_cast<double>(in.estimated_total - in.finished);
    rate.eta = absl::Seconds(std::ceil(remaining / rate.objects_per_second));
  }
  return rate;
}

}  // namespace takedown
