// Tests of S3Source's list_versions mode: the ListObjectVersions page parser
// on hand-written pages in the form AWS documents, and the source end to end
// against VersionedS3Fake, a small S3 look-alike on 127.0.0.1 (written here:
// s3rver does not implement versioning) that keeps every version of every
// key, answers ListObjectVersions with AWS's marker semantics, and serves
// GET/HEAD of a version (?versionId=, Range, If-Match).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/hex.h"
#include "crawler/s3_client.h"
#include "crawler/s3_source.h"
#include "crawler/s3_xml.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/crawler/collecting_sink.h"
#include "tests/crawler/loopback_acceptor.h"

namespace takedown {
namespace {

using ::takedown::testing::CollectingSink;
using ::takedown::testing::LoopbackAcceptor;

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using ::testing::SizeIs;

#define ASSERT_OK(expr)                         \
  do {                                          \
    const absl::Status assert_ok_ = (expr);     \
    ASSERT_TRUE(assert_ok_.ok()) << assert_ok_; \
  } while (0)

std::string Message(const absl::Status& status) { return std::string(status.message()); }

std::string Md5Hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), out, &length, EVP_md5(), nullptr);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(out), length));
}

std::string RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string data(size, '\0');
  for (char& c : data) c = static_cast<char>(rng() & 0xFF);
  return data;
}

// ---------------------------------------------------------------- parser

// A page as AWS's ListObjectVersions documentation shows them: namespace,
// owner and storage class, versions of one key newest first, a delete marker
// between versions, and the markers of a truncated page.
constexpr char kAwsStylePage[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>media</Name>
  <Prefix>photos/</Prefix>
  <KeyMarker></KeyMarker>
  <VersionIdMarker></VersionIdMarker>
  <NextKeyMarker>photos/cat.jpg</NextKeyMarker>
  <NextVersionIdMarker>Lz4.Qe_Ai2f9wC2tcyu8nRcoMZeOhYyh</NextVersionIdMarker>
  <MaxKeys>4</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <DeleteMarker>
    <Key>photos/bird.jpg</Key>
    <VersionId>03jpff543dhffds434rfdsFDN943fdsFkdmqnh892</VersionId>
    <IsLatest>true</IsLatest>
    <LastModified>2024-05-01T10:11:12.000Z</LastModified>
    <Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID></Owner>
  </DeleteMarker>
  <Version>
    <Key>photos/bird.jpg</Key>
    <VersionId>QUpfdndhfd8438MNFDN93jdnJFkdmqnh893</VersionId>
    <IsLatest>false</IsLatest>
    <LastModified>2024-04-30T08:00:00.000Z</LastModified>
    <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>
    <Size>434234</Size>
    <StorageClass>STANDARD</StorageClass>
    <Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID></Owner>
  </Version>
  <Version>
    <Key>photos/cat.jpg</Key>
    <VersionId>UIORUnfndfhnw89493jJFJ</VersionId>
    <IsLatest>true</IsLatest>
    <LastModified>2024-05-02T00:00:00.000Z</LastModified>
    <ETag>"9b2cf535f27731c974343645a3985328-3"</ETag>
    <Size>0</Size>
    <StorageClass>GLACIER</StorageClass>
  </Version>
  <Version>
    <Key>photos/cat.jpg</Key>
    <VersionId>Lz4.Qe_Ai2f9wC2tcyu8nRcoMZeOhYyh</VersionId>
    <IsLatest>false</IsLatest>
    <ETag>"d41d8cd98f00b204e9800998ecf8427e"</ETag>
    <Size>-5</Size>
  </Version>
</ListVersionsResult>)";

TEST(S3VersionsXml, ParsesVersionsDeleteMarkersAndMarkersInDocumentOrder) {
  absl::StatusOr<S3VersionPage> page = ParseListVersionsResult(kAwsStylePage);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->truncated);
  EXPECT_FALSE(page->url_encoded);
  EXPECT_EQ(page->next_key_marker, "photos/cat.jpg");
  EXPECT_EQ(page->next_version_id_marker, "Lz4.Qe_Ai2f9wC2tcyu8nRcoMZeOhYyh");
  ASSERT_THAT(page->entries, SizeIs(4));

  const S3VersionEntry& marker = page->entries[0];
  EXPECT_TRUE(marker.delete_marker);
  EXPECT_EQ(marker.key, "photos/bird.jpg");
  EXPECT_EQ(marker.version_id, "03jpff543dhffds434rfdsFDN943fdsFkdmqnh892");
  EXPECT_TRUE(marker.is_latest);
  EXPECT_EQ(marker.etag, "");
  EXPECT_FALSE(marker.size.has_value());
  EXPECT_EQ(marker.last_modified, "2024-05-01T10:11:12.000Z");

  const S3VersionEntry& old_bird = page->entries[1];
  EXPECT_FALSE(old_bird.delete_marker);
  EXPECT_FALSE(old_bird.is_latest);
  EXPECT_EQ(old_bird.etag, "\"fba9dede5f27731c9771645a39863328\"");  // as sent, quotes and all
  EXPECT_EQ(old_bird.size, std::optional<uint64_t>(434234));

  const S3VersionEntry& cat = page->entries[2];
  EXPECT_EQ(cat.key, "photos/cat.jpg");
  EXPECT_EQ(cat.version_id, "UIORUnfndfhnw89493jJFJ");
  EXPECT_TRUE(cat.is_latest);
  EXPECT_EQ(cat.size, std::optional<uint64_t>(0));
  EXPECT_EQ(cat.etag, "\"9b2cf535f27731c974343645a3985328-3\"");

  EXPECT_FALSE(page->entries[3].size.has_value()) << "a negative size is not a size";
  EXPECT_EQ(page->entries[3].last_modified, "");
}

TEST(S3VersionsXml, ReadsTheLastPageAndUrlEncodedKeysAsSent) {
  absl::StatusOr<S3VersionPage> page = ParseListVersionsResult(
      "<ListVersionsResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"
      "<Version><Key>a%20b+c</Key><VersionId>null</VersionId><IsLatest>true</IsLatest>"
      "<ETag>\"e\"</ETag><Size>18446744073709551615</Size></Version>"
      "<CommonPrefixes><Prefix>x/</Prefix></CommonPrefixes></ListVersionsResult>");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_FALSE(page->truncated);
  EXPECT_TRUE(page->url_encoded);
  EXPECT_EQ(page->next_key_marker, "");
  ASSERT_THAT(page->entries, SizeIs(1));
  EXPECT_EQ(page->entries[0].key, "a%20b+c");
  EXPECT_EQ(page->entries[0].version_id, "null");
  EXPECT_EQ(page->entries[0].size, std::optional<uint64_t>(UINT64_MAX));

  absl::StatusOr<S3VersionPage> empty = ParseListVersionsResult("<ListVersionsResult/>");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_FALSE(empty->truncated);
  EXPECT_TRUE(empty->entries.empty());
}

TEST(S3VersionsXml, RejectsOtherDocumentsAndHostilePages) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>",
       "expected a <ListVersionsResult>, got <ListBucketResult>"},
      {"<Error><Code>NotImplemented</Code></Error>", "got <Error>"},
      {"<ListVersionsResult><IsTruncated>maybe</IsTruncated></ListVersionsResult>",
       "IsTruncated 'maybe' is neither true nor false"},
      {"<ListVersionsResult><Version><Key>a</Key></ListVersionsResult>", "does not match"},
      {"<!DOCTYPE x [<!ENTITY e \"boom\">]><ListVersionsResult/>", "DOCTYPE"},
      {"", "no root element"},
  };
  for (const auto& [document, expected] : cases) {
    absl::StatusOr<S3VersionPage> page = ParseListVersionsResult(document);
    ASSERT_FALSE(page.ok()) << document;
    EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument) << document;
    EXPECT_THAT(Message(page.status()), HasSubstr(expected)) << document;
  }

  std::string many = "<ListVersionsResult>";
  for (size_t i = 0; i <= kMaxVersionEntriesPerPage; ++i) many += "<DeleteMarker/>";
  many += "</ListVersionsResult>";
  EXPECT_THAT(Message(ParseListVersionsResult(many).status()),
              HasSubstr("more than 10000 versions and delete markers in one page"));
}

TEST(S3RefVersion, JoinsTheEtagAndTheVersionIdAndSplitsThemAgain) {
  EXPECT_EQ(S3RefVersion("\"9b2c\"", "3HL4kqtJ.lcp_X"), "9b2c@3HL4kqtJ.lcp_X");
  EXPECT_EQ(S3RefVersion("W/\"9b2c\"", "null"), "9b2c");  // written before versioning was enabled
  EXPECT_EQ(S3RefVersion("9b2c", ""), "9b2c");
  EXPECT_THAT(SplitS3RefVersion("9b2c@3HL4kqtJ.lcp_X"), Pair("9b2c", "3HL4kqtJ.lcp_X"));
  EXPECT_THAT(SplitS3RefVersion("9b2c"), Pair("9b2c", ""));
  EXPECT_THAT(SplitS3RefVersion(""), Pair("", ""));
}

// ---------------------------------------------------------------- fake server

// An HTTP/1.1 server on 127.0.0.1 (one request per connection) holding one
// versioned bucket, kBucket. Thread-safe.
class VersionedS3Fake {
 public:
  static constexpr char kBucket[] = "versioned";

  std::string endpoint() const { return acceptor_.endpoint(); }

  // Adds a version as the newest of `key`; returns its version id (made up
  // when `version_id` is empty).
  std::string Put(const std::string& key, const std::string& data, std::string version_id = "") {
    absl::MutexLock lock(&mu_);
    if (version_id.empty()) version_id = fmt::format("3HL4kq.tJ_{:04d}", ++made_ids_);
    objects_[key].insert(objects_[key].begin(), Entry{version_id, false, data});
    return version_id;
  }
  std::string AddDeleteMarker(const std::string& key) {
    absl::MutexLock lock(&mu_);
    std::string version_id = fmt::format("DM.{:04d}", ++made_ids_);
    objects_[key].insert(objects_[key].begin(), Entry{version_id, true, ""});
    return version_id;
  }
  // Deletes one version for good (DeleteObject with versionId).
  void DeleteVersion(const std::string& key, const std::string& version_id) {
    absl::MutexLock lock(&mu_);
    std::vector<Entry>& versions = objects_[key];
    std::erase_if(versions, [&](const Entry& e) { return e.version_id == version_id; });
  }
  // The next ListObjectVersions requests are answered with these bodies, in
  // order, before the bucket's own listing resumes.
  void QueueListing(std::string body) {
    absl::MutexLock lock(&mu_);
    queued_listings_.push_back(std::move(body));
  }
  // The next object GET sends its head and only `body_bytes` of its body,
  // then (100 ms later) closes the connection.
  void CutNextBody(size_t body_bytes) {
    absl::MutexLock lock(&mu_);
    cut_body_ = body_bytes;
  }
  // Request lines ("GET /versioned?max-keys=2&versions= ") and their headers.
  std::vector<std::string> requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }
  std::vector<std::string> RequestLines() {
    std::vector<std::string> lines;
    for (const std::string& request : requests()) lines.push_back(request.substr(0, request.find("\r\n")));
    return lines;
  }
  void ClearRequests() {
    absl::MutexLock lock(&mu_);
    requests_.clear();
  }

 private:
  struct Entry {
    std::string version_id;
    bool delete_marker;
    std::string data;
  };
  struct Response {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
  };

  static std::string Decode(std::string_view text) {
    std::string out;
    EXPECT_TRUE(S3UriDecode(text, /*plus_is_space=*/false, &out)) << text;
    return out;
  }

  static Response Error(int status, const std::string& code) {
    Response response;
    response.status = status;
    response.body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code +
                    "</Code><Message>fake</Message><RequestId>FAKE</RequestId></Error>";
    return response;
  }

  void Serve(int fd) {
    std::string request;
    char buffer[8192];
    while (request.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      request.append(buffer, static_cast<size_t>(n));
    }
    if (request.find("\r\n\r\n") != std::string::npos) {
      Response response = Handle(request);
      std::optional<size_t> cut;
      {
        absl::MutexLock lock(&mu_);
        if (cut_body_.has_value() && response.status / 100 == 2 && !response.body.empty()) {
          cut.swap(cut_body_);
        }
      }
      std::string out = fmt::format("HTTP/1.1 {} X\r\nConnection: close\r\n", response.status);
      const bool head = request.starts_with("HEAD ");
      bool has_length = false;
      for (const auto& [name, value] : response.headers) {
        out += name + ": " + value + "\r\n";
        has_length = has_length || name == "Content-Length";
      }
      if (!has_length) out += fmt::format("Content-Length: {}\r\n", response.body.size());
      out += "\r\n";
      if (!head) out += cut.has_value() ? response.body.substr(0, *cut) : response.body;
      std::string_view rest = out;
      while (!rest.empty()) {
        ssize_t n = send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
        if (n <= 0) break;
        rest.remove_prefix(static_cast<size_t>(n));
      }
      if (cut.has_value()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    close(fd);
  }

  Response Handle(const std::string& request) {
    const std::string line = request.substr(0, request.find("\r\n"));
    const std::string method = line.substr(0, line.find(' '));
    const std::string target = line.substr(method.size() + 1, line.rfind(' ') - method.size() - 1);
    std::map<std::string, std::string> headers;
    size_t at = line.size() + 2;
    while (true) {
      size_t end = request.find("\r\n", at);
      if (end == std::string::npos || end == at) break;
      std::string header = request.substr(at, end - at);
      size_t colon = header.find(':');
      std::string name = header.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      headers[name] = header.substr(header.find_first_not_of(' ', colon + 1));
      at = end + 2;
    }
    const size_t question = target.find('?');
    const std::string path = Decode(target.substr(0, question));
    std::map<std::string, std::string> query;
    if (question != std::string::npos) {
      std::string_view rest = std::string_view(target).substr(question + 1);
      while (!rest.empty()) {
        std::string_view part = rest.substr(0, rest.find('&'));
        rest.remove_prefix(std::min(rest.size(), part.size() + 1));
        const size_t eq = part.find('=');
        query[Decode(part.substr(0, eq))] = eq == std::string_view::npos ? "" : Decode(part.substr(eq + 1));
      }
    }
    absl::MutexLock lock(&mu_);
    requests_.push_back(request);
    const std::string bucket_path = std::string("/") + kBucket;
    if (path == bucket_path && method == "GET" && query.count("versions")) return ListVersions(query);
    if (!path.starts_with(bucket_path + "/")) return Error(404, "NoSuchBucket");
    return GetObject(method, path.substr(bucket_path.size() + 1), query, headers);
  }

  Response ListVersions(const std::map<std::string, std::string>& query) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Response response;
    if (!queued_listings_.empty()) {
      response.body = std::move(queued_listings_.front());
      queued_listings_.pop_front();
      return response;
    }
    auto param = [&](const char* name) {
      auto it = query.find(name);
      return it == query.end() ? std::string() : it->second;
    };
    const std::string prefix = param("prefix");
    const std::string key_marker = param("key-marker");
    const std::string version_marker = param("version-id-marker");
    const size_t max_keys = query.count("max-keys") ? std::stoul(param("max-keys")) : 1000;
    struct Listed {
      const std::string* key;
      const Entry* entry;
      bool latest;
    };
    std::vector<Listed> all;
    for (const auto& [key, versions] : objects_) {  // std::map: bytewise key order
      if (!key.starts_with(prefix)) continue;
      for (size_t i = 0; i < versions.size(); ++i) all.push_back({&key, &versions[i], i == 0});
    }
    size_t start = 0;
    if (!key_marker.empty()) {
      // Without a version-id-marker the listing starts after every version
      // of key-marker; with one, after that version of it.
      while (start < all.size() && *all[start].key < key_marker) ++start;
      if (version_marker.empty()) {
        while (start < all.size() && *all[start].key == key_marker) ++start;
      } else {
        while (start < all.size() && *all[start].key == key_marker &&
               all[start].entry->version_id != version_marker) {
          ++start;
        }
        if (start < all.size() && *all[start].key == key_marker) ++start;
      }
    }
    const size_t end = std::min(all.size(), start + max_keys);
    const bool truncated = end < all.size();
    std::string& body = response.body;
    body = fmt::format(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListVersionsResult "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{}</Name><Prefix>{}</Prefix>"
        "<KeyMarker>{}</KeyMarker><VersionIdMarker>{}</VersionIdMarker><MaxKeys>{}</MaxKeys>"
        "<IsTruncated>{}</IsTruncated>",
        kBucket, XmlEscape(prefix), XmlEscape(key_marker), XmlEscape(version_marker), max_keys,
        truncated ? "true" : "false");
    if (truncated) {
      body += "<NextKeyMarker>" + XmlEscape(*all[end - 1].key) + "</NextKeyMarker><NextVersionIdMarker>" +
              XmlEscape(all[end - 1].entry->version_id) + "</NextVersionIdMarker>";
    }
    for (size_t i = start; i < end; ++i) {
      const Entry& e = *all[i].entry;
      const std::string common = fmt::format(
          "<Key>{}</Key><VersionId>{}</VersionId><IsLatest>{}</IsLatest>"
          "<LastModified>2024-05-01T10:00:00.000Z</LastModified>",
          XmlEscape(*all[i].key), XmlEscape(e.version_id), all[i].latest ? "true" : "false");
      if (e.delete_marker) {
        body += "<DeleteMarker>" + common + "<Owner><ID>owner</ID></Owner></DeleteMarker>";
      } else {
        body += fmt::format(
            "<Version>{}<ETag>&quot;{}&quot;</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass>"
            "</Version>",
            common, Md5Hex(e.data), e.data.size());
      }
    }
    body += "</ListVersionsResult>";
    return response;
  }

  Response GetObject(const std::string& method, const std::string& key,
                     const std::map<std::string, std::string>& query,
                     const std::map<std::string, std::string>& headers) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = objects_.find(key);
    if (it == objects_.end() || it->second.empty()) return Error(404, "NoSuchKey");
    const Entry* entry = &it->second.front();
    auto version = query.find("versionId");
    if (version != query.end()) {
      entry = nullptr;
      for (const Entry& e : it->second) {
        if (e.version_id == version->second) entry = &e;
      }
      if (entry == nullptr) return Error(404, "NoSuchVersion");
      if (entry->delete_marker) return Error(405, "MethodNotAllowed");
    } else if (entry->delete_marker) {
      Response gone = Error(404, "NoSuchKey");
      gone.headers.emplace_back("x-amz-delete-marker", "true");
      return gone;
    }
    const std::string etag = "\"" + Md5Hex(entry->data) + "\"";
    auto if_match = headers.find("if-match");
    if (if_match != headers.end() && if_match->second != etag) return Error(412, "PreconditionFailed");
    Response response;
    response.headers = {{"ETag", etag}, {"x-amz-version-id", entry->version_id}};
    const std::string& data = entry->data;
    auto range = headers.find("range");
    if (range != headers.end() && method == "GET") {
      uint64_t first = 0, last = UINT64_MAX;  // "bytes=first-last" or "bytes=first-"
      if (std::sscanf(range->second.c_str(), "bytes=%lu-%lu", &first, &last) < 1) {
        return Error(400, "InvalidRange");
      }
      if (first >= data.size()) return Error(416, "InvalidRange");
      last = std::min<uint64_t>(last, data.size() - 1);
      response.status = 206;
      response.headers.emplace_back("Content-Range", fmt::format("bytes {}-{}/{}", first, last, data.size()));
      response.body = data.substr(first, last - first + 1);
      return response;
    }
    if (method == "HEAD") {
      response.headers.emplace_back("Content-Length", std::to_string(data.size()));
      return response;
    }
    response.body = data;
    return response;
  }

  absl::Mutex mu_;
  // Versions newest first.
  std::map<std::string, std::vector<Entry>> objects_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> queued_listings_ ABSL_GUARDED_BY(mu_);
  std::optional<size_t> cut_body_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> requests_ ABSL_GUARDED_BY(mu_);
  int made_ids_ ABSL_GUARDED_BY(mu_) = 0;
  LoopbackAcceptor acceptor_{[this](int fd) { Serve(fd); }};  // last: destroyed first
};

// ---------------------------------------------------------------- the source

absl::StatusOr<std::string> ReadAll(ObjectReader& reader) {
  std::string out;
  std::vector<uint8_t> buffer(10'000);
  while (true) {
    absl::StatusOr<size_t> n = reader.Read(buffer);
    if (!n.ok()) return n.status();
    if (*n == 0) return out;
    out.append(reinterpret_cast<const char*>(buffer.data()), *n);
  }
}

class VersionedSourceTest : public ::testing::Test {
 protected:
  std::unique_ptr<S3Source> MakeSource(const std::function<void(S3SourceOptions&)>& customize = nullptr) {
    S3ClientOptions client_options;
    client_options.endpoint = fake_.endpoint();  // anonymous: the fake checks no signature
    client_options.retry.max_attempts = 2;
    client_options.retry.base_backoff = std::chrono::milliseconds(1);
    client_options.retry.max_backoff = std::chrono::milliseconds(2);
    client_options.jitter_seed = 7;
    auto client = S3Client::Create(client_options);
    EXPECT_TRUE(client.ok()) << client.status();
    S3SourceOptions options;
    options.id = "vs";
    options.bucket = VersionedS3Fake::kBucket;
    options.list_versions = true;
    if (customize) customize(options);
    auto source =
        S3Source::CreateWithClient(std::move(options), std::shared_ptr<S3Client>(std::move(*client)));
    EXPECT_TRUE(source.ok()) << source.status();
    return source.ok() ? std::move(*source) : nullptr;
  }

  // a: three versions; b: deleted (a delete marker over one version);
  // c: a delete marker under a newer version; d: written before versioning
  // (version id "null"); e/: a folder marker.
  void FillBucket() {
    fake_.Put("a", "a one");
    fake_.Put("a", "a two");
    a_latest_ = fake_.Put("a", "a three, latest");
    fake_.Put("b", "b one");
    fake_.AddDeleteMarker("b");
    fake_.Put("c", "c one");
    fake_.AddDeleteMarker("c");
    c_latest_ = fake_.Put("c", "c again");
    fake_.Put("d", "d unversioned", "null");
    fake_.Put("e/", "");
  }

  VersionedS3Fake fake_;
  std::string a_latest_;
  std::string c_latest_;
};

TEST_F(VersionedSourceTest, ListsTheLatestVersionOfEachLiveKeyAcrossPages) {
  FillBucket();
  for (int page_size : {1000, 2, 1}) {
    SCOPED_TRACE(page_size);
    auto source = MakeSource([&](S3SourceOptions& o) { o.page_size = page_size; });
    fake_.ClearRequests();
    CollectingSink sink;
    ASSERT_OK(source->List("", sink));
    ASSERT_THAT(sink.Keys(), ElementsAre("a", "c", "d"));
    EXPECT_EQ(sink.objects[0].version, Md5Hex("a three, latest") + "@" + a_latest_);
    EXPECT_EQ(sink.objects[0].size, std::string("a three, latest").size());
    EXPECT_EQ(sink.objects[0].source_id, "vs");
    EXPECT_EQ(sink.objects[1].version, Md5Hex("c again") + "@" + c_latest_);
    EXPECT_EQ(sink.objects[2].version, Md5Hex("d unversioned"));  // version id "null"
    EXPECT_THAT(sink.skipped, ElementsAre(Pair("e/", "folder marker (zero-byte key ending in '/')")));

    const std::vector<std::string> lines = fake_.RequestLines();
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines[0], fmt::format("GET /versioned?max-keys={}&versions= HTTP/1.1", page_size));
    for (size_t i = 1; i < lines.size(); ++i) {
      // Once a key's latest entry is seen its older versions are skipped by
      // resuming after the key itself: no version-id-marker.
      EXPECT_THAT(lines[i], AllOf(HasSubstr("key-marker="), Not(HasSubstr("version-id-marker"))));
    }
    if (page_size == 2) {
      // a:3 a:2 (a:1 skipped) | b:marker b:1 | c:3 c:marker (c:1 skipped) | d e/
      EXPECT_THAT(lines, ElementsAre(HasSubstr("?max-keys=2&versions="), HasSubstr("?key-marker=a&"),
                                     HasSubstr("?key-marker=b&"), HasSubstr("?key-marker=c&")));
    }
    if (page_size == 1) {
      EXPECT_THAT(lines, SizeIs(5));
    }
  }
}

TEST_F(VersionedSourceTest, ResumesStrictlyAfterTheCursorAndAfterAStoppedSink) {
  FillBucket();
  auto source = MakeSource([](S3SourceOptions& o) { o.page_size = 2; });
  fake_.ClearRequests();
  CollectingSink after_a;
  ASSERT_OK(source->List("a", after_a));
  EXPECT_THAT(after_a.Keys(), ElementsAre("c", "d"));
  EXPECT_THAT(fake_.RequestLines()[0], HasSubstr("?key-marker=a&max-keys=2&versions= "));

  CollectingSink between;
  ASSERT_OK(source->List("b~", between));  // names no key
  EXPECT_THAT(between.Keys(), ElementsAre("c", "d"));

  std::vector<std::string> keys;
  std::string cursor;
  while (true) {
    CollectingSink one(/*stop_after=*/1);
    ASSERT_OK(source->List(cursor, one));
    if (one.objects.empty()) break;
    keys.push_back(one.objects[0].key);
    cursor = keys.back();
  }
  EXPECT_THAT(keys, ElementsAre("a", "c", "d"));
}

TEST_F(VersionedSourceTest, OpenReadsTheListedVersionEvenAfterAnOverwrite) {
  const std::string v1 = RandomBytes(5 * 64 * 1024 + 99, 1);
  const std::string v2 = RandomBytes(3 * 64 * 1024, 2);
  const std::string first_id = fake_.Put("big", v1);
  auto source = MakeSource([](S3SourceOptions& o) { o.read_chunk_bytes = 64 * 1024; });
  CollectingSink sink;
  ASSERT_OK(source->List("", sink));
  ASSERT_THAT(sink.objects, SizeIs(1));
  EXPECT_EQ(sink.objects[0].version, Md5Hex(v1) + "@" + first_id);

  const std::string second_id = fake_.Put("big", v2);
  fake_.ClearRequests();
  absl::StatusOr<std::unique_ptr<ObjectReader>> reader = source->Open(sink.objects[0]);
  ASSERT_TRUE(reader.ok()) << reader.status();
  absl::StatusOr<std::string> read = ReadAll(**reader);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(*read == v1) << "read " << read->size() << " bytes, not the listed version";
  const std::vector<std::string> requests = fake_.requests();
  ASSERT_THAT(requests, SizeIs(6));  // six 64 KiB chunks
  for (const std::string& request : requests) {
    EXPECT_THAT(request, HasSubstr("GET /versioned/big?versionId=3HL4kq.tJ_0001 "));
    EXPECT_THAT(request, HasSubstr("If-Match: \"" + Md5Hex(v1) + "\"\r\n"));
  }

  // The listed version deleted for good: NotFound, naming the version.
  fake_.DeleteVersion("big", first_id);
  reader = source->Open(sink.objects[0]);
  ASSERT_EQ(reader.status().code(), absl::StatusCode::kNotFound) << reader.status();
  EXPECT_THAT(Message(reader.status()), HasSubstr("vs: big: object version vanished after listing"));
  EXPECT_THAT(Message(reader.status()), HasSubstr("NoSuchVersion"));

  // Without verify_listed_etag the current version is read, unpinned.
  auto unpinned = MakeSource([](S3SourceOptions& o) { o.verify_listed_etag = false; });
  fake_.ClearRequests();
  reader = unpinned->Open(sink.objects[0]);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_TRUE(ReadAll(**reader).value() == v2);
  EXPECT_THAT(fake_.RequestLines(), Contains("GET /versioned/big HTTP/1.1"));
  EXPECT_NE(second_id, first_id);
}

TEST_F(VersionedSourceTest, AReadResumedAfterAnOverwriteKeepsToTheListedVersion) {
  const std::string v1 = RandomBytes(700'000, 3);
  const std::string v2 = RandomBytes(700'000, 4);
  for (const bool list_versions : {true, false}) {
    SCOPED_TRACE(list_versions ? "list_versions" : "ETag only");
    fake_.Put("k", v1);
    auto source = MakeSource([&](S3SourceOptions& o) { o.list_versions = list_versions; });
    absl::StatusOr<ObjectRef> ref = source->Stat("k");  // the fake lists only versions
    ASSERT_TRUE(ref.ok()) << ref.status();
    fake_.CutNextBody(250'000);
    fake_.ClearRequests();
    absl::StatusOr<std::unique_ptr<ObjectReader>> reader = source->Open(*ref);
    ASSERT_TRUE(reader.ok()) << reader.status();
    fake_.Put("k", v2);  // while the first GET is under way
    absl::StatusOr<std::string> read = ReadAll(**reader);
    const std::vector<std::string> requests = fake_.requests();
    ASSERT_THAT(requests, SizeIs(2));  // the GET and its resumption after the break
    EXPECT_THAT(requests[1], HasSubstr("Range: bytes=250000-\r\n"));
    EXPECT_THAT(requests[1], HasSubstr("If-Match: \"" + Md5Hex(v1) + "\"\r\n"));
    if (list_versions) {
      // The version id still names the listed bytes: the read completes.
      ASSERT_TRUE(read.ok()) << read.status();
      EXPECT_TRUE(*read == v1);
      EXPECT_THAT(requests[1], HasSubstr("?versionId="));
    } else {
      // The key now holds other bytes: refused, never mixed.
      ASSERT_FALSE(read.ok());
      EXPECT_EQ(read.status().code(), absl::StatusCode::kFailedPrecondition) << read.status();
      EXPECT_THAT(Message(read.status()), HasSubstr("vs: k: object changed since it was listed"));
    }
  }
}

TEST_F(VersionedSourceTest, StatGivesTheVersionIdOfTheCurrentVersion) {
  FillBucket();
  auto source = MakeSource();
  absl::StatusOr<ObjectRef> a = source->Stat("a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->version, Md5Hex("a three, latest") + "@" + a_latest_);
  EXPECT_EQ(a->size, std::string("a three, latest").size());
  absl::StatusOr<ObjectRef> d = source->Stat("d");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->version, Md5Hex("d unversioned"));
  EXPECT_EQ(source->Stat("b").status().code(), absl::StatusCode::kNotFound);  // deleted: a delete marker

  // What Stat gives, Open reads; and List agrees with Stat.
  absl::StatusOr<std::unique_ptr<ObjectReader>> reader = source->Open(*a);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(ReadAll(**reader).value(), "a three, latest");
  CollectingSink sink;
  ASSERT_OK(source->List("", sink));
  EXPECT_EQ(sink.objects[0].version, a->version);

  auto unversioned = MakeSource([](S3SourceOptions& o) { o.list_versions = false; });
  EXPECT_EQ(unversioned->Stat("a").value().version, Md5Hex("a three, latest"));
}

std::string Page(const std::string& entries, const std::string& tail = "<IsTruncated>false</IsTruncated>") {
  return "<ListVersionsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" + tail + entries +
         "</ListVersionsResult>";
}

std::string VersionXml(const std::string& key, const std::string& version_id, bool latest,
                       const std::string& size = "3") {
  return fmt::format(
      "<Version><Key>{}</Key><VersionId>{}</VersionId><IsLatest>{}</IsLatest><ETag>\"e-{}\"</ETag>"
      "<Size>{}</Size></Version>",
      key, version_id, latest ? "true" : "false", version_id, size);
}

TEST_F(VersionedSourceTest, UntrustedEntriesAreSkippedWithTheReason) {
  auto source = MakeSource();
  const std::string long_key(S3Source::kMaxKeyBytes + 1, 'k');
  fake_.QueueListing(Page(VersionXml("a", std::string(S3Source::kMaxVersionIdBytes + 1, 'v'), true) +
                          VersionXml("b", "v@1", true) + VersionXml("c", "ok", true, "") +
                          VersionXml("d", "ok", true, "12x") +
                          "<Version><Key>e</Key><VersionId>ok</VersionId><IsLatest>true</IsLatest>"
                          "<Size>1</Size></Version>" +
                          VersionXml("f", "ok", true) + VersionXml(long_key, "ok", true)));
  CollectingSink sink;
  ASSERT_OK(source->List("", sink));
  ASSERT_THAT(sink.Keys(), ElementsAre("f"));
  EXPECT_EQ(sink.objects[0].version, "e-ok@ok");
  EXPECT_THAT(
      sink.skipped,
      ElementsAre(Pair("a", "listing gave a version id longer than 1024 bytes"),
                  Pair("b", "listing gave an ETag or version id containing '@'"),
                  Pair("c", "listing gave no valid Size"), Pair("d", "listing gave no valid Size"),
                  Pair("e", "listing gave no ETag, so changes could not be detected"),
                  Pair(long_key.substr(0, 256) + "...", "listing gave a key longer than 1024 bytes")));

  // url-encoded pages are decoded; keys at or before the cursor (a server
  // ignoring key-marker) are dropped.
  fake_.QueueListing(Page(VersionXml("a", "1", true) + VersionXml("b%20c", "2", true) +
                              VersionXml("b%2Bd", "3", true) + VersionXml("%zz", "4", true),
                          "<EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"));
  CollectingSink decoded;
  ASSERT_OK(source->List("a", decoded));
  EXPECT_THAT(decoded.Keys(), ElementsAre("b c", "b+d"));
  EXPECT_THAT(decoded.skipped, ElementsAre(Pair("%zz", "listing gave a malformed url-encoded key")));
}

TEST_F(VersionedSourceTest, MalformedOrStuckListingsFailWithDataLoss) {
  auto source = MakeSource();
  struct Case {
    std::string name;
    std::vector<std::string> pages;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"keys out of order",
       {Page(VersionXml("b", "1", true) + VersionXml("a", "2", true))},
       "returned key 'a' after 'b'"},
      {"a key again after another",
       {Page(VersionXml("a", "1", true) + VersionXml("b", "2", true) + VersionXml("a", "3", false))},
       "returned key 'a' after 'b'"},
      {"order broken across pages",
       {Page(VersionXml("m", "1", true), "<IsTruncated>true</IsTruncated>"),
        Page(VersionXml("c", "2", true))},
       "returned key 'c' after 'm'"},
      {"truncated, no entries, no markers",
       {Page("", "<IsTruncated>true</IsTruncated>")},
       "is truncated but gives no marker past key ''"},
      {"not a versions listing",
       {"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>"},
       "gave no valid ListVersionsResult (expected a <ListVersionsResult>, got <ListBucketResult>); does the "
       "endpoint list object versions? Otherwise turn list_versions off"},
      {"too many entries",
       {[] {
         std::string entries;
         for (size_t i = 0; i <= kMaxVersionEntriesPerPage; ++i) entries += "<DeleteMarker/>";
         return Page(entries);
       }()},
       "more than 10000 versions and delete markers in one page"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    for (const std::string& page : c.pages) fake_.QueueListing(page);
    CollectingSink sink;
    absl::Status status = source->List("", sink);
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
    EXPECT_THAT(Message(status), HasSubstr(c.expected));
    EXPECT_THAT(Message(status),
                HasSubstr("S3 source 'vs': ListObjectVersions of s3://versioned at http://"));
  }

  // The same truncated marker pair twice: no progress.
  const std::string stuck = Page(VersionXml("k", "old", false),
                                 "<IsTruncated>true</IsTruncated><NextKeyMarker>k</NextKeyMarker>"
                                 "<NextVersionIdMarker>old</NextVersionIdMarker>");
  fake_.QueueListing(stuck);
  fake_.QueueListing(stuck);
  CollectingSink sink;
  absl::Status status = source->List("", sink);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_THAT(Message(status), HasSubstr("is truncated but gives no marker past key 'k'"));
}

TEST_F(VersionedSourceTest, APageEndingBeforeAKeysLatestEntryContinuesFromTheServersMarkers) {
  // Not what AWS sends (a key's newest version comes first), but a store
  // might: the key's entries continue on the next page, so the source must
  // not skip past the key.
  auto source = MakeSource();
  fake_.QueueListing(Page(VersionXml("a", "1", true) + VersionXml("k", "old", false),
                          "<IsTruncated>true</IsTruncated><NextKeyMarker>k</NextKeyMarker>"
                          "<NextVersionIdMarker>old</NextVersionIdMarker>"));
  fake_.QueueListing(Page(VersionXml("k", "new", true) + VersionXml("z", "9", true)));
  fake_.ClearRequests();
  CollectingSink sink;
  ASSERT_OK(source->List("", sink));
  EXPECT_THAT(sink.Keys(), ElementsAre("a", "k", "z"));
  EXPECT_EQ(sink.objects[1].version, "e-new@new");
  const std::vector<std::string> lines = fake_.RequestLines();
  ASSERT_THAT(lines, SizeIs(2));
  EXPECT_THAT(lines[1], HasSubstr("?key-marker=k&max-keys=1000&version-id-marker=old&versions= "));
}

TEST_F(VersionedSourceTest, OptionOffListsWithListObjectsV2) {
  auto source = MakeSource([](S3SourceOptions& o) { o.list_versions = false; });
  CollectingSink sink;
  absl::Status status = source->List("", sink);
  // The fake knows no ListObjectsV2: what matters is the request sent.
  EXPECT_FALSE(status.ok());
  ASSERT_FALSE(fake_.RequestLines().empty());
  EXPECT_THAT(fake_.RequestLines()[0], HasSubstr("GET /versioned?list-type=2&max-keys=1000 "));
}

}  // namespace
}  // namespace takedown
