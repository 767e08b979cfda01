// CaseEngine: drives cases through their lifecycle after detection
// (docs/cases.md, "The case engine").
//
// Every change to a case — a transition asked for through the API, a review
// decision, a removal, a fired timer — is one atomic, audited store write
// holding the case record, its new history entry, the notices it queues in
// the outbox and the timers it schedules in or deletes from the `timers`
// column family. The transition table (notices/case_state.h) is enforced: an
// illegal move is FailedPrecondition and writes nothing.
//
// Timers come from the case's legal profile (notices/deadline_schedule.h).
// Pending timers are listed on the case (CaseTerms::timers), so cancelling
// them is exact and a stored timer the case no longer lists is stale.
// FireDue() fires every timer due at clock.Now(), in due order, each in its
// own batch together with its effects and the deletion of the timer; after
// downtime everything that fell due fires at the first call, late (lateness
// recorded in the audit entry and takedown_timer_lateness_seconds), never
// twice. Before a person's action on a case, the case's own due timers fire
// first, so the history shows e.g. `overdue` before a late removal.
//
// Roles: as a hosting provider the engine notifies the configured channels
// (abuse desk) and answers orders (OpenOrderCase, RecordRemoval,
// RecordInability; see daemon/order_intake.h). As an authority it addresses
// each confirmed case to the hosting provider found in the provider table,
// re-checks (ContentChecker) and escalates.
//
// Thread-safe. One mutex serialises read-modify-write of cases (shared with
// the CaseRecorder through CaseAdmission); content checks and allowlist
// writes run outside it. Borrows the store, audit log, clock and metrics
// (and the injected checker and allowlist writer), which must outlive it.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "daemon/allowlist_writer.h"
#include "daemon/audit_log.h"
#include "daemon/case_admission.h"
#include "daemon/content_checker.h"
#include "daemon/daemon_metrics.h"
#include "daemon/provider_resolver.h"
#include "daemon/store.h"
#include "notices/case.h"
#include "notices/content_provider_notice.h"
#include "notices/legal_profile.h"
#include "notices/removal_order.h"
#include "notices/timer.h"

namespace takedown {

// Notice kinds the engine queues (docs/notices.md lists their payloads).
inline constexpr std::string_view kRemovalRequestNoticeKind = "case.removal_request";
inline constexpr std::string_view kOrderIssuedNoticeKind = "removal_order.issued";
inline constexpr std::string_view kDeadlineReminderNoticeKind = "case.deadline_reminder";
inline constexpr std::string_view kRenoticeNoticeKind = "case.renotice";
inline constexpr std::string_view kPenaltyCapNoticeKind = "case.penalty_cap_reached";
inline constexpr std::string_view kFeedbackNoticeKind = "removal_order.feedback";
inline constexpr std::string_view kInabilityNoticeKind = "removal_order.inability";
// Escalation notices are "case.escalation." + the step's kind.
inline constexpr std::string_view kEscalationNoticePrefix = "case.escalation.";

enum class EngineRole { kHostingProvider, kAuthority };

// Authority role: who issues the notices.
struct AuthorityIdentity {
  std::string name;          // e.g. "Autoriteit online Terroristisch en Kinderpornografisch Materiaal"
  std::string member_state;  // ISO 3166-1 alpha-2
  std::string contact;
  std::string redress;  // how the provider can object or appeal
};

struct CaseEngineOptions {
  EngineRole role = EngineRole::kHostingProvider;
  // The effective legal profiles (config overrides applied); empty: the
  // built-in profiles.
  std::vector<LegalProfile> profiles;
  // Profile of cases the sweep detects (hosting provider) or of reported
  // URLs when the provider entry names none (authority).
  std::string detection_profile = std::string(kProviderVoluntaryProfile);
  // Lists whose exact (md5, sha1, sha256) matches may skip human review under
  // a review_perceptual profile (config: the list's auto-action policy).
  std::set<std::string, std::less<>> auto_action_lists;
  // Channels for notices to whoever must act (hosting provider: the abuse
  // desk); empty: the file-drop channel.
  std::vector<std::string> channels;
  // Channel for feedback to issuing authorities; empty: channels[0].
  std::string feedback_channel;
  // Hosting provider: the channel that takes the document to the affected
  // customer after a removal (notices/content_provider_notice.h: TCO Art. 11
  // information, DSA Art. 17 statement of reasons, ATKM instruction
  // information, as the case's profile asks); empty: none is made. The
  // options' `now` is set per removal.
  std::string content_provider_channel;
  ContentProviderNoticeOptions content_provider;
  // A confirmed case is notified at once (its removal term starts).
  bool notify_on_confirm = true;
  // A fine_proposal step moves an escalated case to `fined` by itself.
  // Default off: the proposal goes to a person who imposes the fine.
  bool auto_fine_on_proposal = false;
  // Interval of the Start() loop.
  absl::Duration tick = absl::Seconds(1);
  // Timers read per scan of the timers column family in FireDue.
  size_t fire_chunk = 256;
  // Authority role.
  AuthorityIdentity authority;
  std::vector<ProviderEntry> providers;
  // Borrowed, may be null: asked for hosts the table does not list, once per
  // host; its answers are kept in the store (meta "provider/<host>").
  ProviderResolver* provider_resolver = nullptr;
  // Borrowed, may be null: no re-checks (re-check timers are recorded as
  // skipped) / rejections feed no allowlist.
  ContentChecker* checker = nullptr;
  AllowlistWriter* allowlist = nullptr;
  // Called after a write that queued notices (wakes the outbox dispatcher).
  std::function<void()> on_notice;
  // Deletes a sealed copy of removed content (PreservationVault::Erase) when
  // the case's preservation period ends; OK when it is already gone. Null:
  // sealed copies are left in place and the purge says so.
  std::function<absl::Status(const std::string& location)> erase_preserved;
};

// A new case for one location of a removal order (hosting-provider role).
struct OrderCaseSpec {
  std::string case_id;
  RemovalOrder order;    // trimmed to the one location this case covers
  std::string url;       // that location
  CaseObject object;     // the resolved object (source_id, key), or source "order" and the URL as key
  std::string category;  // terrorist (TCO) or csam (ATKM instruction)
  absl::Time received_at;
  absl::Time deadline;
};

struct RejectOutcome {
  Case rejected;
  std::vector<std::string> dependent_cases_rejected;
  size_t allowlist_additions = 0;
};

struct FireReport {
  int fired = 0;
  int stale = 0;   // dropped: case resolved, or the timer no longer listed on it
  int failed = 0;  // left in place, retried at the next call
  absl::Duration max_lateness;
};

class CaseEngine final : public CaseAdmission {
 public:
  // InvalidArgument when a profile is invalid, detection_profile or a
  // provider's profile is unknown, or a provider entry has no name, host or
  // channel.
  static absl::StatusOr<std::unique_ptr<CaseEngine>> Create(Store& store, AuditLog& audit, Clock& clock,
                                                            DaemonMetrics& metrics,
                                                            CaseEngineOptions options);
  ~CaseEngine() override;
  CaseEngine(const CaseEngine&) = delete;
  CaseEngine& operator=(const CaseEngine&) = delete;

  // NotFound for an unknown case; DataLoss for a corrupt record.
  absl::StatusOr<Case> Get(const std::string& case_id) const;
  // The effective profile `name`, or NotFound naming the known ones. The
  // pointer lives as long as the engine.
  absl::StatusOr<const LegalProfile*> Profile(std::string_view name) const;

  // Moves the case to `to` with every side effect of entering that state
  // (docs/cases.md): confirmed -> notified with a removal request and timers
  // (notify_on_confirm); removed -> removal recorded now, timers cancelled,
  // preservation timer, order feedback; rejected -> as Reject(); disputed,
  // closed -> timers cancelled. The case's own timers due by now fire first,
  // each in its own write (so the move is judged from the state they leave).
  // FailedPrecondition for a move the table does not allow from the current
  // state (nothing written); InvalidArgument for an empty actor or an
  // over-long reason. Returns the case as written.
  absl::StatusOr<Case> Transition(const std::string& case_id, CaseState to, const std::string& actor,
                                  const std::string& reason);
  // Review decisions: in_review/detected/disputed -> confirmed (then
  // notified), and -> rejected. Reject adds every piece of evidence to its
  // list's allowlist (AllowlistWriter) and rejects the other open cases
  // (detected, in_review) whose every piece of evidence is a rejected
  // digest or list entry. The rejection is written before the allowlist is
  // updated; if that fails the error is returned, the case stays rejected,
  // and calling Reject again on the rejected case retries the allowlist.
  absl::StatusOr<Case> Confirm(const std::string& case_id, const std::string& actor,
                               const std::string& reason);
  absl::StatusOr<RejectOutcome> Reject(const std::string& case_id, const std::string& actor,
                                       const std::string& reason);

  // The content was removed or access to it disabled at `at` (`removal` one
  // of kRemovalRemoved, kRemovalAccessDisabled, kRemovalGone,
  // kRemovalChanged): -> removed, time to removal and the deadline outcome
  // recorded (audit "case.removal", takedown_removals_total), remaining
  // timers cancelled, the preservation timer written, and for an order whose
  // profile gives feedback, the Annex II feedback queued — one batch.
  // `observed`, when given, is what the removed object was just before the
  // removal (version, size, digests; FingerprintObject): it becomes the
  // case's object record in the same write, as evidence. `preserved`, when
  // given, is a sealed copy of the content taken before the removal: it is
  // listed on the case (terms.preserved) with the end of the profile's
  // preservation period as its retention date (audit
  // "case.content_preserved"), and erased when that period ends.
  absl::StatusOr<Case> RecordRemoval(const std::string& case_id, std::string_view removal, absl::Time at,
                                     const std::string& actor, const std::string& reason,
                                     const CaseObject* observed = nullptr,
                                     const PreservedContent* preserved = nullptr);
  // An order that cannot be executed (Annex III): -> disputed with the
  // reason, timers cancelled, the inability feedback queued to the issuing
  // authority. FailedPrecondition for a case without an order or a state
  // that cannot move to disputed; InvalidArgument without an explanation.
  absl::StatusOr<Case> RecordInability(const std::string& case_id, FeedbackOutcome::Reason reason,
                                       const std::string& explanation, const std::string& actor);

  // Re-checks the case's content now, outside the timer schedule (e.g. the
  // host says it removed it): gone, access disabled or changed records the
  // removal as a re-check timer would (time to removal, deadline outcome,
  // feedback); still present or an inconclusive check changes nothing and is
  // audited ("case.recheck"). FailedPrecondition without a content checker
  // or for a case that cannot move to removed; the checker's error
  // otherwise. The check runs without the case lock.
  struct RecheckNowResult {
    Case c;
    ContentCheck check;
  };
  absl::StatusOr<RecheckNowResult> RecheckNow(const std::string& case_id, const std::string& actor);

  // Creates the case of one order location: detected -> confirmed (the order
  // is the authority's decision) -> notified, with the removal term from
  // spec.received_at to spec.deadline, its timers and the removal request to
  // the channels, in one batch. AlreadyExists when the case exists (the same
  // order received again); InvalidArgument for an unknown profile or a
  // deadline before receipt.
  absl::StatusOr<Case> OpenOrderCase(const OrderCaseSpec& spec, const std::string& actor);

  // Admits every case still in `detected` (stored while no engine was
  // attached, or whose admission failed). Returns how many moved.
  absl::StatusOr<int> AdmitDetected(const std::string& actor);

  // Fires every timer due at clock.Now() (see the header comment).
  absl::StatusOr<FireReport> FireDue();
  // Due time of the earliest stored timer, nullopt if none.
  absl::StatusOr<std::optional<absl::Time>> NextDue() const;

  // A thread calling FireDue() every options.tick (real time) until Stop().
  // Errors are logged and counted (takedown_errors_total{kind="timer_fire"}).
  void Start();
  // Idempotent; waits for the current FireDue to finish.
  void Stop();

  // CaseAdmission, used by the CaseRecorder (CaseRecorder::SetAdmission).
  std::mutex& case_mutex() override { return mu_; }
  absl::StatusOr<AdmissionResult> Admit(Case& c, Store::Batch& batch, std::vector<AuditEvent>& events,
                                        const std::string& actor) override;
  void Admitted(const AdmissionResult& result) override;

 private:
  struct Effects;

  CaseEngine(Store& store, AuditLog& audit, Clock& clock, DaemonMetrics& metrics, CaseEngineOptions options);

  // A consistent read of one case; needs no lock (read-modify-write does).
  absl::StatusOr<Case> Load(const std::string& case_id) const;

  // The rest REQUIRE mu_ held.
  absl::Status Enter(Case& c, CaseState to, const std::string& actor, const std::string& reason, Effects& fx);
  absl::Status EnterNotified(Case& c, Effects& fx);
  absl::Status MarkRemoved(Case& c, std::string_view removal, absl::Time at, const std::string& actor,
                           const std::string& reason, Effects& fx);
  // The document to the affected customer after a removal, if the profile
  // asks for one; withheld under an order's secrecy, with a secrecy_end timer
  // when the order says when that ends.
  absl::Status QueueContentProviderNotice(Case& c, const LegalProfile& profile, Effects& fx);
  absl::Status RouteDetected(Case& c, const std::string& actor, Effects& fx);
  absl::Status HandleTimer(Case& c, const Timer& t, const std::optional<ContentCheck>& check, Effects& fx,
                           nlohmann::json& details);
  absl::Status FireLocked(Case& c, const Timer& t, const std::string& key,
                          const std::optional<ContentCheck>& check, FireReport& report);
  // Fires the case's own timers due at or before `until` (not re-checks).
  absl::Status CatchUpLocked(Case& c, absl::Time until);
  absl::Status Commit(Case& c, Effects& fx);
  absl::StatusOr<std::vector<std::string>> RejectDependentsLocked(const Case& rejected,
                                                                  const std::string& actor,
                                                                  const std::string& reason);
  // End of preservation: the evidence (once) and the sealed copies of the
  // content still kept.
  void Purge(Case& c, Effects& fx, nlohmann::json& details);
  void PurgeEvidence(Case& c, Effects& fx, nlohmann::json& details);

  // Pure lookups in the constant configuration.
  const LegalProfile* FindProfile(std::string_view name) const;
  absl::StatusOr<const LegalProfile*> ProfileOf(const Case& c) const;
  const ProviderEntry* ProviderFor(const Case& c) const;
  // Authority role: asks the provider resolver for the provider of the
  // case's host and keeps the answer (store and discovered_). Runs without mu_.
  absl::Status DiscoverProvider(const Case& c);
  absl::Status LoadDiscoveredProviders();
  std::vector<std::string> RecipientChannels(const Case& c) const;

  // Take mu_ themselves (FireStored), or run outside it (content checks,
  // allowlist writes, the loop).
  absl::Status FireStored(const std::string& key, std::string_view value, FireReport& report);
  std::optional<ContentCheck> RunCheck(const Timer& t);
  absl::Status AddToAllowlist(const Case& c, const std::string& actor, const std::string& reason,
                              size_t& additions);
  void Run();

  // Constant after construction.
  Store& store_;
  AuditLog& audit_;
  Clock& clock_;
  DaemonMetrics& metrics_;
  const CaseEngineOptions options_;
  std::vector<LegalProfile> profiles_;

  std::mutex mu_;       // read-modify-write of cases
  std::mutex fire_mu_;  // one FireDue at a time

  // Authority role: providers options_.provider_resolver found, one per
  // host. Entries never move or change once added (ProviderFor hands out
  // pointers).
  mutable std::mutex discovered_mu_;
  std::deque<ProviderEntry> discovered_;  // guarded by discovered_mu_

  std::mutex loop_mu_;
  std::condition_variable loop_wake_;
  bool stop_ = false;  // guarded by loop_mu_
  std::thread thread_;
};

}  // namespace takedown
