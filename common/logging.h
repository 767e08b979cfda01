// Logging setup: one spdlog logger for the process, to stderr, with a
// level chosen by config ("trace".."critical", "off").
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace takedown {

// Returns InvalidArgument for an unknown level name.
absl::Status SetUpLogging(std::string_view level);

}  // namespace takedown
