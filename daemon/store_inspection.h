// InspectStore: an offline consistency report of a stopped daemon's store,
// for operators and for crash tests (`takedownd --config F --verify-store`):
// whether the audit chain is intact, objects per source, cases by state and
// outbox records by delivery state. Opens the store itself (never creating
// one); REQUIRES that no takedownd is running on it.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "nlohmann/json.hpp"

namespace takedown {

absl::StatusOr<nlohmann::json> InspectStore(const std::string& store_path, Clock& clock);

}  // namespace takedown
