// MakeSource and MakeNoticeChannels: config entries become the right
// components, and configuration mistakes give errors that name the source or
// channel and what to fix.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "daemon/notice_channels.h"
#include "daemon/source_factory.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/pipeline_harness.h"

namespace takedown::testing {
namespace {

using ::testing::HasSubstr;

void WriteFile(const std::string& path, const std::string& content, mode_t mode) {
  std::ofstream(path) << content;
  ASSERT_EQ(chmod(path.c_str(), mode), 0);
}

TEST(MakeSourceTest, BuildsEachTypeWithItsId) {
  TempDir dir;
  SourceConfig fs;
  fs.id = "disk";
  fs.type = "filesystem";
  fs.filesystem.root = dir.path();
  absl::StatusOr<SourcePtr> disk = MakeSource(fs);
  ASSERT_TRUE(disk.ok()) << disk.status();
  EXPECT_EQ((*disk)->id(), "disk");

  WriteFile(dir.Sub("urls.txt"), "# reported\nhttps://example.invalid/a.jpg\n", 0644);
  SourceConfig urls;
  urls.id = "reported";
  urls.type = "url_list";
  urls.url_list.file = dir.Sub("urls.txt");
  absl::StatusOr<SourcePtr> list = MakeSource(urls);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ((*list)->id(), "reported");

  WriteFile(dir.Sub("s3-credentials"), "access_key_id=AKIDEXAMPLE\nsecret_access_key=wJalrXUtnFEMI\n", 0600);
  SourceConfig s3;
  s3.id = "bucket";
  s3.type = "s3";
  s3.s3.endpoint = "http://127.0.0.1:9";
  s3.s3.bucket = "data";
  s3.s3.credentials_file = dir.Sub("s3-credentials");
  absl::StatusOr<SourcePtr> bucket = MakeSource(s3);
  ASSERT_TRUE(bucket.ok()) << bucket.status();
  EXPECT_EQ((*bucket)->id(), "bucket");
}

TEST(MakeSourceTest, ErrorsNameTheSource) {
  TempDir dir;
  SourceConfig s3;
  s3.id = "bucket";
  s3.type = "s3";
  s3.s3.endpoint = "http://127.0.0.1:9";
  s3.s3.bucket = "data";
  s3.s3.credentials_file = dir.Sub("missing");
  absl::StatusOr<SourcePtr> bucket = MakeSource(s3);
  ASSERT_FALSE(bucket.ok());
  EXPECT_THAT(std::string(bucket.status().message()), HasSubstr("source bucket"));

  SourceConfig fs;
  fs.id = "disk";
  fs.type = "filesystem";
  fs.filesystem.root = dir.Sub("absent");
  absl::StatusOr<SourcePtr> disk = MakeSource(fs);
  ASSERT_FALSE(disk.ok());
  EXPECT_THAT(std::string(disk.status().message()), HasSubstr("source disk"));

  SourceConfig other;
  other.id = "x";
  other.type = "gcs";
  EXPECT_THAT(std::string(MakeSource(other).status().message()), HasSubstr("use filesystem, s3 or url_list"));
}

TEST(MakeNoticeChannelsTest, BuildsChannelsInConfigOrderWithTheirNames) {
  TempDir dir;
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  WriteFile(dir.Sub("secret"), "0123456789abcdef0123\n", 0600);
  WriteFile(dir.Sub("password"), "hunter2hunter2\n", 0600);
  NoticesConfig config;
  config.file_drop = FileDropConfig{dir.Sub("drop")};
  config.webhooks.push_back(WebhookConfig{"hook", "http://127.0.0.1:9/notices", dir.Sub("secret"), ""});
  SmtpConfig mail;
  mail.name = "mail";
  mail.url = "smtp://127.0.0.1:9";
  mail.starttls = "none";
  mail.username = "takedownd";
  mail.password_file = dir.Sub("password");
  mail.from = "takedownd@example.net";
  mail.to = {"abuse@example.net"};
  mail.languages = {"en"};
  config.smtp.push_back(mail);
  absl::StatusOr<std::vector<NoticeChannelPtr>> channels = MakeNoticeChannels(config, clock);
  ASSERT_TRUE(channels.ok()) << channels.status();
  ASSERT_EQ(channels->size(), 3u);
  EXPECT_EQ((*channels)[0]->name(), "file_drop");
  EXPECT_EQ((*channels)[1]->name(), "hook");
  EXPECT_EQ((*channels)[2]->name(), "mail");
}

TEST(MakeNoticeChannelsTest, RefusesASecretOthersCanReadAndNeverShowsIt) {
  TempDir dir;
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  WriteFile(dir.Sub("secret"), "0123456789abcdef-very-secret\n", 0644);
  NoticesConfig config;
  config.webhooks.push_back(WebhookConfig{"hook", "http://127.0.0.1:9/notices", dir.Sub("secret"), ""});
  absl::StatusOr<std::vector<NoticeChannelPtr>> channels = MakeNoticeChannels(config, clock);
  ASSERT_FALSE(channels.ok());
  const std::string message(channels.status().message());
  EXPECT_THAT(message, HasSubstr("notices.webhooks 'hook'"));
  EXPECT_THAT(message, HasSubstr("chmod 600"));
  EXPECT_THAT(message, ::testing::Not(HasSubstr("very-secret")));

  // A secret too short for HMAC is refused by the channel, with the channel named.
  WriteFile(dir.Sub("short"), "short\n", 0600);
  config.webhooks[0].secret_file = dir.Sub("short");
  channels = MakeNoticeChannels(config, clock);
  ASSERT_FALSE(channels.ok());
  EXPECT_THAT(std::string(channels.status().message()), HasSubstr("notices.webhooks 'hook'"));
}

}  // namespace
}  // namespace takedown::testing
