#include "crawler/s3_credentials.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string_view>

#include "absl/status/status.h"
#include "fmt/format.h"

namespace takedown {
namespace {

std::string ErrnoText(int err) {
  char buffer[256];
  return std::string(strerror_r(err, buffer, sizeof(buffer)));
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

absl::StatusOr<std::string> RequiredEnv(const std::string& name, const char* what) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr || *value == '\0') {
    return absl::NotFoundError(
        fmt::format("S3 credentials: environment variable {} (the {}) is unset or empty", name, what));
  }
  return std::string(value);
}

// Reads the whole file through `fd`, at most kMaxCredentialsFileBytes.
absl::StatusOr<std::string> ReadSmallFile(int fd, const std::string& path) {
  std::string content;
  char buffer[4096];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(
          fmt::format("S3 credentials file {}: read failed: {}", path, ErrnoText(errno)));
    }
    if (n == 0) return content;
    content.append(buffer, static_cast<size_t>(n));
    if (content.size() > kMaxCredentialsFileBytes) {
      return absl::InvalidArgumentError(
          fmt::format("S3 credentials file {}: larger than {} bytes; is this the right file?", path,
                      kMaxCredentialsFileBytes));
    }
  }
}

}  // namespace

absl::StatusOr<S3Credentials> LoadS3CredentialsFromEnv(const std::string& access_key_env,
                                                       const std::string& secret_key_env,
                                                       const std::string& session_token_env) {
  S3Credentials credentials;
  absl::StatusOr<std::string> access = RequiredEnv(access_key_env, "access key id");
  if (!access.ok()) return access.status();
  absl::StatusOr<std::string> secret = RequiredEnv(secret_key_env, "secret access key");
  if (!secret.ok()) return secret.status();
  credentials.access_key_id = std::move(*access);
  credentials.secret_access_key = std::move(*secret);
  if (!session_token_env.empty()) {
    absl::StatusOr<std::string> token = RequiredEnv(session_token_env, "session token");
    if (!token.ok()) return token.status();
    credentials.session_token = std::move(*token);
  }
  return credentials;
}

absl::StatusOr<S3Credentials> LoadS3CredentialsFromFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    std::string message = fmt::format("S3 credentials file {}: cannot open: {}", path, ErrnoText(err));
    if (err == ENOENT) return absl::NotFoundError(message);
    if (err == EACCES) return absl::PermissionDeniedError(message);
    if (err == ELOOP) {
      return absl::PermissionDeniedError(fmt::format(
          "S3 credentials file {}: is a symbolic link; point the config at the file itself", path));
    }
    return absl::InternalError(message);
  }
  struct stat st;
  absl::StatusOr<std::string> content;
  if (::fstat(fd, &st) != 0) {
    content =
        absl::InternalError(fmt::format("S3 credentials file {}: fstat failed: {}", path, ErrnoText(errno)));
  } else if (!S_ISREG(st.st_mode)) {
    content = absl::InvalidArgumentError(fmt::format("S3 credentials file {}: not a regular file", path));
  } else if ((st.st_mode & 077) != 0) {
    content = absl::PermissionDeniedError(
        fmt::format("S3 credentials file {}: mode {:04o} lets group or others access it; run `chmod 600 {}`",
                    path, static_cast<unsigned>(st.st_mode & 07777), path));
  } else if (st.st_uid != ::geteuid() && st.st_uid != 0) {
    content = absl::PermissionDeniedError(fmt::format(
        "S3 credentials file {}: owned by uid {}, not by this process's user (uid {}) or root; chown it",
        path, static_cast<unsigned>(st.st_uid), static_cast<unsigned>(::geteuid())));
  } else {
    content = ReadSmallFile(fd, path);
  }
  ::close(fd);
  if (!content.ok()) return content.status();

  S3Credentials credentials;
  bool seen_access = false, seen_secret = false, seen_token = false;
  std::string_view rest = *content;
  int line_number = 0;
  while (!rest.empty()) {
    ++line_number;
    size_t newline = rest.find('\n');
    std::string_view line = Trim(rest.substr(0, newline));
    rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
    if (line.empty() || line.front() == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return absl::InvalidArgumentError(
          fmt::format("S3 credentials file {} line {}: expected name=value", path, line_number));
    }
    std::string_view name = Trim(line.substr(0, eq));
    std::string_view value = Trim(line.substr(eq + 1));
    std::string* target;
    bool* seen;
    if (name == "access_key_id") {
      target = &credentials.access_key_id;
      seen = &seen_access;
    } else if (name == "secret_access_key") {
      target = &credentials.secret_access_key;
      seen = &seen_secret;
    } else if (name == "session_token") {
      target = &credentials.session_token;
      seen = &seen_token;
    } else {
      return absl::InvalidArgumentError(fmt::format(
          "S3 credentials file {} line {}: unknown name '{}' (expected access_key_id, secret_access_key or "
          "session_token)",
          path, line_number, std::string(name.substr(0, 64))));
    }
    if (*seen) {
      return absl::InvalidArgumentError(fmt::format("S3 credentials file {} line {}: '{}' given twice", path,
                                                    line_number, std::string(name)));
    }
    if (value.empty()) {
      return absl::InvalidArgumentError(
          fmt::format("S3 credentials file {} line {}: '{}' is empty", path, line_number, std::string(name)));
    }
    *seen = true;
    *target = std::string(value);
  }
  if (!seen_access || !seen_secret) {
    return absl::InvalidArgumentError(fmt::format("S3 credentials file {}: missing {}", path,
                                                  seen_access ? "secret_access_key" : "access_key_id"));
  }
  return credentials;
}

absl::StatusOr<S3Credentials> LoadS3Credentials(const S3CredentialOptions& options) {
  const bool env = !options.access_key_env.empty() || !options.secret_key_env.empty();
  const bool file = !options.file.empty();
  const int configured = int{env} + int{file} + int{options.anonymous};
  if (configured != 1) {
    return absl::InvalidArgumentError(
        configured == 0
            ? "S3 credentials: none configured; set the environment variable names, a credentials "
              "file, or anonymous access"
            : "S3 credentials: configure only one of environment variables, a credentials file and "
              "anonymous access");
  }
  if (options.anonymous) return S3Credentials{};
  if (file) return LoadS3CredentialsFromFile(options.file);
  if (options.access_key_env.empty() || options.secret_key_env.empty()) {
    return absl::InvalidArgumentError(
        "S3 credentials: name both the access key id and the secret access key environment variables");
  }
  return LoadS3CredentialsFromEnv(options.access_key_env, options.secret_key_env, options.session_token_env);
}

}  // namespace takedown
