#include "notices/webhook_channel.h"

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/fakes/fake_clock.h"
#include "tests/notices/loopback_server.h"

namespace takedown {
namespace {

using ::takedown::testing::LoopbackServer;
using ::takedown::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

constexpr char kSecret[] = "test-secret-0123456789abcdef";
const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

Notice SampleNotice(std::string key = "uploads/cat.jpg", std::string channel = "webhook") {
  CaseObject o;
  o.source_id = "s3-eu";
  o.key = std::move(key);
  o.version = "etag-1";
  o.size = 2048;
  o.sha256_hex = std::string(64, 'a');
  Case c = NewCase(o, kT0);
  return MakeDetectionNotice(c, kT0 + absl::Seconds(1), channel);
}

class WebhookChannelTest : public ::testing::Test {
 protected:
  void StartServer(std::vector<std::string> extra = {}) {
    ASSERT_FALSE(dir_.path().empty());
    log_ = dir_.path() + "/requests.jsonl";
    std::vector<std::string> args = {"--log", log_, "--secret", kSecret};
    args.insert(args.end(), extra.begin(), extra.end());
    absl::StatusOr<std::unique_ptr<LoopbackServer>> server =
        LoopbackServer::Start(TAKEDOWN_SOURCE_DIR "/tests/notices/webhook_receiver.py", args, dir_.path());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  std::string Url(std::string_view path, std::string_view scheme = "http") const {
    return fmt::format("{}://127.0.0.1:{}{}", scheme, server_->port(), path);
  }

  std::unique_ptr<WebhookChannel> MakeChannel(std::string url,
                                              absl::Duration total_timeout = absl::Seconds(10)) {
    WebhookChannelOptions options;
    options.url = std::move(url);
    options.secret = kSecret;
    options.total_timeout = total_timeout;
    options.connect_timeout = absl::Seconds(5);
    absl::StatusOr<std::unique_ptr<WebhookChannel>> channel = WebhookChannel::Create(options, clock_);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.ok() ? std::move(*channel) : nullptr;
  }

  std::vector<Json> Requests() const {
    std::vector<Json> requests;
    std::ifstream in(log_);
    for (std::string line; std::getline(in, line);) requests.push_back(Json::parse(line));
    return requests;
  }

  TempDir dir_;
  FakeClock clock_{kT0 + absl::Minutes(5)};
  std::string log_;
  std::unique_ptr<LoopbackServer> server_;
};

TEST_F(WebhookChannelTest, PostsSignedPayloadWithIdempotencyKey) {
  StartServer();
  auto channel = MakeChannel(Url("/hooks/takedown?tenant=7"));
  ASSERT_NE(channel, nullptr);
  const Notice notice = SampleNotice();
  ASSERT_TRUE(channel->Deliver(notice).ok());

  std::vector<Json> requests = Requests();
  ASSERT_EQ(requests.size(), 1u);
  const Json& request = requests[0];
  EXPECT_EQ(request["path"], "/hooks/takedown?tenant=7");
  EXPECT_TRUE(request["signature_ok"].get<bool>()) << request.dump();
  const Json& headers = request["headers"];
  EXPECT_EQ(headers["content-type"], "application/json");
  EXPECT_EQ(headers["idempotency-key"], notice.id);
  EXPECT_EQ(headers["x-takedown-notice-id"], notice.id);
  EXPECT_EQ(headers["x-takedown-timestamp"], std::to_string(absl::ToUnixSeconds(clock_.Now())));
  EXPECT_THAT(headers["user-agent"].get<std::string>(), ::testing::StartsWith("takedownd/"));
  EXPECT_FALSE(headers.contains("expect"));
  EXPECT_EQ(Json::parse(request["body"].get<std::string>()), notice.payload);
  EXPECT_EQ(headers["x-takedown-signature"],
            WebhookChannel::Signature(kSecret, absl::ToUnixSeconds(clock_.Now()),
                                      request["body"].get<std::string>()));
}

TEST(WebhookChannelSignature, IsHmacSha256OfTimestampDotBody) {
  // Expected values from Python: hmac.new(key, data, hashlib.sha256).hexdigest().
  EXPECT_EQ(WebhookChannel::Signature("key", 1700000000, R"({"a":1})"),
            "sha256=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03");
  // Different timestamps sign differently, so a captured request cannot be
  // replayed with a new timestamp.
  EXPECT_NE(WebhookChannel::Signature("key", 1700000001, R"({"a":1})"),
            WebhookChannel::Signature("key", 1700000000, R"({"a":1})"));
}

TEST_F(WebhookChannelTest, ServiceUnavailableIsTransientThenSucceedsWithSameKey) {
  StartServer({"--fail-first", "1"});
  auto channel = MakeChannel(Url("/ok"));
  ASSERT_NE(channel, nullptr);
  const Notice notice = SampleNotice();

  absl::Status first = channel->Deliver(notice);
  EXPECT_EQ(first.code(), absl::StatusCode::kUnavailable) << first;
  EXPECT_TRUE(IsTransientDeliveryError(first));
  EXPECT_THAT(std::string(first.message()), HasSubstr("HTTP 503"));
  EXPECT_THAT(std::string(first.message()), HasSubstr("Retry-After 7 s"));
  // The wait travels with the error, for the outbox's schedule.
  EXPECT_EQ(RetryAfter(first), absl::Seconds(7));
  EXPECT_THAT(std::string(first.message()), HasSubstr(notice.id));

  clock_.Advance(absl::Seconds(30));
  EXPECT_TRUE(channel->Deliver(notice).ok());

  std::vector<Json> requests = Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0]["headers"]["idempotency-key"], notice.id);
  EXPECT_EQ(requests[1]["headers"]["idempotency-key"], notice.id);
  EXPECT_EQ(requests[0]["body"], requests[1]["body"]);
  // Each attempt is signed with its own timestamp.
  EXPECT_NE(requests[0]["headers"]["x-takedown-timestamp"], requests[1]["headers"]["x-takedown-timestamp"]);
  EXPECT_TRUE(requests[1]["signature_ok"].get<bool>());
}

TEST_F(WebhookChannelTest, DistinctNoticesGetDistinctKeys) {
  StartServer();
  auto channel = MakeChannel(Url("/ok"));
  ASSERT_NE(channel, nullptr);
  ASSERT_TRUE(channel->Deliver(SampleNotice("a.jpg")).ok());
  ASSERT_TRUE(channel->Deliver(SampleNotice("b.jpg")).ok());
  std::vector<Json> requests = Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_NE(requests[0]["headers"]["idempotency-key"], requests[1]["headers"]["idempotency-key"]);
}

TEST_F(WebhookChannelTest, BadRequestIsPermanentWithExcerpt) {
  StartServer();
  auto channel = MakeChannel(Url("/status/400"));
  ASSERT_NE(channel, nullptr);
  absl::Status status = channel->Deliver(SampleNotice());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_FALSE(IsTransientDeliveryError(status));
  EXPECT_THAT(std::string(status.message()), HasSubstr("HTTP 400"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("rejected by test receiver with 400"));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr(kSecret)));
}

TEST_F(WebhookChannelTest, StatusCodesMapToTransientOrPermanent) {
  StartServer();
  struct Row {
    int http_status;
    absl::StatusCode code;
  };
  for (const Row& row :
       {Row{408, absl::StatusCode::kUnavailable}, Row{429, absl::StatusCode::kUnavailable},
        Row{500, absl::StatusCode::kUnavailable}, Row{502, absl::StatusCode::kUnavailable},
        Row{422, absl::StatusCode::kInvalidArgument}, Row{401, absl::StatusCode::kFailedPrecondition},
        Row{403, absl::StatusCode::kFailedPrecondition}, Row{404, absl::StatusCode::kFailedPrecondition},
        Row{409, absl::StatusCode::kFailedPrecondition}}) {
    auto channel = MakeChannel(Url(fmt::format("/status/{}", row.http_status)));
    ASSERT_NE(channel, nullptr);
    absl::Status status = channel->Deliver(SampleNotice());
    EXPECT_EQ(status.code(), row.code) << row.http_status << ": " << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(fmt::format("HTTP {}", row.http_status)));
  }
}

TEST_F(WebhookChannelTest, RedirectIsNotFollowed) {
  StartServer();
  auto channel = MakeChannel(Url("/redirect"));
  ASSERT_NE(channel, nullptr);
  absl::Status status = channel->Deliver(SampleNotice());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("redirects are not followed"));
  EXPECT_EQ(Requests().size(), 1u);
}

TEST_F(WebhookChannelTest, ErrorBodyExcerptIsShortAndSanitised) {
  StartServer();
  auto channel = MakeChannel(Url("/status/400?noisy=1"));
  ASSERT_NE(channel, nullptr);
  absl::Status status = channel->Deliver(SampleNotice());
  const std::string message(status.message());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(message, HasSubstr("bad  Injected-Header: yes"));
  EXPECT_EQ(message.find('\n'), std::string::npos);
  EXPECT_EQ(message.find('\x1b'), std::string::npos);
  EXPECT_LT(message.size(), 600u);
}

TEST_F(WebhookChannelTest, ServerThatNeverAnswersTimesOut) {
  StartServer();
  auto channel = MakeChannel(Url("/hang"), absl::Milliseconds(400));
  ASSERT_NE(channel, nullptr);
  const auto start = std::chrono::steady_clock::now();
  absl::Status status = channel->Deliver(SampleNotice());
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_TRUE(IsTransientDeliveryError(status));
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST_F(WebhookChannelTest, ConnectionRefusedIsTransient) {
  auto channel =
      MakeChannel(fmt::format("http://127.0.0.1:{}/ok", ::takedown::testing::UnusedLoopbackPort()));
  ASSERT_NE(channel, nullptr);
  absl::Status status = channel->Deliver(SampleNotice());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("no HTTP response"));
}

TEST_F(WebhookChannelTest, HugeSuccessBodyIsNotReadToTheEnd) {
  StartServer();
  auto channel = MakeChannel(Url("/big"));
  ASSERT_NE(channel, nullptr);
  EXPECT_TRUE(channel->Deliver(SampleNotice()).ok());
}

TEST_F(WebhookChannelTest, HttpsVerifiesTheServerCertificate) {
  absl::StatusOr<::takedown::testing::TestCertificate> cert =
      ::takedown::testing::WriteSelfSignedCertificate(dir_.path());
  ASSERT_TRUE(cert.ok()) << cert.status();
  StartServer({"--tls-cert", cert->cert_path, "--tls-key", cert->key_path});

  WebhookChannelOptions options;
  options.url = Url("/ok", "https");
  options.secret = kSecret;
  options.total_timeout = absl::Seconds(10);
  // The system store does not trust the test certificate.
  auto untrusting = WebhookChannel::Create(options, clock_);
  ASSERT_TRUE(untrusting.ok()) << untrusting.status();
  absl::Status refused = (*untrusting)->Deliver(SampleNotice());
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("certificate"));

  options.ca_file = cert->cert_path;
  auto trusting = WebhookChannel::Create(options, clock_);
  ASSERT_TRUE(trusting.ok()) << trusting.status();
  absl::Status delivered = (*trusting)->Deliver(SampleNotice());
  EXPECT_TRUE(delivered.ok()) << delivered;
  std::vector<Json> requests = Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_TRUE(requests[0]["signature_ok"].get<bool>());
}

TEST(WebhookChannelCreate, RejectsUnsafeOptions) {
  FakeClock clock;
  auto create = [&](std::string url, std::string secret = kSecret) {
    WebhookChannelOptions options;
    options.url = std::move(url);
    options.secret = std::move(secret);
    return WebhookChannel::Create(options, clock).status();
  };
  EXPECT_EQ(create("http://receiver.example.org/hook").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(create("ftp://127.0.0.1/hook").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(create("not a url").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(create("https://receiver.example.org/hook#frag").code(), absl::StatusCode::kInvalidArgument);
  absl::Status short_secret = create("https://receiver.example.org/hook", "short");
  EXPECT_EQ(short_secret.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(short_secret.message()), Not(HasSubstr("short'")));
  EXPECT_TRUE(create("https://receiver.example.org/hook").ok());
  EXPECT_TRUE(create("http://127.0.0.1:8080/hook").ok());
  EXPECT_TRUE(create("http://[::1]:8080/hook").ok());
  EXPECT_TRUE(create("http://localhost/hook").ok());

  WebhookChannelOptions options;
  options.url = "https://user:pw@receiver.example.org/hook?token=t0p";
  options.secret = kSecret;
  options.ca_file = "/nonexistent/ca.pem";
  absl::Status missing_ca = WebhookChannel::Create(options, clock).status();
  EXPECT_EQ(missing_ca.code(), absl::StatusCode::kNotFound);
  options.ca_file.clear();
  auto channel = WebhookChannel::Create(options, clock);
  ASSERT_TRUE(channel.ok());
  EXPECT_EQ((*channel)->display_url(), "https://receiver.example.org/hook");
}

TEST(WebhookChannelDeliver, RefusesNoticeForAnotherChannel) {
  FakeClock clock;
  WebhookChannelOptions options;
  options.url = "http://127.0.0.1:9/hook";
  options.secret = kSecret;
  auto channel = WebhookChannel::Create(options, clock);
  ASSERT_TRUE(channel.ok());
  absl::Status status = (*channel)->Deliver(SampleNotice("x", "smtp"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("addressed to channel 'smtp'"));
}

}  // namespace
}  // namespace takedown
