#include "notices/notice_template.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <system_error>
#include <utility>

#include "common/status_macros.h"
#include "fmt/format.h"
#include "notices/amsterdam_time.h"
#include "notices/json_fields.h"

namespace takedown {
namespace {

using Json = nlohmann::json;

constexpr std::array<std::string_view, 21> kPlaceholderNames = {
    "case_id",       "category",       "content_type",    "created_at",      "deadline",
    "evidence",      "kind",           "legal_basis",     "legal_profile",   "lists",
    "md5",           "notice_id",      "object_key",      "object_location", "object_size",
    "object_source", "object_version", "order_reference", "required_action", "sha1",
    "sha256",
};

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";              // U+2026

bool IsKnownPlaceholder(std::string_view name) {
  return std::binary_search(kPlaceholderNames.begin(), kPlaceholderNames.end(), name);
}

std::string KnownPlaceholderList() {
  std::string list;
  for (std::string_view name : kPlaceholderNames) {
    if (!list.empty()) list += ", ";
    list += name;
  }
  return list;
}

// Code points that must not reach a receiver: C0 and C1 controls and DEL
// (line breaks that would split a header), Unicode line/paragraph separators,
// and the bidirectional marks and overrides that can make text read
// differently from what it is.
bool IsUnsafeCodePoint(uint32_t cp, bool allow_newline) {
  if (cp == '\n') return !allow_newline;
  if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) return true;
  if (cp == 0x2028 || cp == 0x2029 || cp == 0x200E || cp == 0x200F || cp == 0xFEFF) return true;
  if (cp >= 0x202A && cp <= 0x202E) return true;
  return cp >= 0x2066 && cp <= 0x2069;
}

// Length of the UTF-8 sequence starting with `lead` (input is valid UTF-8).
size_t SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  return 4;
}

uint32_t DecodeCodePoint(std::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(s[i])); };
  switch (s.size()) {
    case 1:
      return byte(0);
    case 2:
      return ((byte(0) & 0x1F) << 6) | (byte(1) & 0x3F);
    case 3:
      return ((byte(0) & 0x0F) << 12) | ((byte(1) & 0x3F) << 6) | (byte(2) & 0x3F);
    default:
      return ((byte(0) & 0x07) << 18) | ((byte(1) & 0x3F) << 12) | ((byte(2) & 0x3F) << 6) | (byte(3) & 0x3F);
  }
}

// `s` as valid UTF-8 without unsafe code points (each becomes U+FFFD), cut
// to at most `max_bytes` at a character boundary with "…" marking the cut.
std::string CleanText(std::string_view s, size_t max_bytes, bool allow_newline = false) {
  const std::string valid = SanitizeUtf8(s);
  std::string out;
  for (size_t i = 0; i < valid.size() && out.size() <= max_bytes;) {
    size_t n = std::min(SequenceLength(static_cast<unsigned char>(valid[i])), valid.size() - i);
    std::string_view sequence(valid.data() + i, n);
    out.append(IsUnsafeCodePoint(DecodeCodePoint(sequence), allow_newline) ? kReplacementCharacter
                                                                           : sequence);
    i += n;
  }
  if (out.size() <= max_bytes) return out;
  size_t cut = max_bytes - kEllipsis.size();
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
  out.resize(cut);
  out.append(kEllipsis);
  return out;
}

std::string_view Pick(NoticeLanguage language, std::string_view nl, std::string_view en) {
  return language == NoticeLanguage::kDutch ? nl : en;
}

std::string Missing(NoticeLanguage language) {
  return std::string(Pick(language, "[niet beschikbaar]", "[not available]"));
}

const Json* Member(const Json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

// A string or number member as cleaned text; empty when absent or of
// another type.
std::string TextMember(const Json& object, std::string_view key) {
  const Json* value = Member(object, key);
  if (value == nullptr) return "";
  if (value->is_string()) return CleanText(value->get_ref<const std::string&>(), kMaxNoticeValueBytes);
  if (value->is_number_integer() || value->is_number_unsigned()) return value->dump();
  return "";
}

std::string OrMissing(std::string value, NoticeLanguage language) {
  return value.empty() ? Missing(language) : std::move(value);
}

// 1234567 -> "1,234,567" (en) or "1.234.567" (nl).
std::string GroupDigits(uint64_t n, NoticeLanguage language) {
  std::string digits = std::to_string(n);
  const char separator = language == NoticeLanguage::kDutch ? '.' : ',';
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(separator);
    out.push_back(digits[i]);
  }
  return out;
}

std::string CategoryText(std::string_view category, NoticeLanguage language) {
  if (category == "csam") {
    return std::string(Pick(language, "kinderpornografisch materiaal", "child sexual abuse material (CSAM)"));
  }
  if (category == "terrorist")
    return std::string(Pick(language, "terroristische inhoud", "terrorist content"));
  if (category == "other") return std::string(Pick(language, "overig materiaal", "other listed material"));
  return OrMissing(CleanText(category, kMaxNoticeValueBytes), language);
}

std::string TimeText(const Json* value) {
  if (value == nullptr || value->is_null()) return "";
  absl::StatusOr<absl::Time> t = TimeFromJson(*value, "notice");
  if (!t.ok()) return "";
  return FormatAmsterdam(*t);
}

std::string EvidenceLine(const Json& e, NoticeLanguage language) {
  const std::string hash_type = OrMissing(TextMember(e, "hash_type"), language);
  const std::string digest = OrMissing(TextMember(e, "digest"), language);
  const std::string list = OrMissing(TextMember(e, "list_name"), language);
  const std::string version = OrMissing(TextMember(e, "list_version"), language);
  const std::string entry = OrMissing(TextMember(e, "entry_id"), language);
  std::string how;
  if (TextMember(e, "hash_type") == "pdq") {
    how = fmt::format(fmt::runtime(Pick(language, "afstand {} (drempel {}), kwaliteit {}",
                                        "distance {} (threshold {}), quality {}")),
                      OrMissing(TextMember(e, "distance"), language),
                      OrMissing(TextMember(e, "threshold"), language),
                      OrMissing(TextMember(e, "quality"), language));
  } else {
    how = std::string(Pick(language, "exacte overeenkomst", "exact match"));
  }
  return fmt::format(fmt::runtime(Pick(language, "  - {} {} op lijst {} (versie {}), vermelding {}: {}",
                                       "  - {} {} on list {} (version {}), entry {}: {}")),
                     hash_type, digest, list, version, entry, how);
}

std::string EvidenceText(const Json* evidence, NoticeLanguage language) {
  if (evidence == nullptr || !evidence->is_array() || evidence->empty()) return "  " + Missing(language);
  std::string out;
  size_t shown = 0;
  for (const Json& e : *evidence) {
    if (shown == kMaxNoticeEvidenceLines) break;
    if (!out.empty()) out.push_back('\n');
    out += EvidenceLine(e, language);
    ++shown;
  }
  if (evidence->size() > shown) {
    out += fmt::format(
        fmt::runtime(Pick(language, "\n  (en nog {} overeenkomsten)", "\n  (and {} more matches)")),
        evidence->size() - shown);
  }
  return out;
}

std::string ListsText(const Json* evidence) {
  if (evidence == nullptr || !evidence->is_array()) return "";
  std::set<std::string> seen;
  std::string out;
  for (const Json& e : *evidence) {
    std::string name = TextMember(e, "list_name");
    if (name.empty()) continue;
    std::string version = TextMember(e, "list_version");
    std::string item = version.empty() ? name : fmt::format("{} ({})", name, version);
    if (!seen.insert(item).second) continue;
    if (seen.size() > kMaxNoticeEvidenceLines) {
      out += ", ...";
      break;
    }
    if (!out.empty()) out += ", ";
    out += item;
  }
  return CleanText(out, kMaxNoticeValueBytes);
}

// Dutch renderings of the built-in profiles' legal bases, used only while
// the profile's basis is the built-in (English) text.
std::string_view DutchBuiltinLegalBasis(std::string_view profile_name) {
  if (profile_name == kTcoRemovalOrderProfile) {
    return "Verordening (EU) 2021/784 (terroristische online-inhoud), art. 3: verwijdering of "
           "ontoegankelijk maken zo snel mogelijk en uiterlijk binnen één uur na ontvangst";
  }
  if (profile_name == kNlCsamInstructionProfile) {
    return "Wet bestuursrechtelijke aanpak online kinderpornografisch materiaal (Stb. 2024, 186): "
           "aanwijzing van de ATKM, verwijdering binnen de door haar gestelde termijn, ten hoogste 12 uur";
  }
  if (profile_name == kProviderVoluntaryProfile) {
    return "Gebruiksvoorwaarden van de aanbieder; Verordening (EU) 2022/2065 (digitaledienstenverordening) "
           "art. 16 en 17";
  }
  if (profile_name == kAuthorityNoticeCycleProfile) {
    return "Melden en opnieuw melden tot verwijdering (praktijk van meldpunten; Project Arachnid meldt "
           "elke 24 uur opnieuw)";
  }
  return "";
}

std::string LegalBasisText(const LegalProfile& profile, NoticeLanguage language) {
  if (language == NoticeLanguage::kDutch) {
    for (const LegalProfile& builtin : BuiltinProfiles()) {
      if (builtin.name == profile.name && builtin.legal_basis == profile.legal_basis) {
        std::string_view dutch = DutchBuiltinLegalBasis(profile.name);
        if (!dutch.empty()) return std::string(dutch);
      }
    }
  }
  return CleanText(profile.legal_basis, kMaxNoticeValueBytes);
}

// Greedy word wrap at `columns` characters (code points), for the prose we
// write ourselves.
std::string Wrap(std::string_view text, size_t columns) {
  std::string out;
  size_t line_length = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(start, end - start);
    size_t word_length = 0;
    for (char ch : word) word_length += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
    if (line_length > 0 && line_length + 1 + word_length > columns) {
      out.push_back('\n');
      line_length = 0;
    } else if (line_length > 0) {
      out.push_back(' ');
      ++line_length;
    }
    out.append(word);
    line_length += word_length;
    start = end + 1;
  }
  return out;
}

std::string RequiredActionText(const LegalProfile* profile, NoticeLanguage language);

std::string RequiredAction(const LegalProfile* profile, NoticeLanguage language) {
  return Wrap(RequiredActionText(profile, language), 76);
}

std::string RequiredActionText(const LegalProfile* profile, NoticeLanguage language) {
  if (profile == nullptr) {
    return std::string(Pick(
        language,
        "Controleer het object hierboven. Wordt de overeenkomst bevestigd, verwijder het dan of maak het "
        "ontoegankelijk, en leg in de zaak vast wat u hebt gedaan.",
        "Check the object identified above. If the match is confirmed, remove it or disable access to it, "
        "and record in the case what you did."));
  }
  switch (profile->regime) {
    case LegalRegime::kTcoRemovalOrder:
      return std::string(Pick(
          language,
          "Verwijder deze inhoud of maak deze in alle EU-lidstaten ontoegankelijk, zo snel mogelijk en "
          "uiterlijk op de termijn hierboven: één uur nadat u het verwijderingsbevel hebt ontvangen "
          "(Verordening (EU) 2021/784, art. 3 lid 3). Laat de uitvaardigende autoriteit daarna onverwijld "
          "weten dat en wanneer u dat hebt gedaan (bijlage II), of waarom u niet kunt voldoen (bijlage III). "
          "Bewaar de verwijderde inhoud en de bijbehorende gegevens zes maanden (art. 6).",
          "Remove this content or disable access to it in all EU member states as soon as possible and at "
          "the latest by the deadline above: one hour after you received the removal order (Regulation (EU) "
          "2021/784, Art. 3(3)). Then tell the issuing authority without undue delay that you did so and "
          "when (Annex II), or why you cannot comply (Annex III). Keep the removed content and related data "
          "for six months (Art. 6)."));
    case LegalRegime::kNlCsamInstruction:
      return std::string(Pick(
          language,
          "Verwijder dit materiaal of maak het ontoegankelijk vóór de termijn hierboven, zoals de aanwijzing "
          "van de ATKM vereist (ten hoogste 12 uur na ontvangst). Voldoet u niet op tijd, dan kan de ATKM "
          "een "
          "last onder dwangsom of een bestuurlijke boete opleggen. Laat de ATKM weten wanneer u het "
          "materiaal hebt verwijderd. De aanwijzing vermeldt hoe u bezwaar kunt maken.",
          "Remove this material or disable access to it before the deadline above, as the ATKM's instruction "
          "(aanwijzing) requires (at most 12 hours after receipt). If you do not comply in time, the ATKM "
          "can "
          "impose an order subject to a penalty payment (last onder dwangsom) or an administrative fine "
          "(bestuurlijke boete). Tell the ATKM when you removed the material. The instruction states how to "
          "object (bezwaar)."));
    case LegalRegime::kProviderVoluntary:
      return std::string(Pick(
          language,
          "Beoordeel deze overeenkomst. Wordt die bevestigd, verwijder het object dan of maak het "
          "ontoegankelijk op grond van de gebruiksvoorwaarden vóór de termijn hierboven, leg het besluit "
          "vast "
          "in de zaak en stuur de uploader een motivering (digitaledienstenverordening, art. 17). Is het een "
          "valse treffer, wijs de zaak dan af, zodat de vermelding op de uitzonderingslijst komt.",
          "Review this match. If it is confirmed, remove the object or disable access to it under the terms "
          "of service before the deadline above, record the decision in the case and send the uploader a "
          "statement of reasons (Digital Services Act, Art. 17). If it is a false positive, reject the case "
          "so that the entry is added to the allowlist."));
    case LegalRegime::kAuthorityNoticeCycle:
      return std::string(Pick(
          language,
          "Verwijder dit materiaal of maak het ontoegankelijk. De vindplaats wordt opnieuw gecontroleerd en "
          "deze melding wordt herhaald totdat het materiaal weg is; blijft het online, dan wordt de zaak "
          "overgedragen aan de bevoegde autoriteit.",
          "Remove this material or disable access to it. The location is checked again, and this notice "
          "repeated, until the material is gone; if it stays online, the case is referred to the competent "
          "authority."));
  }
  return Missing(language);
}

std::string_view BuiltinText(NoticeLanguage language) {
  if (language == NoticeLanguage::kDutch) {
    return R"(Subject: [takedownd] Actie vereist: {{category}} (zaak {{case_id}})

Deze automatische melding gaat over opgeslagen materiaal waarvan een
hashwaarde voorkomt op een lijst van bekend materiaal. Het materiaal zelf is
niet bijgevoegd; het wordt hieronder aangeduid met de vindplaats en de
hashwaarden.

Zaak:                 {{case_id}}
Melding:              {{notice_id}} ({{kind}})
Categorie:            {{category}}
Vindplaats:           {{object_location}}
Versie:               {{object_version}}
Grootte:              {{object_size}}
Inhoudstype:          {{content_type}}
MD5:                  {{md5}}
SHA-1:                {{sha1}}
SHA-256:              {{sha256}}
Lijsten:              {{lists}}

Overeenkomsten:
{{evidence}}

Termijn (uiterlijk):  {{deadline}}
Wettelijke grondslag: {{legal_basis}}
Kenmerk bevel:        {{order_reference}}

Wat u moet doen:
{{required_action}}

Vermeld het zaaknummer bij elke reactie. Ontvangt u deze melding meer dan
eens, dan gaat het om dezelfde melding: alle kopieën hebben hetzelfde
meldingsnummer.

Verzonden door takedownd; melding aangemaakt op {{created_at}}.
)";
  }
  return R"(Subject: [takedownd] Action required: {{category}} (case {{case_id}})

This automated notice concerns stored material with a digest that is on a
list of known material. The material itself is not attached; it is
identified below by its location and digests.

Case:             {{case_id}}
Notice:           {{notice_id}} ({{kind}})
Category:         {{category}}
Location:         {{object_location}}
Version:          {{object_version}}
Size:             {{object_size}}
Content type:     {{content_type}}
MD5:              {{md5}}
SHA-1:            {{sha1}}
SHA-256:          {{sha256}}
Lists:            {{lists}}

Matches:
{{evidence}}

Deadline:         {{deadline}}
Legal basis:      {{legal_basis}}
Order reference:  {{order_reference}}

What you must do:
{{required_action}}

Please quote the case number in every reply. If this notice reaches you more
than once, the copies are the same notice: they carry the same notice number.

Sent by takedownd; notice created {{created_at}}.
)";
}

absl::Status TemplateError(std::string_view source, size_t line, std::string_view problem) {
  return absl::InvalidArgumentError(fmt::format("notice template {}:{}: {}", source, line, problem));
}

}  // namespace

absl::Status NoticeTemplate::ParsePieces(std::string_view text, std::string_view source, size_t first_line,
                                         std::vector<Piece>& pieces) {
  size_t line = first_line;
  std::string literal;
  auto flush_literal = [&] {
    if (literal.empty()) return;
    pieces.push_back(Piece{false, std::move(literal)});
    literal.clear();
  };
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, 2, "{{") != 0) {
      if (text[i] == '\n') ++line;
      literal.push_back(text[i++]);
      continue;
    }
    size_t close = text.find("}}", i + 2);
    size_t newline = text.find('\n', i + 2);
    if (close == std::string_view::npos || (newline != std::string_view::npos && newline < close)) {
      return TemplateError(source, line, "unterminated placeholder: '{{' without '}}' on the same line");
    }
    std::string_view name = text.substr(i + 2, close - i - 2);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (!IsKnownPlaceholder(name)) {
      return TemplateError(source, line,
                           fmt::format("unknown placeholder {{{{{}}}}}; known placeholders: {}",
                                       CleanText(name, 64), KnownPlaceholderList()));
    }
    flush_literal();
    pieces.push_back(Piece{true, std::string(name)});
    i = close + 2;
  }
  flush_literal();
  return absl::OkStatus();
}

namespace {

bool IsSafeKind(std::string_view kind) {
  if (kind.empty() || kind.size() > 64 || kind.front() == '.') return false;
  return std::all_of(kind.begin(), kind.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
  });
}

}  // namespace

std::string_view NoticeLanguageCode(NoticeLanguage language) { return Pick(language, "nl", "en"); }

absl::StatusOr<NoticeLanguage> ParseNoticeLanguage(std::string_view code) {
  if (code == "nl") return NoticeLanguage::kDutch;
  if (code == "en") return NoticeLanguage::kEnglish;
  return absl::InvalidArgumentError(
      fmt::format("unknown notice language '{}'; expected 'nl' or 'en'", CleanText(code, 64)));
}

std::span<const std::string_view> NoticePlaceholderNames() { return kPlaceholderNames; }

absl::StatusOr<NoticeTemplate> NoticeTemplate::Parse(std::string_view text, std::string_view source_name) {
  if (text.size() > kMaxNoticeTemplateBytes) {
    return TemplateError(
        source_name, 1,
        fmt::format("template is {} bytes; the limit is {}", text.size(), kMaxNoticeTemplateBytes));
  }
  if (!IsValidUtf8(text)) return TemplateError(source_name, 1, "template is not valid UTF-8");
  std::string normalized;
  normalized.reserve(text.size());
  size_t line = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    char ch = text[i];
    if (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    if (ch == '\n') ++line;
    const unsigned char byte = static_cast<unsigned char>(ch);
    if ((byte < 0x20 && ch != '\n' && ch != '\t') || byte == 0x7F) {
      return TemplateError(source_name, line,
                           fmt::format("control character 0x{:02x}; templates are plain text", byte));
    }
    normalized.push_back(ch);
  }
  std::string_view rest = normalized;
  constexpr std::string_view kSubject = "Subject:";
  if (rest.substr(0, kSubject.size()) != kSubject) {
    return TemplateError(source_name, 1, "the first line must be 'Subject: <subject template>'");
  }
  size_t end_of_subject = rest.find('\n');
  if (end_of_subject == std::string_view::npos) {
    return TemplateError(source_name, 1, "the Subject line must be followed by an empty line and the body");
  }
  std::string_view subject = rest.substr(kSubject.size(), end_of_subject - kSubject.size());
  while (!subject.empty() && (subject.front() == ' ' || subject.front() == '\t')) subject.remove_prefix(1);
  while (!subject.empty() && (subject.back() == ' ' || subject.back() == '\t')) subject.remove_suffix(1);
  if (subject.empty()) return TemplateError(source_name, 1, "the subject is empty");
  if (subject.find('\t') != std::string_view::npos) {
    return TemplateError(source_name, 1, "the subject must not contain a tab");
  }
  rest.remove_prefix(end_of_subject + 1);
  if (rest.empty() || rest.front() != '\n') {
    return TemplateError(source_name, 2, "the line after the Subject line must be empty");
  }
  rest.remove_prefix(1);
  if (rest.find_first_not_of(" \t\n") == std::string_view::npos) {
    return TemplateError(source_name, 3, "the body is empty");
  }

  NoticeTemplate result;
  result.source_name_ = std::string(source_name);
  RETURN_IF_ERROR(ParsePieces(subject, source_name, 1, result.subject_));
  RETURN_IF_ERROR(ParsePieces(rest, source_name, 3, result.body_));
  return result;
}

const NoticeTemplate& NoticeTemplate::Builtin(NoticeLanguage language) {
  static const NoticeTemplate* const kDutch = [] {
    absl::StatusOr<NoticeTemplate> parsed = Parse(BuiltinText(NoticeLanguage::kDutch), "builtin:nl");
    return new NoticeTemplate(std::move(parsed).value());
  }();
  static const NoticeTemplate* const kEnglish = [] {
    absl::StatusOr<NoticeTemplate> parsed = Parse(BuiltinText(NoticeLanguage::kEnglish), "builtin:en");
    return new NoticeTemplate(std::move(parsed).value());
  }();
  return language == NoticeLanguage::kDutch ? *kDutch : *kEnglish;
}

RenderedNotice NoticeTemplate::Render(const NoticeValueMap& values) const {
  auto expand = [&](const std::vector<Piece>& pieces) {
    std::string out;
    for (const Piece& piece : pieces) {
      if (!piece.placeholder) {
        out += piece.text;
        continue;
      }
      auto it = values.find(piece.text);
      out += it != values.end() ? it->second : fmt::format("[{}?]", piece.text);
    }
    return out;
  };
  RenderedNotice rendered;
  rendered.subject = CleanText(expand(subject_), kMaxNoticeSubjectBytes);
  rendered.body = expand(body_);
  if (rendered.body.empty() || rendered.body.back() != '\n') rendered.body.push_back('\n');
  return rendered;
}

absl::StatusOr<NoticeTemplates> NoticeTemplates::Load(const std::string& directory) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::directory_iterator it(directory, error);
  if (error) {
    std::string message =
        fmt::format("notice templates: cannot read directory {}: {}", directory, error.message());
    if (error == std::errc::no_such_file_or_directory) return absl::NotFoundError(message);
    if (error == std::errc::permission_denied) return absl::PermissionDeniedError(message);
    return absl::InvalidArgumentError(message);
  }
  NoticeTemplates templates;
  for (; it != fs::directory_iterator(); it.increment(error)) {
    if (error) break;
    const fs::path& path = it->path();
    const std::string file = path.filename().string();
    if (path.extension() != ".txt" || !it->is_regular_file(error)) continue;
    const std::string stem = file.substr(0, file.size() - 4);
    const size_t dot = stem.rfind('.');
    const std::string kind = dot == std::string::npos ? "" : stem.substr(0, dot);
    absl::StatusOr<NoticeLanguage> language =
        ParseNoticeLanguage(dot == std::string::npos ? "" : std::string_view(stem).substr(dot + 1));
    if (!language.ok() || !IsSafeKind(kind)) {
      return absl::InvalidArgumentError(
          fmt::format("notice templates: {}: expected a name <kind>.<lang>.txt with lang 'nl' or 'en' (e.g. "
                      "case.detected.nl.txt, or notice.en.txt for every kind)",
                      path.string()));
    }
    if (templates.overrides_.size() == kMaxNoticeTemplateFiles) {
      return absl::InvalidArgumentError(fmt::format("notice templates: {} holds more than {} templates",
                                                    directory, kMaxNoticeTemplateFiles));
    }
    std::ifstream in(path, std::ios::binary);
    std::string text(kMaxNoticeTemplateBytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad()) {
      return absl::InvalidArgumentError(fmt::format("notice templates: cannot read {}", path.string()));
    }
    text.resize(static_cast<size_t>(in.gcount()));
    absl::StatusOr<NoticeTemplate> parsed = NoticeTemplate::Parse(text, path.string());
    if (!parsed.ok()) return parsed.status();
    templates.overrides_.insert_or_assign(fmt::format("{}.{}", kind, NoticeLanguageCode(*language)),
                                          std::move(*parsed));
  }
  if (error) {
    return absl::InvalidArgumentError(
        fmt::format("notice templates: cannot list directory {}: {}", directory, error.message()));
  }
  return templates;
}

const NoticeTemplate& NoticeTemplates::For(std::string_view kind, NoticeLanguage language) const {
  const std::string_view code = NoticeLanguageCode(language);
  if (auto it = overrides_.find(fmt::format("{}.{}", kind, code)); it != overrides_.end()) return it->second;
  if (auto it = overrides_.find(fmt::format("notice.{}", code)); it != overrides_.end()) return it->second;
  return NoticeTemplate::Builtin(language);
}

NoticeValueMap NoticeValues(const Notice& notice, NoticeLanguage language,
                            std::span<const LegalProfile> profiles) {
  const Json& payload = notice.payload;
  static const Json kEmpty = Json::object();
  const Json* object_member = Member(payload, "object");
  const Json& object = object_member != nullptr && object_member->is_object() ? *object_member : kEmpty;
  const Json* evidence = Member(payload, "evidence");

  NoticeValueMap values;
  auto first_of = [](std::string a, const std::string& b) {
    return a.empty() ? CleanText(b, kMaxNoticeValueBytes) : a;
  };
  values["notice_id"] = OrMissing(first_of(TextMember(payload, "notice_id"), notice.id), language);
  values["case_id"] = OrMissing(first_of(TextMember(payload, "case_id"), notice.case_id), language);
  values["kind"] = OrMissing(first_of(TextMember(payload, "kind"), notice.kind), language);
  values["category"] = CategoryText(TextMember(payload, "category"), language);

  const std::string source = TextMember(object, "source_id");
  const std::string key = TextMember(object, "key");
  values["object_source"] = OrMissing(source, language);
  values["object_key"] = OrMissing(key, language);
  std::string location;
  if (!source.empty() && !key.empty()) {
    location = CleanText(fmt::format("{}: {}", source, key), kMaxNoticeValueBytes);
  } else {
    location = key;
  }
  values["object_location"] = OrMissing(std::move(location), language);
  values["object_version"] = OrMissing(TextMember(object, "version"), language);
  const Json* size = Member(object, "size");
  values["object_size"] = size != nullptr && size->is_number_unsigned()
                              ? fmt::format("{} bytes", GroupDigits(size->get<uint64_t>(), language))
                              : Missing(language);
  values["content_type"] = OrMissing(TextMember(object, "content_type"), language);
  values["md5"] = OrMissing(TextMember(object, "md5"), language);
  values["sha1"] = OrMissing(TextMember(object, "sha1"), language);
  values["sha256"] = OrMissing(TextMember(object, "sha256"), language);
  values["lists"] = OrMissing(ListsText(evidence), language);
  values["evidence"] = EvidenceText(evidence, language);

  values["deadline"] = OrMissing(TimeText(Member(payload, "deadline")), language);
  std::string created = TimeText(Member(payload, "created_at"));
  if (created.empty() && notice.created_at != absl::InfinitePast() &&
      notice.created_at != absl::UnixEpoch()) {
    created = FormatAmsterdam(notice.created_at);
  }
  values["created_at"] = OrMissing(std::move(created), language);
  values["order_reference"] = OrMissing(TextMember(payload, "order_reference"), language);

  const std::string profile_name = TextMember(payload, "legal_profile");
  if (profiles.empty()) profiles = BuiltinProfiles();
  const LegalProfile* profile = nullptr;
  for (const LegalProfile& candidate : profiles) {
    if (!profile_name.empty() && candidate.name == profile_name) {
      profile = &candidate;
      break;
    }
  }
  values["legal_profile"] = OrMissing(profile_name, language);
  std::string legal_basis = TextMember(payload, "legal_basis");
  if (legal_basis.empty() && profile != nullptr) legal_basis = LegalBasisText(*profile, language);
  values["legal_basis"] = OrMissing(std::move(legal_basis), language);
  values["required_action"] = RequiredAction(profile, language);
  return values;
}

absl::StatusOr<RenderedNotice> RenderNotice(const NoticeTemplates& templates, const Notice& notice,
                                            std::span<const NoticeLanguage> languages,
                                            std::span<const LegalProfile> profiles) {
  if (languages.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("notice {}: no language to render it in; configure at least one of nl, en", notice.id));
  }
  RenderedNotice result;
  std::vector<NoticeLanguage> done;
  for (NoticeLanguage language : languages) {
    if (std::find(done.begin(), done.end(), language) != done.end()) continue;
    RenderedNotice part =
        templates.For(notice.kind, language).Render(NoticeValues(notice, language, profiles));
    if (done.empty()) {
      result = std::move(part);
    } else {
      result.body += "\n" + std::string(72, '-') + "\n\n" + part.body;
    }
    done.push_back(language);
  }
  return result;
}

}  // namespace takedown
