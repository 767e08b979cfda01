// MakeNoticeChannels: the notice channels the config names (file drop,
// webhooks, SMTP), ready for the OutboxDispatcher, in config order. Secrets
// and passwords are read from their files here (at most 4 KiB, trailing
// newline dropped; the file must not be readable by group or others) and
// never appear in messages.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "config/config.h"
#include "notices/channel.h"

namespace takedown {

absl::StatusOr<std::vector<NoticeChannelPtr>> MakeNoticeChannels(const NoticesConfig& config, Clock& clock);

}  // namespace takedown
