#include "crawler/recheck.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/hex.h"
#include "crawler/filesystem_source.h"
#include "crawler/url_list_source.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/crawler/http_test_server.h"
#include "tests/crawler/openssl_body_digester.h"
#include "tests/fakes/fake_clock.h"

namespace takedown {
namespace {

using ::testing::HasSubstr;

std::string Raw(std::span<const uint8_t> bytes) { return std::string(bytes.begin(), bytes.end()); }

RecheckExpectation ExpectBytes(std::string_view content) {
  const DigestSet d = OpenSslBodyDigester::Of(content);
  RecheckExpectation expected;
  expected.digests = {{HashType::kSha256, Raw(d.sha256)}, {HashType::kMd5, Raw(d.md5)}};
  return expected;
}

class RecheckTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = HttpTestServer::Start().release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    HttpFetcherOptions options;
    options.allow_private_addresses = true;  // the server is on 127.0.0.1
    options.max_requests_per_second_per_host = 0;
    options.total_timeout = std::chrono::milliseconds(1500);
    options.low_speed_bytes_per_second = 100;
    options.low_speed_time = std::chrono::seconds(1);
    options.max_body_bytes = 64 * 1024;
    absl::StatusOr<std::unique_ptr<HttpFetcher>> fetcher = HttpFetcher::Create(options);
    ASSERT_TRUE(fetcher.ok()) << fetcher.status();
    fetcher_ = *std::move(fetcher);
    options_.digester = OpenSslBodyDigester::Factory();
  }

  RecheckResult Check(const std::string& path, const RecheckExpectation& expected) {
    absl::StatusOr<RecheckResult> result = RecheckUrl(*fetcher_, server_->Url(path), expected, options_);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *std::move(result) : RecheckResult{};
  }

  static HttpTestServer* server_;
  std::unique_ptr<HttpFetcher> fetcher_;
  RecheckOptions options_;
};

HttpTestServer* RecheckTest::server_ = nullptr;

TEST_F(RecheckTest, SameBytesAreStillPresentWithTheEvidenceRecorded) {
  server_->WriteFile("same.jpg", "reported bytes");
  RecheckResult r = Check("/files/same.jpg", ExpectBytes("reported bytes"));
  EXPECT_EQ(r.outcome, RecheckOutcome::kStillPresent) << r.reason;
  EXPECT_TRUE(r.digest_match);
  EXPECT_FALSE(r.perceptual_match.has_value());
  ASSERT_TRUE(r.digests.has_value());
  EXPECT_EQ(r.digests->sha256, OpenSslBodyDigester::Of("reported bytes").sha256);
  EXPECT_EQ(r.body_bytes, 14u);
  ASSERT_TRUE(r.fetch.has_value());
  EXPECT_EQ(r.fetch->status, 200);
  EXPECT_EQ(r.fetch->ip, "127.0.0.1");
  EXPECT_EQ(r.fetch->server, "takedown-test/1.0");
  EXPECT_EQ(r.fetch->final_url, server_->Url("/files/same.jpg"));
  EXPECT_TRUE(r.fetch->body.empty());  // no content kept
  EXPECT_EQ(r.checked_at, r.fetch->start);
  EXPECT_EQ(RecheckOutcomeName(r.outcome), "still_present");
}

TEST_F(RecheckTest, DifferentBytesAreChanged) {
  server_->WriteFile("changed.jpg", "new bytes");
  RecheckResult r = Check("/files/changed.jpg", ExpectBytes("reported bytes"));
  EXPECT_EQ(r.outcome, RecheckOutcome::kChanged);
  EXPECT_FALSE(r.digest_match);
  EXPECT_THAT(r.reason, HasSubstr("sha256 differs"));
  EXPECT_THAT(r.reason, HasSubstr(HexEncode(OpenSslBodyDigester::Of("new bytes").sha256)));
}

TEST_F(RecheckTest, StatusesAndTransportFailuresMapToOutcomes) {
  struct Case {
    std::string path;
    RecheckOutcome outcome;
  };
  const std::vector<Case> cases = {
      {"/status/404", RecheckOutcome::kGone},           {"/status/410", RecheckOutcome::kGone},
      {"/status/451", RecheckOutcome::kGone},           {"/status/401", RecheckOutcome::kAccessDisabled},
      {"/status/403", RecheckOutcome::kAccessDisabled}, {"/status/500", RecheckOutcome::kError},
      {"/status/503", RecheckOutcome::kError},          {"/status/429", RecheckOutcome::kError},
      {"/status/400", RecheckOutcome::kError},          {"/loop/a", RecheckOutcome::kError},
      {"/bytes?n=100000", RecheckOutcome::kError},
  };
  const RecheckExpectation expected = ExpectBytes("x");
  for (const Case& c : cases) {
    RecheckResult r = Check(c.path, expected);
    EXPECT_EQ(r.outcome, c.outcome) << c.path << ": " << r.reason;
    ASSERT_TRUE(r.fetch.has_value()) << c.path;
    EXPECT_FALSE(r.digests.has_value()) << c.path;
  }
  EXPECT_THAT(Check("/status/451", expected).reason, HasSubstr("legal reasons"));
  EXPECT_THAT(Check("/status/503", expected).reason, HasSubstr("not conclusive"));
}

TEST_F(RecheckTest, SlowServerIsNotConclusive) {
  RecheckResult r = Check("/slow", ExpectBytes("x"));
  EXPECT_EQ(r.outcome, RecheckOutcome::kError);
  EXPECT_THAT(r.reason, HasSubstr("too_slow"));
}

TEST_F(RecheckTest, ConnectionRefusedIsGone) {
  const std::string url = "http://127.0.0.1:" + std::to_string(HttpTestServer::ClosedPort()) + "/x.jpg";
  absl::StatusOr<RecheckResult> r = RecheckUrl(*fetcher_, url, ExpectBytes("x"), options_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, RecheckOutcome::kGone);
  EXPECT_THAT(r->reason, HasSubstr("connection refused"));
  EXPECT_EQ(r->fetch->error, FetchError::kConnectionRefused);
}

TEST_F(RecheckTest, RedirectToTheNoticePageIsAccessDisabled) {
  const std::string notice = server_->Url("/removed");
  const std::string path = "/redirect-to?url=%2Fremoved%3Fcase%3D17";
  RecheckResult r = Check(path, ExpectBytes("x"));
  EXPECT_EQ(r.outcome, RecheckOutcome::kChanged);  // not configured: just other bytes

  options_.disabled_notice_urls = {notice};  // exact: the query differs
  EXPECT_EQ(Check(path, ExpectBytes("x")).outcome, RecheckOutcome::kChanged);
  options_.disabled_notice_urls = {notice + "*"};
  r = Check(path, ExpectBytes("x"));
  EXPECT_EQ(r.outcome, RecheckOutcome::kAccessDisabled) << r.reason;
  EXPECT_THAT(r.reason, HasSubstr("notice URL " + notice + "?case=17"));
  ASSERT_EQ(r.fetch->hops.size(), 2u);
  EXPECT_EQ(r.fetch->hops[0].status, 302);
}

TEST_F(RecheckTest, DisabledMarkerPageIsAccessDisabled) {
  options_.disabled_markers = {"has been removed following a removal order"};
  RecheckResult r = Check("/removed", ExpectBytes("x"));
  EXPECT_EQ(r.outcome, RecheckOutcome::kAccessDisabled) << r.reason;
  EXPECT_THAT(r.reason, HasSubstr("disabled marker"));
  EXPECT_TRUE(r.fetch->body.empty());
  server_->WriteFile("plain.txt", "nothing to see");
  EXPECT_EQ(Check("/files/plain.txt", ExpectBytes("x")).outcome, RecheckOutcome::kChanged);
}

TEST_F(RecheckTest, PerceptualCheckDecidesWhenBytesDiffer) {
  server_->WriteFile("reencoded.jpg", "re-encoded copy");
  RecheckExpectation expected = ExpectBytes("original");
  std::string seen;
  expected.perceptual = [&seen](std::span<const uint8_t> body) -> absl::StatusOr<bool> {
    seen.assign(body.begin(), body.end());
    return true;
  };
  RecheckResult r = Check("/files/reencoded.jpg", expected);
  EXPECT_EQ(r.outcome, RecheckOutcome::kStillPresent) << r.reason;
  EXPECT_EQ(seen, "re-encoded copy");
  EXPECT_FALSE(r.digest_match);
  EXPECT_EQ(r.perceptual_match, true);
  EXPECT_THAT(r.reason, HasSubstr("perceptual check still matches"));

  expected.perceptual = [](std::span<const uint8_t>) -> absl::StatusOr<bool> { return false; };
  r = Check("/files/reencoded.jpg", expected);
  EXPECT_EQ(r.outcome, RecheckOutcome::kChanged);
  EXPECT_EQ(r.perceptual_match, false);

  expected.perceptual = [](std::span<const uint8_t>) -> absl::StatusOr<bool> {
    return absl::InvalidArgumentError("not an image");
  };
  r = Check("/files/reencoded.jpg", expected);
  EXPECT_EQ(r.outcome, RecheckOutcome::kError);
  EXPECT_THAT(r.reason, HasSubstr("not an image"));

  // Perceptual only, no digests expected.
  RecheckExpectation only;
  only.perceptual = [](std::span<const uint8_t> body) -> absl::StatusOr<bool> { return body.size() == 15; };
  r = Check("/files/reencoded.jpg", only);
  EXPECT_EQ(r.outcome, RecheckOutcome::kStillPresent);
}

TEST_F(RecheckTest, RefusesMalformedRequests) {
  RecheckExpectation nothing;
  EXPECT_EQ(RecheckUrl(*fetcher_, server_->Url("/x"), nothing, options_).status().code(),
            absl::StatusCode::kInvalidArgument);
  RecheckExpectation hex_not_raw;
  hex_not_raw.digests = {{HashType::kSha256, std::string(64, 'a')}};
  absl::Status status = RecheckUrl(*fetcher_, server_->Url("/x"), hex_not_raw, options_).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("raw bytes, not hex"));
  RecheckExpectation pdq;
  pdq.digests = {{HashType::kPdq, std::string(32, 'a')}};
  EXPECT_EQ(RecheckUrl(*fetcher_, server_->Url("/x"), pdq, options_).status().code(),
            absl::StatusCode::kInvalidArgument);
  RecheckOptions no_digester;
  EXPECT_EQ(RecheckUrl(*fetcher_, server_->Url("/x"), ExpectBytes("x"), no_digester).status().code(),
            absl::StatusCode::kInvalidArgument);
  for (const char* url : {"file:///etc/passwd", "ftp://127.0.0.1/", "gopher://127.0.0.1/"}) {
    EXPECT_EQ(RecheckUrl(*fetcher_, url, ExpectBytes("x"), options_).status().code(),
              absl::StatusCode::kInvalidArgument)
        << url;
  }
}

// --- Objects of any source ---

TEST(RecheckObject, FilesystemObjectPresentChangedGone) {
  char tmpl[] = "/tmp/takedown_recheck_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  auto write = [&](const std::string& content) {
    std::ofstream out(root + "/upload.jpg", std::ios::binary | std::ios::trunc);
    out << content;
  };
  write("reported bytes");
  FilesystemSourceOptions fs_options;
  fs_options.id = "home";
  fs_options.root = root;
  absl::StatusOr<std::unique_ptr<FilesystemSource>> source = FilesystemSource::Create(fs_options);
  ASSERT_TRUE(source.ok()) << source.status();
  FakeClock clock;
  RecheckOptions options;
  options.digester = OpenSslBodyDigester::Factory();
  options.clock = &clock;
  const ObjectRef ref{"home", "upload.jpg", "", 0};

  absl::StatusOr<RecheckResult> r = RecheckObject(**source, ref, ExpectBytes("reported bytes"), options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, RecheckOutcome::kStillPresent) << r->reason;
  EXPECT_EQ(r->checked_at, clock.Now());
  EXPECT_EQ(r->body_bytes, 14u);
  EXPECT_FALSE(r->fetch.has_value());

  write("edited");
  r = RecheckObject(**source, ref, ExpectBytes("reported bytes"), options);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, RecheckOutcome::kChanged);

  options.max_object_bytes = 3;
  r = RecheckObject(**source, ref, ExpectBytes("reported bytes"), options);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, RecheckOutcome::kError);
  EXPECT_THAT(r->reason, HasSubstr("max_object_bytes"));

  std::filesystem::remove(root + "/upload.jpg");
  r = RecheckObject(**source, ref, ExpectBytes("reported bytes"), options);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, RecheckOutcome::kGone);
  EXPECT_EQ(r->object_status.code(), absl::StatusCode::kNotFound);
  std::filesystem::remove_all(root);
}

TEST_F(RecheckTest, ObjectOfAUrlListSourceIsRecheckedAsAUrl) {
  UrlListSourceOptions options;
  options.id = "reported";
  options.digester = OpenSslBodyDigester::Factory();
  options.fetcher.allow_private_addresses = true;
  options.fetcher.max_requests_per_second_per_host = 0;
  absl::StatusOr<std::unique_ptr<UrlListSource>> source = UrlListSource::Create(options);
  ASSERT_TRUE(source.ok()) << source.status();
  absl::StatusOr<RecheckResult> r = RecheckObject(
      **source, ObjectRef{"reported", server_->Url("/status/451"), "", 0}, ExpectBytes("x"), options_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, RecheckOutcome::kGone);
  ASSERT_TRUE(r->fetch.has_value());
  EXPECT_EQ(r->fetch->status, 451);
}

}  // namespace
}  // namespace takedown
