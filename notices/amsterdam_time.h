// Rendering of times for people in the Netherlands. Deadline arithmetic is done
// in UTC on the injected clock; only the text shown in notices, the dashboard
// and takedownctl is in Europe/Amsterdam (CET, UTC+1, or CEST, UTC+2 from the
// last Sunday of March to the last Sunday of October).
//
// The zone rules come from the system's tzdata (/usr/share/zoneinfo, Debian
// package tzdata). Thread-safe; the zone is loaded once.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace takedown {

// The Europe/Amsterdam zone, or FailedPrecondition naming the tzdata package
// when the system has no zone data for it.
absl::StatusOr<absl::TimeZone> AmsterdamTimeZone();

// "2027-03-28 03:30:00 CEST (UTC+02:00)": local date and time, the zone's
// abbreviation and its offset, so an ambiguous wall time at the end of summer
// time is still unambiguous. Sub-second parts are dropped. Without zone data,
// falls back to "2027-03-28 01:30:00 UTC (Europe/Amsterdam zone data missing)".
// InfinitePast and InfiniteFuture render as "never" and "infinite future".
std::string FormatAmsterdam(absl::Time t);

}  // namespace takedown
