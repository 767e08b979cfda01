// FilesystemSource::Stat: the ref of one key, exactly as List() gives it, and
// the keys List() would never give refused with the reason.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "crawler/filesystem_source.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace takedown {
namespace {

using ::testing::HasSubstr;

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/takedown_fs_stat_test_XXXXXX";
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
  ASSERT_TRUE(out.good()) << path;
}

class Collect : public ListingSink {
 public:
  bool OnObject(ObjectRef ref) override {
    objects.emplace(ref.key, ref);
    return true;
  }
  void OnSkipped(std::string_view, std::string_view) override {}
  std::map<std::string, ObjectRef> objects;
};

std::unique_ptr<FilesystemSource> Make(const std::string& root, std::vector<std::string> include = {"**"},
                                       std::vector<std::string> exclude = {}) {
  FilesystemSourceOptions options;
  options.id = "disk";
  options.root = root;
  options.include = std::move(include);
  options.exclude = std::move(exclude);
  absl::StatusOr<std::unique_ptr<FilesystemSource>> source = FilesystemSource::Create(options);
  EXPECT_TRUE(source.ok()) << source.status();
  return source.ok() ? std::move(*source) : nullptr;
}

class FilesystemStatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_ / "root";
    WriteFile(root_ + "/a.jpg", "alpha");
    WriteFile(root_ + "/sub/deeper/b.png", "bravo bravo");
    WriteFile(root_ + "/sub/notes.txt", "charlie");
    WriteFile(root_ + "/tmp/c.jpg", "delta");
    WriteFile(dir_ / "outside/secret.jpg", "secret");
    ASSERT_EQ(symlink("a.jpg", (root_ + "/link.jpg").c_str()), 0);
    ASSERT_EQ(symlink((dir_ / "outside").c_str(), (root_ + "/away").c_str()), 0);
    ASSERT_EQ(symlink("sub", (root_ + "/subalias").c_str()), 0);
    ASSERT_EQ(mkfifo((root_ + "/pipe.jpg").c_str(), 0600), 0);
  }

  TempDir dir_;
  std::string root_;
};

TEST_F(FilesystemStatTest, GivesTheSameRefAsTheListing) {
  std::unique_ptr<FilesystemSource> source = Make(root_);
  ASSERT_NE(source, nullptr);
  Collect listed;
  ASSERT_TRUE(source->List("", listed).ok());
  ASSERT_EQ(listed.objects.size(), 4u);
  for (const auto& [key, ref] : listed.objects) {
    absl::StatusOr<ObjectRef> stat = source->Stat(key);
    ASSERT_TRUE(stat.ok()) << key << ": " << stat.status();
    EXPECT_EQ(stat->source_id, "disk");
    EXPECT_EQ(stat->key, key);
    EXPECT_EQ(stat->version, ref.version) << key;
    EXPECT_EQ(stat->size, ref.size) << key;
  }
  absl::StatusOr<ObjectRef> b = source->Stat("sub/deeper/b.png");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->size, 11u);
}

TEST_F(FilesystemStatTest, TakesAnAbsolutePathUnderTheRoot) {
  std::unique_ptr<FilesystemSource> source = Make(root_);
  absl::StatusOr<ObjectRef> stat = source->Stat(source->root() + "/sub/notes.txt");
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_EQ(stat->key, "sub/notes.txt");
  EXPECT_EQ(stat->size, 7u);
}

TEST_F(FilesystemStatTest, VersionFollowsAModification) {
  std::unique_ptr<FilesystemSource> source = Make(root_);
  absl::StatusOr<ObjectRef> before = source->Stat("a.jpg");
  ASSERT_TRUE(before.ok());
  WriteFile(root_ + "/a.jpg", "alpha, longer now");
  absl::StatusOr<ObjectRef> after = source->Stat("a.jpg");
  ASSERT_TRUE(after.ok());
  EXPECT_NE(after->version, before->version);
  EXPECT_EQ(after->size, 17u);
}

TEST_F(FilesystemStatTest, RefusesKeysOutsideTheRoot) {
  std::unique_ptr<FilesystemSource> source = Make(root_);
  struct Case {
    std::string key;
    std::string why;
  };
  for (const Case& c : std::vector<Case>{
           {"../outside/secret.jpg", "'..' component"},
           {"sub/../../outside/secret.jpg", "'..' component"},
           {dir_ / "outside/secret.jpg", "is outside the source root"},
           {"/etc/passwd", "is outside the source root"},
           {"", "it is empty"},
           {"sub//notes.txt", "empty or '.' component"},
           {"./a.jpg", "empty or '.' component"},
       }) {
    absl::StatusOr<ObjectRef> stat = source->Stat(c.key);
    ASSERT_FALSE(stat.ok()) << c.key;
    EXPECT_EQ(stat.status().code(), absl::StatusCode::kInvalidArgument) << c.key;
    EXPECT_THAT(std::string(stat.status().message()), HasSubstr(c.why)) << c.key;
  }
}

TEST_F(FilesystemStatTest, NeverGoesThroughASymlink) {
  std::unique_ptr<FilesystemSource> source = Make(root_);
  for (const char* key : {"link.jpg", "away/secret.jpg", "subalias/notes.txt"}) {
    absl::StatusOr<ObjectRef> stat = source->Stat(key);
    ASSERT_FALSE(stat.ok()) << key;
    EXPECT_EQ(stat.status().code(), absl::StatusCode::kFailedPrecondition) << key;
    EXPECT_THAT(std::string(stat.status().message()), HasSubstr("symbolic link")) << key;
  }
}

TEST_F(FilesystemStatTest, RefusesWhatTheGlobsDoNotSelect) {
  std::unique_ptr<FilesystemSource> source = Make(root_, {"**/*.jpg", "**/*.png"}, {"tmp"});
  absl::StatusOr<ObjectRef> txt = source->Stat("sub/notes.txt");
  ASSERT_FALSE(txt.ok());
  EXPECT_EQ(txt.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(txt.status().message()), HasSubstr("globs do not select it"));

  // The exclude prunes the directory, so the listing never reaches the file
  // even though the file name alone matches an include.
  absl::StatusOr<ObjectRef> pruned = source->Stat("tmp/c.jpg");
  ASSERT_FALSE(pruned.ok());
  EXPECT_EQ(pruned.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(pruned.status().message()), HasSubstr("directory 'tmp' is excluded"));

  Collect listed;
  ASSERT_TRUE(source->List("", listed).ok());
  EXPECT_EQ(listed.objects.count("tmp/c.jpg"), 0u);
  EXPECT_TRUE(source->Stat("sub/deeper/b.png").ok());
}

TEST_F(FilesystemStatTest, MissingIsNotFound) {
  std::unique_ptr<FilesystemSource> source = Make(root_);
  for (const char* key : {"nope.jpg", "sub/nope/b.png", "a.jpg/inside"}) {
    absl::StatusOr<ObjectRef> stat = source->Stat(key);
    ASSERT_FALSE(stat.ok()) << key;
    EXPECT_EQ(stat.status().code(), absl::StatusCode::kNotFound) << key << ": " << stat.status();
    EXPECT_THAT(std::string(stat.status().message()), HasSubstr("no such file"));
  }
  ASSERT_TRUE(fs::remove(root_ + "/a.jpg"));
  EXPECT_EQ(source->Stat("a.jpg").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(FilesystemStatTest, RefusesDirectoriesAndSpecialFiles) {
  std::unique_ptr<FilesystemSource> source = Make(root_);
  absl::StatusOr<ObjectRef> dir = source->Stat("sub");
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(dir.status().message()), HasSubstr("is a directory"));

  absl::StatusOr<ObjectRef> fifo = source->Stat("pipe.jpg");
  ASSERT_FALSE(fifo.ok());
  EXPECT_EQ(fifo.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(fifo.status().message()), HasSubstr("special file: fifo"));
}

TEST_F(FilesystemStatTest, RefusesKeysDeeperThanTheListingGoes) {
  std::unique_ptr<FilesystemSource> source = Make(root_);
  std::string key;
  for (int i = 0; i <= FilesystemSource::kMaxDepth; ++i) key += "d/";
  key += "f.jpg";
  absl::StatusOr<ObjectRef> stat = source->Stat(key);
  ASSERT_FALSE(stat.ok());
  EXPECT_EQ(stat.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(stat.status().message()), HasSubstr("nested deeper"));
}

}  // namespace
}  // namespace takedown
