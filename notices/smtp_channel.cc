#include "notices/smtp_channel.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <mutex>
#include <utility>

#include "absl/time/civil_time.h"
#include "fmt/format.h"
#include "notices/amsterdam_time.h"
#include "notices/curl_support.h"
#include "notices/json_fields.h"

namespace takedown {
namespace {

using curl_support::GlobalInitOnce;
using curl_support::IsLoopbackHost;
using curl_support::UrlPart;
template <typename T>
using CurlPtr = curl_support::Ptr<T>;

constexpr size_t kMaxAddressBytes = 254;
constexpr size_t kMaxFromNameBytes = 128;
constexpr size_t kMaxUrlBytes = 4096;
constexpr size_t kMaxReplyBytes = 300;
// RFC 2045: encoded lines of at most 76 characters; one is kept for the '='
// of a soft line break.
constexpr size_t kQuotedPrintableColumns = 75;
// Bytes of UTF-8 per RFC 2047 encoded-word: 45 bytes are 60 base64
// characters, so "=?UTF-8?B?" + 60 + "?=" stays within 75.
constexpr size_t kEncodedWordBytes = 45;
// RFC 5322 2.1.1: header lines SHOULD be at most 78 characters.
constexpr size_t kMaxHeaderLine = 78;

bool HasLineBreakOrControl(std::string_view value) {
  return std::any_of(value.begin(), value.end(), [](char ch) {
    const unsigned char byte = static_cast<unsigned char>(ch);
    return byte < 0x20 || byte == 0x7F;
  });
}

// A plain RFC 5321 address: dot-atom local part, '@', a domain name or an
// address literal. No display names, comments, quoting, spaces or non-ASCII,
// so the value is safe both in MAIL FROM/RCPT TO and in a header.
bool IsPlainAddress(std::string_view address) {
  if (address.empty() || address.size() > kMaxAddressBytes) return false;
  const size_t at = address.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size() || at > 64) return false;
  std::string_view local = address.substr(0, at);
  std::string_view domain = address.substr(at + 1);
  static constexpr std::string_view kLocalSpecials = "!#$%&'*+/=?^_`{|}~.-";
  for (char ch : local) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && kLocalSpecials.find(ch) == std::string_view::npos) {
      return false;
    }
  }
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) return false;
  if (domain.front() == '[') {
    if (domain.back() != ']') return false;
    return std::all_of(domain.begin() + 1, domain.end() - 1, [](char ch) {
      return std::isxdigit(static_cast<unsigned char>(ch)) || ch == '.' || ch == ':' || ch == 'v' ||
             ch == 'V';
    });
  }
  if (domain.front() == '.' || domain.front() == '-' || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos) {
    return false;
  }
  return std::all_of(domain.begin(), domain.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-';
  });
}

bool IsPrintableAscii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char ch) { return ch >= 0x20 && ch <= 0x7E; });
}

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// RFC 2047 "B" encoded-words for UTF-8 `text`, split between characters,
// one word per line (folded with CRLF SP) so that no header line is longer
// than kMaxHeaderLine; `first_line_used` is the length of "Name: " before
// the first word.
std::string EncodedWords(std::string_view text, size_t first_line_used) {
  constexpr size_t kWordOverhead = 12;  // "=?UTF-8?B?" and "?="
  std::string out;
  size_t used = first_line_used;
  size_t start = 0;
  while (start < text.size()) {
    const size_t room = kMaxHeaderLine > used + kWordOverhead ? kMaxHeaderLine - used - kWordOverhead : 0;
    size_t end =
        std::min({text.size(), start + kEncodedWordBytes, start + std::max<size_t>(room / 4 * 3, 3)});
    while (end < text.size() && end > start && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    if (end == start) end = std::min(text.size(), start + 4);
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + Base64(text.substr(start, end - start)) + "?=";
    used = 1;
    start = end;
  }
  return out;
}

// A header value for unstructured text (Subject) after "Name: " of
// `name_length` characters: as is when it is printable ASCII that fits on
// the line, else encoded-words.
std::string UnstructuredValue(std::string_view text, size_t name_length) {
  if (IsPrintableAscii(text) && name_length + 2 + text.size() <= kMaxHeaderLine) return std::string(text);
  return EncodedWords(text, name_length + 2);
}

// "From: " value: the address, or a display name (quoted, or encoded-words
// when not ASCII) and the address in angle brackets, on its own folded line
// when the header would grow too long.
std::string Mailbox(std::string_view display_name, std::string_view address) {
  constexpr size_t kFromPrefix = 6;  // "From: "
  if (display_name.empty()) return std::string(address);
  std::string name;
  if (IsPrintableAscii(display_name)) {
    name.push_back('"');
    for (char ch : display_name) {
      if (ch == '"' || ch == '\\') name.push_back('\\');
      name.push_back(ch);
    }
    name.push_back('"');
    if (kFromPrefix + name.size() + 3 + address.size() <= kMaxHeaderLine) {
      return fmt::format("{} <{}>", name, address);
    }
  } else {
    name = EncodedWords(display_name, kFromPrefix);
  }
  return fmt::format("{}\r\n <{}>", name, address);
}

// RFC 5322 date-time in Europe/Amsterdam ("Tue, 31 Mar 2026 09:00:00 +0200"),
// built without the C locale's day and month names.
std::string MailDate(absl::Time t) {
  static constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  absl::StatusOr<absl::TimeZone> amsterdam = AmsterdamTimeZone();
  const absl::TimeZone zone = amsterdam.ok() ? *amsterdam : absl::UTCTimeZone();
  const absl::TimeZone::CivilInfo info = zone.At(t);
  const absl::CivilSecond& cs = info.cs;
  const int weekday = static_cast<int>(absl::GetWeekday(absl::CivilDay(cs)));  // Monday = 0
  const int offset_minutes = info.offset / 60;
  const int magnitude = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  return fmt::format("{}, {:02d} {} {:04d} {:02d}:{:02d}:{:02d} {}{:02d}{:02d}", kDays[weekday], cs.day(),
                     kMonths[cs.month() - 1], cs.year(), cs.hour(), cs.minute(), cs.second(),
                     offset_minutes < 0 ? '-' : '+', magnitude / 60, magnitude % 60);
}

// Quoted-printable (RFC 2045) of UTF-8 text with "\n" line ends, as CRLF
// lines of at most 76 characters. A '.' or "From " at the start of an encoded
// line is encoded too, so no SMTP dot-stuffing or mbox quoting can alter it.
std::string QuotedPrintable(std::string_view text) {
  std::string out;
  size_t line_start = 0;
  while (line_start <= text.size()) {
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = text.size();
    std::string_view line = text.substr(line_start, line_end - line_start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t column = 0;
    for (size_t i = 0; i < line.size(); ++i) {
      const unsigned char byte = static_cast<unsigned char>(line[i]);
      const bool last = i + 1 == line.size();
      auto token_for = [&](size_t at_column) -> std::string {
        const bool literal =
            (byte >= 33 && byte <= 126 && byte != '=') || ((byte == ' ' || byte == '\t') && !last);
        const bool line_start_risk =
            at_column == 0 && (byte == '.' || (byte == 'F' && line.substr(i, 5) == "From "));
        if (literal && !line_start_risk) return std::string(1, static_cast<char>(byte));
        return fmt::format("={:02X}", byte);
      };
      std::string token = token_for(column);
      if (column + token.size() > kQuotedPrintableColumns) {
        out += "=\r\n";
        column = 0;
        token = token_for(column);
      }
      out += token;
      column += token.size();
    }
    if (line_end == text.size()) {
      if (!line.empty()) out += "\r\n";
      break;
    }
    out += "\r\n";
    line_start = line_end + 1;
  }
  return out;
}

std::string OneLine(std::string_view text, size_t max_bytes) {
  std::string out = SanitizeUtf8(text.substr(0, max_bytes));
  for (char& ch : out) {
    const unsigned char byte = static_cast<unsigned char>(ch);
    if (byte < 0x20 || byte == 0x7F) ch = ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Documents drawn up whole by the case engine (the content-provider
// documents of notices/content_provider_notice.h) carry their finished text
// in the payload, already in every language; no template applies.
constexpr std::string_view kDocumentKindPrefix = "content_provider.";
constexpr size_t kMaxDocumentBodyBytes = 256 * 1024;

absl::StatusOr<RenderedNotice> DocumentText(const Notice& notice, const std::string& where) {
  const nlohmann::json& payload = notice.payload;
  auto subject = payload.find("subject");
  auto body = payload.find("body");
  if (!payload.is_object() || subject == payload.end() || body == payload.end() || !subject->is_string() ||
      !body->is_string() || subject->get_ref<const std::string&>().empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: a {} document needs its text in payload.subject and payload.body", where, notice.kind));
  }
  const std::string& text = body->get_ref<const std::string&>();
  if (text.size() > kMaxDocumentBodyBytes) {
    return absl::InvalidArgumentError(fmt::format("{}: the document's body is {} bytes, over {}", where,
                                                  text.size(), kMaxDocumentBodyBytes));
  }
  RenderedNotice rendered;
  rendered.subject = OneLine(subject->get_ref<const std::string&>(), 998);
  rendered.body = SanitizeUtf8(text);
  if (rendered.body.empty() || rendered.body.back() != '\n') rendered.body += '\n';
  return rendered;
}

struct Upload {
  std::string_view data;
  size_t offset = 0;
};

size_t OnRead(char* buffer, size_t size, size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const size_t n = std::min(size * count, upload->data.size() - upload->offset);
  std::memcpy(buffer, upload->data.data() + upload->offset, n);
  upload->offset += n;
  return n;
}

// libcurl hands SMTP server replies to the header callback; keeps the last
// negative reply line (4yz, 5yz) for error messages.
size_t OnReply(char* data, size_t size, size_t count, void* user) {
  auto* last_negative = static_cast<std::string*>(user);
  const size_t n = size * count;
  std::string line = OneLine(std::string_view(data, n), kMaxReplyBytes);
  if (line.size() >= 3 && (line[0] == '4' || line[0] == '5') &&
      std::isdigit(static_cast<unsigned char>(line[1])) &&
      std::isdigit(static_cast<unsigned char>(line[2]))) {
    *last_negative = std::move(line);
  }
  return n;
}

}  // namespace

std::string_view SmtpStartTlsName(SmtpStartTls mode) {
  return mode == SmtpStartTls::kRequired ? "required" : "none";
}

absl::StatusOr<SmtpStartTls> ParseSmtpStartTls(std::string_view name) {
  if (name == "required") return SmtpStartTls::kRequired;
  if (name == "none") return SmtpStartTls::kNone;
  return absl::InvalidArgumentError(fmt::format(
      "unknown starttls mode '{}'; expected 'required' or 'none' (none only for a loopback server)",
      SanitizeUtf8(name.substr(0, 64))));
}

SmtpChannel::SmtpChannel(SmtpChannelOptions options, NoticeTemplates templates, std::string display_url)
    : options_(std::move(options)), templates_(std::move(templates)), display_url_(std::move(display_url)) {}

absl::StatusOr<std::unique_ptr<SmtpChannel>> SmtpChannel::Create(SmtpChannelOptions options) {
  GlobalInitOnce();
  if (options.name.empty()) return absl::InvalidArgumentError("smtp: the channel name must not be empty");
  const std::string prefix = fmt::format("smtp '{}'", options.name);
  auto invalid = [&](std::string_view problem) {
    return absl::InvalidArgumentError(fmt::format("{}: {}", prefix, problem));
  };

  CurlPtr<CURLU> url(curl_url());
  if (url == nullptr) return absl::ResourceExhaustedError(prefix + ": out of memory parsing the URL");
  if (options.url.size() > kMaxUrlBytes ||
      curl_url_set(url.get(), CURLUPART_URL, options.url.c_str(), 0) != CURLUE_OK) {
    return invalid("url is not a valid absolute URL (expected smtp://host:587 or smtps://host:465)");
  }
  const std::string scheme = UrlPart(url.get(), CURLUPART_SCHEME);
  const std::string host = UrlPart(url.get(), CURLUPART_HOST);
  const std::string port = UrlPart(url.get(), CURLUPART_PORT);
  std::string display = fmt::format("{}://{}{}{}", scheme, host, port.empty() ? "" : ":", port);
  if ((scheme != "smtp" && scheme != "smtps") || host.empty()) {
    return invalid(fmt::format("url {} must be smtp://host[:port] or smtps://host[:port]", display));
  }
  if (!UrlPart(url.get(), CURLUPART_USER).empty() || !UrlPart(url.get(), CURLUPART_PASSWORD).empty()) {
    return invalid("put the credentials in username and password, not in the url");
  }
  if (options.starttls == SmtpStartTls::kNone) {
    if (scheme == "smtps") return invalid("starttls none contradicts smtps:// (TLS from the start)");
    if (!IsLoopbackHost(host)) {
      return invalid(
          fmt::format("starttls none sends notices in clear text and is allowed only to a loopback server "
                      "(127.0.0.1, [::1], localhost), not {}; use starttls required",
                      host));
    }
  }
  if (!IsPlainAddress(options.from)) {
    return invalid(fmt::format("from '{}' is not a plain address user@domain", OneLine(options.from, 300)));
  }
  if (options.from_name.size() > kMaxFromNameBytes || !IsValidUtf8(options.from_name) ||
      HasLineBreakOrControl(options.from_name)) {
    return invalid(fmt::format("from_name must be UTF-8 text of at most {} bytes without control characters",
                               kMaxFromNameBytes));
  }
  if (options.to.empty() || options.to.size() > kMaxSmtpRecipients) {
    return invalid(fmt::format("to must list 1..{} addresses", kMaxSmtpRecipients));
  }
  for (const std::string& to : options.to) {
    if (!IsPlainAddress(to)) {
      return invalid(fmt::format("to '{}' is not a plain address user@domain", OneLine(to, 300)));
    }
  }
  if (options.username.empty() != options.password.empty()) {
    return invalid("set both username and password for AUTH, or neither");
  }
  if (HasLineBreakOrControl(options.username) || HasLineBreakOrControl(options.password)) {
    return invalid("username and password must not contain control characters");
  }
  if (options.message_id_domain.empty() || !IsPlainAddress("x@" + options.message_id_domain)) {
    return invalid("message_id_domain must be a domain name such as takedownd.example.org");
  }
  if (options.languages.empty()) return invalid("languages must name at least one of nl, en");
  if (options.connect_timeout <= absl::ZeroDuration() || options.total_timeout <= absl::ZeroDuration()) {
    return invalid("connect_timeout and total_timeout must be positive");
  }
  if (!options.ca_file.empty() && ::access(options.ca_file.c_str(), R_OK) != 0) {
    return absl::NotFoundError(
        fmt::format("{}: ca_file {} does not exist or is not readable", prefix, options.ca_file));
  }
  NoticeTemplates templates;
  if (!options.template_directory.empty()) {
    absl::StatusOr<NoticeTemplates> loaded = NoticeTemplates::Load(options.template_directory);
    if (!loaded.ok()) {
      return absl::Status(loaded.status().code(),
                          fmt::format("{}: {}", prefix, std::string(loaded.status().message())));
    }
    templates = std::move(*loaded);
  }
  return std::unique_ptr<SmtpChannel>(
      new SmtpChannel(std::move(options), std::move(templates), std::move(display)));
}

absl::StatusOr<std::string> SmtpChannel::Message(const Notice& notice) const {
  const std::string prefix = fmt::format("smtp '{}' (notice {})", options_.name, OneLine(notice.id, 128));
  if (!IsSafeNoticeId(notice.id)) {
    return absl::InvalidArgumentError(prefix + ": the notice id is not usable in a Message-ID");
  }
  if (notice.created_at == absl::InfinitePast() || notice.created_at == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError(prefix + ": the notice has no created_at for the Date header");
  }
  absl::StatusOr<RenderedNotice> rendered =
      notice.kind.starts_with(kDocumentKindPrefix)
          ? DocumentText(notice, prefix)
          : RenderNotice(templates_, notice, options_.languages, options_.profiles);
  if (!rendered.ok()) return rendered.status();

  std::string to_list;
  for (const std::string& to : options_.to) {
    if (!to_list.empty()) to_list += ",\r\n ";
    to_list += to;
  }
  const std::vector<std::pair<std::string_view, std::string>> headers = {
      {"Date", MailDate(notice.created_at)},
      {"From", Mailbox(options_.from_name, options_.from)},
      {"To", to_list},
      {"Subject", UnstructuredValue(rendered->subject, 7)},
      {"Message-ID", fmt::format("<{}@{}>", notice.id, options_.message_id_domain)},
      {"Auto-Submitted", "auto-generated"},
      {"X-Takedown-Notice-Id", notice.id},
      {"X-Takedown-Case-Id", OneLine(notice.case_id, 128)},
      {"MIME-Version", "1.0"},
      {"Content-Type", "text/plain; charset=utf-8"},
      {"Content-Transfer-Encoding", "quoted-printable"},
  };
  std::string message;
  for (const auto& [field, value] : headers) {
    // Folding (CRLF followed by a space) is ours; any other CR or LF would
    // start a new header.
    std::string unfolded = value;
    for (size_t pos = unfolded.find("\r\n "); pos != std::string::npos; pos = unfolded.find("\r\n ", pos)) {
      unfolded.erase(pos, 2);
    }
    if (HasLineBreakOrControl(unfolded)) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: header {} would contain a line break or control character; refusing to send", prefix, field));
    }
    message += fmt::format("{}: {}\r\n", field, value);
  }
  message += "\r\n";
  message += QuotedPrintable(rendered->body);
  return message;
}

absl::Status SmtpChannel::Deliver(const Notice& notice) {
  const std::string& name = options_.name;
  if (notice.channel != name) {
    return absl::InvalidArgumentError(fmt::format("smtp '{}': notice {} is addressed to channel '{}'", name,
                                                  OneLine(notice.id, 128), OneLine(notice.channel, 128)));
  }
  absl::StatusOr<std::string> message = Message(notice);
  if (!message.ok()) return message.status();
  const std::string where = fmt::format("smtp '{}' via {} (notice {})", name, display_url_, notice.id);

  CurlPtr<CURL> curl(curl_easy_init());
  if (curl == nullptr) return absl::ResourceExhaustedError(where + ": cannot create a libcurl handle");
  curl_slist* raw_recipients = nullptr;
  for (const std::string& to : options_.to) {
    curl_slist* appended = curl_slist_append(raw_recipients, fmt::format("<{}>", to).c_str());
    if (appended == nullptr) {
      curl_slist_free_all(raw_recipients);
      return absl::ResourceExhaustedError(where + ": out of memory listing recipients");
    }
    raw_recipients = appended;
  }
  CurlPtr<curl_slist> recipients(raw_recipients);
  const std::string mail_from = fmt::format("<{}>", options_.from);

  Upload upload{*message, 0};
  std::string last_reply;
  char error_buffer[CURL_ERROR_SIZE] = {};
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(h, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, display_url_.rfind("smtps://", 0) == 0 ? "smtps" : "smtp");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROXY, "");
  curl_easy_setopt(
      h, CURLOPT_USE_SSL,
      static_cast<long>(options_.starttls == SmtpStartTls::kRequired ? CURLUSESSL_ALL : CURLUSESSL_NONE));
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (!options_.username.empty()) {
    curl_easy_setopt(h, CURLOPT_USERNAME, options_.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, options_.password.c_str());
  }
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, recipients.get());
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, &OnRead);
  curl_easy_setopt(h, CURLOPT_READDATA, &upload);
  curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message->size()));
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &OnReply);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &last_reply);
  curl_easy_setopt(
      h, CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.connect_timeout))));
  curl_easy_setopt(
      h, CURLOPT_TIMEOUT_MS,
      static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.total_timeout))));

  const CURLcode result = curl_easy_perform(h);
  if (result == CURLE_OK) return absl::OkStatus();
  long reply = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply);
  std::string detail = OneLine(error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(result), 300);
  if (!options_.password.empty()) {
    for (size_t pos = detail.find(options_.password); pos != std::string::npos;
         pos = detail.find(options_.password)) {
      detail.replace(pos, options_.password.size(), "[redacted]");
    }
  }
  const std::string server_said =
      reply >= 400 && !last_reply.empty() ? fmt::format(", server replied '{}'", last_reply) : std::string();

  if (result == CURLE_OPERATION_TIMEDOUT) {
    return absl::DeadlineExceededError(
        fmt::format("{}: timed out (connect_timeout {}, total_timeout {}): {}; will retry", where,
                    absl::FormatDuration(options_.connect_timeout),
                    absl::FormatDuration(options_.total_timeout), detail));
  }
  if (result == CURLE_USE_SSL_FAILED) {
    return absl::UnavailableError(
        fmt::format("{}: the server did not offer STARTTLS and starttls is required, so nothing was sent in "
                    "clear text: {}; "
                    "will retry",
                    where, detail));
  }
  if (reply >= 400 && reply <= 499) {
    return absl::UnavailableError(
        fmt::format("{}: transient SMTP failure {}{}: {}; will retry", where, reply, server_said, detail));
  }
  if (reply >= 500 && reply <= 599) {
    if (reply == 530 || reply == 534 || reply == 535 || reply == 538 || result == CURLE_LOGIN_DENIED) {
      return absl::PermissionDeniedError(fmt::format(
          "{}: authentication refused ({}{}): check username and password; not retried (dead letter)", where,
          reply, server_said));
    }
    return absl::FailedPreconditionError(fmt::format(
        "{}: permanent SMTP failure {}{}: {}; check the addresses and the server's policy; not retried "
        "(dead letter)",
        where, reply, server_said, detail));
  }
  if (result == CURLE_LOGIN_DENIED) {
    return absl::PermissionDeniedError(fmt::format(
        "{}: authentication refused: {}; check username and password; not retried", where, detail));
  }
  if (result == CURLE_OUT_OF_MEMORY)
    return absl::ResourceExhaustedError(fmt::format("{}: {}", where, detail));
  return absl::UnavailableError(
      fmt::format("{}: {} (curl error {}); will retry", where, detail, static_cast<int>(result)));
}

}  // namespace takedown
