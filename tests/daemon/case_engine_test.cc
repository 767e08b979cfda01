#include "daemon/case_engine.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "daemon/compliance_stats.h"
#include "daemon/order_intake.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "notices/deadline_schedule.h"
#include "notices/enforcement_document.h"
#include "tests/daemon/case_engine_harness.h"
#include "tests/fakes/fake_clock.h"

namespace takedown {
namespace {

using ::takedown::testing::AtkmInstructionJson;
using ::takedown::testing::AuditActionCounts;
using ::takedown::testing::AuditedTransitions;
using ::takedown::testing::CountKeys;
using ::takedown::testing::DigestsOf;
using ::takedown::testing::EntryFor;
using ::takedown::testing::ExpectAuditChainIntact;
using ::takedown::testing::FakeContentAction;
using ::takedown::testing::FakeResolver;
using ::takedown::testing::HistoryPath;
using ::takedown::testing::MetricValue;
using ::takedown::testing::NoticeKinds;
using ::takedown::testing::NoticesOfKind;
using ::takedown::testing::Pipeline;
using ::takedown::testing::ReadAudit;
using ::takedown::testing::ReadCase;
using ::takedown::testing::ReadOutbox;
using ::takedown::testing::ScanAll;
using ::takedown::testing::ScriptedChecker;
using ::takedown::testing::StoredTimers;
using ::takedown::testing::StoredTimersOf;
using ::takedown::testing::TcoOrderJson;
using ::takedown::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kBad[] = "bytes of a known bad object";
constexpr char kUrl[] = "https://files.example-hosting.example/u/8812/a.jpg";

class CaseEngineTest : public ::testing::Test {
 protected:
  void SetUp() override { OpenPipeline(); }

  void OpenPipeline() {
    absl::StatusOr<std::unique_ptr<Pipeline>> p = Pipeline::Open(dir_.Sub("store"), clock_);
    ASSERT_TRUE(p.ok()) << p.status();
    p_ = std::move(*p);
    DigestSet d = DigestsOf(kBad);
    p_->index.ReplaceList("auto-list", "v1", {EntryFor(HashType::kMd5, d, ContentCategory::kCsam, "a1")});
    p_->index.ReplaceList("review-list", "v1", {EntryFor(HashType::kSha1, d, ContentCategory::kOther, "r1")});
  }

  void MakeEngine(CaseEngineOptions options = {}) {
    options.auto_action_lists = {"auto-list"};
    options.on_notice = [this] { ++wakeups_; };
    absl::StatusOr<std::unique_ptr<CaseEngine>> engine =
        CaseEngine::Create(*p_->store, *p_->audit, clock_, *p_->metrics, std::move(options));
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    p_->recorder->SetAdmission(engine_.get());
  }

  void MakeIntake(bool execute,
                  std::function<absl::StatusOr<CaseObject>(const ContentTarget&)> fingerprint = nullptr) {
    OrderIntakeOptions options;
    options.execute = execute;
    options.action = ContentActionKind::kDisable;
    if (fingerprint) {
      options.fingerprint = [fingerprint = std::move(fingerprint)](
                                const ContentTarget& target, const ByteTee&) { return fingerprint(target); };
    }
    intake_ = std::make_unique<OrderIntake>(*engine_, *p_->audit, clock_, *p_->metrics, resolver_, &action_,
                                            options);
  }

  // Records an exact match of kBad at `key` on `list`; returns the case id.
  std::string RecordMatch(const std::string& key, const std::string& list) {
    ObjectRecord record;
    record.source_id = "src";
    record.key = key;
    record.version = "v1";
    record.size = sizeof(kBad) - 1;
    record.digests = DigestsOf(kBad);
    record.sweep_id = "sweep-1";
    record.swept_at = clock_.Now();
    std::vector<ExactMatch> matches = p_->index.Lookup(record.digests);
    std::erase_if(matches, [&](const ExactMatch& m) { return m.entry.list_name != list; });
    EXPECT_EQ(matches.size(), 1u);
    absl::StatusOr<RecordOutcome> outcome = p_->recorder->Record(record, matches, true, "sweep:sweep-1");
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    return CaseIdFor("src", key);
  }

  std::string SubmitOrder(const std::string& json) {
    absl::StatusOr<OrderReceipt> receipt = intake_->Submit(json, "order.json", "test:intake");
    EXPECT_TRUE(receipt.ok()) << receipt.status();
    if (!receipt.ok() || receipt->locations.empty()) return "";
    return receipt->locations[0].case_id;
  }

  FireReport Fire() {
    absl::StatusOr<FireReport> report = engine_->FireDue();
    EXPECT_TRUE(report.ok()) << report.status();
    return report.value_or(FireReport{});
  }

  Case Get(const std::string& id) {
    absl::StatusOr<Case> c = engine_->Get(id);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.value_or(Case{});
  }

  TempDir dir_;
  FakeClock clock_{absl::FromCivil(absl::CivilSecond(2027, 3, 10, 9, 0, 0), absl::UTCTimeZone())};
  FakeResolver resolver_;
  FakeContentAction action_;
  ScriptedChecker checker_;
  std::unique_ptr<Pipeline> p_;
  std::unique_ptr<CaseEngine> engine_;
  std::unique_ptr<OrderIntake> intake_;
  int wakeups_ = 0;
};

// --- Removal orders (TCO): on time and late --------------------------------

TEST_F(CaseEngineTest, TcoOrderExecutedAt59MinutesIsRemovedOnTimeWithFeedback) {
  MakeEngine();
  MakeIntake(/*execute=*/false);
  const absl::Time received = clock_.Now();
  const std::string id = SubmitOrder(TcoOrderJson("TCO-DE-1", {kUrl}, received - absl::Minutes(5)));
  ASSERT_FALSE(id.empty());

  Case c = Get(id);
  EXPECT_EQ(c.state, CaseState::kNotified);
  EXPECT_EQ(c.terms.profile, "tco-removal-order");
  EXPECT_EQ(c.terms.deadline, received + absl::Hours(1));
  EXPECT_EQ(c.object.source_id, "uploads");
  EXPECT_EQ(c.object.key, "u/8812/a.jpg");
  // Reminders 30 and 10 min before, the deadline, escalation reminder and fine proposal.
  EXPECT_EQ(StoredTimersOf(*p_->store, id).size(), 5u);
  EXPECT_EQ(c.terms.timers, StoredTimersOf(*p_->store, id));
  EXPECT_EQ(NoticeKinds(*p_->store, id), (std::map<std::string, int>{{"case.removal_request", 1}}));

  clock_.Advance(absl::Minutes(59));
  FireReport report = Fire();
  EXPECT_EQ(report.fired, 2);  // the two reminders
  EXPECT_EQ(Get(id).state, CaseState::kNotified);

  absl::StatusOr<Case> removed = intake_->Execute(id, "abuse-desk:carol");
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(removed->state, CaseState::kRemoved);
  EXPECT_EQ(removed->terms.removal, kRemovalAccessDisabled);
  EXPECT_EQ(removed->terms.removed_at, received + absl::Minutes(59));
  EXPECT_TRUE(Evaluate(removed->terms.deadline, removed->terms.removed_at).on_time);
  EXPECT_THAT(action_.done, ElementsAre("disable uploads:u/8812/a.jpg"));

  // Only the preservation timer remains: 184 days after removal.
  std::vector<Timer> timers = StoredTimersOf(*p_->store, id);
  ASSERT_EQ(timers.size(), 1u);
  EXPECT_EQ(timers[0].kind, TimerKind::kPreservationExpiry);
  EXPECT_EQ(timers[0].due, received + absl::Minutes(59) + absl::Hours(24 * 184));

  std::vector<Notice> feedback = NoticesOfKind(*p_->store, id, kFeedbackNoticeKind);
  ASSERT_EQ(feedback.size(), 1u);
  EXPECT_EQ(feedback[0].payload["annex"], "II");
  EXPECT_EQ(feedback[0].payload["action"], "access_disabled");
  EXPECT_EQ(feedback[0].payload["order_reference"], "TCO-DE-1");
  EXPECT_EQ(feedback[0].payload["locations"], nlohmann::json::array({kUrl}));
  EXPECT_EQ(NoticeKinds(*p_->store, id)["case.deadline_reminder"], 2);

  bool found = false;
  for (const AuditRecord& r : ReadAudit(*p_->audit)) {
    if (r.action != "case.removal") continue;
    found = true;
    EXPECT_EQ(r.details["on_time"], true);
    EXPECT_EQ(r.details["time_to_removal_seconds"], 59 * 60);
    EXPECT_EQ(r.details["margin_seconds"], 60);
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(
      MetricValue(p_->registry, R"(takedown_removals_total{profile="tco-removal-order",outcome="on_time"})"),
      1);
  EXPECT_EQ(
      MetricValue(p_->registry, R"(takedown_orders_total{profile="tco-removal-order",outcome="executed"})"),
      1);
  ExpectAuditChainIntact(*p_->audit);
}

TEST_F(CaseEngineTest, TcoOrderExecutedAt61MinutesIsLateAndOverdueIsRecordedFirst) {
  MakeEngine();
  MakeIntake(/*execute=*/false);
  const absl::Time received = clock_.Now();
  const std::string id = SubmitOrder(TcoOrderJson("TCO-DE-2", {kUrl}, received));

  clock_.Advance(absl::Minutes(61));  // nobody ran FireDue in between
  absl::StatusOr<Case> removed = intake_->Execute(id, "abuse-desk:carol");
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_THAT(HistoryPath(*removed),
              ElementsAre("detected->confirmed", "confirmed->notified", "notified->overdue",
                          "overdue->reminded", "reminded->removed"));
  EXPECT_EQ(removed->history[2].actor, "timer:deadline");
  DeadlineOutcome outcome = Evaluate(removed->terms.deadline, removed->terms.removed_at);
  EXPECT_FALSE(outcome.on_time);
  EXPECT_EQ(outcome.late_by, absl::Minutes(1));
  EXPECT_EQ(AuditedTransitions(*p_->audit, id), HistoryPath(*removed));
  EXPECT_EQ(
      MetricValue(p_->registry, R"(takedown_removals_total{profile="tco-removal-order",outcome="late"})"), 1);
  EXPECT_EQ(MetricValue(p_->registry, R"(takedown_timers_fired_total{kind="deadline"})"), 1);
  // The fine proposal (24 h after the deadline) was cancelled with the removal.
  std::vector<Timer> timers = StoredTimersOf(*p_->store, id);
  ASSERT_EQ(timers.size(), 1u);
  EXPECT_EQ(timers[0].kind, TimerKind::kPreservationExpiry);
  std::map<std::string, int> kinds = NoticeKinds(*p_->store, id);
  EXPECT_EQ(kinds["case.deadline_reminder"], 2);
  EXPECT_EQ(kinds["case.escalation.reminder"], 1);
  EXPECT_EQ(kinds["removal_order.feedback"], 1);
}

TEST_F(CaseEngineTest, ExecutedAtOnceOrderIsRemovedImmediatelyAndSubmittingAgainOpensNothing) {
  MakeEngine();
  MakeIntake(/*execute=*/true);
  const std::string json = TcoOrderJson("TCO-DE-3", {kUrl, "https://elsewhere.example/x.mp4"}, clock_.Now());
  absl::StatusOr<OrderReceipt> receipt = intake_->Submit(json, "order.json", "api:authority");
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  ASSERT_EQ(receipt->locations.size(), 2u);
  EXPECT_EQ(receipt->locations[0].status, OrderLocationResult::Status::kAccessDisabled);
  EXPECT_EQ(receipt->locations[1].status, OrderLocationResult::Status::kUnableToComply);
  EXPECT_EQ(Get(receipt->locations[0].case_id).state, CaseState::kRemoved);

  Case unable = Get(receipt->locations[1].case_id);
  EXPECT_EQ(unable.state, CaseState::kDisputed);
  EXPECT_TRUE(StoredTimersOf(*p_->store, unable.id).empty());
  std::vector<Notice> inability = NoticesOfKind(*p_->store, unable.id, kInabilityNoticeKind);
  ASSERT_EQ(inability.size(), 1u);
  EXPECT_EQ(inability[0].payload["annex"], "III");
  EXPECT_EQ(inability[0].payload["reason"], "manifest_error");
  EXPECT_THAT(inability[0].payload["explanation"].get<std::string>(),
              HasSubstr("not hosted on this service"));

  const uint64_t cases = CountKeys(*p_->store, Cf::kCases);
  absl::StatusOr<OrderReceipt> again = intake_->Submit(json, "order.json", "api:authority");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->locations[0].status, OrderLocationResult::Status::kDuplicate);
  EXPECT_EQ(again->locations[1].status, OrderLocationResult::Status::kDuplicate);
  EXPECT_EQ(CountKeys(*p_->store, Cf::kCases), cases);
  EXPECT_EQ(action_.done.size(), 1u);
}

TEST_F(CaseEngineTest, ExecutedOrderKeepsTheObjectsDigestsAsEvidenceAndActsEvenWithoutThem) {
  MakeEngine();
  std::vector<std::string> fingerprinted;
  MakeIntake(/*execute=*/true, [&](const ContentTarget& target) -> absl::StatusOr<CaseObject> {
    fingerprinted.push_back(target.key);
    if (target.key != "u/8812/a.jpg") return absl::UnavailableError("disk busy");
    CaseObject object;
    object.version = "v7";
    object.size = 1234;
    object.md5_hex = std::string(32, 'a');
    object.sha1_hex = std::string(40, 'b');
    object.sha256_hex = std::string(64, 'c');
    object.source_id = "ignored";  // the case keeps its own location
    return object;
  });
  absl::StatusOr<OrderReceipt> receipt =
      intake_->Submit(TcoOrderJson("TCO-EV-1", {kUrl}, clock_.Now()), "order.json", "api:authority");
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  Case removed = Get(receipt->locations[0].case_id);
  EXPECT_EQ(removed.state, CaseState::kRemoved);
  EXPECT_EQ(removed.object.source_id, "uploads");
  EXPECT_EQ(removed.object.key, "u/8812/a.jpg");
  EXPECT_EQ(removed.object.version, "v7");
  EXPECT_EQ(removed.object.size, 1234u);
  EXPECT_EQ(removed.object.sha256_hex, std::string(64, 'c'));
  EXPECT_EQ(AuditActionCounts(*p_->audit)["case.evidence"], 1);
  // The feedback to the authority shows the object as it was.
  std::vector<Notice> feedback = NoticesOfKind(*p_->store, removed.id, kFeedbackNoticeKind);
  ASSERT_EQ(feedback.size(), 1u);

  // A fingerprint that fails does not hold up the removal.
  absl::StatusOr<OrderReceipt> second = intake_->Submit(
      TcoOrderJson("TCO-EV-2", {"https://files.example-hosting.example/u/9/b.jpg"}, clock_.Now()),
      "order.json", "api:authority");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(Get(second->locations[0].case_id).state, CaseState::kRemoved);
  EXPECT_EQ(AuditActionCounts(*p_->audit)["order.fingerprint_failed"], 1);
  EXPECT_EQ(fingerprinted, (std::vector<std::string>{"u/8812/a.jpg", "u/9/b.jpg"}));
}

TEST_F(CaseEngineTest, InvalidOrdersAreRefusedWithTheFieldNamedAndNothingStored) {
  MakeEngine();
  MakeIntake(/*execute=*/true);
  absl::StatusOr<OrderReceipt> bad = intake_->Submit("{not json", "order.json", "test");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("order.json"));
  nlohmann::json order = nlohmann::json::parse(AtkmInstructionJson("X", {kUrl}, clock_.Now(), 60));
  order["atkm"]["term_minutes"] = 780;
  absl::StatusOr<OrderReceipt> too_long = intake_->Submit(order.dump(), "atkm.json", "test");
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(too_long.status().message()), HasSubstr("term_minutes"));
  EXPECT_EQ(CountKeys(*p_->store, Cf::kCases), 0u);
  EXPECT_EQ(CountKeys(*p_->store, Cf::kTimers), 0u);
}

// --- Dutch CSAM instruction ignored: the whole escalation ladder -----------

TEST_F(CaseEngineTest, IgnoredCsamInstructionRemindsThenPenaltyOrderAccruesToTheCapThenFineProposal) {
  MakeEngine();
  MakeIntake(/*execute=*/false);
  const absl::Time t0 = clock_.Now();
  const std::string id = SubmitOrder(AtkmInstructionJson("ATKM-2027-1", {kUrl}, t0, 60));
  EXPECT_EQ(Get(id).terms.deadline, t0 + absl::Hours(1));

  // The 2 h alert falls before receipt with a 1 h term; only the 30 min one fires.
  clock_.Advance(absl::Minutes(30));
  EXPECT_EQ(Fire().fired, 1);
  EXPECT_EQ(Get(id).state, CaseState::kNotified);

  clock_.Advance(absl::Minutes(30));  // the deadline: overdue, then the reminder step
  EXPECT_EQ(Fire().fired, 2);
  EXPECT_EQ(Get(id).state, CaseState::kReminded);

  clock_.Advance(absl::Hours(24));  // penalty order
  EXPECT_EQ(Fire().fired, 1);
  Case escalated = Get(id);
  EXPECT_EQ(escalated.state, CaseState::kEscalated);
  std::vector<Notice> orders = NoticesOfKind(*p_->store, id, "case.escalation.penalty_order");
  ASSERT_EQ(orders.size(), 1u);
  const nlohmann::json& doc = orders[0].payload["document"];
  EXPECT_EQ(doc["kind"], kPenaltyOrderDocumentKind);
  EXPECT_EQ(doc["amount_per_period_cents"], 100000);
  EXPECT_EQ(doc["cap_cents"], 5000000);
  EXPECT_EQ(doc["max_periods"], 50);
  EXPECT_EQ(doc["amounts_are_placeholders"], true);
  EXPECT_EQ(doc["instruction_reference"], "AW-ATKM-2027-1");
  EXPECT_THAT(doc["text_en"].get<std::string>(), HasSubstr("EUR 1,000.00"));
  EXPECT_THAT(doc["text_en"].get<std::string>(), HasSubstr("PLACEHOLDER"));
  EXPECT_THAT(doc["text_nl"].get<std::string>(), HasSubstr("Last onder dwangsom"));

  // Sixty days on: 50 penalty periods (the cap), the fine proposal on day 7.
  clock_.Advance(absl::Hours(24 * 60));
  FireReport rest = Fire();
  EXPECT_EQ(rest.fired, 51);
  EXPECT_EQ(rest.stale, 0);
  Case c = Get(id);
  EXPECT_EQ(c.state, CaseState::kEscalated);  // a person imposes the fine
  EXPECT_EQ(c.terms.penalty_accrued_cents, 5'000'000);
  EXPECT_EQ(c.terms.penalty_periods, 50);
  EXPECT_NE(c.terms.fine_proposed_at, absl::InfinitePast());
  EXPECT_TRUE(c.terms.timers.empty());
  EXPECT_TRUE(StoredTimersOf(*p_->store, id).empty());

  EXPECT_EQ(NoticeKinds(*p_->store, id), (std::map<std::string, int>{{"case.deadline_reminder", 1},
                                                                     {"case.escalation.fine_proposal", 1},
                                                                     {"case.escalation.penalty_order", 1},
                                                                     {"case.escalation.reminder", 1},
                                                                     {"case.penalty_cap_reached", 1},
                                                                     {"case.removal_request", 1}}));
  std::vector<Notice> fine = NoticesOfKind(*p_->store, id, "case.escalation.fine_proposal");
  ASSERT_EQ(fine.size(), 1u);
  EXPECT_EQ(fine[0].payload["document"]["kind"], kFineProposalDocumentKind);
  EXPECT_EQ(fine[0].payload["document"]["cap_turnover_percent"], "10 %");
  // The proposal is due 7 days after the deadline, the same instant as the
  // sixth penalty period; escalation steps fire before penalty periods due at
  // the same time (TimerKindCode), so five periods had been forfeited.
  EXPECT_EQ(fine[0].payload["document"]["penalty_forfeited_cents"], 500000);
  std::vector<Notice> cap = NoticesOfKind(*p_->store, id, kPenaltyCapNoticeKind);
  ASSERT_EQ(cap.size(), 1u);
  EXPECT_EQ(cap[0].payload["document"]["forfeited_cents"], 5000000);

  // Every transition is in the history and audited: 2 at intake, overdue,
  // reminded, escalated, and 50 penalty periods (escalated -> escalated).
  std::vector<std::string> path = HistoryPath(c);
  ASSERT_EQ(path.size(), 55u);
  EXPECT_EQ(std::count(path.begin(), path.end(), "escalated->escalated"), 50);
  EXPECT_EQ(AuditedTransitions(*p_->audit, id), path);
  std::map<std::string, int> actions = AuditActionCounts(*p_->audit);
  EXPECT_EQ(actions["timer.fire"], 55);
  EXPECT_EQ(actions["case.fine_proposal"], 1);

  absl::StatusOr<Case> fined = engine_->Transition(id, CaseState::kFined, "atkm:official", "fine imposed");
  ASSERT_TRUE(fined.ok()) << fined.status();
  EXPECT_EQ(fined->state, CaseState::kFined);
  ExpectAuditChainIntact(*p_->audit);
}

TEST_F(CaseEngineTest, AutoFineOnProposalMovesToFinedAndPenaltiesStillAccrue) {
  CaseEngineOptions options;
  options.auto_fine_on_proposal = true;
  MakeEngine(options);
  MakeIntake(/*execute=*/false);
  const std::string id = SubmitOrder(AtkmInstructionJson("ATKM-2027-2", {kUrl}, clock_.Now(), 720));
  clock_.Advance(absl::Hours(24 * 70));
  Fire();
  Case c = Get(id);
  EXPECT_EQ(c.state, CaseState::kFined);
  EXPECT_EQ(c.terms.penalty_accrued_cents, 5'000'000);
  // Penalty periods after the fine are counted without a transition.
  EXPECT_EQ(std::count_if(c.history.begin(), c.history.end(),
                          [](const CaseTransition& t) { return t.to == CaseState::kEscalated; }),
            1 + 5);  // the penalty order and the five periods before the proposal
}

// --- Disputes ---------------------------------------------------------------

TEST_F(CaseEngineTest, DisputeStopsTheClockAndTheDecisionRestartsOrRejectsOrCloses) {
  MakeEngine();
  const std::string id = RecordMatch("dir/a.jpg", "auto-list");
  Case c = Get(id);
  ASSERT_EQ(c.state, CaseState::kNotified) << "exact match on an auto-action list";
  EXPECT_THAT(HistoryPath(c), ElementsAre("detected->confirmed", "confirmed->notified"));
  EXPECT_EQ(c.history[0].actor, "policy:auto-action");
  EXPECT_EQ(c.terms.deadline, clock_.Now() + absl::Hours(24));
  EXPECT_EQ(StoredTimersOf(*p_->store, id).size(), 4u);  // 2 reminders, deadline, escalation

  clock_.Advance(absl::Hours(2));
  absl::StatusOr<Case> disputed =
      engine_->Transition(id, CaseState::kDisputed, "uploader:objection", "it is my art");
  ASSERT_TRUE(disputed.ok()) << disputed.status();
  EXPECT_TRUE(disputed->terms.timers.empty());
  EXPECT_TRUE(StoredTimersOf(*p_->store, id).empty());
  clock_.Advance(absl::Hours(30));
  EXPECT_EQ(Fire().fired, 0);
  EXPECT_EQ(Get(id).state, CaseState::kDisputed);

  // Objection rejected: confirmed again, a new removal term from the decision.
  absl::StatusOr<Case> decided =
      engine_->Transition(id, CaseState::kConfirmed, "reviewer:bob", "objection rejected");
  ASSERT_TRUE(decided.ok()) << decided.status();
  EXPECT_EQ(decided->state, CaseState::kNotified);
  EXPECT_EQ(decided->terms.deadline, clock_.Now() + absl::Hours(24));
  EXPECT_EQ(StoredTimersOf(*p_->store, id).size(), 4u);
  std::vector<Notice> requests = NoticesOfKind(*p_->store, id, "case.removal_request");
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_NE(requests[0].id, requests[1].id);

  // A second case: objection upheld.
  const std::string other = RecordMatch("dir/b.jpg", "auto-list");
  ASSERT_TRUE(engine_->Transition(other, CaseState::kDisputed, "uploader:objection", "licensed").ok());
  absl::StatusOr<RejectOutcome> upheld = engine_->Reject(other, "reviewer:bob", "objection upheld");
  ASSERT_TRUE(upheld.ok()) << upheld.status();
  EXPECT_EQ(upheld->rejected.state, CaseState::kRejected);

  // A third: closed while disputed.
  const std::string third = RecordMatch("dir/c.jpg", "auto-list");
  ASSERT_TRUE(engine_->Transition(third, CaseState::kDisputed, "uploader:objection", "appeal").ok());
  absl::StatusOr<Case> closed = engine_->Transition(third, CaseState::kClosed, "reviewer:bob", "withdrawn");
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(closed->state, CaseState::kClosed);
  EXPECT_EQ(AuditedTransitions(*p_->audit, id), HistoryPath(Get(id)));
}

// --- Review routing and illegal transitions ---------------------------------

TEST_F(CaseEngineTest, ReviewRoutingExactOnAutoListConfirmsOtherListsAndPerceptualGoToReview) {
  MakeEngine();
  EXPECT_EQ(Get(RecordMatch("a", "auto-list")).state, CaseState::kNotified);
  Case reviewed = Get(RecordMatch("b", "review-list"));
  EXPECT_EQ(reviewed.state, CaseState::kInReview);
  EXPECT_EQ(reviewed.history[0].actor, "policy:review");
  EXPECT_TRUE(reviewed.terms.timers.empty());

  // A PDQ match, stored while no engine was attached, is admitted to review.
  Case pdq = NewCase(CaseObject{"src", "img.png", "v1", 10, "", "", "", "image/png"}, clock_.Now());
  MatchEvidence e;
  e.hash_type = "pdq";
  e.digest_hex = std::string(64, 'a');
  e.list_name = "auto-list";
  e.entry_id = "p1";
  e.category = "csam";
  e.distance = 12;
  e.threshold = 31;
  e.quality = 90;
  e.matched_at = clock_.Now();
  ASSERT_TRUE(AddEvidence(pdq, e).ok());
  Store::Batch batch;
  batch.Put(Cf::kCases, pdq.id, DumpJson(CaseToJson(pdq)));
  ASSERT_TRUE(p_->store->Write(std::move(batch)).ok());
  absl::StatusOr<int> admitted = engine_->AdmitDetected("system");
  ASSERT_TRUE(admitted.ok()) << admitted.status();
  EXPECT_EQ(*admitted, 1);
  Case routed = Get(pdq.id);
  EXPECT_EQ(routed.state, CaseState::kInReview);
  EXPECT_THAT(routed.history[0].reason, HasSubstr("perceptual"));

  absl::StatusOr<Case> confirmed = engine_->Confirm(reviewed.id, "reviewer:alice", "looked at it");
  ASSERT_TRUE(confirmed.ok()) << confirmed.status();
  EXPECT_EQ(confirmed->state, CaseState::kNotified);
  EXPECT_EQ(MetricValue(p_->registry, R"(takedown_cases{state="notified"})"), 2);
  EXPECT_EQ(MetricValue(p_->registry, R"(takedown_cases{state="in_review"})"), 1);
}

TEST_F(CaseEngineTest, IllegalTransitionsAreRefusedAndWriteNothing) {
  MakeEngine();
  const std::string id = RecordMatch("x", "review-list");
  ASSERT_EQ(Get(id).state, CaseState::kInReview);
  const std::map<std::string, std::string> cases = ScanAll(*p_->store, Cf::kCases);
  const uint64_t seq = p_->audit->last_seq();
  const uint64_t outbox = CountKeys(*p_->store, Cf::kOutbox);

  for (CaseState to : {CaseState::kNotified, CaseState::kClosed, CaseState::kOverdue, CaseState::kFined,
                       CaseState::kDisputed, CaseState::kInReview}) {
    absl::StatusOr<Case> moved = engine_->Transition(id, to, "reviewer:alice", "try");
    EXPECT_EQ(moved.status().code(), absl::StatusCode::kFailedPrecondition) << CaseStateName(to);
    EXPECT_THAT(std::string(moved.status().message()),
                HasSubstr("allowed from in_review: confirmed, rejected"));
  }
  absl::StatusOr<Case> removed = engine_->RecordRemoval(id, kRemovalRemoved, clock_.Now(), "desk", "gone");
  EXPECT_EQ(removed.status().code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<Case> no_actor = engine_->Transition(id, CaseState::kConfirmed, "", "who?");
  EXPECT_EQ(no_actor.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_->Transition("c-000000000000000000000000", CaseState::kClosed, "x", "y").status().code(),
            absl::StatusCode::kNotFound);

  EXPECT_EQ(ScanAll(*p_->store, Cf::kCases), cases);
  EXPECT_EQ(p_->audit->last_seq(), seq);
  EXPECT_EQ(CountKeys(*p_->store, Cf::kOutbox), outbox);
  EXPECT_EQ(CountKeys(*p_->store, Cf::kTimers), 0u);
}

// --- Restart: timers that fell due while down fire once, late ---------------

TEST_F(CaseEngineTest, AfterFiveHoursDownEverythingDueFiresOnceLateAndNothingIsLost) {
  MakeEngine();
  MakeIntake(/*execute=*/false);
  const absl::Time t0 = clock_.Now();
  const std::string order_case = SubmitOrder(AtkmInstructionJson("ATKM-2027-9", {kUrl}, t0, 60));
  const std::string detection = RecordMatch("dir/a.jpg", "auto-list");
  const std::vector<Timer> before = StoredTimers(*p_->store);
  ASSERT_EQ(before.size(), 5u + 4u + 50u);  // instruction: reminder, deadline, 3 steps, 50 periods

  intake_.reset();
  engine_.reset();
  p_.reset();  // the store is closed: the daemon is down
  clock_.Advance(absl::Hours(5));
  OpenPipeline();
  MakeEngine();

  absl::StatusOr<std::optional<absl::Time>> next = engine_->NextDue();
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_TRUE(next->has_value());
  EXPECT_EQ(**next, t0 + absl::Minutes(30));

  FireReport report = Fire();
  // Due within 5 h: the instruction's 30-min reminder, its deadline and the
  // reminder step at the deadline. The detection's first reminder is at 20 h.
  EXPECT_EQ(report.fired, 3);
  EXPECT_EQ(report.stale, 0);
  EXPECT_EQ(report.failed, 0);
  EXPECT_EQ(report.max_lateness, absl::Minutes(270));
  EXPECT_EQ(Get(order_case).state, CaseState::kReminded);
  EXPECT_EQ(Get(detection).state, CaseState::kNotified);

  std::vector<double> lateness;
  for (const AuditRecord& r : ReadAudit(*p_->audit)) {
    if (r.action == "timer.fire") lateness.push_back(r.details["late_seconds"].get<double>());
  }
  EXPECT_THAT(lateness, ElementsAre(270 * 60, 240 * 60, 240 * 60));
  EXPECT_EQ(MetricValue(p_->registry, "takedown_timer_lateness_seconds_count"), 3);
  EXPECT_EQ(MetricValue(p_->registry, "takedown_timer_lateness_seconds_sum"), (270 + 240 + 240) * 60);

  // Nothing fires twice, nothing not yet due is lost.
  EXPECT_EQ(Fire().fired, 0);
  EXPECT_EQ(StoredTimers(*p_->store).size(), before.size() - 3);
  EXPECT_EQ(NoticeKinds(*p_->store, order_case)["case.deadline_reminder"], 1);
  EXPECT_EQ(NoticeKinds(*p_->store, order_case)["case.escalation.reminder"], 1);
  ExpectAuditChainIntact(*p_->audit);
}

TEST_F(CaseEngineTest, StaleTimersAreDroppedWithoutActing) {
  MakeEngine();
  const std::string id = RecordMatch("a", "auto-list");
  // A timer of this case that the case does not list (e.g. left by a crash
  // of an older version) is stale.
  Timer orphan;
  orphan.due = clock_.Now() + absl::Minutes(1);
  orphan.case_id = id;
  orphan.kind = TimerKind::kDeadline;
  orphan.profile = "provider-voluntary";
  Store::Batch batch;
  batch.Put(Cf::kTimers, *EncodeTimerKey(orphan), EncodeTimerValue(orphan));
  ASSERT_TRUE(p_->store->Write(std::move(batch)).ok());
  clock_.Advance(absl::Minutes(2));
  FireReport report = Fire();
  EXPECT_EQ(report.fired, 0);
  EXPECT_EQ(report.stale, 1);
  EXPECT_EQ(Get(id).state, CaseState::kNotified);
  EXPECT_EQ(AuditActionCounts(*p_->audit)["timer.stale"], 1);
  EXPECT_EQ(MetricValue(p_->registry, R"(takedown_timers_stale_total{kind="deadline"})"), 1);
}

// --- Retention --------------------------------------------------------------

TEST_F(CaseEngineTest, PreservationExpiryPurgesTheCaseDataAndKeepsAnAuditedStub) {
  MakeEngine();
  MakeIntake(/*execute=*/true);
  const std::string id = SubmitOrder(TcoOrderJson("TCO-DE-7", {kUrl}, clock_.Now()));
  Case removed = Get(id);
  ASSERT_EQ(removed.state, CaseState::kRemoved);
  ASSERT_TRUE(removed.terms.order.has_value());

  clock_.Advance(absl::Hours(24 * 183));
  EXPECT_EQ(Fire().fired, 0);
  clock_.Advance(absl::Hours(24));
  EXPECT_EQ(Fire().fired, 1);
  Case purged = Get(id);
  EXPECT_EQ(purged.state, CaseState::kRemoved);
  EXPECT_NE(purged.terms.purged_at, absl::InfinitePast());
  EXPECT_FALSE(purged.terms.order.has_value());
  EXPECT_TRUE(purged.terms.location.empty());
  EXPECT_TRUE(purged.object.key.empty());
  EXPECT_EQ(purged.object.source_id, "uploads");
  EXPECT_EQ(purged.terms.removed_at, removed.terms.removed_at);  // the stub keeps the facts for statistics
  EXPECT_EQ(purged.history, removed.history);
  EXPECT_EQ(AuditActionCounts(*p_->audit)["case.purge"], 1);
  EXPECT_TRUE(StoredTimersOf(*p_->store, id).empty());
}

// --- Authority role ---------------------------------------------------------

class AuthorityEngineTest : public CaseEngineTest {
 protected:
  void SetUp() override {
    CaseEngineTest::SetUp();
    CaseEngineOptions options;
    options.role = EngineRole::kAuthority;
    options.detection_profile = std::string(kAuthorityNoticeCycleProfile);
    options.authority = {"Example hotline", "NL", "hotline@example.org", "Object within six weeks."};
    options.providers = {
        ProviderEntry{"example-hosting", {"example-hosting.example"}, "webhook-example", "", "abuse@x"},
        ProviderEntry{"other-host", {"other.example"}, "smtp-other", "", "abuse@other"}};
    options.checker = &checker_;
    MakeEngine(options);
  }

  std::string ReportedUrlCase(const std::string& url) {
    ObjectRecord record;
    record.source_id = "reported";
    record.key = url;
    record.version = "etag";
    record.digests = DigestsOf(kBad);
    record.swept_at = clock_.Now();
    std::vector<ExactMatch> matches = p_->index.Lookup(record.digests);
    std::erase_if(matches, [](const ExactMatch& m) { return m.entry.list_name != "review-list"; });
    EXPECT_TRUE(p_->recorder->Record(record, matches, true, "sweep:urls").ok());
    return CaseIdFor("reported", url);
  }
};

// A resolver that knows one host, and counts how often it is asked.
class OneHostResolver final : public ProviderResolver {
 public:
  absl::StatusOr<ProviderEntry> Resolve(std::string_view host) override {
    ++calls;
    if (host != "unlisted.example") return absl::NotFoundError("no RDAP record");
    return ProviderEntry{"rdap:Unlisted Hosting", {}, "rdap-channel", "", "abuse@unlisted.example"};
  }
  int calls = 0;
};

TEST_F(AuthorityEngineTest, HostsMissingFromTheTableAreResolvedOnceAndKeptAcrossRestarts) {
  OneHostResolver resolver;
  CaseEngineOptions options;
  options.role = EngineRole::kAuthority;
  options.detection_profile = std::string(kAuthorityNoticeCycleProfile);
  options.providers = {
      ProviderEntry{"example-hosting", {"example-hosting.example"}, "webhook-example", "", ""}};
  options.provider_resolver = &resolver;
  options.checker = &checker_;
  MakeEngine(options);

  const std::string unknown = ReportedUrlCase("https://nobody.example/x.jpg");
  absl::StatusOr<Case> refused = engine_->Confirm(unknown, "analyst:dana", "confirmed");
  ASSERT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("no RDAP record"));
  EXPECT_EQ(Get(unknown).state, CaseState::kInReview);  // nothing written

  const std::string first = ReportedUrlCase("https://unlisted.example/a.jpg");
  absl::StatusOr<Case> confirmed = engine_->Confirm(first, "analyst:dana", "confirmed");
  ASSERT_TRUE(confirmed.ok()) << confirmed.status();
  EXPECT_EQ(confirmed->terms.provider, "rdap:Unlisted Hosting");
  std::vector<Notice> issued = NoticesOfKind(*p_->store, first, kOrderIssuedNoticeKind);
  ASSERT_EQ(issued.size(), 1u);
  EXPECT_EQ(issued[0].channel, "rdap-channel");
  EXPECT_EQ(issued[0].payload["provider_contact_point"], "abuse@unlisted.example");
  EXPECT_EQ(resolver.calls, 2);

  // The table wins over a lookup; a known host is not looked up again, also
  // after a restart.
  const std::string listed = ReportedUrlCase("https://example-hosting.example/b.jpg");
  ASSERT_TRUE(engine_->Confirm(listed, "analyst:dana", "confirmed").ok());
  MakeEngine(options);
  const std::string second = ReportedUrlCase("https://unlisted.example/c.jpg");
  absl::StatusOr<Case> again = engine_->Confirm(second, "analyst:dana", "confirmed");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->terms.provider, "rdap:Unlisted Hosting");
  EXPECT_EQ(resolver.calls, 2);
  EXPECT_EQ(AuditActionCounts(*p_->audit)["provider.discovered"], 1);
}

TEST_F(AuthorityEngineTest, RecheckNowResolvesAGoneCaseAndLeavesAPresentOneAlone) {
  const std::string id = ReportedUrlCase("https://example-hosting.example/a.jpg");
  ASSERT_TRUE(engine_->Confirm(id, "analyst:dana", "confirmed").ok());
  checker_.Push(RecheckOutcome::kStillPresent, "sha256 equal");
  absl::StatusOr<CaseEngine::RecheckNowResult> still = engine_->RecheckNow(id, "analyst:dana");
  ASSERT_TRUE(still.ok()) << still.status();
  EXPECT_EQ(still->check.outcome, RecheckOutcome::kStillPresent);
  EXPECT_EQ(still->c.state, CaseState::kNotified);
  EXPECT_EQ(AuditActionCounts(*p_->audit)["case.recheck"], 1);

  clock_.Advance(absl::Minutes(90));
  checker_.Push(RecheckOutcome::kGone, "HTTP 410");
  absl::StatusOr<CaseEngine::RecheckNowResult> gone = engine_->RecheckNow(id, "analyst:dana");
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_EQ(gone->c.state, CaseState::kRemoved);
  EXPECT_EQ(gone->c.terms.removal, kRemovalGone);
  EXPECT_EQ(gone->c.terms.removed_at, clock_.Now());
  // A removed case cannot be re-checked into another removal.
  EXPECT_TRUE(absl::IsFailedPrecondition(engine_->RecheckNow(id, "analyst:dana").status()));
}

TEST_F(AuthorityEngineTest, ConfirmedReportIsSentToTheProviderRecheckedAndCountedInComplianceStats) {
  const std::string id = ReportedUrlCase("https://cdn.files.example-hosting.example/a.jpg");
  ASSERT_EQ(Get(id).state, CaseState::kInReview);
  absl::StatusOr<Case> confirmed = engine_->Confirm(id, "analyst:dana", "confirmed CSAM");
  ASSERT_TRUE(confirmed.ok()) << confirmed.status();
  EXPECT_EQ(confirmed->terms.provider, "example-hosting");
  EXPECT_EQ(confirmed->terms.profile, "authority-notice-cycle");
  std::vector<Notice> issued = NoticesOfKind(*p_->store, id, kOrderIssuedNoticeKind);
  ASSERT_EQ(issued.size(), 1u);
  EXPECT_EQ(issued[0].channel, "webhook-example");
  EXPECT_EQ(issued[0].payload["authority"]["name"], "Example hotline");
  EXPECT_EQ(issued[0].payload["location"], "https://cdn.files.example-hosting.example/a.jpg");

  checker_.Push(RecheckOutcome::kStillPresent, "sha256 equal");
  checker_.Push(RecheckOutcome::kGone, "HTTP 404");
  clock_.Advance(absl::Hours(24));  // re-check 1 (still there), deadline, reminder step
  Fire();
  Case after_one = Get(id);
  EXPECT_EQ(after_one.state, CaseState::kReminded);
  EXPECT_EQ(after_one.terms.renotices, 1);
  EXPECT_EQ(NoticesOfKind(*p_->store, id, kRenoticeNoticeKind).size(), 1u);
  clock_.Advance(absl::Hours(24));  // re-check 2: gone
  Fire();
  Case gone = Get(id);
  EXPECT_EQ(gone.state, CaseState::kRemoved);
  EXPECT_EQ(gone.terms.removal, kRemovalGone);
  EXPECT_EQ(gone.terms.removed_at - gone.terms.received_at, absl::Hours(48));
  EXPECT_EQ(checker_.checked().size(), 2u);
  EXPECT_TRUE(StoredTimersOf(*p_->store, id).empty());

  // A second provider removes within the day.
  const std::string quick = ReportedUrlCase("https://other.example/b.jpg");
  ASSERT_TRUE(engine_->Confirm(quick, "analyst:dana", "confirmed").ok());
  clock_.Advance(absl::Hours(3));
  ASSERT_TRUE(
      engine_->RecordRemoval(quick, kRemovalRemoved, clock_.Now(), "analyst:dana", "provider confirmed")
          .ok());

  absl::StatusOr<std::vector<ProviderCompliance>> stats = ComputeComplianceStats(*p_->store, clock_.Now());
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->size(), 2u);
  const ProviderCompliance& slow = (*stats)[0];
  EXPECT_EQ(slow.provider, "example-hosting");
  EXPECT_EQ(slow.cases, 1u);
  EXPECT_EQ(slow.removed, 1u);
  EXPECT_EQ(slow.removed_on_time, 0u);
  EXPECT_EQ(slow.escalated, 0u);
  EXPECT_EQ(slow.share_within_deadline, 0.0);
  EXPECT_EQ(slow.median_time_to_removal, absl::Hours(48));
  const ProviderCompliance& fast = (*stats)[1];
  EXPECT_EQ(fast.provider, "other-host");
  EXPECT_EQ(fast.share_within_deadline, 1.0);
  EXPECT_EQ(fast.p95_time_to_removal, absl::Hours(3));
}

TEST_F(AuthorityEngineTest, ReportOnAnUnknownHostCannotBeNotifiedAndNothingIsWritten) {
  const std::string id = ReportedUrlCase("https://unknown.example/a.jpg");
  const uint64_t seq = p_->audit->last_seq();
  absl::StatusOr<Case> confirmed = engine_->Confirm(id, "analyst:dana", "confirmed");
  EXPECT_EQ(confirmed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(confirmed.status().message()), HasSubstr("provider table"));
  EXPECT_EQ(p_->audit->last_seq(), seq);
  EXPECT_EQ(Get(id).state, CaseState::kInReview);
}

// --- Concurrency ------------------------------------------------------------

TEST_F(CaseEngineTest, ConcurrentEvidenceTransitionsAndTimersLoseNoUpdate) {
  MakeEngine();
  DigestSet d = DigestsOf(kBad);
  constexpr int kLists = 20;
  for (int i = 0; i < kLists; ++i) {
    p_->index.ReplaceList(fmt::format("extra-{}", i), "v1",
                          {EntryFor(HashType::kSha256, d, ContentCategory::kCsam, fmt::format("e{}", i))});
  }
  const std::string id = RecordMatch("shared.jpg", "auto-list");
  ASSERT_EQ(Get(id).state, CaseState::kNotified);

  std::thread sweep([&] {
    for (int i = 0; i < kLists; ++i) RecordMatch("shared.jpg", fmt::format("extra-{}", i));
  });
  std::thread reviewer([&] {
    for (int i = 0; i < 10; ++i) {
      EXPECT_TRUE(engine_->Transition(id, CaseState::kDisputed, "uploader:u", "objection").ok());
      EXPECT_TRUE(engine_->Transition(id, CaseState::kConfirmed, "reviewer:r", "objection rejected").ok());
    }
  });
  std::thread timers([&] {
    for (int i = 0; i < 20; ++i) EXPECT_TRUE(engine_->FireDue().ok());
  });
  sweep.join();
  reviewer.join();
  timers.join();

  Case c = Get(id);
  EXPECT_EQ(c.evidence.size(), 1u + kLists);
  EXPECT_EQ(c.state, CaseState::kNotified);
  EXPECT_EQ(c.history.size(), 2u + 10 * 3);  // disputed, confirmed, notified per round
  EXPECT_EQ(AuditedTransitions(*p_->audit, id), HistoryPath(c));
  EXPECT_EQ(c.terms.timers, StoredTimersOf(*p_->store, id));
  ExpectAuditChainIntact(*p_->audit);
}

// --- The loop ---------------------------------------------------------------

TEST_F(CaseEngineTest, StartedLoopFiresDueTimersWithoutBeingAsked) {
  CaseEngineOptions options;
  options.tick = absl::Milliseconds(20);
  MakeEngine(options);
  const std::string id = RecordMatch("a", "auto-list");
  clock_.Advance(absl::Hours(25));
  engine_->Start();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (Get(id).state != CaseState::kReminded && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  engine_->Stop();
  EXPECT_EQ(Get(id).state, CaseState::kReminded);
  engine_->Stop();  // idempotent
}

TEST(CaseEngineCreate, RejectsUnknownProfilesAndIncompleteProviders) {
  TempDir dir;
  FakeClock clock;
  absl::StatusOr<std::unique_ptr<Pipeline>> p = Pipeline::Open(dir.Sub("store"), clock);
  ASSERT_TRUE(p.ok());
  CaseEngineOptions options;
  options.detection_profile = "no-such-profile";
  EXPECT_EQ(CaseEngine::Create(*(*p)->store, *(*p)->audit, clock, *(*p)->metrics, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.detection_profile = std::string(kProviderVoluntaryProfile);
  options.providers = {ProviderEntry{"x", {}, "ch", "", ""}};
  EXPECT_EQ(CaseEngine::Create(*(*p)->store, *(*p)->audit, clock, *(*p)->metrics, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace takedown
