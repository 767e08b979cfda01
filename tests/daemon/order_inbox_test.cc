// The watched order inbox and the URL -> object resolver.
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "daemon/case_engine.h"
#include "daemon/inbox_scanner.h"
#include "daemon/order_intake.h"
#include "daemon/prefix_location_resolver.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/case_engine_harness.h"
#include "tests/fakes/fake_clock.h"

namespace takedown {
namespace {

namespace fs = std::filesystem;
using ::takedown::testing::AtkmInstructionJson;
using ::takedown::testing::CountKeys;
using ::takedown::testing::FakeContentAction;
using ::takedown::testing::FakeResolver;
using ::takedown::testing::NoticeKinds;
using ::takedown::testing::Pipeline;
using ::takedown::testing::TcoOrderJson;
using ::takedown::testing::TempDir;
using ::testing::HasSubstr;

constexpr char kUrl[] = "https://files.example-hosting.example/u/1.jpg";

void WriteFile(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class OrderInboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Pipeline>> p = Pipeline::Open(dir_.Sub("store"), clock_);
    ASSERT_TRUE(p.ok()) << p.status();
    p_ = std::move(*p);
    absl::StatusOr<std::unique_ptr<CaseEngine>> engine =
        CaseEngine::Create(*p_->store, *p_->audit, clock_, *p_->metrics, CaseEngineOptions{});
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    intake_ = std::make_unique<OrderIntake>(*engine_, *p_->audit, clock_, *p_->metrics, resolver_, &action_);
    InboxOptions options;
    options.directory = inbox_.string();
    options.max_file_bytes = 64 * 1024;
    absl::StatusOr<std::unique_ptr<InboxScanner>> scanner =
        InboxScanner::Create(*intake_, *p_->metrics, options);
    ASSERT_TRUE(scanner.ok()) << scanner.status();
    scanner_ = std::move(*scanner);
  }

  InboxScanResult Scan() {
    absl::StatusOr<InboxScanResult> r = scanner_->ScanOnce();
    EXPECT_TRUE(r.ok()) << r.status();
    return r.value_or(InboxScanResult{});
  }

  TempDir dir_;
  FakeClock clock_;
  const fs::path inbox_ = fs::path(dir_.path()) / "inbox";
  FakeResolver resolver_;
  FakeContentAction action_;
  std::unique_ptr<Pipeline> p_;
  std::unique_ptr<CaseEngine> engine_;
  std::unique_ptr<OrderIntake> intake_;
  std::unique_ptr<InboxScanner> scanner_;
};

TEST_F(OrderInboxTest, ValidOrderBecomesACaseAndMovesToDoneWithAReceipt) {
  ASSERT_TRUE(fs::is_directory(inbox_ / "done"));
  ASSERT_TRUE(fs::is_directory(inbox_ / "rejected"));
  WriteFile(inbox_ / "tco-1.json", TcoOrderJson("TCO-1", {kUrl}, clock_.Now()));
  WriteFile(inbox_ / ".partial.json", "{");  // being written: ignored
  WriteFile(inbox_ / "notes.txt", "not an order");

  InboxScanResult r = Scan();
  EXPECT_EQ(r.accepted, 1);
  EXPECT_EQ(r.rejected, 0);
  EXPECT_FALSE(fs::exists(inbox_ / "tco-1.json"));
  EXPECT_TRUE(fs::exists(inbox_ / "done" / "tco-1.json"));
  EXPECT_TRUE(fs::exists(inbox_ / ".partial.json"));
  EXPECT_TRUE(fs::exists(inbox_ / "notes.txt"));

  nlohmann::json receipt = nlohmann::json::parse(ReadFile(inbox_ / "done" / "tco-1.json.receipt.json"));
  EXPECT_EQ(receipt["order_reference"], "TCO-1");
  ASSERT_EQ(receipt["locations"].size(), 1u);
  EXPECT_EQ(receipt["locations"][0]["status"], "access_disabled");
  const std::string case_id = receipt["locations"][0]["case_id"];
  absl::StatusOr<Case> c = engine_->Get(case_id);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->state, CaseState::kRemoved);
  EXPECT_EQ(NoticeKinds(*p_->store, case_id)["removal_order.feedback"], 1);

  // The same order dropped again: accepted, nothing new, a free name in done/.
  WriteFile(inbox_ / "tco-1.json", TcoOrderJson("TCO-1", {kUrl}, clock_.Now()));
  EXPECT_EQ(Scan().accepted, 1);
  EXPECT_TRUE(fs::exists(inbox_ / "done" / "tco-1-2.json"));
  EXPECT_EQ(CountKeys(*p_->store, Cf::kCases), 1u);
}

TEST_F(OrderInboxTest, InvalidOrdersMoveToRejectedWithTheReason) {
  WriteFile(inbox_ / "broken.json", "{\"schema_version\": 1,");
  nlohmann::json order = nlohmann::json::parse(AtkmInstructionJson("A-1", {kUrl}, clock_.Now(), 60));
  order["secercy"] = true;
  WriteFile(inbox_ / "typo.json", order.dump());
  WriteFile(inbox_ / "huge.json", std::string(70 * 1024, ' '));
  fs::create_symlink(inbox_ / "done", inbox_ / "link.json");

  InboxScanResult r = Scan();
  EXPECT_EQ(r.accepted, 0);
  EXPECT_EQ(r.rejected, 4);
  const fs::path rejected = inbox_ / "rejected";
  EXPECT_TRUE(fs::exists(rejected / "broken.json"));
  EXPECT_THAT(ReadFile(rejected / "broken.json.error.txt"), HasSubstr("broken.json: not valid JSON"));
  EXPECT_THAT(ReadFile(rejected / "typo.json.error.txt"), HasSubstr("'secercy' is not a known field"));
  EXPECT_THAT(ReadFile(rejected / "huge.json.error.txt"), HasSubstr("at most 65536 bytes"));
  // A symbolic link is never followed: it is moved aside as it is.
  EXPECT_THAT(ReadFile(rejected / "link.json.error.txt"), HasSubstr("symbolic link"));
  EXPECT_TRUE(fs::is_symlink(rejected / "link.json"));
  EXPECT_EQ(CountKeys(*p_->store, Cf::kCases), 0u);
}

TEST_F(OrderInboxTest, SymlinkToAFileIsRejectedWithoutFollowingIt) {
  WriteFile(dir_.Sub("outside.json"), TcoOrderJson("TCO-9", {kUrl}, clock_.Now()));
  fs::create_symlink(dir_.Sub("outside.json"), inbox_ / "sneaky.json");
  InboxScanResult r = Scan();
  EXPECT_EQ(r.rejected, 1);
  EXPECT_THAT(ReadFile(inbox_ / "rejected" / "sneaky.json.error.txt"), HasSubstr("symbolic link"));
  EXPECT_EQ(CountKeys(*p_->store, Cf::kCases), 0u);
}

TEST(PrefixLocationResolver, LongestPrefixWinsAndPathsAreDecodedSafely) {
  absl::StatusOr<PrefixLocationResolver> resolver = PrefixLocationResolver::Create({
      {"https://files.example.net/", "uploads", ""},
      {"https://files.example.net/private/", "private", "p/"},
  });
  ASSERT_TRUE(resolver.ok()) << resolver.status();
  EXPECT_EQ(*resolver->Resolve("https://FILES.example.net/a%20b/c.jpg?dl=1"),
            (ResolvedLocation{"uploads", "a b/c.jpg"}));
  EXPECT_EQ(*resolver->Resolve("https://files.example.net/private/x.mp4"),
            (ResolvedLocation{"private", "p/x.mp4"}));
  EXPECT_EQ(resolver->Resolve("https://other.example/x").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(resolver->Resolve("https://files.example.net/a/%2E%2E/b").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(resolver->Resolve("https://files.example.net/bad%zz").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PrefixLocationResolver::Create({{"https://x.example/no-slash", "s", ""}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace takedown
