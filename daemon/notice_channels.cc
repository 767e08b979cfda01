#include "daemon/notice_channels.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/status_macros.h"
#include "fmt/format.h"
#include "notices/file_drop_channel.h"
#include "notices/notice_template.h"
#include "notices/smtp_channel.h"
#include "notices/webhook_channel.h"

namespace takedown {
namespace {

constexpr size_t kMaxSecretBytes = 4096;

absl::StatusOr<std::string> ReadSecretFile(const std::string& path, std::string_view what) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        fmt::format("{}: cannot open {}: {}", what, path, std::strerror(errno)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return absl::FailedPreconditionError(fmt::format("{}: {} is not a regular file", what, path));
  }
  if ((st.st_mode & 077) != 0) {
    close(fd);
    return absl::PermissionDeniedError(fmt::format(
        "{}: {} is readable by group or others (mode {:o}); run chmod 600 on it", what, path, st.st_mode & 0777));
  }
  std::string secret(kMaxSecretBytes + 1, '\0');
  ssize_t n = read(fd, secret.data(), secret.size());
  close(fd);
  if (n < 0) return absl::UnavailableError(fmt::format("{}: cannot read {}", what, path));
  if (static_cast<size_t>(n) > kMaxSecretBytes) {
    return absl::InvalidArgumentError(fmt::format("{}: {} is larger than {} bytes", what, path, kMaxSecretBytes));
  }
  secret.resize(static_cast<size_t>(n));
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  return secret;
}

}  // namespace

absl::StatusOr<std::vector<NoticeChannelPtr>> MakeNoticeChannels(const NoticesConfig& config, Clock& clock) {
  std::vector<NoticeChannelPtr> channels;
  if (config.file_drop) {
    ASSIGN_OR_RETURN(std::unique_ptr<FileDropChannel> channel, FileDropChannel::Create(config.file_drop->directory));
    channels.push_back(std::move(channel));
  }
  for (const WebhookConfig& c : config.webhooks) {
    const std::string what = fmt::format("notices.webhooks '{}'", c.name);
    WebhookChannelOptions options;
    options.name = c.name;
    options.url = c.url;
    ASSIGN_OR_RETURN(options.secret, ReadSecretFile(c.secret_file, what + " secret_file"));
    options.ca_file = c.ca_file;
    absl::StatusOr<std::unique_ptr<WebhookChannel>> channel = WebhookChannel::Create(std::move(options), clock);
    if (!channel.ok()) return Annotate(channel.status(), what);
    channels.push_back(*std::move(channel));
  }
  for (const SmtpConfig& c : config.smtp) {
    const std::string what = fmt::format("notices.smtp '{}'", c.name);
    SmtpChannelOptions options;
    options.name = c.name;
    options.url = c.url;
    options.starttls = c.starttls == "none" ? SmtpStartTls::kNone : SmtpStartTls::kRequired;
    options.username = c.username;
    if (!c.password_file.empty()) {
      ASSIGN_OR_RETURN(options.password, ReadSecretFile(c.password_file, what + " password_file"));
    }
    options.from = c.from;
    options.from_name = c.from_name;
    options.to = c.to;
    options.languages.clear();
    for (const std::string& l : c.languages) {
      options.languages.push_back(l == "nl" ? NoticeLanguage::kDutch : NoticeLanguage::kEnglish);
    }
    options.ca_file = c.ca_file;
    absl::StatusOr<std::unique_ptr<SmtpChannel>> channel = SmtpChannel::Create(std::move(options));
    if (!channel.ok()) return Annotate(channel.status(), what);
    channels.push_back(*std::move(channel));
  }
  return channels;
}

}  // namespace takedown
