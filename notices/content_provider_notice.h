// Content-provider notices: what the hosting provider tells its customer (the
// content provider, the "recipient of the service") after it removed that
// customer's content or disabled access to it. Which document, and whether one
// may be sent at all, follows from the regime of the case's legal profile
// (built-in profile names shown):
//
//   tco-removal-order   -> content_provider.tco_information: information on the
//                          removal under a removal order (Regulation (EU)
//                          2021/784 Art. 11), the reasons and a copy of the
//                          order on request, the right to challenge the order
//                          (Art. 9) and to complain (Art. 10). Withheld while
//                          the order requests confidentiality (Art. 11(3)).
//   nl-csam-instruction -> content_provider.nl_csam_information: access
//                          disabled / removed on an ATKM instruction
//                          (aanwijzing) under the Dutch CSAM act, and how to
//                          object (bezwaar). Only if the profile's
//                          inform_content_provider_by_default is set; withheld
//                          while the instruction requests confidentiality.
//   provider-voluntary  -> content_provider.dsa_statement_of_reasons: the DSA
//                          (Regulation (EU) 2022/2065) Art. 17(3) statement of
//                          reasons for the provider's own detection. Only if
//                          the profile's statement_of_reasons is set.
//   authority-notice-cycle -> never: the sender of notices hosts nothing.
//
// The document describes the content by location, object key and digests as
// the case has them; the content itself is never part of it (takedownd does
// not keep content). Times are shown in Europe/Amsterdam in the text and as
// RFC 3339 UTC in the JSON. Field names of the statement of reasons follow the
// DSA Transparency Database API where one exists (docs/notices.md).
//
// Plain values; BuildContentProviderNotice is pure and thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "notices/case.h"
#include "notices/legal_profile.h"
#include "notices/notice_template.h"

namespace takedown {

inline constexpr std::string_view kTcoContentProviderNoticeKind = "content_provider.tco_information";
inline constexpr std::string_view kDsaStatementOfReasonsKind = "content_provider.dsa_statement_of_reasons";
inline constexpr std::string_view kNlCsamContentProviderNoticeKind = "content_provider.nl_csam_information";
inline constexpr int kContentProviderNoticeSchemaVersion = 1;
// Longest provider name, contact or ground accepted in the options, in bytes.
inline constexpr size_t kMaxContentProviderOptionBytes = 1024;
// Matches listed in a statement of reasons (text and JSON); the rest are
// counted.
inline constexpr size_t kMaxStatementMatches = 50;

struct ContentProviderNoticeOptions {
  // The hosting provider sending the notice, e.g. "Example Hosting B.V.".
  std::string provider_name;
  // Where the customer asks for the reasons or a copy of the order and lodges
  // a complaint: an e-mail address or an https URL.
  std::string complaint_contact;
  // Languages of the text, in order (default Dutch, then English, as the
  // other notices); the subject is in the first. At least one.
  std::vector<NoticeLanguage> languages = {NoticeLanguage::kDutch, NoticeLanguage::kEnglish};
  // When the notice is drawn up (the injected clock). Required.
  absl::Time now = absl::InfinitePast();
  // End of the confidentiality the issuing authority imposed, when it said
  // (InfinitePast: not known). An order with `secrecy` is withheld until this
  // time; from it on the notice is built and sent.
  absl::Time secrecy_until = absl::InfinitePast();
  // True if the provider is an online platform (DSA Art. 3(i)): then the
  // internal complaint-handling system (Art. 20) and certified out-of-court
  // dispute settlement (Art. 21) are the customer's rights; otherwise the
  // statement offers the provider's review at complaint_contact and says those
  // articles apply to online platforms.
  bool online_platform = false;
  // Statement of reasons: countries (ISO 3166-1 alpha-2, upper case) where
  // access is disabled. Empty: everywhere. Not used for removals (a deleted
  // file is gone everywhere) nor for TCO orders (all Member States, Art. 3).
  std::vector<std::string> territorial_scope;
  // Statement of reasons: the legal provision relied on for illegal content.
  // Empty: the default for the case's category (docs/notices.md).
  std::string illegal_content_legal_ground;
  // Statement of reasons: the clause of the provider's terms relied on.
  // Required for a case of category "other" (no legal ground is implied);
  // added as a second ground otherwise.
  std::string contractual_ground;
};

struct ContentProviderNotice {
  // False: nothing may be sent; withheld_reason says why (for the audit log,
  // English) and subject, body and payload are empty.
  bool send = false;
  std::string withheld_reason;
  // While an order's confidentiality holds: its end if known, else
  // InfinitePast. Build again from then on.
  absl::Time withheld_until = absl::InfinitePast();
  // The document kind (k*Kind above); set even when withheld, empty when the
  // regime has no content-provider notice.
  std::string kind;
  std::string subject;  // one line, in the first language
  std::string body;     // plain text, every language, "\n" line ends
  // Structured form (docs/notices.md), including subject and body; an empty
  // object when not sent.
  nlohmann::json payload = nlohmann::json::object();
};

// The notice for the content provider of `c`, removed or disabled under
// `profile` (the case's effective profile). `c.terms.removal` must be
// "removed" or "access_disabled" with removed_at set; a case found "gone" or
// "changed" on a re-check gives send = false (the provider decided nothing).
//
// InvalidArgument for bad options (empty provider name or contact, no
// language, `now` unset, a malformed country code; text not UTF-8, with
// control characters or over kMaxContentProviderOptionBytes) and for a
// statement of reasons for category "other" without contractual_ground.
// FailedPrecondition when the case was not removed yet, a tco / nl_csam case
// has no order (terms.order), or a voluntary case has no evidence or was never
// confirmed (the statement must say who decided).
absl::StatusOr<ContentProviderNotice> BuildContentProviderNotice(const Case& c, const LegalProfile& profile,
                                                                 const ContentProviderNoticeOptions& options);

}  // namespace takedown
