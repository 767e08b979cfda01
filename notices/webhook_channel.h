// WebhookChannel: delivers each notice as one HTTPS POST of its payload (the
// JSON of notices/notice.h, compact, UTF-8) to a configured URL.
//
// Request headers:
//   Content-Type: application/json
//   User-Agent: takedownd/<version>
//   Idempotency-Key: <notice id>         the same on every retry of a notice
//   X-Takedown-Notice-Id: <notice id>
//   X-Takedown-Timestamp: <unix seconds> when this attempt was signed
//   X-Takedown-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
// Receivers verify the signature over the exact body bytes, reject stale
// timestamps, and drop notices whose Idempotency-Key they already stored
// (docs/notices.md has a verification example).
//
// Result of Deliver, following NoticeChannel (notices/channel.h):
//   2xx                              OK (the response body is not needed;
//                                    a 2xx whose body then fails to arrive
//                                    is still OK: the receiver has answered)
//   408, 429, 5xx                    Unavailable (retried by the dispatcher)
//   no connection, DNS, TLS errors   Unavailable
//   connect or total timeout         DeadlineExceeded (retried)
//   400, 413, 415, 422               InvalidArgument (the receiver refuses
//                                    this notice: dead letter)
//   other 3xx/4xx                    FailedPrecondition (fix the URL, the
//                                    secret or the receiver: dead letter)
// Error messages name the channel, the URL without credentials or query, the
// HTTP status and a short, sanitised excerpt of the response body; never the
// secret. Redirects are not followed.
//
// Thread-safe: Deliver may run concurrently; each call uses its own
// connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "notices/channel.h"
#include "notices/notice.h"

namespace takedown {

struct WebhookChannelOptions {
  std::string name = "webhook";  // channel name notices are addressed to
  // https://host[:port]/path. http:// is accepted only for a loopback host
  // (127.0.0.0/8, [::1], localhost), for tests and local relays.
  std::string url;
  // HMAC-SHA256 key shared with the receiver; at least 16 bytes.
  std::string secret;
  // PEM bundle of CAs to trust instead of the system store; empty: system.
  std::string ca_file;
  // Proxy URL; empty: connect directly (proxy environment variables are
  // ignored).
  std::string proxy;
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration total_timeout = absl::Seconds(30);
  // Response bytes read at most; the rest of a longer body is not read.
  size_t max_response_bytes = 64 * 1024;
};

class WebhookChannel final : public NoticeChannel {
 public:
  // Validates `options`: InvalidArgument for an empty name, a URL that is not
  // https:// (or http:// to loopback), has no host or carries a fragment, a
  // secret shorter than 16 bytes, non-positive timeouts or a zero response
  // limit; NotFound if ca_file does not exist. `clock` stamps the signature
  // and must outlive the channel.
  static absl::StatusOr<std::unique_ptr<WebhookChannel>> Create(WebhookChannelOptions options, Clock& clock);

  std::string_view name() const override { return options_.name; }
  // The URL as shown in messages: no user:password and no query.
  const std::string& display_url() const { return display_url_; }

  // POSTs the notice as described above. InvalidArgument (permanent) if
  // notice.channel is not name() or the id is not IsSafeNoticeId.
  absl::Status Deliver(const Notice& notice) override;

  // The exact request body for `notice`.
  static std::string Body(const Notice& notice);
  // "sha256=" + lower-case hex HMAC-SHA256(secret, "<timestamp>.<body>").
  static std::string Signature(std::string_view secret, int64_t timestamp, std::string_view body);

 private:
  WebhookChannel(WebhookChannelOptions options, std::string display_url, Clock& clock);

  // Constant after construction.
  const WebhookChannelOptions options_;
  const std::string display_url_;
  Clock& clock_;
};

}  // namespace takedown
