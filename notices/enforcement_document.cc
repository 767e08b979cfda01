#include "notices/enforcement_document.h"

#include <utility>

#include "fmt/format.h"
#include "notices/amsterdam_time.h"
#include "notices/json_fields.h"

namespace takedown {
namespace {

using Json = nlohmann::json;

constexpr int kEnforcementSchemaVersion = 1;

Json Common(const EnforcementContext& c, std::string_view kind, std::string_view status,
            const EscalationStep& step, int step_index) {
  return Json{
      {"schema_version", kEnforcementSchemaVersion},
      {"kind", kind},
      {"status", status},
      {"case_id", c.case_id},
      {"profile", c.profile},
      {"legal_basis", SanitizeUtf8(c.legal_basis)},
      {"basis", SanitizeUtf8(step.basis)},
      {"order_reference", SanitizeUtf8(c.order_reference)},
      {"instruction_reference", SanitizeUtf8(c.instruction_reference)},
      {"provider", SanitizeUtf8(c.provider)},
      {"location", SanitizeUtf8(c.location)},
      {"received_at", TimeToJson(c.received_at)},
      {"deadline", TimeToJson(c.deadline)},
      {"issued_at", TimeToJson(c.issued_at)},
      {"escalation_step", step_index},
      {"currency", step.currency},
      {"amounts_are_placeholders", step.amount_is_placeholder},
  };
}

std::string Reference(const EnforcementContext& c) {
  if (!c.instruction_reference.empty()) return SanitizeUtf8(c.instruction_reference);
  if (!c.order_reference.empty()) return SanitizeUtf8(c.order_reference);
  return c.case_id;
}

std::string PlaceholderNoteEn(const EscalationStep& step) {
  return step.amount_is_placeholder
             ? " PLACEHOLDER AMOUNTS: these are takedownd defaults, not amounts set by law or by the "
               "authority; replace them with the amounts of the authority's decision."
             : "";
}

std::string PlaceholderNoteNl(const EscalationStep& step) {
  return step.amount_is_placeholder
             ? " VOORLOPIGE BEDRAGEN: dit zijn standaardwaarden van takedownd, geen bedragen uit de wet of "
               "van "
               "de autoriteit; vervang ze door de bedragen uit het besluit van de autoriteit."
             : "";
}

std::string TurnoverPercent(int basis_points) {
  if (basis_points % 100 == 0) return fmt::format("{} %", basis_points / 100);
  return fmt::format("{}.{:02d} %", basis_points / 100, basis_points % 100);
}

}  // namespace

std::string FormatMoney(int64_t cents, const std::string& currency) {
  const bool negative = cents < 0;
  uint64_t value = negative ? 0 - static_cast<uint64_t>(cents) : static_cast<uint64_t>(cents);
  std::string whole = std::to_string(value / 100);
  std::string grouped;
  for (size_t i = 0; i < whole.size(); ++i) {
    if (i > 0 && (whole.size() - i) % 3 == 0) grouped.push_back(',');
    grouped.push_back(whole[i]);
  }
  return fmt::format("{}{} {}.{:02d}", negative ? "-" : "", currency, grouped, value % 100);
}

Json RenderPenaltyOrder(const EnforcementContext& c, const EscalationStep& step, int step_index) {
  Json doc = Common(c, kPenaltyOrderDocumentKind, "draft", step, step_index);
  const int64_t max_periods = step.amount_cents > 0 && step.cap_cents > 0
                                  ? (step.cap_cents + step.amount_cents - 1) / step.amount_cents
                                  : 0;
  doc["amount_per_period_cents"] = step.amount_cents;
  doc["cap_cents"] = step.cap_cents;
  doc["penalty_period_seconds"] = absl::ToInt64Seconds(step.penalty_period);
  doc["max_periods"] = max_periods;
  const std::string period = absl::FormatDuration(step.penalty_period);
  doc["text_en"] = fmt::format(
      "Penalty order (draft) for case {} ({}): the removal deadline of {} was not met. For every {} that the "
      "content at {} remains available, {} is forfeited, up to at most {}.{}",
      c.case_id, Reference(c), FormatAmsterdam(c.deadline), period, doc["location"].get<std::string>(),
      FormatMoney(step.amount_cents, step.currency), FormatMoney(step.cap_cents, step.currency),
      PlaceholderNoteEn(step));
  doc["text_nl"] = fmt::format(
      "Last onder dwangsom (concept) in zaak {} ({}): de termijn voor verwijdering van {} is overschreden. "
      "Voor "
      "elke periode van {} dat het materiaal op {} beschikbaar blijft, wordt {} verbeurd, tot ten hoogste "
      "{}.{}",
      c.case_id, Reference(c), FormatAmsterdam(c.deadline), period, doc["location"].get<std::string>(),
      FormatMoney(step.amount_cents, step.currency), FormatMoney(step.cap_cents, step.currency),
      PlaceholderNoteNl(step));
  return doc;
}

Json RenderPenaltyCapReached(const EnforcementContext& c, const EscalationStep& step, int step_index,
                             int periods, int64_t forfeited_cents) {
  Json doc = Common(c, kPenaltyCapDocumentKind, "statement", step, step_index);
  doc["periods"] = periods;
  doc["forfeited_cents"] = forfeited_cents;
  doc["cap_cents"] = step.cap_cents;
  doc["text_en"] = fmt::format(
      "Case {} ({}): after {} penalty periods the content is still available; {} has been forfeited, the "
      "maximum of the penalty order. Further enforcement needs a new decision.{}",
      c.case_id, Reference(c), periods, FormatMoney(forfeited_cents, step.currency), PlaceholderNoteEn(step));
  doc["text_nl"] = fmt::format(
      "Zaak {} ({}): na {} perioden is het materiaal nog beschikbaar; {} is verbeurd, het maximum van de "
      "last "
      "onder dwangsom. Verdere handhaving vraagt een nieuw besluit.{}",
      c.case_id, Reference(c), periods, FormatMoney(forfeited_cents, step.currency), PlaceholderNoteNl(step));
  return doc;
}

Json RenderFineProposal(const EnforcementContext& c, const EscalationStep& step, int step_index,
                        int64_t penalty_forfeited_cents) {
  Json doc = Common(c, kFineProposalDocumentKind, "proposal", step, step_index);
  doc["proposed_amount_cents"] = step.amount_cents;
  doc["cap_cents"] = step.cap_cents;
  doc["cap_turnover_percent"] = step.cap_turnover_basis_points > 0
                                    ? Json(TurnoverPercent(step.cap_turnover_basis_points))
                                    : Json(nullptr);
  doc["penalty_forfeited_cents"] = penalty_forfeited_cents;
  const absl::Duration overdue = c.issued_at > c.deadline && c.deadline != absl::InfinitePast()
                                     ? c.issued_at - c.deadline
                                     : absl::ZeroDuration();
  doc["overdue_seconds"] = absl::ToInt64Seconds(overdue);
  const std::string amount_en = step.amount_cents > 0 ? FormatMoney(step.amount_cents, step.currency)
                                                      : std::string("an amount to be set by the authority");
  const std::string amount_nl = step.amount_cents > 0
                                    ? FormatMoney(step.amount_cents, step.currency)
                                    : std::string("een door de autoriteit vast te stellen bedrag");
  const std::string cap_en =
      step.cap_turnover_basis_points > 0
          ? fmt::format(" (at most {} of turnover)", TurnoverPercent(step.cap_turnover_basis_points))
          : "";
  const std::string cap_nl =
      step.cap_turnover_basis_points > 0
          ? fmt::format(" (ten hoogste {} van de omzet)", TurnoverPercent(step.cap_turnover_basis_points))
          : "";
  doc["text_en"] = fmt::format(
      "Fine proposal for case {} ({}): the content is still available {} after the deadline of {}. Proposed: "
      "{}{}. Penalties forfeited so far: {}. A person at the competent authority decides; nothing is imposed "
      "automatically.{}",
      c.case_id, Reference(c), absl::FormatDuration(overdue), FormatAmsterdam(c.deadline), amount_en, cap_en,
      FormatMoney(penalty_forfeited_cents, step.currency), PlaceholderNoteEn(step));
  doc["text_nl"] = fmt::format(
      "Voorstel bestuurlijke boete in zaak {} ({}): het materiaal is {} na de termijn van {} nog "
      "beschikbaar. "
      "Voorgesteld: {}{}. Tot nu toe verbeurde dwangsommen: {}. Een medewerker van de bevoegde autoriteit "
      "beslist; er wordt niets automatisch opgelegd.{}",
      c.case_id, Reference(c), absl::FormatDuration(overdue), FormatAmsterdam(c.deadline), amount_nl, cap_nl,
      FormatMoney(penalty_forfeited_cents, step.currency), PlaceholderNoteNl(step));
  return doc;
}

}  // namespace takedown
