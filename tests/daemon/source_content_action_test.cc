// SourceContentAction on real sources: a filesystem tree in a temporary
// directory, and S3 buckets on the s3rver that the fixture starts around this
// binary (S3_TEST_ENDPOINT).
#include "daemon/source_content_action.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "crawler/filesystem_actions.h"
#include "crawler/filesystem_source.h"
#include "crawler/s3_client.h"
#include "crawler/s3_source.h"
#include "daemon/multi_body_digester.h"
#include "daemon/object_fingerprint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace takedown {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteFile(const fs::path& path, const std::string& data) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

class FilesystemActionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/takedown-action-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    base_ = pattern;
    root_ = base_ / "root";
    quarantine_ = base_ / "quarantine";
    fs::create_directories(root_);
    WriteFile(root_ / "u/1/photo.jpg", "listed bytes");
    WriteFile(root_ / "u/2/other.jpg", "other bytes");
    FilesystemSourceOptions options;
    options.id = "storage";
    options.root = root_.string();
    options.exclude = {"skip/**"};
    source_ = FilesystemSource::Create(options).value();
    SourceContentActionOptions action_options;
    action_options.filesystem_quarantine_dir = quarantine_.string();
    action_ = std::make_unique<SourceContentAction>(
        [this](std::string_view id) -> Source* { return id == "storage" ? source_.get() : nullptr; },
        action_options);
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(root_ / "u/1/photo.jpg", fs::perms::owner_all, ec);
    fs::remove_all(base_, ec);
  }

  fs::path base_, root_, quarantine_;
  std::unique_ptr<FilesystemSource> source_;
  std::unique_ptr<SourceContentAction> action_;
};

TEST_F(FilesystemActionTest, DeleteUnlinksTheFileAndIsIdempotent) {
  ASSERT_TRUE(action_->Execute({"storage", "u/1/photo.jpg"}, ContentActionKind::kDelete).ok());
  EXPECT_FALSE(fs::exists(root_ / "u/1/photo.jpg"));
  EXPECT_TRUE(fs::exists(root_ / "u/2/other.jpg"));
  EXPECT_TRUE(action_->Execute({"storage", "u/1/photo.jpg"}, ContentActionKind::kDelete).ok());
}

TEST_F(FilesystemActionTest, DisableTakesEveryPermissionOffAndKeepsTheBytes) {
  ASSERT_TRUE(action_->Execute({"storage", "u/1/photo.jpg"}, ContentActionKind::kDisable).ok());
  struct stat st;
  ASSERT_EQ(lstat((root_ / "u/1/photo.jpg").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0u);
  EXPECT_TRUE(action_->Execute({"storage", "u/1/photo.jpg"}, ContentActionKind::kDisable).ok());
  fs::permissions(root_ / "u/1/photo.jpg", fs::perms::owner_read);
  EXPECT_EQ(ReadAll(root_ / "u/1/photo.jpg"), "listed bytes");
  // Nothing there: disabling cannot have happened.
  EXPECT_TRUE(absl::IsNotFound(action_->Execute({"storage", "u/9/none.jpg"}, ContentActionKind::kDisable)));
}

TEST_F(FilesystemActionTest, QuarantineMovesTheFileOutOfTheTreeReadOnly) {
  ASSERT_TRUE(action_->Execute({"storage", "u/1/photo.jpg"}, ContentActionKind::kQuarantine).ok());
  const fs::path moved = quarantine_ / "storage/u/1/photo.jpg";
  EXPECT_FALSE(fs::exists(root_ / "u/1/photo.jpg"));
  ASSERT_TRUE(fs::exists(moved));
  EXPECT_EQ(ReadAll(moved), "listed bytes");
  EXPECT_EQ(fs::status(moved).permissions() & fs::perms::all, fs::perms::owner_read);
  EXPECT_EQ(fs::status(quarantine_ / "storage/u/1").permissions() & fs::perms::all, fs::perms::owner_all);
  // A retry after the move (recording it failed) is done already.
  absl::StatusOr<std::string> again = QuarantineSourceFile(*source_, "u/1/photo.jpg", quarantine_.string());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, moved.string());
}

TEST_F(FilesystemActionTest, QuarantineKeepsAnEarlierQuarantinedFileOfTheSameKey) {
  ASSERT_TRUE(action_->Execute({"storage", "u/1/photo.jpg"}, ContentActionKind::kQuarantine).ok());
  WriteFile(root_ / "u/1/photo.jpg", "uploaded again");
  absl::StatusOr<std::string> second = QuarantineSourceFile(*source_, "u/1/photo.jpg", quarantine_.string());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, (quarantine_ / "storage/u/1/photo.jpg.1").string());
  fs::permissions(quarantine_ / "storage/u/1/photo.jpg", fs::perms::owner_read);
  EXPECT_EQ(ReadAll(quarantine_ / "storage/u/1/photo.jpg"), "listed bytes");
  EXPECT_EQ(ReadAll(*second), "uploaded again");
}

TEST_F(FilesystemActionTest, QuarantineInsideTheRootOrWithoutADirectoryIsRefused) {
  absl::StatusOr<std::string> inside =
      QuarantineSourceFile(*source_, "u/1/photo.jpg", (root_ / "quarantine").string());
  ASSERT_TRUE(absl::IsInvalidArgument(inside.status())) << inside.status();
  EXPECT_THAT(std::string(inside.status().message()), HasSubstr("inside the source root"));
  EXPECT_TRUE(fs::exists(root_ / "u/1/photo.jpg"));

  SourceContentAction no_dir([this](std::string_view) -> Source* { return source_.get(); }, {});
  absl::Status refused = no_dir.Execute({"storage", "u/1/photo.jpg"}, ContentActionKind::kQuarantine);
  ASSERT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("orders.quarantine_dir"));
}

TEST_F(FilesystemActionTest, KeysOutsideTheSourceOrThroughSymlinksAreNeverTouched) {
  WriteFile(base_ / "outside/secret.txt", "not ours");
  fs::create_directory_symlink(base_ / "outside", root_ / "link");
  for (ContentActionKind kind :
       {ContentActionKind::kDelete, ContentActionKind::kDisable, ContentActionKind::kQuarantine}) {
    EXPECT_FALSE(action_->Execute({"storage", "link/secret.txt"}, kind).ok());
    EXPECT_FALSE(action_->Execute({"storage", "../outside/secret.txt"}, kind).ok());
  }
  EXPECT_EQ(ReadAll(base_ / "outside/secret.txt"), "not ours");
  EXPECT_EQ(fs::status(base_ / "outside/secret.txt").permissions() & fs::perms::owner_read,
            fs::perms::owner_read);

  WriteFile(root_ / "skip/excluded.jpg", "excluded");
  EXPECT_TRUE(absl::IsInvalidArgument(
      action_->Execute({"storage", "skip/excluded.jpg"}, ContentActionKind::kDelete)));
  EXPECT_TRUE(fs::exists(root_ / "skip/excluded.jpg"));
}

TEST_F(FilesystemActionTest, FingerprintDigestsTheObjectAndRefusesOneOverTheLimitUnread) {
  absl::StatusOr<CaseObject> object =
      FingerprintObject(*source_, "u/1/photo.jpg", MultiBodyDigesterFactory(), 1 << 20);
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_EQ(object->source_id, "storage");
  EXPECT_EQ(object->key, "u/1/photo.jpg");
  EXPECT_EQ(object->size, 12u);
  EXPECT_EQ(object->version, source_->Stat("u/1/photo.jpg")->version);
  // Known answers for "listed bytes".
  EXPECT_EQ(object->md5_hex, "d8215236fa1699a4ce353caac93ed830");
  EXPECT_EQ(object->sha256_hex, "086c60ef536a10b48b1e8a9c43aa0c2358515bbc57f0dfe20fca01b5b5576a10");
  absl::StatusOr<CaseObject> big =
      FingerprintObject(*source_, "u/1/photo.jpg", MultiBodyDigesterFactory(), 5);
  EXPECT_TRUE(absl::IsResourceExhausted(big.status())) << big.status();
  EXPECT_TRUE(absl::IsNotFound(
      FingerprintObject(*source_, "u/9/x.jpg", MultiBodyDigesterFactory(), 1 << 20).status()));
}

TEST_F(FilesystemActionTest, UnknownSourceIsNotFoundAndNamesIt) {
  absl::Status status = action_->Execute({"elsewhere", "u/1/photo.jpg"}, ContentActionKind::kDelete);
  ASSERT_TRUE(absl::IsNotFound(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("elsewhere"));
  EXPECT_TRUE(fs::exists(root_ / "u/1/photo.jpg"));
}

// ---------------------------------------------------------------- S3 (s3rver)

class S3ActionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* endpoint = std::getenv("S3_TEST_ENDPOINT");
    ASSERT_TRUE(endpoint != nullptr && *endpoint != '\0')
        << "S3_TEST_ENDPOINT is unset: run with `ctest -R daemon_source_content_action_test` (s3rver "
           "fixture)";
    S3ClientOptions client_options;
    client_options.endpoint = endpoint;
    client_options.credentials.access_key_id = "S3RVER";
    client_options.credentials.secret_access_key = "S3RVER";
    client_ = std::shared_ptr<S3Client>(S3Client::Create(client_options).value());
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char c : name)
      bucket_.push_back(std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '-');
    bucket_ = "action-" + bucket_.substr(0, 50);
    Send("CreateBucket", "PUT", "", "", {});
    Send("PutObject", "PUT", "u/1/photo.jpg", "listed bytes", {});
    S3SourceOptions options;
    options.id = "bucket";
    options.bucket = bucket_;
    options.quarantine_prefix = "quarantine/";
    source_ = S3Source::CreateWithClient(options, client_).value();
    action_ = std::make_unique<SourceContentAction>(
        [this](std::string_view id) -> Source* { return id == "bucket" ? source_.get() : nullptr; },
        SourceContentActionOptions{});
  }

  S3Response Send(const std::string& operation, const std::string& method, const std::string& key,
                  const std::string& body, std::vector<std::pair<std::string, std::string>> query) {
    S3Request request;
    request.operation = operation;
    request.method = method;
    request.bucket = bucket_;
    request.key = key;
    request.body = body;
    request.query = std::move(query);
    absl::StatusOr<S3Response> response = client_->Send(request);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : S3Response{};
  }

  std::string bucket_;
  std::shared_ptr<S3Client> client_;
  std::unique_ptr<S3Source> source_;
  std::unique_ptr<SourceContentAction> action_;
};

TEST_F(S3ActionTest, DisableTagsTheObjectAndKeepsItsOtherTags) {
  ObjectRef ref = source_->Stat("u/1/photo.jpg").value();
  ASSERT_TRUE(source_->PutTags(ref, {{"customer", "c-17"}, {"takedown-access", "open"}}).ok());
  ASSERT_TRUE(action_->Execute({"bucket", "u/1/photo.jpg"}, ContentActionKind::kDisable).ok());
  auto tags = source_->GetTags(ref).value();
  std::map<std::string, std::string> by_key(tags.begin(), tags.end());
  EXPECT_EQ(by_key,
            (std::map<std::string, std::string>{{"customer", "c-17"}, {"takedown-access", "disabled"}}));
  EXPECT_EQ(Send("GetObject", "GET", "u/1/photo.jpg", "", {}).body, "listed bytes");
}

TEST_F(S3ActionTest, QuarantineCopiesThenDeletes) {
  ASSERT_TRUE(action_->Execute({"bucket", "u/1/photo.jpg"}, ContentActionKind::kQuarantine).ok());
  EXPECT_EQ(Send("GetObject", "GET", "u/1/photo.jpg", "", {}).status, 404);
  S3Response copy = Send("GetObject", "GET", "quarantine/u/1/photo.jpg", "", {});
  EXPECT_EQ(copy.status, 200);
  EXPECT_EQ(copy.body, "listed bytes");
  // The original is gone: quarantining it again cannot be done.
  EXPECT_TRUE(
      absl::IsNotFound(action_->Execute({"bucket", "u/1/photo.jpg"}, ContentActionKind::kQuarantine)));
}

TEST_F(S3ActionTest, DeleteRemovesAndIsIdempotent) {
  ASSERT_TRUE(action_->Execute({"bucket", "u/1/photo.jpg"}, ContentActionKind::kDelete).ok());
  EXPECT_EQ(Send("GetObject", "GET", "u/1/photo.jpg", "", {}).status, 404);
  EXPECT_TRUE(action_->Execute({"bucket", "u/1/photo.jpg"}, ContentActionKind::kDelete).ok());
}

}  // namespace
}  // namespace takedown
