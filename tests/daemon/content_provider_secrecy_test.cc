// The content provider is informed after a removal unless the order imposes
// secrecy (TCO Art. 11); when the order says when its secrecy ends, the
// engine informs them then (a persistent secrecy_end timer), once.
#include <memory>
#include <string>

#include "daemon/case_engine.h"
#include "daemon/order_intake.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "notices/content_provider_notice.h"
#include "tests/daemon/case_engine_harness.h"
#include "tests/fakes/fake_clock.h"

namespace takedown {
namespace {

using ::takedown::testing::AuditActionCounts;
using ::takedown::testing::FakeContentAction;
using ::takedown::testing::FakeResolver;
using ::takedown::testing::NoticeKinds;
using ::takedown::testing::Pipeline;
using ::takedown::testing::StoredTimersOf;
using ::takedown::testing::TcoOrderJson;
using ::takedown::testing::TempDir;

constexpr char kUrl[] = "https://files.example-hosting.example/u/8812/a.jpg";
constexpr std::string_view kInformation = kTcoContentProviderNoticeKind;

class ContentProviderSecrecyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Pipeline>> p = Pipeline::Open(dir_.Sub("store"), clock_);
    ASSERT_TRUE(p.ok()) << p.status();
    p_ = std::move(*p);
    MakeEngine();
  }

  // Also a restart: a new engine over the same store.
  void MakeEngine() {
    CaseEngineOptions options;
    options.content_provider_channel = "customers";
    options.content_provider.provider_name = "Example Hosting B.V.";
    options.content_provider.complaint_contact = "https://hosting.example/complaints";
    absl::StatusOr<std::unique_ptr<CaseEngine>> engine =
        CaseEngine::Create(*p_->store, *p_->audit, clock_, *p_->metrics, std::move(options));
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    intake_ = std::make_unique<OrderIntake>(*engine_, *p_->audit, clock_, *p_->metrics, resolver_, &action_,
                                            OrderIntakeOptions{});
  }

  // A TCO order with secrecy, ending at `until` when given.
  std::string SecretOrder(const std::string& reference, std::optional<absl::Time> until) {
    nlohmann::json order = nlohmann::json::parse(TcoOrderJson(reference, {kUrl}, clock_.Now()));
    order["secrecy"] = true;
    if (until) order["secrecy_until"] = TimeToJson(*until);
    return order.dump();
  }

  std::string Submit(const std::string& json) {
    absl::StatusOr<OrderReceipt> receipt = intake_->Submit(json, "order.json", "api:authority");
    EXPECT_TRUE(receipt.ok()) << receipt.status();
    if (!receipt.ok() || receipt->locations.empty()) return "";
    EXPECT_EQ(receipt->locations[0].status, OrderLocationResult::Status::kAccessDisabled);
    return receipt->locations[0].case_id;
  }

  int SecrecyTimers(const std::string& case_id) {
    int n = 0;
    for (const Timer& t : StoredTimersOf(*p_->store, case_id)) n += t.kind == TimerKind::kSecrecyEnd;
    return n;
  }

  TempDir dir_;
  FakeClock clock_{absl::FromCivil(absl::CivilSecond(2027, 3, 10, 9, 0, 0), absl::UTCTimeZone())};
  FakeResolver resolver_;
  FakeContentAction action_;
  std::unique_ptr<Pipeline> p_;
  std::unique_ptr<CaseEngine> engine_;
  std::unique_ptr<OrderIntake> intake_;
};

TEST_F(ContentProviderSecrecyTest, InformedWhenTheSecrecyTheOrderSetEndsAndOnlyThen) {
  const absl::Time until = clock_.Now() + absl::Hours(24 * 14);
  const std::string id = Submit(SecretOrder("TCO-S-1", until));
  EXPECT_EQ(NoticeKinds(*p_->store, id).count(std::string(kInformation)), 0u);
  EXPECT_EQ(AuditActionCounts(*p_->audit)["content_provider.withheld"], 1);
  EXPECT_EQ(SecrecyTimers(id), 1);

  // Still secret a minute before; the timer survives closing the case and a restart.
  absl::StatusOr<Case> closed = engine_->Transition(id, CaseState::kClosed, "api:operator", "handled");
  ASSERT_TRUE(closed.ok()) << closed.status();
  clock_.Advance(absl::Hours(24 * 14) - absl::Minutes(1));
  MakeEngine();
  ASSERT_TRUE(engine_->FireDue().ok());
  EXPECT_EQ(NoticeKinds(*p_->store, id).count(std::string(kInformation)), 0u);

  clock_.Advance(absl::Minutes(2));
  ASSERT_TRUE(engine_->FireDue().ok());
  EXPECT_EQ(NoticeKinds(*p_->store, id)[std::string(kInformation)], 1);
  EXPECT_EQ(SecrecyTimers(id), 0);
  clock_.Advance(absl::Hours(1));
  ASSERT_TRUE(engine_->FireDue().ok());
  EXPECT_EQ(NoticeKinds(*p_->store, id)[std::string(kInformation)], 1);
}

TEST_F(ContentProviderSecrecyTest, SecrecyWithoutAnEndWithholdsWithoutATimerAndNoSecrecyInformsAtOnce) {
  const std::string secret = Submit(SecretOrder("TCO-S-2", std::nullopt));
  EXPECT_EQ(NoticeKinds(*p_->store, secret).count(std::string(kInformation)), 0u);
  EXPECT_EQ(SecrecyTimers(secret), 0);
  EXPECT_EQ(AuditActionCounts(*p_->audit)["content_provider.withheld"], 1);

  const std::string open = Submit(TcoOrderJson("TCO-S-3", {kUrl}, clock_.Now()));
  EXPECT_EQ(NoticeKinds(*p_->store, open)[std::string(kInformation)], 1);
  EXPECT_EQ(SecrecyTimers(open), 0);
}

}  // namespace
}  // namespace takedown
