// Preservation of removed content (TCO Art. 6) through the order intake and
// the case engine, with a fake clock: sealed before the delete, listed on the
// case with its retention date, erased (audited) when the preservation
// period ends; never destroyed unsealed.
#include <filesystem>
#include <memory>
#include <string>

#include "daemon/case_engine.h"
#include "daemon/order_intake.h"
#include "daemon/preservation_vault.h"
#include "daemon/sealed_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/case_engine_harness.h"
#include "tests/fakes/fake_clock.h"

namespace takedown {
namespace {

using ::takedown::testing::AtkmInstructionJson;
using ::takedown::testing::AuditActionCounts;
using ::takedown::testing::FakeContentAction;
using ::takedown::testing::FakeResolver;
using ::takedown::testing::Pipeline;
using ::takedown::testing::ReadAudit;
using ::takedown::testing::TcoOrderJson;
using ::takedown::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kContent[] = "bytes of the removed object";
constexpr char kUrl[] = "https://files.example-hosting.example/u/8812/a.jpg";

class OrderPreservationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Pipeline>> p = Pipeline::Open(dir_.Sub("store"), clock_);
    ASSERT_TRUE(p.ok()) << p.status();
    p_ = std::move(*p);
    std::array<uint8_t, kSealKeyBytes> bytes{};
    bytes.fill(0x42);
    key_ = MakeSealKey(bytes);
    absl::StatusOr<std::unique_ptr<PreservationVault>> vault =
        PreservationVault::Open(dir_.Sub("vault"), key_);
    ASSERT_TRUE(vault.ok()) << vault.status();
    vault_ = std::move(*vault);
  }

  void Make(ContentActionKind action, bool with_vault) {
    CaseEngineOptions options;
    if (with_vault) {
      options.erase_preserved = [this](const std::string& location) -> absl::Status {
        if (!erase_failure_.ok()) return erase_failure_;
        return vault_->Erase(location);
      };
    }
    absl::StatusOr<std::unique_ptr<CaseEngine>> engine =
        CaseEngine::Create(*p_->store, *p_->audit, clock_, *p_->metrics, std::move(options));
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    OrderIntakeOptions intake;
    intake.action = action;
    intake.vault = with_vault ? vault_.get() : nullptr;
    // Reads "the object" as the daemon's FingerprintObject does: every byte
    // through the tee.
    intake.fingerprint = [this](const ContentTarget& target,
                                const ByteTee& tee) -> absl::StatusOr<CaseObject> {
      const std::string content = kContent;
      if (tee) {
        for (size_t at = 0; at < content.size(); at += 5) {
          const std::string piece = content.substr(at, 5);
          absl::Status teed = tee({reinterpret_cast<const uint8_t*>(piece.data()), piece.size()});
          if (!teed.ok()) return teed;
        }
      }
      if (!read_failure_.ok()) return read_failure_;
      CaseObject object;
      object.source_id = target.source_id;
      object.key = target.key;
      object.size = content.size();
      object.sha256_hex = std::string(64, 'e');
      return object;
    };
    intake_ = std::make_unique<OrderIntake>(*engine_, *p_->audit, clock_, *p_->metrics, resolver_, &action_,
                                            intake);
  }

  Case Submit(const std::string& json) {
    absl::StatusOr<OrderReceipt> receipt = intake_->Submit(json, "order.json", "api:authority");
    EXPECT_TRUE(receipt.ok()) << receipt.status();
    if (!receipt.ok() || receipt->locations.empty()) return Case{};
    absl::StatusOr<Case> c = engine_->Get(receipt->locations[0].case_id);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.value_or(Case{});
  }

  Case Get(const std::string& id) {
    absl::StatusOr<Case> c = engine_->Get(id);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.value_or(Case{});
  }

  std::string Decrypt(const std::string& location) {
    std::string out;
    absl::Status opened = OpenSealedFile(location, key_, [&](std::span<const uint8_t> chunk) {
      out.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
      return absl::OkStatus();
    });
    EXPECT_TRUE(opened.ok()) << opened;
    return out;
  }

  std::string LastAuditDetail(const std::string& action, const std::string& field) {
    std::string value;
    for (const AuditRecord& r : ReadAudit(*p_->audit)) {
      if (r.action == action && r.details.contains(field)) value = r.details[field].dump();
    }
    return value;
  }

  TempDir dir_;
  FakeClock clock_{absl::FromCivil(absl::CivilSecond(2027, 3, 10, 9, 0, 0), absl::UTCTimeZone())};
  FakeResolver resolver_;
  FakeContentAction action_;
  SealKey key_;
  std::unique_ptr<PreservationVault> vault_;
  std::unique_ptr<Pipeline> p_;
  std::unique_ptr<CaseEngine> engine_;
  std::unique_ptr<OrderIntake> intake_;
  absl::Status read_failure_;
  absl::Status erase_failure_;
};

TEST_F(OrderPreservationTest, TcoDeleteSealsFirstAndThePreservationTimerErasesTheSealedCopy) {
  Make(ContentActionKind::kDelete, /*with_vault=*/true);
  const absl::Time received = clock_.Now();
  const Case removed = Submit(TcoOrderJson("TCO-P-1", {kUrl}, received));
  EXPECT_EQ(removed.state, CaseState::kRemoved);
  EXPECT_EQ(removed.terms.removal, kRemovalRemoved);
  EXPECT_THAT(action_.done, ElementsAre("delete uploads:u/8812/a.jpg"));
  ASSERT_EQ(removed.terms.preserved.size(), 1u);
  const PreservedContent& sealed = removed.terms.preserved[0];
  EXPECT_EQ(sealed.location, dir_.Sub("vault") + "/" + removed.id + "/1.sealed");
  EXPECT_EQ(sealed.bytes, sizeof(kContent) - 1);
  EXPECT_EQ(sealed.preserved_at, received);
  EXPECT_EQ(sealed.retain_until, received + absl::Hours(24 * 184));  // TCO: 184 days
  EXPECT_EQ(sealed.erased_at, absl::InfinitePast());
  EXPECT_EQ(Decrypt(sealed.location), kContent);
  absl::StatusOr<SealedFileInfo> info = ReadSealedFileInfo(sealed.location);
  ASSERT_TRUE(info.ok());
  EXPECT_THAT(info->context, HasSubstr("order TCO-P-1"));
  EXPECT_EQ(AuditActionCounts(*p_->audit)["case.content_preserved"], 1);

  // Kept through the period, across a restart of the engine...
  clock_.Advance(absl::Hours(24 * 184) - absl::Minutes(1));
  Make(ContentActionKind::kDelete, /*with_vault=*/true);
  ASSERT_TRUE(engine_->FireDue().ok());
  EXPECT_TRUE(std::filesystem::exists(sealed.location));
  // ...and erased when it ends, with the evidence.
  clock_.Advance(absl::Minutes(2));
  ASSERT_TRUE(engine_->FireDue().ok());
  EXPECT_FALSE(std::filesystem::exists(sealed.location));
  const Case purged = Get(removed.id);
  ASSERT_EQ(purged.terms.preserved.size(), 1u);
  EXPECT_EQ(purged.terms.preserved[0].erased_at, clock_.Now());
  EXPECT_NE(purged.terms.purged_at, absl::InfinitePast());
  std::map<std::string, int> audit = AuditActionCounts(*p_->audit);
  EXPECT_EQ(audit["case.purge"], 1);
  EXPECT_EQ(audit["case.preserved_erased"], 1);
}

TEST_F(OrderPreservationTest, ContentThatMustBeKeptIsNeverDeletedUnsealed) {
  // No vault: the delete becomes a disable, and the audit says why.
  Make(ContentActionKind::kDelete, /*with_vault=*/false);
  Case c = Submit(TcoOrderJson("TCO-P-2", {kUrl}, clock_.Now()));
  EXPECT_EQ(c.state, CaseState::kRemoved);
  EXPECT_EQ(c.terms.removal, kRemovalAccessDisabled);
  EXPECT_TRUE(c.terms.preserved.empty());
  EXPECT_THAT(action_.done, ElementsAre("disable uploads:u/8812/a.jpg"));
  EXPECT_THAT(LastAuditDetail("order.preservation_failed", "error"), HasSubstr("no preservation vault"));

  // The read fails mid-way: nothing half-sealed stays, access is disabled.
  action_.done.clear();
  read_failure_ = absl::UnavailableError("disk went away");
  Make(ContentActionKind::kDelete, /*with_vault=*/true);
  c = Submit(TcoOrderJson("TCO-P-3", {kUrl}, clock_.Now()));
  EXPECT_EQ(c.terms.removal, kRemovalAccessDisabled);
  EXPECT_THAT(action_.done, ElementsAre("disable uploads:u/8812/a.jpg"));
  EXPECT_THAT(LastAuditDetail("order.preservation_failed", "error"), HasSubstr("disk went away"));
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("vault") + "/" + c.id + "/1.sealed"));

  // The action fails after sealing: the sealed copy goes, the case stays
  // notified, and executing again seals afresh.
  read_failure_ = absl::OkStatus();
  action_.failure = absl::UnavailableError("bucket unavailable");
  c = Submit(TcoOrderJson("TCO-P-4", {kUrl}, clock_.Now()));
  EXPECT_EQ(c.state, CaseState::kNotified);
  EXPECT_TRUE(c.terms.preserved.empty());
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("vault") + "/" + c.id + "/1.sealed"));
  action_.failure = absl::OkStatus();
  absl::StatusOr<Case> executed = intake_->Execute(c.id, "api:operator");
  ASSERT_TRUE(executed.ok()) << executed.status();
  ASSERT_EQ(executed->terms.preserved.size(), 1u);
  EXPECT_EQ(Decrypt(executed->terms.preserved[0].location), kContent);
}

TEST_F(OrderPreservationTest, ACopySealedBeforeACrashIsAdoptedWhenTheContentIsAlreadyGone) {
  Make(ContentActionKind::kDelete, /*with_vault=*/true);
  action_.failure = absl::UnavailableError("bucket unavailable");
  const Case pending = Submit(TcoOrderJson("TCO-P-7", {kUrl}, clock_.Now()));
  ASSERT_EQ(pending.state, CaseState::kNotified);
  // As if an attempt sealed the content and deleted it, and the daemon died
  // before recording the removal.
  absl::StatusOr<PreservationVault::Sealing> sealing = vault_->Begin(pending.id, "earlier attempt");
  ASSERT_TRUE(sealing.ok());
  const std::string earlier = "the content as it was sealed";
  ASSERT_TRUE(sealing->Append({reinterpret_cast<const uint8_t*>(earlier.data()), earlier.size()}).ok());
  ASSERT_TRUE(sealing->Commit().ok());
  action_.failure = absl::OkStatus();
  read_failure_ = absl::NotFoundError("no such object");

  absl::StatusOr<Case> executed = intake_->Execute(pending.id, "api:operator");
  ASSERT_TRUE(executed.ok()) << executed.status();
  EXPECT_EQ(executed->terms.removal, kRemovalRemoved);
  ASSERT_EQ(executed->terms.preserved.size(), 1u);
  EXPECT_EQ(executed->terms.preserved[0].bytes, earlier.size());
  EXPECT_EQ(Decrypt(executed->terms.preserved[0].location), earlier);
  EXPECT_THAT(action_.done, ElementsAre("delete uploads:u/8812/a.jpg"));
  EXPECT_EQ(AuditActionCounts(*p_->audit)["order.preservation_failed"], 0);
}

TEST_F(OrderPreservationTest, QuarantineSealsUnderTcoButLeavesCsamToTheSourceAndKeepsNone) {
  Make(ContentActionKind::kQuarantine, /*with_vault=*/true);
  Case tco = Submit(TcoOrderJson("TCO-P-5", {kUrl}, clock_.Now()));
  EXPECT_EQ(tco.terms.removal, kRemovalRemoved);
  ASSERT_EQ(tco.terms.preserved.size(), 1u);
  EXPECT_THAT(action_.done, ElementsAre("delete uploads:u/8812/a.jpg"));

  // nl-csam-instruction preserves no content: the source's quarantine acts
  // and nothing enters the vault.
  action_.done.clear();
  Case csam = Submit(AtkmInstructionJson("ATKM-P-1", {kUrl}, clock_.Now(), 60));
  EXPECT_EQ(csam.terms.removal, kRemovalAccessDisabled);
  EXPECT_TRUE(csam.terms.preserved.empty());
  EXPECT_THAT(action_.done, ElementsAre("quarantine uploads:u/8812/a.jpg"));
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("vault") + "/" + csam.id));
}

TEST_F(OrderPreservationTest, AnEraseThatFailsIsAuditedAndRetriedHourlyUntilItSucceeds) {
  Make(ContentActionKind::kDelete, /*with_vault=*/true);
  const Case removed = Submit(TcoOrderJson("TCO-P-6", {kUrl}, clock_.Now()));
  ASSERT_EQ(removed.terms.preserved.size(), 1u);
  erase_failure_ = absl::PermissionDeniedError("read-only file system");
  clock_.Advance(absl::Hours(24 * 184) + absl::Seconds(1));
  ASSERT_TRUE(engine_->FireDue().ok());
  EXPECT_TRUE(std::filesystem::exists(removed.terms.preserved[0].location));
  EXPECT_EQ(Get(removed.id).terms.preserved[0].erased_at, absl::InfinitePast());
  EXPECT_THAT(LastAuditDetail("case.preserved_erase_failed", "error"), HasSubstr("read-only"));

  erase_failure_ = absl::OkStatus();
  clock_.Advance(absl::Minutes(59));
  ASSERT_TRUE(engine_->FireDue().ok());
  EXPECT_TRUE(std::filesystem::exists(removed.terms.preserved[0].location));
  clock_.Advance(absl::Minutes(2));
  ASSERT_TRUE(engine_->FireDue().ok());
  EXPECT_FALSE(std::filesystem::exists(removed.terms.preserved[0].location));
  EXPECT_NE(Get(removed.id).terms.preserved[0].erased_at, absl::InfinitePast());
  std::map<std::string, int> audit = AuditActionCounts(*p_->audit);
  EXPECT_EQ(audit["case.preserved_erased"], 1);
  EXPECT_EQ(audit["case.preserved_erase_failed"], 1);
  EXPECT_EQ(audit["case.purge"], 1);  // the evidence went once; the retry only erased
}

}  // namespace
}  // namespace takedown
