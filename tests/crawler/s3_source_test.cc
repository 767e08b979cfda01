// Tests of the S3 client and source. The S3Server* tests run against a real
// s3rver on 127.0.0.1 that tests/crawler/s3rver_fixture.py starts around this
// binary (ctest -R s3_source_test); without it they fail, never skip. Faults
// (503, dropped connections, 403 signature errors) come from FaultProxy, a
// small HTTP proxy on 127.0.0.1 in front of s3rver.
#include "crawler/s3_source.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/hex.h"
#include "crawler/s3_client.h"
#include "crawler/s3_credentials.h"
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

std::string DigestHex(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), out, &length, md, nullptr);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(out), length));
}

std::string Md5Hex(std::string_view data) { return DigestHex(EVP_md5(), data); }

absl::StatusOr<std::string> ReadAll(ObjectReader& reader, size_t buffer_size = 64 * 1024) {
  std::string out;
  std::vector<uint8_t> buffer(buffer_size);
  while (true) {
    absl::StatusOr<size_t> n = reader.Read(buffer);
    if (!n.ok()) return n.status();
    if (*n == 0) return out;
    out.append(reinterpret_cast<const char*>(buffer.data()), *n);
  }
}

// ---------------------------------------------------------------- XML

TEST(S3Xml, ParsesElementsTextEntitiesAndCdata) {
  absl::StatusOr<XmlElement> root = ParseS3Xml(
      "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- note -->"
      "<s3:ListBucketResult xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Name>b</Name><Contents><Key>a &amp; b &lt;c&gt; &quot;&apos; &#233;&#x1F600;</Key>"
      "<Size>12</Size><Owner/></Contents><Contents><Key><![CDATA[x<y>&z]]></Key></Contents>"
      "<IsTruncated attr='a>b'>false</IsTruncated></s3:ListBucketResult>\n");
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->name, "ListBucketResult");
  ASSERT_THAT(root->children, SizeIs(4));
  EXPECT_EQ(root->ChildText("Name"), "b");
  EXPECT_EQ(root->children[1].ChildText("Key"), "a & b <c> \"' \xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(root->children[1].ChildText("Size"), "12");
  EXPECT_NE(root->children[1].Child("Owner"), nullptr);
  EXPECT_EQ(root->children[2].ChildText("Key"), "x<y>&z");
  EXPECT_EQ(root->ChildText("IsTruncated"), "false");
  EXPECT_EQ(root->ChildText("Missing"), "");
  EXPECT_EQ(root->Child("Missing"), nullptr);
}

TEST(S3Xml, RejectsMalformedAndHostileDocuments) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "no root element"},
      {"<a><b></a>", "closing tag 'a' does not match open element 'b'"},
      {"<a>", "document ends inside element 'a'"},
      {"<a/><b/>", "a second root element"},
      {"text<a/>", "character data outside the root element"},
      {"<a>&bogus;</a>", "invalid entity"},
      {"<a>&#0;</a>", "invalid entity"},
      {"<a>&#xD800;</a>", "invalid entity"},
      {"<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>", "DOCTYPE"},
      {"<a b=c/>", "unquoted attribute value"},
      {"<a><!-- open", "unterminated comment"},
      {"<a><![CDATA[x", "unterminated CDATA"},
      {"<a", "unterminated start tag"},
  };
  for (const auto& [doc, expected] : cases) {
    absl::StatusOr<XmlElement> root = ParseS3Xml(doc);
    ASSERT_FALSE(root.ok()) << doc;
    EXPECT_EQ(root.status().code(), absl::StatusCode::kInvalidArgument) << doc;
    EXPECT_THAT(Message(root.status()), HasSubstr(expected)) << doc;
  }
  std::string deep;
  for (int i = 0; i < kMaxXmlDepth + 1; ++i) deep += "<a>";
  absl::StatusOr<XmlElement> too_deep = ParseS3Xml(deep);
  EXPECT_THAT(Message(too_deep.status()), HasSubstr("nested deeper than 32"));
  std::string many = "<r>";
  for (size_t i = 0; i < kMaxXmlElements; ++i) many += "<e/>";
  many += "</r>";
  EXPECT_THAT(Message(ParseS3Xml(many).status()), HasSubstr("more than 200000 elements"));
}

TEST(S3Xml, EscapedTextParsesBack) {
  const std::string text = "a&b<c>d\"e'f \xC3\xA9";
  absl::StatusOr<XmlElement> root = ParseS3Xml("<v>" + XmlEscape(text) + "</v>");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->text, text);
  EXPECT_EQ(XmlEscape("<&>"), "&lt;&amp;&gt;");
}

// ---------------------------------------------------------------- URLs

TEST(S3Uri, EncodesEverythingButUnreserved) {
  EXPECT_EQ(S3UriEncode("a b/c+d%e~f_g.h-i", true), "a%20b/c%2Bd%25e~f_g.h-i");
  EXPECT_EQ(S3UriEncode("a/b", false), "a%2Fb");
  EXPECT_EQ(S3UriEncode("\xC3\xA9", true), "%C3%A9");
  std::string decoded;
  ASSERT_TRUE(S3UriDecode("a%20b+c%2B", /*plus_is_space=*/true, &decoded));
  EXPECT_EQ(decoded, "a b c+");
  ASSERT_TRUE(S3UriDecode("a+b", /*plus_is_space=*/false, &decoded));
  EXPECT_EQ(decoded, "a+b");
  EXPECT_FALSE(S3UriDecode("a%2", true, &decoded));
  EXPECT_FALSE(S3UriDecode("a%zz", true, &decoded));
}

TEST(S3ClientUrl, PathAndVirtualHostAddressing) {
  S3ClientOptions options;
  options.endpoint = "https://s3.example.test:8443/";
  auto path_client = S3Client::Create(options);
  ASSERT_TRUE(path_client.ok()) << path_client.status();
  S3Request request;
  request.bucket = "media";
  request.key = "photos/a b+c.jpg";
  EXPECT_EQ((*path_client)->UrlFor(request), "https://s3.example.test:8443/media/photos/a%20b%2Bc.jpg");
  request.key.clear();
  request.query = {{"prefix", "x/y z"}, {"list-type", "2"}, {"continuation-token", "a=b"}};
  // Sorted and encoded: the URL is its own SigV4 canonical query.
  EXPECT_EQ((*path_client)->UrlFor(request),
            "https://s3.example.test:8443/media?continuation-token=a%3Db&list-type=2&prefix=x%2Fy%20z");
  EXPECT_EQ((*path_client)->endpoint(), "https://s3.example.test:8443");

  options.addressing = S3Addressing::kVirtualHost;
  auto vhost_client = S3Client::Create(options);
  ASSERT_TRUE(vhost_client.ok());
  request.query = {{"tagging", ""}};
  request.key = "k";
  EXPECT_EQ((*vhost_client)->UrlFor(request), "https://media.s3.example.test:8443/k?tagging=");
}

TEST(S3ClientCreate, RejectsBadOptions) {
  const std::vector<std::pair<std::string, std::string>> endpoints = {
      {"s3.example.test", "must start with https:// or http://"},
      {"ftp://s3.example.test", "must start with https:// or http://"},
      {"https://s3.example.test/base", "without path"},
      {"https://user:pw@s3.example.test", "user info (user:password@) is not accepted"},
      {"https://", "without path"},
  };
  for (const auto& [endpoint, expected] : endpoints) {
    S3ClientOptions options;
    options.endpoint = endpoint;
    auto client = S3Client::Create(options);
    ASSERT_FALSE(client.ok()) << endpoint;
    EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(client.status()), HasSubstr(expected)) << endpoint;
    EXPECT_THAT(Message(client.status()), Not(HasSubstr("pw@"))) << endpoint;
  }
  S3ClientOptions options;
  options.endpoint = "https://s3.example.test";
  options.region = "EU West";
  EXPECT_THAT(Message(S3Client::Create(options).status()), HasSubstr("S3 region 'EU West'"));
  options.region = "eu-west-1";
  options.ca_file = "/nonexistent/ca.pem";
  EXPECT_THAT(Message(S3Client::Create(options).status()), HasSubstr("S3 ca_file /nonexistent/ca.pem"));
  options.ca_file.clear();
  options.max_concurrent_requests = 0;
  EXPECT_THAT(Message(S3Client::Create(options).status()), HasSubstr("max_concurrent_requests 0"));
  options.max_concurrent_requests = 4;
  options.credentials.access_key_id = "only-the-id";
  EXPECT_THAT(Message(S3Client::Create(options).status()), HasSubstr("must both be set"));
}

// ---------------------------------------------------------------- credentials

class S3CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/s3creds-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  std::string Write(const std::string& name, const std::string& content, mode_t mode) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << content;
    chmod(path.c_str(), mode);
    return path;
  }

  std::string dir_;
};

TEST_F(S3CredentialsTest, LoadsFileWithSafeMode) {
  std::string path = Write(
      "creds", "# takedownd\n\n access_key_id = AKIDEXAMPLE \nsecret_access_key=wJalr/K7+MDENG\r\n", 0600);
  absl::StatusOr<S3Credentials> credentials = LoadS3CredentialsFromFile(path);
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_EQ(credentials->access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(credentials->secret_access_key, "wJalr/K7+MDENG");
  EXPECT_EQ(credentials->session_token, "");

  path = Write("token", "access_key_id=A\nsecret_access_key=S\nsession_token=T0K3N\n", 0400);
  credentials = LoadS3CredentialsFromFile(path);
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_EQ(credentials->session_token, "T0K3N");
}

TEST_F(S3CredentialsTest, RefusesGroupReadableFileWithoutLeakingTheSecret) {
  std::string path = Write("creds", "access_key_id=AKIDEXAMPLE\nsecret_access_key=TOPSECRET\n", 0640);
  absl::StatusOr<S3Credentials> credentials = LoadS3CredentialsFromFile(path);
  ASSERT_EQ(credentials.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(Message(credentials.status()), HasSubstr("mode 0640"));
  EXPECT_THAT(Message(credentials.status()), HasSubstr("chmod 600 " + path));
  EXPECT_THAT(Message(credentials.status()), Not(HasSubstr("TOPSECRET")));

  std::string link = dir_ + "/link";
  ASSERT_EQ(symlink(Write("real", "x", 0600).c_str(), link.c_str()), 0);
  EXPECT_EQ(LoadS3CredentialsFromFile(link).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(LoadS3CredentialsFromFile(dir_ + "/missing").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(S3CredentialsTest, ReportsMalformedLinesByNumberWithoutValues) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"access_key_id=A\nsecret_access_key TOPSECRET\n", "line 2: expected name=value"},
      {"access_key_id=A\nsecret=TOPSECRET\n", "line 2: unknown name 'secret'"},
      {"access_key_id=A\naccess_key_id=B\n", "line 2: 'access_key_id' given twice"},
      {"access_key_id=A\nsecret_access_key=\n", "line 2: 'secret_access_key' is empty"},
      {"access_key_id=A\n", "missing secret_access_key"},
      {"secret_access_key=TOPSECRET\n", "missing access_key_id"},
  };
  for (const auto& [content, expected] : cases) {
    absl::StatusOr<S3Credentials> credentials = LoadS3CredentialsFromFile(Write("c", content, 0600));
    ASSERT_EQ(credentials.status().code(), absl::StatusCode::kInvalidArgument) << content;
    EXPECT_THAT(Message(credentials.status()), HasSubstr(expected));
    EXPECT_THAT(Message(credentials.status()), Not(HasSubstr("TOPSECRET")));
  }
}

TEST_F(S3CredentialsTest, LoadsFromEnvironmentAndDispatches) {
  setenv("TAKEDOWN_TEST_S3_ID", "AKIDENV", 1);
  setenv("TAKEDOWN_TEST_S3_SECRET", "ENVSECRET", 1);
  unsetenv("TAKEDOWN_TEST_S3_UNSET");
  S3CredentialOptions options;
  options.access_key_env = "TAKEDOWN_TEST_S3_ID";
  options.secret_key_env = "TAKEDOWN_TEST_S3_SECRET";
  absl::StatusOr<S3Credentials> credentials = LoadS3Credentials(options);
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_EQ(credentials->access_key_id, "AKIDENV");
  EXPECT_EQ(credentials->secret_access_key, "ENVSECRET");

  options.session_token_env = "TAKEDOWN_TEST_S3_UNSET";
  credentials = LoadS3Credentials(options);
  EXPECT_EQ(credentials.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(credentials.status()),
              HasSubstr("TAKEDOWN_TEST_S3_UNSET (the session token) is unset"));

  options.session_token_env.clear();
  options.file = Write("c", "access_key_id=A\nsecret_access_key=S\n", 0600);
  EXPECT_THAT(Message(LoadS3Credentials(options).status()), HasSubstr("configure only one"));
  EXPECT_THAT(Message(LoadS3Credentials(S3CredentialOptions{}).status()), HasSubstr("none configured"));
  S3CredentialOptions anonymous;
  anonymous.anonymous = true;
  credentials = LoadS3Credentials(anonymous);
  ASSERT_TRUE(credentials.ok());
  EXPECT_TRUE(credentials->empty());
}

// ---------------------------------------------------------------- source options

TEST(S3SourceCreate, ValidatesOptions) {
  S3ClientOptions client_options;
  client_options.endpoint = "http://127.0.0.1:9";
  auto client = std::shared_ptr<S3Client>(S3Client::Create(client_options).value());
  auto make = [&](auto customize) {
    S3SourceOptions options;
    options.id = "s3";
    options.bucket = "media";
    customize(options);
    return S3Source::CreateWithClient(std::move(options), client).status();
  };
  EXPECT_TRUE(make([](S3SourceOptions&) {}).ok());
  EXPECT_TRUE(make([](S3SourceOptions& o) { o.bucket = "Legacy_Bucket"; }).ok());  // path-style only
  EXPECT_THAT(Message(make([](S3SourceOptions& o) { o.bucket = "a/b"; })), HasSubstr("S3 bucket 'a/b'"));
  EXPECT_THAT(Message(make([](S3SourceOptions& o) { o.page_size = 1001; })), HasSubstr("page_size 1001"));
  EXPECT_THAT(Message(make([](S3SourceOptions& o) { o.read_chunk_bytes = 1000; })),
              HasSubstr("read_chunk_bytes 1000"));
  EXPECT_THAT(Message(make([](S3SourceOptions& o) { o.quarantine_prefix.clear(); })),
              HasSubstr("needs a quarantine_prefix"));
  EXPECT_TRUE(make([](S3SourceOptions& o) {
                o.quarantine_prefix.clear();
                o.quarantine_bucket = "quarantine";
              }).ok());
  EXPECT_THAT(Message(make([](S3SourceOptions& o) { o.id.clear(); })), HasSubstr("empty id"));

  client_options.addressing = S3Addressing::kVirtualHost;
  auto vhost = std::shared_ptr<S3Client>(S3Client::Create(client_options).value());
  S3SourceOptions options;
  options.id = "s3";
  options.bucket = "Legacy_Bucket";
  EXPECT_THAT(Message(S3Source::CreateWithClient(options, vhost).status()), HasSubstr("DNS-compatible"));
}

// ---------------------------------------------------------------- fault proxy

// An HTTP/1.1 proxy on 127.0.0.1 in front of s3rver: one request per
// connection. The next `n` requests get a canned response (or, with an empty
// one, a connection closed without any response); the rest are forwarded
// with "Connection: close".
class FaultProxy {
 public:
  explicit FaultProxy(int upstream_port) : upstream_port_(upstream_port) {}

  // Connections still delayed or dribbling give up; acceptor_ (destroyed
  // first) then joins them.
  ~FaultProxy() { stop_ = true; }

  int port() const { return acceptor_.port(); }
  std::string endpoint() const { return acceptor_.endpoint(); }

  void FailNext(int n, std::string canned_response) {
    absl::MutexLock lock(&mu_);
    faults_left_ = n;
    canned_ = std::move(canned_response);
  }
  void SetForwardDelay(std::chrono::milliseconds delay) {
    absl::MutexLock lock(&mu_);
    forward_delay_ = delay;
    undelayed_left_ = 0;
  }
  // Delays only the requests forwarded after the first `undelayed` ones from
  // now on.
  void SetForwardDelayAfter(int undelayed, std::chrono::milliseconds delay) {
    absl::MutexLock lock(&mu_);
    forward_delay_ = delay;
    undelayed_left_ = undelayed;
  }
  // The next `n` forwarded responses are cut off (the connection closed,
  // 300 ms later) after their head and `body_bytes` bytes of body.
  void CutNextResponses(int n, size_t body_bytes) {
    absl::MutexLock lock(&mu_);
    cuts_left_ = n;
    cut_body_bytes_ = body_bytes;
  }
  int faults_served() {
    absl::MutexLock lock(&mu_);
    return faults_served_;
  }
  int forwarded() {
    absl::MutexLock lock(&mu_);
    return forwarded_;
  }
  int max_in_flight() {
    absl::MutexLock lock(&mu_);
    return max_in_flight_;
  }
  // The forwarded requests as received (head and body).
  std::vector<std::string> requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

  static std::string S3ErrorResponse(int status, const std::string& reason, const std::string& code,
                                     const std::string& message) {
    std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code + "</Code><Message>" +
                       message + "</Message><RequestId>FAULTPROXY</RequestId></Error>";
    return fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: "
        "close\r\n\r\n{}",
        status, reason, body.size(), body);
  }

 private:
  static bool WriteAll(int fd, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one request (head and Content-Length body); "" on EOF or error.
  static std::string ReadRequest(int fd) {
    std::string data;
    char buffer[16384];
    size_t head_end = std::string::npos;
    size_t want = SIZE_MAX;
    while (data.size() < want) {
      ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) return std::string();
      data.append(buffer, static_cast<size_t>(n));
      if (head_end == std::string::npos && (head_end = data.find("\r\n\r\n")) != std::string::npos) {
        size_t length = 0;
        std::string lower = data.substr(0, head_end);
        std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
        size_t cl = lower.find("\r\ncontent-length:");
        if (cl != std::string::npos) length = std::strtoull(lower.c_str() + cl + 17, nullptr, 10);
        want = head_end + 4 + length;
      }
    }
    return data;
  }

  void Serve(int fd) {
    std::string request = ReadRequest(fd);
    std::string canned;
    bool fault = false;
    std::chrono::milliseconds delay{0};
    std::optional<size_t> cut;
    {
      absl::MutexLock lock(&mu_);
      if (!request.empty() && faults_left_ > 0) {
        --faults_left_;
        ++faults_served_;
        fault = true;
        canned = canned_;
      } else if (!request.empty()) {
        ++forwarded_;
        if (undelayed_left_ > 0) {
          --undelayed_left_;
        } else {
          delay = forward_delay_;
        }
        if (cuts_left_ > 0) {
          --cuts_left_;
          cut = cut_body_bytes_;
        }
        requests_.push_back(request);
      }
    }
    if (fault) {
      if (!canned.empty()) WriteAll(fd, canned);
    } else if (!request.empty()) {
      {
        // The client holds its concurrency slot from before the request is
        // sent until after the response arrives, so requests counted here
        // (between reading one and answering it) overlap only if the client
        // let them run at once.
        absl::MutexLock lock(&mu_);
        max_in_flight_ = std::max(max_in_flight_, ++in_flight_);
      }
      // In steps, so the destructor need not wait out a long delay.
      const auto until = std::chrono::steady_clock::now() + delay;
      while (!stop_ && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      {
        absl::MutexLock lock(&mu_);
        --in_flight_;
      }
      if (!stop_) Forward(fd, request, cut);
    }
    close(fd);
  }

  // Copies the upstream response to the client; with `cut`, only its head
  // and that many bytes of its body.
  void Forward(int client_fd, std::string request, std::optional<size_t> cut) {
    size_t head_end = request.find("\r\n\r\n");
    request.insert(head_end + 2, "Connection: close\r\n");
    int up = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(upstream_port_));
    if (connect(up, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 && WriteAll(up, request)) {
      char buffer[65536];
      std::string head;  // until the end of the head is seen, with `cut`
      size_t allowed = SIZE_MAX;
      while (true) {
        ssize_t n = recv(up, buffer, sizeof(buffer), 0);
        if (n <= 0) break;
        std::string_view piece(buffer, static_cast<size_t>(n));
        if (cut.has_value() && allowed == SIZE_MAX) {
          head.append(piece);
          const size_t end = head.find("\r\n\r\n");
          if (end == std::string::npos) continue;
          allowed = end + 4 + *cut;
          piece = std::string_view(head).substr(0, std::min(head.size(), allowed));
          allowed -= piece.size();
        } else if (cut.has_value()) {
          piece = piece.substr(0, std::min(piece.size(), allowed));
          allowed -= piece.size();
        }
        if (!WriteAll(client_fd, piece)) break;
        if (cut.has_value() && allowed == 0) {
          // Linger before closing, so the client sees the head (and returns
          // the stream) before it sees the connection break.
          for (int i = 0; i < 60 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
          break;
        }
      }
    }
    close(up);
  }

  const int upstream_port_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  int faults_left_ ABSL_GUARDED_BY(mu_) = 0;
  std::string canned_ ABSL_GUARDED_BY(mu_);
  int faults_served_ ABSL_GUARDED_BY(mu_) = 0;
  int forwarded_ ABSL_GUARDED_BY(mu_) = 0;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int max_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::chrono::milliseconds forward_delay_ ABSL_GUARDED_BY(mu_){0};
  int undelayed_left_ ABSL_GUARDED_BY(mu_) = 0;
  int cuts_left_ ABSL_GUARDED_BY(mu_) = 0;
  size_t cut_body_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> requests_ ABSL_GUARDED_BY(mu_);
  LoopbackAcceptor acceptor_{[this](int fd) { Serve(fd); }};  // last: destroyed first
};

// ---------------------------------------------------------------- SigV4 check

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &length);
  return std::string(reinterpret_cast<const char*>(out), length);
}

std::vector<std::string> Split(std::string_view text, std::string_view separator) {
  std::vector<std::string> parts;
  while (true) {
    size_t at = text.find(separator);
    parts.emplace_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + separator.size());
  }
}

std::string TrimSpaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}

// Recomputes, from the bytes a server received, the AWS Signature V4 that S3
// would expect (the algorithm as AWS documents it, written independently of
// the client) and compares it with the request's Authorization header. Also
// checks that the path and query are already in canonical form, since that is
// what libcurl signs.
void ExpectValidSigV4(const std::string& raw, const std::string& access_key, const std::string& secret,
                      const std::string& region) {
  SCOPED_TRACE(raw.substr(0, raw.find("\r\n")));
  const std::string head = raw.substr(0, raw.find("\r\n\r\n"));
  std::vector<std::string> lines = Split(head, "\r\n");
  std::vector<std::string> request_line = Split(lines[0], " ");
  ASSERT_EQ(request_line.size(), 3u);
  const std::string& method = request_line[0];
  const std::string& target = request_line[1];
  const size_t question = target.find('?');
  const std::string path = target.substr(0, question);
  const std::string query = question == std::string::npos ? "" : target.substr(question + 1);
  std::map<std::string, std::string> headers;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    std::string name = lines[i].substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    headers[name] = TrimSpaces(lines[i].substr(colon + 1));
  }

  for (size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    const bool ok =
        std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == '~' ||
        c == '/' ||
        (c == '%' && i + 2 < path.size() && std::isxdigit(static_cast<unsigned char>(path[i + 1])) &&
         !std::islower(path[i + 1]) && !std::islower(path[i + 2]));
    ASSERT_TRUE(ok) << "path not in canonical form at " << i << ": " << path;
  }
  std::vector<std::pair<std::string, std::string>> params;
  if (!query.empty()) {
    for (const std::string& part : Split(query, "&")) {
      size_t eq = part.find('=');
      std::string name, value;
      ASSERT_TRUE(S3UriDecode(part.substr(0, eq), false, &name));
      if (eq != std::string::npos) {
        ASSERT_TRUE(S3UriDecode(part.substr(eq + 1), false, &value));
      }
      params.emplace_back(S3UriEncode(name, false), S3UriEncode(value, false));
    }
  }
  std::sort(params.begin(), params.end());
  std::string canonical_query;
  for (const auto& [name, value] : params) {
    if (!canonical_query.empty()) canonical_query += "&";
    canonical_query += name + "=" + value;
  }
  EXPECT_EQ(query, canonical_query) << "the query as sent is what libcurl signs";

  const std::string& authorization = headers["authorization"];
  const std::string prefix = "AWS4-HMAC-SHA256 Credential=";
  ASSERT_TRUE(authorization.starts_with(prefix)) << authorization;
  std::vector<std::string> fields = Split(authorization.substr(prefix.size()), ", ");
  ASSERT_EQ(fields.size(), 3u) << authorization;
  std::vector<std::string> scope = Split(fields[0], "/");
  ASSERT_EQ(scope.size(), 5u);
  EXPECT_EQ(scope[0], access_key);
  EXPECT_EQ(scope[2], region);
  EXPECT_EQ(scope[3], "s3");
  EXPECT_EQ(scope[4], "aws4_request");
  ASSERT_TRUE(fields[1].starts_with("SignedHeaders="));
  ASSERT_TRUE(fields[2].starts_with("Signature="));
  const std::string signed_headers = fields[1].substr(14);
  std::vector<std::string> signed_names = Split(signed_headers, ";");
  EXPECT_TRUE(std::is_sorted(signed_names.begin(), signed_names.end()));
  for (const char* required : {"host", "x-amz-content-sha256", "x-amz-date"}) {
    EXPECT_NE(std::find(signed_names.begin(), signed_names.end(), required), signed_names.end()) << required;
  }
  std::string canonical_headers;
  for (const std::string& name : signed_names) {
    ASSERT_TRUE(headers.count(name)) << "signed header not sent: " << name;
    canonical_headers += name + ":" + headers[name] + "\n";
  }
  const std::string payload_hash = headers["x-amz-content-sha256"];
  const std::string body = raw.substr(raw.find("\r\n\r\n") + 4);
  EXPECT_EQ(payload_hash, body.empty() ? DigestHex(EVP_sha256(), "") : "UNSIGNED-PAYLOAD");
  const std::string canonical_request = method + "\n" + path + "\n" + canonical_query + "\n" +
                                        canonical_headers + "\n" + signed_headers + "\n" + payload_hash;
  const std::string amz_date = headers["x-amz-date"];
  ASSERT_EQ(amz_date.substr(0, 8), scope[1]);
  const std::string string_to_sign = "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope[1] + "/" + region +
                                     "/s3/aws4_request\n" + DigestHex(EVP_sha256(), canonical_request);
  std::string key = HmacSha256("AWS4" + secret, scope[1]);
  key = HmacSha256(key, region);
  key = HmacSha256(key, "s3");
  key = HmacSha256(key, "aws4_request");
  EXPECT_EQ(fields[2].substr(10), HexEncode(HmacSha256(key, string_to_sign)));
}

// ---------------------------------------------------------------- against s3rver

constexpr int kBigBucketObjects = 1150;

std::string BigKey(int i) { return fmt::format("obj-{:05d}", i); }
std::string BigContent(int i) {
  return fmt::format("object {} {}\n", i, std::string(static_cast<size_t>(i % 37), 'x'));
}

S3ClientOptions TestClientOptions(const std::string& endpoint) {
  S3ClientOptions options;
  options.endpoint = endpoint;
  options.credentials.access_key_id = "S3RVER";  // s3rver's built-in account
  options.credentials.secret_access_key = "S3RVER";
  options.connect_timeout = std::chrono::seconds(5);
  options.request_timeout = std::chrono::seconds(30);
  options.retry.max_attempts = 4;
  options.retry.base_backoff = std::chrono::milliseconds(5);
  options.retry.max_backoff = std::chrono::milliseconds(40);
  options.jitter_seed = 42;
  return options;
}

int PortOf(const std::string& endpoint) {
  return std::atoi(endpoint.substr(endpoint.rfind(':') + 1).c_str());
}

class S3ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* endpoint = std::getenv("S3_TEST_ENDPOINT");
    ASSERT_TRUE(endpoint != nullptr && *endpoint != '\0')
        << "S3_TEST_ENDPOINT is unset: these tests need s3rver; run them with `ctest -R s3_source_test`, or "
           "tests/crawler/s3rver_fixture.py --cache-dir <build>/s3rver-cache -- <this binary>";
    endpoint_ = endpoint;
    client_ = std::shared_ptr<S3Client>(S3Client::Create(TestClientOptions(endpoint_)).value());
  }

  // A fresh bucket named after the test.
  std::string NewBucket(std::string_view suffix = "") {
    std::string name =
        std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + std::string(suffix);
    std::string bucket;
    for (char c : name) bucket.push_back(std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '-');
    bucket = bucket.substr(0, 60);
    CreateBucket(*client_, bucket);
    return bucket;
  }

  static void CreateBucket(S3Client& client, const std::string& bucket) {
    S3Request request;
    request.operation = "CreateBucket";
    request.method = "PUT";
    request.bucket = bucket;
    absl::StatusOr<S3Response> response = client.Send(request);
    ASSERT_TRUE(response.ok()) << response.status();
    // 409 BucketAlreadyOwnedByYou when a previous test made it.
    ASSERT_TRUE(response->status == 200 || response->status == 409) << response->body;
  }

  static absl::StatusOr<std::string> PutObject(S3Client& client, const std::string& bucket,
                                               const std::string& key, const std::string& data) {
    S3Request request;
    request.operation = "PutObject";
    request.method = "PUT";
    request.bucket = bucket;
    request.key = key;
    request.body = data;
    request.headers.emplace_back("Content-Type", "application/octet-stream");
    absl::StatusOr<S3Response> response = client.SendChecked(request);
    if (!response.ok()) return response.status();
    return NormalizeEtag(response->Header("etag"));
  }

  std::string Put(const std::string& bucket, const std::string& key, const std::string& data) {
    absl::StatusOr<std::string> etag = PutObject(*client_, bucket, key, data);
    EXPECT_TRUE(etag.ok()) << etag.status();
    return etag.ok() ? *etag : std::string();
  }

  void Remove(const std::string& bucket, const std::string& key) {
    S3Request request;
    request.operation = "DeleteObject";
    request.method = "DELETE";
    request.bucket = bucket;
    request.key = key;
    EXPECT_TRUE(client_->SendChecked(request).ok());
  }

  std::unique_ptr<S3Source> MakeSource(const std::string& bucket,
                                       const std::function<void(S3SourceOptions&)>& customize = nullptr,
                                       std::shared_ptr<S3Client> client = nullptr) {
    S3SourceOptions options;
    options.id = "s3-test";
    options.bucket = bucket;
    if (customize) customize(options);
    auto source = S3Source::CreateWithClient(std::move(options), client ? client : client_);
    EXPECT_TRUE(source.ok()) << source.status();
    return source.ok() ? std::move(*source) : nullptr;
  }

  // The shared bucket of kBigBucketObjects objects, made once with parallel PUTs.
  const std::string& BigBucket() {
    static const std::string* bucket = nullptr;
    if (bucket == nullptr) {
      std::string name = "big-listing";
      CreateBucket(*client_, name);
      std::atomic<int> next{0};
      std::atomic<int> failures{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < 16; ++t) {
        threads.emplace_back([&] {
          for (int i = next++; i < kBigBucketObjects; i = next++) {
            if (!PutObject(*client_, name, BigKey(i), BigContent(i)).ok()) ++failures;
          }
        });
      }
      for (std::thread& t : threads) t.join();
      EXPECT_EQ(failures.load(), 0);
      bucket = new std::string(name);
    }
    return *bucket;
  }

  std::string endpoint_;
  std::shared_ptr<S3Client> client_;
};

TEST_F(S3ServerTest, ListsMoreThanOneThousandObjectsAcrossPagesInKeyOrder) {
  const std::string& bucket = BigBucket();
  auto source = MakeSource(bucket);
  CollectingSink sink;
  ASSERT_OK(source->List("", sink));
  ASSERT_THAT(sink.objects, SizeIs(kBigBucketObjects));
  for (int i = 0; i < kBigBucketObjects; ++i) {
    const ObjectRef& ref = sink.objects[static_cast<size_t>(i)];
    ASSERT_EQ(ref.key, BigKey(i));
    EXPECT_EQ(ref.source_id, "s3-test");
    EXPECT_EQ(ref.size, BigContent(i).size());
    EXPECT_EQ(ref.version, Md5Hex(BigContent(i))) << ref.key;  // s3rver's ETag is the MD5
  }
  EXPECT_TRUE(sink.skipped.empty());

  // Small pages: the same objects through many continuation tokens.
  auto paged = MakeSource(bucket, [](S3SourceOptions& o) { o.page_size = 97; });
  CollectingSink paged_sink;
  ASSERT_OK(paged->List("", paged_sink));
  EXPECT_EQ(paged_sink.Keys(), sink.Keys());
}

TEST_F(S3ServerTest, ResumesStrictlyAfterTheCursor) {
  const std::string& bucket = BigBucket();
  auto source = MakeSource(bucket, [](S3SourceOptions& o) { o.page_size = 400; });
  CollectingSink sink;
  ASSERT_OK(source->List(BigKey(537), sink));
  ASSERT_THAT(sink.objects, SizeIs(kBigBucketObjects - 538));
  EXPECT_EQ(sink.objects.front().key, BigKey(538));
  EXPECT_EQ(sink.objects.back().key, BigKey(kBigBucketObjects - 1));

  // A cursor that names no existing key.
  CollectingSink between;
  ASSERT_OK(source->List(BigKey(1099) + "~", between));
  ASSERT_THAT(between.objects, SizeIs(kBigBucketObjects - 1100));
  EXPECT_EQ(between.objects.front().key, BigKey(1100));

  CollectingSink past_end;
  ASSERT_OK(source->List("zzz", past_end));
  EXPECT_TRUE(past_end.objects.empty());
}

TEST_F(S3ServerTest, StopsWhenTheSinkSaysSoAndResumesFromTheLastKey) {
  const std::string& bucket = BigBucket();
  auto source = MakeSource(bucket, [](S3SourceOptions& o) { o.page_size = 300; });
  std::vector<std::string> keys;
  std::string cursor;
  int listings = 0;
  while (true) {
    CollectingSink sink(/*stop_after=*/450);
    ASSERT_OK(source->List(cursor, sink));
    ++listings;
    if (sink.objects.empty()) break;
    for (const ObjectRef& ref : sink.objects) keys.push_back(ref.key);
    cursor = sink.objects.back().key;
  }
  EXPECT_EQ(listings, 4);  // 450 + 450 + 250 + an empty one
  ASSERT_THAT(keys, SizeIs(kBigBucketObjects));
  for (int i = 0; i < kBigBucketObjects; ++i) ASSERT_EQ(keys[static_cast<size_t>(i)], BigKey(i));
}

TEST_F(S3ServerTest, CompareKeysIsUtf8ByteOrder) {
  auto source = MakeSource(NewBucket());
  EXPECT_LT(source->CompareKeys("a-c", "a/b"), 0);  // '-' 0x2D < '/' 0x2F
  EXPECT_LT(source->CompareKeys("Z", "a"), 0);
  EXPECT_LT(source->CompareKeys("a", "ab"), 0);
  EXPECT_GT(source->CompareKeys("\xC3\xA9", "z"), 0);  // bytes, not code points of a locale
  EXPECT_EQ(source->CompareKeys("same", "same"), 0);
}

TEST_F(S3ServerTest, ListsOnlyUnderThePrefixAndSkipsFolderMarkers) {
  const std::string bucket = NewBucket();
  Put(bucket, "in/a.jpg", "a");
  Put(bucket, "in/b.jpg", "bb");
  Put(bucket, "in/sub/", "");
  Put(bucket, "out/c.jpg", "c");
  Put(bucket, "inside.jpg", "d");
  auto source = MakeSource(bucket, [](S3SourceOptions& o) { o.prefix = "in/"; });
  CollectingSink sink;
  ASSERT_OK(source->List("", sink));
  EXPECT_THAT(sink.Keys(), ElementsAre("in/a.jpg", "in/b.jpg"));
  EXPECT_THAT(sink.skipped, ElementsAre(Pair("in/sub/", "folder marker (zero-byte key ending in '/')")));
  ObjectRef outside{"s3-test", "out/c.jpg", "", 1};
  EXPECT_EQ(source->Open(outside).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(S3ServerTest, DetectsChangedAndDeletedObjectsBetweenListings) {
  const std::string bucket = NewBucket();
  for (const char* key : {"a", "b", "c", "d"}) Put(bucket, key, std::string("first ") + key);
  auto source = MakeSource(bucket);
  CollectingSink before;
  ASSERT_OK(source->List("", before));
  std::map<std::string, std::string> v1 = before.Versions();
  ASSERT_THAT(v1, SizeIs(4));

  Put(bucket, "b", "second b, longer");
  Put(bucket, "c", "first c");  // same bytes rewritten: same ETag
  Remove(bucket, "d");
  Put(bucket, "e", "new e");

  CollectingSink after;
  ASSERT_OK(source->List("", after));
  std::map<std::string, std::string> v2 = after.Versions();
  EXPECT_THAT(after.Keys(), ElementsAre("a", "b", "c", "e"));
  EXPECT_EQ(v2["a"], v1["a"]);
  EXPECT_NE(v2["b"], v1["b"]);
  EXPECT_EQ(v2["b"], Md5Hex("second b, longer"));
  EXPECT_EQ(v2["c"], v1["c"]);
  EXPECT_EQ(after.objects[1].size, std::string("second b, longer").size());

  // The stale ref of "b" no longer reads; the deleted "d" is NotFound.
  ObjectRef stale_b = before.objects[1];
  absl::StatusOr<std::unique_ptr<ObjectReader>> reader = source->Open(stale_b);
  ASSERT_EQ(reader.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(reader.status()), HasSubstr("changed since it was listed"));
  reader = source->Open(before.objects[3]);
  ASSERT_EQ(reader.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(reader.status()), HasSubstr("s3-test: d: object vanished after listing"));

  // Without pinning, the current bytes are read.
  auto unpinned = MakeSource(bucket, [](S3SourceOptions& o) { o.verify_listed_etag = false; });
  reader = unpinned->Open(stale_b);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(ReadAll(**reader).value(), "second b, longer");
}

TEST_F(S3ServerTest, OpenOfAMissingKeyIsNotFound) {
  const std::string bucket = NewBucket();
  auto source = MakeSource(bucket);
  absl::StatusOr<std::unique_ptr<ObjectReader>> reader =
      source->Open(ObjectRef{"s3-test", "never/was", "", 0});
  ASSERT_EQ(reader.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(reader.status()), HasSubstr("NoSuchKey"));
  EXPECT_THAT(Message(reader.status()), HasSubstr("s3://" + bucket + "/never/was at " + endpoint_));
  EXPECT_EQ(source->Open(ObjectRef{"other-source", "k", "", 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(S3ServerTest, RefusesHeadersThisLibcurlCannotSign) {
  S3Request request;
  request.operation = "CopyObject";
  request.method = "PUT";
  request.bucket = NewBucket();
  request.key = "k";
  request.headers = {{"x-amz-copy-source", "/b/k"}, {"x-amz-copy-source-if-match", "\"e\""}};
  absl::StatusOr<S3Response> response = client_->Send(request);
  ASSERT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(response.status()), HasSubstr("cannot be signed together"));
}

TEST_F(S3ServerTest, StreamsAMultiMiBObjectInChunksWithTheRightSha256) {
  const std::string bucket = NewBucket();
  std::mt19937_64 rng(20240611);
  std::string data(5 * 1024 * 1024 + 12345, '\0');
  for (char& c : data) c = static_cast<char>(rng() & 0xFF);
  const std::string etag = Put(bucket, "big/blob.bin", data);
  ASSERT_EQ(etag, Md5Hex(data));

  FaultProxy counter(PortOf(endpoint_));  // counts the ranged GETs
  auto client = std::shared_ptr<S3Client>(S3Client::Create(TestClientOptions(counter.endpoint())).value());
  auto source = MakeSource(
      bucket, [](S3SourceOptions& o) { o.read_chunk_bytes = 1024 * 1024; }, client);
  CollectingSink sink;
  ASSERT_OK(source->List("", sink));
  ASSERT_THAT(sink.objects, SizeIs(1));
  EXPECT_EQ(sink.objects[0].size, data.size());
  const int listing_requests = counter.forwarded();

  absl::StatusOr<std::unique_ptr<ObjectReader>> reader = source->Open(sink.objects[0]);
  ASSERT_TRUE(reader.ok()) << reader.status();
  absl::StatusOr<std::string> read = ReadAll(**reader, 100'000);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->size(), data.size());
  EXPECT_EQ(DigestHex(EVP_sha256(), *read), DigestHex(EVP_sha256(), data));
  EXPECT_EQ(counter.forwarded() - listing_requests, 6);  // 5 full MiB chunks and a short one
  EXPECT_EQ((*reader)->Read(std::span<uint8_t>()).value(), 0u);
}

std::string RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string data(size, '\0');
  for (char& c : data) c = static_cast<char>(rng() & 0xFF);
  return data;
}

// Reads to the end with buffers of seeded, varying sizes (from one byte to
// more than a chunk), so reads straddle chunk boundaries in every way.
absl::StatusOr<std::string> ReadAllVarying(ObjectReader& reader, uint64_t seed) {
  static constexpr size_t kSizes[] = {1, 7, 4096, 65535, 65536, 65537, 200'000};
  std::mt19937_64 rng(seed);
  std::string out;
  std::vector<uint8_t> buffer(200'000);
  while (true) {
    const size_t want = kSizes[rng() % std::size(kSizes)];
    absl::StatusOr<size_t> n = reader.Read(std::span<uint8_t>(buffer.data(), want));
    if (!n.ok()) return n.status();
    if (*n == 0) return out;
    if (*n > want) return absl::InternalError("Read returned more than asked");
    out.append(reinterpret_cast<const char*>(buffer.data()), *n);
  }
}

// Reads exactly `size` bytes (fewer only at the end of the object).
absl::StatusOr<std::string> ReadExactly(ObjectReader& reader, size_t size) {
  std::string out;
  std::vector<uint8_t> buffer(size);
  while (out.size() < size) {
    absl::StatusOr<size_t> n = reader.Read(std::span<uint8_t>(buffer.data(), size - out.size()));
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    out.append(reinterpret_cast<const char*>(buffer.data()), *n);
  }
  return out;
}

constexpr uint64_t kSmallChunk = 64 * 1024;  // the smallest read_chunk_bytes

TEST_F(S3ServerTest, ReaderReturnsEveryByteInOrderInOneGetOrInChunks) {
  const std::string bucket = NewBucket();
  struct Case {
    std::string key;
    size_t size;
    int chunked_gets;  // GETs with 64 KiB chunks: one per chunk, none past the end
  };
  const std::vector<Case> cases = {
      {"exact-multiple", 4 * kSmallChunk, 4},
      {"large-ragged", 47 * kSmallChunk + 333, 48},  // larger than the socket buffers on the way
      {"one-byte-over", kSmallChunk + 1, 2},
      {"one-byte-under", kSmallChunk - 1, 1},  // listed smaller than a chunk: one plain GET
  };
  std::map<std::string, std::string> data;
  for (size_t i = 0; i < cases.size(); ++i) {
    data[cases[i].key] = RandomBytes(cases[i].size, 1000 + i);
    Put(bucket, cases[i].key, data[cases[i].key]);
  }
  FaultProxy counter(PortOf(endpoint_));
  auto client = std::shared_ptr<S3Client>(S3Client::Create(TestClientOptions(counter.endpoint())).value());
  for (const uint64_t chunk : {uint64_t{0}, kSmallChunk}) {
    auto source = MakeSource(
        bucket, [&](S3SourceOptions& o) { o.read_chunk_bytes = chunk; }, client);
    CollectingSink sink;
    ASSERT_OK(source->List("", sink));
    ASSERT_THAT(sink.objects, SizeIs(cases.size()));
    for (const ObjectRef& ref : sink.objects) {
      SCOPED_TRACE(fmt::format("{}, read_chunk_bytes {}", ref.key, chunk));
      const Case& c =
          *std::find_if(cases.begin(), cases.end(), [&](const Case& x) { return x.key == ref.key; });
      const int before = counter.forwarded();
      absl::StatusOr<std::unique_ptr<ObjectReader>> reader = source->Open(ref);
      ASSERT_TRUE(reader.ok()) << reader.status();
      absl::StatusOr<std::string> read = ReadAllVarying(**reader, c.size);
      ASSERT_TRUE(read.ok()) << read.status();
      ASSERT_EQ(read->size(), c.size);
      EXPECT_TRUE(*read == data[ref.key]) << "bytes differ";
      EXPECT_EQ((*reader)->Read(std::span<uint8_t>()).value(), 0u);
      std::vector<uint8_t> after_end(16);
      EXPECT_EQ((*reader)->Read(after_end).value(), 0u);
      EXPECT_EQ(counter.forwarded() - before, chunk == 0 ? 1 : c.chunked_gets);
    }
  }
}

TEST_F(S3ServerTest, ReaderDestroyedMidObjectFreesItsSlotAtOnce) {
  const std::string bucket = NewBucket();
  const std::string data = RandomBytes(8 * 1024 * 1024 + 5, 7);  // more than the socket buffers hold
  Put(bucket, "big", data);
  S3ClientOptions options = TestClientOptions(endpoint_);
  options.max_concurrent_requests = 1;  // a slot kept by the abandoned GET would block the next one
  auto client = std::shared_ptr<S3Client>(S3Client::Create(options).value());
  auto source = MakeSource(bucket, nullptr, client);
  CollectingSink sink;
  ASSERT_OK(source->List("", sink));
  ASSERT_THAT(sink.objects, SizeIs(1));

  absl::StatusOr<std::unique_ptr<ObjectReader>> reader = source->Open(sink.objects[0]);
  ASSERT_TRUE(reader.ok()) << reader.status();
  absl::StatusOr<std::string> head = ReadExactly(**reader, 1000);
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_TRUE(*head == data.substr(0, 1000));
  const auto start = std::chrono::steady_clock::now();
  reader->reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));

  reader = source->Open(sink.objects[0]);
  ASSERT_TRUE(reader.ok()) << reader.status();
  absl::StatusOr<std::string> read = ReadAll(**reader);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(*read == data);

  // Readers dropped right after Open, many times over: every slot comes back
  // and nothing leaks (run under ASan too).
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(source->Open(sink.objects[0]).ok()) << i;
  CollectingSink again;
  ASSERT_OK(source->List("", again));
  EXPECT_THAT(again.Keys(), ElementsAre("big"));
}

TEST_F(S3ServerTest, ObjectReplacedBetweenChunksFailsAfterTheListedBytes) {
  const std::string bucket = NewBucket();
  const std::string first = RandomBytes(3 * kSmallChunk, 11);
  const std::string second = RandomBytes(3 * kSmallChunk, 12);  // same size, other bytes
  for (const bool verify_listed_etag : {true, false}) {
    SCOPED_TRACE(verify_listed_etag ? "pinned to the listed ETag" : "pinned to the first response's ETag");
    Put(bucket, "k", first);
    auto source = MakeSource(bucket, [&](S3SourceOptions& o) {
      o.read_chunk_bytes = kSmallChunk;
      o.verify_listed_etag = verify_listed_etag;
    });
    CollectingSink sink;
    ASSERT_OK(source->List("", sink));
    ASSERT_THAT(sink.objects, SizeIs(1));
    absl::StatusOr<std::unique_ptr<ObjectReader>> reader = source->Open(sink.objects[0]);
    ASSERT_TRUE(reader.ok()) << reader.status();
    absl::StatusOr<std::string> chunk = ReadExactly(**reader, kSmallChunk);  // all of the first GET
    ASSERT_TRUE(chunk.ok()) << chunk.status();
    EXPECT_TRUE(*chunk == first.substr(0, kSmallChunk));

    Put(bucket, "k", second);  // before the second GET
    std::vector<uint8_t> buffer(10'000);
    absl::StatusOr<size_t> next = (*reader)->Read(buffer);
    ASSERT_FALSE(next.ok()) << "read " << *next << " bytes of another version";
    EXPECT_EQ(next.status().code(), absl::StatusCode::kFailedPrecondition) << next.status();
    EXPECT_THAT(Message(next.status()), HasSubstr("changed since it was listed"));
    EXPECT_EQ((*reader)->Read(buffer).status().code(), absl::StatusCode::kFailedPrecondition);  // it sticks
  }
}

TEST_F(S3ServerTest, ResumesAfterTheConnectionDropsMidObject) {
  const std::string bucket = NewBucket();
  const std::string data = RandomBytes(1024 * 1024 + 17, 21);
  const std::string etag = Put(bucket, "k", data);
  FaultProxy proxy(PortOf(endpoint_));
  auto client = std::shared_ptr<S3Client>(S3Client::Create(TestClientOptions(proxy.endpoint())).value());
  auto source = MakeSource(bucket, nullptr, client);
  CollectingSink sink;
  ASSERT_OK(source->List("", sink));
  ASSERT_THAT(sink.objects, SizeIs(1));

  proxy.CutNextResponses(2, 300'000);  // the GET and its first resumption break off
  absl::StatusOr<std::unique_ptr<ObjectReader>> reader = source->Open(sink.objects[0]);
  ASSERT_TRUE(reader.ok()) << reader.status();
  absl::StatusOr<std::string> read = ReadAllVarying(**reader, 3);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->size(), data.size());
  EXPECT_TRUE(*read == data) << "bytes differ";
  const std::vector<std::string> requests = proxy.requests();
  ASSERT_THAT(requests, SizeIs(4));  // the listing, the GET and two resumptions
  EXPECT_THAT(requests[1], Not(HasSubstr("Range:")));
  for (size_t i = 1; i < requests.size(); ++i) {
    EXPECT_THAT(requests[i], HasSubstr("If-Match: \"" + etag + "\"\r\n"));
  }
  EXPECT_THAT(requests[2], HasSubstr("Range: bytes=300000-\r\n"));
  EXPECT_THAT(requests[3], HasSubstr("Range: bytes=600000-\r\n"));

  // A body that keeps breaking off before its first byte: the reader gives
  // up after max_attempts (4) GETs in a row without progress.
  proxy.CutNextResponses(100, 0);
  const int before = proxy.forwarded();
  reader = source->Open(sink.objects[0]);
  ASSERT_TRUE(reader.ok()) << reader.status();
  read = ReadAll(**reader);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kUnavailable) << read.status();
  EXPECT_THAT(Message(read.status()), HasSubstr("s3-test: k: reading at byte 0 (attempt 4)"));
  EXPECT_EQ(proxy.forwarded() - before, 4);
}

TEST_F(S3ServerTest, AReaderMayWaitLongerThanTheRequestTimeoutBetweenReads) {
  const std::string bucket = NewBucket();
  const std::string data = RandomBytes(4 * 1024 * 1024, 31);
  Put(bucket, "k", data);
  S3ClientOptions options = TestClientOptions(endpoint_);
  options.request_timeout = std::chrono::milliseconds(500);
  auto source = MakeSource(bucket, nullptr, std::shared_ptr<S3Client>(S3Client::Create(options).value()));
  CollectingSink sink;
  ASSERT_OK(source->List("", sink));
  absl::StatusOr<std::unique_ptr<ObjectReader>> reader = source->Open(sink.objects[0]);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::string read;
  std::vector<uint8_t> buffer(1024 * 1024);
  for (int pause = 0;; ++pause) {
    if (pause < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // a slow consumer
    absl::StatusOr<size_t> n = (*reader)->Read(buffer);
    ASSERT_TRUE(n.ok()) << n.status();
    if (*n == 0) break;
    read.append(reinterpret_cast<const char*>(buffer.data()), *n);
  }
  EXPECT_TRUE(read == data);
}

TEST_F(S3ServerTest, OpenReadersCountAgainstTheConcurrencyLimit) {
  const std::string bucket = NewBucket();
  std::vector<std::string> data;
  for (int i = 0; i < 4; ++i) {
    data.push_back(RandomBytes(4 * kSmallChunk + 10, 50 + i));
    Put(bucket, fmt::format("k{}", i), data.back());
  }
  FaultProxy proxy(PortOf(endpoint_));
  proxy.SetForwardDelay(std::chrono::milliseconds(20));
  S3ClientOptions options = TestClientOptions(proxy.endpoint());
  options.max_concurrent_requests = 2;
  auto client = std::shared_ptr<S3Client>(S3Client::Create(options).value());
  auto source = MakeSource(
      bucket, [](S3SourceOptions& o) { o.read_chunk_bytes = kSmallChunk; }, client);
  CollectingSink sink;
  ASSERT_OK(source->List("", sink));
  ASSERT_THAT(sink.objects, SizeIs(4));
  std::atomic<int> good{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back([&, i] {
      auto reader = source->Open(sink.objects[static_cast<size_t>(i)]);
      if (reader.ok() && ReadAll(**reader, 5000).value_or("") == data[static_cast<size_t>(i)]) ++good;
    });
  }
  for (std::thread& t : workers) t.join();
  EXPECT_EQ(good.load(), 4);
  EXPECT_EQ(proxy.max_in_flight(), 2);

  // The only slot, held by an open reader, is what a listing waits for.
  options.max_concurrent_requests = 1;
  auto single = MakeSource(bucket, nullptr, std::shared_ptr<S3Client>(S3Client::Create(options).value()));
  absl::StatusOr<std::unique_ptr<ObjectReader>> holder = single->Open(sink.objects[0]);
  ASSERT_TRUE(holder.ok()) << holder.status();
  std::atomic<bool> listed{false};
  std::thread lister([&] {
    CollectingSink s;
    EXPECT_TRUE(single->List("", s).ok());
    listed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(listed.load()) << "the listing did not wait for the reader's slot";
  EXPECT_EQ(ReadAll(**holder).value(), data[0]);  // the body complete: the slot is free
  lister.join();
  EXPECT_TRUE(listed.load());
}

TEST_F(S3ServerTest, ReadsAnEmptyObject) {
  const std::string bucket = NewBucket();
  Put(bucket, "empty", "");
  auto source = MakeSource(bucket);
  CollectingSink sink;
  ASSERT_OK(source->List("", sink));
  ASSERT_THAT(sink.objects, SizeIs(1));
  EXPECT_EQ(sink.objects[0].version, Md5Hex(""));
  absl::StatusOr<std::unique_ptr<ObjectReader>> reader = source->Open(sink.objects[0]);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(ReadAll(**reader).value(), "");
}

TEST_F(S3ServerTest, KeysWithSpecialCharactersRoundTrip) {
  const std::string bucket = NewBucket();
  const std::vector<std::string> keys = {"a b.jpg",          "a+b.jpg",   "a%20b.jpg",
                                         "caf\xC3\xA9.png",  "q?x=1&y#z", "semi;colon,comma",
                                         "tilde~under_score"};
  for (const std::string& key : keys) Put(bucket, key, "bytes of " + key);
  auto source = MakeSource(bucket);
  CollectingSink sink;
  ASSERT_OK(source->List("", sink));
  std::vector<std::string> expected = keys;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(sink.Keys(), expected);
  for (const ObjectRef& ref : sink.objects) {
    absl::StatusOr<std::unique_ptr<ObjectReader>> reader = source->Open(ref);
    ASSERT_TRUE(reader.ok()) << ref.key << ": " << reader.status();
    EXPECT_EQ(ReadAll(**reader).value(), "bytes of " + ref.key);
  }
}

TEST_F(S3ServerTest, QuarantineCopiesToTheQuarantineBucketThenDeletes) {
  const std::string bucket = NewBucket();
  const std::string quarantine = NewBucket("-q");
  Put(bucket, "uploads/bad.jpg", "bad bytes");
  Put(bucket, "uploads/good.jpg", "good bytes");
  auto source = MakeSource(bucket, [&](S3SourceOptions& o) {
    o.quarantine_bucket = quarantine;
    o.quarantine_prefix = "case-17/";
  });
  CollectingSink sink;
  ASSERT_OK(source->List("", sink));
  ASSERT_THAT(sink.objects, SizeIs(2));
  const ObjectRef bad = sink.objects[0];
  ASSERT_EQ(bad.key, "uploads/bad.jpg");

  absl::StatusOr<std::string> location = source->Quarantine(bad);
  ASSERT_TRUE(location.ok()) << location.status();
  EXPECT_EQ(*location, "s3://" + quarantine + "/case-17/uploads/bad.jpg");
  EXPECT_EQ(source->Open(bad).status().code(), absl::StatusCode::kNotFound);

  auto quarantined = MakeSource(quarantine);
  CollectingSink q_sink;
  ASSERT_OK(quarantined->List("", q_sink));
  ASSERT_THAT(q_sink.Keys(), ElementsAre("case-17/uploads/bad.jpg"));
  EXPECT_EQ(q_sink.objects[0].version, bad.version);
  EXPECT_EQ(ReadAll(*quarantined->Open(q_sink.objects[0]).value()).value(), "bad bytes");

  CollectingSink remaining;
  ASSERT_OK(source->List("", remaining));
  EXPECT_THAT(remaining.Keys(), ElementsAre("uploads/good.jpg"));
  // Deleting what is already gone is fine (S3 semantics).
  EXPECT_TRUE(source->Delete(bad).ok());
}

TEST_F(S3ServerTest, QuarantineRefusesAnObjectChangedSinceListing) {
  const std::string bucket = NewBucket();
  Put(bucket, "k", "listed bytes");
  auto source = MakeSource(bucket);
  CollectingSink sink;
  ASSERT_OK(source->List("", sink));
  Put(bucket, "k", "rewritten bytes");
  absl::StatusOr<std::string> location = source->Quarantine(sink.objects[0]);
  ASSERT_EQ(location.status().code(), absl::StatusCode::kFailedPrecondition) << location.status();
  EXPECT_THAT(Message(location.status()),
              HasSubstr(fmt::format("k: object changed since it was listed (ETag {} now, {} listed); not "
                                    "quarantined",
                                    Md5Hex("rewritten bytes"), Md5Hex("listed bytes"))));
  // Not deleted, and the copy of the new bytes was removed again.
  CollectingSink after;
  ASSERT_OK(source->List("", after));
  EXPECT_THAT(after.Keys(), ElementsAre("k"));
  S3Request get_copy;
  get_copy.bucket = bucket;
  get_copy.key = "takedown-quarantine/k";
  EXPECT_EQ(client_->Send(get_copy).value().status, 404);
}

TEST_F(S3ServerTest, QuarantineInTheSourceBucketIsNotListedAgain) {
  const std::string bucket = NewBucket();
  Put(bucket, "a.jpg", "a");
  Put(bucket, "z.jpg", "z");
  auto source = MakeSource(bucket);  // default quarantine_prefix, same bucket
  CollectingSink sink;
  ASSERT_OK(source->List("", sink));
  absl::StatusOr<std::string> location = source->CopyToQuarantine(sink.objects[0]);
  ASSERT_TRUE(location.ok()) << location.status();
  EXPECT_EQ(*location, "s3://" + bucket + "/takedown-quarantine/a.jpg");
  CollectingSink again;
  ASSERT_OK(source->List("", again));
  EXPECT_THAT(again.Keys(), ElementsAre("a.jpg", "z.jpg"));  // the copy exists but is not swept
}

TEST_F(S3ServerTest, PutTagsReplacesTheTagSet) {
  const std::string bucket = NewBucket();
  Put(bucket, "tagged.jpg", "x");
  auto source = MakeSource(bucket);
  ObjectRef ref{"s3-test", "tagged.jpg", "", 1};
  ASSERT_OK(source->PutTags(ref, {{"takedown-case", "C-17"}, {"reason", "list ncmec-2026 \xC3\xA9"}}));
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> tags = source->GetTags(ref);
  ASSERT_TRUE(tags.ok()) << tags.status();
  EXPECT_THAT(*tags, ElementsAre(Pair("takedown-case", "C-17"), Pair("reason", "list ncmec-2026 \xC3\xA9")));
  // Markup characters are escaped: the server accepts the document (s3rver
  // 3.7.1 then fails to escape them in GetObjectTagging, so no round trip).
  ASSERT_OK(source->PutTags(ref, {{"reason", "match <list> & \"quote\" 'x'"}}));

  ASSERT_TRUE(source->PutTags(ref, {{"state", "quarantined"}}).ok());
  EXPECT_THAT(source->GetTags(ref).value(), ElementsAre(Pair("state", "quarantined")));

  std::vector<std::pair<std::string, std::string>> eleven;
  for (int i = 0; i < 11; ++i) eleven.emplace_back(fmt::format("k{}", i), "v");
  EXPECT_THAT(Message(source->PutTags(ref, eleven)), HasSubstr("11 tags; S3 allows at most 10"));
  EXPECT_EQ(source->PutTags(ref, {{"", "v"}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(source->PutTags(ref, {{"k", "1"}, {"k", "2"}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(source->PutTags(ref, {{std::string(129, 'k'), "v"}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(source->PutTags(ObjectRef{"s3-test", "missing.jpg", "", 1}, {{"a", "b"}}).code(),
            absl::StatusCode::kNotFound);
}

TEST_F(S3ServerTest, WrongAccessKeyIsPermissionDeniedNamingBucketAndEndpointWithoutSecrets) {
  const std::string bucket = NewBucket();
  S3ClientOptions options = TestClientOptions(endpoint_);
  options.credentials.access_key_id = "AKIAWRONGKEY42";
  options.credentials.secret_access_key = "wrong-secret-value-123";
  auto client = std::shared_ptr<S3Client>(S3Client::Create(options).value());
  auto source = MakeSource(bucket, nullptr, client);
  CollectingSink sink;
  absl::Status status = source->List("", sink);
  ASSERT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_THAT(Message(status), HasSubstr("ListObjectsV2 s3://" + bucket + " at " + endpoint_));
  EXPECT_THAT(Message(status), HasSubstr("HTTP 403 InvalidAccessKeyId"));
  EXPECT_THAT(Message(status), HasSubstr("check the access key id and secret access key"));
  EXPECT_THAT(Message(status), Not(HasSubstr("wrong-secret-value-123")));
  EXPECT_THAT(Message(status), Not(HasSubstr("AKIAWRONGKEY42")));
  EXPECT_TRUE(sink.objects.empty());
}

TEST_F(S3ServerTest, SignatureMismatchIsPermissionDeniedWithoutSecrets) {
  const std::string bucket = NewBucket();
  FaultProxy proxy(PortOf(endpoint_));
  // A real S3 echoes the access key id (never the secret) in such errors.
  proxy.FailNext(100, FaultProxy::S3ErrorResponse(
                          403, "Forbidden", "SignatureDoesNotMatch",
                          "The request signature we calculated does not match the signature you provided for "
                          "S3RVER. Check your key and signing method."));
  auto client = std::shared_ptr<S3Client>(S3Client::Create(TestClientOptions(proxy.endpoint())).value());
  auto source = MakeSource(bucket, nullptr, client);
  CollectingSink sink;
  absl::Status status = source->List("", sink);
  ASSERT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(Message(status), HasSubstr("s3://" + bucket + " at " + proxy.endpoint()));
  EXPECT_THAT(Message(status), HasSubstr("SignatureDoesNotMatch"));
  EXPECT_THAT(Message(status), Not(HasSubstr("S3RVER")));
  EXPECT_EQ(proxy.faults_served(), 1);  // a 403 is not retried
}

TEST_F(S3ServerTest, RetriesAfterInjected503sAndSucceeds) {
  const std::string bucket = NewBucket();
  Put(bucket, "one", "1");
  Put(bucket, "two", "22");
  FaultProxy proxy(PortOf(endpoint_));
  auto client = std::shared_ptr<S3Client>(S3Client::Create(TestClientOptions(proxy.endpoint())).value());
  auto source = MakeSource(bucket, nullptr, client);

  proxy.FailNext(
      3, FaultProxy::S3ErrorResponse(503, "Slow Down", "SlowDown", "Please reduce your request rate."));
  CollectingSink sink;
  ASSERT_OK(source->List("", sink));
  EXPECT_THAT(sink.Keys(), ElementsAre("one", "two"));
  EXPECT_EQ(proxy.faults_served(), 3);
  EXPECT_EQ(proxy.forwarded(), 1);

  proxy.FailNext(2, FaultProxy::S3ErrorResponse(500, "Internal Server Error", "InternalError", "oops"));
  absl::StatusOr<std::unique_ptr<ObjectReader>> reader = source->Open(sink.objects[1]);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(ReadAll(**reader).value(), "22");
  EXPECT_EQ(proxy.faults_served(), 5);
}

TEST_F(S3ServerTest, RetriesAfterDroppedConnections) {
  const std::string bucket = NewBucket();
  Put(bucket, "k", "value");
  FaultProxy proxy(PortOf(endpoint_));
  auto client = std::shared_ptr<S3Client>(S3Client::Create(TestClientOptions(proxy.endpoint())).value());
  auto source = MakeSource(bucket, nullptr, client);
  proxy.FailNext(3, "");  // close without answering: curl reports "empty reply"
  CollectingSink sink;
  ASSERT_OK(source->List("", sink));
  EXPECT_THAT(sink.Keys(), ElementsAre("k"));
  EXPECT_EQ(proxy.faults_served(), 3);
}

TEST_F(S3ServerTest, GivesUpAfterMaxAttemptsWithAClearError) {
  const std::string bucket = NewBucket();
  FaultProxy proxy(PortOf(endpoint_));
  S3ClientOptions options = TestClientOptions(proxy.endpoint());
  options.retry.max_attempts = 3;
  auto client = std::shared_ptr<S3Client>(S3Client::Create(options).value());
  auto source = MakeSource(bucket, nullptr, client);
  proxy.FailNext(
      10, FaultProxy::S3ErrorResponse(503, "Slow Down", "SlowDown", "Please reduce your request rate."));
  CollectingSink sink;
  absl::Status status = source->List("", sink);
  ASSERT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(status), HasSubstr("HTTP 503 SlowDown: Please reduce your request rate. (request id "
                                         "FAULTPROXY) after 3 attempts"));
  EXPECT_EQ(proxy.faults_served(), 3);

  // Nothing listening: connection refused, retried, then Unavailable.
  S3ClientOptions dead = TestClientOptions("http://127.0.0.1:1");
  dead.retry.max_attempts = 2;
  auto dead_source = MakeSource(bucket, nullptr, std::shared_ptr<S3Client>(S3Client::Create(dead).value()));
  status = dead_source->List("", sink);
  ASSERT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(status), HasSubstr("at http://127.0.0.1:1: "));
  EXPECT_THAT(Message(status), HasSubstr("(after 2 attempts)"));
}

TEST_F(S3ServerTest, RequestsCarryAValidSignatureV4) {
  const std::string bucket = NewBucket();
  const std::string quarantine = NewBucket("-q");
  // No '&', '+' or '=': s3rver decodes x-amz-copy-source with JavaScript's
  // decodeURI, which leaves their escapes alone (S3 itself decodes them).
  const std::string key = "in dir/\xC3\xBC x_y~z.jpg";
  Put(bucket, key, "signed bytes");
  FaultProxy proxy(PortOf(endpoint_));
  S3ClientOptions options = TestClientOptions(proxy.endpoint());
  options.region = "eu-central-1";
  options.credentials.session_token = "SESSION/TOKEN+1";
  auto client = std::shared_ptr<S3Client>(S3Client::Create(options).value());
  auto source = MakeSource(
      bucket,
      [&](S3SourceOptions& o) {
        o.prefix = "in dir/";
        o.page_size = 5;
        o.quarantine_bucket = quarantine;
      },
      client);
  CollectingSink sink;
  ASSERT_OK(source->List("in dir/a b~", sink));  // start-after, prefix, max-keys
  ASSERT_THAT(sink.Keys(), ElementsAre(key));
  ASSERT_TRUE(source->Open(sink.objects[0]).ok());                                // GET with If-Match
  ASSERT_OK(source->PutTags(sink.objects[0], {{"case", "C-1"}}));                 // PUT with a body
  absl::StatusOr<std::string> quarantined = source->Quarantine(sink.objects[0]);  // PUT copy, DELETE
  ASSERT_TRUE(quarantined.ok()) << quarantined.status();
  const std::vector<std::string> requests = proxy.requests();
  ASSERT_THAT(requests, SizeIs(5));
  EXPECT_THAT(requests[0],
              HasSubstr("GET /" + bucket +
                        "?list-type=2&max-keys=5&prefix=in%20dir%2F&start-after=in%20dir%2Fa%20b~ "));
  EXPECT_THAT(requests[1], HasSubstr("GET /" + bucket + "/in%20dir/%C3%BC%20x_y~z.jpg "));
  EXPECT_THAT(requests[2], HasSubstr("?tagging= "));
  EXPECT_THAT(requests[3], HasSubstr("x-amz-copy-source: /" + bucket + "/in%20dir/%C3%BC%20x_y~z.jpg\r\n"));
  EXPECT_THAT(requests[4], HasSubstr("DELETE /" + bucket + "/in%20dir/"));
  for (const std::string& request : requests) {
    EXPECT_THAT(request, HasSubstr("x-amz-security-token: SESSION/TOKEN+1\r\n"));
    ExpectValidSigV4(request, "S3RVER", "S3RVER", "eu-central-1");
  }
}

TEST_F(S3ServerTest, ConcurrentRequestsAreBoundedPerClient) {
  const std::string bucket = NewBucket();
  for (int i = 0; i < 12; ++i) Put(bucket, fmt::format("k{:02d}", i), fmt::format("value {}", i));
  FaultProxy proxy(PortOf(endpoint_));
  proxy.SetForwardDelay(std::chrono::milliseconds(30));
  S3ClientOptions options = TestClientOptions(proxy.endpoint());
  options.max_concurrent_requests = 3;
  auto client = std::shared_ptr<S3Client>(S3Client::Create(options).value());
  auto source = MakeSource(bucket, nullptr, client);
  CollectingSink sink;
  ASSERT_OK(source->List("", sink));
  ASSERT_THAT(sink.objects, SizeIs(12));
  std::atomic<int> good{0};
  std::vector<std::thread> workers;
  for (const ObjectRef& ref : sink.objects) {
    workers.emplace_back([&, ref] {
      auto reader = source->Open(ref);
      if (reader.ok() &&
          ReadAll(**reader).value_or("") == "value " + std::to_string(std::stoi(ref.key.substr(1)))) {
        ++good;
      }
    });
  }
  for (std::thread& t : workers) t.join();
  EXPECT_EQ(good.load(), 12);
  EXPECT_EQ(proxy.max_in_flight(), 3);
}

TEST_F(S3ServerTest, ListingLargerThanTheResponseBoundIsResourceExhausted) {
  const std::string& bucket = BigBucket();
  S3ClientOptions options = TestClientOptions(endpoint_);
  options.max_response_bytes = 16 * 1024;
  auto source = MakeSource(bucket, nullptr, std::shared_ptr<S3Client>(S3Client::Create(options).value()));
  CollectingSink sink;
  absl::Status status = source->List("", sink);
  ASSERT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(Message(status), HasSubstr("response body larger than 16384 bytes"));
}

TEST_F(S3ServerTest, TlsIsVerifiedByDefaultAndTrustsTheConfiguredCa) {
  const char* tls_endpoint = std::getenv("S3_TEST_TLS_ENDPOINT");
  const char* ca_file = std::getenv("S3_TEST_TLS_CA_FILE");
  ASSERT_TRUE(tls_endpoint != nullptr && ca_file != nullptr);
  S3ClientOptions options = TestClientOptions(tls_endpoint);
  options.retry.max_attempts = 2;
  auto untrusting = std::shared_ptr<S3Client>(S3Client::Create(options).value());
  CreateBucket(*std::shared_ptr<S3Client>(S3Client::Create([&] {
                                            S3ClientOptions o = options;
                                            o.ca_file = ca_file;
                                            return o;
                                          }())
                                              .value()),
               "tls-bucket");
  auto source = MakeSource("tls-bucket", nullptr, untrusting);
  CollectingSink sink;
  absl::Status status = source->List("", sink);
  ASSERT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(Message(status), HasSubstr("TLS verification failed: set ca_file"));
  EXPECT_THAT(Message(status), HasSubstr(std::string("at ") + tls_endpoint));

  options.ca_file = ca_file;
  auto trusting = std::shared_ptr<S3Client>(S3Client::Create(options).value());
  ASSERT_TRUE(PutObject(*trusting, "tls-bucket", "secure.txt", "over TLS").ok());
  source = MakeSource("tls-bucket", nullptr, trusting);
  ASSERT_OK(source->List("", sink));
  ASSERT_THAT(sink.Keys(), ElementsAre("secure.txt"));
  EXPECT_EQ(ReadAll(*source->Open(sink.objects[0]).value()).value(), "over TLS");

  options.ca_file.clear();
  options.verify_tls = false;
  auto insecure =
      MakeSource("tls-bucket", nullptr, std::shared_ptr<S3Client>(S3Client::Create(options).value()));
  CollectingSink insecure_sink;
  ASSERT_OK(insecure->List("", insecure_sink));
  EXPECT_THAT(insecure_sink.Keys(), ElementsAre("secure.txt"));
}

TEST_F(S3ServerTest, SlowResponsesHitTheRequestTimeout) {
  const std::string bucket = NewBucket();
  FaultProxy proxy(PortOf(endpoint_));
  proxy.SetForwardDelay(std::chrono::milliseconds(800));
  S3ClientOptions options = TestClientOptions(proxy.endpoint());
  options.request_timeout = std::chrono::milliseconds(150);
  options.retry.max_attempts = 2;
  auto source = MakeSource(bucket, nullptr, std::shared_ptr<S3Client>(S3Client::Create(options).value()));
  CollectingSink sink;
  const auto start = std::chrono::steady_clock::now();
  absl::Status status = source->List("", sink);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_THAT(Message(status), HasSubstr("(after 2 attempts)"));
  EXPECT_LT(elapsed, std::chrono::milliseconds(750));  // did not wait for the slow server

  // A streamed GET whose headers do not come: the same bound, as a stall.
  Put(bucket, "k", "slow");
  absl::StatusOr<std::unique_ptr<ObjectReader>> reader = source->Open(ObjectRef{"s3-test", "k", "", 4});
  ASSERT_EQ(reader.status().code(), absl::StatusCode::kDeadlineExceeded) << reader.status();
  EXPECT_THAT(
      Message(reader.status()),
      HasSubstr(fmt::format("S3 GetObject s3://{}/k at {}: nothing received for 150 ms (after 2 attempts)",
                            bucket, proxy.endpoint())));
}

TEST_F(S3ServerTest, VirtualHostAddressingListsAndReads) {
  const std::string bucket = NewBucket();
  Put(bucket, "v/host.txt", "virtual host");
  const char* vhost_endpoint = std::getenv("S3_TEST_VHOST_ENDPOINT");
  ASSERT_NE(vhost_endpoint, nullptr);
  S3ClientOptions options = TestClientOptions(vhost_endpoint);
  options.addressing = S3Addressing::kVirtualHost;
  auto client = std::shared_ptr<S3Client>(S3Client::Create(options).value());
  S3Request probe;
  probe.bucket = bucket;
  probe.key = "v/host.txt";
  EXPECT_EQ(client->UrlFor(probe),
            fmt::format("http://{}.s3.localhost:{}/v/host.txt", bucket, PortOf(endpoint_)));
  auto source = MakeSource(bucket, nullptr, client);
  CollectingSink sink;
  ASSERT_OK(source->List("", sink));
  ASSERT_THAT(sink.Keys(), ElementsAre("v/host.txt"));
  EXPECT_EQ(ReadAll(*source->Open(sink.objects[0]).value()).value(), "virtual host");
}

}  // namespace
}  // namespace takedown
