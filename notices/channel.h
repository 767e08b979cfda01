// NoticeChannel: a way for notices to leave the system (file drop, webhook,
// SMTP, ...). The outbox dispatcher owns the channels and calls Deliver for
// each stored notice addressed to the channel's name() until it succeeds or
// the record is dead-lettered.
//
// Contract for implementations:
//  - Deliver is idempotent per notice.id: delivering the same notice again
//    (a retry after a timeout, or after a crash between delivery and marking
//    the outbox record delivered) must not produce a second notice at the
//    receiver. Channels pass notice.id to the receiver as its idempotency key
//    (file name, Idempotency-Key header, Message-ID) or check for it first.
//  - OK means the receiver durably has the notice.
//  - Errors say what failed and where. Transient failures, which the
//    dispatcher retries with backoff, use Unavailable, DeadlineExceeded,
//    ResourceExhausted or Aborted (see IsTransientDeliveryError); every other
//    code is permanent and dead-letters the record.
//  - A transient error may carry how long the receiver asked to wait (an
//    HTTP Retry-After): WithRetryAfter. The dispatcher then waits at least
//    that long, up to its max_retry_after.
//  - Deliver may be called concurrently from several threads with different
//    notices; each implementation states whether it is thread-safe.
#pragma once

#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/time/time.h"
#include "notices/notice.h"

namespace takedown {

class NoticeChannel {
 public:
  virtual ~NoticeChannel() = default;

  // Matches Notice::channel of the notices this channel delivers. The view
  // lives as long as the channel.
  virtual std::string_view name() const = 0;

  virtual absl::Status Deliver(const Notice& notice) = 0;
};

using NoticeChannelPtr = std::unique_ptr<NoticeChannel>;

// True for the status codes the contract above calls transient.
inline bool IsTransientDeliveryError(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAborted:
      return true;
    default:
      return false;
  }
}

inline constexpr char kRetryAfterPayloadUrl[] = "type.takedownd/retry_after_seconds";

// `status` (a transient error) with the receiver's requested wait attached.
inline absl::Status WithRetryAfter(absl::Status status, absl::Duration wait) {
  status.SetPayload(kRetryAfterPayloadUrl, absl::Cord(std::to_string(absl::ToInt64Seconds(wait))));
  return status;
}

// The wait attached by WithRetryAfter; nullopt when there is none.
inline std::optional<absl::Duration> RetryAfter(const absl::Status& status) {
  const auto payload = status.GetPayload(kRetryAfterPayloadUrl);
  if (!payload) return std::nullopt;
  const std::string text(*payload);
  int64_t seconds = -1;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (error != std::errc() || end != text.data() + text.size() || seconds < 0) return std::nullopt;
  return absl::Seconds(seconds);
}

}  // namespace takedown
