// S3Source: the objects of one bucket (optionally under one key prefix) of an
// S3-compatible object store, through S3Client (crawler/s3_client.h).
//
// Listing: ListObjectsV2 pages of up to page_size keys, following
// continuation tokens; List(after) passes `after` as start-after, so a resumed
// sweep never re-lists what lies before the cursor. With list_versions,
// ListObjectVersions pages instead (key-marker = `after`, then the last key
// seen): each key's latest version is listed, keys whose latest entry is a
// delete marker are not, noncurrent versions are skipped. S3 lists keys in
// ascending UTF-8 byte order, and CompareKeys is exactly that bytewise order.
// Because resumption depends on it, a page whose keys do not strictly ascend
// fails the listing (DataLoss) instead of emitting objects out of order; keys
// at or before `after` (a server ignoring start-after) are dropped silently.
// Zero-byte keys ending in '/' (console "folder" markers) are reported to the
// sink as skipped; keys under the quarantine prefix of the source bucket are
// not listed.
//
// Versions: ObjectRef.version is the ETag without quotes (ListObjectsV2
// carries no version id); with list_versions it is S3RefVersion(etag,
// version id), "<etag>@<version id>" on a versioned bucket. ObjectRef.size is
// the listed size.
//
// Reading: Open() returns a reader that streams the object with one GET
// (S3Client::SendStreaming): libcurl writes the bytes straight into the
// caller's buffer, inside Read(), and the transfer waits while the caller
// works, so a reader holds no buffer and no thread whatever the object's
// size. With read_chunk_bytes set, each GET asks for at most that many bytes
// (Range). A GET that breaks off is resumed at the byte where it stopped
// (Range + If-Match), after a backoff, up to retry.max_attempts times in a
// row without progress. Every GET is pinned to one ETag (If-Match plus a
// client-side check of the returned ETag): the listed one when
// verify_listed_etag (the default) and the ref has a version, otherwise the
// ETag of the first response. A ref whose version carries a version id reads
// that version (?versionId=), also with the ETag check. Open() sends the
// first GET, so a vanished object is NotFound at Open(); an object rewritten
// since listing is FailedPrecondition (the next sweep lists and reads the new
// version). A reader holds one of the client's concurrency slots while its
// GET is open: until the object has been received, or the reader is
// destroyed (which aborts the transfer).
//
// Actions (hosting-provider role): Delete(), CopyToQuarantine() (server-side
// CopyObject to quarantine_bucket / quarantine_prefix + key; a copy whose
// ETag differs from the listed one is removed again and the call fails),
// Quarantine() (copy, then delete) and PutTags() (PutObjectTagging, replacing
// the object's tag set).
//
// Thread-safety: immutable after Create(). List(), Open() and the actions may
// run concurrently from any threads; each ObjectReader is used by one thread at
// a time and may outlive the source. The client's max_concurrent_requests
// bounds requests in flight, open readers included.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crawler/s3_client.h"
#include "crawler/s3_credentials.h"
#include "crawler/source.h"

namespace takedown {

struct S3SourceOptions {
  std::string id;
  std::string bucket;
  // Only keys starting with this prefix are listed (and opened).
  std::string prefix;
  // Endpoint, region, addressing, TLS, timeouts, retries, concurrency. Its
  // `credentials` field is replaced by what `credentials` below loads.
  S3ClientOptions client;
  S3CredentialOptions credentials;
  // Keys per ListObjectsV2 page, 1..1000.
  int page_size = 1000;
  // 0: read each object with one GET. Otherwise the most bytes one GET asks
  // for (Range), 64 KiB..256 MiB: for stores or proxies that limit response
  // sizes. Reads never buffer a chunk either way.
  uint64_t read_chunk_bytes = 0;
  // Open() reads only the listed version (If-Match on the listed ETag and,
  // with list_versions, ?versionId= on its version id).
  bool verify_listed_etag = true;
  // List with ListObjectVersions, so ObjectRef.version carries the version
  // id of a versioned bucket and Open() reads exactly the listed version
  // (needs s3:ListBucketVersions and s3:GetObjectVersion).
  bool list_versions = false;
  // Where CopyToQuarantine() puts copies: bucket (empty: the source bucket)
  // and a key prefix prepended to the object's key. Copying into the source
  // bucket needs a non-empty prefix; List() then never lists keys under it,
  // so quarantined copies are not swept again.
  std::string quarantine_bucket;
  std::string quarantine_prefix = "takedown-quarantine/";
};

class S3Source final : public Source {
 public:
  // Longest key S3 allows.
  static constexpr size_t kMaxKeyBytes = 1024;
  // Longest version id accepted from a listing or a response (AWS's are 32).
  static constexpr size_t kMaxVersionIdBytes = 1024;
  // CopyObject's limit for a single-request copy.
  static constexpr uint64_t kMaxCopyBytes = 5ull * 1024 * 1024 * 1024;
  static constexpr size_t kMaxTags = 10;

  // Loads the credentials and builds a client. InvalidArgument for an empty
  // id, a malformed bucket name, out-of-range options or a bad endpoint;
  // credential loading errors as LoadS3Credentials returns them. Makes no
  // request.
  static absl::StatusOr<std::unique_ptr<S3Source>> Create(S3SourceOptions options);
  // Uses an existing client (shared by several sources at one endpoint);
  // options.client and options.credentials are ignored.
  static absl::StatusOr<std::unique_ptr<S3Source>> CreateWithClient(S3SourceOptions options,
                                                                    std::shared_ptr<S3Client> client);

  const std::string& id() const override { return id_; }
  const std::string& bucket() const { return bucket_; }
  S3Client& client() const { return *client_; }

  // Errors: PermissionDenied (credentials refused; names bucket and
  // endpoint), NotFound (no such bucket), Unavailable/DeadlineExceeded (the
  // endpoint stayed unreachable through the retries), DataLoss (a malformed or
  // out-of-order listing). Objects emitted before an error stay emitted.
  // Entries with an over-long key or version id, no size or no ETag are
  // reported to the sink as skipped.
  absl::Status List(std::string_view after, ListingSink& sink) override;

  // InvalidArgument for a ref of another source or a key outside the prefix
  // or longer than kMaxKeyBytes; NotFound when the object is gone;
  // FailedPrecondition when it changed since listing; the client's errors
  // otherwise. Reader errors: the same, per chunk.
  absl::StatusOr<std::unique_ptr<ObjectReader>> Open(const ObjectRef& ref) override;

  int CompareKeys(std::string_view a, std::string_view b) const override;

  // HeadObject: the ref List() would give `key` (the ETag without quotes as
  // version, with the x-amz-version-id appended as S3RefVersion does when
  // list_versions; Content-Length as size). InvalidArgument for a key List() never
  // reports (empty, over kMaxKeyBytes, outside the prefix, under the
  // quarantine prefix of the source bucket, a folder marker); NotFound when
  // the object does not exist; FailedPrecondition when the response carries
  // no ETag; the client's errors otherwise.
  absl::StatusOr<ObjectRef> Stat(std::string_view key) override;

  // DeleteObject. OK also when the object was already gone (S3 semantics).
  absl::Status Delete(const ObjectRef& ref);

  // Server-side copy to the quarantine location; returns "s3://bucket/key" of
  // the copy. FailedPrecondition when the object changed since listing (with
  // verify_listed_etag) or is larger than kMaxCopyBytes; InvalidArgument when
  // the copy would overwrite the object itself or its key would exceed
  // kMaxKeyBytes; NotFound when the object is gone.
  absl::StatusOr<std::string> CopyToQuarantine(const ObjectRef& ref);

  // CopyToQuarantine, then Delete. The original stays when the copy fails.
  absl::StatusOr<std::string> Quarantine(const ObjectRef& ref);

  // Replaces the object's tags. InvalidArgument for more than kMaxTags tags,
  // an empty or over-128-character key, an over-256-character value, or a
  // duplicated key.
  absl::Status PutTags(const ObjectRef& ref, const std::vector<std::pair<std::string, std::string>>& tags);

  // The object's tags, in the order the server returns them.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> GetTags(const ObjectRef& ref);

 private:
  S3Source(S3SourceOptions options, std::shared_ptr<S3Client> client);

  absl::Status CheckRef(const ObjectRef& ref) const;
  // The key's ETag to pin reads and copies to, or "" for none.
  std::string PinnedEtag(const ObjectRef& ref) const;
  // The version id to read, or "" for the current version.
  std::string PinnedVersionId(const ObjectRef& ref) const;
  absl::Status ListLatestVersions(std::string_view after, ListingSink& sink);
  // The ref of one listed entry (of a key already checked for order, prefix
  // and quarantine), or nullopt after telling the sink why it is not read.
  std::optional<ObjectRef> ListedRef(std::string key, std::optional<uint64_t> size, std::string_view etag,
                                     std::string_view version_id, ListingSink& sink) const;
  std::string QuarantineBucket() const;

  // Constant after construction.
  const std::string id_;
  const std::string bucket_;
  const std::string prefix_;
  const int page_size_;
  const uint64_t read_chunk_bytes_;
  const bool verify_listed_etag_;
  const bool list_versions_;
  const std::string quarantine_bucket_;
  const std::string quarantine_prefix_;
  const bool quarantine_in_source_;
  const std::shared_ptr<S3Client> client_;
};

// The ETag without surrounding quotes and without a weak "W/" prefix.
std::string NormalizeEtag(std::string_view etag);

// ObjectRef.version of an object version with list_versions: "<etag>@<version
// id>", or the ETag alone when the version id is empty or "null" (an object
// written before versioning was enabled, or an unversioned bucket). `etag` is
// normalized first.
std::string S3RefVersion(std::string_view etag, std::string_view version_id);

// The ETag and version id S3RefVersion joined (split at the last '@'; the
// version id is "" when there is none).
std::pair<std::string, std::string> SplitS3RefVersion(std::string_view version);

}  // namespace takedown
