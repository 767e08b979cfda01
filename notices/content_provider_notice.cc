#include "notices/content_provider_notice.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "fmt/format.h"
#include "notices/amsterdam_time.h"
#include "notices/case_terms.h"
#include "notices/json_fields.h"
#include "notices/removal_order.h"

namespace takedown {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";              // U+2026
// Longest free text taken from an order (reasons, redress) into the text.
constexpr size_t kMaxOrderTextInNotice = 4096;

// The countries the DSA Transparency Database accepts as territorial_scope:
// the EU Member States plus Iceland, Liechtenstein and Norway (EEA).
constexpr std::array<std::string_view, 27> kEuMemberStates = {
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
};
constexpr std::array<std::string_view, 3> kEeaNonEu = {"IS", "LI", "NO"};

std::string_view Pick(NoticeLanguage language, std::string_view nl, std::string_view en) {
  return language == NoticeLanguage::kDutch ? nl : en;
}

// Decodes the UTF-8 sequence at s[i] (s is valid UTF-8); sets `length`.
uint32_t CodePointAt(std::string_view s, size_t i, size_t& length) {
  const auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(s[i + k])); };
  const uint32_t lead = byte(0);
  if (lead < 0x80) {
    length = 1;
    return lead;
  }
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    return ((lead & 0x1F) << 6) | (byte(1) & 0x3F);
  }
  if ((lead & 0xF0) == 0xE0) {
    length = 3;
    return ((lead & 0x0F) << 12) | ((byte(1) & 0x3F) << 6) | (byte(2) & 0x3F);
  }
  length = 4;
  return ((lead & 0x07) << 18) | ((byte(1) & 0x3F) << 12) | ((byte(2) & 0x3F) << 6) | (byte(3) & 0x3F);
}

// Controls, Unicode line separators and bidirectional marks: none of them
// may reach a customer's mail, where they could add lines or disguise text.
bool IsUnsafeCodePoint(uint32_t cp) {
  if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) return true;
  if (cp == 0x2028 || cp == 0x2029 || cp == 0x200E || cp == 0x200F || cp == 0xFEFF) return true;
  if (cp >= 0x202A && cp <= 0x202E) return true;
  return cp >= 0x2066 && cp <= 0x2069;
}

// `s` as one line of valid UTF-8: line breaks and tabs become spaces, other
// unsafe code points U+FFFD; cut at `max_bytes` on a character boundary,
// marked with "…".
std::string Clean(std::string_view s, size_t max_bytes = kMaxNoticeValueBytes) {
  const std::string valid = SanitizeUtf8(s);
  std::string out;
  for (size_t i = 0; i < valid.size() && out.size() <= max_bytes;) {
    size_t n = 1;
    const uint32_t cp = CodePointAt(valid, i, n);
    if (cp == '\n' || cp == '\r' || cp == '\t') {
      out.push_back(' ');
    } else if (IsUnsafeCodePoint(cp)) {
      out.append(kReplacementCharacter);
    } else {
      out.append(valid, i, n);
    }
    i += n;
  }
  if (out.size() <= max_bytes) return out;
  size_t cut = max_bytes - kEllipsis.size();
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
  out.resize(cut);
  out.append(kEllipsis);
  return out;
}

bool HasUnsafeCodePoint(std::string_view valid_utf8) {
  for (size_t i = 0; i < valid_utf8.size();) {
    size_t n = 1;
    if (IsUnsafeCodePoint(CodePointAt(valid_utf8, i, n))) return true;
    i += n;
  }
  return false;
}

absl::Status CheckOptionText(std::string_view case_id, std::string_view field, std::string_view value,
                             bool required, std::string_view what_to_set) {
  if (value.empty()) {
    if (!required) return absl::OkStatus();
    return absl::InvalidArgumentError(fmt::format(
        "content-provider notice for case {}: options.{} is empty; set {}", case_id, field, what_to_set));
  }
  if (value.size() > kMaxContentProviderOptionBytes) {
    return absl::InvalidArgumentError(
        fmt::format("content-provider notice for case {}: options.{} is {} bytes, more than the {} allowed; "
                    "shorten it",
                    case_id, field, value.size(), kMaxContentProviderOptionBytes));
  }
  if (!IsValidUtf8(value) || HasUnsafeCodePoint(value)) {
    return absl::InvalidArgumentError(fmt::format(
        "content-provider notice for case {}: options.{} is not valid UTF-8 or contains a control or "
        "bidirectional character; use plain one-line text",
        case_id, field));
  }
  return absl::OkStatus();
}

bool IsCountryCode(std::string_view code) {
  return code.size() == 2 && code[0] >= 'A' && code[0] <= 'Z' && code[1] >= 'A' && code[1] <= 'Z';
}

absl::Status ValidateOptions(const Case& c, const ContentProviderNoticeOptions& o) {
  if (auto s = CheckOptionText(c.id, "provider_name", o.provider_name, true,
                               "the hosting provider's name as the customer knows it");
      !s.ok()) {
    return s;
  }
  if (auto s = CheckOptionText(c.id, "complaint_contact", o.complaint_contact, true,
                               "the e-mail address or https URL where customers ask questions and complain");
      !s.ok()) {
    return s;
  }
  if (auto s =
          CheckOptionText(c.id, "illegal_content_legal_ground", o.illegal_content_legal_ground, false, "");
      !s.ok()) {
    return s;
  }
  if (auto s = CheckOptionText(c.id, "contractual_ground", o.contractual_ground, false, ""); !s.ok()) {
    return s;
  }
  if (o.languages.empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "content-provider notice for case {}: options.languages is empty; configure at least one of nl, en",
        c.id));
  }
  if (o.now == absl::InfinitePast() || o.now == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError(fmt::format(
        "content-provider notice for case {}: options.now is not set; pass the clock's current time", c.id));
  }
  for (const std::string& code : o.territorial_scope) {
    if (!IsCountryCode(code)) {
      return absl::InvalidArgumentError(fmt::format(
          "content-provider notice for case {}: options.territorial_scope entry '{}' is not an ISO "
          "3166-1 alpha-2 code in upper case (e.g. NL)",
          c.id, Clean(code, 16)));
    }
  }
  return absl::OkStatus();
}

std::vector<NoticeLanguage> DistinctLanguages(const std::vector<NoticeLanguage>& languages) {
  std::vector<NoticeLanguage> out;
  for (NoticeLanguage l : languages) {
    if (std::find(out.begin(), out.end(), l) == out.end()) out.push_back(l);
  }
  return out;
}

ContentProviderNotice NotSent(std::string_view kind, std::string reason,
                              absl::Time until = absl::InfinitePast()) {
  ContentProviderNotice n;
  n.send = false;
  n.kind = std::string(kind);
  n.withheld_reason = std::move(reason);
  n.withheld_until = until;
  return n;
}

std::string HashTypeName(std::string_view type) {
  if (type == "md5") return "MD5";
  if (type == "sha1") return "SHA-1";
  if (type == "sha256") return "SHA-256";
  if (type == "pdq") return "PDQ";
  return Clean(type, 32);
}

std::string ContentTypeCode(std::string_view mime) {
  if (mime.starts_with("image/")) return "CONTENT_TYPE_IMAGE";
  if (mime.starts_with("video/")) return "CONTENT_TYPE_VIDEO";
  if (mime.starts_with("audio/")) return "CONTENT_TYPE_AUDIO";
  if (mime.starts_with("text/")) return "CONTENT_TYPE_TEXT";
  return "CONTENT_TYPE_OTHER";
}

// Everything the three documents share, cleaned once.
struct Facts {
  const Case& c;
  const LegalProfile& profile;
  const ContentProviderNoticeOptions& options;
  const RemovalOrder* order = nullptr;  // tco / nl_csam only
  bool removed = true;                  // false: access disabled
  std::string provider{};
  std::string contact{};
  std::string location{};         // URL of the content, may be empty
  std::string object_location{};  // "source: key"
};

std::string Url(const Facts& f) {
  if (!f.c.terms.location.empty()) return Clean(f.c.terms.location);
  if (f.order != nullptr && !f.order->locations.empty()) return Clean(f.order->locations.front().url);
  return "";
}

// Header lines and the description of the content, per language.
std::string Head(const Facts& f, NoticeLanguage l, std::string_view title) {
  std::string out = fmt::format("{}\n\n", title);
  out += fmt::format("{}: {}\n", Pick(l, "Van", "From"), f.provider);
  out += fmt::format("{}: {}\n", Pick(l, "Datum", "Date"), FormatAmsterdam(f.options.now));
  out += fmt::format("{}: {}\n\n", Pick(l, "Zaak", "Case"), f.c.id);
  out += fmt::format("{}\n", Pick(l, "Om welke inhoud het gaat:", "The content concerned:"));
  if (!f.location.empty()) out += fmt::format("  {}: {}\n", Pick(l, "Locatie", "Location"), f.location);
  out += fmt::format("  {}: {}\n", Pick(l, "Opgeslagen bestand", "Stored file"), f.object_location);
  const CaseObject& o = f.c.object;
  if (!o.sha256_hex.empty()) out += fmt::format("  SHA-256: {}\n", Clean(o.sha256_hex, 64));
  if (!o.sha1_hex.empty()) out += fmt::format("  SHA-1: {}\n", Clean(o.sha1_hex, 40));
  if (!o.md5_hex.empty()) out += fmt::format("  MD5: {}\n", Clean(o.md5_hex, 32));
  out += fmt::format("  {}\n\n", Pick(l, "Dit bericht bevat geen kopie van de inhoud.",
                                      "This message contains no copy of the content."));
  return out;
}

std::string ActionText(const Facts& f, NoticeLanguage l) {
  const std::string at = FormatAmsterdam(f.c.terms.removed_at);
  if (f.removed) {
    return fmt::format(
        fmt::runtime(Pick(l, "Op {} hebben wij deze inhoud verwijderd.", "On {} we removed this content.")),
        at);
  }
  return fmt::format(fmt::runtime(Pick(l, "Op {} hebben wij de toegang tot deze inhoud geblokkeerd.",
                                       "On {} we disabled access to this content.")),
                     at);
}

// Territorial scope and duration as text, and the country codes for JSON.
struct Scope {
  std::vector<std::string> codes;
  bool worldwide = false;
  std::string text_nl, text_en;
};

Scope ScopeOf(const Facts& f) {
  Scope s;
  const bool tco = f.profile.regime == LegalRegime::kTcoRemovalOrder;
  if (!f.removed && tco) {
    s.codes.assign(kEuMemberStates.begin(), kEuMemberStates.end());
    s.text_nl = "in alle lidstaten van de Europese Unie (Verordening (EU) 2021/784, art. 3)";
    s.text_en = "in all Member States of the European Union (Regulation (EU) 2021/784, Art. 3)";
    return s;
  }
  if (!f.removed && !f.options.territorial_scope.empty()) {
    s.codes = f.options.territorial_scope;
    std::sort(s.codes.begin(), s.codes.end());
    s.codes.erase(std::unique(s.codes.begin(), s.codes.end()), s.codes.end());
    std::string list;
    for (const std::string& code : s.codes) list += (list.empty() ? "" : ", ") + code;
    s.text_nl = "in deze landen: " + list;
    s.text_en = "in these countries: " + list;
    return s;
  }
  s.worldwide = true;
  s.codes.assign(kEuMemberStates.begin(), kEuMemberStates.end());
  s.codes.insert(s.codes.end(), kEeaNonEu.begin(), kEeaNonEu.end());
  std::sort(s.codes.begin(), s.codes.end());
  if (f.removed) {
    s.text_nl = "overal: het bestand is van onze opslag verwijderd";
    s.text_en = "everywhere: the file was deleted from our storage";
  } else {
    s.text_nl = "overal, voor iedereen";
    s.text_en = "everywhere, for everyone";
  }
  return s;
}

std::string DurationText(const Facts& f, NoticeLanguage l) {
  return std::string(f.removed ? Pick(l, "definitief", "permanent")
                               : Pick(l, "voor onbepaalde tijd", "indefinitely"));
}

Json ObjectJson(const CaseObject& o) {
  Json j = Json::object();
  PutJsonBytes(j, "source_id", o.source_id);
  PutJsonBytes(j, "key", o.key);
  j["version"] = SanitizeUtf8(o.version);
  j["size"] = o.size;
  j["content_type"] = SanitizeUtf8(o.content_type);
  j["md5"] = o.md5_hex;
  j["sha1"] = o.sha1_hex;
  j["sha256"] = o.sha256_hex;
  return j;
}

Json CommonPayload(const Facts& f, std::string_view kind, const std::vector<NoticeLanguage>& languages,
                   const Scope& scope) {
  Json langs = Json::array();
  for (NoticeLanguage l : languages) langs.push_back(NoticeLanguageCode(l));
  Json j = {
      {"schema_version", kContentProviderNoticeSchemaVersion},
      {"kind", kind},
      {"case_id", f.c.id},
      {"profile", f.profile.name},
      {"regime", LegalRegimeName(f.profile.regime)},
      {"provider_name", f.provider},
      {"complaint_contact", f.contact},
      {"created_at", TimeToJson(f.options.now)},
      {"languages", langs},
      {"action", f.removed ? kRemovalRemoved : kRemovalAccessDisabled},
      {"decision_visibility", Json::array({f.removed ? "DECISION_VISIBILITY_CONTENT_REMOVED"
                                                     : "DECISION_VISIBILITY_CONTENT_DISABLED"})},
      {"removed_at", TimeToJson(f.c.terms.removed_at)},
      {"territorial_scope", scope.codes},
      {"territorial_scope_worldwide", scope.worldwide},
      {"end_date_visibility_restriction", nullptr},
      {"location", f.location},
      {"object", ObjectJson(f.c.object)},
      {"content_included", false},
  };
  return j;
}

Json OrderJson(const RemovalOrder& o, absl::Time received_at) {
  return Json{
      {"order_reference", SanitizeUtf8(o.order_reference)},
      {"instruction_reference", SanitizeUtf8(o.instruction_reference)},
      {"issuing_authority",
       {{"name", SanitizeUtf8(o.issuing_authority.name)},
        {"member_state", SanitizeUtf8(o.issuing_authority.member_state)},
        {"contact", SanitizeUtf8(o.issuing_authority.contact)}}},
      {"legal_basis", SanitizeUtf8(o.legal_basis)},
      {"issued_at", TimeToJson(o.issued_at)},
      {"received_at", TimeToJson(received_at)},
      {"redress", SanitizeUtf8(o.redress)},
  };
}

// Joins per-language bodies as RenderNotice does: a line of dashes between.
std::string JoinBodies(const std::vector<std::string>& bodies) {
  std::string out;
  for (const std::string& body : bodies) {
    if (!out.empty()) out += "\n" + std::string(72, '-') + "\n\n";
    out += body;
  }
  return out;
}

ContentProviderNotice Finish(std::string_view kind, std::string subject, std::vector<std::string> bodies,
                             Json payload) {
  ContentProviderNotice n;
  n.send = true;
  n.kind = std::string(kind);
  n.subject = Clean(subject, kMaxNoticeSubjectBytes);
  n.body = JoinBodies(bodies);
  payload["subject"] = n.subject;
  payload["body"] = n.body;
  n.payload = std::move(payload);
  return n;
}

// ---------------------------------------------------------------------------
// Regulation (EU) 2021/784 Art. 11: information to the content provider.

std::string TcoOrderReference(const RemovalOrder& o) {
  return o.order_reference.empty() ? std::string("-") : Clean(o.order_reference);
}

std::string TcoBody(const Facts& f, NoticeLanguage l) {
  const RemovalOrder& o = *f.order;
  const std::string authority = Clean(o.issuing_authority.name);
  const std::string state = Clean(o.issuing_authority.member_state, 8);
  const std::string reference = TcoOrderReference(o);
  std::string out = Head(
      f, l,
      f.removed ? Pick(l, "Informatie over de verwijdering van uw inhoud na een verwijderingsbevel",
                       "Information about the removal of your content under a removal order")
                : Pick(l, "Informatie over het ontoegankelijk maken van uw inhoud na een verwijderingsbevel",
                       "Information about disabling access to your content under a removal order"));
  out += fmt::format("{}\n", Pick(l, "Wat wij hebben gedaan:", "What we did:"));
  out += fmt::format("  {}\n", ActionText(f, l));
  const Scope scope = ScopeOf(f);
  out += fmt::format("  {}: {}\n\n", Pick(l, "Reikwijdte", "Territorial scope"),
                     l == NoticeLanguage::kDutch ? scope.text_nl : scope.text_en);
  out += fmt::format("{}\n", Pick(l, "Waarom:", "Why:"));
  out += fmt::format(
      fmt::runtime(Pick(
          l,
          "  Wij hebben een verwijderingsbevel ontvangen van {} ({}), kenmerk {}, gegeven op {}, op grond "
          "van "
          "Verordening (EU) 2021/784 betreffende het tegengaan van de verspreiding van terroristische "
          "online-inhoud, art. 3. Het bevel merkt deze inhoud aan als terroristische inhoud. Wij zijn "
          "verplicht "
          "zo'n bevel binnen een uur na ontvangst uit te voeren.\n",
          "  We received a removal order from {} ({}), reference {}, issued on {}, under Regulation (EU) "
          "2021/784 on addressing the dissemination of terrorist content online, Art. 3. The order "
          "identifies "
          "this content as terrorist content. We are required to act on such an order within one hour of "
          "receipt.\n")),
      authority, state, reference, FormatAmsterdam(o.issued_at));
  if (!o.legal_basis.empty()) {
    out +=
        fmt::format("  {}: {}\n", Pick(l, "Rechtsgrond volgens het bevel", "Legal basis stated in the order"),
                    Clean(o.legal_basis, kMaxOrderTextInNotice));
  }
  out += "\n";
  out += fmt::format("{}\n", Pick(l, "Redenen en kopie van het bevel (art. 11, lid 2):",
                                  "Reasons and a copy of the order (Art. 11(2)):"));
  out += fmt::format(
      fmt::runtime(
          Pick(l,
               "  Op uw verzoek laten wij u de redenen voor de verwijdering en uw rechten om het bevel "
               "aan te vechten weten, of sturen wij u een kopie van het verwijderingsbevel. Vraag "
               "daarom via: {}\n\n",
               "  On your request we will tell you the reasons for the removal and your rights to "
               "challenge the order, or send you a copy of the removal order. Ask at: {}\n\n")),
      f.contact);
  out += fmt::format("{}\n", Pick(l, "Uw rechten:", "Your rights:"));
  out += fmt::format(
      fmt::runtime(
          Pick(l,
               "  - Beroep tegen het bevel (art. 9): u hebt recht op een doeltreffende voorziening in "
               "rechte, waaronder het recht het verwijderingsbevel aan te vechten bij de rechter van de "
               "lidstaat van de autoriteit die het heeft gegeven ({}).\n",
               "  - Challenge the order (Art. 9): you have the right to an effective remedy, including "
               "the right to challenge the removal order before the courts of the Member State of the "
               "authority that issued it ({}).\n")),
      state);
  if (!o.redress.empty()) {
    out +=
        fmt::format("    {}: {}\n", Pick(l, "Het bevel vermeldt hierover", "The order states about redress"),
                    Clean(o.redress, kMaxOrderTextInNotice));
  }
  out += fmt::format(
      fmt::runtime(
          Pick(l,
               "  - Klacht (art. 10): u kunt bij ons een klacht indienen over de verwijdering via {}. "
               "Wij behandelen elke klacht zo snel mogelijk. Inhoud die op bevel van een autoriteit is "
               "verwijderd, blijft verwijderd zolang het bevel geldt; wordt het bevel ingetrokken of "
               "vernietigd, dan zetten wij de inhoud terug.\n",
               "  - Complaint (Art. 10): you can submit a complaint about the removal to us at {}. We "
               "examine every complaint without undue delay. Content removed on an authority's order "
               "stays removed while the order stands; if the order is withdrawn or annulled, we "
               "reinstate the content.\n")),
      f.contact);
  return out;
}

ContentProviderNotice BuildTco(const Facts& f, const std::vector<NoticeLanguage>& languages) {
  const RemovalOrder& o = *f.order;
  std::vector<std::string> bodies;
  for (NoticeLanguage l : languages) bodies.push_back(TcoBody(f, l));
  const NoticeLanguage first = languages.front();
  const std::string subject =
      fmt::format(fmt::runtime(Pick(first, "{}: uw inhoud is {} na een verwijderingsbevel (zaak {})",
                                    "{}: {} under a removal order (case {})")),
                  f.provider,
                  f.removed ? Pick(first, "verwijderd", "your content was removed")
                            : Pick(first, "ontoegankelijk gemaakt", "access to your content was disabled"),
                  f.c.id);
  const Scope scope = ScopeOf(f);
  Json payload = CommonPayload(f, kTcoContentProviderNoticeKind, languages, scope);
  payload["legal_basis"] = SanitizeUtf8(f.profile.legal_basis);
  payload["order"] = OrderJson(o, f.c.terms.received_at);
  payload["reasons_on_request"] = true;
  payload["order_copy_on_request"] = true;
  payload["redress"] = Json::array({
      {{"route", "court_challenge"},
       {"basis", "Regulation (EU) 2021/784 Art. 9"},
       {"forum", fmt::format("courts of the Member State of the issuing authority ({})",
                             SanitizeUtf8(o.issuing_authority.member_state))}},
      {{"route", "complaint"}, {"basis", "Regulation (EU) 2021/784 Art. 10"}, {"contact", f.contact}},
  });
  return Finish(kTcoContentProviderNoticeKind, subject, std::move(bodies), std::move(payload));
}

// ---------------------------------------------------------------------------
// Dutch CSAM act: the ATKM instruction (aanwijzing).

std::string InstructionReference(const RemovalOrder& o) {
  if (!o.instruction_reference.empty()) return Clean(o.instruction_reference);
  if (!o.order_reference.empty()) return Clean(o.order_reference);
  return "-";
}

std::string NlBody(const Facts& f, NoticeLanguage l) {
  const RemovalOrder& o = *f.order;
  std::string out = Head(
      f, l,
      f.removed ? Pick(l, "Informatie: uw inhoud is verwijderd op aanwijzing van de ATKM",
                       "Information: your content was removed on an instruction of the ATKM")
                : Pick(l, "Informatie: uw inhoud is ontoegankelijk gemaakt op aanwijzing van de ATKM",
                       "Information: access to your content was disabled on an instruction of the ATKM"));
  out += fmt::format("{}\n", Pick(l, "Wat wij hebben gedaan:", "What we did:"));
  out += fmt::format("  {}\n\n", ActionText(f, l));
  out += fmt::format("{}\n", Pick(l, "Waarom:", "Why:"));
  out += fmt::format(
      fmt::runtime(Pick(
          l,
          "  Wij hebben een aanwijzing ontvangen van de Autoriteit online Terroristisch en "
          "Kinderpornografisch "
          "Materiaal (ATKM), kenmerk {}, gegeven op {}, op grond van de Wet bestuursrechtelijke aanpak "
          "online "
          "kinderpornografisch materiaal. Met een aanwijzing draagt de ATKM een hostingdienstverlener op "
          "kinderpornografisch materiaal binnen de gestelde termijn te verwijderen of ontoegankelijk te "
          "maken; "
          "wij zijn verplicht de aanwijzing op te volgen.\n\n",
          "  We received an instruction (aanwijzing) from the Dutch Authority for Online Terrorist and Child "
          "Sexual Abuse Material (ATKM), reference {}, issued on {}, under the Dutch act on the "
          "administrative "
          "approach to online child sexual abuse material (Wet bestuursrechtelijke aanpak online "
          "kinderpornografisch materiaal). With an instruction the ATKM requires a hosting provider to "
          "remove "
          "or disable access to child sexual abuse material within the term it sets; we are required to "
          "comply "
          "with it.\n\n")),
      InstructionReference(o), FormatAmsterdam(o.issued_at));
  out += fmt::format("{}\n", Pick(l, "Bezwaar maken:", "How to object (bezwaar):"));
  out += std::string(Pick(
      l,
      "  De aanwijzing is een besluit van de ATKM. Wordt u rechtstreeks in uw belang getroffen "
      "(belanghebbende, art. 1:2 Algemene wet bestuursrecht), dan kunt u tegen de aanwijzing bezwaar maken "
      "bij "
      "de ATKM. De bezwaartermijn is in de regel zes weken (art. 6:7 Awb). Tegen de beslissing op bezwaar "
      "staat "
      "beroep bij de bestuursrechter open.\n",
      "  The instruction is a decision of the ATKM. If it directly affects your interests (you are an "
      "interested party, art. 1:2 of the Dutch General Administrative Law Act, Awb), you can lodge an "
      "objection (bezwaar) against the instruction with the ATKM. The term for an objection is as a rule six "
      "weeks (art. 6:7 Awb). The decision on the objection can be appealed to the administrative court.\n"));
  if (!o.issuing_authority.contact.empty()) {
    out += fmt::format("  {}: {}\n", Pick(l, "Contact ATKM", "ATKM contact"),
                       Clean(o.issuing_authority.contact));
  }
  if (!o.redress.empty()) {
    out += fmt::format("  {}: {}\n",
                       Pick(l, "De aanwijzing vermeldt hierover", "The instruction states about redress"),
                       Clean(o.redress, kMaxOrderTextInNotice));
  }
  out += fmt::format(
      fmt::runtime(Pick(l, "  Vragen of een klacht over hoe wij de aanwijzing hebben uitgevoerd: {}\n",
                        "  Questions, or a complaint about how we carried out the instruction: {}\n")),
      f.contact);
  return out;
}

ContentProviderNotice BuildNlCsam(const Facts& f, const std::vector<NoticeLanguage>& languages) {
  const RemovalOrder& o = *f.order;
  std::vector<std::string> bodies;
  for (NoticeLanguage l : languages) bodies.push_back(NlBody(f, l));
  const NoticeLanguage first = languages.front();
  const std::string subject =
      fmt::format(fmt::runtime(Pick(first, "{}: uw inhoud is {} op aanwijzing van de ATKM (zaak {})",
                                    "{}: {} on an ATKM instruction (case {})")),
                  f.provider,
                  f.removed ? Pick(first, "verwijderd", "your content was removed")
                            : Pick(first, "ontoegankelijk gemaakt", "access to your content was disabled"),
                  f.c.id);
  Json payload = CommonPayload(f, kNlCsamContentProviderNoticeKind, languages, ScopeOf(f));
  payload["legal_basis"] = SanitizeUtf8(f.profile.legal_basis);
  payload["order"] = OrderJson(o, f.c.terms.received_at);
  payload["order"]["term_minutes"] = absl::ToInt64Minutes(o.term);
  payload["redress"] = Json::array({
      {{"route", "bezwaar"},
       {"basis", "Algemene wet bestuursrecht art. 6:7 (objection, as a rule within six weeks)"},
       {"forum", "ATKM"},
       {"contact", SanitizeUtf8(o.issuing_authority.contact)}},
      {{"route", "beroep"}, {"basis", "Algemene wet bestuursrecht"}, {"forum", "administrative court"}},
      {{"route", "complaint"}, {"basis", "provider"}, {"contact", f.contact}},
  });
  return Finish(kNlCsamContentProviderNoticeKind, subject, std::move(bodies), std::move(payload));
}

// ---------------------------------------------------------------------------
// DSA Art. 17: statement of reasons for a voluntary detection.

struct Ground {
  bool illegal = true;
  std::string legal_nl, legal_en;  // illegal content: the provision
  std::string category, keyword;   // DSA Transparency Database
  std::string what_nl, what_en;    // the listed material in words
};

Ground GroundFor(const Facts& f) {
  Ground g;
  const std::string& custom = f.options.illegal_content_legal_ground;
  if (f.c.category == "csam") {
    g.legal_nl = "Wetboek van Strafrecht, art. 240b (kinderpornografie)";
    g.legal_en = "Dutch Criminal Code (Wetboek van Strafrecht), art. 240b (child sexual abuse material)";
    g.category = "STATEMENT_CATEGORY_PROTECTION_OF_MINORS";
    g.keyword = "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL";
    g.what_nl = "bekend kinderpornografisch materiaal";
    g.what_en = "known child sexual abuse material";
  } else if (f.c.category == "terrorist") {
    g.legal_nl = "Verordening (EU) 2021/784, art. 2 (terroristische online-inhoud)";
    g.legal_en = "Regulation (EU) 2021/784, Art. 2 (terrorist content online)";
    g.category = "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY";
    g.keyword = "KEYWORD_TERRORIST_CONTENT";
    g.what_nl = "bekende terroristische inhoud";
    g.what_en = "known terrorist content";
  } else {
    g.illegal = false;
    g.category = "STATEMENT_CATEGORY_OTHER_VIOLATION_TC";
    g.keyword = "KEYWORD_OTHER";
    g.what_nl = "materiaal dat volgens onze voorwaarden niet is toegestaan";
    g.what_en = "material our terms and conditions do not allow";
  }
  if (g.illegal && !custom.empty()) g.legal_nl = g.legal_en = custom;
  return g;
}

// Who decided: a confirmation by anyone but a policy means a person did.
struct Decider {
  bool by_person = false;
  bool by_policy = false;
};

Decider DeciderOf(const Case& c) {
  Decider d;
  for (const CaseTransition& t : c.history) {
    if (t.to != CaseState::kConfirmed) continue;
    if (t.actor.starts_with("policy:")) {
      d.by_policy = true;
    } else {
      d.by_person = true;
    }
  }
  return d;
}

std::string MatchLine(const MatchEvidence& e, NoticeLanguage l) {
  const std::string list =
      fmt::format(fmt::runtime(Pick(l, "lijst {} (versie {})", "list {} (version {})")), Clean(e.list_name),
                  e.list_version.empty() ? std::string("-") : Clean(e.list_version));
  if (e.hash_type == "pdq") {
    return fmt::format(
        fmt::runtime(
            Pick(l,
                 "  - PDQ {} komt overeen met {}: perceptuele overeenkomst op afstand {} (drempel {}, "
                 "kwaliteit {}); het beeld is visueel vrijwel gelijk aan een beeld op de lijst\n",
                 "  - PDQ {} matched {}: perceptual match at distance {} (threshold {}, quality {}); the "
                 "image is visually near-identical to a listed image\n")),
        Clean(e.digest_hex, 64), list, e.distance, e.threshold, e.quality);
  }
  return fmt::format(
      fmt::runtime(Pick(l,
                        "  - {} {} komt overeen met {}: exacte overeenkomst; het bestand is "
                        "bit voor bit gelijk aan een bestand op de lijst\n",
                        "  - {} {} matched {}: exact match; the file is bit-for-bit identical to "
                        "a listed file\n")),
      HashTypeName(e.hash_type), Clean(e.digest_hex, 64), list);
}

std::string ListNames(const Case& c) {
  std::vector<std::string> names;
  for (const MatchEvidence& e : c.evidence) {
    std::string name = Clean(e.list_name);
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(std::move(name));
  }
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

bool AnyPerceptual(const Case& c) {
  return std::any_of(c.evidence.begin(), c.evidence.end(),
                     [](const MatchEvidence& e) { return e.hash_type == "pdq"; });
}

bool AnyExact(const Case& c) {
  return std::any_of(c.evidence.begin(), c.evidence.end(),
                     [](const MatchEvidence& e) { return e.hash_type != "pdq"; });
}

std::string Explanation(const Facts& f, const Ground& g, NoticeLanguage l) {
  std::string how;
  if (AnyExact(f.c) && AnyPerceptual(f.c)) {
    how = Pick(l, "identiek aan en visueel vrijwel gelijk aan", "identical and visually near-identical to");
  } else if (AnyPerceptual(f.c)) {
    how = Pick(l, "visueel vrijwel gelijk aan", "visually near-identical to");
  } else {
    how = Pick(l, "identiek aan", "identical to");
  }
  return fmt::format(fmt::runtime(Pick(l, "Het bestand is {} {} op de hashlijst(en) {}.",
                                       "The file is {} {} listed on the hash list(s) {}.")),
                     how, l == NoticeLanguage::kDutch ? g.what_nl : g.what_en, ListNames(f.c));
}

std::string DsaBody(const Facts& f, const Ground& g, const Decider& d, NoticeLanguage l) {
  const bool nl = l == NoticeLanguage::kDutch;
  std::string out =
      Head(f, l,
           Pick(l,
                "Motivering van ons besluit (Digital Services Act, Verordening (EU) 2022/2065, "
                "art. 17)",
                "Statement of reasons (Digital Services Act, Regulation (EU) 2022/2065, Art. 17)"));
  const Scope scope = ScopeOf(f);
  out += fmt::format("{}\n", Pick(l, "1. Ons besluit:", "1. Our decision:"));
  out += fmt::format("  {}\n", ActionText(f, l));
  out += fmt::format("  {}: {}\n", Pick(l, "Reikwijdte", "Territorial scope"),
                     nl ? scope.text_nl : scope.text_en);
  out += fmt::format("  {}: {}\n\n", Pick(l, "Duur", "Duration"), DurationText(f, l));

  out += fmt::format("{}\n", Pick(l, "2. Feiten en omstandigheden:", "2. Facts and circumstances:"));
  out += std::string(
      Pick(l,
           "  Wij hebben op eigen initiatief gehandeld, niet naar aanleiding van een melding. Wij "
           "vergelijken de hashwaarden (digitale vingerafdrukken) van opgeslagen bestanden met "
           "lijsten van hashwaarden van bekend illegaal materiaal. De hashwaarde van dit bestand "
           "kwam overeen met:\n",
           "  We acted on our own initiative, not on a notice. We compare the digests (digital "
           "fingerprints) of stored files with lists of digests of known illegal material. This "
           "file's digest matched:\n"));
  size_t shown = 0;
  for (const MatchEvidence& e : f.c.evidence) {
    if (shown == kMaxStatementMatches) break;
    out += MatchLine(e, l);
    ++shown;
  }
  if (f.c.evidence.size() > shown) {
    out += fmt::format(fmt::runtime(Pick(l, "  (en nog {} overeenkomsten)\n", "  (and {} more matches)\n")),
                       f.c.evidence.size() - shown);
  }
  out +=
      std::string(Pick(l,
                       "  Wij hebben de inhoud niet zelf als nieuw materiaal geclassificeerd: wij handelen "
                       "alleen bij bestanden die overeenkomen met een vermelding op zo'n lijst.\n\n",
                       "  We did not classify the content as new material ourselves: we act only on files "
                       "that match an entry on such a list.\n\n"));

  out +=
      fmt::format("{}\n", Pick(l, "3. Gebruik van geautomatiseerde middelen:", "3. Use of automated means:"));
  out += std::string(Pick(l,
                          "  Opsporing: ja, de overeenkomst is geautomatiseerd gevonden (vergelijking van "
                          "hashwaarden).\n",
                          "  Detection: yes, the match was found by automated means (digest comparison).\n"));
  if (d.by_person) {
    out +=
        std::string(Pick(l,
                         "  Besluit: een medewerker heeft de overeenkomst beoordeeld en het besluit genomen; "
                         "het besluit is niet geautomatiseerd genomen.\n\n",
                         "  Decision: a member of our staff reviewed the match and took the decision; the "
                         "decision was not taken by automated means.\n\n"));
  } else {
    out += std::string(
        Pick(l,
             "  Besluit: geautomatiseerd, zonder menselijke beoordeling: het ging om een exacte "
             "overeenkomst op een lijst die wij voor automatisch optreden hebben goedgekeurd.\n\n",
             "  Decision: automated, without human review: the match was exact, on a list we "
             "have approved for automatic action.\n\n"));
  }

  out += fmt::format("{}\n", Pick(l, "4. Grond voor het besluit:", "4. Ground for the decision:"));
  if (g.illegal) {
    out += fmt::format(fmt::runtime(Pick(l, "  Illegale inhoud. Rechtsgrond: {}.\n",
                                         "  Illegal content. Legal ground: {}.\n")),
                       nl ? g.legal_nl : g.legal_en);
    out += fmt::format("  {}\n", Explanation(f, g, l));
  }
  if (!f.options.contractual_ground.empty()) {
    out += fmt::format(fmt::runtime(Pick(l, "  {}Onverenigbaar met onze voorwaarden: {}.\n",
                                         "  {}Incompatible with our terms and conditions: {}.\n")),
                       g.illegal ? Pick(l, "Daarnaast: ", "In addition: ") : "",
                       Clean(f.options.contractual_ground));
    if (!g.illegal) out += fmt::format("  {}\n", Explanation(f, g, l));
  }
  out += "\n";

  out += fmt::format("{}\n", Pick(l, "5. Uw mogelijkheden om op te komen tegen dit besluit:",
                                  "5. How you can contest this decision:"));
  if (f.options.online_platform) {
    out += fmt::format(
        fmt::runtime(
            Pick(l,
                 "  - Klacht bij ons (interne klachtenafhandeling, art. 20 DSA): kosteloos, tot ten "
                 "minste zes maanden na dit besluit, via {}.\n"
                 "  - Buitengerechtelijke geschillenbeslechting (art. 21 DSA): u kunt een door een "
                 "digitaledienstencoördinator gecertificeerde instantie kiezen om het geschil te "
                 "beslechten.\n",
                 "  - Complaint to us (internal complaint-handling system, DSA Art. 20): free of charge, "
                 "for at least six months after this decision, at {}.\n"
                 "  - Out-of-court dispute settlement (DSA Art. 21): you may select a dispute settlement "
                 "body certified by a Digital Services Coordinator to resolve the dispute.\n")),
        f.contact);
  } else {
    out += fmt::format(
        fmt::runtime(
            Pick(l,
                 "  - Klacht bij ons: vraag ons het besluit te heroverwegen via {}. (Het interne "
                 "klachtenafhandelingssysteem van art. 20 DSA is een verplichting voor online "
                 "platforms; wij bieden deze heroverweging ook zonder die verplichting.)\n"
                 "  - Buitengerechtelijke geschillenbeslechting (art. 21 DSA): gecertificeerde instanties "
                 "behandelen geschillen over besluiten van online platforms; omdat onze dienst geen "
                 "online platform is, staat deze weg mogelijk niet voor u open.\n",
                 "  - Complaint to us: ask us to reconsider the decision at {}. (The internal "
                 "complaint-handling system of DSA Art. 20 is an obligation of online platforms; we "
                 "offer this review without that obligation.)\n"
                 "  - Out-of-court dispute settlement (DSA Art. 21): certified bodies handle disputes "
                 "about decisions of online platforms; as our service is not an online platform, this "
                 "route may not be open to you.\n")),
        f.contact);
  }
  out +=
      std::string(Pick(l,
                       "  - Rechter: u kunt het besluit altijd aan de rechter voorleggen, volgens het "
                       "toepasselijke recht.\n",
                       "  - Court: you can always bring the decision before a court, in accordance with the "
                       "applicable law.\n"));
  return out;
}

Json MatchesJson(const Case& c) {
  Json matches = Json::array();
  for (const MatchEvidence& e : c.evidence) {
    if (matches.size() == kMaxStatementMatches) break;
    Json m = {
        {"hash_type", e.hash_type},
        {"digest", e.digest_hex},
        {"list_name", SanitizeUtf8(e.list_name)},
        {"list_version", SanitizeUtf8(e.list_version)},
        {"match", e.hash_type == "pdq" ? "perceptual" : "exact"},
        {"matched_at", TimeToJson(e.matched_at)},
    };
    if (e.hash_type == "pdq") {
      m["distance"] = e.distance;
      m["threshold"] = e.threshold;
      m["quality"] = e.quality;
    }
    matches.push_back(std::move(m));
  }
  return matches;
}

ContentProviderNotice BuildDsa(const Facts& f, const std::vector<NoticeLanguage>& languages) {
  const Ground g = GroundFor(f);
  const Decider d = DeciderOf(f.c);
  std::vector<std::string> bodies;
  for (NoticeLanguage l : languages) bodies.push_back(DsaBody(f, g, d, l));
  const std::string subject =
      fmt::format(fmt::runtime(Pick(languages.front(), "{}: motivering van de {} van uw inhoud (zaak {})",
                                    "{}: statement of reasons for the {} of your content (case {})")),
                  f.provider,
                  f.removed ? Pick(languages.front(), "verwijdering", "removal")
                            : Pick(languages.front(), "blokkering", "disabling of access to"),
                  f.c.id);
  const Scope scope = ScopeOf(f);
  Json payload = CommonPayload(f, kDsaStatementOfReasonsKind, languages, scope);
  payload["legal_basis"] = "Regulation (EU) 2022/2065 (Digital Services Act) Art. 17";
  payload["puid"] = f.c.id;
  payload["source_type"] = "SOURCE_VOLUNTARY";
  payload["content_type"] = Json::array({ContentTypeCode(f.c.object.content_type)});
  payload["category"] = g.category;
  payload["category_specification"] = Json::array({g.keyword});
  payload["application_date"] = absl::FormatTime("%Y-%m-%d", f.c.terms.removed_at, absl::UTCTimeZone());
  payload["decision_ground"] =
      g.illegal ? "DECISION_GROUND_ILLEGAL_CONTENT" : "DECISION_GROUND_INCOMPATIBLE_CONTENT";
  if (g.illegal) {
    payload["illegal_content_legal_ground"] = g.legal_en;
    payload["illegal_content_explanation"] = Explanation(f, g, NoticeLanguage::kEnglish);
  }
  if (!f.options.contractual_ground.empty()) {
    payload["incompatible_content_ground"] = Clean(f.options.contractual_ground);
    payload["incompatible_content_explanation"] = Explanation(f, g, NoticeLanguage::kEnglish);
    payload["incompatible_content_illegal"] = g.illegal ? "Yes" : "No";
  }
  payload["automated_detection"] = "Yes";
  payload["automated_decision"] =
      d.by_person ? "AUTOMATED_DECISION_NOT_AUTOMATED" : "AUTOMATED_DECISION_FULLY";
  payload["human_review"] = d.by_person;
  std::string facts = fmt::format(
      "Own-initiative detection: the file's digest matched {} entr{} on the hash list(s) {} ({}). The "
      "content "
      "itself was not classified as new material.",
      f.c.evidence.size(), f.c.evidence.size() == 1 ? "y" : "ies", ListNames(f.c),
      AnyPerceptual(f.c) ? (AnyExact(f.c) ? "exact and perceptual matches" : "perceptual match")
                         : "exact match");
  payload["decision_facts"] = facts;
  payload["matches"] = MatchesJson(f.c);
  payload["matches_total"] = f.c.evidence.size();
  payload["online_platform"] = f.options.online_platform;
  Json redress = Json::array();
  redress.push_back(
      {{"route", "internal_complaint"},
       {"basis", f.options.online_platform ? "Regulation (EU) 2022/2065 Art. 20"
                                           : "provider review (Art. 20 applies to online platforms)"},
       {"contact", f.contact}});
  redress.push_back({{"route", "out_of_court_settlement"},
                     {"basis", "Regulation (EU) 2022/2065 Art. 21"},
                     {"available", f.options.online_platform}});
  redress.push_back({{"route", "judicial"}, {"basis", "applicable national law"}});
  payload["redress"] = std::move(redress);
  return Finish(kDsaStatementOfReasonsKind, subject, std::move(bodies), std::move(payload));
}

std::string SecrecyReason(const Facts& f, absl::Time until) {
  const RemovalOrder& o = *f.order;
  const std::string when = until == absl::InfinitePast()
                               ? std::string("until the issuing authority lifts it (end date not known)")
                               : "until " + FormatAmsterdam(until);
  if (f.profile.regime == LegalRegime::kTcoRemovalOrder) {
    return fmt::format(
        "withheld because the order requests confidentiality {}: removal order {} of {} decided that the "
        "content provider must not be informed (Regulation (EU) 2021/784 Art. 11(3))",
        when, TcoOrderReference(o), Clean(o.issuing_authority.name));
  }
  return fmt::format(
      "withheld because the order requests confidentiality {}: ATKM instruction {} directs that the content "
      "provider must not be informed",
      when, InstructionReference(o));
}

}  // namespace

absl::StatusOr<ContentProviderNotice> BuildContentProviderNotice(
    const Case& c, const LegalProfile& profile, const ContentProviderNoticeOptions& options) {
  if (auto s = ValidateOptions(c, options); !s.ok()) return s;

  std::string_view kind;
  switch (profile.regime) {
    case LegalRegime::kTcoRemovalOrder:
      kind = kTcoContentProviderNoticeKind;
      break;
    case LegalRegime::kNlCsamInstruction:
      kind = kNlCsamContentProviderNoticeKind;
      break;
    case LegalRegime::kProviderVoluntary:
      kind = kDsaStatementOfReasonsKind;
      break;
    case LegalRegime::kAuthorityNoticeCycle:
      return NotSent("", fmt::format("not sent: profile {} (regime authority_notice_cycle) is the authority "
                                     "role; the hosting provider informs its own customer",
                                     profile.name));
  }

  const bool order_regime = profile.regime != LegalRegime::kProviderVoluntary;
  if (order_regime && !profile.inform_content_provider_by_default) {
    return NotSent(
        kind, fmt::format("not sent: profile {} has inform_content_provider_by_default off", profile.name));
  }
  if (!order_regime && !profile.statement_of_reasons) {
    return NotSent(kind, fmt::format("not sent: profile {} has statement_of_reasons off", profile.name));
  }

  Facts f{c, profile, options};
  if (order_regime) {
    if (!c.terms.order.has_value()) {
      return absl::FailedPreconditionError(fmt::format(
          "content-provider notice for case {}: profile {} needs the order the case answers (terms.order), "
          "which the case does not have; open order cases with the order attached",
          c.id, profile.name));
    }
    f.order = &*c.terms.order;
    if (f.order->secrecy) {
      const bool known_end = options.secrecy_until != absl::InfinitePast();
      if (!known_end || options.now < options.secrecy_until) {
        const absl::Time until = known_end ? options.secrecy_until : absl::InfinitePast();
        return NotSent(kind, SecrecyReason(f, until), until);
      }
    }
  }

  const std::string& removal = c.terms.removal;
  if (removal == kRemovalGone || removal == kRemovalChanged) {
    return NotSent(kind, fmt::format("not sent: a re-check found the content {} ({}); the provider took no "
                                     "decision to report to the content provider",
                                     removal == kRemovalGone ? "no longer served" : "changed", removal));
  }
  if ((removal != kRemovalRemoved && removal != kRemovalAccessDisabled) ||
      c.terms.removed_at == absl::InfinitePast()) {
    return absl::FailedPreconditionError(fmt::format(
        "content-provider notice for case {}: the content is not recorded as removed or disabled yet "
        "(terms.removal '{}'); build the notice when the removal is recorded",
        c.id, Clean(removal, 32)));
  }
  f.removed = removal == kRemovalRemoved;
  f.provider = Clean(options.provider_name);
  f.contact = Clean(options.complaint_contact);
  f.location = Url(f);
  f.object_location = Clean(fmt::format("{}: {}", c.object.source_id, c.object.key));

  const std::vector<NoticeLanguage> languages = DistinctLanguages(options.languages);
  switch (profile.regime) {
    case LegalRegime::kTcoRemovalOrder:
      return BuildTco(f, languages);
    case LegalRegime::kNlCsamInstruction:
      return BuildNlCsam(f, languages);
    case LegalRegime::kProviderVoluntary:
      break;
    case LegalRegime::kAuthorityNoticeCycle:
      return NotSent("", "not sent: authority role");
  }

  if (c.evidence.empty()) {
    return absl::FailedPreconditionError(fmt::format(
        "content-provider notice for case {}: the case has no match evidence; a statement of reasons for a "
        "voluntary detection states which list entry matched",
        c.id));
  }
  const Decider d = DeciderOf(c);
  if (!d.by_person && !d.by_policy) {
    return absl::FailedPreconditionError(
        fmt::format("content-provider notice for case {}: the case was never confirmed (no transition to "
                    "confirmed in its "
                    "history); a statement of reasons must say whether a person or a policy decided",
                    c.id));
  }
  if (c.category != "csam" && c.category != "terrorist" && options.contractual_ground.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("content-provider notice for case {}: category '{}' implies no legal ground; set "
                    "options.contractual_ground to the clause of your terms the decision relies on",
                    c.id, Clean(c.category, 64)));
  }
  return BuildDsa(f, languages);
}

}  // namespace takedown
