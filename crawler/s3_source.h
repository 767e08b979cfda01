// S3Source: the objects of one bucket (optionally under one key prefix) of an
// S3-compatible object store, through S3Client (crawler/s3_client.h).
//
// Listing: ListObjectsV2 pages of up to page_size keys, following
// continuation tokens; List(after) passes `after` as start-after, so a resumed
// sweep never re-lists what lies before the cursor. S3 lists keys in
// ascending UTF-8 byte order, and CompareKeys is exactly that bytewise order.
// Because resumption depends on it, a page whose keys do not strictly ascend
// fails the listing (DataLoss) instead of emitting objects out of order; keys
// at or before `after` (a server ignoring start-after) are dropped silently.
// Zero-byte keys ending in '/' (console "folder" markers) are reported to the
// sink as skipped; keys under the quarantine prefix of the source bucket are
// not listed.
//
// Versions: ObjectRef.version is the ETag without quotes (ListObjectsV2
// carries no version id), ObjectRef.size the listed size.
//
// Reading: Open() returns a reader that fetches the object in ranged GETs of
// read_chunk_bytes (one request for small objects), so memory per reader is
// bounded by one chunk whatever the object's size. All chunks are pinned to
// one ETag (If-Match plus a client-side check of the returned ETag): the
// listed one when verify_listed_etag (the default) and the ref has a version,
// otherwise the ETag of the first response. Open() fetches the first chunk, so
// a vanished object is NotFound at Open(); an object rewritten since listing
// is FailedPrecondition (the next sweep lists and reads the new version).
//
// Actions (hosting-provider role): Delete(), CopyToQuarantine() (server-side
// CopyObject to quarantine_bucket / quarantine_prefix + key; a copy whose
// ETag differs from the listed one is removed again and the call fails),
// Quarantine() (copy, then delete) and PutTags() (PutObjectTagging, replacing
// the object's tag set).
//
// Thread-safety: immutable after Create(). List(), Open() and the actions may
// run concurrently from any threads; each ObjectReader is used by one thread at
// a time. The client's max_concurrent_requests bounds requests in flight.
#pragma once

#include <cstdint>
#include <memory>
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
  // Bytes per ranged GET, and so the reader's buffer bound; 64 KiB..256 MiB.
  uint64_t read_chunk_bytes = 8 * 1024 * 1024;
  // Open() reads only the listed version (If-Match on the listed ETag).
  bool verify_listed_etag = true;
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
  absl::Status List(std::string_view after, ListingSink& sink) override;

  // InvalidArgument for a ref of another source or a key outside the prefix
  // or longer than kMaxKeyBytes; NotFound when the object is gone;
  // FailedPrecondition when it changed since listing; the client's errors
  // otherwise. Reader errors: the same, per chunk.
  absl::StatusOr<std::unique_ptr<ObjectReader>> Open(const ObjectRef& ref) override;

  int CompareKeys(std::string_view a, std::string_view b) const override;

  // HeadObject: the ref List() would give `key` (the ETag without quotes as
  // version, Content-Length as size). InvalidArgument for a key List() never
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
  std::string QuarantineBucket() const;

  // Constant after construction.
  const std::string id_;
  const std::string bucket_;
  const std::string prefix_;
  const int page_size_;
  const uint64_t read_chunk_bytes_;
  const bool verify_listed_etag_;
  const std::string quarantine_bucket_;
  const std::string quarantine_prefix_;
  const bool quarantine_in_source_;
  const std::shared_ptr<S3Client> client_;
};

// The ETag without surrounding quotes and without a weak "W/" prefix.
std::string NormalizeEtag(std::string_view etag);

}  // namespace takedown
