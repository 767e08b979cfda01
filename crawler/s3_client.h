// S3Client: the HTTP layer for S3-compatible object stores (libcurl).
//
// Send() turns one S3Request into an HTTPS (or HTTP) request: path-style
// (https://host/bucket/key) or virtual-host (https://bucket.host/key)
// addressing, the key and query RFC 3986-encoded and the query sorted (so the
// URL is already in SigV4 canonical form), signed with AWS Signature V4 by
// libcurl (CURLOPT_AWS_SIGV4 "aws:amz:<region>:s3") unless the credentials are
// empty (anonymous access). Bodies are uploaded with a known length; the
// payload hash header is the SHA-256 of the empty string for bodiless
// requests and UNSIGNED-PAYLOAD otherwise.
//
// Retries: a request is retried, up to retry.max_attempts attempts in all,
// after connection failures and timeouts, HTTP 500/502/503/504 and 429, and
// the S3 error codes SlowDown, InternalError, ServiceUnavailable and
// RequestTimeout. Between attempts it sleeps a uniformly random time in
// [0, min(max_backoff, base_backoff * 2^(attempt-1))] ("full jitter"),
// without holding a concurrency slot. Every S3 operation the crawler uses is
// idempotent, so a retry is always safe.
//
// Concurrency: at most max_concurrent_requests attempts are in flight at once
// per client (a counting semaphore; further callers block). Easy handles (and
// with them their open connections) are pooled and reused.
//
// Streaming: SendStreaming() returns once a GET's response headers are in and
// leaves a 2xx body in flight, for the caller to pull with S3BodyStream::Read()
// on its own thread; the stream holds its concurrency slot until the body is
// complete or the stream is destroyed.
//
// Bounds: a buffered response body (Send, and non-2xx answers to
// SendStreaming) longer than max_response_bytes (or the request's own bound)
// aborts the transfer with ResourceExhausted; a streamed 2xx body is bounded
// by its Content-Length and by what the caller chooses to read; response
// headers are bounded too. TLS peer and host verification are on unless verify_tls is
// false; ca_file replaces the system CA bundle. Redirects are not followed.
//
// Secrets: neither the secret key nor the session token (nor the access key
// id) ever appears in an error message or log line; server-provided error
// text is truncated and scrubbed of them as well.
//
// Thread-safety: Send(), SendStreaming() and StatusOf() may be called from
// any number of threads at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "crawler/s3_credentials.h"

namespace takedown {

enum class S3Addressing {
  kPath,         // https://endpoint/bucket/key: MinIO, Ceph, most S3-compatible stores
  kVirtualHost,  // https://bucket.endpoint/key: AWS's preferred form
};

struct S3RetryOptions {
  // Attempts per request in all, including the first; >= 1.
  int max_attempts = 5;
  std::chrono::milliseconds base_backoff{100};
  std::chrono::milliseconds max_backoff{10'000};
};

struct S3ClientOptions {
  // scheme://host[:port], no path: "https://s3.eu-central-1.amazonaws.com",
  // "http://127.0.0.1:9000". With kVirtualHost the bucket is prepended to host.
  std::string endpoint;
  // SigV4 signing region, e.g. "eu-central-1"; S3-compatible stores usually
  // accept "us-east-1".
  std::string region = "us-east-1";
  S3Addressing addressing = S3Addressing::kPath;
  // Empty credentials send unsigned (anonymous) requests.
  S3Credentials credentials;
  bool verify_tls = true;
  // PEM bundle of CAs to trust instead of the system's; empty: system CAs.
  std::string ca_file;
  std::chrono::milliseconds connect_timeout{10'000};
  // Whole-attempt limit (connect + transfer) of one request.
  std::chrono::milliseconds request_timeout{120'000};
  // Concurrent attempts in flight per client; >= 1.
  int max_concurrent_requests = 16;
  // Bound on a buffered response body (listings, errors, XML results).
  size_t max_response_bytes = 8 * 1024 * 1024;
  S3RetryOptions retry;
  // Seed of the backoff jitter; 0 seeds from std::random_device.
  uint64_t jitter_seed = 0;
};

struct S3Request {
  // "ListObjectsV2", "GetObject"...: used in messages only.
  std::string operation;
  std::string method = "GET";  // GET, HEAD, PUT, DELETE
  std::string bucket;
  // Empty for a bucket-level request. Raw bytes; the client encodes them.
  std::string key;
  // Raw names and values; a value-less subresource is {"tagging", ""}.
  std::vector<std::pair<std::string, std::string>> query;
  // Extra headers; values must not contain CR or LF.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Overrides the client's max_response_bytes when non-zero.
  size_t max_response_bytes = 0;
  // CopyObject can answer 200 with an <Error> body; when set, such a body is
  // treated as that error (and retried when retryable).
  bool error_in_200_body = false;
};

struct S3Response {
  long status = 0;
  // Header names lowercased, in arrival order (final response only).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Attempts it took; 1 when the first succeeded.
  int attempts = 0;

  // The first header with this (lowercase) name, or "".
  std::string Header(std::string_view lowercase_name) const;
};

// The <Code> and <Message> of an S3 error body; empty when there is none.
struct S3ErrorInfo {
  std::string code;
  std::string message;
  std::string request_id;
};
S3ErrorInfo ParseS3ErrorBody(std::string_view body);

// RFC 3986 percent-encoding of every byte but A-Z a-z 0-9 - . _ ~ (and '/'
// when keep_slash).
std::string S3UriEncode(std::string_view raw, bool keep_slash);

// Reverses percent-encoding, '+' as a space when plus_is_space (as AWS
// encodes listing keys with encoding-type=url); false on a malformed escape.
bool S3UriDecode(std::string_view encoded, bool plus_is_space, std::string* out);

class S3BodyStream;

class S3Client {
 public:
  // InvalidArgument for a malformed endpoint, empty region, unreadable
  // ca_file, or out-of-range limits.
  static absl::StatusOr<std::unique_ptr<S3Client>> Create(S3ClientOptions options);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // Sends the request with retries. Returns the final response whatever its
  // HTTP status (use StatusOf to turn a failure status into a Status); errors
  // only when no response could be had: Unavailable after the last attempt
  // failed to connect or timed out, ResourceExhausted when the body exceeded
  // its bound, InvalidArgument for a malformed request.
  absl::StatusOr<S3Response> Send(const S3Request& request);

  // OK for 2xx (and for a 200 without an <Error> body when the request sets
  // error_in_200_body); otherwise the mapped status: 403 PermissionDenied,
  // 404 NotFound, 412 FailedPrecondition, 416 OutOfRange, 400/405/411
  // InvalidArgument, 409 Aborted, 429/5xx Unavailable. The message names the
  // operation, s3://bucket/key, the endpoint, the HTTP status and the S3
  // error code and message, never a credential.
  absl::Status StatusOf(const S3Request& request, const S3Response& response) const;

  // Send, then StatusOf: the response only when it is a success.
  absl::StatusOr<S3Response> SendChecked(const S3Request& request);

  // Sends a GET, retrying as Send() does until a response's headers arrive,
  // and returns then. For a 2xx status the body stays in flight for the
  // caller to Read(); the stream holds one concurrency slot (and its
  // connection) until the body has been received or the stream is destroyed.
  // For any other status the body has been read (bounded as for Send) into
  // response().body and the slot released. Errors as Send. request_timeout
  // bounds, for a stream, how long it waits without receiving anything (not
  // the whole transfer, which may be long and paused while the caller works).
  absl::StatusOr<std::unique_ptr<S3BodyStream>> SendStreaming(const S3Request& request);

  const std::string& endpoint() const { return endpoint_; }
  const S3ClientOptions& options() const { return options_; }

  // The URL the request goes to (for tests and messages).
  std::string UrlFor(const S3Request& request) const;

  // Removes every credential value from `text`.
  std::string Redact(std::string text) const;

  // How long to wait before the attempt after `failed_attempts` failures:
  // uniformly random in [0, min(max_backoff, base_backoff * 2^(n-1))], for
  // callers that retry on their own (a read resuming after a lost connection).
  std::chrono::milliseconds Backoff(int failed_attempts);

 private:
  friend class S3BodyStream;
  class Handle;
  class Semaphore;
  struct AttemptResult;

  S3Client(S3ClientOptions options, std::string scheme, std::string host);

  // InvalidArgument for a request Send() must refuse.
  absl::Status Validate(const S3Request& request) const;
  AttemptResult Attempt(const S3Request& request, const std::string& url, Handle& handle);
  // The Status of a transfer that failed in libcurl after `attempts` attempts.
  absl::Status TransferError(const S3Request& request, int curl_code, const std::string& curl_error,
                             int attempts) const;
  void SleepBeforeRetry(const S3Request& request, int failed_attempts, const std::string& reason);
  std::unique_ptr<Handle> TakeHandle();
  void ReturnHandle(std::unique_ptr<Handle> handle);
  std::string Where(const S3Request& request) const;

  // Constant after construction.
  const S3ClientOptions options_;
  const std::string scheme_;  // "http" or "https"
  const std::string host_;    // host[:port]
  const std::string endpoint_;
  const std::unique_ptr<Semaphore> slots_;

  absl::Mutex mu_;
  std::vector<std::unique_ptr<Handle>> idle_handles_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 jitter_ ABSL_GUARDED_BY(mu_);
};

// S3BodyStream: the response to one GET sent with S3Client::SendStreaming,
// whose 2xx body the caller pulls piece by piece. The transfer advances on the
// calling thread inside Read() (libcurl's multi interface) and is paused
// between calls, while the kernel's socket buffer goes on receiving: a caller
// that works on what it read overlaps with the transfer without a thread or a
// buffer of its own (at most one libcurl write, 16 KiB, is held here).
// Destroying the stream early aborts the transfer (its connection is closed)
// and returns its slot at once.
//
// Thread-safety: one thread at a time. Must not outlive its client.
class S3BodyStream {
 public:
  ~S3BodyStream();
  S3BodyStream(const S3BodyStream&) = delete;
  S3BodyStream& operator=(const S3BodyStream&) = delete;

  // The final response's status and headers (lowercase names); for a non-2xx
  // status also its body.
  const S3Response& response() const;

  // Up to out.size() bytes of a 2xx body, waiting until at least one byte is
  // in; 0 once the body has been received in full (and always for a non-2xx
  // response). Errors end the stream: Unavailable when the connection failed
  // or closed before Content-Length bytes, DeadlineExceeded when nothing
  // arrived for request_timeout.
  absl::StatusOr<size_t> Read(std::span<uint8_t> out);

 private:
  friend class S3Client;
  struct Impl;
  explicit S3BodyStream(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace takedown
