#include "crawler/url_list_source.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/hex.h"
#include "crawler/http_object_reader.h"
#include "crawler/url_list_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/crawler/http_test_server.h"
#include "tests/crawler/openssl_body_digester.h"

namespace takedown {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;

// --- Parsing ---

TEST(UrlListFile, ParsesUrlsCommentsAndBlankLines) {
  const std::string text =
      "# reported 2026-11-01\n"
      "https://example.org/a.jpg\n"
      "\n"
      "   http://example.org/b?x=1#frag  \r\n"
      "\t# indented comment\n"
      "https://example.org/a.jpg\n"  // duplicate, dropped silently
      "http://example.org/c";        // no final newline
  UrlList list = ParseUrlList(text, "urls.txt", UrlListLimits{});
  EXPECT_THAT(list.urls, ElementsAre("https://example.org/a.jpg", "http://example.org/b?x=1#frag",
                                     "http://example.org/c"));
  EXPECT_TRUE(list.problems.empty());
}

TEST(UrlListFile, ReportsBadLinesWithFileAndLine) {
  UrlListLimits limits;
  limits.max_line_bytes = 64;
  const std::string text =
      "https://ok.example/1\n"
      "ftp://files.example/x\n"
      "not a url\n"
      "https://ok.example/" +
      std::string(80, 'x') +
      "\n"
      "file:///etc/passwd\n"
      "gopher://old.example/\n"
      "https://ok.example/2\n"
      "/relative\n";
  UrlList list = ParseUrlList(text, "/etc/takedownd/urls.txt", limits);
  EXPECT_THAT(list.urls, ElementsAre("https://ok.example/1", "https://ok.example/2"));
  ASSERT_EQ(list.problems.size(), 6u);
  std::vector<int> lines;
  for (const UrlListProblem& p : list.problems) {
    lines.push_back(p.line);
    EXPECT_THAT(p.message, StartsWith(p.where + ": "));
  }
  EXPECT_THAT(lines, ElementsAre(2, 3, 4, 5, 6, 8));
  EXPECT_EQ(list.problems[0].where, "/etc/takedownd/urls.txt:2");
  EXPECT_THAT(list.problems[0].message, HasSubstr("scheme 'ftp' is not allowed"));
  EXPECT_THAT(list.problems[1].message, HasSubstr("whitespace"));
  EXPECT_THAT(list.problems[2].message, HasSubstr("longer than max_line_bytes 64"));
  EXPECT_THAT(list.problems[3].message, HasSubstr("scheme 'file' is not allowed"));
  EXPECT_THAT(list.problems[4].message, HasSubstr("scheme 'gopher' is not allowed"));
  EXPECT_THAT(list.problems[5].message, HasSubstr("not an absolute http"));
}

TEST(UrlListFile, StopsAfterMaxUrls) {
  UrlListLimits limits;
  limits.max_urls = 2;
  UrlList list = ParseUrlList(
      "http://a.example/\n#c\nhttp://b.example/\nhttp://a.example/\nhttp://c.example/\n"
      "http://d.example/\n",
      "u", limits);
  EXPECT_THAT(list.urls, ElementsAre("http://a.example/", "http://b.example/"));
  ASSERT_EQ(list.problems.size(), 1u);
  EXPECT_EQ(list.problems[0].where, "u:5");
  EXPECT_THAT(list.problems[0].message, HasSubstr("more than max_urls 2"));
}

TEST(UrlListFile, FileErrors) {
  UrlListLimits limits;
  EXPECT_EQ(ReadUrlListFile("/nonexistent/urls.txt", limits).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadUrlListFile("/tmp", limits).status().code(), absl::StatusCode::kFailedPrecondition);
  char tmpl[] = "/tmp/takedown_urllist_XXXXXX";
  const int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  const std::string big(2000, '#');
  ASSERT_EQ(write(fd, big.data(), big.size()), static_cast<ssize_t>(big.size()));
  close(fd);
  limits.max_file_bytes = 1000;
  absl::StatusOr<UrlList> read = ReadUrlListFile(tmpl, limits);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(read.status().message()), HasSubstr(tmpl));
  unlink(tmpl);
}

// --- The source against the real server ---

class RecordingSink : public ListingSink {
 public:
  bool OnObject(ObjectRef ref) override {
    objects.push_back(std::move(ref));
    return stop_after == 0 || objects.size() < stop_after;
  }
  void OnSkipped(std::string_view key, std::string_view reason) override {
    skipped.emplace_back(std::string(key), std::string(reason));
  }
  std::vector<ObjectRef> objects;
  std::vector<std::pair<std::string, std::string>> skipped;
  size_t stop_after = 0;
};

std::vector<std::string> Keys(const std::vector<ObjectRef>& refs) {
  std::vector<std::string> keys;
  for (const ObjectRef& r : refs) keys.push_back(r.key);
  return keys;
}

class UrlListSourceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = HttpTestServer::Start().release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    list_path_ = server_->root() + "/urls-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  UrlListSourceOptions Options() {
    UrlListSourceOptions options;
    options.id = "reported";
    options.file = list_path_;
    options.digester = OpenSslBodyDigester::Factory();
    options.fetcher.allow_private_addresses = true;  // the server is on 127.0.0.1
    options.fetcher.max_requests_per_second_per_host = 0;
    options.fetcher.total_timeout = std::chrono::milliseconds(5000);
    options.fetcher.max_body_bytes = 64 * 1024;
    return options;
  }

  void WriteList(const std::string& text) {
    std::ofstream out(list_path_, std::ios::trunc);
    out << text;
  }

  std::unique_ptr<UrlListSource> Make(UrlListSourceOptions options) {
    absl::StatusOr<std::unique_ptr<UrlListSource>> source = UrlListSource::Create(std::move(options));
    EXPECT_TRUE(source.ok()) << source.status();
    return source.ok() ? *std::move(source) : nullptr;
  }

  std::string U(std::string_view path) { return server_->Url(path); }

  static HttpTestServer* server_;
  std::string list_path_;
};

HttpTestServer* UrlListSourceTest::server_ = nullptr;

TEST_F(UrlListSourceTest, CreateChecksItsOptions) {
  UrlListSourceOptions options = Options();
  options.file = server_->root() + "/missing.txt";
  EXPECT_EQ(UrlListSource::Create(options).status().code(), absl::StatusCode::kNotFound);
  options = Options();
  options.file.clear();
  options.digester = nullptr;
  EXPECT_EQ(UrlListSource::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options = Options();
  options.file.clear();
  options.id.clear();
  EXPECT_EQ(UrlListSource::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options = Options();
  options.file.clear();
  options.list_parallelism = 0;
  EXPECT_EQ(UrlListSource::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(UrlListSourceTest, ListsInByteOrderWithVersionsFromValidatorsOrDigest) {
  server_->WriteFile("e.bin", "etag body");
  server_->WriteFile("l.bin", "last-modified body");
  server_->WriteFile("n.bin", "no validators");
  WriteList("# test list\n" + U("/files/n.bin") + "\n" + U("/files/e.bin?v=etag") + "\nftp://127.0.0.1/x\n" +
            U("/files/l.bin?v=lm") + "\n" + U("/status/404") + "\n");
  auto source = Make(Options());
  ASSERT_NE(source, nullptr);
  RecordingSink sink;
  ASSERT_TRUE(source->List("", sink).ok());
  ASSERT_THAT(Keys(sink.objects),
              ElementsAre(U("/files/e.bin?v=etag"), U("/files/l.bin?v=lm"), U("/files/n.bin")));
  for (const ObjectRef& ref : sink.objects) EXPECT_EQ(ref.source_id, "reported");
  EXPECT_THAT(sink.objects[0].version, StartsWith("etag:\""));
  EXPECT_EQ(sink.objects[0].size, 9u);
  EXPECT_THAT(sink.objects[1].version, StartsWith("last-modified:"));
  EXPECT_THAT(sink.objects[1].version, HasSubstr("GMT"));
  EXPECT_EQ(sink.objects[2].version, "sha256:" + HexEncode(OpenSslBodyDigester::Of("no validators").sha256));
  EXPECT_EQ(sink.objects[2].size, 13u);
  ASSERT_EQ(sink.skipped.size(), 2u);
  EXPECT_EQ(sink.skipped[0].first, list_path_ + ":4");
  EXPECT_THAT(sink.skipped[0].second, HasSubstr("scheme 'ftp' is not allowed"));
  EXPECT_EQ(sink.skipped[1].first, U("/status/404"));
  EXPECT_THAT(sink.skipped[1].second, HasSubstr("HTTP 404"));

  // HEAD sufficed where validators exist; the URL without one was also GET.
  EXPECT_EQ(server_->Count("HEAD", "/files/e.bin?v=etag"), 1);
  EXPECT_EQ(server_->Count("GET", "/files/e.bin?v=etag"), 0);
  EXPECT_EQ(server_->Count("HEAD", "/files/n.bin"), 1);
  EXPECT_EQ(server_->Count("GET", "/files/n.bin"), 1);
}

TEST_F(UrlListSourceTest, VersionChangesWithTheBytes) {
  server_->WriteFile("v.bin", "first");
  WriteList(U("/files/v.bin") + "\n" + U("/files/v.bin?v=etag") + "\n");
  auto source = Make(Options());
  RecordingSink before;
  ASSERT_TRUE(source->List("", before).ok());
  server_->WriteFile("v.bin", "second");
  RecordingSink after;
  ASSERT_TRUE(source->List("", after).ok());
  ASSERT_EQ(before.objects.size(), 2u);
  ASSERT_EQ(after.objects.size(), 2u);
  EXPECT_NE(before.objects[0].version, after.objects[0].version);
  EXPECT_NE(before.objects[1].version, after.objects[1].version);
  // Unchanged bytes, unchanged version.
  RecordingSink again;
  ASSERT_TRUE(source->List("", again).ok());
  EXPECT_EQ(again.objects[0].version, after.objects[0].version);
  EXPECT_EQ(again.objects[1].version, after.objects[1].version);
}

TEST_F(UrlListSourceTest, GetProbeUsesNoHead) {
  server_->WriteFile("g.bin", "get only");
  WriteList(U("/files/g.bin?v=etag&probe=get") + "\n");
  UrlListSourceOptions options = Options();
  options.probe = UrlProbe::kGet;
  auto source = Make(options);
  RecordingSink sink;
  ASSERT_TRUE(source->List("", sink).ok());
  ASSERT_EQ(sink.objects.size(), 1u);
  EXPECT_THAT(sink.objects[0].version, StartsWith("etag:"));
  EXPECT_EQ(server_->Count("HEAD", "/files/g.bin?v=etag&probe=get"), 0);
  EXPECT_EQ(server_->Count("GET", "/files/g.bin?v=etag&probe=get"), 1);
}

TEST_F(UrlListSourceTest, ResumesAfterACursorAndStopsWhenTheSinkSaysSo) {
  server_->WriteFile("r.bin", "r");
  std::string text = "bad line\n";
  for (char c : std::string("edcba")) text += U(std::string("/files/r.bin?v=etag&k=") + c) + "\n";
  WriteList(text);
  auto source = Make(Options());
  RecordingSink resumed;
  ASSERT_TRUE(source->List(U("/files/r.bin?v=etag&k=b"), resumed).ok());
  EXPECT_THAT(Keys(resumed.objects), ElementsAre(U("/files/r.bin?v=etag&k=c"), U("/files/r.bin?v=etag&k=d"),
                                                 U("/files/r.bin?v=etag&k=e")));
  EXPECT_TRUE(resumed.skipped.empty());  // bad lines are reported on full listings only
  RecordingSink stopped;
  stopped.stop_after = 2;
  ASSERT_TRUE(source->List("", stopped).ok());
  EXPECT_THAT(Keys(stopped.objects), ElementsAre(U("/files/r.bin?v=etag&k=a"), U("/files/r.bin?v=etag&k=b")));
  EXPECT_EQ(source->CompareKeys(U("/a"), U("/b")), -1);
  EXPECT_EQ(source->CompareKeys(U("/b"), U("/b")), 0);
  EXPECT_EQ(source->CompareKeys("https://z", "http://z"), 1);
}

TEST_F(UrlListSourceTest, AddUrlsMergesWithTheFileAndValidatesAllOrNothing) {
  server_->WriteFile("a1.bin", "a1");
  server_->WriteFile("a2.bin", "a2");
  WriteList(U("/files/a2.bin?v=etag") + "\n");
  UrlListSourceOptions options = Options();
  options.limits.max_urls = 3;
  auto source = Make(options);
  absl::Status bad = source->AddUrls({U("/files/a1.bin?v=etag"), "gopher://127.0.0.1/"});
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("URL #2"));
  ASSERT_TRUE(source->AddUrls({U("/files/a1.bin?v=etag"), U("/files/a2.bin?v=etag")}).ok());
  EXPECT_TRUE(source->AddUrls({U("/files/a1.bin?v=etag")}).ok());  // already there
  EXPECT_EQ(source->AddUrls({U("/x1"), U("/x2")}).code(), absl::StatusCode::kResourceExhausted);
  RecordingSink sink;
  ASSERT_TRUE(source->List("", sink).ok());
  EXPECT_THAT(Keys(sink.objects), ElementsAre(U("/files/a1.bin?v=etag"), U("/files/a2.bin?v=etag")));
}

TEST_F(UrlListSourceTest, WorksWithoutAFile) {
  server_->WriteFile("api.bin", "api");
  UrlListSourceOptions options = Options();
  options.file.clear();
  auto source = Make(options);
  RecordingSink empty;
  ASSERT_TRUE(source->List("", empty).ok());
  EXPECT_TRUE(empty.objects.empty());
  ASSERT_TRUE(source->AddUrls({U("/files/api.bin")}).ok());
  RecordingSink sink;
  ASSERT_TRUE(source->List("", sink).ok());
  EXPECT_THAT(Keys(sink.objects), ElementsAre(U("/files/api.bin")));
}

TEST_F(UrlListSourceTest, ListFailsWhenTheFileDisappears) {
  WriteList(U("/files/x") + "\n");
  auto source = Make(Options());
  std::filesystem::remove(list_path_);
  RecordingSink sink;
  absl::Status status = source->List("", sink);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()), HasSubstr("reported"));
}

TEST_F(UrlListSourceTest, OpenReadsTheBodyAndKeepsTheFetchRecord) {
  server_->WriteFile("o.bin", "object bytes");
  WriteList("");
  auto source = Make(Options());
  ObjectRef ref{"reported", U("/redirect-to?url=%2Ffiles%2Fo.bin"), "v", 12};
  absl::StatusOr<std::unique_ptr<ObjectReader>> reader = source->Open(ref);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::string read;
  std::vector<uint8_t> buffer(5);
  while (true) {
    absl::StatusOr<size_t> n = (*reader)->Read(buffer);
    ASSERT_TRUE(n.ok());
    if (*n == 0) break;
    read.append(reinterpret_cast<const char*>(buffer.data()), *n);
  }
  EXPECT_EQ(read, "object bytes");
  auto* http = dynamic_cast<const HttpObjectReader*>(reader->get());
  ASSERT_NE(http, nullptr);
  EXPECT_EQ(http->fetch().final_url, U("/files/o.bin"));
  EXPECT_EQ(http->fetch().hops.size(), 2u);

  std::optional<HttpFetchResult> record = source->LastFetch(ref.key);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->status, 200);
  EXPECT_EQ(record->final_url, U("/files/o.bin"));
  EXPECT_EQ(record->ip, "127.0.0.1");
  EXPECT_EQ(record->content_type, "application/octet-stream");
  EXPECT_EQ(record->server, "takedown-test/1.0");
  EXPECT_EQ(record->body_bytes, 12u);
  EXPECT_TRUE(record->body.empty());
  ASSERT_EQ(record->hops.size(), 2u);
  EXPECT_EQ(record->hops[0].status, 302);
  EXPECT_FALSE(source->LastFetch(U("/never-opened")).has_value());
}

TEST_F(UrlListSourceTest, OpenMapsFailuresToStatusCodes) {
  WriteList("");
  UrlListSourceOptions options = Options();
  options.fetcher.low_speed_bytes_per_second = 100;
  options.fetcher.low_speed_time = std::chrono::seconds(1);
  auto source = Make(options);
  const std::map<std::string, absl::StatusCode> cases = {
      {"/status/404", absl::StatusCode::kNotFound},
      {"/status/410", absl::StatusCode::kNotFound},
      {"/status/401", absl::StatusCode::kPermissionDenied},
      {"/status/403", absl::StatusCode::kPermissionDenied},
      {"/status/451", absl::StatusCode::kFailedPrecondition},
      {"/status/500", absl::StatusCode::kUnavailable},
      {"/status/503", absl::StatusCode::kUnavailable},
      {"/slow", absl::StatusCode::kUnavailable},
      {"/bytes?n=100000", absl::StatusCode::kResourceExhausted},
  };
  for (const auto& [path, code] : cases) {
    absl::StatusOr<std::unique_ptr<ObjectReader>> reader =
        source->Open(ObjectRef{"reported", U(path), "", 0});
    EXPECT_EQ(reader.status().code(), code) << path << ": " << reader.status();
    EXPECT_THAT(std::string(reader.status().message()), HasSubstr("'reported'")) << path;
    std::optional<HttpFetchResult> record = source->LastFetch(U(path));
    ASSERT_TRUE(record.has_value()) << path;
    EXPECT_EQ(record->requested_url, U(path));
  }
  EXPECT_THAT(std::string(source->Open(ObjectRef{"reported", U("/status/451"), "", 0}).status().message()),
              HasSubstr("legal reasons"));
  EXPECT_EQ(source->LastFetch(U("/status/410"))->status, 410);
  const std::string refused = "http://127.0.0.1:" + std::to_string(HttpTestServer::ClosedPort()) + "/";
  EXPECT_EQ(source->Open(ObjectRef{"reported", refused, "", 0}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(source->Open(ObjectRef{"other", U("/status/200"), "", 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(source->Open(ObjectRef{"reported", "file:///etc/passwd", "", 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(UrlListSourceTest, KeepsABoundedNumberOfFetchRecords) {
  WriteList("");
  UrlListSourceOptions options = Options();
  options.max_recorded_fetches = 2;
  auto source = Make(options);
  for (const char* path : {"/status/200", "/status/201", "/status/202"}) {
    (void)source->Open(ObjectRef{"reported", U(path), "", 0});
  }
  EXPECT_FALSE(source->LastFetch(U("/status/200")).has_value());
  EXPECT_EQ(source->LastFetch(U("/status/201"))->status, 201);
  EXPECT_EQ(source->LastFetch(U("/status/202"))->status, 202);
}

}  // namespace
}  // namespace takedown
