#include "crawler/s3_client.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>

#include "crawler/s3_xml.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace takedown {
namespace {

// SHA-256 of the empty payload, the SigV4 payload hash of bodiless requests.
constexpr const char kEmptyPayloadSha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr size_t kMaxHeaderBytes = 64 * 1024;
// Longest server-provided text (error message) quoted in a Status.
constexpr size_t kMaxQuotedBytes = 300;
constexpr size_t kMaxKeyInMessage = 256;

std::once_flag g_curl_init;

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Truncate(std::string_view text, size_t limit) {
  if (text.size() <= limit) return std::string(text);
  return std::string(text.substr(0, limit)) + "...";
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsRetryableCurlCode(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

bool IsRetryableErrorCode(std::string_view code) {
  return code == "SlowDown" || code == "InternalError" || code == "ServiceUnavailable" ||
         code == "RequestTimeout";
}

bool IsRetryableHttpStatus(long status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

// True when the body looks like an S3 <Error> document (cheap prefix check
// first, so object bytes are never parsed).
bool LooksLikeErrorBody(std::string_view body) {
  size_t first = body.find('<');
  if (first == std::string_view::npos || first > 64) return false;
  return body.substr(0, 512).find("<Error") != std::string_view::npos;
}

struct TransferState {
  std::string* body;
  size_t body_limit;
  bool body_too_large = false;
  std::vector<std::pair<std::string, std::string>>* headers;
  size_t header_bytes = 0;
  bool headers_too_large = false;
  std::string_view upload;
  size_t upload_offset = 0;
  bool expect_body = true;  // false for HEAD
  // Status of the response being received, and whether its headers are
  // complete (a final, non-1xx response).
  long status = 0;
  bool final_headers = false;

  // SendStreaming: a 2xx body goes to `out` (what Read() offered), the rest
  // of one libcurl write to `spill`; with both full the transfer pauses.
  bool streaming = false;
  uint8_t* out = nullptr;
  size_t out_left = 0;
  std::string spill;
  size_t spill_read = 0;
  bool paused = false;
  uint64_t body_bytes = 0;  // taken from libcurl so far

  bool StreamsBody() const { return streaming && status >= 200 && status < 300; }
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* state = static_cast<TransferState*>(user);
  const size_t n = size * count;
  if (state->StreamsBody()) {
    if (state->out_left > 0) {
      const size_t direct = std::min(n, state->out_left);
      std::memcpy(state->out, data, direct);
      state->out += direct;
      state->out_left -= direct;
      if (direct < n) {
        state->spill.assign(data + direct, n - direct);
        state->spill_read = 0;
      }
    } else if (state->spill_read == state->spill.size()) {
      state->spill.assign(data, n);
      state->spill_read = 0;
    } else {
      state->paused = true;
      return CURL_WRITEFUNC_PAUSE;  // libcurl keeps this write and repeats it once resumed
    }
    state->body_bytes += n;
    return n;
  }
  if (state->body->size() + n > state->body_limit) {
    state->body_too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  state->body->append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* state = static_cast<TransferState*>(user);
  const size_t n = size * count;
  state->header_bytes += n;
  if (state->header_bytes > kMaxHeaderBytes) {
    state->headers_too_large = true;
    return 0;
  }
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    state->headers->clear();  // a new (final or interim) response begins
    state->status = 0;
    state->final_headers = false;
    const size_t space = line.find(' ');
    if (space != std::string_view::npos && line.size() >= space + 4) {
      std::from_chars(line.data() + space + 1, line.data() + space + 4, state->status);
    }
    return n;
  }
  if (line == "\r\n" || line == "\n") {
    if (state->status >= 200) state->final_headers = true;
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  std::string name = ToLower(line.substr(0, colon));
  if (name == "content-length" && state->expect_body && !state->StreamsBody()) {
    // Size the body once: growing it by doubling costs copies and page faults.
    uint64_t length = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
    if (ec == std::errc() && ptr == value.data() + value.size() && length <= state->body_limit) {
      state->body->reserve(static_cast<size_t>(length));
    }
  }
  state->headers->emplace_back(std::move(name), std::string(value));
  return n;
}

size_t OnUpload(char* buffer, size_t size, size_t count, void* user) {
  auto* state = static_cast<TransferState*>(user);
  const size_t n = std::min(size * count, state->upload.size() - state->upload_offset);
  std::memcpy(buffer, state->upload.data() + state->upload_offset, n);
  state->upload_offset += n;
  return n;
}

}  // namespace

// --- free functions ---

std::string S3Response::Header(std::string_view lowercase_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lowercase_name) return value;
  }
  return std::string();
}

S3ErrorInfo ParseS3ErrorBody(std::string_view body) {
  S3ErrorInfo info;
  if (body.empty() || body.find('<') == std::string_view::npos) return info;
  absl::StatusOr<XmlElement> root = ParseS3Xml(body);
  if (!root.ok() || root->name != "Error") return info;
  info.code = root->ChildText("Code");
  info.message = root->ChildText("Message");
  info.request_id = root->ChildText("RequestId");
  return info;
}

std::string S3UriEncode(std::string_view raw, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(raw.size() + raw.size() / 2);
  for (char ch : raw) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

bool S3UriDecode(std::string_view encoded, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (plus_is_space && encoded[i] == '+') {
      out->push_back(' ');
      continue;
    }
    if (encoded[i] != '%') {
      out->push_back(encoded[i]);
      continue;
    }
    if (i + 2 >= encoded.size()) return false;
    const int hi = HexValue(encoded[i + 1]);
    const int lo = HexValue(encoded[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// --- S3Client internals ---

// An easy handle, and the multi handle streams drive it with (which keeps
// the connections of streamed transfers for the handle's next stream).
class S3Client::Handle {
 public:
  Handle() : curl_(curl_easy_init()), multi_(curl_multi_init()) {}
  ~Handle() {
    if (curl_ != nullptr) curl_easy_cleanup(curl_);
    if (multi_ != nullptr) curl_multi_cleanup(multi_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  CURL* get() const { return curl_; }
  CURLM* multi() const { return multi_; }

 private:
  CURL* curl_;
  CURLM* multi_;
};

class S3Client::Semaphore {
 public:
  explicit Semaphore(int count) : count_(count) {}
  void Acquire() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* count) { return *count > 0; }, &count_));
    --count_;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    ++count_;
  }

 private:
  absl::Mutex mu_;
  int count_ ABSL_GUARDED_BY(mu_);
};

struct S3Client::AttemptResult {
  CURLcode curl_code = CURLE_OK;
  std::string curl_error;
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool body_too_large = false;
  bool headers_too_large = false;
};

S3Client::S3Client(S3ClientOptions options, std::string scheme, std::string host)
    : options_(std::move(options)),
      scheme_(std::move(scheme)),
      host_(std::move(host)),
      endpoint_(scheme_ + "://" + host_),
      slots_(std::make_unique<Semaphore>(options_.max_concurrent_requests)),
      jitter_(options_.jitter_seed != 0 ? options_.jitter_seed : std::random_device{}()) {}

S3Client::~S3Client() = default;

absl::StatusOr<std::unique_ptr<S3Client>> S3Client::Create(S3ClientOptions options) {
  std::string_view endpoint = options.endpoint;
  std::string scheme;
  if (endpoint.starts_with("https://")) {
    scheme = "https";
  } else if (endpoint.starts_with("http://")) {
    scheme = "http";
  } else {
    return absl::InvalidArgumentError(fmt::format(
        "S3 endpoint '{}': must start with https:// or http:// (e.g. https://s3.eu-central-1.amazonaws.com)",
        Truncate(endpoint, 200)));
  }
  std::string_view host = endpoint.substr(scheme.size() + 3);
  if (host.ends_with('/')) host.remove_suffix(1);
  if (host.find('@') != std::string_view::npos) {
    // Not echoed: the user info may hold a password.
    return absl::InvalidArgumentError(
        "S3 endpoint: user info (user:password@) is not accepted in the endpoint; configure the credentials "
        "instead");
  }
  if (host.empty() || host.find_first_of("/?# \t\r\n") != std::string_view::npos) {
    return absl::InvalidArgumentError(fmt::format(
        "S3 endpoint '{}': expected scheme://host[:port] without path or query", Truncate(endpoint, 200)));
  }
  if (options.region.empty() || options.region.size() > 64 ||
      options.region.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
    return absl::InvalidArgumentError(
        fmt::format("S3 region '{}': expected lowercase letters, digits and '-' (e.g. us-east-1)",
                    Truncate(options.region, 64)));
  }
  if (options.max_concurrent_requests < 1 || options.max_concurrent_requests > 1024) {
    return absl::InvalidArgumentError(
        fmt::format("S3 max_concurrent_requests {}: must be 1..1024", options.max_concurrent_requests));
  }
  if (options.retry.max_attempts < 1 || options.retry.max_attempts > 100) {
    return absl::InvalidArgumentError(
        fmt::format("S3 retry max_attempts {}: must be 1..100", options.retry.max_attempts));
  }
  if (options.retry.base_backoff.count() < 0 || options.retry.max_backoff < options.retry.base_backoff) {
    return absl::InvalidArgumentError("S3 retry backoff: need 0 <= base_backoff <= max_backoff");
  }
  if (options.max_response_bytes < 4096) {
    return absl::InvalidArgumentError("S3 max_response_bytes: must be at least 4096");
  }
  if (options.connect_timeout.count() <= 0 || options.request_timeout.count() <= 0) {
    return absl::InvalidArgumentError("S3 connect and request timeouts must be positive");
  }
  if (!options.ca_file.empty() && ::access(options.ca_file.c_str(), R_OK) != 0) {
    return absl::InvalidArgumentError(
        fmt::format("S3 ca_file {}: cannot be read: {}", options.ca_file, std::strerror(errno)));
  }
  if (options.credentials.access_key_id.empty() != options.credentials.secret_access_key.empty()) {
    return absl::InvalidArgumentError("S3 credentials: access key id and secret access key must both be set");
  }
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  return std::unique_ptr<S3Client>(new S3Client(std::move(options), std::move(scheme), std::string(host)));
}

std::string S3Client::UrlFor(const S3Request& request) const {
  std::string url = scheme_ + "://";
  if (options_.addressing == S3Addressing::kVirtualHost && !request.bucket.empty()) {
    url += request.bucket + "." + host_ + "/" + S3UriEncode(request.key, /*keep_slash=*/true);
  } else {
    url += host_ + "/" + S3UriEncode(request.bucket, false);
    if (!request.key.empty()) url += "/" + S3UriEncode(request.key, /*keep_slash=*/true);
  }
  if (!request.query.empty()) {
    std::vector<std::pair<std::string, std::string>> encoded;
    encoded.reserve(request.query.size());
    for (const auto& [name, value] : request.query) {
      encoded.emplace_back(S3UriEncode(name, false), S3UriEncode(value, false));
    }
    // SigV4's canonical query is sorted by encoded name, then value.
    std::sort(encoded.begin(), encoded.end());
    char separator = '?';
    for (const auto& [name, value] : encoded) {
      url.push_back(separator);
      url += name + "=" + value;
      separator = '&';
    }
  }
  return url;
}

std::string S3Client::Redact(std::string text) const {
  const S3Credentials& c = options_.credentials;
  for (const std::string* secret : {&c.secret_access_key, &c.session_token, &c.access_key_id}) {
    if (secret->empty()) continue;
    size_t pos = 0;
    while ((pos = text.find(*secret, pos)) != std::string::npos) {
      text.replace(pos, secret->size(), "<redacted>");
      pos += 10;
    }
  }
  return text;
}

std::string S3Client::Where(const S3Request& request) const {
  std::string object = "s3://" + request.bucket;
  if (!request.key.empty()) object += "/" + Truncate(request.key, kMaxKeyInMessage);
  return fmt::format("S3 {} {} at {}", request.operation.empty() ? request.method : request.operation, object,
                     endpoint_);
}

std::unique_ptr<S3Client::Handle> S3Client::TakeHandle() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_handles_.empty()) {
      std::unique_ptr<Handle> handle = std::move(idle_handles_.back());
      idle_handles_.pop_back();
      return handle;
    }
  }
  return std::make_unique<Handle>();
}

void S3Client::ReturnHandle(std::unique_ptr<Handle> handle) {
  absl::MutexLock lock(&mu_);
  if (idle_handles_.size() < static_cast<size_t>(options_.max_concurrent_requests)) {
    idle_handles_.push_back(std::move(handle));
  }
}

std::chrono::milliseconds S3Client::Backoff(int failed_attempts) {
  const int64_t base = options_.retry.base_backoff.count();
  const int64_t cap = options_.retry.max_backoff.count();
  int64_t ceiling = base;
  for (int i = 1; i < failed_attempts && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  if (ceiling <= 0) return std::chrono::milliseconds(0);
  absl::MutexLock lock(&mu_);
  std::uniform_int_distribution<int64_t> dist(0, ceiling);
  return std::chrono::milliseconds(dist(jitter_));
}

void S3Client::SleepBeforeRetry(const S3Request& request, int failed_attempts, const std::string& reason) {
  const std::chrono::milliseconds delay = Backoff(failed_attempts);
  spdlog::debug("{}",
                Redact(fmt::format("{}: attempt {} of {} failed ({}); retrying in {} ms", Where(request),
                                   failed_attempts, options_.retry.max_attempts, reason, delay.count())));
  std::this_thread::sleep_for(delay);
}

namespace {

// Sets every option of one transfer of `request` on `curl` (after a reset);
// returns the header list, which the caller frees once the transfer is over.
curl_slist* ConfigureTransfer(CURL* curl, const S3ClientOptions& options, const S3Request& request,
                              const std::string& url, TransferState& state, char* error_buffer) {
  curl_easy_reset(curl);
  struct curl_slist* header_list = nullptr;
  auto add_header = [&header_list](const std::string& line) {
    header_list = curl_slist_append(header_list, line.c_str());
  };
  bool has_content_type = false;
  for (const auto& [name, value] : request.headers) {
    add_header(name + ": " + value);
    has_content_type = has_content_type || ToLower(name) == "content-type";
  }
  // Otherwise libcurl would send (unsigned) application/x-www-form-urlencoded.
  if (!request.body.empty() && !has_content_type) add_header("Content-Type: application/octet-stream");
  add_header(std::string("x-amz-content-sha256: ") +
             (request.body.empty() ? kEmptyPayloadSha256 : "UNSIGNED-PAYLOAD"));
  if (!options.credentials.session_token.empty()) {
    add_header("x-amz-security-token: " + options.credentials.session_token);
  }

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
  // A stream may rightly take long, paused while its reader works: its
  // stalls are bounded instead (S3BodyStream::Impl::Pump).
  if (!state.streaming) {
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.request_timeout.count()));
  }
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "takedownd-s3/0.1");
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, options.verify_tls ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, options.verify_tls ? 2L : 0L);
  if (!options.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &state);
  if (!options.credentials.empty()) {
    const std::string sigv4 = "aws:amz:" + options.region + ":s3";
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(curl, CURLOPT_USERNAME, options.credentials.access_key_id.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, options.credentials.secret_access_key.c_str());
  }
  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT" && request.body.empty()) {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, &OnUpload);
    curl_easy_setopt(curl, CURLOPT_READDATA, &state);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(0));
  } else if (request.method == "PUT") {
    // A body given as POSTFIELDS: libcurl then asks "Expect: 100-continue"
    // only above 1 MiB, where an upload would always ask it and wait up to
    // a second for servers and proxies that do not answer it.
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
  return header_list;
}

// Drops the handle's pointers to a transfer's state, header list and error
// buffer, so nothing dangles once they are gone.
void DetachTransfer(CURL* curl) {
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, nullptr);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, nullptr);
  curl_easy_setopt(curl, CURLOPT_READDATA, nullptr);
}

}  // namespace

S3Client::AttemptResult S3Client::Attempt(const S3Request& request, const std::string& url, Handle& handle) {
  AttemptResult result;
  CURL* curl = handle.get();
  if (curl == nullptr) {
    result.curl_code = CURLE_FAILED_INIT;
    result.curl_error = "curl_easy_init failed";
    return result;
  }
  char error_buffer[CURL_ERROR_SIZE] = {0};
  TransferState state;
  state.body = &result.body;
  state.body_limit =
      request.max_response_bytes != 0 ? request.max_response_bytes : options_.max_response_bytes;
  state.headers = &result.headers;
  state.upload = request.body;
  state.expect_body = request.method != "HEAD";
  curl_slist* header_list = ConfigureTransfer(curl, options_, request, url, state, error_buffer);

  result.curl_code = curl_easy_perform(curl);
  if (result.curl_code != CURLE_OK) {
    result.curl_error =
        error_buffer[0] != '\0' ? std::string(error_buffer) : curl_easy_strerror(result.curl_code);
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  result.body_too_large = state.body_too_large;
  result.headers_too_large = state.headers_too_large;
  // The handle must not keep pointers into this frame.
  DetachTransfer(curl);
  curl_slist_free_all(header_list);
  return result;
}

absl::Status S3Client::Validate(const S3Request& request) const {
  if (request.method != "GET" && request.method != "HEAD" && request.method != "PUT" &&
      request.method != "DELETE") {
    return absl::InvalidArgumentError(
        fmt::format("{}: unsupported method '{}'", Where(request), request.method));
  }
  if (request.bucket.empty())
    return absl::InvalidArgumentError(fmt::format("{}: empty bucket name", Where(request)));
  for (const auto& [name, value] : request.headers) {
    if (name.find_first_of(":\r\n") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      return absl::InvalidArgumentError(
          fmt::format("{}: header '{}' contains a line break or colon", Where(request), Truncate(name, 64)));
    }
  }
  if (!options_.credentials.empty()) {
    // libcurl 7.88 sorts the SigV4 canonical headers as whole "name:value"
    // lines: when one header name extends another ("x-amz-copy-source" and
    // "x-amz-copy-source-if-match") the order differs from S3's and the
    // signature is refused. Refuse such requests here, with a clear message.
    for (const auto& [a, unused_a] : request.headers) {
      for (const auto& [b, unused_b] : request.headers) {
        if (a.size() < b.size() && ToLower(b).starts_with(ToLower(a))) {
          return absl::InvalidArgumentError(
              fmt::format("{}: headers '{}' and '{}' cannot be signed together by this libcurl's SigV4",
                          Where(request), Truncate(a, 64), Truncate(b, 64)));
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::Status S3Client::TransferError(const S3Request& request, int curl_code, const std::string& curl_error,
                                     int attempts) const {
  std::string message = Redact(fmt::format("{}: {} (after {} attempt{})", Where(request), curl_error,
                                           attempts, attempts == 1 ? "" : "s"));
  switch (static_cast<CURLcode>(curl_code)) {
    case CURLE_OPERATION_TIMEDOUT:
      return absl::DeadlineExceededError(message);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      return absl::FailedPreconditionError(
          message +
          "; TLS verification failed: set ca_file to the CA that signed the endpoint's certificate");
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return absl::InvalidArgumentError(message);
    default:
      return absl::UnavailableError(message);
  }
}

absl::StatusOr<S3Response> S3Client::Send(const S3Request& request) {
  if (absl::Status valid = Validate(request); !valid.ok()) return valid;
  const std::string url = UrlFor(request);
  const int max_attempts = options_.retry.max_attempts;
  for (int attempt = 1;; ++attempt) {
    AttemptResult result;
    {
      slots_->Acquire();
      std::unique_ptr<Handle> handle = TakeHandle();
      result = Attempt(request, url, *handle);
      ReturnHandle(std::move(handle));
      slots_->Release();
    }
    if (result.body_too_large) {
      return absl::ResourceExhaustedError(fmt::format(
          "{}: response body larger than {} bytes", Where(request),
          request.max_response_bytes != 0 ? request.max_response_bytes : options_.max_response_bytes));
    }
    if (result.headers_too_large) {
      return absl::ResourceExhaustedError(
          fmt::format("{}: response headers larger than {} bytes", Where(request), kMaxHeaderBytes));
    }
    const bool last = attempt >= max_attempts;
    if (result.curl_code != CURLE_OK) {
      if (IsRetryableCurlCode(result.curl_code) && !last) {
        SleepBeforeRetry(request, attempt, result.curl_error);
        continue;
      }
      return TransferError(request, result.curl_code, result.curl_error, attempt);
    }
    bool retryable = IsRetryableHttpStatus(result.status);
    if (!retryable && (result.status >= 400 || (request.error_in_200_body && result.status == 200 &&
                                                LooksLikeErrorBody(result.body)))) {
      retryable = IsRetryableErrorCode(ParseS3ErrorBody(result.body).code);
    }
    if (retryable && !last) {
      SleepBeforeRetry(request, attempt, fmt::format("HTTP {}", result.status));
      continue;
    }
    S3Response response;
    response.status = result.status;
    response.headers = std::move(result.headers);
    response.body = std::move(result.body);
    response.attempts = attempt;
    return response;
  }
}

absl::Status S3Client::StatusOf(const S3Request& request, const S3Response& response) const {
  const long status = response.status;
  const bool error_200 = request.error_in_200_body && status == 200 && LooksLikeErrorBody(response.body);
  if (status >= 200 && status < 300 && !error_200) return absl::OkStatus();

  S3ErrorInfo info = ParseS3ErrorBody(response.body);
  std::string message = fmt::format("{}: HTTP {}", Where(request), status);
  if (!info.code.empty()) message += " " + Truncate(info.code, 64);
  if (!info.message.empty()) message += ": " + Truncate(info.message, kMaxQuotedBytes);
  if (!info.request_id.empty()) message += fmt::format(" (request id {})", Truncate(info.request_id, 64));
  if (response.attempts > 1) message += fmt::format(" after {} attempts", response.attempts);

  absl::StatusCode code;
  if (error_200) {
    code = absl::StatusCode::kUnavailable;
  } else if (status == 403) {
    code = absl::StatusCode::kPermissionDenied;
    if (info.code == "InvalidAccessKeyId" || info.code == "SignatureDoesNotMatch") {
      message += "; check the access key id and secret access key configured for this source";
    } else {
      message += "; the credentials were refused or lack permission for this operation on this bucket";
    }
  } else if (status == 404) {
    code = absl::StatusCode::kNotFound;
    if (info.code == "NoSuchBucket") message += "; check the bucket name, the endpoint and the region";
  } else if (status == 301 || status == 307 || info.code == "AuthorizationHeaderMalformed") {
    code = absl::StatusCode::kFailedPrecondition;
    std::string region = response.Header("x-amz-bucket-region");
    message += region.empty()
                   ? "; the bucket is served by another endpoint or region"
                   : fmt::format("; the bucket is in region '{}': set region and endpoint accordingly",
                                 Truncate(region, 64));
  } else if (status == 412) {
    code = absl::StatusCode::kFailedPrecondition;
  } else if (status == 416) {
    code = absl::StatusCode::kOutOfRange;
  } else if (status == 409) {
    code = absl::StatusCode::kAborted;
  } else if (status == 429 || status >= 500) {
    code = absl::StatusCode::kUnavailable;
  } else if (status == 400 || status == 405 || status == 411) {
    code = absl::StatusCode::kInvalidArgument;
  } else if (status >= 400) {
    code = absl::StatusCode::kFailedPrecondition;
  } else {
    code = absl::StatusCode::kUnknown;
  }
  return absl::Status(code, Redact(std::move(message)));
}

absl::StatusOr<S3Response> S3Client::SendChecked(const S3Request& request) {
  absl::StatusOr<S3Response> response = Send(request);
  if (!response.ok()) return response.status();
  absl::Status status = StatusOf(request, *response);
  if (!status.ok()) return status;
  return response;
}

// --- streaming ---

struct S3BodyStream::Impl {
  ~Impl() { Release(); }

  CURL* curl() const { return handle->get(); }

  // Starts the transfer; false (with curl_error set) when libcurl refuses.
  bool Start(const S3Request& request) {
    CURL* easy = handle->get();
    if (easy == nullptr || handle->multi() == nullptr) {
      done = true;
      curl_code = CURLE_FAILED_INIT;
      curl_error = "curl_easy_init failed";
      return false;
    }
    state.body = &response.body;
    state.body_limit =
        request.max_response_bytes != 0 ? request.max_response_bytes : client->options_.max_response_bytes;
    state.headers = &response.headers;
    state.streaming = true;
    header_list = ConfigureTransfer(easy, client->options_, request, url, state, error_buffer);
    if (const CURLMcode added = curl_multi_add_handle(handle->multi(), easy); added != CURLM_OK) {
      done = true;
      curl_code = CURLE_FAILED_INIT;
      curl_error = curl_multi_strerror(added);
      return false;
    }
    in_multi = true;
    return true;
  }

  // Runs the transfer until `ready()` holds or it ends (done). Returns
  // DeadlineExceeded when nothing arrived for the client's request_timeout.
  absl::Status Pump(const std::function<bool()>& ready) {
    const auto stall_limit = client->options_.request_timeout;
    auto last_progress = std::chrono::steady_clock::now();
    uint64_t progress = state.body_bytes + state.header_bytes + state.body->size();
    while (true) {
      int running = 0;
      const CURLMcode performed = curl_multi_perform(handle->multi(), &running);
      int queued = 0;
      while (CURLMsg* message = curl_multi_info_read(handle->multi(), &queued)) {
        if (message->msg != CURLMSG_DONE) continue;
        done = true;
        curl_code = message->data.result;
        if (curl_code != CURLE_OK) {
          curl_error = error_buffer[0] != '\0' ? std::string(error_buffer) : curl_easy_strerror(curl_code);
        }
      }
      if (performed != CURLM_OK && !done) {
        done = true;
        curl_code = CURLE_FAILED_INIT;
        curl_error = curl_multi_strerror(performed);
      }
      if (done || ready()) return absl::OkStatus();
      const auto now = std::chrono::steady_clock::now();
      const uint64_t seen = state.body_bytes + state.header_bytes + state.body->size();
      if (seen != progress) {
        progress = seen;
        last_progress = now;
      } else if (now - last_progress >= stall_limit) {
        return absl::DeadlineExceededError(fmt::format("nothing received for {} ms", stall_limit.count()));
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(stall_limit - (now - last_progress));
      const int wait_ms = static_cast<int>(std::clamp<int64_t>(left.count(), 1, 1000));
      curl_multi_poll(handle->multi(), nullptr, 0, wait_ms, nullptr);
    }
  }

  // Ends the transfer (aborting it if unfinished: libcurl then closes its
  // connection) and gives back the handle and the slot.
  void Release() {
    if (handle != nullptr) {
      if (in_multi) curl_multi_remove_handle(handle->multi(), handle->get());
      in_multi = false;
      if (handle->get() != nullptr) DetachTransfer(handle->get());
      client->ReturnHandle(std::move(handle));
    }
    if (header_list != nullptr) curl_slist_free_all(header_list);
    header_list = nullptr;
    if (holds_slot) client->slots_->Release();
    holds_slot = false;
  }

  S3Client* client = nullptr;
  S3Request request;
  std::string url;
  std::unique_ptr<S3Client::Handle> handle;
  bool holds_slot = false;
  bool in_multi = false;
  curl_slist* header_list = nullptr;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  TransferState state;
  S3Response response;
  bool done = false;
  CURLcode curl_code = CURLE_OK;
  std::string curl_error;
  absl::Status failed;
};

S3BodyStream::S3BodyStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

S3BodyStream::~S3BodyStream() = default;

const S3Response& S3BodyStream::response() const { return impl_->response; }

absl::StatusOr<size_t> S3BodyStream::Read(std::span<uint8_t> out) {
  Impl& s = *impl_;
  TransferState& state = s.state;
  if (out.empty() || !state.StreamsBody()) return 0;
  if (state.spill_read < state.spill.size()) {
    const size_t n = std::min(out.size(), state.spill.size() - state.spill_read);
    std::memcpy(out.data(), state.spill.data() + state.spill_read, n);
    state.spill_read += n;
    return n;
  }
  if (!s.failed.ok()) return s.failed;
  if (s.done) return 0;
  state.out = out.data();
  state.out_left = out.size();
  if (state.paused) {
    state.paused = false;
    curl_easy_pause(s.curl(), CURLPAUSE_CONT);  // may hand the held write to `out` at once
  }
  const absl::Status pumped = s.Pump([&] { return state.out_left < out.size(); });
  const size_t got = out.size() - state.out_left;
  state.out = nullptr;
  state.out_left = 0;
  if (!pumped.ok()) {
    s.failed =
        absl::DeadlineExceededError(fmt::format("{}: {} after {} body bytes", s.client->Where(s.request),
                                                std::string(pumped.message()), state.body_bytes));
  } else if (s.done && s.curl_code != CURLE_OK) {
    s.failed = absl::UnavailableError(s.client->Redact(fmt::format(
        "{}: {} after {} body bytes", s.client->Where(s.request), s.curl_error, state.body_bytes)));
  }
  if (s.done || !s.failed.ok()) s.Release();
  if (got > 0) return got;  // an error comes with the next call
  if (!s.failed.ok()) return s.failed;
  return 0;
}

absl::StatusOr<std::unique_ptr<S3BodyStream>> S3Client::SendStreaming(const S3Request& request) {
  if (absl::Status valid = Validate(request); !valid.ok()) return valid;
  if (request.method != "GET") {
    return absl::InvalidArgumentError(fmt::format("{}: only a GET can be streamed", Where(request)));
  }
  const std::string url = UrlFor(request);
  const int max_attempts = options_.retry.max_attempts;
  for (int attempt = 1;; ++attempt) {
    auto impl = std::make_unique<S3BodyStream::Impl>();
    impl->client = this;
    impl->request = request;
    impl->url = url;
    slots_->Acquire();
    impl->holds_slot = true;
    impl->handle = TakeHandle();
    absl::Status pumped;
    if (impl->Start(request)) {
      TransferState& state = impl->state;
      // A 2xx body is left for Read(); any other is read now, to judge it.
      pumped = impl->Pump([&] { return state.final_headers && state.StreamsBody(); });
    }
    const bool last = attempt >= max_attempts;
    if (impl->state.body_too_large) {
      return absl::ResourceExhaustedError(fmt::format(
          "{}: response body larger than {} bytes", Where(request),
          request.max_response_bytes != 0 ? request.max_response_bytes : options_.max_response_bytes));
    }
    if (impl->state.headers_too_large) {
      return absl::ResourceExhaustedError(
          fmt::format("{}: response headers larger than {} bytes", Where(request), kMaxHeaderBytes));
    }
    if (!pumped.ok()) {
      impl.reset();
      if (!last) {
        SleepBeforeRetry(request, attempt, std::string(pumped.message()));
        continue;
      }
      return TransferError(request, CURLE_OPERATION_TIMEDOUT, std::string(pumped.message()), attempt);
    }
    if (impl->done && impl->curl_code != CURLE_OK) {
      const CURLcode code = impl->curl_code;
      const std::string error = impl->curl_error;
      impl.reset();
      if (IsRetryableCurlCode(code) && !last) {
        SleepBeforeRetry(request, attempt, error);
        continue;
      }
      return TransferError(request, code, error, attempt);
    }
    impl->response.status = impl->state.status;
    impl->response.attempts = attempt;
    if (!impl->state.StreamsBody()) {
      impl->Release();
      const long status = impl->response.status;
      bool retryable = IsRetryableHttpStatus(status);
      if (!retryable && status >= 400)
        retryable = IsRetryableErrorCode(ParseS3ErrorBody(impl->response.body).code);
      if (retryable && !last) {
        SleepBeforeRetry(request, attempt, fmt::format("HTTP {}", status));
        continue;
      }
    } else if (impl->done) {
      impl->Release();  // the whole body is in already
    }
    return std::unique_ptr<S3BodyStream>(new S3BodyStream(std::move(impl)));
  }
}

}  // namespace takedown
