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
//  - Deliver may be called concurrently from several threads with different
//    notices; each implementation states whether it is thread-safe.
#pragma once

#include <memory>
#include <string_view>

#include "absl/status/status.h"
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

}  // namespace takedown
