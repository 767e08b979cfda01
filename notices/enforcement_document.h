// Enforcement documents: what the case engine issues when a removal deadline
// is ignored — the penalty order (Dutch "last onder dwangsom") of a
// penalty_order escalation step, the statement that the forfeited penalties
// reached their cap, and the fine proposal (Dutch "bestuurlijke boete", EU
// 2021/784 Art. 18) of a fine_proposal step — as JSON documents that become
// notice payloads (docs/legal-profiles.md, "Enforcement documents").
//
// These are drafts for the competent authority: a person decides and signs.
// Amounts marked as placeholders in the profile are labelled so in the
// document and in its text, so nobody mistakes them for amounts set by law or
// by the authority. Every function is pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "notices/legal_profile.h"

namespace takedown {

inline constexpr std::string_view kPenaltyOrderDocumentKind = "enforcement.penalty_order";
inline constexpr std::string_view kPenaltyCapDocumentKind = "enforcement.penalty_cap_reached";
inline constexpr std::string_view kFineProposalDocumentKind = "enforcement.fine_proposal";

// The case facts every enforcement document cites.
struct EnforcementContext {
  std::string case_id;
  std::string profile;
  std::string legal_basis;
  std::string order_reference;        // the authority's order or notice reference, may be empty
  std::string instruction_reference;  // ATKM instruction, may be empty
  std::string provider;               // the hosting provider concerned, may be empty
  std::string location;               // URL or "source: key" of the content
  absl::Time received_at = absl::InfinitePast();
  absl::Time deadline = absl::InfinitePast();
  absl::Time issued_at = absl::InfinitePast();  // when the engine drew up the document
};

// "EUR 1,000.00" (cents grouped by thousands with ',' and two decimals).
std::string FormatMoney(int64_t cents, const std::string& currency);

// {schema_version, kind: enforcement.penalty_order, status: "draft", case_id,
//  profile, legal_basis, basis, order_reference, instruction_reference,
//  provider, location, received_at, deadline, issued_at, escalation_step,
//  amount_per_period_cents, cap_cents, currency, penalty_period_seconds,
//  max_periods, amounts_are_placeholders, text_en, text_nl}.
nlohmann::json RenderPenaltyOrder(const EnforcementContext& context, const EscalationStep& step,
                                  int step_index);

// {schema_version, kind: enforcement.penalty_cap_reached, ..., periods,
//  forfeited_cents, cap_cents, currency, amounts_are_placeholders, text_en,
//  text_nl}: every period ran and the cap is forfeited.
nlohmann::json RenderPenaltyCapReached(const EnforcementContext& context, const EscalationStep& step,
                                       int step_index, int periods, int64_t forfeited_cents);

// {schema_version, kind: enforcement.fine_proposal, status: "proposal", ...,
//  basis, proposed_amount_cents (0: to be set by the authority), cap_cents,
//  cap_turnover_percent ("10 %" from basis points, or null), currency,
//  penalty_forfeited_cents, overdue_seconds, amounts_are_placeholders,
//  text_en, text_nl}.
nlohmann::json RenderFineProposal(const EnforcementContext& context, const EscalationStep& step,
                                  int step_index, int64_t penalty_forfeited_cents);

}  // namespace takedown
