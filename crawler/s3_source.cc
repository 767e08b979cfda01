#include "crawler/s3_source.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <set>
#include <thread>

#include "common/status_macros.h"
#include "crawler/s3_xml.h"
#include "fmt/format.h"

namespace takedown {
namespace {

constexpr uint64_t kMinChunkBytes = 64 * 1024;
constexpr uint64_t kMaxChunkBytes = 256 * 1024 * 1024;
// Consecutive empty, truncated pages tolerated before the listing is judged
// stuck (a server may return empty pages while it skips deleted keys).
constexpr int kMaxEmptyPages = 100;

std::string Shorten(std::string_view text, size_t limit = 256) {
  if (text.size() <= limit) return std::string(text);
  return std::string(text.substr(0, limit)) + "...";
}

bool ParseUint64(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

absl::Status ValidateBucket(const std::string& bucket, S3Addressing addressing) {
  const bool dns_ok =
      bucket.size() >= 3 && bucket.size() <= 63 &&
      bucket.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") == std::string::npos &&
      bucket.front() != '.' && bucket.front() != '-' && bucket.back() != '.' && bucket.back() != '-';
  if (addressing == S3Addressing::kVirtualHost) {
    if (!dns_ok) {
      return absl::InvalidArgumentError(
          fmt::format("S3 bucket '{}': virtual-host addressing needs a DNS-compatible name (3-63 lowercase "
                      "letters, digits, "
                      "'.' and '-'); use path addressing for other names",
                      Shorten(bucket, 80)));
    }
    return absl::OkStatus();
  }
  // Path-style: S3-compatible stores also accept legacy names (uppercase, '_').
  if (bucket.empty() || bucket.size() > 255 ||
      bucket.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
          std::string::npos) {
    return absl::InvalidArgumentError(
        fmt::format("S3 bucket '{}': expected 1-255 letters, digits, '.', '-' and '_'", Shorten(bucket, 80)));
  }
  return absl::OkStatus();
}

// Reads one object through streaming GETs (S3Client::SendStreaming), all
// pinned to one ETag (and to one version id when the ref carries one). The
// bytes go from libcurl straight into the caller's buffer; the transfer
// advances inside Read() and waits, paused, while the caller works.
//
// With `chunk` 0 one GET reads the whole object; otherwise each GET asks for
// at most `chunk` bytes (Range). A GET whose body breaks off (connection lost,
// stalled, closed short) is resumed where it stopped with a ranged GET
// carrying If-Match, after a backoff, up to the client's max_attempts times
// in a row without progress.
class S3ObjectReader final : public ObjectReader {
 public:
  // `listed_size`: the size the listing gave; an object listed smaller than a
  // chunk is fetched with one plain GET (no Range), which also spares the
  // many servers that mishandle ranges of empty objects.
  S3ObjectReader(std::shared_ptr<S3Client> client, std::string source_id, std::string bucket, std::string key,
                 std::string pinned_etag, std::string version_id, uint64_t listed_size, uint64_t chunk)
      : client_(std::move(client)),
        source_id_(std::move(source_id)),
        bucket_(std::move(bucket)),
        key_(std::move(key)),
        version_id_(std::move(version_id)),
        chunk_(chunk),
        whole_first_(chunk == 0 || listed_size < chunk),
        etag_(std::move(pinned_etag)) {}

  // Sends the first GET, so Open() reports a vanished or changed object.
  absl::Status Start() { return OpenAtOffset(); }

  absl::StatusOr<size_t> Read(std::span<uint8_t> out) override {
    if (!failed_.ok()) return failed_;
    if (out.empty()) return 0;
    while (true) {
      if (stream_ == nullptr) {
        if (eof_) return 0;
        absl::Status opened = OpenAtOffset();
        if (!opened.ok()) return Fail(opened);
        continue;
      }
      absl::StatusOr<size_t> n = stream_->Read(out);
      if (n.ok() && *n > 0) {
        offset_ += *n;
        if (offset_ > range_end_) {
          return Fail(absl::DataLossError(fmt::format("{}: {}: GET returned more than the {} bytes announced",
                                                      source_id_, Shorten(key_), range_end_)));
        }
        failures_ = 0;
        return *n;
      }
      stream_.reset();
      if (n.ok() && offset_ == range_end_) {
        // This GET's range is done; the object too, or the next GET follows.
        if (offset_ >= total_) eof_ = true;
        continue;
      }
      absl::Status broken =
          n.ok() ? absl::UnavailableError(fmt::format("{}: {}: GET ended at byte {} of {}", source_id_,
                                                      Shorten(key_), offset_, range_end_))
                 : n.status();
      const bool retryable = broken.code() == absl::StatusCode::kUnavailable ||
                             broken.code() == absl::StatusCode::kDeadlineExceeded;
      if (!retryable || ++failures_ >= client_->options().retry.max_attempts) {
        return Fail(Annotate(broken, fmt::format("{}: {}: reading at byte {} (attempt {})", source_id_,
                                                 Shorten(key_), offset_, failures_)));
      }
      std::this_thread::sleep_for(client_->Backoff(failures_));
    }
  }

 private:
  absl::Status Fail(absl::Status status) {
    failed_ = std::move(status);
    stream_.reset();
    return failed_;
  }

  // Sends the GET for the bytes from offset_ on and checks its headers.
  absl::Status OpenAtOffset() {
    S3Request request;
    request.operation = "GetObject";
    request.method = "GET";
    request.bucket = bucket_;
    request.key = key_;
    if (!version_id_.empty()) request.query.emplace_back("versionId", version_id_);
    const bool ranged = !(whole_first_ && offset_ == 0);
    if (ranged) {
      request.headers.emplace_back("Range", chunk_ == 0
                                                ? fmt::format("bytes={}-", offset_)
                                                : fmt::format("bytes={}-{}", offset_, offset_ + chunk_ - 1));
    }
    if (!etag_.empty()) request.headers.emplace_back("If-Match", "\"" + etag_ + "\"");
    ASSIGN_OR_RETURN(std::unique_ptr<S3BodyStream> stream, client_->SendStreaming(request));
    const S3Response& response = stream->response();
    if (response.status == 416 && offset_ == 0) {
      // A range of an empty object is unsatisfiable: the object has no bytes.
      RETURN_IF_ERROR(CheckEtag(response));
      eof_ = true;
      return absl::OkStatus();
    }
    absl::Status status = client_->StatusOf(request, response);
    if (!status.ok()) {
      if (status.code() == absl::StatusCode::kNotFound) {
        return absl::NotFoundError(fmt::format("{}: {}: object {}vanished after listing ({})", source_id_,
                                               Shorten(key_), version_id_.empty() ? "" : "version ",
                                               std::string(status.message())));
      }
      if (response.status == 412) return ChangedError();
      return status;
    }
    RETURN_IF_ERROR(CheckEtag(response));
    if (response.status == 206) {
      uint64_t first = 0, last = 0, total = 0;
      if (!ParseContentRange(response.Header("content-range"), &first, &last, &total) || first != offset_) {
        return absl::DataLossError(
            fmt::format("{}: {}: GET returned a malformed or unexpected Content-Range '{}'", source_id_,
                        Shorten(key_), Shorten(response.Header("content-range"), 80)));
      }
      if (offset_ != 0 && total != total_) {
        // Another length under the same (or no) ETag: a store ignoring
        // If-Match; these bytes would not belong to one version.
        return ChangedError();
      }
      total_ = total;
      range_end_ = last + 1;
    } else if (response.status == 200 && offset_ == 0) {
      // A plain GET, or a server that ignored Range: the whole object.
      uint64_t length = 0;
      if (!ParseUint64(response.Header("content-length"), &length)) {
        return absl::DataLossError(
            fmt::format("{}: {}: GET gave no valid Content-Length", source_id_, Shorten(key_)));
      }
      total_ = length;
      range_end_ = length;
    } else {
      return absl::DataLossError(fmt::format("{}: {}: unexpected HTTP {} to a GET at offset {}", source_id_,
                                             Shorten(key_), response.status, offset_));
    }
    if (offset_ >= range_end_) {
      eof_ = true;  // an empty object
      return absl::OkStatus();
    }
    stream_ = std::move(stream);
    return absl::OkStatus();
  }

  absl::Status ChangedError() const {
    return absl::FailedPreconditionError(fmt::format(
        "{}: {}: object changed since it was listed (ETag no longer {}); the next sweep reads the new "
        "version",
        source_id_, Shorten(key_), etag_));
  }

  absl::Status CheckEtag(const S3Response& response) {
    std::string got = NormalizeEtag(response.Header("etag"));
    if (etag_.empty()) {
      etag_ = got;  // pin every later GET to the first response's version
      return absl::OkStatus();
    }
    if (!got.empty() && got != etag_) return ChangedError();
    return absl::OkStatus();
  }

  static bool ParseContentRange(std::string_view value, uint64_t* first, uint64_t* last, uint64_t* total) {
    if (!value.starts_with("bytes ")) return false;
    value.remove_prefix(6);
    size_t dash = value.find('-');
    size_t slash = value.find('/');
    if (dash == std::string_view::npos || slash == std::string_view::npos || dash > slash) return false;
    return ParseUint64(value.substr(0, dash), first) &&
           ParseUint64(value.substr(dash + 1, slash - dash - 1), last) &&
           ParseUint64(value.substr(slash + 1), total) && *first <= *last && *last < *total;
  }

  // Constant after construction.
  const std::shared_ptr<S3Client> client_;
  const std::string source_id_;
  const std::string bucket_;
  const std::string key_;
  const std::string version_id_;
  const uint64_t chunk_;
  const bool whole_first_;

  std::string etag_;
  std::unique_ptr<S3BodyStream> stream_;  // the GET being read, if any
  uint64_t offset_ = 0;                   // bytes returned so far
  uint64_t range_end_ = 0;                // end of the current GET's bytes
  uint64_t total_ = 0;                    // the object's size
  bool eof_ = false;
  int failures_ = 0;  // consecutive broken GETs without a byte read
  absl::Status failed_;
};

}  // namespace

std::string NormalizeEtag(std::string_view etag) {
  if (etag.starts_with("W/")) etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return std::string(etag);
}

std::string S3RefVersion(std::string_view etag, std::string_view version_id) {
  std::string version = NormalizeEtag(etag);
  if (!version_id.empty() && version_id != "null") {
    version += '@';
    version += version_id;
  }
  return version;
}

std::pair<std::string, std::string> SplitS3RefVersion(std::string_view version) {
  const size_t at = version.rfind('@');
  if (at == std::string_view::npos) return {std::string(version), std::string()};
  return {std::string(version.substr(0, at)), std::string(version.substr(at + 1))};
}

S3Source::S3Source(S3SourceOptions options, std::shared_ptr<S3Client> client)
    : id_(std::move(options.id)),
      bucket_(std::move(options.bucket)),
      prefix_(std::move(options.prefix)),
      page_size_(options.page_size),
      read_chunk_bytes_(options.read_chunk_bytes),
      verify_listed_etag_(options.verify_listed_etag),
      list_versions_(options.list_versions),
      quarantine_bucket_(std::move(options.quarantine_bucket)),
      quarantine_prefix_(std::move(options.quarantine_prefix)),
      quarantine_in_source_(quarantine_bucket_.empty() || quarantine_bucket_ == bucket_),
      client_(std::move(client)) {}

absl::StatusOr<std::unique_ptr<S3Source>> S3Source::Create(S3SourceOptions options) {
  if (options.id.empty()) return absl::InvalidArgumentError("S3 source: empty id");
  absl::StatusOr<S3Credentials> credentials = LoadS3Credentials(options.credentials);
  if (!credentials.ok()) return Annotate(credentials.status(), fmt::format("S3 source '{}'", options.id));
  options.client.credentials = std::move(*credentials);
  absl::StatusOr<std::unique_ptr<S3Client>> client = S3Client::Create(options.client);
  if (!client.ok()) return Annotate(client.status(), fmt::format("S3 source '{}'", options.id));
  return CreateWithClient(std::move(options), std::shared_ptr<S3Client>(std::move(*client)));
}

absl::StatusOr<std::unique_ptr<S3Source>> S3Source::CreateWithClient(S3SourceOptions options,
                                                                     std::shared_ptr<S3Client> client) {
  if (options.id.empty()) return absl::InvalidArgumentError("S3 source: empty id");
  if (client == nullptr)
    return absl::InvalidArgumentError(fmt::format("S3 source '{}': no client", options.id));
  const std::string where = fmt::format("S3 source '{}'", options.id);
  RETURN_IF_ERROR(Annotate(ValidateBucket(options.bucket, client->options().addressing), where));
  if (!options.quarantine_bucket.empty()) {
    RETURN_IF_ERROR(Annotate(ValidateBucket(options.quarantine_bucket, client->options().addressing),
                             where + " quarantine_bucket"));
  }
  if (options.prefix.size() > kMaxKeyBytes || options.quarantine_prefix.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError(fmt::format("{}: prefix longer than {} bytes", where, kMaxKeyBytes));
  }
  if (options.page_size < 1 || options.page_size > 1000) {
    return absl::InvalidArgumentError(
        fmt::format("{}: page_size {} must be 1..1000", where, options.page_size));
  }
  if (options.read_chunk_bytes != 0 &&
      (options.read_chunk_bytes < kMinChunkBytes || options.read_chunk_bytes > kMaxChunkBytes)) {
    return absl::InvalidArgumentError(
        fmt::format("{}: read_chunk_bytes {} must be 0 (one GET per object) or {}..{}", where,
                    options.read_chunk_bytes, kMinChunkBytes, kMaxChunkBytes));
  }
  const bool same_bucket = options.quarantine_bucket.empty() || options.quarantine_bucket == options.bucket;
  if (same_bucket && options.quarantine_prefix.empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: quarantine into the source bucket needs a quarantine_prefix, or set quarantine_bucket", where));
  }
  return std::unique_ptr<S3Source>(new S3Source(std::move(options), std::move(client)));
}

int S3Source::CompareKeys(std::string_view a, std::string_view b) const {
  const size_t common = std::min(a.size(), b.size());
  const int c = common == 0 ? 0 : std::memcmp(a.data(), b.data(), common);
  if (c != 0) return c < 0 ? -1 : 1;
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

std::optional<ObjectRef> S3Source::ListedRef(std::string key, std::optional<uint64_t> size,
                                             std::string_view etag, std::string_view version_id,
                                             ListingSink& sink) const {
  if (key.size() > kMaxKeyBytes) {
    sink.OnSkipped(Shorten(key), fmt::format("listing gave a key longer than {} bytes", kMaxKeyBytes));
    return std::nullopt;
  }
  if (!size.has_value()) {
    sink.OnSkipped(key, "listing gave no valid Size");
    return std::nullopt;
  }
  if (*size == 0 && key.ends_with('/')) {
    sink.OnSkipped(key, "folder marker (zero-byte key ending in '/')");
    return std::nullopt;
  }
  std::string normalized = NormalizeEtag(etag);
  if (normalized.empty()) {
    sink.OnSkipped(key, "listing gave no ETag, so changes could not be detected");
    return std::nullopt;
  }
  if (list_versions_) {
    // '@' separates the ETag from the version id in ObjectRef.version.
    if (normalized.find('@') != std::string::npos || version_id.find('@') != std::string_view::npos) {
      sink.OnSkipped(key, "listing gave an ETag or version id containing '@'");
      return std::nullopt;
    }
    if (version_id.size() > kMaxVersionIdBytes) {
      sink.OnSkipped(key, fmt::format("listing gave a version id longer than {} bytes", kMaxVersionIdBytes));
      return std::nullopt;
    }
  }
  ObjectRef ref;
  ref.source_id = id_;
  ref.key = std::move(key);
  ref.version = list_versions_ ? S3RefVersion(normalized, version_id) : std::move(normalized);
  ref.size = *size;
  return ref;
}

absl::Status S3Source::List(std::string_view after, ListingSink& sink) {
  if (list_versions_) return ListLatestVersions(after, sink);
  std::string last_key(after);
  std::string token;
  std::string previous_token;
  int empty_pages = 0;
  while (true) {
    S3Request request;
    request.operation = "ListObjectsV2";
    request.bucket = bucket_;
    request.query = {{"list-type", "2"}, {"max-keys", std::to_string(page_size_)}};
    if (!prefix_.empty()) request.query.emplace_back("prefix", prefix_);
    const std::string requested_after = token.empty() ? last_key : std::string();
    if (!token.empty()) {
      request.query.emplace_back("continuation-token", token);
    } else if (!last_key.empty()) {
      // First page, or a server that gave no continuation token: resume
      // strictly after the last key seen.
      request.query.emplace_back("start-after", last_key);
    }
    ASSIGN_OR_RETURN(S3Response response, client_->SendChecked(request));
    absl::StatusOr<XmlElement> root = ParseS3Xml(response.body);
    if (!root.ok() || root->name != "ListBucketResult") {
      return absl::DataLossError(
          fmt::format("S3 source '{}': ListObjectsV2 of s3://{} at {} returned no ListBucketResult ({}); is "
                      "the endpoint an "
                      "S3 API?",
                      id_, bucket_, client_->endpoint(),
                      root.ok() ? "root element <" + Shorten(root->name, 40) + ">"
                                : std::string(root.status().message())));
    }
    const bool url_encoded = root->ChildText("EncodingType") == "url";
    size_t page_objects = 0;
    for (const XmlElement& entry : root->children) {
      if (entry.name != "Contents") continue;
      ++page_objects;
      std::string key = entry.ChildText("Key");
      if (url_encoded) {
        std::string decoded;
        if (!S3UriDecode(key, /*plus_is_space=*/true, &decoded)) {
          sink.OnSkipped(key, "listing gave a malformed url-encoded key");
          continue;
        }
        key = std::move(decoded);
      }
      if (CompareKeys(key, after) <= 0) continue;  // the server ignored start-after
      if (CompareKeys(key, last_key) <= 0) {
        return absl::DataLossError(fmt::format(
            "S3 source '{}': ListObjectsV2 of s3://{} at {} returned key '{}' after '{}': S3 lists keys in "
            "ascending UTF-8 byte order, and resuming safely depends on it; this endpoint cannot be swept",
            id_, bucket_, client_->endpoint(), Shorten(key), Shorten(last_key)));
      }
      last_key = key;
      if (!std::string_view(key).starts_with(prefix_)) continue;
      if (quarantine_in_source_ && std::string_view(key).starts_with(quarantine_prefix_)) continue;
      uint64_t size = 0;
      std::optional<uint64_t> listed_size;
      if (ParseUint64(entry.ChildText("Size"), &size)) listed_size = size;
      std::optional<ObjectRef> ref =
          ListedRef(std::move(key), listed_size, entry.ChildText("ETag"), "", sink);
      if (ref.has_value() && !sink.OnObject(std::move(*ref))) return absl::OkStatus();
    }
    if (root->ChildText("IsTruncated") != "true") return absl::OkStatus();
    previous_token = std::move(token);
    token = root->ChildText("NextContinuationToken");
    if (token.empty() && last_key == requested_after) {
      return absl::DataLossError(
          fmt::format("S3 source '{}': ListObjectsV2 of s3://{} at {} is truncated but gives no continuation "
                      "token and no "
                      "key past '{}'",
                      id_, bucket_, client_->endpoint(), Shorten(last_key)));
    }
    if (page_objects == 0) {
      if (++empty_pages > kMaxEmptyPages || (!token.empty() && token == previous_token)) {
        return absl::DataLossError(fmt::format(
            "S3 source '{}': ListObjectsV2 of s3://{} at {} keeps returning truncated pages without keys",
            id_, bucket_, client_->endpoint()));
      }
    } else {
      empty_pages = 0;
    }
  }
}

absl::Status S3Source::ListLatestVersions(std::string_view after, ListingSink& sink) {
  // The listing resumes strictly after key_marker (within that key, after
  // version_marker when set). The versions of one key come newest first, so
  // once a key's latest entry is seen its other versions can be skipped by
  // continuing after the key itself.
  std::string key_marker(after);
  std::string version_marker;
  // The key whose entries are being read, and whether its latest entry was
  // seen (listed, or a delete marker: not listed).
  std::string current_key(after);
  bool current_decided = true;
  int empty_pages = 0;
  while (true) {
    S3Request request;
    request.operation = "ListObjectVersions";
    request.bucket = bucket_;
    request.query = {{"versions", ""}, {"max-keys", std::to_string(page_size_)}};
    if (!prefix_.empty()) request.query.emplace_back("prefix", prefix_);
    if (!key_marker.empty()) request.query.emplace_back("key-marker", key_marker);
    if (!version_marker.empty()) request.query.emplace_back("version-id-marker", version_marker);
    ASSIGN_OR_RETURN(S3Response response, client_->SendChecked(request));
    absl::StatusOr<S3VersionPage> page = ParseListVersionsResult(response.body);
    if (!page.ok()) {
      return absl::DataLossError(
          fmt::format("S3 source '{}': ListObjectVersions of s3://{} at {} gave no valid ListVersionsResult "
                      "({}); does the "
                      "endpoint list object versions? Otherwise turn list_versions off",
                      id_, bucket_, client_->endpoint(), std::string(page.status().message())));
    }
    bool progressed = false;
    for (S3VersionEntry& entry : page->entries) {
      std::string key = std::move(entry.key);
      if (page->url_encoded) {
        std::string decoded;
        if (!S3UriDecode(key, /*plus_is_space=*/true, &decoded)) {
          sink.OnSkipped(Shorten(key), "listing gave a malformed url-encoded key");
          continue;
        }
        key = std::move(decoded);
      }
      if (CompareKeys(key, after) <= 0) continue;  // the server ignored key-marker
      const int order = CompareKeys(key, current_key);
      if (order < 0) {
        return absl::DataLossError(fmt::format(
            "S3 source '{}': ListObjectVersions of s3://{} at {} returned key '{}' after '{}': S3 lists keys "
            "in ascending UTF-8 byte order, and resuming safely depends on it; this endpoint cannot be swept",
            id_, bucket_, client_->endpoint(), Shorten(key), Shorten(current_key)));
      }
      if (order > 0) {
        current_key = key;
        current_decided = false;
        progressed = true;
      }
      if (current_decided || !entry.is_latest) continue;  // a noncurrent version
      current_decided = true;
      if (entry.delete_marker) continue;  // deleted: nothing to read
      if (!std::string_view(key).starts_with(prefix_)) continue;
      if (quarantine_in_source_ && std::string_view(key).starts_with(quarantine_prefix_)) continue;
      std::optional<ObjectRef> ref =
          ListedRef(std::move(key), entry.size, entry.etag, entry.version_id, sink);
      if (ref.has_value() && !sink.OnObject(std::move(*ref))) return absl::OkStatus();
    }
    if (!page->truncated) return absl::OkStatus();
    std::string next_key = current_key;
    std::string next_version;
    if (!current_decided || current_key.empty()) {
      // Inside a key whose latest entry has not come yet (or nothing seen):
      // only the server's markers say where to go on.
      next_key = page->next_key_marker;
      next_version = page->next_version_id_marker;
      if (page->url_encoded) {
        std::string decoded;
        if (!S3UriDecode(next_key, /*plus_is_space=*/true, &decoded)) decoded.clear();
        next_key = std::move(decoded);
      }
    }
    if (next_key.empty() || (next_key == key_marker && next_version == version_marker)) {
      return absl::DataLossError(
          fmt::format("S3 source '{}': ListObjectVersions of s3://{} at {} is truncated but gives no marker "
                      "past key '{}'",
                      id_, bucket_, client_->endpoint(), Shorten(key_marker)));
    }
    if (!progressed && ++empty_pages > kMaxEmptyPages) {
      return absl::DataLossError(fmt::format(
          "S3 source '{}': ListObjectVersions of s3://{} at {} keeps returning truncated pages without new "
          "keys",
          id_, bucket_, client_->endpoint()));
    }
    if (progressed) empty_pages = 0;
    key_marker = std::move(next_key);
    version_marker = std::move(next_version);
  }
}

absl::Status S3Source::CheckRef(const ObjectRef& ref) const {
  if (ref.source_id != id_) {
    return absl::InvalidArgumentError(
        fmt::format("S3 source '{}': ref of another source '{}'", id_, Shorten(ref.source_id, 80)));
  }
  if (ref.key.empty() || ref.key.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError(
        fmt::format("S3 source '{}': key must be 1..{} bytes, got {}", id_, kMaxKeyBytes, ref.key.size()));
  }
  if (!std::string_view(ref.key).starts_with(prefix_)) {
    return absl::InvalidArgumentError(
        fmt::format("S3 source '{}': key '{}' is outside the prefix '{}'", id_, Shorten(ref.key), prefix_));
  }
  return absl::OkStatus();
}

std::string S3Source::PinnedEtag(const ObjectRef& ref) const {
  if (!verify_listed_etag_) return std::string();
  return NormalizeEtag(list_versions_ ? SplitS3RefVersion(ref.version).first : ref.version);
}

std::string S3Source::PinnedVersionId(const ObjectRef& ref) const {
  if (!verify_listed_etag_ || !list_versions_) return std::string();
  return SplitS3RefVersion(ref.version).second;
}

std::string S3Source::QuarantineBucket() const {
  return quarantine_bucket_.empty() ? bucket_ : quarantine_bucket_;
}

absl::StatusOr<std::unique_ptr<ObjectReader>> S3Source::Open(const ObjectRef& ref) {
  RETURN_IF_ERROR(CheckRef(ref));
  std::string version_id = PinnedVersionId(ref);
  if (version_id.size() > kMaxVersionIdBytes) {
    return absl::InvalidArgumentError(fmt::format("S3 source '{}': {}: version id longer than {} bytes", id_,
                                                  Shorten(ref.key), kMaxVersionIdBytes));
  }
  auto reader = std::make_unique<S3ObjectReader>(client_, id_, bucket_, ref.key, PinnedEtag(ref),
                                                 std::move(version_id), ref.size, read_chunk_bytes_);
  RETURN_IF_ERROR(reader->Start());
  return std::unique_ptr<ObjectReader>(std::move(reader));
}

absl::StatusOr<ObjectRef> S3Source::Stat(std::string_view key) {
  ObjectRef ref;
  ref.source_id = id_;
  ref.key = std::string(key);
  RETURN_IF_ERROR(CheckRef(ref));
  if (quarantine_in_source_ && key.starts_with(quarantine_prefix_)) {
    return absl::InvalidArgumentError(
        fmt::format("S3 source '{}': key '{}' is under the quarantine prefix '{}', which is not swept", id_,
                    Shorten(key), quarantine_prefix_));
  }
  S3Request request;
  request.operation = "HeadObject";
  request.method = "HEAD";
  request.bucket = bucket_;
  request.key = ref.key;
  ASSIGN_OR_RETURN(S3Response response, client_->Send(request));
  if (response.status == 404) {
    return absl::NotFoundError(fmt::format("S3 source '{}': no object s3://{}/{} at {}", id_, bucket_,
                                           Shorten(key), client_->endpoint()));
  }
  RETURN_IF_ERROR(client_->StatusOf(request, response));
  uint64_t size = 0;
  if (!ParseUint64(response.Header("content-length"), &size)) {
    return absl::FailedPreconditionError(fmt::format(
        "S3 source '{}': HeadObject of s3://{}/{} gave no valid Content-Length", id_, bucket_, Shorten(key)));
  }
  if (size == 0 && key.ends_with('/')) {
    return absl::InvalidArgumentError(fmt::format(
        "S3 source '{}': key '{}' is a folder marker (zero-byte key ending in '/'), not an object", id_,
        Shorten(key)));
  }
  ref.version = NormalizeEtag(response.Header("etag"));
  if (ref.version.empty()) {
    return absl::FailedPreconditionError(
        fmt::format("S3 source '{}': HeadObject of s3://{}/{} gave no ETag, so changes could not be detected",
                    id_, bucket_, Shorten(key)));
  }
  if (list_versions_) {
    const std::string version_id = response.Header("x-amz-version-id");
    if (ref.version.find('@') != std::string::npos || version_id.find('@') != std::string::npos ||
        version_id.size() > kMaxVersionIdBytes) {
      return absl::FailedPreconditionError(fmt::format(
          "S3 source '{}': HeadObject of s3://{}/{} gave an ETag or version id containing '@' or a version "
          "id over {} bytes",
          id_, bucket_, Shorten(key), kMaxVersionIdBytes));
    }
    ref.version = S3RefVersion(ref.version, version_id);
  }
  ref.size = size;
  return ref;
}

absl::Status S3Source::Delete(const ObjectRef& ref) {
  RETURN_IF_ERROR(CheckRef(ref));
  S3Request request;
  request.operation = "DeleteObject";
  request.method = "DELETE";
  request.bucket = bucket_;
  request.key = ref.key;
  ASSIGN_OR_RETURN(S3Response response, client_->Send(request));
  if (response.status == 404) {
    // Some S3-compatible stores answer 404 NoSuchKey where S3 answers 204.
    if (ParseS3ErrorBody(response.body).code == "NoSuchKey") return absl::OkStatus();
  }
  return client_->StatusOf(request, response);
}

absl::StatusOr<std::string> S3Source::CopyToQuarantine(const ObjectRef& ref) {
  RETURN_IF_ERROR(CheckRef(ref));
  const std::string target_bucket = QuarantineBucket();
  const std::string target_key = quarantine_prefix_ + ref.key;
  if (target_key.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError(fmt::format("S3 source '{}': {}: quarantine key would exceed {} bytes",
                                                  id_, Shorten(ref.key), kMaxKeyBytes));
  }
  if (target_bucket == bucket_ && target_key == ref.key) {
    return absl::InvalidArgumentError(fmt::format(
        "S3 source '{}': {}: quarantine copy would overwrite the object itself", id_, Shorten(ref.key)));
  }
  if (ref.size > kMaxCopyBytes) {
    return absl::FailedPreconditionError(
        fmt::format("S3 source '{}': {}: {} bytes is over the 5 GiB single-request CopyObject limit "
                    "(multipart copy is not "
                    "implemented); quarantine it by other means",
                    id_, Shorten(ref.key), ref.size));
  }
  S3Request request;
  request.operation = "CopyObject";
  request.method = "PUT";
  request.bucket = target_bucket;
  request.key = target_key;
  request.error_in_200_body = true;
  request.headers.emplace_back("x-amz-copy-source",
                               "/" + bucket_ + "/" + S3UriEncode(ref.key, /*keep_slash=*/true));
  request.headers.emplace_back("x-amz-metadata-directive", "COPY");
  // No x-amz-copy-source-if-match: libcurl 7.88 sorts SigV4 canonical headers
  // as whole "name:value" lines, which mis-orders a header whose name extends
  // another's (x-amz-copy-source), so S3 would refuse the signature. The
  // copied ETag is checked below instead.
  const std::string etag = PinnedEtag(ref);
  ASSIGN_OR_RETURN(S3Response response, client_->Send(request));
  absl::Status status = client_->StatusOf(request, response);
  if (!status.ok()) return status;
  absl::StatusOr<XmlElement> root = ParseS3Xml(response.body);
  if (!root.ok() || root->name != "CopyObjectResult") {
    return absl::DataLossError(
        fmt::format("S3 source '{}': {}: CopyObject to s3://{}/{} gave no CopyObjectResult", id_,
                    Shorten(ref.key), target_bucket, Shorten(target_key)));
  }
  // A single-request copy keeps the ETag of a non-multipart object (its MD5);
  // a different one means the object changed since it was listed. Multipart
  // ETags ("<md5>-<parts>") are not comparable after a copy.
  if (!etag.empty()) {
    std::string copied = NormalizeEtag(root->ChildText("ETag"));
    if (!copied.empty() && copied != etag && copied.find('-') == std::string::npos &&
        etag.find('-') == std::string::npos) {
      S3Request undo;
      undo.operation = "DeleteObject";
      undo.method = "DELETE";
      undo.bucket = target_bucket;
      undo.key = target_key;
      absl::Status undone = client_->SendChecked(undo).status();
      return absl::FailedPreconditionError(fmt::format(
          "S3 source '{}': {}: object changed since it was listed (ETag {} now, {} listed); not "
          "quarantined{}",
          id_, Shorten(ref.key), copied, etag,
          undone.ok() ? std::string()
                      : fmt::format(" (and its copy at s3://{}/{} could not be removed: {})", target_bucket,
                                    Shorten(target_key), std::string(undone.message()))));
    }
  }
  return fmt::format("s3://{}/{}", target_bucket, target_key);
}

absl::StatusOr<std::string> S3Source::Quarantine(const ObjectRef& ref) {
  ASSIGN_OR_RETURN(std::string location, CopyToQuarantine(ref));
  RETURN_IF_ERROR(Annotate(Delete(ref), fmt::format("copied to {} but not deleted", location)));
  return location;
}

absl::Status S3Source::PutTags(const ObjectRef& ref,
                               const std::vector<std::pair<std::string, std::string>>& tags) {
  RETURN_IF_ERROR(CheckRef(ref));
  if (tags.size() > kMaxTags) {
    return absl::InvalidArgumentError(
        fmt::format("S3 source '{}': {} tags; S3 allows at most {} per object", id_, tags.size(), kMaxTags));
  }
  std::set<std::string_view> seen;
  std::string body =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
      "<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet>";
  for (const auto& [name, value] : tags) {
    if (name.empty() || Utf8Length(name) > 128 || Utf8Length(value) > 256) {
      return absl::InvalidArgumentError(
          fmt::format("S3 source '{}': tag '{}': keys must be 1..128 and values 0..256 characters", id_,
                      Shorten(name, 140)));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(fmt::format("S3 source '{}': tag key '{}' given twice", id_, name));
    }
    body += "<Tag><Key>" + XmlEscape(name) + "</Key><Value>" + XmlEscape(value) + "</Value></Tag>";
  }
  body += "</TagSet></Tagging>";
  S3Request request;
  request.operation = "PutObjectTagging";
  request.method = "PUT";
  request.bucket = bucket_;
  request.key = ref.key;
  request.query = {{"tagging", ""}};
  request.headers.emplace_back("Content-Type", "application/xml");
  request.body = std::move(body);
  return client_->SendChecked(request).status();
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> S3Source::GetTags(const ObjectRef& ref) {
  RETURN_IF_ERROR(CheckRef(ref));
  S3Request request;
  request.operation = "GetObjectTagging";
  request.bucket = bucket_;
  request.key = ref.key;
  request.query = {{"tagging", ""}};
  ASSIGN_OR_RETURN(S3Response response, client_->SendChecked(request));
  ASSIGN_OR_RETURN(XmlElement root, ParseS3Xml(response.body));
  const XmlElement* tag_set = root.Child("TagSet");
  std::vector<std::pair<std::string, std::string>> tags;
  if (root.name != "Tagging") {
    return absl::DataLossError(
        fmt::format("S3 source '{}': {}: GetObjectTagging gave no <Tagging>", id_, Shorten(ref.key)));
  }
  if (tag_set == nullptr) return tags;
  for (const XmlElement& tag : tag_set->children) {
    if (tag.name == "Tag") tags.emplace_back(tag.ChildText("Key"), tag.ChildText("Value"));
  }
  return tags;
}

}  // namespace takedown
