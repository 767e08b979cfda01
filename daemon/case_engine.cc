#include "daemon/case_engine.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include "common/status_macros.h"
#include "crawler/http_url.h"
#include "fmt/format.h"
#include "notices/amsterdam_time.h"
#include "notices/deadline_schedule.h"
#include "notices/enforcement_document.h"
#include "notices/json_fields.h"
#include "notices/notice.h"
#include "notices/outbox_record.h"
#include "spdlog/spdlog.h"

namespace takedown {

using Json = nlohmann::json;

// Everything one atomic write holds, collected before anything is written,
// so a failure part-way leaves no trace.
struct CaseEngine::Effects {
  struct Op {
    Cf cf;
    bool erase;
    std::string key;
    std::string value;
  };

  explicit Effects(absl::Time at) : now(at) {}

  void Put(Cf cf, std::string key, std::string value) {
    ops.push_back({cf, false, std::move(key), std::move(value)});
  }
  void Delete(Cf cf, std::string key) { ops.push_back({cf, true, std::move(key), {}}); }
  void ApplyTo(Store::Batch& batch) const {
    for (const Op& op : ops) {
      if (op.erase) {
        batch.Delete(op.cf, op.key);
      } else {
        batch.Put(op.cf, op.key, op.value);
      }
    }
  }

  const absl::Time now;
  std::vector<Op> ops;
  std::vector<AuditEvent> events;
  std::vector<std::pair<CaseState, CaseState>> moves;
  int notices = 0;
  std::vector<std::function<void()>> after;  // metrics, once written
};

namespace {

constexpr uint64_t kSequencesPerRound = 100'000;
constexpr absl::Duration kPreservedEraseRetry = absl::Hours(1);

std::string StateName(CaseState s) { return std::string(CaseStateName(s)); }
std::string KindName(TimerKind k) { return std::string(TimerKindName(k)); }

std::string Clip(std::string text, size_t limit) {
  if (text.size() <= limit) return text;
  size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // keep UTF-8 whole
  text.resize(cut);
  return text;
}

absl::StatusOr<Case> ParseCase(std::string_view value, const std::string& case_id) {
  Json json = Json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::DataLossError(fmt::format("case {} in the store is not valid JSON", case_id));
  }
  absl::StatusOr<Case> c = CaseFromJson(json);
  if (!c.ok()) return absl::DataLossError(std::string(c.status().message()));
  return c;
}

// Notices of one kind are told apart by a sequence number; a case notified
// again (after a dispute was decided) starts a new round so its notices get
// new ids instead of colliding with the first round's.
uint64_t Seq(const Case& c, uint64_t n) {
  uint64_t rounds = 0;
  for (const CaseTransition& t : c.history) rounds += t.to == CaseState::kNotified ? 1 : 0;
  return rounds * kSequencesPerRound + n;
}

auto TimerOrder(const Timer& t) { return std::make_tuple(t.due, TimerKindCode(t.kind), t.step, t.period); }

std::string Location(const Case& c) {
  if (!c.terms.location.empty()) return c.terms.location;
  if (c.object.source_id.empty()) return c.object.key;
  return c.object.source_id + ": " + c.object.key;
}

Json LegalExtra(const Case& c) {
  Json j = Json::object();
  j["legal_profile"] = c.terms.profile;
  if (c.terms.deadline != absl::InfinitePast()) j["deadline"] = TimeToJson(c.terms.deadline);
  if (c.terms.received_at != absl::InfinitePast()) j["received_at"] = TimeToJson(c.terms.received_at);
  if (c.terms.order) {
    const RemovalOrder& o = *c.terms.order;
    j["order_reference"] = o.order_reference;
    j["legal_basis"] = o.legal_basis;
    j["issuing_authority"] = o.issuing_authority.name;
    if (!o.instruction_reference.empty()) j["instruction_reference"] = o.instruction_reference;
    j["secrecy"] = o.secrecy;
  }
  if (!c.terms.location.empty()) j["location"] = c.terms.location;
  if (!c.terms.provider.empty()) j["provider"] = c.terms.provider;
  return j;
}

std::string_view RemovalFor(RecheckOutcome outcome) {
  switch (outcome) {
    case RecheckOutcome::kGone:
      return kRemovalGone;
    case RecheckOutcome::kAccessDisabled:
      return kRemovalAccessDisabled;
    case RecheckOutcome::kChanged:
      return kRemovalChanged;
    default:
      return "";
  }
}

bool IsKnownRemoval(std::string_view removal) {
  return removal == kRemovalRemoved || removal == kRemovalAccessDisabled || removal == kRemovalGone ||
         removal == kRemovalChanged;
}

// True when the case was notified before and, since then, a dispute was
// decided against the receiver (disputed -> confirmed). The newest history
// entry is the transition to notified being made.
bool RenotifiedAfterDispute(const Case& c) {
  for (size_t i = c.history.size() - 1; i-- > 0;) {
    const CaseTransition& t = c.history[i];
    if (t.from == CaseState::kDisputed && t.to == CaseState::kConfirmed) return true;
    if (t.to == CaseState::kNotified) return false;
  }
  return false;
}

bool HostMatches(std::string_view host, std::string_view entry) {
  if (host == entry) return true;
  return host.size() > entry.size() && host.ends_with(entry) && host[host.size() - entry.size() - 1] == '.';
}

// Checked before anything is done on a person's behalf, so a nameless
// request cannot even fire the case's due timers.
absl::Status CheckActor(const std::string& actor) {
  if (actor.empty() || actor.size() > kMaxActorLength || !IsValidUtf8(actor)) {
    return absl::InvalidArgumentError(fmt::format(
        "a case action needs an actor: who or what asks for it (UTF-8, 1..{} bytes), e.g. reviewer:alice",
        kMaxActorLength));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<CaseEngine>> CaseEngine::Create(Store& store, AuditLog& audit, Clock& clock,
                                                               DaemonMetrics& metrics,
                                                               CaseEngineOptions options) {
  std::vector<LegalProfile> profiles = options.profiles.empty() ? BuiltinProfiles() : options.profiles;
  for (LegalProfile& p : profiles) {
    ASSIGN_OR_RETURN(p, ValidateProfile(std::move(p)));
  }
  auto known = [&](std::string_view name) {
    return std::any_of(profiles.begin(), profiles.end(),
                       [&](const LegalProfile& p) { return p.name == name; });
  };
  if (!known(options.detection_profile)) {
    return absl::InvalidArgumentError(fmt::format(
        "case engine: detection profile '{}' is not a configured legal profile", options.detection_profile));
  }
  for (size_t i = 0; i < options.providers.size(); ++i) {
    const ProviderEntry& p = options.providers[i];
    if (p.name.empty() || p.hosts.empty() || p.channel.empty()) {
      return absl::InvalidArgumentError(fmt::format(
          "case engine: providers[{}] ('{}') needs a name, at least one host and a notice channel", i,
          p.name));
    }
    if (!p.profile.empty() && !known(p.profile)) {
      return absl::InvalidArgumentError(
          fmt::format("case engine: providers[{}] ('{}') names legal profile '{}', which is not configured",
                      i, p.name, p.profile));
    }
  }
  if (options.channels.empty()) options.channels.push_back(std::string(kDefaultNoticeChannel));
  if (options.feedback_channel.empty()) options.feedback_channel = options.channels.front();
  if (options.fire_chunk == 0) options.fire_chunk = 1;
  std::unique_ptr<CaseEngine> engine(new CaseEngine(store, audit, clock, metrics, std::move(options)));
  engine->profiles_ = std::move(profiles);
  RETURN_IF_ERROR(engine->LoadDiscoveredProviders());
  return engine;
}

CaseEngine::CaseEngine(Store& store, AuditLog& audit, Clock& clock, DaemonMetrics& metrics,
                       CaseEngineOptions options)
    : store_(store), audit_(audit), clock_(clock), metrics_(metrics), options_(std::move(options)) {}

CaseEngine::~CaseEngine() { Stop(); }

// ---------------------------------------------------------------------------
// Lookups

const LegalProfile* CaseEngine::FindProfile(std::string_view name) const {
  for (const LegalProfile& p : profiles_) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

absl::StatusOr<const LegalProfile*> CaseEngine::Profile(std::string_view name) const {
  if (const LegalProfile* p = FindProfile(name)) return p;
  std::string names;
  for (const LegalProfile& p : profiles_) names += (names.empty() ? "" : ", ") + p.name;
  return absl::NotFoundError(fmt::format("legal profile '{}' is not configured; configured: {}",
                                         std::string(name).substr(0, 64), names));
}

absl::StatusOr<const LegalProfile*> CaseEngine::ProfileOf(const Case& c) const {
  if (c.terms.profile.empty()) {
    return absl::FailedPreconditionError(fmt::format("case {} has no legal profile yet", c.id));
  }
  return Profile(c.terms.profile);
}

const ProviderEntry* CaseEngine::ProviderFor(const Case& c) const {
  const std::string& url = c.terms.location.empty() ? c.object.key : c.terms.location;
  absl::StatusOr<HttpUrl> parsed = ParseHttpUrl(url);
  if (!parsed.ok()) return nullptr;
  const ProviderEntry* best = nullptr;
  size_t best_length = 0;
  for (const ProviderEntry& p : options_.providers) {
    for (const std::string& host : p.hosts) {
      if (HostMatches(parsed->host, host) && host.size() > best_length) {
        best = &p;
        best_length = host.size();
      }
    }
  }
  if (best != nullptr) return best;
  std::lock_guard lock(discovered_mu_);
  for (const ProviderEntry& p : discovered_) {
    if (!p.hosts.empty() && p.hosts.front() == parsed->host) return &p;
  }
  return nullptr;
}

namespace {

constexpr std::string_view kDiscoveredProviderPrefix = "provider/";

Json ProviderToJson(const ProviderEntry& p) {
  return Json{{"name", p.name},
              {"hosts", p.hosts},
              {"channel", p.channel},
              {"profile", p.profile},
              {"contact_point", p.contact_point}};
}

}  // namespace

absl::Status CaseEngine::LoadDiscoveredProviders() {
  absl::Status decode;
  RETURN_IF_ERROR(
      store_.Scan(Cf::kMeta, kDiscoveredProviderPrefix, [&](std::string_view key, std::string_view value) {
        try {
          const Json j = Json::parse(value);
          ProviderEntry p;
          p.name = j.at("name").get<std::string>();
          p.hosts = j.at("hosts").get<std::vector<std::string>>();
          p.channel = j.at("channel").get<std::string>();
          p.profile = j.at("profile").get<std::string>();
          p.contact_point = j.at("contact_point").get<std::string>();
          if (p.hosts.empty()) throw std::runtime_error("no host");
          discovered_.push_back(std::move(p));
        } catch (const std::exception& e) {
          decode = absl::DataLossError(
              fmt::format("stored provider '{}' is unreadable ({}); delete that meta key or "
                          "restore the store",
                          std::string(key), e.what()));
          return false;
        }
        return true;
      }));
  return decode;
}

absl::Status CaseEngine::DiscoverProvider(const Case& c) {
  const std::string& url = c.terms.location.empty() ? c.object.key : c.terms.location;
  absl::StatusOr<HttpUrl> parsed = ParseHttpUrl(url);
  if (!parsed.ok()) {
    return absl::FailedPreconditionError(fmt::format(
        "case {}: '{}' is not a URL whose hosting provider can be looked up", c.id, Clip(url, 200)));
  }
  const std::string host = parsed->host;
  absl::StatusOr<ProviderEntry> found = options_.provider_resolver->Resolve(host);
  if (!found.ok()) {
    return absl::FailedPreconditionError(fmt::format(
        "case {}: no hosting provider in the provider table serves '{}', and the lookup found none: {}; add "
        "its host to the provider table",
        c.id, host, std::string(found.status().message())));
  }
  ProviderEntry entry = *std::move(found);
  entry.hosts = {host};
  if (entry.name.empty() || entry.channel.empty()) {
    return absl::InternalError(fmt::format("the provider lookup for '{}' gave no name or channel", host));
  }
  if (!entry.profile.empty() && FindProfile(entry.profile) == nullptr) {
    return absl::FailedPreconditionError(
        fmt::format("the provider found for '{}' names legal profile '{}', which is not configured", host,
                    entry.profile));
  }
  Store::Batch batch;
  const Json json = ProviderToJson(entry);
  batch.Put(Cf::kMeta, std::string(kDiscoveredProviderPrefix) + host, json.dump());
  RETURN_IF_ERROR(audit_.Commit(std::move(batch), {AuditEvent{"engine", "provider.discovered", c.id, json}}));
  std::lock_guard lock(discovered_mu_);
  for (const ProviderEntry& p : discovered_) {
    if (p.hosts.front() == host) return absl::OkStatus();  // found by a concurrent confirm
  }
  discovered_.push_back(std::move(entry));
  return absl::OkStatus();
}

std::vector<std::string> CaseEngine::RecipientChannels(const Case& c) const {
  if (options_.role == EngineRole::kAuthority) {
    if (const ProviderEntry* p = ProviderFor(c)) return {p->channel};
  }
  return options_.channels;
}

absl::StatusOr<Case> CaseEngine::Load(const std::string& case_id) const {
  ASSIGN_OR_RETURN(std::optional<std::string> stored, store_.Get(Cf::kCases, case_id));
  if (!stored) return absl::NotFoundError(fmt::format("no case '{}'", case_id.substr(0, 128)));
  return ParseCase(*stored, case_id);
}

absl::StatusOr<Case> CaseEngine::Get(const std::string& case_id) const { return Load(case_id); }

// ---------------------------------------------------------------------------
// State changes

namespace {

absl::Status CancelTimers(Case& c, bool keep_after_removal, std::vector<std::string>& deleted_keys) {
  std::vector<Timer> kept;
  for (const Timer& t : c.terms.timers) {
    if (keep_after_removal &&
        (t.kind == TimerKind::kPreservationExpiry || t.kind == TimerKind::kSecrecyEnd)) {
      kept.push_back(t);
      continue;
    }
    ASSIGN_OR_RETURN(std::string key, EncodeTimerKey(t));
    deleted_keys.push_back(std::move(key));
  }
  c.terms.timers = std::move(kept);
  return absl::OkStatus();
}

}  // namespace

absl::Status CaseEngine::Enter(Case& c, CaseState to, const std::string& actor, const std::string& reason,
                               Effects& fx) {
  const CaseState from = c.state;
  RETURN_IF_ERROR(ApplyTransition(c, to, fx.now, actor, Clip(reason, kMaxReasonLength)));
  fx.moves.emplace_back(from, to);
  fx.events.push_back(AuditEvent{actor, "case.transition", c.id,
                                 Json{{"from", StateName(from)},
                                      {"to", StateName(to)},
                                      {"reason", Clip(reason, kMaxReasonLength)},
                                      {"at", TimeToJson(fx.now)}}});
  switch (to) {
    case CaseState::kNotified:
      return EnterNotified(c, fx);
    case CaseState::kRejected:
    case CaseState::kDisputed:
    case CaseState::kClosed: {
      // A decision pending (disputed) or taken (rejected, closed) stops the
      // clock; a preserved removal keeps its expiry.
      std::vector<std::string> keys;
      RETURN_IF_ERROR(CancelTimers(c, /*keep_after_removal=*/true, keys));
      for (std::string& key : keys) fx.Delete(Cf::kTimers, std::move(key));
      return absl::OkStatus();
    }
    default:
      return absl::OkStatus();
  }
}

namespace {

absl::Status AddTimers(Case& c, std::vector<Timer> timers,
                       std::vector<std::pair<std::string, std::string>>& puts) {
  for (Timer& t : timers) {
    ASSIGN_OR_RETURN(std::string key, EncodeTimerKey(t));
    puts.emplace_back(std::move(key), EncodeTimerValue(t));
    if (std::find(c.terms.timers.begin(), c.terms.timers.end(), t) == c.terms.timers.end()) {
      c.terms.timers.push_back(std::move(t));
    }
  }
  if (c.terms.timers.size() > kMaxCaseTimers) {
    return absl::ResourceExhaustedError(fmt::format("case {}: {} pending timers; the limit is {}", c.id,
                                                    c.terms.timers.size(), kMaxCaseTimers));
  }
  std::stable_sort(c.terms.timers.begin(), c.terms.timers.end(),
                   [](const Timer& a, const Timer& b) { return TimerOrder(a) < TimerOrder(b); });
  return absl::OkStatus();
}

}  // namespace

absl::Status CaseEngine::EnterNotified(Case& c, Effects& fx) {
  const ProviderEntry* provider = nullptr;
  if (options_.role == EngineRole::kAuthority) {
    provider = ProviderFor(c);
    if (provider == nullptr) {
      return absl::FailedPreconditionError(
          fmt::format("case {}: no hosting provider in the provider table serves '{}'; add its host to the "
                      "provider table "
                      "before notifying",
                      c.id, Clip(c.terms.location.empty() ? c.object.key : c.terms.location, 200)));
    }
    c.terms.provider = provider->name;
    if (c.terms.location.empty()) c.terms.location = c.object.key;
    if (c.terms.profile.empty() && !provider->profile.empty()) c.terms.profile = provider->profile;
  }
  if (c.terms.profile.empty()) c.terms.profile = options_.detection_profile;
  ASSIGN_OR_RETURN(const LegalProfile* profile, ProfileOf(c));
  // The removal term starts when the request goes out; after a dispute is
  // decided against the receiver it starts again (TCO Art. 3(7)/(8): the
  // clock restarts once the clarification is received).
  if (c.terms.deadline == absl::InfinitePast() || RenotifiedAfterDispute(c)) {
    c.terms.received_at = fx.now;
    if (c.terms.order) {
      ASSIGN_OR_RETURN(c.terms.deadline, OrderDeadline(*profile, *c.terms.order, fx.now));
    } else {
      ASSIGN_OR_RETURN(c.terms.deadline, RemovalDeadline(*profile, fx.now));
    }
  }
  std::vector<std::string> cancelled;
  RETURN_IF_ERROR(CancelTimers(c, /*keep_after_removal=*/true, cancelled));
  for (std::string& key : cancelled) fx.Delete(Cf::kTimers, std::move(key));
  ASSIGN_OR_RETURN(std::vector<Timer> timers,
                   ScheduleCaseTimers(*profile, c.id, c.terms.received_at, c.terms.deadline));
  std::erase_if(timers, [&](const Timer& t) { return t.kind == TimerKind::kReminder && t.due <= fx.now; });
  std::vector<std::pair<std::string, std::string>> puts;
  RETURN_IF_ERROR(AddTimers(c, std::move(timers), puts));
  for (auto& [key, value] : puts) fx.Put(Cf::kTimers, std::move(key), std::move(value));

  Json extra = LegalExtra(c);
  std::string_view kind = kRemovalRequestNoticeKind;
  if (provider != nullptr) {
    kind = kOrderIssuedNoticeKind;
    extra["authority"] = Json{{"name", options_.authority.name},
                              {"member_state", options_.authority.member_state},
                              {"contact", options_.authority.contact}};
    extra["redress"] = options_.authority.redress;
    extra["provider_contact_point"] = provider->contact_point;
    Json reasons = Json::array();
    for (const MatchEvidence& e : c.evidence) {
      reasons.push_back(
          fmt::format("{} {} on list {} (entry {})", e.hash_type, e.digest_hex, e.list_name, e.entry_id));
    }
    extra["reasons"] = std::move(reasons);
  }
  for (const std::string& channel : RecipientChannels(c)) {
    Notice notice = MakeCaseNotice(c, kind, channel, Seq(c, 0), fx.now, extra);
    fx.Put(Cf::kOutbox, notice.id, DumpJson(OutboxRecordToJson(NewOutboxRecord(notice, fx.now))));
    ++fx.notices;
  }
  return absl::OkStatus();
}

absl::Status CaseEngine::MarkRemoved(Case& c, std::string_view removal, absl::Time at,
                                     const std::string& actor, const std::string& reason, Effects& fx) {
  if (!IsKnownRemoval(removal)) {
    return absl::InvalidArgumentError(fmt::format(
        "case {}: removal '{}' is not one of removed, access_disabled, gone, changed", c.id, removal));
  }
  if (at > fx.now || at == absl::InfinitePast()) {
    return absl::InvalidArgumentError(
        fmt::format("case {}: the removal time must be set and not in the future", c.id));
  }
  RETURN_IF_ERROR(Enter(c, CaseState::kRemoved, actor, reason, fx));
  c.terms.removed_at = at;
  c.terms.removal = std::string(removal);
  std::vector<std::string> cancelled;
  RETURN_IF_ERROR(CancelTimers(c, /*keep_after_removal=*/false, cancelled));
  for (std::string& key : cancelled) fx.Delete(Cf::kTimers, std::move(key));

  const LegalProfile* profile = FindProfile(c.terms.profile);
  if (profile != nullptr) {
    ASSIGN_OR_RETURN(std::optional<Timer> preservation, PreservationExpiryTimer(*profile, c.id, at));
    if (preservation) {
      std::vector<std::pair<std::string, std::string>> puts;
      RETURN_IF_ERROR(AddTimers(c, {*preservation}, puts));
      for (auto& [key, value] : puts) fx.Put(Cf::kTimers, std::move(key), std::move(value));
    }
  }

  Json details{{"removal", c.terms.removal},
               {"removed_at", TimeToJson(at)},
               {"received_at", TimeToJson(c.terms.received_at)},
               {"deadline", TimeToJson(c.terms.deadline)},
               {"profile", c.terms.profile}};
  std::optional<bool> on_time;
  double seconds = 0;
  if (c.terms.received_at != absl::InfinitePast()) {
    seconds = absl::ToDoubleSeconds(at - c.terms.received_at);
    details["time_to_removal_seconds"] = seconds;
  }
  if (c.terms.deadline != absl::InfinitePast()) {
    DeadlineOutcome outcome = Evaluate(c.terms.deadline, at);
    on_time = outcome.on_time;
    details["on_time"] = outcome.on_time;
    details["late_by_seconds"] = absl::ToDoubleSeconds(outcome.late_by);
    details["margin_seconds"] = absl::ToDoubleSeconds(outcome.margin);
  }
  fx.events.push_back(AuditEvent{actor, "case.removal", c.id, details});
  const std::string profile_name = c.terms.profile.empty() ? "none" : c.terms.profile;
  fx.after.push_back(
      [this, profile_name, on_time, seconds] { metrics_.CountRemoval(profile_name, on_time, seconds); });

  if (c.terms.order && profile != nullptr && profile->feedback_to_issuer) {
    FeedbackOutcome outcome;
    outcome.action = removal == kRemovalAccessDisabled ? FeedbackOutcome::Action::kAccessDisabled
                                                       : FeedbackOutcome::Action::kRemoved;
    outcome.at = at;
    outcome.received_at = c.terms.received_at;
    if (!c.terms.location.empty()) outcome.urls = {c.terms.location};
    ASSIGN_OR_RETURN(Json document, RenderFeedback(*c.terms.order, outcome));
    Notice notice = MakeDocumentNotice(c.id, kFeedbackNoticeKind, options_.feedback_channel, Seq(c, 0),
                                       fx.now, std::move(document));
    fx.Put(Cf::kOutbox, notice.id, DumpJson(OutboxRecordToJson(NewOutboxRecord(notice, fx.now))));
    ++fx.notices;
  }
  if (profile != nullptr && !options_.content_provider_channel.empty() &&
      options_.role == EngineRole::kHostingProvider) {
    RETURN_IF_ERROR(QueueContentProviderNotice(c, *profile, fx));
  }
  return absl::OkStatus();
}

absl::Status CaseEngine::QueueContentProviderNotice(Case& c, const LegalProfile& profile, Effects& fx) {
  ContentProviderNoticeOptions options = options_.content_provider;
  options.now = fx.now;
  if (c.terms.order) options.secrecy_until = c.terms.order->secrecy_until;
  absl::StatusOr<ContentProviderNotice> built = BuildContentProviderNotice(c, profile, options);
  // The removal stands whatever happens to this document: a failure is
  // audited and counted, never a reason to undo the removal.
  if (!built.ok()) {
    fx.events.push_back(AuditEvent{"engine", "content_provider.error", c.id,
                                   Json{{"error", std::string(built.status().message())}}});
    fx.after.push_back([this] { metrics_.CountError("content_provider_notice"); });
    return absl::OkStatus();
  }
  if (!built->send) {
    if (!built->withheld_reason.empty()) {
      fx.events.push_back(AuditEvent{"engine", "content_provider.withheld", c.id,
                                     Json{{"reason", built->withheld_reason},
                                          {"until", built->withheld_until == absl::InfinitePast()
                                                        ? Json(nullptr)
                                                        : Json(TimeToJson(built->withheld_until))}}});
    }
    if (built->withheld_until != absl::InfinitePast() && built->withheld_until > fx.now) {
      // The authority said when its confidentiality ends: inform then.
      Timer end;
      end.due = built->withheld_until;
      end.case_id = c.id;
      end.kind = TimerKind::kSecrecyEnd;
      end.profile = profile.name;
      std::vector<std::pair<std::string, std::string>> puts;
      RETURN_IF_ERROR(AddTimers(c, {end}, puts));
      for (auto& [key, value] : puts) fx.Put(Cf::kTimers, std::move(key), std::move(value));
    }
    return absl::OkStatus();
  }
  Notice notice = MakeDocumentNotice(c.id, built->kind, options_.content_provider_channel, Seq(c, 0), fx.now,
                                     std::move(built->payload));
  fx.Put(Cf::kOutbox, notice.id, DumpJson(OutboxRecordToJson(NewOutboxRecord(notice, fx.now))));
  ++fx.notices;
  return absl::OkStatus();
}

absl::Status CaseEngine::RouteDetected(Case& c, const std::string& actor, Effects& fx) {
  if (c.terms.profile.empty()) {
    c.terms.profile = options_.detection_profile;
    if (options_.role == EngineRole::kAuthority) {
      if (const ProviderEntry* p = ProviderFor(c); p != nullptr && !p->profile.empty())
        c.terms.profile = p->profile;
    }
  }
  ASSIGN_OR_RETURN(const LegalProfile* profile, ProfileOf(c));
  bool all_exact_auto = !c.evidence.empty();
  bool any_perceptual = false;
  std::vector<std::string> lists;
  for (const MatchEvidence& e : c.evidence) {
    if (e.hash_type == "pdq") any_perceptual = true;
    if (e.hash_type == "pdq" || !options_.auto_action_lists.contains(e.list_name)) all_exact_auto = false;
    if (std::find(lists.begin(), lists.end(), e.list_name) == lists.end()) lists.push_back(e.list_name);
  }
  std::string list_text;
  for (const std::string& l : lists) list_text += (list_text.empty() ? "" : ", ") + l;

  if (profile->review == ReviewPolicy::kReviewPerceptual && all_exact_auto) {
    RETURN_IF_ERROR(Enter(
        c, CaseState::kConfirmed, "policy:auto-action",
        fmt::format("exact match on list(s) {} whose policy allows action without review", list_text), fx));
    if (options_.notify_on_confirm) {
      RETURN_IF_ERROR(Enter(c, CaseState::kNotified, "engine", "removal request sent on confirmation", fx));
    }
    return absl::OkStatus();
  }
  std::string why;
  if (profile->review == ReviewPolicy::kReviewPerceptual) {
    why = any_perceptual ? "perceptual match: a person reviews it first (collisions exist)"
                         : fmt::format("list(s) {} do not allow action without review", list_text);
  } else {
    why = fmt::format("legal profile {} requires review ({})", profile->name,
                      ReviewPolicyName(profile->review));
  }
  (void)actor;
  return Enter(c, CaseState::kInReview, "policy:review", why, fx);
}

absl::Status CaseEngine::Commit(Case& c, Effects& fx) {
  c.updated_at = fx.now;
  fx.Put(Cf::kCases, c.id, DumpJson(CaseToJson(c)));
  Store::Batch batch;
  fx.ApplyTo(batch);
  RETURN_IF_ERROR(audit_.Commit(std::move(batch), std::move(fx.events)));
  for (const auto& [from, to] : fx.moves) metrics_.CaseStateChanged(from, to);
  for (const auto& f : fx.after) f();
  if (fx.notices > 0 && options_.on_notice) options_.on_notice();
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Public operations

absl::StatusOr<Case> CaseEngine::Transition(const std::string& case_id, CaseState to,
                                            const std::string& actor, const std::string& reason) {
  RETURN_IF_ERROR(CheckActor(actor));
  if (to == CaseState::kConfirmed) return Confirm(case_id, actor, reason);
  if (to == CaseState::kRejected) {
    ASSIGN_OR_RETURN(RejectOutcome outcome, Reject(case_id, actor, reason));
    return outcome.rejected;
  }
  if (to == CaseState::kRemoved) return RecordRemoval(case_id, kRemovalRemoved, clock_.Now(), actor, reason);
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Case c, Load(case_id));
  RETURN_IF_ERROR(ValidateTransition(c.state, to));
  RETURN_IF_ERROR(CatchUpLocked(c, clock_.Now()));
  Effects fx(clock_.Now());
  RETURN_IF_ERROR(Enter(c, to, actor, reason, fx));
  RETURN_IF_ERROR(Commit(c, fx));
  return c;
}

absl::StatusOr<Case> CaseEngine::Confirm(const std::string& case_id, const std::string& actor,
                                         const std::string& reason) {
  RETURN_IF_ERROR(CheckActor(actor));
  if (options_.role == EngineRole::kAuthority && options_.provider_resolver != nullptr &&
      options_.notify_on_confirm) {
    // The lookup is network I/O: before the case lock.
    ASSIGN_OR_RETURN(Case before, Load(case_id));
    if (before.state != CaseState::kConfirmed && ProviderFor(before) == nullptr) {
      RETURN_IF_ERROR(ValidateTransition(before.state, CaseState::kConfirmed));
      RETURN_IF_ERROR(DiscoverProvider(before));
    }
  }
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Case c, Load(case_id));
  RETURN_IF_ERROR(ValidateTransition(c.state, CaseState::kConfirmed));
  Effects fx(clock_.Now());
  RETURN_IF_ERROR(Enter(c, CaseState::kConfirmed, actor, reason, fx));
  if (options_.notify_on_confirm) {
    RETURN_IF_ERROR(Enter(
        c, CaseState::kNotified, "engine",
        Clip(fmt::format("removal request sent after confirmation by {}", actor), kMaxReasonLength), fx));
  }
  RETURN_IF_ERROR(Commit(c, fx));
  return c;
}

absl::StatusOr<RejectOutcome> CaseEngine::Reject(const std::string& case_id, const std::string& actor,
                                                 const std::string& reason) {
  RETURN_IF_ERROR(CheckActor(actor));
  RejectOutcome outcome;
  {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(Case c, Load(case_id));
    if (c.state != CaseState::kRejected) {
      RETURN_IF_ERROR(ValidateTransition(c.state, CaseState::kRejected));
      Effects fx(clock_.Now());
      RETURN_IF_ERROR(Enter(c, CaseState::kRejected, actor, reason, fx));
      RETURN_IF_ERROR(Commit(c, fx));
      ASSIGN_OR_RETURN(outcome.dependent_cases_rejected, RejectDependentsLocked(c, actor, reason));
    }
    outcome.rejected = std::move(c);
  }
  // Outside the case lock: the allowlist import may take a while, and a
  // hash-list import can call back into the CaseRecorder.
  RETURN_IF_ERROR(AddToAllowlist(outcome.rejected, actor, reason, outcome.allowlist_additions));
  return outcome;
}

absl::Status CaseEngine::AddToAllowlist(const Case& c, const std::string& actor, const std::string& reason,
                                        size_t& additions) {
  if (options_.allowlist == nullptr || c.evidence.empty()) return absl::OkStatus();
  std::vector<AllowlistAddition> list;
  for (const MatchEvidence& e : c.evidence) {
    bool seen = std::any_of(list.begin(), list.end(), [&](const AllowlistAddition& a) {
      return a.list_name == e.list_name && a.hash_type == e.hash_type && a.digest_hex == e.digest_hex;
    });
    if (seen) continue;
    list.push_back(AllowlistAddition{e.list_name, e.hash_type, e.digest_hex, e.category, c.id, reason});
  }
  absl::Status s = options_.allowlist->Add(list, actor);
  if (!s.ok()) {
    metrics_.CountError("allowlist_add");
    return Annotate(s, fmt::format("case {} is rejected, but adding its digests to the allowlist failed; "
                                   "reject it again to retry",
                                   c.id));
  }
  additions = list.size();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> CaseEngine::RejectDependentsLocked(const Case& rejected,
                                                                            const std::string& actor,
                                                                            const std::string& reason) {
  std::vector<std::string> ids;
  if (rejected.evidence.empty()) return ids;
  auto covered = [&](const MatchEvidence& e) {
    return std::any_of(rejected.evidence.begin(), rejected.evidence.end(), [&](const MatchEvidence& r) {
      return (e.list_name == r.list_name && e.entry_id == r.entry_id) ||
             (e.hash_type == r.hash_type && e.digest_hex == r.digest_hex);
    });
  };
  RETURN_IF_ERROR(store_.Scan(Cf::kCases, "", [&](std::string_view key, std::string_view value) {
    if (key == rejected.id) return true;
    absl::StatusOr<Case> c = ParseCase(value, std::string(key));
    if (!c.ok()) return true;  // a corrupt record is reported where it is read, not here
    if (c->state != CaseState::kDetected && c->state != CaseState::kInReview) return true;
    if (c->evidence.empty() || !std::all_of(c->evidence.begin(), c->evidence.end(), covered)) return true;
    ids.push_back(c->id);
    return true;
  }));
  for (const std::string& id : ids) {
    ASSIGN_OR_RETURN(Case c, Load(id));
    Effects fx(clock_.Now());
    RETURN_IF_ERROR(
        Enter(c, CaseState::kRejected, actor,
              Clip(fmt::format("depends only on digests or list entries rejected as a false positive "
                               "in case {}: {}",
                               rejected.id, reason),
                   kMaxReasonLength),
              fx));
    RETURN_IF_ERROR(Commit(c, fx));
  }
  return ids;
}

absl::StatusOr<Case> CaseEngine::RecordRemoval(const std::string& case_id, std::string_view removal,
                                               absl::Time at, const std::string& actor,
                                               const std::string& reason, const CaseObject* observed,
                                               const PreservedContent* preserved) {
  RETURN_IF_ERROR(CheckActor(actor));
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Case c, Load(case_id));
  RETURN_IF_ERROR(ValidateTransition(c.state, CaseState::kRemoved));
  const absl::Time now = clock_.Now();
  // What was due before the removal happened is recorded first (e.g. the
  // case went overdue before a late removal).
  RETURN_IF_ERROR(CatchUpLocked(c, std::min(at, now)));
  Effects fx(now);
  if (observed != nullptr) {
    const std::string source_id = c.object.source_id;
    const std::string key = c.object.key;
    c.object = *observed;
    c.object.source_id = source_id;
    c.object.key = key;
    fx.events.push_back(AuditEvent{actor, "case.evidence", c.id,
                                   Json{{"version", c.object.version},
                                        {"size", c.object.size},
                                        {"md5", c.object.md5_hex},
                                        {"sha1", c.object.sha1_hex},
                                        {"sha256", c.object.sha256_hex}}});
  }
  if (preserved != nullptr) {
    if (c.terms.preserved.size() >= kMaxPreservedContent) {
      return absl::ResourceExhaustedError(
          fmt::format("case {} already lists {} sealed copies", c.id, kMaxPreservedContent));
    }
    PreservedContent copy = *preserved;
    copy.preserved_at = at;
    copy.erased_at = absl::InfinitePast();
    const LegalProfile* profile = FindProfile(c.terms.profile);
    copy.retain_until = profile != nullptr && profile->preservation_period > absl::ZeroDuration()
                            ? at + profile->preservation_period
                            : absl::InfinitePast();
    fx.events.push_back(AuditEvent{actor, "case.content_preserved", c.id,
                                   Json{{"location", copy.location},
                                        {"key_id", copy.key_id},
                                        {"bytes", copy.bytes},
                                        {"sha256", copy.sha256_hex},
                                        {"retain_until", TimeToJson(copy.retain_until)}}});
    c.terms.preserved.push_back(std::move(copy));
  }
  RETURN_IF_ERROR(MarkRemoved(c, removal, at, actor, reason, fx));
  RETURN_IF_ERROR(Commit(c, fx));
  return c;
}

absl::StatusOr<CaseEngine::RecheckNowResult> CaseEngine::RecheckNow(const std::string& case_id,
                                                                    const std::string& actor) {
  RETURN_IF_ERROR(CheckActor(actor));
  if (options_.checker == nullptr) {
    return absl::FailedPreconditionError("no content checker is configured; cases cannot be re-checked");
  }
  ASSIGN_OR_RETURN(Case before, Load(case_id));
  RETURN_IF_ERROR(ValidateTransition(before.state, CaseState::kRemoved));
  ASSIGN_OR_RETURN(ContentCheck check, options_.checker->Recheck(before));
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Case c, Load(case_id));
  const absl::Time now = clock_.Now();
  std::string_view removal = RemovalFor(check.outcome);
  if (!removal.empty()) {
    RETURN_IF_ERROR(ValidateTransition(c.state, CaseState::kRemoved));
    RETURN_IF_ERROR(CatchUpLocked(c, now));
    Effects fx(now);
    RETURN_IF_ERROR(
        MarkRemoved(c, removal, now, actor, Clip("re-check: " + check.reason, kMaxReasonLength), fx));
    RETURN_IF_ERROR(Commit(c, fx));
    return RecheckNowResult{std::move(c), std::move(check)};
  }
  if (check.outcome == RecheckOutcome::kError) metrics_.CountError("recheck_error");
  RETURN_IF_ERROR(audit_.Append(AuditEvent{actor, "case.recheck", case_id,
                                           Json{{"outcome", RecheckOutcomeName(check.outcome)},
                                                {"reason", check.reason},
                                                {"state", StateName(c.state)}}}));
  return RecheckNowResult{std::move(c), std::move(check)};
}

absl::StatusOr<Case> CaseEngine::RecordInability(const std::string& case_id, FeedbackOutcome::Reason reason,
                                                 const std::string& explanation, const std::string& actor) {
  RETURN_IF_ERROR(CheckActor(actor));
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Case c, Load(case_id));
  if (!c.terms.order) {
    return absl::FailedPreconditionError(fmt::format(
        "case {} answers no removal order; only an order can be answered with inability", case_id));
  }
  RETURN_IF_ERROR(ValidateTransition(c.state, CaseState::kDisputed));
  RETURN_IF_ERROR(CatchUpLocked(c, clock_.Now()));
  Effects fx(clock_.Now());
  FeedbackOutcome outcome;
  outcome.action = FeedbackOutcome::Action::kUnableToComply;
  outcome.at = fx.now;
  outcome.received_at = c.terms.received_at;
  outcome.reason = reason;
  outcome.explanation = explanation;
  if (!c.terms.location.empty()) outcome.urls = {c.terms.location};
  ASSIGN_OR_RETURN(Json document, RenderFeedback(*c.terms.order, outcome));
  RETURN_IF_ERROR(Enter(c, CaseState::kDisputed, actor,
                        fmt::format("unable to comply ({}): {}", InabilityReasonName(reason), explanation),
                        fx));
  Notice notice = MakeDocumentNotice(c.id, kInabilityNoticeKind, options_.feedback_channel, Seq(c, 0), fx.now,
                                     std::move(document));
  fx.Put(Cf::kOutbox, notice.id, DumpJson(OutboxRecordToJson(NewOutboxRecord(notice, fx.now))));
  ++fx.notices;
  RETURN_IF_ERROR(Commit(c, fx));
  return c;
}

absl::StatusOr<Case> CaseEngine::OpenOrderCase(const OrderCaseSpec& spec, const std::string& actor) {
  RETURN_IF_ERROR(CheckActor(actor));
  ASSIGN_OR_RETURN(const LegalProfile* profile, Profile(spec.order.profile));
  if (spec.deadline < spec.received_at) {
    return absl::InvalidArgumentError(
        fmt::format("order '{}': deadline before receipt", Clip(spec.order.order_reference, 128)));
  }
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(std::optional<std::string> existing, store_.Get(Cf::kCases, spec.case_id));
  if (existing) {
    return absl::AlreadyExistsError(fmt::format("case {} for order '{}' location '{}' exists already",
                                                spec.case_id, Clip(spec.order.order_reference, 128),
                                                Clip(spec.url, 200)));
  }
  Effects fx(clock_.Now());
  Case c;
  c.id = spec.case_id;
  c.state = CaseState::kDetected;
  c.category = spec.category;
  c.object = spec.object;
  c.created_at = fx.now;
  c.updated_at = fx.now;
  c.terms.profile = profile->name;
  c.terms.received_at = spec.received_at;
  c.terms.deadline = spec.deadline;
  c.terms.order = spec.order;
  c.terms.location = spec.url;
  Json details{{"order_reference", spec.order.order_reference},
               {"profile", profile->name},
               {"issuing_authority", spec.order.issuing_authority.name},
               {"url", spec.url},
               {"received_at", TimeToJson(spec.received_at)},
               {"deadline", TimeToJson(spec.deadline)},
               {"source_id", spec.object.source_id}};
  PutJsonBytes(details, "key", spec.object.key);
  fx.events.push_back(AuditEvent{actor, "case.create", c.id, details});
  fx.after.push_back([this] { metrics_.CaseStateChanged(std::nullopt, CaseState::kDetected); });
  RETURN_IF_ERROR(Enter(c, CaseState::kConfirmed, actor,
                        Clip(fmt::format("removal order {} of {}: the order is the authority's decision",
                                         spec.order.order_reference, spec.order.issuing_authority.name),
                             kMaxReasonLength),
                        fx));
  RETURN_IF_ERROR(Enter(c, CaseState::kNotified, actor,
                        fmt::format("order received {}; remove by {}", FormatAmsterdam(spec.received_at),
                                    FormatAmsterdam(spec.deadline)),
                        fx));
  RETURN_IF_ERROR(Commit(c, fx));
  return c;
}

absl::StatusOr<int> CaseEngine::AdmitDetected(const std::string& actor) {
  std::lock_guard lock(mu_);
  std::vector<std::string> ids;
  RETURN_IF_ERROR(store_.Scan(Cf::kCases, "", [&](std::string_view key, std::string_view value) {
    absl::StatusOr<Case> c = ParseCase(value, std::string(key));
    if (c.ok() && c->state == CaseState::kDetected) ids.push_back(c->id);
    return true;
  }));
  int admitted = 0;
  for (const std::string& id : ids) {
    ASSIGN_OR_RETURN(Case c, Load(id));
    Effects fx(clock_.Now());
    absl::Status routed = RouteDetected(c, actor, fx);
    if (!routed.ok()) {
      spdlog::warn("case {}: cannot admit it: {}", id, std::string(routed.message()));
      metrics_.CountError("case_admission");
      continue;
    }
    RETURN_IF_ERROR(Commit(c, fx));
    ++admitted;
  }
  return admitted;
}

absl::StatusOr<AdmissionResult> CaseEngine::Admit(Case& c, Store::Batch& batch,
                                                  std::vector<AuditEvent>& events, const std::string& actor) {
  AdmissionResult result;
  if (c.state != CaseState::kDetected) return result;
  Case work = c;
  Effects fx(clock_.Now());
  RETURN_IF_ERROR(RouteDetected(work, actor, fx));
  fx.ApplyTo(batch);
  for (AuditEvent& e : fx.events) events.push_back(std::move(e));
  result.moves = std::move(fx.moves);
  result.notices = fx.notices;
  c = std::move(work);
  return result;
}

void CaseEngine::Admitted(const AdmissionResult& result) {
  for (const auto& [from, to] : result.moves) metrics_.CaseStateChanged(from, to);
  if (result.notices > 0 && options_.on_notice) options_.on_notice();
}

// ---------------------------------------------------------------------------
// Timers

absl::Status CaseEngine::HandleTimer(Case& c, const Timer& t, const std::optional<ContentCheck>& check,
                                     Effects& fx, Json& details) {
  const std::string actor = "timer:" + KindName(t.kind);
  const LegalProfile* profile = FindProfile(c.terms.profile.empty() ? t.profile : c.terms.profile);
  auto skip = [&](std::string why) {
    details["outcome"] = "skipped";
    details["why"] = std::move(why);
    return absl::OkStatus();
  };
  auto notify = [&](std::string_view kind, uint64_t n, const Json& extra) {
    for (const std::string& channel : RecipientChannels(c)) {
      Notice notice = MakeCaseNotice(c, kind, channel, Seq(c, n), fx.now, extra);
      details["notice_ids"].push_back(notice.id);
      fx.Put(Cf::kOutbox, notice.id, DumpJson(OutboxRecordToJson(NewOutboxRecord(notice, fx.now))));
      ++fx.notices;
    }
  };
  auto context = [&]() {
    EnforcementContext ctx;
    ctx.case_id = c.id;
    ctx.profile = c.terms.profile;
    ctx.legal_basis = c.terms.order ? c.terms.order->legal_basis : (profile ? profile->legal_basis : "");
    if (c.terms.order) {
      ctx.order_reference = c.terms.order->order_reference;
      ctx.instruction_reference = c.terms.order->instruction_reference;
    }
    ctx.provider = c.terms.provider;
    ctx.location = Location(c);
    ctx.received_at = c.terms.received_at;
    ctx.deadline = c.terms.deadline;
    ctx.issued_at = fx.now;
    return ctx;
  };
  auto resolve_by_check = [&]() -> std::optional<absl::Status> {
    if (!check) return std::nullopt;
    details["recheck"] = Json{{"outcome", RecheckOutcomeName(check->outcome)}, {"reason", check->reason}};
    std::string_view removal = RemovalFor(check->outcome);
    if (removal.empty()) return std::nullopt;
    details["outcome"] = "removed";
    return MarkRemoved(c, removal, fx.now, actor, Clip("re-check: " + check->reason, kMaxReasonLength), fx);
  };

  switch (t.kind) {
    case TimerKind::kReminder: {
      details["outcome"] = "reminded";
      notify(kDeadlineReminderNoticeKind, static_cast<uint64_t>(t.step), LegalExtra(c));
      return absl::OkStatus();
    }
    case TimerKind::kDeadline: {
      if (!IsTransitionAllowed(c.state, CaseState::kOverdue)) {
        return skip(fmt::format("case is {}", CaseStateName(c.state)));
      }
      details["outcome"] = "overdue";
      return Enter(c, CaseState::kOverdue, actor,
                   fmt::format("removal deadline {} passed", FormatAmsterdam(c.terms.deadline)), fx);
    }
    case TimerKind::kEscalation: {
      if (profile == nullptr || t.step < 0 || static_cast<size_t>(t.step) >= profile->escalation.size()) {
        return absl::FailedPreconditionError(fmt::format(
            "case {}: legal profile '{}' has no escalation step {}", c.id, c.terms.profile, t.step));
      }
      const EscalationStep& step = profile->escalation[t.step];
      const std::string action = t.action.empty() ? step.kind : t.action;
      const std::string basis = step.basis.empty() ? action : step.basis;
      Json extra = LegalExtra(c);
      extra["escalation"] = Json{{"step", t.step}, {"kind", action}, {"basis", basis}};
      const std::string kind = std::string(kEscalationNoticePrefix) + action;
      if (action == kEscalationReminder || action == kEscalationPenaltyOrder ||
          action == kEscalationReferral) {
        std::optional<CaseState> to = StateAfterEscalation(action);
        if (!to || !IsTransitionAllowed(c.state, *to)) {
          return skip(fmt::format("case is {}", CaseStateName(c.state)));
        }
        RETURN_IF_ERROR(Enter(c, *to, actor, basis, fx));
        if (action == kEscalationPenaltyOrder) {
          c.terms.penalty_currency = step.currency;
          extra["document"] = RenderPenaltyOrder(context(), step, t.step);
        }
        details["outcome"] = StateName(*to);
        notify(kind, static_cast<uint64_t>(t.step), extra);
        return absl::OkStatus();
      }
      if (action == kEscalationFineProposal) {
        if (c.state != CaseState::kOverdue && c.state != CaseState::kReminded &&
            c.state != CaseState::kEscalated) {
          return skip(fmt::format("case is {}", CaseStateName(c.state)));
        }
        c.terms.fine_proposed_at = fx.now;
        extra["document"] = RenderFineProposal(context(), step, t.step, c.terms.penalty_accrued_cents);
        details["outcome"] = "fine_proposed";
        notify(kind, static_cast<uint64_t>(t.step), extra);
        fx.events.push_back(AuditEvent{actor, "case.fine_proposal", c.id,
                                       Json{{"step", t.step},
                                            {"proposed_amount_cents", step.amount_cents},
                                            {"cap_turnover_basis_points", step.cap_turnover_basis_points},
                                            {"penalty_forfeited_cents", c.terms.penalty_accrued_cents}}});
        if (options_.auto_fine_on_proposal && IsTransitionAllowed(c.state, CaseState::kFined)) {
          details["outcome"] = "fined";
          return Enter(c, CaseState::kFined, actor,
                       "fine proposed and, by configuration, recorded as imposed", fx);
        }
        return absl::OkStatus();
      }
      return absl::FailedPreconditionError(
          fmt::format("case {}: unknown escalation kind '{}'", c.id, Clip(action, 64)));
    }
    case TimerKind::kPenaltyPeriod: {
      if (std::optional<absl::Status> resolved = resolve_by_check()) return *resolved;
      if (c.state != CaseState::kEscalated && c.state != CaseState::kFined) {
        return skip(fmt::format("no penalty order in force (case is {})", CaseStateName(c.state)));
      }
      if (profile == nullptr || t.step < 0 || static_cast<size_t>(t.step) >= profile->escalation.size()) {
        return absl::FailedPreconditionError(fmt::format(
            "case {}: legal profile '{}' has no escalation step {}", c.id, c.terms.profile, t.step));
      }
      const EscalationStep& step = profile->escalation[t.step];
      const int64_t remaining =
          step.cap_cents > 0 ? step.cap_cents - c.terms.penalty_accrued_cents : step.amount_cents;
      const int64_t forfeit = std::min(step.amount_cents, remaining);
      if (forfeit <= 0) return skip("the penalty order's cap is reached");
      c.terms.penalty_accrued_cents += forfeit;
      c.terms.penalty_periods += 1;
      c.terms.penalty_currency = step.currency;
      details["outcome"] = "forfeited";
      details["forfeited_cents"] = forfeit;
      details["total_cents"] = c.terms.penalty_accrued_cents;
      details["amounts_are_placeholders"] = step.amount_is_placeholder;
      if (c.state == CaseState::kEscalated) {
        RETURN_IF_ERROR(Enter(c, CaseState::kEscalated, actor,
                              fmt::format("penalty period {}: {} forfeited, {} in total", t.period,
                                          FormatMoney(forfeit, step.currency),
                                          FormatMoney(c.terms.penalty_accrued_cents, step.currency)),
                              fx));
      }
      if (step.cap_cents > 0 && c.terms.penalty_accrued_cents >= step.cap_cents) {
        Json extra = LegalExtra(c);
        extra["document"] = RenderPenaltyCapReached(context(), step, t.step, c.terms.penalty_periods,
                                                    c.terms.penalty_accrued_cents);
        notify(kPenaltyCapNoticeKind, static_cast<uint64_t>(t.step), extra);
      }
      return absl::OkStatus();
    }
    case TimerKind::kRecheck: {
      c.terms.rechecks += 1;
      if (!check) return skip(options_.checker == nullptr ? "no content checker configured" : "not checked");
      if (std::optional<absl::Status> resolved = resolve_by_check()) return *resolved;
      if (check->outcome == RecheckOutcome::kStillPresent) {
        c.terms.renotices += 1;
        details["outcome"] = "still_present";
        notify(kRenoticeNoticeKind, static_cast<uint64_t>(t.step), LegalExtra(c));
        return absl::OkStatus();
      }
      fx.after.push_back([this] { metrics_.CountError("recheck_error"); });
      return skip("re-check inconclusive: " + check->reason);
    }
    case TimerKind::kSecrecyEnd: {
      if (options_.role != EngineRole::kHostingProvider || options_.content_provider_channel.empty())
        return skip("no content-provider channel is configured (cases.content_provider.channel)");
      if (profile == nullptr) return skip(fmt::format("legal profile '{}' is not configured", t.profile));
      if (c.terms.purged_at != absl::InfinitePast()) return skip("the case's order was purged");
      const int queued = fx.notices;
      RETURN_IF_ERROR(QueueContentProviderNotice(c, *profile, fx));
      details["outcome"] = fx.notices > queued ? "content_provider_informed" : "not_sent";
      return absl::OkStatus();
    }
    case TimerKind::kPreservationExpiry: {
      Purge(c, fx, details);
      if (details.value("preserved_kept", 0) > 0) {
        // A sealed copy could not be erased: try again in an hour.
        Timer retry = t;
        retry.due = fx.now + kPreservedEraseRetry;
        std::vector<std::pair<std::string, std::string>> puts;
        RETURN_IF_ERROR(AddTimers(c, {retry}, puts));
        for (auto& [key, value] : puts) fx.Put(Cf::kTimers, std::move(key), std::move(value));
      }
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown timer kind");
}

void CaseEngine::PurgeEvidence(Case& c, Effects& fx, Json& details) {
  size_t matches = 0;
  absl::Status scanned = store_.Scan(Cf::kMatches, c.id + '\0', [&](std::string_view key, std::string_view) {
    fx.Delete(Cf::kMatches, std::string(key));
    ++matches;
    return true;
  });
  if (!scanned.ok()) details["matches_error"] = std::string(scanned.message());
  details["evidence_purged"] = c.evidence.size();
  details["matches_purged"] = matches;
  details["order_purged"] = c.terms.order.has_value();
  CaseObject stub;
  stub.source_id = c.object.source_id;
  c.object = std::move(stub);
  c.evidence.clear();
  c.terms.order.reset();
  c.terms.location.clear();
  c.terms.purged_at = fx.now;
  fx.events.push_back(AuditEvent{"timer:preservation_expiry", "case.purge", c.id,
                                 Json{{"preservation_ended", TimeToJson(fx.now)},
                                      {"evidence_purged", details["evidence_purged"]},
                                      {"matches_purged", matches}}});
}

void CaseEngine::Purge(Case& c, Effects& fx, Json& details) {
  // A retry (a sealed copy could not be erased) finds the evidence gone.
  if (c.terms.purged_at == absl::InfinitePast()) PurgeEvidence(c, fx, details);
  details["outcome"] = "purged";
  int erased = 0;
  int kept = 0;
  for (PreservedContent& p : c.terms.preserved) {
    if (p.erased_at != absl::InfinitePast()) continue;
    absl::Status gone = options_.erase_preserved
                            ? options_.erase_preserved(p.location)
                            : absl::FailedPreconditionError("no preservation vault is configured");
    if (gone.ok()) {
      p.erased_at = fx.now;
      ++erased;
      fx.events.push_back(AuditEvent{"timer:preservation_expiry", "case.preserved_erased", c.id,
                                     Json{{"location", p.location},
                                          {"sha256", p.sha256_hex},
                                          {"retain_until", TimeToJson(p.retain_until)}}});
    } else {
      ++kept;
      fx.after.push_back([this] { metrics_.CountError("preserved_erase_error"); });
      fx.events.push_back(AuditEvent{"timer:preservation_expiry", "case.preserved_erase_failed", c.id,
                                     Json{{"location", p.location},
                                          {"error", std::string(gone.message())},
                                          {"retry_in_seconds", absl::ToInt64Seconds(kPreservedEraseRetry)}}});
    }
  }
  details["preserved_erased"] = erased;
  details["preserved_kept"] = kept;
}

absl::Status CaseEngine::FireLocked(Case& c, const Timer& t, const std::string& key,
                                    const std::optional<ContentCheck>& check, FireReport& report) {
  const absl::Time now = clock_.Now();
  const std::string kind = KindName(t.kind);
  const absl::Duration late = FiredLate(t, now);
  Json details{{"kind", kind},
               {"step", t.step},
               {"period", t.period},
               {"action", t.action},
               {"due", TimeToJson(t.due)},
               {"fired_at", TimeToJson(now)},
               {"late_seconds", absl::ToDoubleSeconds(late)},
               {"state", StateName(c.state)}};
  auto pending = std::find(c.terms.timers.begin(), c.terms.timers.end(), t);
  if (pending == c.terms.timers.end() || TimerIsStale(t, c.state)) {
    Effects fx(now);
    fx.Delete(Cf::kTimers, key);
    const bool was_pending = pending != c.terms.timers.end();
    if (was_pending) c.terms.timers.erase(pending);
    details["why"] = was_pending ? fmt::format("case is {}", CaseStateName(c.state))
                                 : std::string("not pending on the case (cancelled or rescheduled)");
    fx.events.push_back(AuditEvent{"timer:" + kind, "timer.stale", c.id, details});
    fx.after.push_back([this, kind] { metrics_.CountTimerStale(kind); });
    RETURN_IF_ERROR(Commit(c, fx));
    ++report.stale;
    return absl::OkStatus();
  }

  Case work = c;
  work.terms.timers.erase(work.terms.timers.begin() + (pending - c.terms.timers.begin()));
  Effects fx(now);
  fx.Delete(Cf::kTimers, key);
  absl::Status handled = HandleTimer(work, t, check, fx, details);
  if (!handled.ok()) {
    // The action cannot be taken (configuration or data problem): retrying
    // would fail the same way at every tick, so the timer is dropped, audited.
    spdlog::warn("case {}: timer {} step {} could not act: {}", c.id, kind, t.step,
                 std::string(handled.message()));
    Effects drop(now);
    drop.Delete(Cf::kTimers, key);
    c.terms.timers.erase(pending);
    details["error"] = std::string(handled.message());
    drop.events.push_back(AuditEvent{"timer:" + kind, "timer.error", c.id, details});
    drop.after.push_back([this] { metrics_.CountError("timer_action"); });
    RETURN_IF_ERROR(Commit(c, drop));
    ++report.failed;
    return absl::OkStatus();
  }
  fx.events.insert(fx.events.begin(), AuditEvent{"timer:" + kind, "timer.fire", work.id, details});
  const double late_seconds = absl::ToDoubleSeconds(late);
  fx.after.push_back([this, kind, late_seconds] { metrics_.CountTimerFired(kind, late_seconds); });
  RETURN_IF_ERROR(Commit(work, fx));
  c = std::move(work);
  ++report.fired;
  report.max_lateness = std::max(report.max_lateness, late);
  return absl::OkStatus();
}

absl::Status CaseEngine::CatchUpLocked(Case& c, absl::Time until) {
  FireReport report;
  // Re-checks need the network and run only from FireDue.
  std::vector<Timer> due;
  for (const Timer& t : c.terms.timers) {
    if (t.due <= until && t.kind != TimerKind::kRecheck) due.push_back(t);
  }
  for (const Timer& t : due) {
    if (std::find(c.terms.timers.begin(), c.terms.timers.end(), t) == c.terms.timers.end()) continue;
    ASSIGN_OR_RETURN(std::string key, EncodeTimerKey(t));
    RETURN_IF_ERROR(FireLocked(c, t, key, std::nullopt, report));
  }
  return absl::OkStatus();
}

std::optional<ContentCheck> CaseEngine::RunCheck(const Timer& t) {
  if (options_.checker == nullptr) return std::nullopt;
  absl::StatusOr<Case> c = Load(t.case_id);  // a read; the case lock is not needed
  if (!c.ok()) return std::nullopt;
  if (TimerIsStale(t, c->state) ||
      std::find(c->terms.timers.begin(), c->terms.timers.end(), t) == c->terms.timers.end()) {
    return std::nullopt;
  }
  absl::StatusOr<ContentCheck> check = options_.checker->Recheck(*c);
  if (!check.ok()) return ContentCheck{RecheckOutcome::kError, std::string(check.status().message())};
  return *check;
}

absl::Status CaseEngine::FireStored(const std::string& key, std::string_view value, FireReport& report) {
  absl::StatusOr<Timer> t = DecodeTimer(key, value);
  if (!t.ok()) {
    Store::Batch batch;
    batch.Delete(Cf::kTimers, key);
    metrics_.CountError("timer_corrupt");
    ++report.stale;
    return audit_.Commit(std::move(batch), {AuditEvent{"engine", "timer.corrupt", "",
                                                       Json{{"error", std::string(t.status().message())}}}});
  }
  std::optional<ContentCheck> check;
  if (t->kind == TimerKind::kRecheck || t->kind == TimerKind::kPenaltyPeriod) check = RunCheck(*t);
  std::lock_guard lock(mu_);
  absl::StatusOr<Case> c = Load(t->case_id);
  if (absl::IsNotFound(c.status())) {
    Store::Batch batch;
    batch.Delete(Cf::kTimers, key);
    ++report.stale;
    metrics_.CountTimerStale(KindName(t->kind));
    return audit_.Commit(std::move(batch), {AuditEvent{"timer:" + KindName(t->kind), "timer.orphan",
                                                       t->case_id, Json{{"due", TimeToJson(t->due)}}}});
  }
  if (!c.ok()) return c.status();
  return FireLocked(*c, *t, key, check, report);
}

absl::StatusOr<FireReport> CaseEngine::FireDue() {
  std::lock_guard fire_lock(fire_mu_);
  FireReport report;
  const std::string limit = TimerScanLimit(clock_.Now());
  std::string start;
  while (true) {
    std::vector<std::pair<std::string, std::string>> due;
    RETURN_IF_ERROR(store_.ScanFrom(Cf::kTimers, start, [&](std::string_view key, std::string_view value) {
      if (key >= limit) return false;
      due.emplace_back(std::string(key), std::string(value));
      return due.size() < options_.fire_chunk;
    }));
    if (due.empty()) break;
    for (const auto& [key, value] : due) {
      absl::Status fired = FireStored(key, value, report);
      if (!fired.ok()) {
        ++report.failed;
        metrics_.CountError("timer_fire");
        spdlog::warn("firing a timer failed (retried at the next tick): {}", std::string(fired.message()));
      }
    }
    if (due.size() < options_.fire_chunk) break;
    start = due.back().first + '\0';  // the smallest key after the last one seen
  }
  return report;
}

absl::StatusOr<std::optional<absl::Time>> CaseEngine::NextDue() const {
  std::optional<absl::Time> next;
  absl::Status decode;
  RETURN_IF_ERROR(store_.ScanFrom(Cf::kTimers, "", [&](std::string_view key, std::string_view value) {
    absl::StatusOr<Timer> t = DecodeTimer(key, value);
    if (!t.ok()) {
      decode = t.status();
    } else {
      next = t->due;
    }
    return false;
  }));
  RETURN_IF_ERROR(decode);
  return next;
}

void CaseEngine::Start() {
  std::lock_guard lock(loop_mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void CaseEngine::Stop() {
  {
    std::lock_guard lock(loop_mu_);
    stop_ = true;
  }
  loop_wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CaseEngine::Run() {
  std::unique_lock lock(loop_mu_);
  while (!stop_) {
    lock.unlock();
    absl::StatusOr<FireReport> report = FireDue();
    if (!report.ok()) {
      metrics_.CountError("timer_fire");
      spdlog::warn("case engine: firing due timers failed: {}", std::string(report.status().message()));
    }
    lock.lock();
    loop_wake_.wait_for(lock, absl::ToChronoMilliseconds(options_.tick), [this] { return stop_; });
  }
}

}  // namespace takedown
