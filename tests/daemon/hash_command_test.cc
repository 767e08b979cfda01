#include "daemon/hash_command.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace takedown {
namespace {

const std::string kVectorDir = std::string(TAKEDOWN_SOURCE_DIR) + "/../shared/vectors/pdq";

// MANIFEST.tsv rows by file, each a map from column name to value.
std::map<std::string, std::map<std::string, std::string>> ReadManifest() {
  std::ifstream in(kVectorDir + "/MANIFEST.tsv");
  auto split = [](const std::string& line) {
    std::vector<std::string> fields;
    std::istringstream s(line);
    std::string f;
    while (std::getline(s, f, '\t')) fields.push_back(f);
    return fields;
  };
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> columns = split(line);
  std::map<std::string, std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    const std::vector<std::string> fields = split(line);
    if (fields.empty()) continue;
    for (size_t i = 0; i < columns.size() && i < fields.size(); ++i) {
      rows[fields[0]][columns[i]] = fields[i];
    }
  }
  return rows;
}

// key=value fields of one output line.
std::map<std::string, std::string> ParseLine(const std::string& line) {
  std::map<std::string, std::string> fields;
  std::istringstream in(line);
  std::string word;
  while (in >> word) {
    const size_t eq = word.find('=');
    if (eq != std::string::npos) fields[word.substr(0, eq)] = word.substr(eq + 1);
  }
  return fields;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

class HashCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hash_command_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  int Run(const std::vector<std::string>& args) {
    out_.str("");
    err_.str("");
    return RunHashCommand(args, out_, err_);
  }

  std::string dir_;
  std::ostringstream out_;
  std::ostringstream err_;
};

const std::vector<std::string> kFiles = {"bridge-mods/aaa-orig.jpg", "misc-images/c.png",
                                         "misc-images/modes/F.webp", "misc-images/modes/L.png",
                                         "reg-test-input/dih/bridge-2-rotate-90.jpg"};

TEST_F(HashCommandTest, PrintsDigestsAndPdqOfTheManifest) {
  const auto manifest = ReadManifest();
  std::vector<std::string> args;
  for (const std::string& f : kFiles) args.push_back(kVectorDir + "/images/" + f);
  ASSERT_EQ(Run(args), 0) << err_.str();
  EXPECT_EQ(err_.str(), "");
  const std::vector<std::string> lines = Lines(out_.str());
  ASSERT_EQ(lines.size(), kFiles.size());
  for (size_t i = 0; i < kFiles.size(); ++i) {
    const auto fields = ParseLine(lines[i]);
    const auto& row = manifest.at(kFiles[i]);
    EXPECT_EQ(fields.at("pdq"), row.at("pdq_hex")) << kFiles[i];
    EXPECT_EQ(fields.at("quality"), row.at("quality")) << kFiles[i];
    EXPECT_EQ(fields.at("sha256"), row.at("sha256")) << kFiles[i];
    EXPECT_EQ(fields.at("file"), args[i]);
    EXPECT_EQ(fields.at("md5").size(), 32u);
    EXPECT_EQ(fields.at("sha1").size(), 40u);
    EXPECT_EQ(fields.count("pdq_rot90"), 0u);
  }
  // Field order is part of the format.
  EXPECT_EQ(lines[0].rfind("md5=", 0), 0u);
  EXPECT_NE(lines[0].find(" sha1="), std::string::npos);
  EXPECT_LT(lines[0].find(" pdq="), lines[0].find(" quality="));
  EXPECT_LT(lines[0].find(" quality="), lines[0].find(" file="));
}

TEST_F(HashCommandTest, DihedralVariantsUseTheManifestNames) {
  const auto manifest = ReadManifest();
  const std::string file = "reg-test-input/dih/bridge-2-rotate-90.jpg";
  ASSERT_EQ(Run({"--dihedral", kVectorDir + "/images/" + file}), 0) << err_.str();
  const auto fields = ParseLine(out_.str());
  const auto& row = manifest.at(file);
  EXPECT_EQ(fields.at("pdq"), row.at("dih_orig"));
  for (const char* name : {"rot90", "rot180", "rot270", "flipx", "flipy", "flipplus1", "flipminus1"}) {
    EXPECT_EQ(fields.at(std::string("pdq_") + name), row.at(std::string("dih_") + name)) << name;
  }
}

TEST_F(HashCommandTest, NonImagesAndKnownDigests) {
  const std::string text = WriteFile("note.txt", "abc");
  ASSERT_EQ(Run({text}), 0) << err_.str();
  EXPECT_EQ(out_.str(),
            "md5=900150983cd24fb0d6963f7d28e17f72 sha1=a9993e364706816aba3e25717850c26c9cd0d89d "
            "sha256=ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad pdq=- "
            "quality=- file=" +
                text + "\n");
  ASSERT_EQ(Run({"--dihedral", text}), 0);
  const auto fields = ParseLine(out_.str());
  EXPECT_EQ(fields.at("pdq_flipminus1"), "-");
  EXPECT_EQ(fields.at("pdq_rot90"), "-");
}

TEST_F(HashCommandTest, JsonOutput) {
  const auto manifest = ReadManifest();
  const std::string text = WriteFile("empty", "");
  const std::string image = kVectorDir + "/images/" + kFiles[1];
  ASSERT_EQ(Run({"--json", "--dihedral", image, text}), 0) << err_.str();
  const nlohmann::json parsed = nlohmann::json::parse(out_.str());
  ASSERT_TRUE(parsed.is_array());
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[0]["file"], image);
  EXPECT_EQ(parsed[0]["pdq"], manifest.at(kFiles[1]).at("pdq_hex"));
  EXPECT_EQ(parsed[0]["quality"], std::stoi(manifest.at(kFiles[1]).at("quality")));
  EXPECT_EQ(parsed[0]["dihedral"]["pdq_flipy"], manifest.at(kFiles[1]).at("dih_flipy"));
  EXPECT_EQ(parsed[1]["sha256"], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_TRUE(parsed[1]["pdq"].is_null());
  EXPECT_TRUE(parsed[1]["quality"].is_null());
}

TEST_F(HashCommandTest, ErrorsNameTheFileAndSetExitCode) {
  const std::string image = kVectorDir + "/images/" + kFiles[0];
  const std::string missing = dir_ + "/missing.jpg";
  // A JPEG cut short: digests are printed, PDQ is refused.
  std::ifstream in(image, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string truncated = WriteFile("cut.jpg", bytes.substr(0, bytes.size() / 2));
  EXPECT_EQ(Run({missing, image, truncated}), 1);
  const std::vector<std::string> lines = Lines(out_.str());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(ParseLine(lines[0]).at("file"), image);
  EXPECT_EQ(ParseLine(lines[1]).at("pdq"), "-");
  EXPECT_EQ(ParseLine(lines[1]).at("file"), truncated);
  EXPECT_NE(err_.str().find(missing), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find(truncated + ": cannot compute PDQ"), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find("truncated"), std::string::npos) << err_.str();
}

TEST_F(HashCommandTest, RefusesFilesOver256MiB) {
  const std::string big = dir_ + "/big.bin";
  const int fd = open(big.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(kMaxHashFileBytes + 1)), 0);  // sparse
  close(fd);
  EXPECT_EQ(Run({big}), 1);
  EXPECT_EQ(out_.str(), "");
  EXPECT_NE(err_.str().find(big), std::string::npos);
  EXPECT_NE(err_.str().find("256 MiB"), std::string::npos);
}

TEST_F(HashCommandTest, UsageErrors) {
  EXPECT_EQ(Run({}), 2);
  EXPECT_NE(err_.str().find("usage"), std::string::npos);
  EXPECT_EQ(Run({"--mode", "slow", "x"}), 2);
  EXPECT_NE(err_.str().find("unknown mode 'slow'"), std::string::npos);
  EXPECT_EQ(Run({"--mode"}), 2);
  EXPECT_EQ(Run({"--frobnicate", "x"}), 2);
}

TEST_F(HashCommandTest, FastModeEqualsExactWhenNoReductionApplies) {
  // 1600x1004: halving would make a side shorter than 512, so fast mode
  // decodes at full size and must give the exact hash.
  const std::string image = kVectorDir + "/images/" + kFiles[0];
  ASSERT_EQ(Run({"--mode", "fast", image}), 0) << err_.str();
  EXPECT_EQ(ParseLine(out_.str()).at("pdq"), ReadManifest().at(kFiles[0]).at("pdq_hex"));
}

}  // namespace
}  // namespace takedown
