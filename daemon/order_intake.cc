#include "daemon/order_intake.h"

#include <optional>
#include <utility>

#include "common/status_macros.h"
#include "fmt/format.h"
#include "notices/deadline_schedule.h"
#include "notices/json_fields.h"

namespace takedown {
namespace {

constexpr std::string_view kUnresolvedSource = "order";

}  // namespace

std::string_view OrderLocationStatusName(OrderLocationResult::Status status) {
  using S = OrderLocationResult::Status;
  switch (status) {
    case S::kRemoved:
      return "removed";
    case S::kAccessDisabled:
      return "access_disabled";
    case S::kPending:
      return "pending";
    case S::kUnableToComply:
      return "unable_to_comply";
    case S::kDuplicate:
      return "duplicate";
    case S::kActionFailed:
      return "action_failed";
  }
  return "unknown";
}

std::string OrderCaseId(const RemovalOrder& order, std::string_view url) {
  return CaseIdFor(fmt::format("order:{}:{}", order.issuing_authority.member_state, order.order_reference),
                   url);
}

OrderIntake::OrderIntake(CaseEngine& engine, AuditLog& audit, Clock& clock, DaemonMetrics& metrics,
                         const LocationResolver& resolver, ContentAction* action, OrderIntakeOptions options)
    : engine_(engine),
      audit_(audit),
      clock_(clock),
      metrics_(metrics),
      resolver_(resolver),
      action_(action),
      options_(options) {}

absl::StatusOr<OrderReceipt> OrderIntake::Submit(std::string_view json, std::string_view source_name,
                                                 const std::string& actor) {
  absl::StatusOr<RemovalOrder> parsed = ParseRemovalOrderJson(json, source_name);
  if (!parsed.ok()) {
    metrics_.CountOrder("unknown", "invalid");
    return parsed.status();
  }
  const RemovalOrder& order = *parsed;
  absl::StatusOr<const LegalProfile*> profile = engine_.Profile(order.profile);
  if (!profile.ok()) {
    metrics_.CountOrder("unknown", "invalid");
    return absl::InvalidArgumentError(
        fmt::format("{}: field 'profile': {}", source_name, std::string(profile.status().message())));
  }
  OrderReceipt receipt;
  receipt.order_reference = order.order_reference;
  receipt.profile = order.profile;
  receipt.received_at = clock_.Now();
  absl::StatusOr<absl::Time> deadline = OrderDeadline(**profile, order, receipt.received_at);
  if (!deadline.ok()) {
    metrics_.CountOrder(order.profile, "invalid");
    return Annotate(deadline.status(), std::string(source_name));
  }
  receipt.deadline = *deadline;
  metrics_.CountOrder(order.profile, "received");
  RETURN_IF_ERROR(
      audit_.Append(AuditEvent{actor, "order.receive", "",
                               nlohmann::json{{"order_reference", order.order_reference},
                                              {"profile", order.profile},
                                              {"issuing_authority", order.issuing_authority.name},
                                              {"member_state", order.issuing_authority.member_state},
                                              {"locations", order.locations.size()},
                                              {"received_at", TimeToJson(receipt.received_at)},
                                              {"deadline", TimeToJson(receipt.deadline)},
                                              {"source", std::string(source_name)}}}));

  for (const ContentLocation& location : order.locations) {
    OrderLocationResult result;
    result.url = location.url;
    result.case_id = OrderCaseId(order, location.url);
    OrderCaseSpec spec;
    spec.case_id = result.case_id;
    spec.order = order;
    spec.order.locations = {location};
    spec.url = location.url;
    spec.category = (*profile)->regime == LegalRegime::kTcoRemovalOrder ? "terrorist" : "csam";
    spec.received_at = receipt.received_at;
    spec.deadline = receipt.deadline;
    absl::StatusOr<ResolvedLocation> resolved = resolver_.Resolve(location.url);
    if (resolved.ok()) {
      spec.object.source_id = resolved->source_id;
      spec.object.key = resolved->key;
    } else {
      spec.object.source_id = std::string(kUnresolvedSource);
      spec.object.key = location.url;
    }
    absl::StatusOr<Case> opened = engine_.OpenOrderCase(spec, actor);
    if (absl::IsAlreadyExists(opened.status())) {
      result.status = OrderLocationResult::Status::kDuplicate;
      result.detail = "this order location was received before";
      receipt.locations.push_back(std::move(result));
      continue;
    }
    if (!opened.ok()) return opened.status();

    if (!resolved.ok()) {
      const bool malformed = absl::IsInvalidArgument(resolved.status());
      const std::string explanation =
          malformed ? fmt::format("The URL {} cannot identify content on this service: {}", location.url,
                                  std::string(resolved.status().message()))
                    : fmt::format(
                          "The URL {} is not hosted on this service; no content at that location could be "
                          "removed. ({})",
                          location.url, std::string(resolved.status().message()));
      ASSIGN_OR_RETURN(Case answered,
                       engine_.RecordInability(result.case_id, FeedbackOutcome::Reason::kManifestError,
                                               explanation, actor));
      (void)answered;
      metrics_.CountOrder(order.profile, "unable");
      result.status = OrderLocationResult::Status::kUnableToComply;
      result.detail = explanation;
      receipt.locations.push_back(std::move(result));
      continue;
    }
    if (options_.execute && action_ != nullptr) {
      absl::StatusOr<Case> executed = Execute(result.case_id, actor);
      if (executed.ok()) {
        result.status = executed->terms.removal == kRemovalAccessDisabled
                            ? OrderLocationResult::Status::kAccessDisabled
                            : OrderLocationResult::Status::kRemoved;
      } else {
        result.status = OrderLocationResult::Status::kActionFailed;
        result.detail = std::string(executed.status().message());
      }
    } else {
      metrics_.CountOrder(order.profile, "pending");
      result.detail = "waiting for a person to act before the deadline";
    }
    receipt.locations.push_back(std::move(result));
  }
  return receipt;
}

absl::StatusOr<Case> OrderIntake::Execute(const std::string& case_id, const std::string& actor) {
  if (action_ == nullptr) {
    return absl::FailedPreconditionError(
        "no content action is configured; remove the content by hand and record it");
  }
  ASSIGN_OR_RETURN(Case c, engine_.Get(case_id));
  if (!c.terms.order)
    return absl::FailedPreconditionError(fmt::format("case {} answers no removal order", case_id));
  if (c.object.source_id == kUnresolvedSource || c.object.key.empty()) {
    return absl::FailedPreconditionError(
        fmt::format("case {}: the order's URL was not resolved to a stored object", case_id));
  }
  const std::string& profile = c.terms.profile;
  const ContentTarget target{c.object.source_id, c.object.key};
  ASSIGN_OR_RETURN(const LegalProfile* legal, engine_.Profile(profile));
  ContentActionKind kind = options_.action;
  // Content the profile preserves is sealed before a delete, and instead of
  // the source's own (clear) quarantine when there is a vault.
  const bool seal =
      legal->preserve_content && (kind == ContentActionKind::kDelete ||
                                  (kind == ContentActionKind::kQuarantine && options_.vault != nullptr));
  std::optional<PreservationVault::Sealing> sealing;
  std::string seal_error;
  if (seal && options_.vault == nullptr) {
    seal_error = "no preservation vault is configured (orders.preserve_dir, orders.preserve_key_file)";
  } else if (seal && !options_.fingerprint) {
    seal_error = "the content cannot be read for sealing";
  } else if (seal) {
    absl::StatusOr<PreservationVault::Sealing> begun = options_.vault->Begin(
        case_id, fmt::format("case {}; source {}; key {}; order {}", case_id, c.object.source_id,
                             c.object.key.substr(0, 1024), c.terms.order->order_reference.substr(0, 256)));
    if (begun.ok()) {
      sealing.emplace(*std::move(begun));
    } else {
      seal_error = std::string(begun.status().message());
    }
  }
  std::optional<CaseObject> observed;
  std::optional<SealedContent> recovered;
  if (options_.fingerprint) {
    ByteTee tee;
    if (sealing) tee = [&](std::span<const uint8_t> bytes) { return sealing->Append(bytes); };
    absl::StatusOr<CaseObject> fingerprint = options_.fingerprint(target, tee);
    if (fingerprint.ok()) {
      observed = *std::move(fingerprint);
    } else {
      nlohmann::json details{{"source_id", c.object.source_id},
                             {"error", std::string(fingerprint.status().message())}};
      PutJsonBytes(details, "key", c.object.key);
      RETURN_IF_ERROR(audit_.Append(AuditEvent{actor, "order.fingerprint_failed", case_id, details}));
      if (sealing) seal_error = std::string(fingerprint.status().message());
      sealing.reset();
      // Gone from the source after an earlier attempt sealed it and was cut
      // short before recording: that sealed copy is the preserved content.
      if (seal && absl::IsNotFound(fingerprint.status()) && options_.vault != nullptr) {
        std::vector<std::string> known;
        for (const PreservedContent& p : c.terms.preserved) known.push_back(p.location);
        absl::StatusOr<std::optional<SealedContent>> earlier = options_.vault->FindUnrecorded(case_id, known);
        if (earlier.ok() && earlier->has_value()) recovered = **earlier;
        if (!earlier.ok()) seal_error += "; " + std::string(earlier.status().message());
      }
    }
  }
  std::optional<PreservedContent> preserved;
  if (sealing || recovered) {
    absl::StatusOr<SealedContent> sealed = recovered ? *recovered : sealing->Commit();
    if (sealed.ok()) {
      preserved.emplace();
      preserved->location = sealed->location;
      preserved->key_id = sealed->key_id;
      preserved->bytes = sealed->bytes;
      preserved->sha256_hex = sealed->sha256_hex;
      // The vault holds the content now: it leaves the source.
      kind = ContentActionKind::kDelete;
    } else {
      seal_error = std::string(sealed.status().message());
    }
  }
  if (seal && !preserved) {
    // Never destroy what must be preserved: disable access, keep it in place.
    const ContentActionKind wanted = kind;
    kind = ContentActionKind::kDisable;
    nlohmann::json details{{"action", std::string(ContentActionKindName(wanted))},
                           {"instead", std::string(ContentActionKindName(kind))},
                           {"source_id", c.object.source_id},
                           {"error", seal_error}};
    PutJsonBytes(details, "key", c.object.key);
    RETURN_IF_ERROR(audit_.Append(AuditEvent{actor, "order.preservation_failed", case_id, details}));
    metrics_.CountError("preservation_failed");
  }
  absl::Status done = action_->Execute(target, kind);
  if (!done.ok()) {
    metrics_.CountOrder(profile, "action_failed");
    nlohmann::json details{{"action", std::string(ContentActionKindName(kind))},
                           {"source_id", c.object.source_id},
                           {"error", std::string(done.message())}};
    PutJsonBytes(details, "key", c.object.key);
    RETURN_IF_ERROR(audit_.Append(AuditEvent{actor, "order.action_failed", case_id, details}));
    // The content is still at the source, so the sealed copy goes; the
    // retry seals again.
    if (preserved) (void)options_.vault->Erase(preserved->location);
    return done;
  }
  const std::string_view removal =
      kind == ContentActionKind::kDelete ? kRemovalRemoved : kRemovalAccessDisabled;
  const std::string how =
      preserved ? fmt::format("{} carried out on {} (sealed in the preservation vault, then deleted)",
                              ContentActionKindName(options_.action), c.object.source_id)
                : fmt::format("{} carried out on {}", ContentActionKindName(kind), c.object.source_id);
  ASSIGN_OR_RETURN(Case removed,
                   engine_.RecordRemoval(case_id, removal, clock_.Now(), actor, how,
                                         observed ? &*observed : nullptr, preserved ? &*preserved : nullptr));
  metrics_.CountOrder(profile, "executed");
  return removed;
}

}  // namespace takedown
