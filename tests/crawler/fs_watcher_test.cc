#include "crawler/fs_watcher.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "crawler/filesystem_source.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/crawler/collecting_sink.h"
#include "tests/fakes/fake_clock.h"

namespace takedown {
namespace {

using ::takedown::testing::CollectingSink;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSubsetOf;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

namespace fs = std::filesystem;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr auto kWait = std::chrono::seconds(5);

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/takedown_watch_test_XXXXXX";
    const char* made = mkdtemp(tmpl);
    EXPECT_NE(made, nullptr);
    path_ = made ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
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
  out.close();
  ASSERT_TRUE(out.good()) << path;
}

// Records what a watcher reports, with when.
class Recorder {
 public:
  FsWatcher::KeysCallback KeysCallback() {
    return [this](std::vector<std::string> keys) {
      std::lock_guard lock(mu_);
      batches_.push_back(keys);
      for (std::string& key : keys) {
        first_seen_.try_emplace(key, std::chrono::steady_clock::now());
        ++counts_[key];
        keys_.push_back(std::move(key));
      }
      cv_.notify_all();
    };
  }
  FsWatcher::OverflowCallback OverflowCallback() {
    return [this](std::string reason) {
      std::lock_guard lock(mu_);
      overflows_.push_back(std::move(reason));
      cv_.notify_all();
    };
  }

  bool WaitForKey(const std::string& key, std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return counts_.count(key) > 0; });
  }
  bool WaitForOverflow(std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return !overflows_.empty(); });
  }

  std::vector<std::string> Keys() const {
    std::lock_guard lock(mu_);
    return keys_;
  }
  std::set<std::string> KeySet() const {
    std::lock_guard lock(mu_);
    return std::set<std::string>(keys_.begin(), keys_.end());
  }
  int Count(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = counts_.find(key);
    return it == counts_.end() ? 0 : it->second;
  }
  SteadyTime FirstSeen(const std::string& key) const {
    std::lock_guard lock(mu_);
    return first_seen_.at(key);
  }
  std::vector<std::vector<std::string>> Batches() const {
    std::lock_guard lock(mu_);
    return batches_;
  }
  std::vector<std::string> Overflows() const {
    std::lock_guard lock(mu_);
    return overflows_;
  }
  size_t Calls() const {
    std::lock_guard lock(mu_);
    return batches_.size() + overflows_.size();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> keys_;
  std::map<std::string, int> counts_;
  std::map<std::string, SteadyTime> first_seen_;
  std::vector<std::vector<std::string>> batches_;
  std::vector<std::string> overflows_;
};

FsWatcherOptions FastOptions(const std::string& root) {
  FsWatcherOptions options;
  options.root = root;
  options.debounce = absl::Milliseconds(100);
  return options;
}

std::unique_ptr<FsWatcher> StartWatcher(FsWatcherOptions options, Recorder& recorder) {
  auto watcher = FsWatcher::Create(std::move(options));
  EXPECT_TRUE(watcher.ok()) << watcher.status();
  if (!watcher.ok()) return nullptr;
  absl::Status started = (*watcher)->Start(recorder.KeysCallback(), recorder.OverflowCallback());
  EXPECT_TRUE(started.ok()) << started;
  return *std::move(watcher);
}

std::set<std::string> ListedKeys(const std::string& root, std::vector<std::string> include = {"**"},
                                 std::vector<std::string> exclude = {}) {
  FilesystemSourceOptions options;
  options.id = "fs";
  options.root = root;
  options.include = std::move(include);
  options.exclude = std::move(exclude);
  auto source = FilesystemSource::Create(std::move(options));
  EXPECT_TRUE(source.ok()) << source.status();
  CollectingSink sink;
  if (source.ok()) {
    EXPECT_TRUE((*source)->List("", sink).ok());
  }
  const std::vector<std::string> keys = sink.Keys();
  return std::set<std::string>(keys.begin(), keys.end());
}

TEST(FsWatcher, CreateRejectsBadOptions) {
  TempDir dir;
  WriteFile(dir / "file", "x");

  FsWatcherOptions missing = FastOptions(dir / "missing");
  EXPECT_EQ(FsWatcher::Create(missing).status().code(), absl::StatusCode::kNotFound);

  FsWatcherOptions not_dir = FastOptions(dir / "file");
  auto not_dir_result = FsWatcher::Create(not_dir);
  EXPECT_EQ(not_dir_result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(not_dir_result.status().message()), HasSubstr("not a directory"));

  FsWatcherOptions bad_glob = FastOptions(dir.path());
  bad_glob.exclude = {"photos/[abc"};
  auto bad_glob_result = FsWatcher::Create(bad_glob);
  EXPECT_EQ(bad_glob_result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_glob_result.status().message()), HasSubstr("exclude"));

  FsWatcherOptions negative = FastOptions(dir.path());
  negative.debounce = absl::Seconds(-1);
  EXPECT_EQ(FsWatcher::Create(negative).status().code(), absl::StatusCode::kInvalidArgument);

  FsWatcherOptions no_watches = FastOptions(dir.path());
  no_watches.max_watches = 0;
  EXPECT_EQ(FsWatcher::Create(no_watches).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FsWatcher, StartNeedsCallbacksAndRunsOnce) {
  TempDir dir;
  auto watcher = FsWatcher::Create(FastOptions(dir.path()));
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  Recorder recorder;
  EXPECT_EQ((*watcher)->Start(nullptr, recorder.OverflowCallback()).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE((*watcher)->Start(recorder.KeysCallback(), recorder.OverflowCallback()).ok());
  EXPECT_EQ((*watcher)->Start(recorder.KeysCallback(), recorder.OverflowCallback()).code(),
            absl::StatusCode::kFailedPrecondition);
  (*watcher)->Stop();
  EXPECT_EQ((*watcher)->Start(recorder.KeysCallback(), recorder.OverflowCallback()).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(FsWatcher, ReportsWrittenFileWithTheSourcesKey) {
  TempDir dir;
  WriteFile(dir / "old.jpg", "already here");
  fs::create_directories(dir / "sub/deeper");
  Recorder recorder;
  auto watcher = StartWatcher(FastOptions(dir.path()), recorder);
  ASSERT_NE(watcher, nullptr);
  EXPECT_EQ(watcher->stats().watched_directories, 3u);

  const auto written = std::chrono::steady_clock::now();
  WriteFile(dir / "new.jpg", "fresh");
  WriteFile(dir / "sub/deeper/b.png", "fresh too");
  ASSERT_TRUE(recorder.WaitForKey("new.jpg"));
  ASSERT_TRUE(recorder.WaitForKey("sub/deeper/b.png"));
  EXPECT_LT(recorder.FirstSeen("new.jpg") - written, std::chrono::seconds(3));

  // Files present before Start() are the sweep's business, not the watcher's.
  EXPECT_THAT(recorder.KeySet(), UnorderedElementsAre("new.jpg", "sub/deeper/b.png"));
  EXPECT_THAT(recorder.KeySet(), IsSubsetOf(ListedKeys(dir.path())));
  EXPECT_EQ(watcher->stats().reported_keys, 2u);
  EXPECT_EQ(watcher->stats().pending_keys, 0u);
  EXPECT_TRUE(recorder.Overflows().empty());
}

TEST(FsWatcher, RewritesWithinTheQuietPeriodAreReportedOnce) {
  TempDir dir;
  Recorder recorder;
  FsWatcherOptions options = FastOptions(dir.path());
  options.debounce = absl::Milliseconds(300);
  auto watcher = StartWatcher(options, recorder);
  ASSERT_NE(watcher, nullptr);

  for (int i = 0; i < 3; ++i) WriteFile(dir / "same.bin", std::string(10 + i, 'x'));
  ASSERT_TRUE(recorder.WaitForKey("same.bin"));
  // A chmod leaves the sweep's version (size, mtime, inode) as it was.
  ASSERT_EQ(chmod((dir / "same.bin").c_str(), 0600), 0);
  WriteFile(dir / "later.bin", "sentinel");
  ASSERT_TRUE(recorder.WaitForKey("later.bin"));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(recorder.Count("same.bin"), 1);

  // New bytes later are news again.
  WriteFile(dir / "same.bin", "different and longer content");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  WriteFile(dir / "sentinel2", "x");
  ASSERT_TRUE(recorder.WaitForKey("sentinel2"));
  EXPECT_EQ(recorder.Count("same.bin"), 2);
}

TEST(FsWatcher, ReportsFilesInNewNestedDirectories) {
  TempDir dir;
  Recorder recorder;
  auto watcher = StartWatcher(FastOptions(dir.path()), recorder);
  ASSERT_NE(watcher, nullptr);

  // Created faster than the watcher can add watches: found by the scan of each
  // new directory.
  fs::create_directories(dir / "a/b/c");
  WriteFile(dir / "a/b/c/f.jpg", "nested");
  ASSERT_TRUE(recorder.WaitForKey("a/b/c/f.jpg"));

  // Later files in the new directories arrive through their own watches.
  WriteFile(dir / "a/b/g.jpg", "later");
  fs::create_directories(dir / "a/b/c/d");
  WriteFile(dir / "a/b/c/d/h.jpg", "later, deeper");
  ASSERT_TRUE(recorder.WaitForKey("a/b/g.jpg"));
  ASSERT_TRUE(recorder.WaitForKey("a/b/c/d/h.jpg"));
  EXPECT_THAT(recorder.KeySet(), UnorderedElementsAre("a/b/c/f.jpg", "a/b/g.jpg", "a/b/c/d/h.jpg"));
  EXPECT_EQ(recorder.Count("a/b/c/f.jpg"), 1);
  EXPECT_EQ(watcher->stats().watched_directories, 5u);
}

TEST(FsWatcher, ReportsFilesAndTreesMovedIn) {
  TempDir outside;
  TempDir dir;
  fs::create_directories(dir / "in");
  WriteFile(outside / "upload.part", "complete upload");
  WriteFile(outside / "tree/sub/y.jpg", "a tree");
  Recorder recorder;
  auto watcher = StartWatcher(FastOptions(dir.path()), recorder);
  ASSERT_NE(watcher, nullptr);

  ASSERT_EQ(rename((outside / "upload.part").c_str(), (dir / "in/upload.jpg").c_str()), 0);
  ASSERT_EQ(rename((outside / "tree").c_str(), (dir / "tree").c_str()), 0);
  ASSERT_TRUE(recorder.WaitForKey("in/upload.jpg"));
  ASSERT_TRUE(recorder.WaitForKey("tree/sub/y.jpg"));

  // The moved-in tree is watched too.
  WriteFile(dir / "tree/sub/z.jpg", "after the move");
  ASSERT_TRUE(recorder.WaitForKey("tree/sub/z.jpg"));
  EXPECT_THAT(recorder.KeySet(), UnorderedElementsAre("in/upload.jpg", "tree/sub/y.jpg", "tree/sub/z.jpg"));
}

TEST(FsWatcher, RenamedDirectoryIsWatchedUnderItsNewName) {
  TempDir dir;
  WriteFile(dir / "d1/inner/old.jpg", "x");
  Recorder recorder;
  auto watcher = StartWatcher(FastOptions(dir.path()), recorder);
  ASSERT_NE(watcher, nullptr);

  ASSERT_EQ(rename((dir / "d1").c_str(), (dir / "d2").c_str()), 0);
  // Its files now have new keys, as a sweep would list them.
  ASSERT_TRUE(recorder.WaitForKey("d2/inner/old.jpg"));
  WriteFile(dir / "d2/inner/new.jpg", "y");
  ASSERT_TRUE(recorder.WaitForKey("d2/inner/new.jpg"));
  EXPECT_THAT(recorder.KeySet(), UnorderedElementsAre("d2/inner/old.jpg", "d2/inner/new.jpg"));
  EXPECT_EQ(watcher->stats().watched_directories, 3u);
}

TEST(FsWatcher, IgnoresSymlinksFifosAndWhatIsBehindSymlinks) {
  TempDir outside;
  TempDir dir;
  WriteFile(outside / "target.jpg", "outside");
  WriteFile(outside / "linked_dir/existing.jpg", "outside");
  Recorder recorder;
  auto watcher = StartWatcher(FastOptions(dir.path()), recorder);
  ASSERT_NE(watcher, nullptr);

  ASSERT_EQ(symlink((outside / "target.jpg").c_str(), (dir / "link.jpg").c_str()), 0);
  ASSERT_EQ(mkfifo((dir / "pipe").c_str(), 0600), 0);
  ASSERT_EQ(symlink((outside / "linked_dir").c_str(), (dir / "ldir").c_str()), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  WriteFile(outside / "linked_dir/new.jpg", "written behind a symlink");
  // A file replaced by a symlink before its quiet period ends.
  WriteFile(dir / "swapped.jpg", "soon a symlink");
  ASSERT_EQ(unlink((dir / "swapped.jpg").c_str()), 0);
  ASSERT_EQ(symlink((outside / "target.jpg").c_str(), (dir / "swapped.jpg").c_str()), 0);
  WriteFile(dir / "sentinel.jpg", "regular");

  ASSERT_TRUE(recorder.WaitForKey("sentinel.jpg"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_THAT(recorder.Keys(), ElementsAre("sentinel.jpg"));
  EXPECT_EQ(watcher->stats().watched_directories, 1u);
}

TEST(FsWatcher, AppliesIncludeAndExcludeGlobsAsTheSourceDoes) {
  TempDir dir;
  FsWatcherOptions options = FastOptions(dir.path());
  options.include = {"**/*.jpg", "**/*.tmp"};
  options.exclude = {"**/*.tmp", "cache/**"};
  Recorder recorder;
  auto watcher = StartWatcher(options, recorder);
  ASSERT_NE(watcher, nullptr);

  WriteFile(dir / "upload.tmp", "excluded by name");
  WriteFile(dir / "notes.txt", "not included");
  WriteFile(dir / "cache/y.jpg", "excluded directory");
  WriteFile(dir / "cache/deep/z.jpg", "excluded directory");
  WriteFile(dir / "photos/keep.jpg", "kept");
  WriteFile(dir / "keep.jpg", "kept");

  ASSERT_TRUE(recorder.WaitForKey("photos/keep.jpg"));
  ASSERT_TRUE(recorder.WaitForKey("keep.jpg"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_THAT(recorder.KeySet(), UnorderedElementsAre("keep.jpg", "photos/keep.jpg"));
  EXPECT_EQ(recorder.KeySet(), ListedKeys(dir.path(), {"**/*.jpg", "**/*.tmp"}, {"**/*.tmp", "cache/**"}));
  // The excluded directory is not even watched: root and photos only.
  EXPECT_EQ(watcher->stats().watched_directories, 2u);
}

TEST(FsWatcher, FileStillBeingWrittenIsReportedOnlyAfterItStopsChanging) {
  TempDir dir;
  FsWatcherOptions options = FastOptions(dir.path());
  options.debounce = absl::Milliseconds(400);
  Recorder recorder;
  auto watcher = StartWatcher(options, recorder);
  ASSERT_NE(watcher, nullptr);

  const std::string path = dir / "growing.mp4";
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  SteadyTime last_append;
  for (int i = 0; i < 16; ++i) {
    ASSERT_EQ(write(fd, "chunk", 5), 5);
    last_append = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(recorder.Count("growing.mp4"), 0) << "reported while still being written";

  // Still open, but no longer changing.
  ASSERT_TRUE(recorder.WaitForKey("growing.mp4"));
  EXPECT_GE(recorder.FirstSeen("growing.mp4") - last_append, std::chrono::milliseconds(390));
  // Closing without writing changes nothing the sweep would see.
  ASSERT_EQ(close(fd), 0);
  WriteFile(dir / "sentinel", "x");
  ASSERT_TRUE(recorder.WaitForKey("sentinel"));
  EXPECT_EQ(recorder.Count("growing.mp4"), 1);
}

TEST(FsWatcher, DebounceFollowsTheInjectedClock) {
  TempDir dir;
  FakeClock clock;
  FsWatcherOptions options = FastOptions(dir.path());
  options.debounce = absl::Seconds(10);
  options.clock = &clock;
  Recorder recorder;
  auto watcher = StartWatcher(options, recorder);
  ASSERT_NE(watcher, nullptr);

  WriteFile(dir / "a.jpg", "x");
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (watcher->stats().pending_keys == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(watcher->stats().pending_keys, 1u);
  clock.Advance(absl::Seconds(9));
  EXPECT_FALSE(recorder.WaitForKey("a.jpg", std::chrono::milliseconds(300)));
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(recorder.WaitForKey("a.jpg"));
  EXPECT_EQ(watcher->stats().pending_keys, 0u);
}

TEST(FsWatcher, ReportsOverflowWhenWatchesRunOut) {
  TempDir dir;
  FsWatcherOptions options = FastOptions(dir.path());
  options.max_watches = 2;
  Recorder recorder;
  auto watcher = StartWatcher(options, recorder);
  ASSERT_NE(watcher, nullptr);

  for (const char* name : {"d1", "d2", "d3"}) fs::create_directories(dir / name);
  ASSERT_TRUE(recorder.WaitForOverflow());
  const std::vector<std::string> overflows = recorder.Overflows();
  EXPECT_THAT(overflows.front(), StartsWith("overflow: a full sweep is needed"));
  EXPECT_THAT(overflows.front(), HasSubstr("max_watches (2)"));
  EXPECT_EQ(watcher->stats().watched_directories, 2u);
  EXPECT_GE(watcher->stats().overflows, 1u);
}

TEST(FsWatcher, ReportsOverflowWhenTooManyKeysWait) {
  TempDir dir;
  FakeClock clock;
  FsWatcherOptions options = FastOptions(dir.path());
  options.max_pending = 3;
  options.debounce = absl::Seconds(10);
  options.clock = &clock;
  Recorder recorder;
  auto watcher = StartWatcher(options, recorder);
  ASSERT_NE(watcher, nullptr);

  for (int i = 0; i < 6; ++i) WriteFile(dir / ("f" + std::to_string(i)), "x");
  ASSERT_TRUE(recorder.WaitForOverflow());
  EXPECT_THAT(recorder.Overflows().front(), HasSubstr("max_pending (3)"));
  clock.Advance(absl::Seconds(11));
  ASSERT_TRUE(recorder.WaitForKey("f2"));
  EXPECT_THAT(recorder.Keys(), ElementsAre("f0", "f1", "f2"));
  EXPECT_THAT(recorder.Batches(), ElementsAre(ElementsAre("f0", "f1", "f2")));
}

TEST(FsWatcher, RebuildsItsWatchesAfterAQueueOverflow) {
  TempDir dir;
  fs::create_directories(dir / "a/b");
  Recorder recorder;
  auto watcher = StartWatcher(FastOptions(dir.path()), recorder);
  ASSERT_NE(watcher, nullptr);
  ASSERT_EQ(watcher->stats().watched_directories, 3u);

  watcher->SimulateQueueOverflowForTest();
  ASSERT_TRUE(recorder.WaitForOverflow());
  EXPECT_THAT(recorder.Overflows().front(), StartsWith("overflow: a full sweep is needed"));
  EXPECT_THAT(recorder.Overflows().front(), HasSubstr("queue overflowed"));
  EXPECT_EQ(watcher->stats().watched_directories, 3u);

  // Watches work after the rebuild, old and new directories alike.
  WriteFile(dir / "a/b/x.jpg", "x");
  WriteFile(dir / "c/y.jpg", "y");
  ASSERT_TRUE(recorder.WaitForKey("a/b/x.jpg"));
  ASSERT_TRUE(recorder.WaitForKey("c/y.jpg"));
  EXPECT_THAT(recorder.KeySet(), UnorderedElementsAre("a/b/x.jpg", "c/y.jpg"));
  EXPECT_EQ(recorder.Overflows().size(), 1u);
}

TEST(FsWatcher, ReportsOverflowWhenTheRootMovesAway) {
  TempDir dir;
  fs::create_directories(dir / "root/sub");
  FsWatcherOptions options = FastOptions(dir / "root");
  Recorder recorder;
  auto watcher = StartWatcher(options, recorder);
  ASSERT_NE(watcher, nullptr);

  ASSERT_EQ(rename((dir / "root").c_str(), (dir / "elsewhere").c_str()), 0);
  ASSERT_TRUE(recorder.WaitForOverflow());
  EXPECT_THAT(recorder.Overflows().front(), HasSubstr("root directory was moved"));
  WriteFile(dir / "elsewhere/sub/x.jpg", "no longer under the root");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(recorder.Keys().empty());
}

TEST(FsWatcher, StopIsPromptAndFinal) {
  TempDir dir;
  FsWatcherOptions options = FastOptions(dir.path());
  options.debounce = absl::Milliseconds(20);
  Recorder recorder;
  auto watcher = StartWatcher(options, recorder);
  ASSERT_NE(watcher, nullptr);

  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int i = 0; writing.load(); ++i) {
      WriteFile(dir / ("w" + std::to_string(i % 50)), std::to_string(i));
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  ASSERT_TRUE(recorder.WaitForKey("w0"));

  const auto before = std::chrono::steady_clock::now();
  watcher->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(500));
  const size_t calls_at_stop = recorder.Calls();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  writing.store(false);
  writer.join();
  EXPECT_EQ(recorder.Calls(), calls_at_stop);
  watcher->Stop();  // idempotent
  EXPECT_EQ(recorder.Calls(), calls_at_stop);
}

TEST(FsWatcher, StopFromACallbackEndsTheThread) {
  TempDir dir;
  auto created = FsWatcher::Create(FastOptions(dir.path()));
  ASSERT_TRUE(created.ok()) << created.status();
  std::unique_ptr<FsWatcher> watcher = *std::move(created);
  std::atomic<int> batches{0};
  ASSERT_TRUE(watcher
                  ->Start(
                      [&](std::vector<std::string>) {
                        ++batches;
                        watcher->Stop();
                      },
                      [](std::string) {})
                  .ok());
  WriteFile(dir / "first", "x");
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (batches.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(batches.load(), 1);
  WriteFile(dir / "second", "x");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(batches.load(), 1);
  watcher.reset();  // joins the ended thread
}

}  // namespace
}  // namespace takedown
