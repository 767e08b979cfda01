// OrderIntake: receives removal orders (EU 2021/784 removal orders, Dutch
// ATKM instructions) in the hosting-provider role and answers them.
//
// Submit() parses the order (notices/removal_order.h; errors name the source
// and field), computes the binding deadline from the receipt time
// (OrderDeadline), and for every location of the order:
//   1. resolves the URL to a stored object (LocationResolver);
//   2. opens one case (CaseEngine::OpenOrderCase: confirmed and notified,
//      timers running), id OrderCaseId(order, url), so the same order
//      submitted twice opens nothing new;
//   3. a URL that no source serves is answered at once with an Annex III
//      inability (manifest error) to the issuing authority;
//   4. with `execute` on, carries out the configured action (ContentAction:
//      disable, quarantine or delete) and records the removal, which queues
//      the Annex II feedback in the same write. A failed action leaves the
//      case notified: its timers remind and escalate, and Execute() retries.
//
// Preservation (docs/preservation.md), for cases whose profile has
// preserve_content: `delete`, and `quarantine` when there is a vault, first
// seal the content in the vault, then delete it at the source. Such content
// is never destroyed unsealed: without a vault, or when sealing fails, the
// action falls back to `disable` (audited order.preservation_failed), so the
// deadline is still met and the content kept in place. Without a vault,
// `quarantine` is the source's own (unencrypted) quarantine.
//
// Thread-safe if the resolver and action are. Borrows everything it is given.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "daemon/audit_log.h"
#include "daemon/case_engine.h"
#include "daemon/content_action.h"
#include "daemon/daemon_metrics.h"
#include "daemon/location_resolver.h"
#include "daemon/object_fingerprint.h"
#include "daemon/preservation_vault.h"
#include "notices/removal_order.h"

namespace takedown {

struct OrderIntakeOptions {
  ContentActionKind action = ContentActionKind::kDisable;
  // Carry out the action as soon as the order is received. Off: a person
  // acts and records it (Execute, or CaseEngine::RecordRemoval).
  bool execute = true;
  // Reads what the object is just before the action (FingerprintObject), so
  // the removal's evidence holds its digests, handing every byte to the tee
  // when one is given (sealing). Null: none are taken and nothing can be
  // sealed. A failure is audited (order.fingerprint_failed) and does not
  // stop the action: the deadline comes first.
  std::function<absl::StatusOr<CaseObject>(const ContentTarget&, const ByteTee&)> fingerprint;
  // Borrowed, may be null: where removed content is sealed.
  PreservationVault* vault = nullptr;
};

struct OrderLocationResult {
  enum class Status { kRemoved, kAccessDisabled, kPending, kUnableToComply, kDuplicate, kActionFailed };
  std::string url;
  std::string case_id;
  Status status = Status::kPending;
  std::string detail;
};

// "removed", "access_disabled", "pending", "unable_to_comply", "duplicate",
// "action_failed".
std::string_view OrderLocationStatusName(OrderLocationResult::Status status);

struct OrderReceipt {
  std::string order_reference;
  std::string profile;
  absl::Time received_at;
  absl::Time deadline;
  std::vector<OrderLocationResult> locations;  // in the order's order
};

// "c-" id of the case for one location: CaseIdFor("order:" + member state +
// ":" + order reference, url).
std::string OrderCaseId(const RemovalOrder& order, std::string_view url);

class OrderIntake {
 public:
  // `action` may be null: orders are never executed automatically.
  OrderIntake(CaseEngine& engine, AuditLog& audit, Clock& clock, DaemonMetrics& metrics,
              const LocationResolver& resolver, ContentAction* action, OrderIntakeOptions options = {});

  // InvalidArgument for an order that does not parse, names a profile that
  // is not configured, or whose term breaks the law (nothing is stored);
  // store errors otherwise (cases opened so far stay; submitting again is
  // safe).
  absl::StatusOr<OrderReceipt> Submit(std::string_view json, std::string_view source_name,
                                      const std::string& actor);

  // Carries out the configured action for the order case `case_id` and
  // records the removal (with its feedback). FailedPrecondition without an
  // action or for a case without a resolved object; the action's error
  // otherwise (audited as order.action_failed; the case stays as it was).
  absl::StatusOr<Case> Execute(const std::string& case_id, const std::string& actor);

 private:
  CaseEngine& engine_;
  AuditLog& audit_;
  Clock& clock_;
  DaemonMetrics& metrics_;
  const LocationResolver& resolver_;
  ContentAction* const action_;
  const OrderIntakeOptions options_;
};

}  // namespace takedown
