// RFC 3339 timestamps in UTC with microseconds ("2026-11-27T22:01:15.123456Z");
// InfinitePast (a time that was never set) formats as "".
#pragma once

#include <string>

#include "absl/time/time.h"

namespace takedown {

std::string Rfc3339(absl::Time t);

}  // namespace takedown
