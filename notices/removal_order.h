// RemovalOrder: an order from a competent authority to remove or disable
// access to content, as received by a hosting provider: an EU 2021/784 (TCO)
// removal order with the fields of its Annex I template, or a Dutch ATKM
// instruction (aanwijzing) under the CSAM act, which adds the instruction
// reference and the term the authority set (at most 12 hours).
//
// ParseRemovalOrderJson reads the JSON form documented in
// docs/removal-orders.md. Orders arrive from outside (API, file drop), so the
// parser bounds everything (document size, nesting, locations, string lengths)
// and never crashes; errors name the source and field
// ("order.json: field 'issued_at' ...").
//
// RenderFeedback builds the provider's answer: Annex II feedback (removed or
// access disabled, and when) or Annex III inability to comply (force majeure,
// manifest error or missing information, with an explanation).
//
// Plain values; every function is pure and thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace takedown {

inline constexpr int kRemovalOrderSchemaVersion = 1;
inline constexpr size_t kMaxRemovalOrderBytes = 1 << 20;  // 1 MiB
inline constexpr size_t kMaxRemovalOrderLocations = 1000;
inline constexpr size_t kMaxRemovalOrderDepth = 8;  // JSON nesting
inline constexpr size_t kMaxOrderNameLength = 256;  // names, references, member state, contacts
inline constexpr size_t kMaxOrderUrlLength = 8192;
inline constexpr size_t kMaxOrderTextLength = 16 * 1024;  // reasons, redress, details, legal basis
// The longest term an ATKM instruction may set (12 hours), in minutes.
inline constexpr int kMaxAtkmTermMinutes = 12 * 60;

struct OrderAuthority {
  std::string name;          // e.g. "Autoriteit online Terroristisch en Kinderpornografisch Materiaal"
  std::string member_state;  // ISO 3166-1 alpha-2, e.g. "NL"
  std::string contact;       // contact point for questions about the order

  friend bool operator==(const OrderAuthority&, const OrderAuthority&) = default;
};

struct OrderAddressee {
  std::string name;           // the hosting provider addressed
  std::string contact_point;  // its contact point or legal representative

  friend bool operator==(const OrderAddressee&, const OrderAddressee&) = default;
};

struct ContentLocation {
  std::string url;      // exact URL (or scheme://location) of the content
  std::string details;  // further information to identify it, may be empty

  friend bool operator==(const ContentLocation&, const ContentLocation&) = default;
};

struct RemovalOrder {
  std::string profile;  // legal profile: "tco-removal-order" or "nl-csam-instruction"
  OrderAuthority issuing_authority;
  std::string order_reference;  // the issuing authority's reference
  OrderAddressee provider;
  std::string legal_basis;
  std::vector<ContentLocation> locations;  // 1..kMaxRemovalOrderLocations
  std::string reasons;                     // why the content is terrorist content / CSAM
  absl::Time issued_at;                    // date and time of issue
  // A deadline stated in the order; InfinitePast if none. The binding deadline
  // follows from the profile and the receipt time (OrderDeadline in
  // notices/deadline_schedule.h).
  absl::Time deadline = absl::InfinitePast();
  std::string redress;  // how to object or appeal
  // True: the content provider must not be told (TCO Art. 11(3); for the
  // Dutch instruction, as the ATKM directs).
  bool secrecy = false;
  // When that confidentiality ends, if the authority said (TCO Art. 11(3):
  // at most six weeks from its decision, extendable); InfinitePast if not
  // stated. Only with secrecy; after issued_at. From then on the content
  // provider is informed.
  absl::Time secrecy_until = absl::InfinitePast();
  // ATKM instruction (aanwijzing) fields; empty/zero for other orders.
  std::string instruction_reference;
  absl::Duration term;  // term set by the authority, (0, 12 h]; zero if not set

  friend bool operator==(const RemovalOrder&, const RemovalOrder&) = default;
};

// Parses and validates one order. `source_name` (e.g. "order.json") prefixes
// every error. InvalidArgument when the text is not JSON, larger than
// kMaxRemovalOrderBytes, nested deeper than kMaxRemovalOrderDepth, has an
// unknown, missing or mistyped field, a string over its limit or not UTF-8,
// no or too many locations, a location that is not an absolute URL, a
// deadline not after issued_at, or an ATKM term outside 1..720 minutes, or a
// secrecy_until without secrecy or not after issued_at.
// Profile-specific rules: nl-csam-instruction requires the "atkm" object;
// tco-removal-order forbids it.
absl::StatusOr<RemovalOrder> ParseRemovalOrderJson(std::string_view json, std::string_view source_name);

// The JSON form ParseRemovalOrderJson reads; round trip is lossless for
// orders it returned (times to the nanosecond, term to the minute).
nlohmann::json RemovalOrderToJson(const RemovalOrder& order);

// What the provider did about an order.
struct FeedbackOutcome {
  enum class Action { kRemoved, kAccessDisabled, kUnableToComply };
  enum class Reason { kNone, kForceMajeure, kManifestError, kMissingInformation };

  Action action = Action::kRemoved;
  // Removed / disabled: when that was done. Unable to comply: when the
  // provider decided it could not.
  absl::Time at = absl::InfinitePast();
  // When the order was received, if known (InfinitePast otherwise); shown so
  // the authority can check the deadline.
  absl::Time received_at = absl::InfinitePast();
  Reason reason = Reason::kNone;  // required for kUnableToComply, kNone otherwise
  std::string explanation;        // required for kUnableToComply
  // The locations this feedback covers, as URLs of the order; empty = all.
  std::vector<std::string> urls;

  friend bool operator==(const FeedbackOutcome&, const FeedbackOutcome&) = default;
};

// "removed", "access_disabled", "unable_to_comply".
std::string_view FeedbackActionName(FeedbackOutcome::Action action);
// "", "force_majeure", "manifest_error", "missing_information".
std::string_view InabilityReasonName(FeedbackOutcome::Reason reason);

// The feedback document for `order`:
//   schema_version, kind ("removal_order.feedback" or
//   "removal_order.inability"), annex ("II"/"III" for tco-removal-order,
//   absent otherwise), profile, order_reference, instruction_reference (if
//   any), issuing_authority {name, member_state}, provider, action, action_at,
//   received_at (or null), locations [url...], and for inability: reason,
//   explanation.
// InvalidArgument when the outcome is inconsistent: `at` unset; a reason or
// explanation with removed/disabled; no reason or an empty explanation
// (or one over kMaxOrderTextLength) for unable_to_comply; a URL not in the
// order.
absl::StatusOr<nlohmann::json> RenderFeedback(const RemovalOrder& order, const FeedbackOutcome& outcome);

}  // namespace takedown
