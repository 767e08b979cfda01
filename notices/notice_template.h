// Notice templates: the human-readable subject and body of a notice (used by
// the SMTP channel, and by any channel that sends text), in Dutch (nl) and
// English (en).
//
// A template is plain text (no HTML) with {{name}} placeholders; the names are
// the fixed set NoticePlaceholderNames(). Template text format:
//
//   Subject: <one line, may use placeholders>
//   <empty line>
//   <body, any number of lines>
//
// Templates are checked when they are parsed or loaded: an unknown or
// unterminated placeholder, a missing "Subject:" line, invalid UTF-8 or a
// control character is an error naming the file and line. Rendering never
// fails: a value the notice does not carry renders as a clear placeholder
// ("[niet beschikbaar]", "[not available]").
//
// Values come from the stored notice payload (NoticeValues), so a re-delivered
// notice renders identically. Every value taken from case data is cleaned:
// invalid UTF-8, control characters (CR and LF included) and bidirectional
// overrides become U+FFFD and long values are truncated, so case data cannot
// add lines to a subject or a mail header, nor disguise text.
//
// Built-in templates are compiled in. NoticeTemplates::Load adds overrides
// from a directory (see docs/notices.md): <kind>.<lang>.txt for one notice
// kind ("case.detected.nl.txt"), notice.<lang>.txt for every kind.
//
// Parsed templates and NoticeTemplates are immutable values, safe to share
// between threads; the functions here are thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "notices/legal_profile.h"
#include "notices/notice.h"

namespace takedown {

enum class NoticeLanguage { kDutch, kEnglish };

// "nl", "en".
std::string_view NoticeLanguageCode(NoticeLanguage language);
// Parses "nl" or "en"; InvalidArgument naming the valid codes otherwise.
absl::StatusOr<NoticeLanguage> ParseNoticeLanguage(std::string_view code);

inline constexpr size_t kMaxNoticeTemplateBytes = 64 * 1024;
// Longest single value inserted into a template, in bytes (then truncated
// with "…").
inline constexpr size_t kMaxNoticeValueBytes = 1024;
// Longest rendered subject, in bytes.
inline constexpr size_t kMaxNoticeSubjectBytes = 512;
// Evidence lines listed in {{evidence}}; the rest are summarised as a count.
inline constexpr size_t kMaxNoticeEvidenceLines = 50;
// Most override files NoticeTemplates::Load reads from one directory.
inline constexpr size_t kMaxNoticeTemplateFiles = 64;

// Every placeholder name a template may use, sorted.
std::span<const std::string_view> NoticePlaceholderNames();

// Placeholder name -> rendered text.
using NoticeValueMap = std::map<std::string, std::string, std::less<>>;

struct RenderedNotice {
  std::string subject;  // one line: never contains CR, LF or other controls
  std::string body;     // lines separated by "\n", ends with "\n"
};

class NoticeTemplate {
 public:
  // Parses template text in the format above. `source_name` (a file name, or
  // "builtin:en") prefixes errors: InvalidArgument("notice.nl.txt:3: unknown
  // placeholder {{dedline}}; known: ...") for an unknown or unterminated
  // placeholder, a missing or empty Subject line, a missing empty line after
  // it, text over kMaxNoticeTemplateBytes, invalid UTF-8 or a control
  // character other than tab and newline. CRLF line ends are accepted.
  static absl::StatusOr<NoticeTemplate> Parse(std::string_view text, std::string_view source_name);

  // The compiled-in template for `language`. Lives for the whole program.
  static const NoticeTemplate& Builtin(NoticeLanguage language);

  // Substitutes `values`. A placeholder missing from `values` renders as
  // "[<name>?]". Values are inserted as given, except that in the subject
  // every control character becomes U+FFFD and the result is cut to
  // kMaxNoticeSubjectBytes; use NoticeValues to get cleaned values.
  RenderedNotice Render(const NoticeValueMap& values) const;

  const std::string& source_name() const { return source_name_; }

 private:
  struct Piece {
    bool placeholder = false;
    std::string text;  // literal text, or the placeholder name
  };

  NoticeTemplate() = default;

  // Splits `text` (lines numbered from `first_line` for errors) into pieces.
  static absl::Status ParsePieces(std::string_view text, std::string_view source, size_t first_line,
                                  std::vector<Piece>& pieces);

  std::string source_name_;
  std::vector<Piece> subject_;
  std::vector<Piece> body_;
};

// The built-in templates plus any overrides, looked up by notice kind and
// language.
class NoticeTemplates {
 public:
  // Built-in templates only.
  NoticeTemplates() = default;

  // Built-ins overridden by the files in `directory`: every regular file
  // named *.txt must be <kind>.<lang>.txt (kind "notice" for all kinds) and a
  // valid template; other files are ignored. InvalidArgument naming the file
  // for a bad name or template, more than kMaxNoticeTemplateFiles templates,
  // or a file over kMaxNoticeTemplateBytes; NotFound / PermissionDenied when
  // the directory cannot be read.
  static absl::StatusOr<NoticeTemplates> Load(const std::string& directory);

  // The template for `kind` in `language`: the kind's override, else the
  // directory's notice.<lang>.txt, else the built-in. The reference lives as
  // long as this object.
  const NoticeTemplate& For(std::string_view kind, NoticeLanguage language) const;

 private:
  // "<kind>.<lang>" -> template.
  std::map<std::string, NoticeTemplate, std::less<>> overrides_;
};

// Values for every name in NoticePlaceholderNames(), in `language`, from the
// notice and its payload (the detection payload of notices/notice.h plus the
// optional fields documented in docs/notices.md: deadline, legal_profile,
// legal_basis, order_reference). The legal basis and what the receiver must do
// come from the payload's legal_profile, looked up in `profiles` (the
// effective profiles from config; the built-in profiles when empty). Times
// are shown in Europe/Amsterdam with the zone abbreviation (CET/CEST).
// Missing or malformed fields give the language's placeholder text.
NoticeValueMap NoticeValues(const Notice& notice, NoticeLanguage language,
                            std::span<const LegalProfile> profiles = {});

// The subject and body of `notice` for a receiver who reads `languages`
// (in order; at least one, duplicates ignored): the subject of the first
// language, and the bodies of all languages separated by a line of dashes.
// InvalidArgument if `languages` is empty.
absl::StatusOr<RenderedNotice> RenderNotice(const NoticeTemplates& templates, const Notice& notice,
                                            std::span<const NoticeLanguage> languages,
                                            std::span<const LegalProfile> profiles = {});

}  // namespace takedown
