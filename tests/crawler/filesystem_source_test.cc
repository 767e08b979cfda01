#include "crawler/filesystem_source.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/crawler/collecting_sink.h"

namespace takedown {
namespace {

using ::takedown::testing::CollectingSink;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/takedown_fs_test_XXXXXX";
    const char* made = mkdtemp(tmpl);
    EXPECT_NE(made, nullptr);
    path_ = made ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    // Restore permissions a test may have removed, then delete.
    for (auto it = fs::recursive_directory_iterator(path_, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) chmod(it->path().c_str(), 0700);
    }
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  ASSERT_TRUE(out.good()) << path;
}

std::unique_ptr<FilesystemSource> MakeSource(const std::string& root,
                                             std::vector<std::string> include = {"**"},
                                             std::vector<std::string> exclude = {},
                                             bool allow_openat2 = true) {
  FilesystemSourceOptions options;
  options.id = "fs-test";
  options.root = root;
  options.include = std::move(include);
  options.exclude = std::move(exclude);
  options.allow_openat2 = allow_openat2;
  auto source = FilesystemSource::Create(std::move(options));
  EXPECT_TRUE(source.ok()) << source.status();
  return source.ok() ? *std::move(source) : nullptr;
}

CollectingSink ListAll(FilesystemSource& source, std::string_view after = "") {
  CollectingSink sink;
  absl::Status status = source.List(after, sink);
  EXPECT_TRUE(status.ok()) << status;
  return sink;
}

absl::StatusOr<std::string> ReadAll(FilesystemSource& source, const ObjectRef& ref, size_t chunk = 7) {
  auto reader = source.Open(ref);
  if (!reader.ok()) return reader.status();
  std::string out;
  std::vector<uint8_t> buffer(chunk);
  while (true) {
    auto n = (*reader)->Read(buffer);
    if (!n.ok()) return n.status();
    if (*n == 0) return out;
    out.append(reinterpret_cast<const char*>(buffer.data()), *n);
  }
}

// Component-by-component comparison written independently of CompareKeys.
int ReferenceCompare(const std::string& a, const std::string& b) {
  auto split = [](const std::string& s) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
      size_t slash = s.find('/', start);
      parts.push_back(s.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
      if (slash == std::string::npos) return parts;
      start = slash + 1;
    }
  };
  auto pa = split(a), pb = split(b);
  if (pa < pb) return -1;
  if (pb < pa) return 1;
  return 0;
}

int Sign(int v) { return (v > 0) - (v < 0); }

TEST(FilesystemSource, ListsNestedTreeInComponentOrder) {
  TempDir dir;
  WriteFile(dir / "b", "bb");
  WriteFile(dir / "a.txt", "a-dot-txt");
  WriteFile(dir / "a-c", "x");
  WriteFile(dir / "a/c/d", "deep");
  WriteFile(dir / "a/b2", "");
  WriteFile(dir / "a/b", "hello");
  auto source = MakeSource(dir.path());
  ASSERT_NE(source, nullptr);

  CollectingSink sink = ListAll(*source);
  // "a/..." before "a-c": components compare first, and "a" < "a-c".
  EXPECT_THAT(sink.Keys(), ElementsAre("a/b", "a/b2", "a/c/d", "a-c", "a.txt", "b"));
  EXPECT_TRUE(sink.skipped.empty());

  const ObjectRef& ab = sink.objects[0];
  struct stat st;
  ASSERT_EQ(lstat((dir / "a/b").c_str(), &st), 0);
  EXPECT_EQ(ab.source_id, "fs-test");
  EXPECT_EQ(ab.size, 5u);
  EXPECT_EQ(ab.version, std::to_string(st.st_size) + ":" +
                            std::to_string(int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec) +
                            ":" + std::to_string(st.st_ino));
  EXPECT_EQ(sink.objects[1].size, 0u);
  EXPECT_EQ(ReadAll(*source, ab).value_or("<error>"), "hello");
  EXPECT_EQ(ReadAll(*source, sink.objects[1]).value_or("<error>"), "");
}

TEST(FilesystemSource, CompareKeysIsComponentWise) {
  TempDir dir;
  auto source = MakeSource(dir.path());
  ASSERT_NE(source, nullptr);
  const std::pair<const char*, const char*> ordered[] = {
      {"a/b", "a-c"}, {"a", "a/b"},     {"a/z/z", "b"},    {"a/b", "a/b/c"},
      {"a/b", "a.b"}, {"a/\xff", "a!"}, {"x/a b", "x/a!"}, {"\x01", "\xff"},
  };
  for (const auto& [lo, hi] : ordered) {
    EXPECT_LT(source->CompareKeys(lo, hi), 0) << lo << " < " << hi;
    EXPECT_GT(source->CompareKeys(hi, lo), 0) << hi << " > " << lo;
  }
  EXPECT_EQ(source->CompareKeys("a/b", "a/b"), 0);
  EXPECT_EQ(source->CompareKeys("", ""), 0);
  EXPECT_LT(source->CompareKeys("", "a"), 0);
}

// Builds a random tree; returns the keys of the regular files created.
std::set<std::string> BuildRandomTree(const TempDir& dir, std::mt19937& rng) {
  const std::vector<std::string> alphabet = {"a", "b", "-", ".", "_", "A", "0", "\xc3\xa9", " "};
  auto random_name = [&] {
    std::string name;
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < n; ++i) name += alphabet[rng() % alphabet.size()];
    if (name == "." || name == "..") name += "x";
    return name;
  };
  std::set<std::string> files;
  std::set<std::string> dirs;
  std::vector<std::string> parents = {""};
  for (int i = 0; i < 300; ++i) {
    const std::string parent = parents[rng() % parents.size()];
    const std::string key = parent.empty() ? random_name() : parent + "/" + random_name();
    if (files.count(key) || dirs.count(key)) continue;
    if (rng() % 4 == 0 && std::count(key.begin(), key.end(), '/') < 4) {
      fs::create_directories(dir / key);
      dirs.insert(key);
      parents.push_back(key);
    } else {
      WriteFile(dir / key, key);
      files.insert(key);
    }
  }
  return files;
}

TEST(FilesystemSource, ListAfterAnyCursorReturnsExactlyTheSuffix) {
  TempDir dir;
  std::mt19937 rng(12345);
  const std::set<std::string> files = BuildRandomTree(dir, rng);
  ASSERT_GT(files.size(), 150u);
  auto source = MakeSource(dir.path());
  ASSERT_NE(source, nullptr);

  const std::vector<std::string> all = ListAll(*source).Keys();
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()), files);
  ASSERT_EQ(all.size(), files.size());
  for (size_t i = 1; i < all.size(); ++i) {
    ASSERT_LT(source->CompareKeys(all[i - 1], all[i]), 0) << all[i - 1] << " vs " << all[i];
  }
  for (int i = 0; i < 2000; ++i) {
    const std::string& a = all[rng() % all.size()];
    const std::string& b = all[rng() % all.size()];
    ASSERT_EQ(Sign(source->CompareKeys(a, b)), ReferenceCompare(a, b)) << a << " vs " << b;
    ASSERT_EQ(Sign(source->CompareKeys(a, b)), -Sign(source->CompareKeys(b, a)));
  }

  std::vector<std::string> cursors = {"", "/", "a/", "zzz", "\xff", "a//b", "-"};
  for (int i = 0; i < 150; ++i) {
    std::string key = all[rng() % all.size()];
    switch (rng() % 5) {
      case 0:  // an existing key
        break;
      case 1:  // one of its directories
        key = key.substr(0, key.rfind('/') == std::string::npos ? key.size() : key.rfind('/'));
        break;
      case 2:  // between keys
        key += "a";
        break;
      case 3:
        key.pop_back();
        break;
      case 4:
        key += "/zz";
        break;
    }
    cursors.push_back(key);
  }
  for (const std::string& after : cursors) {
    std::vector<std::string> expected;
    for (const std::string& key : all) {
      if (after.empty() || source->CompareKeys(key, after) > 0) expected.push_back(key);
    }
    EXPECT_EQ(ListAll(*source, after).Keys(), expected) << "after '" << after << "'";
  }
}

TEST(FilesystemSource, SkipsSymlinksWithReasonAndNeverFollowsThem) {
  TempDir dir;
  TempDir outside;
  WriteFile(outside / "secret", "outside");
  WriteFile(dir / "a/b", "inside");
  ASSERT_EQ(symlink("a/b", (dir / "in").c_str()), 0);
  ASSERT_EQ(symlink("a", (dir / "dir_link").c_str()), 0);
  ASSERT_EQ(symlink("missing", (dir / "dangling").c_str()), 0);
  ASSERT_EQ(symlink(outside.path().c_str(), (dir / "out_abs").c_str()), 0);
  ASSERT_EQ(symlink("../../x", (dir / "a/up").c_str()), 0);
  ASSERT_EQ(symlink(((outside / "secret")).c_str(), (dir / "a/out_file").c_str()), 0);
  auto source = MakeSource(dir.path());
  ASSERT_NE(source, nullptr);

  CollectingSink sink = ListAll(*source);
  EXPECT_THAT(sink.Keys(), ElementsAre("a/b"));
  const std::string inside = "symlink not followed (its target is swept under its own path)";
  const std::string leaves = "symlink leaves the source root";
  EXPECT_THAT(sink.skipped,
              ElementsAre(Pair("a/out_file", leaves), Pair("a/up", leaves), Pair("dangling", inside),
                          Pair("dir_link", inside), Pair("in", inside), Pair("out_abs", leaves)));
}

TEST(FilesystemSource, SkipsFifosAndSocketsWithoutBlocking) {
  TempDir dir;
  WriteFile(dir / "file", "x");
  ASSERT_EQ(mkfifo((dir / "pipe").c_str(), 0600), 0);
  int sock = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sock_path = dir / "sock";
  ASSERT_LT(sock_path.size(), sizeof(addr.sun_path));
  std::copy(sock_path.begin(), sock_path.end(), addr.sun_path);
  ASSERT_EQ(bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  auto source = MakeSource(dir.path());
  ASSERT_NE(source, nullptr);

  CollectingSink sink = ListAll(*source);
  close(sock);
  EXPECT_THAT(sink.Keys(), ElementsAre("file"));
  EXPECT_THAT(sink.skipped,
              ElementsAre(Pair("pipe", "special file: fifo"), Pair("sock", "special file: socket")));

  // Skipped entries ordered at or before the cursor are not reported again.
  CollectingSink after = ListAll(*source, "pipe");
  EXPECT_THAT(after.skipped, ElementsAre(Pair("sock", "special file: socket")));
  EXPECT_TRUE(after.objects.empty());
}

TEST(FilesystemSource, IncludeAndExcludeSelectFilesAndPruneDirectories) {
  TempDir dir;
  for (const char* key : {"a.jpg", "x/y.jpg", "x/.snapshot/z.jpg", ".snapshot/z.jpg", "tmp/a.jpg",
                          "docs/r.txt", "docs/sub/r.txt", "b.png", "c.tmp.jpg", "x/tmp/k.jpg"}) {
    WriteFile(dir / key, key);
  }
  ASSERT_EQ(mkfifo((dir / "f.jpg").c_str(), 0600), 0);
  ASSERT_EQ(mkfifo((dir / "f.png").c_str(), 0600), 0);
  auto source = MakeSource(dir.path(), {"**/*.jpg", "docs/*.txt"}, {"**/.snapshot/**", "tmp", "*.tmp.jpg"});
  ASSERT_NE(source, nullptr);

  CollectingSink sink = ListAll(*source);
  // "tmp" (a directory matching an exclude) is pruned, so tmp/a.jpg is not
  // listed although the file's own key matches no exclude.
  EXPECT_THAT(sink.Keys(), ElementsAre("a.jpg", "docs/r.txt", "x/tmp/k.jpg", "x/y.jpg"));
  // Only the special file the globs would have selected is reported.
  EXPECT_THAT(sink.skipped, ElementsAre(Pair("f.jpg", "special file: fifo")));
}

TEST(FilesystemSource, ReportsUnreadableDirectoryAndContinues) {
  TempDir dir;
  WriteFile(dir / "a", "a");
  WriteFile(dir / "locked/inner", "secret");
  WriteFile(dir / "skip/locked/inner", "secret");
  WriteFile(dir / "z", "z");
  ASSERT_EQ(chmod((dir / "locked").c_str(), 0), 0);
  ASSERT_EQ(chmod((dir / "skip/locked").c_str(), 0), 0);
  DIR* probe = opendir((dir / "locked").c_str());
  if (probe != nullptr) {
    closedir(probe);
    GTEST_SKIP() << "running with CAP_DAC_OVERRIDE (root): chmod 000 does not block reads";
  }
  auto source = MakeSource(dir.path(), {"**"}, {"skip/**"});
  ASSERT_NE(source, nullptr);

  CollectingSink sink = ListAll(*source);
  EXPECT_THAT(sink.Keys(), ElementsAre("a", "z"));
  // The excluded skip/locked is pruned without an attempt to read it.
  EXPECT_THAT(sink.skipped, ElementsAre(Pair("locked", "cannot read directory: Permission denied")));
}

TEST(FilesystemSource, GuardsDirectoryDepth) {
  TempDir dir;
  std::string deepest_read, too_deep;
  for (int i = 0; i < FilesystemSource::kMaxDepth + 1; ++i) {
    too_deep += i == 0 ? "d" : "/d";
    if (i == FilesystemSource::kMaxDepth - 1) deepest_read = too_deep;
  }
  fs::create_directories(dir / too_deep);
  WriteFile(dir / (deepest_read + "/f"), "deep");
  WriteFile(dir / (too_deep + "/f"), "too deep");
  auto source = MakeSource(dir.path());
  ASSERT_NE(source, nullptr);

  CollectingSink sink = ListAll(*source);
  EXPECT_THAT(sink.Keys(), ElementsAre(deepest_read + "/f"));
  EXPECT_THAT(sink.skipped, ElementsAre(Pair(too_deep, HasSubstr("deeper than 256 levels"))));

  // A subtree ordered entirely before the cursor is not walked at all: the
  // too-deep directory under "d" is not reached, so nothing is reported.
  WriteFile(dir / "e", "e");
  CollectingSink after = ListAll(*source, "d-");
  EXPECT_THAT(after.Keys(), ElementsAre("e"));
  EXPECT_TRUE(after.skipped.empty());
}

TEST(FilesystemSource, StopsWhenSinkDeclines) {
  TempDir dir;
  for (const char* key : {"1", "2", "3/4", "5"}) WriteFile(dir / key, key);
  auto source = MakeSource(dir.path());
  ASSERT_NE(source, nullptr);
  CollectingSink sink(/*stop_after=*/3);
  ASSERT_TRUE(source->List("", sink).ok());
  EXPECT_THAT(sink.Keys(), ElementsAre("1", "2", "3/4"));
}

TEST(FilesystemSource, VersionChangesWhenFileIsModified) {
  TempDir dir;
  WriteFile(dir / "changing", "v1");
  WriteFile(dir / "stable", "same");
  auto source = MakeSource(dir.path());
  ASSERT_NE(source, nullptr);
  CollectingSink before = ListAll(*source);
  ASSERT_EQ(before.objects.size(), 2u);

  WriteFile(dir / "changing", "v2");  // same size: only mtime tells
  struct timespec times[2] = {{0, UTIME_OMIT}, {1700000000, 123456789}};
  ASSERT_EQ(utimensat(AT_FDCWD, (dir / "changing").c_str(), times, 0), 0);
  CollectingSink after = ListAll(*source);
  ASSERT_EQ(after.objects.size(), 2u);
  EXPECT_NE(after.objects[0].version, before.objects[0].version);
  EXPECT_THAT(after.objects[0].version, HasSubstr(":1700000000123456789:"));
  EXPECT_EQ(after.objects[1].version, before.objects[1].version);

  // Replacing the file (new inode) with identical size and mtime also shows.
  WriteFile(dir / "replacement", "same");
  struct stat st;
  ASSERT_EQ(stat((dir / "stable").c_str(), &st), 0);
  struct timespec same_times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, (dir / "replacement").c_str(), same_times, 0), 0);
  ASSERT_EQ(rename((dir / "replacement").c_str(), (dir / "stable").c_str()), 0);
  CollectingSink replaced = ListAll(*source);
  ASSERT_EQ(replaced.objects.size(), 2u);
  EXPECT_NE(replaced.objects[1].version, before.objects[1].version);
}

TEST(FilesystemSource, OpenOfVanishedFileIsNotFound) {
  TempDir dir;
  WriteFile(dir / "d/gone", "x");
  auto source = MakeSource(dir.path());
  ASSERT_NE(source, nullptr);
  CollectingSink sink = ListAll(*source);
  ASSERT_EQ(sink.objects.size(), 1u);
  ASSERT_EQ(unlink((dir / "d/gone").c_str()), 0);
  auto reader = source->Open(sink.objects[0]);
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(reader.status().message()),
            "fs-test: d/gone: no such file (it vanished after listing)");
  ASSERT_EQ(rmdir((dir / "d").c_str()), 0);
  EXPECT_EQ(source->Open(sink.objects[0]).status().code(), absl::StatusCode::kNotFound);
}

TEST(FilesystemSource, OpenRejectsKeysThatAreNotCleanRelativePaths) {
  TempDir dir;
  WriteFile(dir / "a", "a");
  auto source = MakeSource(dir.path());
  ASSERT_NE(source, nullptr);
  for (const std::string& key :
       {std::string("../etc/passwd"), std::string("/etc/passwd"), std::string("a/../../x"),
        std::string("./a"), std::string("a/."), std::string("a//b"), std::string("a/"), std::string(""),
        std::string("a\0b", 3), std::string(5000, 'a')}) {
    ObjectRef ref{"fs-test", key, "", 0};
    auto reader = source->Open(ref);
    ASSERT_FALSE(reader.ok()) << key;
    EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument) << key;
  }
  ObjectRef other{"other-source", "a", "", 0};
  EXPECT_EQ(source->Open(other).status().code(), absl::StatusCode::kInvalidArgument);
}

class OpenResolution : public ::testing::TestWithParam<bool> {};

TEST_P(OpenResolution, RefusesSymlinksSwappedInAfterListing) {
  TempDir dir;
  TempDir outside;
  WriteFile(outside / "f.txt", "outside secret");
  WriteFile(outside / "sub/f.txt", "outside secret");
  WriteFile(dir / "d/f.txt", "inside");
  WriteFile(dir / "d/sub/f.txt", "inside");
  WriteFile(dir / "g.txt", "inside");
  WriteFile(dir / "h.txt", "inside");
  auto source = MakeSource(dir.path(), {"**"}, {}, /*allow_openat2=*/GetParam());
  ASSERT_NE(source, nullptr);
  CollectingSink sink = ListAll(*source);
  ASSERT_THAT(sink.Keys(), ElementsAre("d/f.txt", "d/sub/f.txt", "g.txt", "h.txt"));
  EXPECT_EQ(ReadAll(*source, sink.objects[1]).value_or("<error>"), "inside");

  // A directory component replaced by a symlink to outside the root.
  ASSERT_EQ(rename((dir / "d").c_str(), (dir / "d_old").c_str()), 0);
  ASSERT_EQ(symlink(outside.path().c_str(), (dir / "d").c_str()), 0);
  for (int i : {0, 1}) {
    auto reader = source->Open(sink.objects[i]);
    ASSERT_FALSE(reader.ok()) << sink.objects[i].key;
    EXPECT_EQ(reader.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(reader.status().message()), HasSubstr("symbolic link"));
  }
  // A symlink inside the root is refused too.
  ASSERT_EQ(unlink((dir / "d").c_str()), 0);
  ASSERT_EQ(symlink("d_old", (dir / "d").c_str()), 0);
  EXPECT_EQ(source->Open(sink.objects[0]).status().code(), absl::StatusCode::kFailedPrecondition);

  // The file itself replaced by a symlink.
  ASSERT_EQ(unlink((dir / "g.txt").c_str()), 0);
  ASSERT_EQ(symlink((outside / "f.txt").c_str(), (dir / "g.txt").c_str()), 0);
  EXPECT_EQ(source->Open(sink.objects[2]).status().code(), absl::StatusCode::kFailedPrecondition);

  // The file replaced by a fifo: refused without blocking on the open.
  ASSERT_EQ(unlink((dir / "h.txt").c_str()), 0);
  ASSERT_EQ(mkfifo((dir / "h.txt").c_str(), 0600), 0);
  auto fifo = source->Open(sink.objects[3]);
  ASSERT_FALSE(fifo.ok());
  EXPECT_EQ(fifo.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(fifo.status().message()), HasSubstr("no longer a regular file"));

  // A component that became a regular file: the object is gone.
  ASSERT_EQ(unlink((dir / "d").c_str()), 0);
  WriteFile(dir / "d", "now a file");
  EXPECT_EQ(source->Open(sink.objects[0]).status().code(), absl::StatusCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Openat2AndWalk, OpenResolution, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Openat2" : "ComponentWalk"; });

TEST(FilesystemSource, ConcurrentOpensWhileListing) {
  TempDir dir;
  std::vector<std::string> keys;
  for (int i = 0; i < 40; ++i) {
    const std::string key = "d" + std::to_string(i % 5) + "/f" + std::to_string(i);
    WriteFile(dir / key, std::string(1000 + i, static_cast<char>('a' + i % 26)));
    keys.push_back(key);
  }
  auto source = MakeSource(dir.path());
  ASSERT_NE(source, nullptr);
  std::atomic<int> good_reads{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        for (size_t i = t; i < keys.size(); i += 4) {
          auto content = ReadAll(*source, ObjectRef{"fs-test", keys[i], "", 0}, 256);
          if (content.ok() && *content == std::string(1000 + i, static_cast<char>('a' + i % 26))) {
            ++good_reads;
          }
        }
      }
    });
  }
  for (int round = 0; round < 5; ++round) {
    EXPECT_EQ(ListAll(*source).objects.size(), keys.size());
  }
  for (std::thread& w : workers) w.join();
  EXPECT_EQ(good_reads.load(), 5 * 40);
}

TEST(FilesystemSource, CreateValidatesOptions) {
  TempDir dir;
  WriteFile(dir / "file", "x");
  FilesystemSourceOptions options;
  options.id = "fs";
  options.root = dir / "missing";
  EXPECT_EQ(FilesystemSource::Create(options).status().code(), absl::StatusCode::kNotFound);
  options.root = dir / "file";
  EXPECT_EQ(FilesystemSource::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.root = dir.path();
  options.exclude = {"ok/**", "bad/[x"};
  auto bad_glob = FilesystemSource::Create(options);
  ASSERT_FALSE(bad_glob.ok());
  EXPECT_EQ(bad_glob.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_glob.status().message()),
              HasSubstr("filesystem source 'fs' exclude: glob pattern 'bad/[x': unterminated"));
  options.exclude = {};
  options.id = "";
  EXPECT_EQ(FilesystemSource::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  // An empty include list means everything; a symlinked root is resolved.
  options.id = "fs";
  options.include = {};
  ASSERT_EQ(symlink(dir.path().c_str(), (dir / "root_link").c_str()), 0);
  options.root = dir / "root_link";
  auto source = FilesystemSource::Create(options);
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ((*source)->root(), fs::canonical(dir.path()).string());
  CollectingSink sink = ListAll(**source);
  EXPECT_THAT(sink.Keys(), ElementsAre("file"));
  EXPECT_THAT(sink.skipped, UnorderedElementsAre(Pair("root_link", HasSubstr("not followed"))));
}

}  // namespace
}  // namespace takedown
