// The legal profiles a daemon runs with: the four built-in profiles
// (notices/legal_profile.h) with the config's `legal_profiles` entries
// applied. An entry naming a built-in profile changes it; an entry with
// `base` adds a new profile starting from that built-in one. Every result is
// checked by ValidateProfile, so a term beyond the law's maximum (more than
// 1 h under TCO, more than 12 h for a Dutch CSAM instruction) is refused.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "notices/legal_profile.h"

namespace takedown {

// InvalidArgument naming `legal_profiles[i]`, the profile and the field: an
// unknown base or name without base, a new name that is already built in,
// an unknown review policy or escalation kind, or what ValidateProfile
// refuses. The built-in profiles come first, in their order; new ones follow
// in config order.
absl::StatusOr<std::vector<LegalProfile>> ConfiguredProfiles(const std::vector<LegalProfileConfig>& entries);

}  // namespace takedown
