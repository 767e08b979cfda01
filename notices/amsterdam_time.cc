#include "notices/amsterdam_time.h"

#include <string>

namespace takedown {

absl::StatusOr<absl::TimeZone> AmsterdamTimeZone() {
  static const absl::StatusOr<absl::TimeZone>* const kZone = [] {
    absl::TimeZone zone;
    if (!absl::LoadTimeZone("Europe/Amsterdam", &zone)) {
      return new absl::StatusOr<absl::TimeZone>(absl::FailedPreconditionError(
          "cannot load time zone Europe/Amsterdam: install the tzdata package (/usr/share/zoneinfo)"));
    }
    return new absl::StatusOr<absl::TimeZone>(zone);
  }();
  return *kZone;
}

std::string FormatAmsterdam(absl::Time t) {
  if (t == absl::InfinitePast()) return "never";
  if (t == absl::InfiniteFuture()) return "infinite future";
  absl::StatusOr<absl::TimeZone> zone = AmsterdamTimeZone();
  if (!zone.ok()) {
    return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC (Europe/Amsterdam zone data missing)", t,
                            absl::UTCTimeZone());
  }
  return absl::FormatTime("%Y-%m-%d %H:%M:%S %Z (UTC%Ez)", t, *zone);
}

}  // namespace takedown
