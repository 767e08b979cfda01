// Fetch records in the sweep pipeline: an object of a url_list source, swept
// from the loopback test server (tests/crawler/http_test_server.py), gets on
// its record what a removal order names (status, final URL and every hop
// after redirects, peer IP, Content-Type and Server as served, validators,
// fetch time), also when it could not be read (404, 451, connection
// refused). Other sources' records carry no fetch record.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/hex.h"
#include "crawler/url_list_source.h"
#include "daemon/multi_body_digester.h"
#include "daemon/sweep_runner.h"
#include "gmock/gmock.h"
#include "tests/crawler/http_test_server.h"
#include "tests/daemon/pipeline_harness.h"
#include "tests/fakes/in_memory_source.h"

namespace takedown::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kSourceId[] = "reported-urls";
constexpr char kServer[] = "takedown-test/1.0";  // http_test_server.py's Server header

class FetchRecordPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = HttpTestServer::Start();
    ASSERT_NE(server_, nullptr);
    absl::StatusOr<std::unique_ptr<Pipeline>> p = Pipeline::Open(dir_.Sub("store"), clock_);
    ASSERT_TRUE(p.ok()) << p.status();
    p_ = std::move(*p);
    UrlListSourceOptions options;
    options.id = kSourceId;
    options.digester = MultiBodyDigesterFactory();
    options.fetcher.allow_private_addresses = true;  // the server is on 127.0.0.1
    options.fetcher.max_requests_per_second_per_host = 0;
    options.fetcher.connect_timeout = std::chrono::milliseconds(2000);
    options.fetcher.total_timeout = std::chrono::milliseconds(5000);
    absl::StatusOr<std::unique_ptr<UrlListSource>> source = UrlListSource::Create(std::move(options));
    ASSERT_TRUE(source.ok()) << source.status();
    source_ = std::move(*source);
  }

  SweepState Sweep() {
    SweepRunner runner(*source_, *p_->processor, *p_->pool, *p_->store, *p_->audit, clock_, 10);
    absl::Status s = runner.Start(std::nullopt, "test");
    EXPECT_TRUE(s.ok()) << s;
    runner.Join();
    return runner.Progress();
  }

  // Expects `f` to be of a fetch made between Mark() and now.
  void Mark() { before_ = absl::Now(); }
  void ExpectFetchedSinceMark(const FetchRecord& f) {
    const absl::Time after = absl::Now();
    EXPECT_GE(f.started_at, before_);
    EXPECT_LE(f.started_at, after);
    EXPECT_GE(f.duration, absl::ZeroDuration());
    EXPECT_LE(f.started_at + f.duration, after);
  }

  std::unique_ptr<HttpTestServer> server_;
  TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  std::unique_ptr<Pipeline> p_;
  std::unique_ptr<UrlListSource> source_;
  absl::Time before_;
};

TEST_F(FetchRecordPipelineTest, SweptUrlsRecordStatusHopsIpAndHeaders) {
  const std::string evidence = "bytes served as evidence\n";
  server_->WriteFile("evidence.bin", evidence);
  const std::string redirected = server_->Url("/redirect/3");
  const std::string file = server_->Url("/files/evidence.bin?v=etag");
  ASSERT_TRUE(source_->AddUrls({redirected, file}).ok());
  // The file is on a hash list: its record is written with its case.
  absl::StatusOr<ImportResult> list = p_->lists->ImportContent(
      "hotline", ListLine(HashType::kSha256, DigestsOf(evidence), "csam", "e-1"), "test");
  ASSERT_TRUE(list.ok()) << list.status();

  Mark();
  SweepState end = Sweep();
  EXPECT_EQ(end.phase, SweepPhase::kCompleted) << end.error;
  EXPECT_EQ(end.counters.done, 2u);
  EXPECT_EQ(end.counters.matches, 1u);

  std::optional<ObjectRecord> r = ReadObject(*p_->store, kSourceId, redirected);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, ObjectStatus::kHashed);
  EXPECT_EQ(r->size, 6u);  // "final\n"
  EXPECT_EQ(r->swept_at, clock_.Now());
  ASSERT_TRUE(r->fetch.has_value());
  const FetchRecord& f = *r->fetch;
  EXPECT_EQ(f.status, 200);
  EXPECT_EQ(f.requested_url, redirected);
  EXPECT_EQ(f.final_url, server_->Url("/redirect/0"));
  ASSERT_EQ(f.hops.size(), 4u);
  const std::vector<std::string> hop_paths = {"/redirect/3", "/redirect/2", "/redirect/1", "/redirect/0"};
  for (size_t i = 0; i < f.hops.size(); ++i) {
    EXPECT_EQ(f.hops[i].url, server_->Url(hop_paths[i])) << i;
    EXPECT_EQ(f.hops[i].status, i + 1 < f.hops.size() ? 302 : 200) << i;
    EXPECT_EQ(f.hops[i].ip, "127.0.0.1") << i;
  }
  EXPECT_EQ(f.hops_omitted, 0u);
  EXPECT_EQ(f.ip, "127.0.0.1");
  EXPECT_EQ(f.content_type, "text/plain");
  EXPECT_EQ(f.server, kServer);
  EXPECT_TRUE(f.etag.empty());
  EXPECT_TRUE(f.error.empty());
  ExpectFetchedSinceMark(f);

  std::optional<ObjectRecord> matched = ReadObject(*p_->store, kSourceId, file);
  ASSERT_TRUE(matched.has_value());
  EXPECT_EQ(matched->match_count, 1u);
  ASSERT_TRUE(matched->fetch.has_value());
  EXPECT_EQ(matched->fetch->status, 200);
  EXPECT_EQ(matched->fetch->final_url, file);
  ASSERT_EQ(matched->fetch->hops.size(), 1u);
  EXPECT_EQ(matched->fetch->hops[0].ip, "127.0.0.1");
  EXPECT_EQ(matched->fetch->content_type, "application/octet-stream");
  EXPECT_EQ(matched->fetch->server, kServer);
  // The server's ETag: the first 16 hex digits of the bytes' SHA-1, quoted.
  EXPECT_EQ(matched->fetch->etag,
            "\"" + HexEncode(DigestsOf(evidence).Get(HashType::kSha1)).substr(0, 16) + "\"");
  EXPECT_EQ(matched->version, "etag:" + matched->fetch->etag);
  ExpectFetchedSinceMark(*matched->fetch);
  EXPECT_EQ(ReadAllCases(*p_->store).size(), 1u);
}

TEST_F(FetchRecordPipelineTest, UrlGoneBeforeItIsReadIsRecordedFailedWithThe404) {
  server_->WriteFile("gone.bin", "soon removed");
  const std::string url = server_->Url("/files/gone.bin");
  ASSERT_TRUE(source_->AddUrls({url}).ok());
  absl::StatusOr<ObjectRef> ref = source_->Stat(url);  // listed while it was there
  ASSERT_TRUE(ref.ok()) << ref.status();
  std::filesystem::remove(server_->root() + "/gone.bin");

  Mark();
  absl::StatusOr<SweepCounters> c = p_->processor->Process(*source_, *ref, "sweep-1");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->failed, 1u);

  std::optional<ObjectRecord> r = ReadObject(*p_->store, kSourceId, url);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, ObjectStatus::kFailed);
  EXPECT_THAT(r->error, HasSubstr("404"));
  EXPECT_EQ(r->swept_at, clock_.Now());
  ASSERT_TRUE(r->fetch.has_value());
  const FetchRecord& f = *r->fetch;
  EXPECT_EQ(f.status, 404);
  EXPECT_EQ(f.ip, "127.0.0.1");
  EXPECT_EQ(f.final_url, url);
  EXPECT_EQ(f.requested_url, url);
  ASSERT_EQ(f.hops.size(), 1u);
  EXPECT_EQ(f.hops[0].status, 404);
  EXPECT_EQ(f.hops[0].ip, "127.0.0.1");
  EXPECT_EQ(f.content_type, "text/plain");
  EXPECT_EQ(f.server, kServer);
  EXPECT_TRUE(f.error.empty());  // a response arrived
  ExpectFetchedSinceMark(f);
}

TEST_F(FetchRecordPipelineTest, UnavailableForLegalReasonsAndRefusedConnectionsAreRecorded) {
  const std::string legal = server_->Url("/status/451");
  const std::string refused = "http://127.0.0.1:" + std::to_string(HttpTestServer::ClosedPort()) + "/x.jpg";
  Mark();
  ASSERT_TRUE(p_->processor->Process(*source_, ObjectRef{kSourceId, legal, "etag:\"1\"", 0}, "sweep-1").ok());
  ASSERT_TRUE(
      p_->processor->Process(*source_, ObjectRef{kSourceId, refused, "etag:\"1\"", 0}, "sweep-1").ok());

  std::optional<ObjectRecord> r = ReadObject(*p_->store, kSourceId, legal);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, ObjectStatus::kFailed);
  ASSERT_TRUE(r->fetch.has_value());
  EXPECT_EQ(r->fetch->status, 451);
  EXPECT_EQ(r->fetch->ip, "127.0.0.1");
  ExpectFetchedSinceMark(*r->fetch);

  r = ReadObject(*p_->store, kSourceId, refused);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, ObjectStatus::kFailed);
  ASSERT_TRUE(r->fetch.has_value());
  EXPECT_EQ(r->fetch->status, 0);
  EXPECT_EQ(r->fetch->error, "connection_refused");
  ASSERT_EQ(r->fetch->hops.size(), 1u);
  EXPECT_EQ(r->fetch->hops[0].url, refused);
  EXPECT_EQ(r->fetch->hops[0].status, 0);
  ExpectFetchedSinceMark(*r->fetch);
}

TEST_F(FetchRecordPipelineTest, FailureBeforeAnyRequestBorrowsNoEarlierFetch) {
  const std::string url = server_->Url("/status/404");
  ASSERT_TRUE(p_->processor->Process(*source_, ObjectRef{kSourceId, url, "v", 0}, "sweep-1").ok());
  ASSERT_TRUE(source_->LastFetch(url).has_value());
  // Open refuses a ref of another source before fetching: the record of the
  // fetch above (same key) must not be taken for this one.
  ASSERT_TRUE(p_->processor->Process(*source_, ObjectRef{"other-source", url, "v", 0}, "sweep-1").ok());
  std::optional<ObjectRecord> r = ReadObject(*p_->store, "other-source", url);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, ObjectStatus::kFailed);
  EXPECT_THAT(r->error, HasSubstr("other-source"));
  EXPECT_FALSE(r->fetch.has_value());
}

TEST_F(FetchRecordPipelineTest, OtherSourcesRecordNoFetch) {
  InMemorySource disk("disk");
  disk.Put("a.txt", "plain bytes", "v1");
  disk.Put("gone.txt", "x", "v1");
  disk.Vanish("gone.txt");
  ASSERT_TRUE(p_->processor->Process(disk, ObjectRef{"disk", "a.txt", "v1", 11}, "sweep-1").ok());
  ASSERT_TRUE(p_->processor->Process(disk, ObjectRef{"disk", "gone.txt", "v1", 1}, "sweep-1").ok());
  std::optional<ObjectRecord> a = ReadObject(*p_->store, "disk", "a.txt");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->status, ObjectStatus::kHashed);
  EXPECT_FALSE(a->fetch.has_value());
  std::optional<ObjectRecord> gone = ReadObject(*p_->store, "disk", "gone.txt");
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ(gone->status, ObjectStatus::kFailed);
  EXPECT_FALSE(gone->fetch.has_value());
}

}  // namespace
}  // namespace takedown::testing
