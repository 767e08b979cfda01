// SmtpChannel: delivers each notice as one plain-text e-mail through an SMTP
// server (libcurl smtp:// with STARTTLS, or smtps://), rendered from the
// notice templates (notices/notice_template.h) in the configured languages.
//
// The message (RFC 5322, MIME):
//   Date: <notice created_at, Europe/Amsterdam offset>   same on every retry
//   From, To: the configured addresses
//   Subject: the rendered subject (RFC 2047 UTF-8 encoded-words if not ASCII)
//   Message-ID: <notice-id@message_id_domain>            same on every retry,
//                so a receiver (or its mail system) can drop duplicates
//   Auto-Submitted: auto-generated
//   X-Takedown-Notice-Id, X-Takedown-Case-Id
//   Content-Type: text/plain; charset=utf-8
//   Content-Transfer-Encoding: quoted-printable  (safe over any relay: 7-bit,
//                lines of at most 76 characters, no line starts with '.')
// Header values never contain CR or LF: case data reaches the subject only
// through the templates, which replace control characters, and every header
// value is checked again before sending (InvalidArgument if one does).
//
// Result of Deliver, following NoticeChannel and RFC 5321:
//   250 after DATA                         OK
//   4yz reply (transient negative)         Unavailable (retried)
//   5yz reply (permanent negative)         FailedPrecondition; PermissionDenied
//                                          for authentication (530, 534, 535)
//   no connection, TLS failure, STARTTLS
//   not offered although required          Unavailable (retried)
//   timeout                                DeadlineExceeded (retried)
// A message to several recipients fails as a whole when any recipient is
// refused. Messages name the channel, server and SMTP reply; never the
// password.
//
// Thread-safe: Deliver may run concurrently; each call uses its own
// connection.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "notices/channel.h"
#include "notices/legal_profile.h"
#include "notices/notice.h"
#include "notices/notice_template.h"

namespace takedown {

enum class SmtpStartTls {
  kRequired,  // smtp://: STARTTLS or fail; smtps://: TLS from the start
  kNone,      // no TLS at all; only for a loopback server (tests, local relay)
};

// "required", "none".
std::string_view SmtpStartTlsName(SmtpStartTls mode);
absl::StatusOr<SmtpStartTls> ParseSmtpStartTls(std::string_view name);

struct SmtpChannelOptions {
  std::string name = "smtp";  // channel name notices are addressed to
  // smtp://host[:port] (STARTTLS, usually port 587) or smtps://host[:port]
  // (implicit TLS, usually 465). An optional path is the EHLO name:
  // smtp://mail.example.org:587/takedown.example.org.
  std::string url;
  SmtpStartTls starttls = SmtpStartTls::kRequired;
  // AUTH credentials; both empty: no AUTH. Sent only over TLS, or to a
  // loopback server with starttls none.
  std::string username;
  std::string password;
  std::string from;                             // envelope and header sender, user@domain
  std::string from_name;                        // display name, may be empty
  std::vector<std::string> to;                  // 1..kMaxSmtpRecipients addresses
  std::string ca_file;                          // PEM CAs instead of the system store
  std::string message_id_domain = "takedownd";  // right side of Message-ID
  // Languages of the text: the subject in the first, the body in each in
  // turn (e.g. {nl, en} for a bilingual notice).
  std::vector<NoticeLanguage> languages = {NoticeLanguage::kDutch, NoticeLanguage::kEnglish};
  // Overrides of the built-in templates (NoticeTemplates::Load); empty: none.
  std::string template_directory;
  // The effective legal profiles, for the legal basis and the required action
  // of a notice's legal_profile; empty: the built-in profiles.
  std::vector<LegalProfile> profiles;
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration total_timeout = absl::Seconds(60);
};

inline constexpr size_t kMaxSmtpRecipients = 100;

class SmtpChannel final : public NoticeChannel {
 public:
  // Validates `options` and loads the template overrides. InvalidArgument for
  // an empty name, a URL that is not smtp:// or smtps:// with a host,
  // starttls none with a non-loopback host or with smtps://, an address that
  // is not a plain user@domain (no display name, spaces, quotes, angle
  // brackets, commas or control characters), a display name with control
  // characters, no or too many recipients, a username without password,
  // non-positive timeouts, no languages; NotFound for a missing ca_file; the
  // errors of NoticeTemplates::Load.
  static absl::StatusOr<std::unique_ptr<SmtpChannel>> Create(SmtpChannelOptions options);

  std::string_view name() const override { return options_.name; }

  // Sends the notice as described above. InvalidArgument (permanent) if
  // notice.channel is not name(), the id is not IsSafeNoticeId, or a header
  // value would contain CR or LF.
  absl::Status Deliver(const Notice& notice) override;

  // The exact message (headers, empty line, encoded body; CRLF line ends)
  // Deliver sends for `notice`, or the InvalidArgument Deliver would return.
  absl::StatusOr<std::string> Message(const Notice& notice) const;

 private:
  SmtpChannel(SmtpChannelOptions options, NoticeTemplates templates, std::string display_url);

  // Constant after construction.
  const SmtpChannelOptions options_;
  const NoticeTemplates templates_;
  const std::string display_url_;  // scheme://host:port, for messages
};

}  // namespace takedown
