// The preservation vault (daemon/preservation_vault.h) and `takedownctl
// preservation` (daemon/preservation_command.h): sealed copies filed per
// case, nothing partial left behind, erasure confined to the vault, and the
// handover decrypt that writes only whole, authenticated content.
#include "daemon/preservation_vault.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/hex.h"
#include "daemon/preservation_command.h"
#include "daemon/seal_key_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "openssl/sha.h"
#include "tests/scratch_dir.h"

namespace takedown {
namespace {

using ::takedown::testing::ScratchDir;
using ::testing::HasSubstr;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string Sha256Hex(const std::string& bytes) {
  std::array<uint8_t, 32> digest{};
  SHA256(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), digest.data());
  return HexEncode(std::span<const uint8_t>(digest));
}

std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class PreservationVaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<SealKey> key = WriteNewSealKeyFile(dir_.Sub("seal.key"));
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *key;
    absl::StatusOr<std::unique_ptr<PreservationVault>> vault =
        PreservationVault::Open(dir_.Sub("vault"), key_);
    ASSERT_TRUE(vault.ok()) << vault.status();
    vault_ = std::move(*vault);
  }

  SealedContent SealString(const std::string& case_id, const std::string& content) {
    absl::StatusOr<PreservationVault::Sealing> sealing = vault_->Begin(case_id, "case " + case_id);
    EXPECT_TRUE(sealing.ok()) << sealing.status();
    if (!sealing.ok()) return {};
    EXPECT_TRUE(sealing->Append(AsBytes(content.substr(0, content.size() / 2))).ok());
    EXPECT_TRUE(sealing->Append(AsBytes(content.substr(content.size() / 2))).ok());
    absl::StatusOr<SealedContent> sealed = sealing->Commit();
    EXPECT_TRUE(sealed.ok()) << sealed.status();
    return sealed.value_or(SealedContent{});
  }

  int Run(const std::vector<std::string>& args, std::string* out = nullptr, std::string* err = nullptr) {
    std::ostringstream o, e;
    const int code = RunPreservationCommand(args, o, e);
    if (out) *out = o.str();
    if (err) *err = e.str();
    return code;
  }

  ScratchDir dir_;
  SealKey key_;
  std::unique_ptr<PreservationVault> vault_;
};

TEST_F(PreservationVaultTest, SealsPerCaseOwnerOnlyAndTheCommandDecryptsItForHandover) {
  const std::string content(200'000, 'x');
  const SealedContent first = SealString("c-1a", content);
  EXPECT_EQ(first.location, dir_.Sub("vault") + "/c-1a/1.sealed");
  EXPECT_EQ(first.bytes, content.size());
  EXPECT_EQ(first.sha256_hex, Sha256Hex(content));
  EXPECT_EQ(first.key_id, HexEncode(std::span<const uint8_t>(key_.id)));
  struct stat st;
  ASSERT_EQ(stat(first.location.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0400u);
  ASSERT_EQ(stat((dir_.Sub("vault") + "/c-1a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(ReadAll(first.location).find("xxxxxxxxxxxxxxxx"), std::string::npos);
  // A second sealing of the same case keeps the first.
  EXPECT_EQ(SealString("c-1a", "second").location, dir_.Sub("vault") + "/c-1a/2.sealed");

  std::string out, err;
  ASSERT_EQ(
      Run({"decrypt", "--key-file", dir_.Sub("seal.key"), "--out", dir_.Sub("handover.bin"), first.location},
          &out, &err),
      0)
      << err;
  EXPECT_EQ(ReadAll(dir_.Sub("handover.bin")), content);
  EXPECT_THAT(out, HasSubstr(Sha256Hex(content)));
  ASSERT_EQ(Run({"info", first.location}, &out), 0);
  EXPECT_THAT(out, HasSubstr("context case c-1a"));
  EXPECT_THAT(out, HasSubstr(first.key_id));
  // An existing output is never overwritten.
  EXPECT_EQ(
      Run({"decrypt", "--key-file", dir_.Sub("seal.key"), "--out", dir_.Sub("handover.bin"), first.location},
          nullptr, &err),
      1);
  EXPECT_THAT(err, HasSubstr("never overwritten"));
}

TEST_F(PreservationVaultTest, AnAlteredSealedFileLeavesNoOutputAndFailsLoudly) {
  const SealedContent sealed = SealString("c-2", std::string(100'000, 'y'));
  chmod(sealed.location.c_str(), 0600);
  {
    std::fstream f(sealed.location, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(80'000);
    f.put('!');
  }
  std::string err;
  EXPECT_EQ(
      Run({"decrypt", "--key-file", dir_.Sub("seal.key"), "--out", dir_.Sub("out.bin"), sealed.location},
          nullptr, &err),
      1);
  EXPECT_THAT(err, HasSubstr("fails authentication"));
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("out.bin")));
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("out.bin.partial")));
  // With another key: named, nothing written.
  ASSERT_EQ(Run({"keygen", "--out", dir_.Sub("other.key")}), 0);
  EXPECT_EQ(
      Run({"decrypt", "--key-file", dir_.Sub("other.key"), "--out", dir_.Sub("out.bin"), sealed.location},
          nullptr, &err),
      1);
  EXPECT_THAT(err, HasSubstr("sealed with key " + sealed.key_id));
  EXPECT_EQ(Run({"decrypt", sealed.location}, nullptr, &err), 2);
  EXPECT_EQ(Run({"keygen", "--out", dir_.Sub("other.key")}, nullptr, &err), 1);
  EXPECT_THAT(err, HasSubstr("never overwritten"));
}

TEST_F(PreservationVaultTest, AnAbandonedSealingLeavesNothingAndLeftoversGoAtOpen) {
  {
    absl::StatusOr<PreservationVault::Sealing> sealing = vault_->Begin("c-3", "case c-3");
    ASSERT_TRUE(sealing.ok());
    ASSERT_TRUE(sealing->Append(AsBytes("half of it")).ok());
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir_.Sub("vault") + "/c-3"));
  // A crash mid-sealing leaves a partial file; the next start removes it.
  std::ofstream(dir_.Sub("vault") + "/c-3/.partial-0011223344556677") << "cut off";
  SealString("c-3", "kept");
  ASSERT_TRUE(PreservationVault::Open(dir_.Sub("vault"), key_).ok());
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.Sub("vault") + "/c-3"))
    names.push_back(entry.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"1.sealed"});
}

TEST_F(PreservationVaultTest, FindsTheNewestSealedCopyNotYetRecorded) {
  absl::StatusOr<std::optional<SealedContent>> none = vault_->FindUnrecorded("c-5", {});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  const SealedContent first = SealString("c-5", "first");
  const SealedContent second = SealString("c-5", "second, longer");
  absl::StatusOr<std::optional<SealedContent>> found = vault_->FindUnrecorded("c-5", {first.location});
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->location, second.location);
  EXPECT_EQ((*found)->bytes, second.bytes);
  EXPECT_EQ((*found)->sha256_hex, second.sha256_hex);
  found = vault_->FindUnrecorded("c-5", {first.location, second.location});
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
  // A damaged copy is reported, never adopted.
  chmod(second.location.c_str(), 0600);
  std::ofstream(second.location, std::ios::binary | std::ios::app) << "x";
  EXPECT_TRUE(absl::IsDataLoss(vault_->FindUnrecorded("c-5", {first.location}).status()));
}

TEST_F(PreservationVaultTest, EraseRemovesOnlyVaultFilesAndIsIdempotent) {
  const SealedContent a = SealString("c-4", "a");
  const SealedContent b = SealString("c-4", "b");
  ASSERT_TRUE(vault_->Erase(a.location).ok());
  EXPECT_FALSE(std::filesystem::exists(a.location));
  EXPECT_TRUE(std::filesystem::exists(b.location));
  EXPECT_TRUE(vault_->Erase(a.location).ok());
  ASSERT_TRUE(vault_->Erase(b.location).ok());
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("vault") + "/c-4"));  // the emptied case directory goes too

  std::ofstream(dir_.Sub("outside")) << "not the vault's";
  for (const std::string& location :
       {dir_.Sub("outside"), dir_.Sub("vault") + "/../outside", dir_.Sub("vault") + "/c-4/.partial-x",
        std::string("relative/1.sealed")}) {
    EXPECT_TRUE(absl::IsInvalidArgument(vault_->Erase(location))) << location;
  }
  EXPECT_TRUE(std::filesystem::exists(dir_.Sub("outside")));
  for (const std::string& id : {std::string(), std::string("../x"), std::string("a/b"),
                                std::string(".hidden"), std::string(200, 'c')}) {
    EXPECT_TRUE(absl::IsInvalidArgument(vault_->Begin(id, "").status())) << id;
  }
  EXPECT_TRUE(absl::IsInvalidArgument(PreservationVault::Open("relative/vault", key_).status()));
}

}  // namespace
}  // namespace takedown
