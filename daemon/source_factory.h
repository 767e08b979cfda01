// MakeSource: builds the Source a config entry describes (filesystem, S3
// bucket or URL list), with the option mapping documented in
// docs/configuration.md. Errors name the source and say what to fix; an S3
// source's credentials are loaded here (never logged).
#pragma once

#include "absl/status/statusor.h"
#include "config/config.h"
#include "crawler/source.h"

namespace takedown {

absl::StatusOr<SourcePtr> MakeSource(const SourceConfig& config);

}  // namespace takedown
