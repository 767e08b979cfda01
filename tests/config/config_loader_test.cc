#include "config/config_loader.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace takedown {

// Readable failures for whole-config comparisons.
void PrintTo(const TakedownConfig& c, std::ostream* os) {
  *os << "{source_path=" << c.source_path << " role=" << RoleName(c.daemon.role)
      << " data_dir=" << c.daemon.data_dir << " grpc=" << c.daemon.grpc_listen
      << " http=" << c.daemon.http_listen << " workers=" << c.daemon.workers
      << " queue=" << c.daemon.queue_capacity << " log=" << c.daemon.log_level
      << " checkpoint=" << c.daemon.checkpoint_every << " max_object=" << c.limits.max_object_bytes
      << " read_buffer=" << c.limits.read_buffer_bytes << " line=" << c.limits.hash_list_max_line_bytes
      << " entries=" << c.limits.hash_list_max_entries << " list_bytes=" << c.limits.hash_list_max_bytes
      << " sources=[";
  for (const SourceConfig& s : c.sources) {
    *os << "{" << s.id << " " << s.type << " " << s.filesystem.root
        << " include=" << s.filesystem.include.size() << " exclude=" << s.filesystem.exclude.size() << "}";
  }
  *os << "] lists=[";
  for (const HashListConfig& l : c.lists) *os << "{" << l.name << " " << l.path << "}";
  *os << "] file_drop=" << (c.notices.file_drop ? c.notices.file_drop->directory : "none") << "}";
}

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kName[] = "t.yaml";
constexpr char kBase[] = "/base";

// The config a document with only `daemon: {data_dir: d}` yields.
TakedownConfig Defaults() {
  TakedownConfig config;
  config.source_path = "<string>";
  config.daemon.data_dir = "/base/d";
  return config;
}

std::string ErrorOf(const std::string& yaml) {
  absl::StatusOr<TakedownConfig> config = ParseConfig(yaml, kName, kBase);
  if (config.ok()) return "(parsed without error)";
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(config.status().message());
}

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/config_loader_test.XXXXXX";
    const char* made = mkdtemp(pattern);
    EXPECT_NE(made, nullptr);
    path_ = made != nullptr ? made : "/tmp";
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

  fs::path Write(const std::string& relative, const std::string& content) {
    const fs::path file = path_ / relative;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file;
  }

 private:
  fs::path path_;
};

// --- Valid configs -----------------------------------------------------------

struct ValidCase {
  std::string name;
  std::string yaml;
  std::function<void(TakedownConfig&)> expect;  // applied to Defaults()

  friend void PrintTo(const ValidCase& c, std::ostream* os) { *os << c.name; }
};

class ValidConfigTest : public ::testing::TestWithParam<ValidCase> {};

TEST_P(ValidConfigTest, ParsesToExpectedConfig) {
  const ValidCase& c = GetParam();
  absl::StatusOr<TakedownConfig> config = ParseConfig(c.yaml, kName, kBase);
  ASSERT_TRUE(config.ok()) << config.status();
  TakedownConfig expected = Defaults();
  c.expect(expected);
  EXPECT_EQ(*config, expected);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ValidConfigTest,
    ::testing::Values(ValidCase{"OnlyDataDir", "daemon:\n  data_dir: d\n", [](TakedownConfig&) {}},
                      ValidCase{"FlowStyle", "{daemon: {data_dir: d}}", [](TakedownConfig&) {}},
                      ValidCase{"EveryDaemonKey",
                                "daemon:\n"
                                "  role: authority\n"
                                "  data_dir: /var/lib/td\n"
                                "  grpc_listen: '[::1]:50052'\n"
                                "  http_listen: 127.0.0.1:0\n"
                                "  workers: 256\n"
                                "  queue_capacity: 1_000_000\n"
                                "  log_level: off\n"
                                "  checkpoint_every: 1\n",
                                [](TakedownConfig& c) {
                                  c.daemon.role = Role::kAuthority;
                                  c.daemon.data_dir = "/var/lib/td";
                                  c.daemon.grpc_listen = "[::1]:50052";
                                  c.daemon.http_listen = "127.0.0.1:0";
                                  c.daemon.workers = 256;
                                  c.daemon.queue_capacity = 1'000'000;
                                  c.daemon.log_level = "off";
                                  c.daemon.checkpoint_every = 1;
                                }},
                      ValidCase{"QuotedIntegerAndHostname",
                                "daemon: {data_dir: d, workers: '0', http_listen: "
                                "localhost:8080}",
                                [](TakedownConfig& c) { c.daemon.http_listen = "localhost:8080"; }},
                      ValidCase{"ByteSizesWithUnits",
                                "daemon: {data_dir: d}\n"
                                "limits:\n"
                                "  max_object_bytes: 1 GiB\n"
                                "  read_buffer_bytes: 4KiB\n"
                                "  hash_list_max_line_bytes: 64\n"
                                "  hash_list_max_entries: 10_000_000_000\n"
                                "  hash_list_max_bytes: 10MB\n",
                                [](TakedownConfig& c) {
                                  c.limits.max_object_bytes = 1ull << 30;
                                  c.limits.read_buffer_bytes = 4096;
                                  c.limits.hash_list_max_line_bytes = 64;
                                  c.limits.hash_list_max_entries = 10'000'000'000ull;
                                  c.limits.hash_list_max_bytes = 10'000'000;
                                }},
                      ValidCase{"ArchiveLimits",
                                "daemon: {data_dir: d}\n"
                                "limits: {archive_max_depth: 0, archive_max_members: 10, "
                                "archive_max_total_bytes: 1GiB, archive_max_member_bytes: 1MiB, "
                                "archive_max_ratio: 50, archive_max_buffered_bytes: 1MiB}\n",
                                [](TakedownConfig& c) {
                                  c.limits.archive_max_depth = 0;
                                  c.limits.archive_max_members = 10;
                                  c.limits.archive_max_total_bytes = 1ull << 30;
                                  c.limits.archive_max_member_bytes = 1 << 20;
                                  c.limits.archive_max_ratio = 50;
                                  c.limits.archive_max_buffered_bytes = 1 << 20;
                                }},
                      ValidCase{"WatchAndRescanInterval",
                                "daemon: {data_dir: d}\n"
                                "sources:\n"
                                "  - {id: a, type: filesystem, root: /r, watch: true, rescan_interval: 24h}\n"
                                "  - {id: b, type: url_list, file: /f, rescan_interval: '90'}\n",
                                [](TakedownConfig& c) {
                                  SourceConfig a;
                                  a.id = "a";
                                  a.type = "filesystem";
                                  a.filesystem.root = "/r";
                                  a.watch = true;
                                  a.rescan_interval_seconds = 86400;
                                  SourceConfig b;
                                  b.id = "b";
                                  b.type = "url_list";
                                  b.url_list.file = "/f";
                                  b.rescan_interval_seconds = 90;
                                  c.sources = {a, b};
                                }},
                      ValidCase{"ByteSizeUpperBound",
                                "daemon: {data_dir: d}\nlimits: {read_buffer_bytes: 64MiB}",
                                [](TakedownConfig& c) { c.limits.read_buffer_bytes = 64ull << 20; }},
                      ValidCase{"NullSectionsReadAsEmpty",
                                "daemon: {data_dir: d}\nlimits:\nsources:\nlists:\nnotices:\n",
                                [](TakedownConfig&) {}},
                      ValidCase{"AllowlistAndPdqSettings",
                                "daemon: {data_dir: d}\n"
                                "limits: {max_image_pixels: 1000000, max_image_bytes: 8MiB}\n"
                                "lists:\n"
                                "  - {name: fp, path: /l/fp.csv, kind: allowlist, pdq_threshold: 10}\n"
                                "  - {name: hot, path: /l/hot.csv, pdq_min_quality: 0}\n"
                                "matcher: {pdq: fast, pdq_fast_extra_radius: 12}\n",
                                [](TakedownConfig& c) {
                                  c.limits.max_image_pixels = 1'000'000;
                                  c.limits.max_image_bytes = 8ull << 20;
                                  HashListConfig fp;
                                  fp.name = "fp";
                                  fp.path = "/l/fp.csv";
                                  fp.kind = ListKind::kAllowlist;
                                  fp.pdq_threshold = 10;
                                  HashListConfig hot;
                                  hot.name = "hot";
                                  hot.path = "/l/hot.csv";
                                  hot.pdq_min_quality = 0;
                                  c.lists = {fp, hot};
                                  c.matcher.pdq = PdqMode::kFast;
                                  c.matcher.pdq_fast_extra_radius = 12;
                                }},
                      ValidCase{"S3AndUrlListSources",
                                "daemon: {data_dir: d}\n"
                                "sources:\n"
                                "  - {id: b, type: s3, endpoint: 'http://127.0.0.1:9000', bucket: data,\n"
                                "     addressing: virtual-host, access_key_env: AK, secret_key_env: SK,\n"
                                "     verify_tls: false, max_concurrent_requests: 4}\n"
                                "  - {id: u, type: url_list, file: urls.txt, allow_private_addresses: true,\n"
                                "     max_body_bytes: 1MiB, max_redirects: 0}\n",
                                [](TakedownConfig& c) {
                                  SourceConfig b;
                                  b.id = "b";
                                  b.type = "s3";
                                  b.s3.endpoint = "http://127.0.0.1:9000";
                                  b.s3.bucket = "data";
                                  b.s3.addressing = "virtual-host";
                                  b.s3.access_key_env = "AK";
                                  b.s3.secret_key_env = "SK";
                                  b.s3.verify_tls = false;
                                  b.s3.max_concurrent_requests = 4;
                                  SourceConfig u;
                                  u.id = "u";
                                  u.type = "url_list";
                                  u.url_list.file = "/base/urls.txt";
                                  u.url_list.allow_private_addresses = true;
                                  u.url_list.max_body_bytes = 1 << 20;
                                  u.url_list.max_redirects = 0;
                                  c.sources = {b, u};
                                }},
                      ValidCase{"SourceWithDefaultPatterns",
                                "daemon: {data_dir: d}\n"
                                "sources:\n"
                                "  - id: disk-1\n"
                                "    type: filesystem\n"
                                "    root: storage\n",
                                [](TakedownConfig& c) {
                                  SourceConfig source;
                                  source.id = "disk-1";
                                  source.type = "filesystem";
                                  source.filesystem.root = "/base/storage";
                                  source.filesystem.include = {"**"};
                                  c.sources.push_back(source);
                                }},
                      ValidCase{"SourcesListsAndFileDrop",
                                "daemon: {data_dir: d}\n"
                                "sources:\n"
                                "  - {id: a, type: filesystem, root: /abs/a, include: ['*.jpg', "
                                "'**/*.png'], exclude: ['tmp/**']}\n"
                                "  - {id: b.2_x, type: filesystem, root: ../b/, exclude: []}\n"
                                "lists:\n"
                                "  - {name: ncmec, path: lists/ncmec.csv}\n"
                                "  - {name: iwf, path: /lists/iwf.csv}\n"
                                "notices:\n"
                                "  file_drop: {directory: ./out/./notices/}\n",
                                [](TakedownConfig& c) {
                                  c.sources.resize(2);
                                  c.sources[0].id = "a";
                                  c.sources[0].type = "filesystem";
                                  c.sources[0].filesystem.root = "/abs/a";
                                  c.sources[0].filesystem.include = {"*.jpg", "**/*.png"};
                                  c.sources[0].filesystem.exclude = {"tmp/**"};
                                  c.sources[1].id = "b.2_x";
                                  c.sources[1].type = "filesystem";
                                  c.sources[1].filesystem.root = "/b";
                                  c.lists = {{"ncmec", "/base/lists/ncmec.csv"}, {"iwf", "/lists/iwf.csv"}};
                                  c.notices.file_drop = FileDropConfig{"/base/out/notices"};
                                }},
                      ValidCase{"CommentsAndBom",
                                "\xEF\xBB\xBF# comment\ndaemon:  # the daemon\n  data_dir: d  "
                                "# here\n",
                                [](TakedownConfig&) {}}),
    [](const ::testing::TestParamInfo<ValidCase>& info) { return info.param.name; });

// --- Errors: exact message, position and path --------------------------------

struct ErrorCase {
  std::string name;
  std::string yaml;
  std::string message;

  friend void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }
};

class ErrorConfigTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ErrorConfigTest, ReportsExactError) { EXPECT_EQ(ErrorOf(GetParam().yaml), GetParam().message); }

const char kDaemonKeys[] =
    "role, data_dir, grpc_listen, http_listen, workers, queue_capacity, "
    "log_level, checkpoint_every";
const char kSizeSyntax[] =
    " (an integer, or an integer and a unit: B, KB, MB, GB, TB, PB, KiB, MiB, "
    "GiB, TiB, PiB)";

INSTANTIATE_TEST_SUITE_P(
    Table, ErrorConfigTest,
    ::testing::Values(
        ErrorCase{"UnknownKeyWithSuggestion", "daemon:\n  data_dir: d\n  wrokers: 2\n",
                  std::string("t.yaml:3:3: daemon.wrokers: unknown key; expected "
                              "one of ") +
                      kDaemonKeys + " (did you mean 'workers'?)"},
        ErrorCase{"UnknownKeyWithoutSuggestion", "daemon:\n  data_dir: d\n  threads: 2\n",
                  std::string("t.yaml:3:3: daemon.threads: unknown key; expected "
                              "one of ") +
                      kDaemonKeys},
        ErrorCase{"UnknownTopLevelKey", "daemon: {data_dir: d}\nsourcs: []\n",
                  "t.yaml:2:1: sourcs: unknown key; expected one of daemon, "
                  "limits, sources, lists, matcher, notices, cases, orders, legal_profiles, authority, "
                  "providers, rdap (did you mean 'sources'?)"},
        ErrorCase{"UnknownListKind",
                  "daemon: {data_dir: d}\nlists:\n  - {name: a, path: p, kind: denylist}\n",
                  "t.yaml:3:30: lists[0].kind: expected one of blocklist, allowlist, got 'denylist'"},
        ErrorCase{"PdqThresholdOutOfRange",
                  "daemon: {data_dir: d}\nlists:\n  - {name: a, path: p, pdq_threshold: 300}\n",
                  "t.yaml:3:39: lists[0].pdq_threshold: expected an integer 0..256, got '300'"},
        ErrorCase{"UnknownPdqMode", "daemon: {data_dir: d}\nmatcher: {pdq: slow}\n",
                  "t.yaml:2:16: matcher.pdq: expected one of off, exact, fast, got 'slow'"},
        ErrorCase{"UnknownKeyWithStrangeCharacters", "daemon: {data_dir: d}\n\"a b\\x01\": 1\n",
                  "t.yaml:2:1: 'a b\\x01': unknown key; expected one of daemon, "
                  "limits, sources, lists, matcher, notices, cases, orders, legal_profiles, authority, "
                  "providers, rdap"},
        ErrorCase{"IntegerNotANumber", "daemon:\n  data_dir: d\n  workers: many\n",
                  "t.yaml:3:12: daemon.workers: expected an integer 0..256, got "
                  "'many'"},
        ErrorCase{"IntegerAboveRange", "daemon: {data_dir: d, workers: 257}",
                  "t.yaml:1:32: daemon.workers: expected an integer 0..256, got "
                  "'257'"},
        ErrorCase{"IntegerBelowRange", "daemon:\n  data_dir: d\n  queue_capacity: 0\n",
                  "t.yaml:3:19: daemon.queue_capacity: expected an integer "
                  "1..1000000, got '0'"},
        ErrorCase{"IntegerFraction", "daemon:\n  data_dir: d\n  checkpoint_every: 1.5\n",
                  "t.yaml:3:21: daemon.checkpoint_every: expected an integer "
                  "1..1000000, got '1.5'"},
        ErrorCase{"IntegerNullPointsAtKey", "daemon:\n  data_dir: d\n  workers:\n  role: authority\n",
                  "t.yaml:3:3: daemon.workers: expected an integer 0..256, got "
                  "null"},
        ErrorCase{"IntegerGivenSequence", "daemon:\n  data_dir: d\n  workers: [1]\n",
                  "t.yaml:3:12: daemon.workers: expected an integer 0..256, got "
                  "a sequence"},
        ErrorCase{"StringGivenMapping", "daemon:\n  data_dir: {a: 1}\n",
                  "t.yaml:2:13: daemon.data_dir: expected a string, got a "
                  "mapping"},
        ErrorCase{"EmptyString", "daemon:\n  data_dir: ''\n",
                  "t.yaml:2:13: daemon.data_dir: expected a non-empty string, "
                  "got ''"},
        ErrorCase{"NulInString", "daemon:\n  data_dir: \"a\\0b\"\n",
                  "t.yaml:2:13: daemon.data_dir: expected a string without NUL "
                  "bytes, got 'a\\x00b'"},
        ErrorCase{"StringTooLong", "daemon:\n  data_dir: " + std::string(5000, 'x') + "\n",
                  "t.yaml:2:13: daemon.data_dir: expected a string of at most "
                  "4096 bytes, got 5000 bytes"},
        ErrorCase{"RoleWithSuggestion", "daemon:\n  role: authorty\n  data_dir: d\n",
                  "t.yaml:2:9: daemon.role: expected one of hosting-provider, "
                  "authority, got 'authorty' (did you mean 'authority'?)"},
        ErrorCase{"LogLevel", "daemon:\n  data_dir: d\n  log_level: verbose\n",
                  "t.yaml:3:14: daemon.log_level: expected one of trace, debug, "
                  "info, warn, error, critical, off, got 'verbose'"},
        ErrorCase{"ListenWithoutPort", "daemon:\n  data_dir: d\n  http_listen: 127.0.0.1\n",
                  "t.yaml:3:16: daemon.http_listen: expected host:port with a "
                  "port 0..65535 (e.g. 127.0.0.1:9464 or [::1]:9464), got "
                  "'127.0.0.1'"},
        ErrorCase{"ListenPortTooLarge", "daemon:\n  data_dir: d\n  grpc_listen: host:70000\n",
                  "t.yaml:3:16: daemon.grpc_listen: expected host:port with a "
                  "port 0..65535 (e.g. 127.0.0.1:9464 or [::1]:9464), got "
                  "'host:70000'"},
        ErrorCase{
            "DurationSyntax",
            "daemon: {data_dir: d}\nsources: [{id: a, type: filesystem, root: r, rescan_interval: 1w}]\n",
            "t.yaml:2:63: sources[0].rescan_interval: expected a duration such as 0, 90s, 15m, 24h or "
            "7d, got '1w'"},
        ErrorCase{
            "WatchIsFilesystemOnly",
            "daemon: {data_dir: d}\nsources: [{id: a, type: url_list, file: f, watch: true}]\n",
            "t.yaml:2:44: sources[0].watch: unknown key; expected one of id, type, rescan_interval, file, "
            "allow_private_addresses, max_body_bytes, max_redirects, max_concurrent_per_host, "
            "max_requests_per_second_per_host, verify_tls, ca_file"},
        ErrorCase{"ArchiveDepthAboveRange", "daemon: {data_dir: d}\nlimits: {archive_max_depth: 33}\n",
                  "t.yaml:2:29: limits.archive_max_depth: expected an integer 0..32, got '33'"},
        ErrorCase{"ByteSizeSyntax", "daemon: {data_dir: d}\nlimits:\n  max_object_bytes: lots\n",
                  std::string("t.yaml:3:21: limits.max_object_bytes: expected a "
                              "byte size 1..1PiB") +
                      kSizeSyntax + ", got 'lots'"},
        ErrorCase{"ByteSizeAboveRange", "daemon: {data_dir: d}\nlimits:\n  read_buffer_bytes: 1GiB\n",
                  "t.yaml:3:22: limits.read_buffer_bytes: expected a byte size "
                  "4KiB..64MiB, got '1GiB'"},
        ErrorCase{"ByteSizeBelowRange", "daemon: {data_dir: d}\nlimits:\n  read_buffer_bytes: 4095\n",
                  "t.yaml:3:22: limits.read_buffer_bytes: expected a byte size "
                  "4KiB..64MiB, got '4095'"},
        ErrorCase{"EntriesCountIsNotAByteSize",
                  "daemon: {data_dir: d}\nlimits:\n  hash_list_max_entries: 1MiB\n",
                  "t.yaml:3:26: limits.hash_list_max_entries: expected an "
                  "integer 1..10000000000, got '1MiB'"},
        ErrorCase{"MissingDaemon", "limits: {}\n", "t.yaml:1:1: top level: missing required key 'daemon'"},
        ErrorCase{"EmptyDocument", "", "t.yaml:1:1: top level: missing required key 'daemon'"},
        ErrorCase{"CommentOnlyDocument", "# nothing\n",
                  "t.yaml:1:1: top level: missing required key 'daemon'"},
        ErrorCase{"MissingDataDir", "daemon:\n  workers: 2\n",
                  "t.yaml:2:3: daemon: missing required key 'data_dir'"},
        ErrorCase{"NullDaemonPointsAtKey", "daemon:\n",
                  "t.yaml:1:1: daemon: missing required key 'data_dir'"},
        ErrorCase{"DaemonNotAMapping", "daemon: [1]\n",
                  "t.yaml:1:9: daemon: expected a mapping, got a sequence"},
        ErrorCase{"TopLevelNotAMapping", "- a\n",
                  "t.yaml:1:1: top level: expected a mapping, got a sequence"},
        ErrorCase{"TopLevelScalar", "hello\n", "t.yaml:1:1: top level: expected a mapping, got 'hello'"},
        ErrorCase{"DuplicateKey", "daemon:\n  data_dir: a\n  data_dir: b\n",
                  "t.yaml:3:3: daemon.data_dir: duplicate key 'data_dir' (first "
                  "at line 2)"},
        ErrorCase{"NonStringKey", "daemon: {data_dir: a, [x]: 1}",
                  "t.yaml:1:23: daemon: expected a string key, got a sequence"},
        ErrorCase{"TwoDocuments", "daemon: {data_dir: a}\n---\nb: 1\n",
                  "t.yaml:2:1: top level: expected a single YAML document, "
                  "found another one here"},
        // yaml-cpp 0.7's LoadAll loops forever on these.
        ErrorCase{"StrayCommaAfterDocument", "{daemon: {data_dir: d}},",
                  "t.yaml:1:24: top level: expected a single YAML document, "
                  "found another one here"},
        ErrorCase{"StrayCommaAlone", ",",
                  "t.yaml:1:1: top level: expected a single YAML document, "
                  "found another one here\n"
                  "t.yaml:1:1: top level: missing required key 'daemon'"},
        ErrorCase{"SyntaxError", "daemon: [a\n",
                  "t.yaml:2:1: YAML syntax error: end of sequence flow not found"},
        ErrorCase{"SyntaxErrorUnknownAlias", "daemon: *nothing\n",
                  "t.yaml:1:9: YAML syntax error: the referenced anchor is not "
                  "defined"},
        // yaml-cpp's mark is just past the bad escape.
        ErrorCase{"SyntaxErrorMessageIsEscaped", std::string("daemon: \"\\\x01\"\n"),
                  "t.yaml:1:12: YAML syntax error: unknown escape character: "
                  "\\x01"},
        ErrorCase{"SourcesNotASequence", "daemon: {data_dir: d}\nsources: {id: a}\n",
                  "t.yaml:2:10: sources: expected a sequence, got a mapping"},
        ErrorCase{"SourceMissingRoot",
                  "daemon: {data_dir: d}\n"
                  "sources:\n"
                  "  - id: a\n"
                  "    type: filesystem\n",
                  "t.yaml:3:5: sources[0]: missing required key 'root' for type "
                  "filesystem"},
        ErrorCase{"SourceMissingIdAndType", "daemon: {data_dir: d}\nsources:\n  - root: r\n",
                  "t.yaml:3:5: sources[0]: missing required key 'id'\n"
                  "t.yaml:3:5: sources[0]: missing required key 'type'"},
        ErrorCase{"SourceItemNull", "daemon: {data_dir: d}\nsources:\n  -\n",
                  "t.yaml:3:3: sources[0]: missing required key 'id'\n"
                  "t.yaml:3:3: sources[0]: missing required key 'type'"},
        ErrorCase{"SourceUnknownTypeHidesTypeSpecificKeys",
                  "daemon: {data_dir: d}\n"
                  "sources:\n"
                  "  - id: a\n"
                  "    type: gcs\n"
                  "    bucket: b\n",
                  "t.yaml:4:11: sources[0].type: unknown source type 'gcs'; "
                  "expected one of filesystem, s3, url_list"},
        ErrorCase{"S3SourceNeedsEndpointAndBucket",
                  "daemon: {data_dir: d}\n"
                  "sources:\n"
                  "  - {id: a, type: s3, region: eu}\n",
                  "t.yaml:3:5: sources[0]: missing required key 'endpoint' for type s3\n"
                  "t.yaml:3:5: sources[0]: missing required key 'bucket' for type s3"},
        ErrorCase{"S3EndpointMustBeAUrl",
                  "daemon: {data_dir: d}\n"
                  "sources:\n"
                  "  - {id: a, type: s3, endpoint: s3.example.net, bucket: b}\n",
                  "t.yaml:3:33: sources[0].endpoint: expected http(s)://host[:port], got 's3.example.net'"},
        ErrorCase{"SourceKeyOfAnotherType",
                  "daemon: {data_dir: d}\n"
                  "sources:\n"
                  "  - id: a\n"
                  "    type: filesystem\n"
                  "    root: r\n"
                  "    bucket: b\n",
                  "t.yaml:6:5: sources[0].bucket: unknown key; expected one of "
                  "id, type, rescan_interval, root, include, exclude, watch"},
        ErrorCase{"SourceDuplicateId",
                  "daemon: {data_dir: d}\n"
                  "sources:\n"
                  "  - id: a\n"
                  "    type: filesystem\n"
                  "    root: r\n"
                  "  - type: filesystem\n"
                  "    root: s\n"
                  "    id: a\n",
                  "t.yaml:8:9: sources[1].id: duplicate source id 'a' (first at "
                  "line 3)"},
        ErrorCase{"SourceBadId",
                  "daemon: {data_dir: d}\n"
                  "sources:\n"
                  "  - {id: Demo, type: filesystem, root: r}\n",
                  "t.yaml:3:10: sources[0].id: expected a source id: 1..64 "
                  "characters of a-z, 0-9, '.', '_', '-', starting with a letter "
                  "or digit, got 'Demo'"},
        ErrorCase{"SourceIdTooLong",
                  "daemon: {data_dir: d}\n"
                  "sources:\n"
                  "  - {id: " +
                      std::string(65, 'a') + ", type: filesystem, root: r}\n",
                  "t.yaml:3:10: sources[0].id: expected a source id: 1..64 "
                  "characters of a-z, 0-9, '.', '_', '-', starting with a letter "
                  "or digit, got '" +
                      std::string(64, 'a') + "' (65 bytes)"},
        ErrorCase{"SourceIdStartsWithDot",
                  "daemon: {data_dir: d}\n"
                  "sources:\n"
                  "  - {id: .a, type: filesystem, root: r}\n",
                  "t.yaml:3:10: sources[0].id: expected a source id: 1..64 "
                  "characters of a-z, 0-9, '.', '_', '-', starting with a letter "
                  "or digit, got '.a'"},
        ErrorCase{"SourceEmptyInclude",
                  "daemon: {data_dir: d}\n"
                  "sources:\n"
                  "  - id: a\n"
                  "    type: filesystem\n"
                  "    root: r\n"
                  "    include: []\n",
                  "t.yaml:6:14: sources[0].include: expected at least one pattern "
                  "(\"**\" matches everything), got an empty sequence"},
        ErrorCase{"SourceIncludeNotASequence",
                  "daemon: {data_dir: d}\n"
                  "sources:\n"
                  "  - id: a\n"
                  "    type: filesystem\n"
                  "    root: r\n"
                  "    include: '**'\n",
                  "t.yaml:6:14: sources[0].include: expected a sequence, got "
                  "'**'"},
        ErrorCase{"SourceExcludeItemNotAString",
                  "daemon: {data_dir: d}\n"
                  "sources:\n"
                  "  - id: a\n"
                  "    type: filesystem\n"
                  "    root: r\n"
                  "    exclude: ['a', [b]]\n",
                  "t.yaml:6:20: sources[0].exclude[1]: expected a string, got a "
                  "sequence"},
        ErrorCase{"ListMissingPath", "daemon: {data_dir: d}\nlists:\n  - name: x\n",
                  "t.yaml:3:5: lists[0]: missing required key 'path'"},
        ErrorCase{"ListDuplicateName",
                  "daemon: {data_dir: d}\n"
                  "lists:\n"
                  "  - {name: x, path: a}\n"
                  "  - {name: x, path: b}\n",
                  "t.yaml:4:12: lists[1].name: duplicate list name 'x' (first "
                  "at line 3)"},
        ErrorCase{"FileDropMissingDirectory", "daemon: {data_dir: d}\nnotices:\n  file_drop:\n",
                  "t.yaml:3:3: notices.file_drop: missing required key "
                  "'directory'"},
        ErrorCase{"FileDropUnknownKey",
                  "daemon: {data_dir: d}\n"
                  "notices:\n"
                  "  file_drop:\n"
                  "    directory: n\n"
                  "    directry: m\n",
                  "t.yaml:5:5: notices.file_drop.directry: unknown key; expected "
                  "one of directory (did you mean 'directory'?)"},
        ErrorCase{"NoticesUnknownChannel", "daemon: {data_dir: d}\nnotices:\n  fax: {}\n",
                  "t.yaml:3:3: notices.fax: unknown key; expected one of "
                  "file_drop, webhooks, smtp"},
        ErrorCase{
            "ChannelNamesAreUnique",
            "daemon: {data_dir: d}\nnotices:\n  file_drop: {directory: n}\n"
            "  webhooks:\n  - {name: file_drop, url: 'https://h/x', secret_file: s}\n",
            "t.yaml:5:12: notices.webhooks[0].name: duplicate channel name 'file_drop' (first at line 3)"},
        ErrorCase{"SmtpNeedsRecipientsAndKnownLanguages",
                  "daemon: {data_dir: d}\nnotices:\n  smtp:\n"
                  "  - {name: m, url: 'smtp://h', from: a@b.nl, to: [], languages: [de]}\n",
                  "t.yaml:4:50: notices.smtp[0].to: expected at least one address\n"
                  "t.yaml:4:65: notices.smtp[0].languages: expected one or two of nl, en"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) { return info.param.name; });

// --- Several errors at once ---------------------------------------------------

TEST(ConfigErrors, ReportsEveryErrorInDocumentOrder) {
  const std::string yaml =
      "daemon:\n"                    // 1
      "  workers: many\n"            // 2
      "  wrokers: 2\n"               // 3
      "limits:\n"                    // 4
      "  read_buffer_bytes: 1GiB\n"  // 5
      "sources:\n"                   // 6
      "  - id: a\n"                  // 7
      "    type: filesystem\n"       // 8
      "  - id: a\n"                  // 9
      "    type: filesystem\n"       // 10
      "    root: r\n"                // 11
      "lists:\n"                     // 12
      "  - name: x\n";               // 13
  EXPECT_EQ(ErrorOf(yaml), std::string("t.yaml:2:3: daemon: missing required key 'data_dir'\n"
                                       "t.yaml:2:12: daemon.workers: expected an integer 0..256, "
                                       "got 'many'\n"
                                       "t.yaml:3:3: daemon.wrokers: unknown key; expected one of ") +
                               kDaemonKeys +
                               " (did you mean 'workers'?)\n"
                               "t.yaml:5:22: limits.read_buffer_bytes: expected a byte size "
                               "4KiB..64MiB, got '1GiB'\n"
                               "t.yaml:7:5: sources[0]: missing required key 'root' for type "
                               "filesystem\n"
                               "t.yaml:9:9: sources[1].id: duplicate source id 'a' (first at line "
                               "7)\n"
                               "t.yaml:13:5: lists[0]: missing required key 'path'");
}

TEST(ConfigErrors, ReportsAtMostTwentyAndCountsTheRest) {
  std::string yaml = "daemon:\n  data_dir: d\n";
  for (int i = 0; i < 25; ++i) yaml += "  unknown" + std::to_string(i) + ": 1\n";
  const std::string message = ErrorOf(yaml);
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t end; (end = message.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(message.substr(start, end - start));
  }
  lines.push_back(message.substr(start));
  ASSERT_EQ(lines.size(), 21u);
  EXPECT_THAT(lines[0], ::testing::StartsWith("t.yaml:3:3: daemon.unknown0: unknown key"));
  EXPECT_THAT(lines[19], ::testing::StartsWith("t.yaml:22:3: daemon.unknown19: unknown key"));
  EXPECT_EQ(lines[20], "t.yaml: 5 more errors not shown");
}

TEST(ConfigErrors, AliasExpansionIsBoundedAndReported) {
  // 1000 sources share one 1000-pattern list of 100-byte strings: 100 MB of
  // text from a ~130 KB file.
  std::string yaml = "daemon: {data_dir: d}\npatterns: &p [";
  for (int i = 0; i < 1000; ++i) {
    yaml += (i > 0 ? ", " : "") + std::string(100, 'a');
  }
  yaml += "]\nsources:\n";
  for (int i = 0; i < 1000; ++i) {
    yaml += "  - {id: s" + std::to_string(i) + ", type: filesystem, root: r, include: *p}\n";
  }
  ASSERT_LT(yaml.size(), kMaxConfigFileBytes);
  // The aliased list is positioned at its anchor (line 2); reading stops in
  // one of the sources that repeat it, without judging the rest.
  const std::string message = ErrorOf(yaml);
  EXPECT_THAT(message, ::testing::MatchesRegex("t\\.yaml:2:[0-9]+: sources\\[[0-9]+\\]\\.include"
                                               "\\[[0-9]+\\]: the document expands to more than "
                                               "1000000 nodes or 16MiB of text .*"));
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

TEST(ConfigErrors, RejectsOversizedInputBeforeParsing) {
  const std::string yaml(kMaxConfigFileBytes + 1, '#');
  EXPECT_EQ(ErrorOf(yaml), "t.yaml: config is 1048577 bytes; the limit is 1MiB");
}

TEST(ConfigErrors, DeepNestingIsASyntaxErrorNotACrash) {
  const std::string yaml = "daemon: " + std::string(100'000, '[');
  EXPECT_THAT(ErrorOf(yaml), ::testing::StartsWith("t.yaml:1:"));
  EXPECT_THAT(ErrorOf(yaml), HasSubstr("YAML syntax error"));
}

// --- Path resolution ------------------------------------------------------------

TEST(PathResolution, RelativePathsFollowTheConfigFileDirectory) {
  TempDir dir;
  const fs::path file = dir.Write("etc/takedownd/td.yaml",
                                  "daemon:\n"
                                  "  data_dir: ../../var/data/\n"
                                  "sources:\n"
                                  "  - {id: s, type: filesystem, root: ./storage/./a/../b}\n"
                                  "  - {id: t, type: filesystem, root: /abs//root/}\n"
                                  "lists:\n"
                                  "  - {name: l, path: lists/l.csv}\n"
                                  "notices:\n"
                                  "  file_drop: {directory: ..}\n");
  absl::StatusOr<TakedownConfig> config = LoadConfigFile(file.string());
  ASSERT_TRUE(config.ok()) << config.status();
  const fs::path etc = dir.path() / "etc" / "takedownd";
  EXPECT_EQ(config->source_path, file.string());
  EXPECT_EQ(config->daemon.data_dir, (dir.path() / "var" / "data").string());
  ASSERT_EQ(config->sources.size(), 2u);
  EXPECT_EQ(config->sources[0].filesystem.root, (etc / "storage" / "b").string());
  EXPECT_EQ(config->sources[1].filesystem.root, "/abs/root");
  ASSERT_EQ(config->lists.size(), 1u);
  EXPECT_EQ(config->lists[0].path, (etc / "lists" / "l.csv").string());
  ASSERT_TRUE(config->notices.file_drop.has_value());
  EXPECT_EQ(config->notices.file_drop->directory, (dir.path() / "etc").string());
}

TEST(PathResolution, NonNormalisedFilePathGivesNormalisedResults) {
  TempDir dir;
  dir.Write("a/td.yaml", "daemon: {data_dir: data}\n");
  const std::string path = (dir.path() / "a" / "." / ".." / "a" / "td.yaml").string();
  absl::StatusOr<TakedownConfig> config = LoadConfigFile(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->source_path, (dir.path() / "a" / "td.yaml").string());
  EXPECT_EQ(config->daemon.data_dir, (dir.path() / "a" / "data").string());
}

TEST(PathResolution, RelativeBaseDirIsMadeAbsolute) {
  absl::StatusOr<TakedownConfig> config = ParseConfig("daemon: {data_dir: d}", "x.yaml", "rel/dir");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->daemon.data_dir, (fs::current_path() / "rel" / "dir" / "d").string());

  config = ParseConfig("daemon: {data_dir: d}", "x.yaml", "");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->daemon.data_dir, (fs::current_path() / "d").string());
}

// --- Files ---------------------------------------------------------------------

TEST(LoadConfigFile, MissingFileIsNotFound) {
  TempDir dir;
  const std::string path = (dir.path() / "missing.yaml").string();
  absl::StatusOr<TakedownConfig> config = LoadConfigFile(path);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(config.status().message()), "config file '" + path + "' does not exist");
}

TEST(LoadConfigFile, DirectoryIsRejected) {
  TempDir dir;
  absl::StatusOr<TakedownConfig> config = LoadConfigFile(dir.path().string());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("is a directory"));
}

TEST(LoadConfigFile, OversizedFileIsRejected) {
  TempDir dir;
  const fs::path file =
      dir.Write("big.yaml", "daemon: {data_dir: d}\n" + std::string(kMaxConfigFileBytes, '#'));
  absl::StatusOr<TakedownConfig> config = LoadConfigFile(file.string());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(config.status().message()),
            file.string() + ": config file is larger than the limit of 1MiB");
}

TEST(LoadConfigFile, ErrorsNameTheFileAsGiven) {
  TempDir dir;
  const fs::path file = dir.Write("bad.yaml", "daemon:\n  data_dir: d\n  workers: -1\n");
  absl::StatusOr<TakedownConfig> config = LoadConfigFile(file.string());
  EXPECT_EQ(std::string(config.status().message()),
            file.string() + ":3:12: daemon.workers: expected an integer 0..256, got '-1'");
}

// --- The examples ----------------------------------------------------------------

const fs::path kExamples = fs::path(TAKEDOWN_SOURCE_DIR) / "config" / "examples";

TEST(Examples, DemoLoads) {
  absl::StatusOr<TakedownConfig> config = LoadConfigFile((kExamples / "demo.yaml").string());
  ASSERT_TRUE(config.ok()) << config.status();
  const fs::path out = (fs::path(TAKEDOWN_SOURCE_DIR) / "demo-out").lexically_normal();
  TakedownConfig expected;
  expected.source_path = (kExamples / "demo.yaml").lexically_normal().string();
  expected.daemon.data_dir = (out / "data").string();
  expected.daemon.grpc_listen = "127.0.0.1:50051";
  expected.daemon.http_listen = "127.0.0.1:9464";
  expected.daemon.workers = 2;
  SourceConfig source;
  source.id = "demo-disk";
  source.type = "filesystem";
  source.filesystem.root = (out / "storage").string();
  source.filesystem.include = {"**"};
  source.filesystem.exclude = {"**/.snapshot/**"};
  expected.sources = {source};
  expected.lists = {{"demo", (out / "lists" / "demo.csv").string()}};
  expected.notices.file_drop = FileDropConfig{(out / "notices").string()};
  EXPECT_EQ(*config, expected);
}

// full.yaml documents the defaults: apart from the REQUIRED values (which
// have no default and are copied over), it must equal a default config.
TEST(Examples, FullEqualsDefaults) {
  absl::StatusOr<TakedownConfig> config = LoadConfigFile((kExamples / "full.yaml").string());
  ASSERT_TRUE(config.ok()) << config.status();
  TakedownConfig expected;
  expected.source_path = config->source_path;
  expected.daemon.data_dir = config->daemon.data_dir;
  ASSERT_EQ(config->sources.size(), 3u);
  SourceConfig source;
  source.id = config->sources[0].id;
  source.type = config->sources[0].type;
  source.filesystem.root = config->sources[0].filesystem.root;
  SourceConfig bucket;
  bucket.id = config->sources[1].id;
  bucket.type = config->sources[1].type;
  bucket.s3.endpoint = config->sources[1].s3.endpoint;
  bucket.s3.bucket = config->sources[1].s3.bucket;
  bucket.s3.credentials_file = config->sources[1].s3.credentials_file;  // one way is required
  SourceConfig urls;
  urls.id = config->sources[2].id;
  urls.type = config->sources[2].type;
  urls.url_list.file = config->sources[2].url_list.file;
  expected.sources = {source, bucket, urls};
  EXPECT_EQ(bucket.type, "s3");
  EXPECT_EQ(urls.type, "url_list");
  ASSERT_EQ(config->lists.size(), 1u);
  expected.lists = {{config->lists[0].name, config->lists[0].path}};
  ASSERT_TRUE(config->notices.file_drop.has_value());
  expected.notices.file_drop = FileDropConfig{config->notices.file_drop->directory};
  ASSERT_EQ(config->notices.webhooks.size(), 1u);
  WebhookConfig hook;
  hook.name = config->notices.webhooks[0].name;
  hook.url = config->notices.webhooks[0].url;
  hook.secret_file = config->notices.webhooks[0].secret_file;
  hook.ca_file = config->notices.webhooks[0].ca_file;  // an example; no default
  expected.notices.webhooks = {hook};
  ASSERT_EQ(config->notices.smtp.size(), 1u);
  SmtpConfig smtp;
  const SmtpConfig& got = config->notices.smtp[0];
  smtp.name = got.name;
  smtp.url = got.url;
  smtp.from = got.from;
  smtp.to = got.to;
  // Examples of optional values without a default.
  smtp.username = got.username;
  smtp.password_file = got.password_file;
  smtp.from_name = got.from_name;
  smtp.ca_file = got.ca_file;
  expected.notices.smtp = {smtp};
  ASSERT_EQ(config->orders.locations.size(), 1u);
  expected.orders.locations = {{config->orders.locations[0].url_prefix, config->orders.locations[0].source,
                                config->orders.locations[0].key_prefix}};
  EXPECT_EQ(expected.orders.locations[0].source, "storage");
  EXPECT_EQ(*config, expected);
}

// Returns the keys the schema declares for the mapping holding the unknown
// key "zzzzzz", as listed by the unknown-key error.
std::set<std::string> SchemaKeys(const std::string& yaml_with_bad_key) {
  const std::string message = ErrorOf(yaml_with_bad_key);
  const std::string marker = "expected one of ";
  const size_t begin = message.find(marker);
  if (begin == std::string::npos) return {{"(no unknown-key error: " + message + ")"}};
  std::string list = message.substr(begin + marker.size());
  list = list.substr(0, list.find('\n'));
  std::set<std::string> keys;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(", ", start);
    if (end == std::string::npos) end = list.size();
    keys.insert(list.substr(start, end - start));
    start = end + 2;
  }
  return keys;
}

std::string ReadFileForTest(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::set<std::string> KeysOf(const YAML::Node& map) {
  std::set<std::string> keys;
  for (const auto& pair : map) keys.insert(pair.first.Scalar());
  return keys;
}

// Guards against a new schema key that full.yaml forgets to document.
TEST(Examples, FullListsEverySchemaKey) {
  const YAML::Node full = YAML::LoadFile((kExamples / "full.yaml").string());
  const std::string daemon = "daemon: {data_dir: d}\n";
  EXPECT_EQ(KeysOf(full["daemon"]), SchemaKeys("daemon: {data_dir: d, zzzzzz: 1}\n"));
  EXPECT_EQ(KeysOf(full["limits"]), SchemaKeys(daemon + "limits: {zzzzzz: 1}\n"));
  EXPECT_EQ(KeysOf(full["sources"][0]), SchemaKeys(daemon + "sources: [{id: a, type: filesystem, root: r, "
                                                            "zzzzzz: 1}]\n"));
  // Optional keys without a default appear commented out, with an example.
  const std::string text = ReadFileForTest((kExamples / "full.yaml").string());
  auto without = [](std::set<std::string> keys, const std::set<std::string>& commented) {
    for (const std::string& k : commented) keys.erase(k);
    return keys;
  };
  EXPECT_EQ(KeysOf(full), without(SchemaKeys(daemon + "zzzzzz: 1\n"), {"rdap"}));  // commented out
  const std::set<std::string> s3_commented = {"prefix", "access_key_env", "secret_key_env",
                                              "session_token_env", "ca_file", "quarantine_bucket"};
  for (const std::string& k : s3_commented) EXPECT_NE(text.find("# " + k + ": "), std::string::npos) << k;
  // Keys common to every type are documented on the first source only.
  std::set<std::string> s3_and_common = s3_commented;
  s3_and_common.insert("rescan_interval");
  EXPECT_EQ(KeysOf(full["sources"][1]),
            without(SchemaKeys(daemon + "sources: [{id: a, type: s3, endpoint: 'http://h', bucket: b, zzzzzz: 1}]\n"),
                    s3_and_common));
  EXPECT_EQ(KeysOf(full["sources"][2]),
            without(SchemaKeys(daemon + "sources: [{id: a, type: url_list, file: f, zzzzzz: 1}]\n"),
                    {"ca_file", "rescan_interval"}));
  EXPECT_EQ(KeysOf(full["lists"][0]), SchemaKeys(daemon + "lists: [{name: a, path: p, zzzzzz: 1}]\n"));
  EXPECT_EQ(KeysOf(full["matcher"]), SchemaKeys(daemon + "matcher: {zzzzzz: 1}\n"));
  EXPECT_EQ(KeysOf(full["notices"]), SchemaKeys(daemon + "notices: {zzzzzz: 1}\n"));
  EXPECT_EQ(KeysOf(full["notices"]["webhooks"][0]),
            SchemaKeys(daemon + "notices: {webhooks: [{name: w, url: u, secret_file: s, zzzzzz: 1}]}\n"));
  EXPECT_EQ(KeysOf(full["notices"]["smtp"][0]),
            SchemaKeys(daemon + "notices: {smtp: [{name: m, url: u, from: f, to: [t], zzzzzz: 1}]}\n"));
  EXPECT_EQ(KeysOf(full["notices"]["file_drop"]),
            SchemaKeys(daemon + "notices: {file_drop: {directory: d, zzzzzz: "
                                "1}}\n"));
  for (const std::string k : {"review_allowlist", "feedback_channel", "inbox"}) {
    EXPECT_NE(text.find("# " + k + ": "), std::string::npos) << k;
  }
  EXPECT_EQ(KeysOf(full["cases"]), without(SchemaKeys(daemon + "cases: {zzzzzz: 1}\n"),
                                           {"review_allowlist", "feedback_channel", "content_provider"}));
  EXPECT_EQ(KeysOf(full["orders"]),
            without(SchemaKeys(daemon + "orders: {zzzzzz: 1}\n"),
                    {"inbox", "quarantine_dir", "preserve_dir", "preserve_key_file"}));
  for (const std::string k : {"quarantine_dir", "preserve_dir", "preserve_key_file"}) {
    EXPECT_NE(text.find("  # " + k + ": "), std::string::npos) << k;
  }
  // Sections documented by commented examples: every key appears as "#... key:".
  // (No std::regex: GCC 12 warns inside <regex> at -O1 with sanitizers.)
  auto commented_keys = [&](const std::set<std::string>& keys) {
    for (const std::string& k : keys) {
      bool found = false;
      std::istringstream lines(text);
      for (std::string line; !found && std::getline(lines, line);) {
        const size_t hash = line.find('#');
        if (hash == std::string::npos) continue;
        const size_t start = line.find_first_not_of(" -", hash + 1);
        found = start != std::string::npos && line.compare(start, k.size() + 1, k + ":") == 0 &&
                (start + k.size() + 1 == line.size() || line[start + k.size() + 1] == ' ');
      }
      EXPECT_TRUE(found) << k;
    }
  };
  commented_keys(SchemaKeys(daemon + "legal_profiles: [{name: a, zzzzzz: 1}]\n"));
  commented_keys(
      SchemaKeys(daemon + "legal_profiles: [{name: a, escalation: [{kind: reminder, zzzzzz: 1}]}]\n"));
  commented_keys(SchemaKeys(daemon + "providers: [{name: a, zzzzzz: 1}]\n"));
  commented_keys(SchemaKeys(daemon + "cases: {content_provider: {zzzzzz: 1}}\n"));
  commented_keys(SchemaKeys(daemon + "rdap: {zzzzzz: 1}\n"));
  EXPECT_NE(text.find("# rdap:"), std::string::npos);
  EXPECT_EQ(KeysOf(full["authority"]),
            without(SchemaKeys(daemon + "authority: {zzzzzz: 1}\n"), {"name", "contact", "redress"}));
  commented_keys({"name", "contact", "redress"});
  EXPECT_EQ(KeysOf(full["orders"]["locations"][0]),
            SchemaKeys("daemon: {data_dir: d}\nsources: [{id: s, type: filesystem, root: r}]\n"
                       "orders: {locations: [{url_prefix: 'http://h/', source: s, zzzzzz: 1}]}\n"));
}

TEST(CasesConfig, ReadsReviewAllowlistAndFeedbackChannel) {
  absl::StatusOr<TakedownConfig> config = ParseConfig(
      "daemon: {data_dir: /d}\n"
      "lists: [{name: fp, path: /l/fp.csv, kind: allowlist}, {name: hot, path: /l/h.csv, auto_action: true}]\n"
      "notices: {file_drop: {directory: /n}}\n"
      "cases: {review_allowlist: fp, auto_fine_on_proposal: true, feedback_channel: file_drop}\n",
      "t.yaml", "/");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->cases.review_allowlist, "fp");
  EXPECT_TRUE(config->cases.auto_fine_on_proposal);
  EXPECT_EQ(config->cases.feedback_channel, "file_drop");
  EXPECT_FALSE(config->lists[0].auto_action);
  EXPECT_TRUE(config->lists[1].auto_action);
}

TEST(CasesConfig, ReadsTheContentProviderDocumentSettings) {
  absl::StatusOr<TakedownConfig> config = ParseConfig(
      "daemon: {data_dir: /d}\n"
      "notices: {file_drop: {directory: /n}}\n"
      "cases: {content_provider: {channel: file_drop, provider_name: Example Hosting B.V.,\n"
      "                           complaint_contact: 'https://h.example/complaints', online_platform: "
      "true}}\n",
      "t.yaml", "/");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->cases.content_provider_channel, "file_drop");
  EXPECT_EQ(config->cases.provider_name, "Example Hosting B.V.");
  EXPECT_EQ(config->cases.complaint_contact, "https://h.example/complaints");
  EXPECT_TRUE(config->cases.online_platform);
  const std::string head = "daemon: {data_dir: /d}\nnotices: {file_drop: {directory: /n}}\n";
  EXPECT_THAT(
      ErrorOf(head + "cases: {content_provider: {channel: nope, provider_name: p, complaint_contact: c}}\n"),
      HasSubstr("no notice channel named 'nope'"));
  EXPECT_THAT(ErrorOf(head + "cases: {content_provider: {channel: file_drop, complaint_contact: c}}\n"),
              HasSubstr("provider_name"));
}

TEST(CasesConfig, RefusesReviewAllowlistThatIsNotAnAllowlist) {
  const std::string lists = "daemon: {data_dir: /d}\nlists: [{name: hot, path: /l/h.csv}]\n";
  EXPECT_THAT(ErrorOf(lists + "cases: {review_allowlist: hot}\n"),
              HasSubstr("list 'hot' is a blocklist; review_allowlist must name a list of kind allowlist"));
  EXPECT_THAT(ErrorOf(lists + "cases: {review_allowlist: nope}\n"), HasSubstr("no list named 'nope' in lists"));
  EXPECT_THAT(ErrorOf(lists + "cases: {feedback_channel: nope}\n"), HasSubstr("no notice channel named"));
}

TEST(OrdersConfig, ReadsInboxActionAndLocations) {
  absl::StatusOr<TakedownConfig> config = ParseConfig(
      "daemon: {data_dir: /d}\n"
      "sources: [{id: up, type: filesystem, root: /srv}]\n"
      "orders: {inbox: orders-in, poll_interval: 5s, action: quarantine, quarantine_dir: /var/q, execute: "
      "false,\n"
      "         locations: [{url_prefix: 'https://f.example/u/', source: up, key_prefix: 'u/'}]}\n",
      "t.yaml", "/etc/td");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->orders.inbox, "/etc/td/orders-in");
  EXPECT_EQ(config->orders.quarantine_dir, "/var/q");
  EXPECT_FALSE(config->orders.execute);
  EXPECT_EQ(config->orders.poll_interval_seconds, 5);
  EXPECT_EQ(config->orders.action, "quarantine");
  ASSERT_EQ(config->orders.locations.size(), 1u);
  EXPECT_EQ(config->orders.locations[0], (OrderLocationConfig{"https://f.example/u/", "up", "u/"}));
}

TEST(OrdersConfig, QuarantineOnAFilesystemSourceNeedsADirectoryOutsideItsRoot) {
  const std::string head = "daemon: {data_dir: /d}\nsources: [{id: up, type: filesystem, root: /srv}]\n";
  const std::string location = "locations: [{url_prefix: 'https://f/u/', source: up}]";
  EXPECT_THAT(ErrorOf(head + "orders: {action: quarantine, " + location + "}\n"),
              HasSubstr("action quarantine on filesystem source 'up' needs quarantine_dir"));
  EXPECT_THAT(ErrorOf(head + "orders: {action: quarantine, quarantine_dir: /srv/q, " + location + "}\n"),
              HasSubstr("quarantine_dir '/srv/q' lies inside the root of source 'up'"));
  // Without a filesystem location, or with another action, none is needed.
  EXPECT_TRUE(ParseConfig(head + "orders: {action: disable, " + location + "}\n", "t.yaml", "/").ok());
  EXPECT_TRUE(ParseConfig(head + "orders: {action: quarantine, quarantine_dir: /srvq, " + location + "}\n",
                          "t.yaml", "/")
                  .ok());
}

TEST(OrdersConfig, ThePreservationVaultNeedsItsKeyAndADirectoryOutsideTheSources) {
  const std::string head = "daemon: {data_dir: /d}\nsources: [{id: up, type: filesystem, root: /srv}]\n";
  absl::StatusOr<TakedownConfig> config = ParseConfig(
      head + "orders: {action: delete, preserve_dir: /var/lib/td/preserved, preserve_key_file: seal.key}\n",
      "t.yaml", "/etc/td");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->orders.preserve_dir, "/var/lib/td/preserved");
  EXPECT_EQ(config->orders.preserve_key_file, "/etc/td/seal.key");
  EXPECT_THAT(ErrorOf(head + "orders: {preserve_dir: /var/p}\n"),
              HasSubstr("preserve_dir and preserve_key_file go together"));
  EXPECT_THAT(ErrorOf(head + "orders: {preserve_key_file: /etc/k}\n"),
              HasSubstr("takedownctl preservation keygen"));
  EXPECT_THAT(ErrorOf(head + "orders: {preserve_dir: /srv/p, preserve_key_file: /etc/k}\n"),
              HasSubstr("preserve_dir '/srv/p' lies inside the root of source 'up'"));
  // With a vault, quarantine on a filesystem source needs no quarantine_dir.
  EXPECT_TRUE(ParseConfig(head +
                              "orders: {action: quarantine, preserve_dir: /var/p, preserve_key_file: /etc/k, "
                              "locations: [{url_prefix: 'https://f/u/', source: up}]}\n",
                          "t.yaml", "/")
                  .ok());
  EXPECT_EQ(ParseConfig(head + "legal_profiles: [{name: nl-csam-instruction, preserve_content: true}]\n",
                        "t.yaml", "/")
                ->legal_profiles[0]
                .preserve_content,
            std::optional<bool>(true));
}

TEST(LegalProfilesConfig, ReadsOverridesAndEscalationSteps) {
  absl::StatusOr<TakedownConfig> config = ParseConfig(
      "daemon: {data_dir: /d}\n"
      "legal_profiles:\n"
      "  - name: nl-csam-instruction\n"
      "    removal_deadline: 1h\n"
      "    reminders: [30m, 10m]\n"
      "    escalation:\n"
      "      - {kind: penalty_order, after_deadline: 24h, amount: '2500.50', cap: 100000, period: 24h,\n"
      "         basis: dwangsom}\n"
      "      - {kind: fine_proposal, after_deadline: 7d, cap_turnover_percent: '0.5'}\n"
      "    review: authority_decided\n"
      "    inform_content_provider: true\n"
      "    max_recheck_cycles: 3\n"
      "  - {name: nl-csam-fast, base: nl-csam-instruction, removal_deadline: 15m}\n",
      "t.yaml", "/");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->legal_profiles.size(), 2u);
  const LegalProfileConfig& p = config->legal_profiles[0];
  EXPECT_EQ(p.name, "nl-csam-instruction");
  EXPECT_EQ(p.removal_deadline_seconds, 3600);
  EXPECT_EQ(p.reminder_seconds, (std::vector<int64_t>{1800, 600}));
  ASSERT_TRUE(p.escalation.has_value());
  ASSERT_EQ(p.escalation->size(), 2u);
  EXPECT_EQ((*p.escalation)[0].amount_cents, 250050);
  EXPECT_EQ((*p.escalation)[0].cap_cents, 10000000);
  EXPECT_EQ((*p.escalation)[0].period_seconds, 86400);
  EXPECT_EQ((*p.escalation)[0].basis, "dwangsom");
  EXPECT_EQ((*p.escalation)[1].cap_turnover_basis_points, 50);
  EXPECT_EQ((*p.escalation)[1].after_deadline_seconds, 7 * 86400);
  EXPECT_EQ(p.review, "authority_decided");
  EXPECT_EQ(p.inform_content_provider, true);
  EXPECT_EQ(p.feedback_to_issuer, std::nullopt);
  EXPECT_EQ(p.max_recheck_cycles, 3);
  EXPECT_EQ(config->legal_profiles[1].base, "nl-csam-instruction");
  EXPECT_EQ(config->legal_profiles[1].removal_deadline_seconds, 900);
}

TEST(LegalProfilesConfig, RefusesMalformedEntries) {
  const std::string head = "daemon: {data_dir: /d}\n";
  EXPECT_THAT(ErrorOf(head + "legal_profiles: [{name: a}, {name: a}]\n"), HasSubstr("configured twice"));
  EXPECT_THAT(ErrorOf(head + "legal_profiles: [{name: 'Bad Name'}]\n"), HasSubstr("expected a profile name"));
  EXPECT_THAT(ErrorOf(head + "legal_profiles: [{name: a, escalation: [{kind: jail}]}]\n"),
              HasSubstr("unknown escalation step 'jail'"));
  EXPECT_THAT(
      ErrorOf(head + "legal_profiles: [{name: a, escalation: [{kind: fine_proposal, amount: '-5'}]}]\n"),
      HasSubstr("expected an amount"));
  EXPECT_THAT(
      ErrorOf(head + "legal_profiles: [{name: a, escalation: [{kind: fine_proposal, amount: '1.005'}]}]\n"),
      HasSubstr("expected an amount"));
  EXPECT_THAT(ErrorOf(head + "legal_profiles: [{name: a, removal_deadline: soon}]\n"),
              HasSubstr("expected a duration"));
  EXPECT_THAT(ErrorOf(head + "legal_profiles: [{name: a, review: maybe}]\n"), HasSubstr("review"));
}

TEST(AuthorityConfig, ReadsIdentityAndProviderTable) {
  absl::StatusOr<TakedownConfig> config = ParseConfig(
      "daemon: {data_dir: /d, role: authority}\n"
      "notices: {file_drop: {directory: /n}}\n"
      "authority: {name: ATKM, member_state: NL, contact: meld@atkm.example, redress: Bezwaar}\n"
      "providers: [{name: host-a, hosts: [Files.Example.NET, b.example], channel: file_drop,\n"
      "             profile: nl-csam-instruction, contact_point: abuse@a.example}]\n",
      "t.yaml", "/");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->authority, (AuthorityConfig{"ATKM", "NL", "meld@atkm.example", "Bezwaar"}));
  ASSERT_EQ(config->providers.size(), 1u);
  EXPECT_EQ(config->providers[0], (ProviderConfig{"host-a",
                                                  {"files.example.net", "b.example"},
                                                  "file_drop",
                                                  "nl-csam-instruction",
                                                  "abuse@a.example"}));
  const std::string head = "daemon: {data_dir: /d}\nnotices: {file_drop: {directory: /n}}\n";
  EXPECT_THAT(ErrorOf(head + "providers: [{name: a, hosts: [x.example], channel: nope}]\n"),
              HasSubstr("no notice channel named 'nope'"));
  EXPECT_THAT(ErrorOf(head + "providers: [{name: a, hosts: ['http://x.example/'], channel: file_drop}]\n"),
              HasSubstr("expected host names"));
  EXPECT_THAT(ErrorOf(head + "providers: [{name: a, hosts: [], channel: file_drop}]\n"),
              HasSubstr("at least one host"));
  EXPECT_THAT(ErrorOf(head + "authority: {member_state: Netherlands}\n"), HasSubstr("two-letter ISO 3166-1"));
}

TEST(SourcesConfig, S3ListVersionsIsReadAndPassedOn) {
  absl::StatusOr<TakedownConfig> config = ParseConfig(
      "daemon: {data_dir: /d}\n"
      "sources: [{id: b, type: s3, endpoint: 'http://127.0.0.1:9', bucket: bkt, anonymous: true,\n"
      "           list_versions: true}]\n",
      "t.yaml", "/");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->sources[0].s3.list_versions);
  EXPECT_THAT(ErrorOf("daemon: {data_dir: /d}\nsources: [{id: b, type: s3, endpoint: 'http://h', bucket: bkt, "
                      "anonymous: true, list_versions: maybe}]\n"),
              HasSubstr("list_versions"));
}

TEST(AuthorityConfig, ReadsTheRdapLookup) {
  const std::string head = "daemon: {data_dir: /d, role: authority}\nnotices: {file_drop: {directory: /n}}\n";
  absl::StatusOr<TakedownConfig> config = ParseConfig(
      head +
          "rdap: {base_url: 'http://127.0.0.1:9/rdap/', channel: file_drop, timeout: 5s, cache_ttl: 0,\n"
          "       allow_private_addresses: true}\n",
      "t.yaml", "/");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(config->rdap.has_value());
  EXPECT_EQ(config->rdap->base_url, "http://127.0.0.1:9/rdap/");
  EXPECT_EQ(config->rdap->channel, "file_drop");
  EXPECT_EQ(config->rdap->timeout_seconds, 5);
  EXPECT_EQ(config->rdap->cache_ttl_seconds, 0);
  EXPECT_TRUE(config->rdap->allow_private_addresses);
  EXPECT_FALSE(config->rdap->allow_insecure_http);
  EXPECT_THAT(ErrorOf(head + "rdap: {base_url: 'ftp://x/', channel: file_drop}\n"), HasSubstr("http(s) URL"));
  EXPECT_THAT(ErrorOf(head + "rdap: {base_url: 'https://x/', channel: nope}\n"),
              HasSubstr("no notice channel"));
  EXPECT_THAT(ErrorOf(head + "rdap: {base_url: 'https://x/', channel: file_drop, timeout: 1h}\n"),
              HasSubstr("1s to 5m"));
}

TEST(OrdersConfig, RefusesBadLocationsAndIntervals) {
  const std::string head = "daemon: {data_dir: /d}\nsources: [{id: up, type: filesystem, root: /srv}]\n";
  EXPECT_THAT(ErrorOf(head + "orders: {locations: [{url_prefix: 'https://f/u/', source: other}]}\n"),
              HasSubstr("no source with id 'other'"));
  EXPECT_THAT(ErrorOf(head + "orders: {locations: [{url_prefix: 'ftp://f/u', source: up}]}\n"),
              HasSubstr("expected an absolute http(s) URL ending in '/'"));
  EXPECT_THAT(ErrorOf(head + "orders: {poll_interval: 2h}\n"), HasSubstr("expected a duration from 1s to 1h"));
  EXPECT_THAT(ErrorOf(head + "orders: {action: shred}\n"), HasSubstr("shred"));
}

}  // namespace
}  // namespace takedown
