#include "crawler/http_fetcher.h"

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "common/hex.h"
#include "crawler/http_url.h"
#include "crawler/token_bucket.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/crawler/http_test_server.h"
#include "tests/crawler/openssl_body_digester.h"
#include "tests/fakes/fake_clock.h"

namespace takedown {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// --- TokenBucket (fake clock) ---

TEST(TokenBucket, AllowsBurstThenRefillsAtRate) {
  FakeClock clock;
  TokenBucket bucket(/*rate_per_second=*/2.0, /*burst=*/3.0, clock.Now());
  EXPECT_TRUE(bucket.TryTake(clock.Now()));
  EXPECT_TRUE(bucket.TryTake(clock.Now()));
  EXPECT_TRUE(bucket.TryTake(clock.Now()));
  EXPECT_FALSE(bucket.TryTake(clock.Now()));
  EXPECT_EQ(bucket.TimeUntilAvailable(clock.Now()), absl::Milliseconds(500));
  clock.Advance(absl::Milliseconds(499));
  EXPECT_FALSE(bucket.TryTake(clock.Now()));
  clock.Advance(absl::Milliseconds(1));
  EXPECT_EQ(bucket.TimeUntilAvailable(clock.Now()), absl::ZeroDuration());
  EXPECT_TRUE(bucket.TryTake(clock.Now()));
  EXPECT_FALSE(bucket.TryTake(clock.Now()));
  EXPECT_FALSE(bucket.Full(clock.Now()));
  clock.Advance(absl::Seconds(10));  // refills to the burst, not beyond
  EXPECT_TRUE(bucket.Full(clock.Now()));
  EXPECT_TRUE(bucket.TryTake(clock.Now()));
  EXPECT_TRUE(bucket.TryTake(clock.Now()));
  EXPECT_TRUE(bucket.TryTake(clock.Now()));
  EXPECT_FALSE(bucket.TryTake(clock.Now()));
}

TEST(TokenBucket, ZeroRateIsUnlimited) {
  FakeClock clock;
  TokenBucket bucket(0.0, 1.0, clock.Now());
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(bucket.TryTake(clock.Now()));
  EXPECT_EQ(bucket.TimeUntilAvailable(clock.Now()), absl::ZeroDuration());
}

TEST(TokenBucket, ClockSteppingBackAddsNoTokens) {
  FakeClock clock;
  TokenBucket bucket(1.0, 1.0, clock.Now());
  EXPECT_TRUE(bucket.TryTake(clock.Now()));
  clock.Advance(absl::Seconds(-30));
  EXPECT_FALSE(bucket.TryTake(clock.Now()));
}

// --- URLs ---

TEST(HttpUrl, ParsesAndNormalizesHttpAndHttps) {
  absl::StatusOr<HttpUrl> url = ParseHttpUrl("HTTP://Example.ORG/a/b?c=d#frag");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "http");
  EXPECT_EQ(url->host, "example.org");
  EXPECT_EQ(url->port, 80);
  EXPECT_EQ(url->url, "http://example.org/a/b?c=d");
  EXPECT_EQ(url->HostKey(), "example.org:80");

  url = ParseHttpUrl("https://127.0.0.1:8443/x");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->port, 8443);
  EXPECT_EQ(url->HostKey(), "127.0.0.1:8443");
  url = ParseHttpUrl("https://example.org/caf\xc3\xa9");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->url, "https://example.org/caf%C3%A9");
}

TEST(HttpUrl, RefusesEverythingElse) {
  struct Case {
    std::string url;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"file:///etc/passwd", "scheme 'file' is not allowed"},
      {"ftp://127.0.0.1/x", "scheme 'ftp' is not allowed"},
      {"gopher://127.0.0.1/x", "scheme 'gopher' is not allowed"},
      {"javascript:alert(1)", "scheme 'javascript' is not allowed"},
      {"/relative/path", "not an absolute http:// or https:// URL"},
      {"http://user:pw@example.org/", "user info"},
      {"http://exa mple.org/", "whitespace or a control byte"},
      {"http://example.org/\x01", "whitespace or a control byte"},
      {"", "empty"},
      {"http://example.org/" + std::string(9000, 'a'), "longer than 8192 bytes"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<HttpUrl> url = ParseHttpUrl(c.url);
    ASSERT_FALSE(url.ok()) << c.url;
    EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument) << c.url;
    EXPECT_THAT(std::string(url.status().message()), HasSubstr(c.message)) << c.url;
  }
}

TEST(HttpUrl, UrlScheme) {
  EXPECT_EQ(UrlScheme("HTTPS://x"), "https");
  EXPECT_EQ(UrlScheme("gopher://x"), "gopher");
  EXPECT_EQ(UrlScheme("svn+ssh://x"), "svn+ssh");
  EXPECT_EQ(UrlScheme("/a:b"), "");
  EXPECT_EQ(UrlScheme("1http://x"), "");
  EXPECT_EQ(UrlScheme("no-colon"), "");
  EXPECT_TRUE(IsAllowedScheme("http"));
  EXPECT_FALSE(IsAllowedScheme("ftp"));
}

TEST(HttpUrl, ResolvesRedirectsRelativeAndAbsolute) {
  absl::StatusOr<HttpUrl> base = ParseHttpUrl("http://example.org/a/b/c?q=1");
  ASSERT_TRUE(base.ok());
  EXPECT_EQ(ResolveRedirect(*base, "d")->url, "http://example.org/a/b/d");
  EXPECT_EQ(ResolveRedirect(*base, "/x y")->url, "http://example.org/x%20y");
  EXPECT_EQ(ResolveRedirect(*base, "../e")->url, "http://example.org/a/e");
  EXPECT_EQ(ResolveRedirect(*base, "//other.example/p")->url, "http://other.example/p");
  EXPECT_EQ(ResolveRedirect(*base, "https://other.example:444/")->url, "https://other.example:444/");
  absl::StatusOr<HttpUrl> bad = ResolveRedirect(*base, "file:///etc/passwd");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("scheme 'file' is not allowed"));
  EXPECT_FALSE(ResolveRedirect(*base, "/a\r\nSet-Cookie: x").ok());
}

TEST(HttpFetcherOptions, OutOfRangeOptionsAreRefused) {
  auto create = [](auto mutate) {
    HttpFetcherOptions options;
    mutate(options);
    return HttpFetcher::Create(options).status();
  };
  EXPECT_EQ(create([](HttpFetcherOptions& o) { o.max_redirects = 21; }).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(create([](HttpFetcherOptions& o) { o.max_concurrent_per_host = 0; }).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(create([](HttpFetcherOptions& o) { o.max_body_bytes = 10; }).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(create([](HttpFetcherOptions& o) { o.total_timeout = std::chrono::milliseconds(0); }).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(create([](HttpFetcherOptions& o) { o.ca_file = "/nonexistent/ca.pem"; }).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(create([](HttpFetcherOptions&) {}).ok());
}

// --- Fetches against the real server on 127.0.0.1 ---

class HttpFetcherTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = HttpTestServer::Start().release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override { ASSERT_NE(server_, nullptr); }

  // Unlimited rate (the fake clock never advances on its own); short bounds.
  HttpFetcherOptions Options() {
    HttpFetcherOptions options;
    options.clock = &clock_;
    options.allow_private_addresses = true;  // the server is on 127.0.0.1
    options.max_requests_per_second_per_host = 0;
    options.connect_timeout = std::chrono::milliseconds(2000);
    options.total_timeout = std::chrono::milliseconds(5000);
    options.max_body_bytes = 64 * 1024;
    return options;
  }

  std::unique_ptr<HttpFetcher> MakeFetcher(const HttpFetcherOptions& options) {
    absl::StatusOr<std::unique_ptr<HttpFetcher>> fetcher = HttpFetcher::Create(options);
    EXPECT_TRUE(fetcher.ok()) << fetcher.status();
    return fetcher.ok() ? *std::move(fetcher) : nullptr;
  }

  HttpFetchResult Get(HttpFetcher& fetcher, const std::string& path, bool digest = false) {
    HttpFetchRequest request;
    request.url = server_->Url(path);
    if (digest) request.digester = OpenSslBodyDigester::Factory();
    return fetcher.Fetch(std::move(request));
  }

  static HttpTestServer* server_;
  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
};

HttpTestServer* HttpFetcherTest::server_ = nullptr;

TEST_F(HttpFetcherTest, FetchesAFileAndRecordsTheResponse) {
  const std::string content = "abc";
  server_->WriteFile("abc.bin", content);
  auto fetcher = MakeFetcher(Options());
  HttpFetchResult r = Get(*fetcher, "/files/abc.bin", /*digest=*/true);
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_TRUE(r.ToStatus().ok());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, content);
  EXPECT_EQ(r.body_bytes, 3u);
  EXPECT_EQ(r.content_length, 3u);
  EXPECT_EQ(r.requested_url, server_->Url("/files/abc.bin"));
  EXPECT_EQ(r.final_url, server_->Url("/files/abc.bin"));
  EXPECT_EQ(r.ip, "127.0.0.1");
  EXPECT_EQ(r.content_type, "application/octet-stream");
  EXPECT_EQ(r.server, "takedown-test/1.0");
  EXPECT_EQ(r.start, clock_.Now());
  ASSERT_EQ(r.hops.size(), 1u);
  EXPECT_EQ(r.hops[0].status, 200);
  EXPECT_EQ(r.hops[0].ip, "127.0.0.1");
  EXPECT_EQ(r.hops[0].port, server_->port());
  ASSERT_TRUE(r.digests.has_value());
  // SHA-256("abc"), FIPS 180-2 test vector; MD5 from RFC 1321.
  EXPECT_EQ(HexEncode(r.digests->sha256), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(r.digests->md5), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(HexEncode(r.digests->sha1), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST_F(HttpFetcherTest, DigestsALargerBodyWithoutKeepingIt) {
  std::string content;
  for (int i = 0; i < 50'000; ++i) content.push_back(static_cast<char>((i * 7 + 3) % 251));
  auto fetcher = MakeFetcher(Options());
  HttpFetchRequest request;
  request.url = server_->Url("/bytes?n=50000");
  request.keep_body = false;
  request.digester = OpenSslBodyDigester::Factory();
  HttpFetchResult r = fetcher->Fetch(std::move(request));
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(r.body_bytes, 50'000u);
  ASSERT_TRUE(r.digests.has_value());
  EXPECT_EQ(r.digests->sha256, OpenSslBodyDigester::Of(content).sha256);
}

TEST_F(HttpFetcherTest, HeadReturnsHeadersWithoutBody) {
  server_->WriteFile("head.bin", "0123456789");
  auto fetcher = MakeFetcher(Options());
  HttpFetchRequest request;
  request.url = server_->Url("/files/head.bin?v=etag");
  request.method = HttpMethod::kHead;
  HttpFetchResult r = fetcher->Fetch(std::move(request));
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(r.content_length, 10u);
  EXPECT_EQ(r.body_bytes, 0u);
  EXPECT_THAT(r.etag, StartsWith("\""));
  EXPECT_EQ(server_->Count("HEAD", "/files/head.bin?v=etag"), 1);
  EXPECT_EQ(server_->Count("GET", "/files/head.bin?v=etag"), 0);
}

TEST_F(HttpFetcherTest, FollowsARedirectChainRecordingEachHop) {
  auto fetcher = MakeFetcher(Options());
  HttpFetchResult r = Get(*fetcher, "/redirect/3");
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(r.body, "final\n");
  EXPECT_EQ(r.final_url, server_->Url("/redirect/0"));
  ASSERT_EQ(r.hops.size(), 4u);
  std::vector<std::string> urls;
  std::vector<long> statuses;
  for (const HttpHop& hop : r.hops) {
    urls.push_back(hop.url);
    statuses.push_back(hop.status);
    EXPECT_EQ(hop.ip, "127.0.0.1");
  }
  EXPECT_THAT(urls, ElementsAre(server_->Url("/redirect/3"), server_->Url("/redirect/2"),
                                server_->Url("/redirect/1"), server_->Url("/redirect/0")));
  EXPECT_THAT(statuses, ElementsAre(302, 302, 302, 200));
  EXPECT_EQ(r.hops[0].location, "/redirect/2");
  EXPECT_EQ(r.hops[1].location, server_->Url("/redirect/1"));  // an absolute Location
  EXPECT_EQ(r.hops[3].location, "");
  EXPECT_THAT(r.Describe(), HasSubstr("/redirect/3 302 -> "));
}

TEST_F(HttpFetcherTest, StopsAfterMaxRedirects) {
  HttpFetcherOptions options = Options();
  options.max_redirects = 2;
  auto fetcher = MakeFetcher(options);
  HttpFetchResult r = Get(*fetcher, "/redirect/3");
  EXPECT_EQ(r.error, FetchError::kTooManyRedirects);
  EXPECT_EQ(r.hops.size(), 3u);
  EXPECT_EQ(r.status, 302);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(r.ToStatus().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.ToStatus().message()), HasSubstr("more than 2 redirects"));
}

TEST_F(HttpFetcherTest, EndlessRedirectChainEndsAtTheBound) {
  auto fetcher = MakeFetcher(Options());  // max_redirects 5
  HttpFetchResult r = Get(*fetcher, "/chain/0");
  EXPECT_EQ(r.error, FetchError::kTooManyRedirects);
  ASSERT_EQ(r.hops.size(), 6u);
  EXPECT_EQ(r.hops[5].url, server_->Url("/chain/5"));
}

TEST_F(HttpFetcherTest, DetectsARedirectLoop) {
  auto fetcher = MakeFetcher(Options());
  HttpFetchResult r = Get(*fetcher, "/loop/a");
  EXPECT_EQ(r.error, FetchError::kRedirectLoop);
  ASSERT_EQ(r.hops.size(), 2u);
  EXPECT_EQ(r.hops[1].url, server_->Url("/loop/b"));
  EXPECT_THAT(r.error_message, HasSubstr("/loop/a"));
}

TEST_F(HttpFetcherTest, ZeroMaxRedirectsReturnsTheRedirectItself) {
  HttpFetcherOptions options = Options();
  options.max_redirects = 0;
  auto fetcher = MakeFetcher(options);
  HttpFetchResult r = Get(*fetcher, "/redirect/1");
  EXPECT_EQ(r.error, FetchError::kNone);
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.body, "moved\n");
  EXPECT_EQ(r.hops.size(), 1u);
  EXPECT_EQ(r.ToStatus().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(HttpFetcherTest, RefusesNonHttpSchemesAndRedirectsToThem) {
  auto fetcher = MakeFetcher(Options());
  for (const std::string url : {"file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1:70/1"}) {
    HttpFetchRequest request;
    request.url = url;
    HttpFetchResult r = fetcher->Fetch(std::move(request));
    EXPECT_EQ(r.error, FetchError::kSchemeNotAllowed) << url;
    EXPECT_TRUE(r.hops.empty()) << url;
    EXPECT_EQ(r.ToStatus().code(), absl::StatusCode::kInvalidArgument) << url;
  }
  HttpFetchResult r = Get(*fetcher, "/redirect-to?url=file%3A%2F%2F%2Fetc%2Fpasswd");
  EXPECT_EQ(r.error, FetchError::kSchemeNotAllowed);
  EXPECT_EQ(r.hops.size(), 1u);
  EXPECT_TRUE(r.body.empty());
}

TEST_F(HttpFetcherTest, CutsOffAServerThatTricklesBytes) {
  HttpFetcherOptions options = Options();
  options.low_speed_bytes_per_second = 100;  // the server sends 10 bytes/s
  options.low_speed_time = std::chrono::seconds(1);
  options.total_timeout = std::chrono::milliseconds(10'000);
  auto fetcher = MakeFetcher(options);
  const auto start = std::chrono::steady_clock::now();
  HttpFetchResult r = Get(*fetcher, "/slow");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.error, FetchError::kTooSlow) << r.Describe();
  EXPECT_EQ(r.status, 200);
  EXPECT_GT(r.body_bytes, 0u);
  EXPECT_LT(r.body_bytes, 100u);
  EXPECT_EQ(r.ToStatus().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(elapsed, std::chrono::seconds(4));
}

TEST_F(HttpFetcherTest, TotalTimeoutEndsASteadyButEndlessBody) {
  HttpFetcherOptions options = Options();
  options.low_speed_bytes_per_second = 100;  // the server sends 5 KiB/s: fast enough
  options.low_speed_time = std::chrono::seconds(1);
  options.total_timeout = std::chrono::milliseconds(1200);
  options.max_body_bytes = 10 * 1024 * 1024;
  auto fetcher = MakeFetcher(options);
  HttpFetchResult r = Get(*fetcher, "/steady");
  EXPECT_EQ(r.error, FetchError::kTimeout) << r.Describe();
  EXPECT_GE(r.duration, absl::Milliseconds(1100));
  EXPECT_LT(r.duration, absl::Seconds(3));
  EXPECT_EQ(r.ToStatus().code(), absl::StatusCode::kUnavailable);
}

TEST_F(HttpFetcherTest, AbortsABodyLargerThanTheLimit) {
  auto fetcher = MakeFetcher(Options());  // max_body_bytes 64 KiB
  // Announced length: refused before the body is read.
  HttpFetchResult r = Get(*fetcher, "/bytes?n=100000", /*digest=*/true);
  EXPECT_EQ(r.error, FetchError::kBodyTooLarge) << r.Describe();
  EXPECT_EQ(r.content_length, 100000u);
  EXPECT_FALSE(r.digests.has_value());
  EXPECT_EQ(r.ToStatus().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(r.error_message, HasSubstr("larger than 65536 bytes"));
  // No length: cut off while reading, never more than the limit kept.
  r = Get(*fetcher, "/bytes?n=100000&close=1");
  EXPECT_EQ(r.error, FetchError::kBodyTooLarge) << r.Describe();
  EXPECT_LE(r.body_bytes, 64u * 1024);
  EXPECT_LE(r.body.size(), 64u * 1024);
  // A per-request limit lowers the fetcher's.
  HttpFetchRequest request;
  request.url = server_->Url("/bytes?n=5000&close=1");
  request.max_body_bytes = 4096;
  r = fetcher->Fetch(std::move(request));
  EXPECT_EQ(r.error, FetchError::kBodyTooLarge);
  // Exactly at the limit is fine.
  r = Get(*fetcher, "/bytes?n=65536");
  EXPECT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(r.body.size(), 65536u);
}

TEST_F(HttpFetcherTest, ConnectionRefusedIsRecorded) {
  auto fetcher = MakeFetcher(Options());
  HttpFetchRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(HttpTestServer::ClosedPort()) + "/x";
  HttpFetchResult r = fetcher->Fetch(std::move(request));
  EXPECT_EQ(r.error, FetchError::kConnectionRefused) << r.Describe();
  EXPECT_EQ(r.status, 0);
  ASSERT_EQ(r.hops.size(), 1u);
  EXPECT_EQ(r.ToStatus().code(), absl::StatusCode::kUnavailable);
}

TEST_F(HttpFetcherTest, MapsHttpStatusesToStatusCodes) {
  struct Case {
    int status;
    absl::StatusCode code;
  };
  const std::vector<Case> cases = {
      {404, absl::StatusCode::kNotFound},           {410, absl::StatusCode::kNotFound},
      {401, absl::StatusCode::kPermissionDenied},   {403, absl::StatusCode::kPermissionDenied},
      {451, absl::StatusCode::kFailedPrecondition}, {500, absl::StatusCode::kUnavailable},
      {503, absl::StatusCode::kUnavailable},        {429, absl::StatusCode::kUnavailable},
      {400, absl::StatusCode::kFailedPrecondition}, {204, absl::StatusCode::kOk},
  };
  auto fetcher = MakeFetcher(Options());
  for (const Case& c : cases) {
    HttpFetchResult r = Get(*fetcher, "/status/" + std::to_string(c.status));
    EXPECT_EQ(r.error, FetchError::kNone) << c.status;
    EXPECT_EQ(r.status, c.status);
    EXPECT_EQ(r.ToStatus().code(), c.code) << c.status << ": " << r.ToStatus();
    if (c.status != 204) {
      EXPECT_THAT(std::string(r.ToStatus().message()), HasSubstr("HTTP " + std::to_string(c.status)));
    }
  }
  EXPECT_THAT(std::string(Get(*fetcher, "/status/451").ToStatus().message()), HasSubstr("legal reasons"));
}

TEST_F(HttpFetcherTest, ObservesThePerHostConcurrencyLimit) {
  HttpFetcherOptions options = Options();
  options.max_concurrent_per_host = 2;
  auto fetcher = MakeFetcher(options);
  server_->Get("/reset-stats");
  std::vector<std::future<HttpFetchResult>> results;
  std::vector<std::shared_ptr<std::promise<HttpFetchResult>>> promises;
  for (int i = 0; i < 8; ++i) {
    auto promise = std::make_shared<std::promise<HttpFetchResult>>();
    results.push_back(promise->get_future());
    HttpFetchRequest request;
    request.url = server_->Url("/concurrent?delay=0.2&i=" + std::to_string(i));
    fetcher->FetchAsync(std::move(request),
                        [promise](HttpFetchResult r) { promise->set_value(std::move(r)); });
  }
  for (auto& f : results) {
    HttpFetchResult r = f.get();
    EXPECT_TRUE(r.ok()) << r.Describe();
  }
  // Never more than 2 at once, and the limit was actually used.
  EXPECT_EQ(server_->Get("/stats"), "max_concurrent 2\n");
}

TEST_F(HttpFetcherTest, LimitsTheRequestRatePerHost) {
  server_->WriteFile("rate.bin", "r");
  HttpFetcherOptions options = Options();
  options.clock = nullptr;  // real time
  options.max_requests_per_second_per_host = 8;
  options.request_burst_per_host = 1;
  auto fetcher = MakeFetcher(options);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    HttpFetchResult r = Get(*fetcher, "/files/rate.bin");
    ASSERT_TRUE(r.ok()) << r.Describe();
  }
  // Five starts at 8/s with a burst of 1: at least four intervals of 125 ms.
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(490));
}

TEST_F(HttpFetcherTest, RateLimitRunsOnTheInjectedClock) {
  server_->WriteFile("clock.bin", "c");
  HttpFetcherOptions options = Options();
  options.max_requests_per_second_per_host = 1;
  options.request_burst_per_host = 1;
  auto fetcher = MakeFetcher(options);
  ASSERT_TRUE(Get(*fetcher, "/files/clock.bin").ok());
  std::promise<HttpFetchResult> second;
  std::future<HttpFetchResult> second_result = second.get_future();
  HttpFetchRequest request;
  request.url = server_->Url("/files/clock.bin");
  fetcher->FetchAsync(std::move(request), [&second](HttpFetchResult r) { second.set_value(std::move(r)); });
  // No token until the fake clock moves.
  EXPECT_EQ(second_result.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  clock_.Advance(absl::Seconds(1));
  ASSERT_EQ(second_result.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  HttpFetchResult r = second_result.get();
  EXPECT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(r.start, clock_.Now());
}

TEST_F(HttpFetcherTest, RefusesWorkBeyondMaxPendingAndCancelsOnDestruction) {
  HttpFetcherOptions options = Options();
  options.max_pending = 1;
  auto fetcher = MakeFetcher(options);
  std::promise<HttpFetchResult> first;
  std::future<HttpFetchResult> first_result = first.get_future();
  HttpFetchRequest slow;
  slow.url = server_->Url("/concurrent?delay=2");
  fetcher->FetchAsync(std::move(slow), [&first](HttpFetchResult r) { first.set_value(std::move(r)); });
  HttpFetchRequest second;
  second.url = server_->Url("/status/200");
  HttpFetchResult refused = fetcher->Fetch(std::move(second));
  EXPECT_EQ(refused.error, FetchError::kOverloaded);
  EXPECT_EQ(refused.ToStatus().code(), absl::StatusCode::kUnavailable);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  fetcher.reset();
  ASSERT_EQ(first_result.wait_for(std::chrono::seconds(1)), std::future_status::ready);
  EXPECT_EQ(first_result.get().error, FetchError::kCancelled);
}

TEST_F(HttpFetcherTest, RefusesLoopbackAndPrivateAddressesByDefault) {
  HttpFetcherOptions options = Options();
  options.allow_private_addresses = false;
  auto fetcher = MakeFetcher(options);
  HttpFetchResult r = Get(*fetcher, "/status/200");
  EXPECT_EQ(r.error, FetchError::kAddressBlocked) << r.Describe();
  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.error_message, HasSubstr("127.0.0.1"));
  EXPECT_EQ(r.ToStatus().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.ToStatus().message()), HasSubstr("allow_private_addresses"));
  EXPECT_EQ(server_->Count("GET", "/status/200"), 0);
  for (const char* url : {"http://10.0.0.1:9/", "http://169.254.169.254/latest/meta-data/", "http://[::1]:9/",
                          "http://0.0.0.0:9/", "http://[::ffff:192.168.1.1]:9/"}) {
    HttpFetchRequest request;
    request.url = url;
    EXPECT_EQ(fetcher->Fetch(std::move(request)).error, FetchError::kAddressBlocked) << url;
  }
}

TEST_F(HttpFetcherTest, RefusesMalformedRequestHeaders) {
  auto fetcher = MakeFetcher(Options());
  HttpFetchRequest request;
  request.url = server_->Url("/status/200");
  request.headers = {{"X-Test", "a\r\nInjected: yes"}};
  HttpFetchResult r = fetcher->Fetch(std::move(request));
  EXPECT_EQ(r.error, FetchError::kInvalidUrl);
  EXPECT_TRUE(r.hops.empty());
}

}  // namespace
}  // namespace takedown
