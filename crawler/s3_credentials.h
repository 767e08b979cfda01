// S3 credentials: the access key pair (and optional session token) used to
// sign requests, and where to load them from.
//
// Loaders never put a credential value in an error message: messages name the
// variable, file and line only. A file must be a regular file owned by the
// daemon's user (or root) and not readable or writable by group or others
// (like ~/.ssh keys); otherwise PermissionDenied tells the operator to
// `chmod 600` it.
//
// File format, one `name=value` per line; blank lines and lines starting with
// '#' are ignored; whitespace around names and values is trimmed:
//   access_key_id=AKIA...
//   secret_access_key=...
//   session_token=...        (optional)
//
// Thread-safety: free functions without shared state.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace takedown {

struct S3Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  // Temporary credentials (STS) only; sent as x-amz-security-token.
  std::string session_token;

  bool empty() const { return access_key_id.empty() && secret_access_key.empty(); }
};

// Where credentials come from. Exactly one of: the environment variables
// (access_key_env and secret_key_env both set), a file, or anonymous = true
// (unsigned requests, for public buckets).
struct S3CredentialOptions {
  std::string access_key_env;     // e.g. "AWS_ACCESS_KEY_ID"
  std::string secret_key_env;     // e.g. "AWS_SECRET_ACCESS_KEY"
  std::string session_token_env;  // optional, e.g. "AWS_SESSION_TOKEN"
  std::string file;
  bool anonymous = false;
};

// Longest credentials file accepted.
inline constexpr size_t kMaxCredentialsFileBytes = 64 * 1024;

// NotFound when a named variable is unset or empty.
absl::StatusOr<S3Credentials> LoadS3CredentialsFromEnv(const std::string& access_key_env,
                                                       const std::string& secret_key_env,
                                                       const std::string& session_token_env);

// NotFound when the file is missing; PermissionDenied for unsafe ownership or
// mode; InvalidArgument (with the line number) for a malformed, unknown,
// duplicated or missing entry.
absl::StatusOr<S3Credentials> LoadS3CredentialsFromFile(const std::string& path);

// Dispatches on the options; InvalidArgument when none or several sources are
// configured. Anonymous yields empty credentials.
absl::StatusOr<S3Credentials> LoadS3Credentials(const S3CredentialOptions& options);

}  // namespace takedown
