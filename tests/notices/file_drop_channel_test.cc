#include "notices/file_drop_channel.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace takedown {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Json = nlohmann::json;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

class FileDropChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/takedown-file-drop-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::permissions(root_, fs::perms::owner_all, fs::perm_options::add, ignored);
    fs::remove_all(root_, ignored);
  }

  static Notice SampleNotice(std::string key = "uploads/x.png") {
    CaseObject o;
    o.source_id = "s3-eu";
    o.key = std::move(key);
    o.version = "etag-1";
    o.size = 10;
    o.sha256_hex = std::string(64, 'e');
    Case c = NewCase(o, kT0);
    return MakeDetectionNotice(c, kT0 + absl::Milliseconds(1));
  }

  static std::set<std::string> List(const std::string& dir) {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename().string());
    return names;
  }

  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  }

  std::string root_;
};

TEST_F(FileDropChannelTest, CreateMakesNestedDirectoryWithMode0750) {
  mode_t old_umask = ::umask(022);
  const std::string dir = root_ + "/a/b/drop";
  absl::StatusOr<std::unique_ptr<FileDropChannel>> channel = FileDropChannel::Create(dir + "/");
  ::umask(old_umask);
  ASSERT_TRUE(channel.ok()) << channel.status();
  EXPECT_EQ((*channel)->directory(), dir);
  EXPECT_EQ((*channel)->name(), "file_drop");
  struct stat st;
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0750u);
  // An existing directory is fine.
  EXPECT_TRUE(FileDropChannel::Create(dir).ok());
}

TEST_F(FileDropChannelTest, DeliverWritesPrettyPayloadUnderNoticeId) {
  auto channel = *FileDropChannel::Create(root_ + "/drop");
  Notice notice = SampleNotice();
  ASSERT_TRUE(channel->Deliver(notice).ok());

  EXPECT_EQ(List(root_ + "/drop"), (std::set<std::string>{notice.id + ".json"}));
  const std::string path = root_ + "/drop/" + notice.id + ".json";
  std::string content = Read(path);
  EXPECT_EQ(content, FileDropChannel::Render(notice));
  ASSERT_FALSE(content.empty());
  EXPECT_EQ(content.back(), '\n');
  EXPECT_THAT(content, HasSubstr("\n  \"case_id\": "));
  EXPECT_EQ(Json::parse(content), notice.payload);
  EXPECT_EQ(Json::parse(content)["content_included"], false);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0037, 0u) << "no group-write or world access";
}

TEST_F(FileDropChannelTest, RedeliveryIsIdempotent) {
  auto channel = *FileDropChannel::Create(root_ + "/drop");
  Notice notice = SampleNotice();
  ASSERT_TRUE(channel->Deliver(notice).ok());
  const std::string path = root_ + "/drop/" + notice.id + ".json";
  const std::string first = Read(path);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(channel->Deliver(notice).ok());
  // A second channel on the same directory (a restarted daemon) also sees it as delivered.
  auto restarted = *FileDropChannel::Create(root_ + "/drop");
  EXPECT_TRUE(restarted->Deliver(notice).ok());
  EXPECT_EQ(Read(path), first);
  EXPECT_EQ(List(root_ + "/drop").size(), 1u);
}

TEST_F(FileDropChannelTest, DifferentContentUnderSameIdIsAConflictAndNeverOverwrites) {
  auto channel = *FileDropChannel::Create(root_ + "/drop");
  Notice notice = SampleNotice();
  ASSERT_TRUE(channel->Deliver(notice).ok());
  const std::string path = root_ + "/drop/" + notice.id + ".json";
  const std::string first = Read(path);

  Notice changed = notice;
  changed.payload["state"] = "notified";
  absl::Status status = channel->Deliver(changed);
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(status.message()), HasSubstr(path));
  EXPECT_EQ(Read(path), first);
  EXPECT_EQ(List(root_ + "/drop"), (std::set<std::string>{notice.id + ".json"}));

  // A longer foreign file with our content as prefix is a conflict too.
  std::ofstream(path, std::ios::app) << "extra";
  EXPECT_EQ(channel->Deliver(notice).code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(FileDropChannelTest, ConcurrentDeliveriesOfOneNoticeLeaveOneFileAndNoTemporaries) {
  auto channel = *FileDropChannel::Create(root_ + "/drop");
  std::vector<Notice> notices;
  for (int i = 0; i < 4; ++i) notices.push_back(SampleNotice("k" + std::to_string(i)));
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(16);
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] { results[t] = channel->Deliver(notices[t % 4]); });
  }
  for (auto& thread : threads) thread.join();
  for (const absl::Status& status : results) EXPECT_TRUE(status.ok()) << status;
  std::set<std::string> expected;
  for (const Notice& n : notices) expected.insert(n.id + ".json");
  EXPECT_EQ(List(root_ + "/drop"), expected);
}

TEST_F(FileDropChannelTest, RejectsMisroutedNoticesAndUnsafeIds) {
  auto channel = *FileDropChannel::Create(root_ + "/drop", "drop-hotline");
  Notice notice = SampleNotice();
  absl::Status status = channel->Deliver(notice);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("'drop-hotline'"));

  notice.channel = "drop-hotline";
  notice.id = "../escape";
  status = channel->Deliver(notice);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(List(root_ + "/drop").empty());
  EXPECT_FALSE(fs::exists(root_ + "/escape.json"));
}

TEST_F(FileDropChannelTest, NonUtf8KeysAreWrittenReadableAndExact) {
  auto channel = *FileDropChannel::Create(root_ + "/drop");
  Notice notice =
      SampleNotice(std::string("bad\xff"
                               "key"));
  ASSERT_TRUE(channel->Deliver(notice).ok());
  Json written = Json::parse(Read(root_ + "/drop/" + notice.id + ".json"));
  EXPECT_EQ(written["object"]["key"], "bad\xEF\xBF\xBDkey");
  EXPECT_EQ(written["object"]["key_hex"], "626164ff6b6579");

  // Invalid UTF-8 put into a payload by hand is replaced too, not fatal.
  Notice raw = SampleNotice("k2");
  raw.payload["note"] = std::string("\xc3\x28");
  ASSERT_TRUE(channel->Deliver(raw).ok());
  EXPECT_EQ(Json::parse(Read(root_ + "/drop/" + raw.id + ".json"))["note"], "\xEF\xBF\xBD(");
}

TEST_F(FileDropChannelTest, CreateRemovesTemporaryFilesOfDeadWritersOnly) {
  const std::string dir = root_ + "/drop";
  ASSERT_TRUE(FileDropChannel::Create(dir).ok());
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);

  const std::string stale = ".n-aaaa.json.tmp-" + std::to_string(child) + "-0123456789abcdef";
  const std::string live = ".n-bbbb.json.tmp-" + std::to_string(::getpid()) + "-0123456789abcdef";
  const std::string other = ".not-ours";
  for (const std::string& name : {stale, live, other}) std::ofstream(dir + "/" + name) << "partial";

  ASSERT_TRUE(FileDropChannel::Create(dir).ok());
  EXPECT_EQ(List(dir), (std::set<std::string>{live, other}));
}

TEST_F(FileDropChannelTest, CreateFailsWhenPathIsAFile) {
  const std::string file = root_ + "/plain";
  std::ofstream(file) << "x";
  absl::StatusOr<std::unique_ptr<FileDropChannel>> channel = FileDropChannel::Create(file);
  ASSERT_FALSE(channel.ok());
  EXPECT_EQ(channel.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(channel.status().message()), HasSubstr(file));

  channel = FileDropChannel::Create(file + "/sub");
  ASSERT_FALSE(channel.ok());
  EXPECT_THAT(std::string(channel.status().message()), HasSubstr(file + "/sub"));
  EXPECT_THAT(std::string(channel.status().message()), HasSubstr("Not a directory"));
}

TEST_F(FileDropChannelTest, DeliverIntoVanishedDirectoryIsATransientErrorNamingThePath) {
  const std::string dir = root_ + "/drop";
  auto channel = *FileDropChannel::Create(dir);
  // The drop directory is replaced by a file (a lost mount, an operator mistake).
  fs::remove(dir);
  std::ofstream(dir) << "not a directory";
  absl::Status status = channel->Deliver(SampleNotice());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(IsTransientDeliveryError(status));
  EXPECT_THAT(std::string(status.message()), HasSubstr(dir + "/"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("Not a directory"));
}

TEST_F(FileDropChannelTest, UnwritableDirectoryIsReportedWithPathAndReason) {
  if (::geteuid() == 0) GTEST_SKIP() << "root bypasses file permissions";
  const std::string dir = root_ + "/drop";
  auto channel = *FileDropChannel::Create(dir);
  ASSERT_EQ(::chmod(dir.c_str(), 0500), 0);
  absl::Status status = channel->Deliver(SampleNotice());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(status.message()), HasSubstr(dir));
  EXPECT_THAT(std::string(status.message()), HasSubstr("Permission denied"));
  EXPECT_TRUE(List(dir).empty());

  absl::StatusOr<std::unique_ptr<FileDropChannel>> again = FileDropChannel::Create(dir);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(again.status().message()), HasSubstr(dir));
}

}  // namespace
}  // namespace takedown
