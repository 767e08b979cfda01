#include "notices/content_provider_notice.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "notices/amsterdam_time.h"
#include "notices/case_terms.h"
#include "notices/json_fields.h"

namespace takedown {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

// 2027-07-01 12:00:00 UTC = 14:00:00 CEST.
const absl::Time kT0 = absl::FromCivil(absl::CivilSecond(2027, 7, 1, 12, 0, 0), absl::UTCTimeZone());
const absl::Time kRemovedAt = kT0 + absl::Minutes(40);
const absl::Time kNow = kT0 + absl::Hours(1);

const std::string kMd5 = "9b2cf535f27731c974343645a3985328";
const std::string kSha1 = std::string(40, 'a');
const std::string kSha256 = std::string(64, 'b');
const std::string kPdq = std::string(64, 'c');

LegalProfile Profile(std::string_view name, const LegalProfileOverrides& overrides = {}) {
  absl::StatusOr<LegalProfile> p = FindProfile(name, overrides);
  EXPECT_TRUE(p.ok()) << p.status();
  return *p;
}

CaseObject SampleObject() {
  CaseObject o;
  o.source_id = "s3-eu";
  o.key = "customers/4711/holiday.jpg";
  o.version = "etag:1";
  o.size = 12345;
  o.md5_hex = kMd5;
  o.sha1_hex = kSha1;
  o.sha256_hex = kSha256;
  o.content_type = "image/jpeg";
  return o;
}

MatchEvidence Evidence(std::string hash_type, std::string digest, std::string list, std::string category) {
  MatchEvidence e;
  e.hash_type = std::move(hash_type);
  e.digest_hex = std::move(digest);
  e.list_name = std::move(list);
  e.list_version = "2027-06";
  e.entry_id = "E-1";
  e.category = std::move(category);
  if (e.hash_type == "pdq") {
    e.distance = 12;
    e.threshold = 31;
    e.quality = 90;
  }
  e.algorithm_version = "1";
  e.matched_at = kT0;
  return e;
}

// A voluntary detection: matched, confirmed by `confirmer`, notified, removed.
Case VoluntaryCase(const std::string& confirmer, std::string_view removal = kRemovalRemoved) {
  Case c = NewCase(SampleObject(), kT0);
  EXPECT_TRUE(AddEvidence(c, Evidence("sha256", kSha256, "offlimits-hashcheck", "csam")).ok());
  EXPECT_TRUE(AddEvidence(c, Evidence("pdq", kPdq, "ncmec-pdq", "csam")).ok());
  if (confirmer.starts_with("policy:")) {
    EXPECT_TRUE(ApplyTransition(c, CaseState::kConfirmed, kT0 + absl::Seconds(1), confirmer, "auto").ok());
  } else {
    EXPECT_TRUE(
        ApplyTransition(c, CaseState::kInReview, kT0 + absl::Seconds(1), "policy:review", "pdq").ok());
    EXPECT_TRUE(ApplyTransition(c, CaseState::kConfirmed, kT0 + absl::Seconds(2), confirmer, "seen").ok());
  }
  EXPECT_TRUE(ApplyTransition(c, CaseState::kNotified, kT0 + absl::Seconds(3), "policy:notify", "").ok());
  c.terms.profile = std::string(kProviderVoluntaryProfile);
  c.terms.removal = std::string(removal);
  c.terms.removed_at = kRemovedAt;
  return c;
}

RemovalOrder TcoOrder() {
  RemovalOrder o;
  o.profile = std::string(kTcoRemovalOrderProfile);
  o.issuing_authority = {"Bundeskriminalamt", "DE", "tco@bka.example"};
  o.order_reference = "BKA-TCO-2027-0815";
  o.provider = {"Example Hosting B.V.", "abuse@hosting.example"};
  o.legal_basis = "Regulation (EU) 2021/784 Art. 3";
  o.locations = {{"https://files.hosting.example/u/4711/holiday.jpg", ""}};
  o.reasons = "Propaganda of a listed terrorist organisation.";
  o.issued_at = kT0 - absl::Minutes(5);
  o.redress = "Appeal to the Verwaltungsgericht Wiesbaden within one month.";
  return o;
}

RemovalOrder AtkmOrder() {
  RemovalOrder o = TcoOrder();
  o.profile = std::string(kNlCsamInstructionProfile);
  o.issuing_authority = {"Autoriteit online Terroristisch en Kinderpornografisch Materiaal", "NL",
                         "aanwijzing@atkm.example"};
  o.order_reference = "ATKM-2027-77";
  o.instruction_reference = "AANW-2027-0042";
  o.legal_basis = "Wet bestuursrechtelijke aanpak online kinderpornografisch materiaal";
  o.redress = "Bezwaar binnen zes weken bij de ATKM.";
  o.term = absl::Hours(1);
  return o;
}

Case OrderCase(RemovalOrder order, std::string_view removal = kRemovalRemoved) {
  Case c = NewCase(SampleObject(), kT0);
  c.category = order.profile == kTcoRemovalOrderProfile ? "terrorist" : "csam";
  c.terms.profile = order.profile;
  c.terms.received_at = kT0;
  c.terms.location = order.locations.front().url;
  c.terms.order = std::move(order);
  c.terms.removal = std::string(removal);
  c.terms.removed_at = kRemovedAt;
  return c;
}

ContentProviderNoticeOptions Options() {
  ContentProviderNoticeOptions o;
  o.provider_name = "Example Hosting B.V.";
  o.complaint_contact = "https://hosting.example/complaints";
  o.now = kNow;
  return o;
}

// Every member name in `j`, recursively.
void CollectKeys(const Json& j, std::vector<std::string>& keys) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      keys.push_back(it.key());
      CollectKeys(it.value(), keys);
    }
  } else if (j.is_array()) {
    for (const Json& e : j) CollectKeys(e, keys);
  }
}

TEST(ContentProviderNotice, TcoInformsAboutRemovalOrderAndRights) {
  absl::StatusOr<ContentProviderNotice> n =
      BuildContentProviderNotice(OrderCase(TcoOrder()), Profile(kTcoRemovalOrderProfile), Options());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_TRUE(n->send);
  EXPECT_EQ(n->withheld_reason, "");
  EXPECT_EQ(n->kind, "content_provider.tco_information");
  // Art. 11(1): what was done, where, when; the order is named.
  EXPECT_THAT(n->body, HasSubstr("BKA-TCO-2027-0815"));
  EXPECT_THAT(n->body, HasSubstr("Bundeskriminalamt"));
  EXPECT_THAT(n->body, HasSubstr("https://files.hosting.example/u/4711/holiday.jpg"));
  EXPECT_THAT(n->body, HasSubstr("On 2027-07-01 14:40:00 CEST (UTC+02:00) we removed this content."));
  EXPECT_THAT(n->body,
              HasSubstr("Op 2027-07-01 14:40:00 CEST (UTC+02:00) hebben wij deze inhoud verwijderd."));
  // Art. 11(2): reasons or a copy of the order on request.
  EXPECT_THAT(n->body, HasSubstr("send you a copy of the removal order"));
  EXPECT_THAT(n->body, HasSubstr("kopie van het verwijderingsbevel"));
  // Art. 9 challenge and Art. 10 complaint, with the order's own redress text.
  EXPECT_THAT(n->body, HasSubstr("Challenge the order (Art. 9)"));
  EXPECT_THAT(n->body, HasSubstr("Member State of the authority that issued it (DE)"));
  EXPECT_THAT(n->body, HasSubstr("Complaint (Art. 10): you can submit a complaint about the removal to us at "
                                 "https://hosting.example/complaints"));
  EXPECT_THAT(n->body, HasSubstr("Klacht (art. 10)"));
  EXPECT_THAT(n->body, HasSubstr("Verwaltungsgericht Wiesbaden"));
  // Dutch first, then English; subject in Dutch.
  const size_t nl = n->body.find("Informatie over de verwijdering");
  const size_t en = n->body.find("Information about the removal");
  ASSERT_NE(nl, std::string::npos);
  ASSERT_NE(en, std::string::npos);
  EXPECT_LT(nl, en);
  EXPECT_EQ(n->subject, "Example Hosting B.V.: uw inhoud is verwijderd na een verwijderingsbevel (zaak " +
                            CaseIdFor("s3-eu", "customers/4711/holiday.jpg") + ")");

  const Json& p = n->payload;
  EXPECT_EQ(p["kind"], "content_provider.tco_information");
  EXPECT_EQ(p["order"]["order_reference"], "BKA-TCO-2027-0815");
  EXPECT_EQ(p["order"]["issuing_authority"]["member_state"], "DE");
  EXPECT_EQ(p["order"]["issued_at"], "2027-07-01T11:55:00Z");
  EXPECT_EQ(p["removed_at"], "2027-07-01T12:40:00Z");
  EXPECT_EQ(p["created_at"], "2027-07-01T13:00:00Z");
  EXPECT_EQ(p["decision_visibility"], Json::array({"DECISION_VISIBILITY_CONTENT_REMOVED"}));
  EXPECT_EQ(p["order_copy_on_request"], true);
  EXPECT_EQ(p["redress"][0]["route"], "court_challenge");
  EXPECT_EQ(p["redress"][1]["route"], "complaint");
  EXPECT_EQ(p["redress"][1]["contact"], "https://hosting.example/complaints");
  EXPECT_EQ(p["object"]["sha256"], kSha256);
  EXPECT_EQ(p["object"]["md5"], kMd5);
  EXPECT_EQ(p["content_included"], false);
  EXPECT_EQ(p["subject"], n->subject);
  EXPECT_EQ(p["body"], n->body);
  EXPECT_EQ(p["languages"], Json::array({"nl", "en"}));
}

TEST(ContentProviderNotice, TcoAccessDisabledCoversAllMemberStates) {
  absl::StatusOr<ContentProviderNotice> n = BuildContentProviderNotice(
      OrderCase(TcoOrder(), kRemovalAccessDisabled), Profile(kTcoRemovalOrderProfile), Options());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_THAT(n->body, HasSubstr("we disabled access to this content"));
  EXPECT_THAT(n->body, HasSubstr("in all Member States of the European Union"));
  EXPECT_THAT(n->body, HasSubstr("Information about disabling access to your content under a removal order"));
  EXPECT_THAT(n->subject, HasSubstr("uw inhoud is ontoegankelijk gemaakt na een verwijderingsbevel"));
  EXPECT_EQ(n->payload["decision_visibility"], Json::array({"DECISION_VISIBILITY_CONTENT_DISABLED"}));
  EXPECT_EQ(n->payload["territorial_scope"].size(), 27u);
  EXPECT_EQ(n->payload["territorial_scope_worldwide"], false);
}

TEST(ContentProviderNotice, TcoSecrecyWithholdsUntilTheGivenDate) {
  RemovalOrder order = TcoOrder();
  order.secrecy = true;
  const Case c = OrderCase(order);
  ContentProviderNoticeOptions options = Options();
  options.secrecy_until = kT0 + absl::Hours(24 * 42);
  absl::StatusOr<ContentProviderNotice> n =
      BuildContentProviderNotice(c, Profile(kTcoRemovalOrderProfile), options);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_FALSE(n->send);
  EXPECT_EQ(n->kind, "content_provider.tco_information");
  EXPECT_THAT(n->withheld_reason, HasSubstr("withheld because the order requests confidentiality until "
                                            "2027-08-12 14:00:00 CEST (UTC+02:00)"));
  EXPECT_THAT(n->withheld_reason, HasSubstr("Art. 11(3)"));
  EXPECT_THAT(n->withheld_reason, HasSubstr("BKA-TCO-2027-0815"));
  EXPECT_EQ(n->withheld_until, options.secrecy_until);
  EXPECT_EQ(n->subject, "");
  EXPECT_EQ(n->body, "");
  EXPECT_TRUE(n->payload.is_object());
  EXPECT_TRUE(n->payload.empty());

  // Once the confidentiality has ended, the information goes out.
  options.now = options.secrecy_until;
  n = BuildContentProviderNotice(c, Profile(kTcoRemovalOrderProfile), options);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_TRUE(n->send);
  EXPECT_THAT(n->body, HasSubstr("BKA-TCO-2027-0815"));
}

TEST(ContentProviderNotice, TcoSecrecyWithoutEndDateWithholds) {
  RemovalOrder order = TcoOrder();
  order.secrecy = true;
  absl::StatusOr<ContentProviderNotice> n =
      BuildContentProviderNotice(OrderCase(order), Profile(kTcoRemovalOrderProfile), Options());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_FALSE(n->send);
  EXPECT_THAT(n->withheld_reason,
              HasSubstr("withheld because the order requests confidentiality until the issuing authority "
                        "lifts it (end date not known)"));
  EXPECT_EQ(n->withheld_until, absl::InfinitePast());
  EXPECT_EQ(n->body, "");
}

TEST(ContentProviderNotice, ProfileWithoutInformFlagSendsNothing) {
  LegalProfileOverrides off;
  off.inform_content_provider_by_default = false;
  absl::StatusOr<ContentProviderNotice> n =
      BuildContentProviderNotice(OrderCase(TcoOrder()), Profile(kTcoRemovalOrderProfile, off), Options());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_FALSE(n->send);
  EXPECT_EQ(n->withheld_reason,
            "not sent: profile tco-removal-order has inform_content_provider_by_default off");
  EXPECT_EQ(n->body, "");
}

TEST(ContentProviderNotice, NlCsamBuiltinProfileDoesNotInform) {
  absl::StatusOr<ContentProviderNotice> n =
      BuildContentProviderNotice(OrderCase(AtkmOrder()), Profile(kNlCsamInstructionProfile), Options());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_FALSE(n->send);
  EXPECT_EQ(n->kind, "content_provider.nl_csam_information");
  EXPECT_THAT(n->withheld_reason, HasSubstr("inform_content_provider_by_default off"));
}

TEST(ContentProviderNotice, NlCsamInformsAboutAtkmInstructionAndBezwaar) {
  LegalProfileOverrides on;
  on.inform_content_provider_by_default = true;
  absl::StatusOr<ContentProviderNotice> n = BuildContentProviderNotice(
      OrderCase(AtkmOrder(), kRemovalAccessDisabled), Profile(kNlCsamInstructionProfile, on), Options());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_TRUE(n->send);
  EXPECT_EQ(n->kind, "content_provider.nl_csam_information");
  EXPECT_THAT(n->body, HasSubstr("Autoriteit online Terroristisch en Kinderpornografisch Materiaal (ATKM)"));
  EXPECT_THAT(n->body, HasSubstr("Wet bestuursrechtelijke aanpak online kinderpornografisch materiaal"));
  EXPECT_THAT(n->body, HasSubstr("AANW-2027-0042"));
  EXPECT_THAT(n->body, HasSubstr("hebben wij de toegang tot deze inhoud geblokkeerd"));
  EXPECT_THAT(n->body, HasSubstr("bezwaar maken bij de ATKM"));
  EXPECT_THAT(n->body, HasSubstr("art. 6:7 Awb"));
  EXPECT_THAT(n->body, HasSubstr("lodge an objection (bezwaar)"));
  EXPECT_THAT(n->body, HasSubstr("aanwijzing@atkm.example"));
  EXPECT_THAT(n->body, HasSubstr("Bezwaar binnen zes weken bij de ATKM."));
  EXPECT_LT(n->body.find("Informatie: uw inhoud is ontoegankelijk gemaakt op aanwijzing van de ATKM"),
            n->body.find("Information: access to your content was disabled on an instruction of the ATKM"));
  EXPECT_THAT(n->subject, HasSubstr("uw inhoud is ontoegankelijk gemaakt op aanwijzing van de ATKM"));
  EXPECT_EQ(n->payload["order"]["instruction_reference"], "AANW-2027-0042");
  EXPECT_EQ(n->payload["order"]["term_minutes"], 60);
  EXPECT_EQ(n->payload["redress"][0]["route"], "bezwaar");
  EXPECT_EQ(n->payload["redress"][0]["forum"], "ATKM");
  EXPECT_EQ(n->payload["decision_visibility"], Json::array({"DECISION_VISIBILITY_CONTENT_DISABLED"}));
}

TEST(ContentProviderNotice, NlCsamSecrecyWithholds) {
  LegalProfileOverrides on;
  on.inform_content_provider_by_default = true;
  RemovalOrder order = AtkmOrder();
  order.secrecy = true;
  absl::StatusOr<ContentProviderNotice> n =
      BuildContentProviderNotice(OrderCase(order), Profile(kNlCsamInstructionProfile, on), Options());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_FALSE(n->send);
  EXPECT_THAT(n->withheld_reason, HasSubstr("withheld because the order requests confidentiality"));
  EXPECT_THAT(n->withheld_reason, HasSubstr("ATKM instruction AANW-2027-0042"));
  EXPECT_EQ(n->body, "");
}

TEST(ContentProviderNotice, DsaStatementHasArticle17Elements) {
  const Case c = VoluntaryCase("reviewer:alice");
  absl::StatusOr<ContentProviderNotice> n =
      BuildContentProviderNotice(c, Profile(kProviderVoluntaryProfile), Options());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_TRUE(n->send);
  EXPECT_EQ(n->kind, "content_provider.dsa_statement_of_reasons");
  const std::string& b = n->body;
  // (a) decision, territorial scope, duration.
  EXPECT_THAT(b, HasSubstr("On 2027-07-01 14:40:00 CEST (UTC+02:00) we removed this content."));
  EXPECT_THAT(b, HasSubstr("Territorial scope: everywhere: the file was deleted from our storage"));
  EXPECT_THAT(b, HasSubstr("Duration: permanent"));
  // (b) facts: own initiative, which lists, exact vs perceptual, no classification.
  EXPECT_THAT(b, HasSubstr("We acted on our own initiative, not on a notice."));
  EXPECT_THAT(b, HasSubstr("SHA-256 " + kSha256 +
                           " matched list offlimits-hashcheck (version 2027-06): exact "
                           "match"));
  EXPECT_THAT(b, HasSubstr("PDQ " + kPdq +
                           " matched list ncmec-pdq (version 2027-06): perceptual match at "
                           "distance 12 (threshold 31, quality 90)"));
  EXPECT_THAT(b, HasSubstr("We did not classify the content as new material ourselves"));
  // (c) automated means in detection and decision.
  EXPECT_THAT(b, HasSubstr("Detection: yes, the match was found by automated means"));
  EXPECT_THAT(b, HasSubstr("Decision: a member of our staff reviewed the match and took the decision"));
  // (d) legal ground.
  EXPECT_THAT(b,
              HasSubstr("Illegal content. Legal ground: Dutch Criminal Code (Wetboek van Strafrecht), art. "
                        "240b"));
  EXPECT_THAT(b, HasSubstr("Rechtsgrond: Wetboek van Strafrecht, art. 240b"));
  // (f) redress: internal complaint (Art. 20), out of court (Art. 21), court.
  EXPECT_THAT(b, HasSubstr("DSA Art. 20"));
  EXPECT_THAT(b, HasSubstr("Out-of-court dispute settlement (DSA Art. 21)"));
  EXPECT_THAT(b, HasSubstr("Court: you can always bring the decision before a court"));
  EXPECT_THAT(b, HasSubstr("art. 20 DSA"));
  EXPECT_THAT(b, HasSubstr("art. 21 DSA"));
  EXPECT_THAT(b, HasSubstr("Rechter:"));
  EXPECT_LT(b.find("Motivering van ons besluit"), b.find("Statement of reasons (Digital Services Act"));

  const Json& p = n->payload;
  EXPECT_EQ(p["decision_visibility"], Json::array({"DECISION_VISIBILITY_CONTENT_REMOVED"}));
  EXPECT_EQ(p["decision_ground"], "DECISION_GROUND_ILLEGAL_CONTENT");
  EXPECT_THAT(p["illegal_content_legal_ground"].get<std::string>(), HasSubstr("240b"));
  EXPECT_THAT(p["illegal_content_explanation"].get<std::string>(),
              HasSubstr("identical and visually near-identical to known child sexual abuse material"));
  EXPECT_EQ(p["automated_detection"], "Yes");
  EXPECT_EQ(p["automated_decision"], "AUTOMATED_DECISION_NOT_AUTOMATED");
  EXPECT_EQ(p["human_review"], true);
  EXPECT_EQ(p["source_type"], "SOURCE_VOLUNTARY");
  EXPECT_EQ(p["category"], "STATEMENT_CATEGORY_PROTECTION_OF_MINORS");
  EXPECT_EQ(p["category_specification"], Json::array({"KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"}));
  EXPECT_EQ(p["content_type"], Json::array({"CONTENT_TYPE_IMAGE"}));
  EXPECT_EQ(p["application_date"], "2027-07-01");
  EXPECT_EQ(p["puid"], c.id);
  EXPECT_EQ(p["territorial_scope"].size(), 30u);
  EXPECT_EQ(p["territorial_scope"][0], "AT");
  EXPECT_EQ(p["territorial_scope_worldwide"], true);
  EXPECT_TRUE(p["end_date_visibility_restriction"].is_null());
  ASSERT_EQ(p["matches"].size(), 2u);
  EXPECT_EQ(p["matches"][0]["list_name"], "offlimits-hashcheck");
  EXPECT_EQ(p["matches"][0]["match"], "exact");
  EXPECT_EQ(p["matches"][0]["digest"], kSha256);
  EXPECT_EQ(p["matches"][1]["match"], "perceptual");
  EXPECT_EQ(p["matches"][1]["distance"], 12);
  EXPECT_EQ(p["redress"][0]["route"], "internal_complaint");
  EXPECT_EQ(p["redress"][1]["route"], "out_of_court_settlement");
  EXPECT_EQ(p["redress"][1]["available"], false);
  EXPECT_EQ(p["redress"][2]["route"], "judicial");
}

TEST(ContentProviderNotice, DsaOnlinePlatformOffersArticle20And21AsRights) {
  ContentProviderNoticeOptions options = Options();
  options.online_platform = true;
  options.languages = {NoticeLanguage::kEnglish};
  absl::StatusOr<ContentProviderNotice> n = BuildContentProviderNotice(
      VoluntaryCase("reviewer:alice"), Profile(kProviderVoluntaryProfile), options);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_THAT(n->body, HasSubstr("Complaint to us (internal complaint-handling system, DSA Art. 20): free of "
                                 "charge, for at least six months after this decision, at "
                                 "https://hosting.example/complaints"));
  EXPECT_THAT(n->body, HasSubstr("you may select a dispute settlement body certified by a Digital Services "
                                 "Coordinator"));
  EXPECT_EQ(n->payload["redress"][1]["available"], true);
  // English only: no Dutch text, English subject.
  EXPECT_THAT(n->body, Not(HasSubstr("Motivering")));
  EXPECT_THAT(n->subject, HasSubstr("statement of reasons for the removal of your content"));
  EXPECT_EQ(n->payload["languages"], Json::array({"en"}));
}

TEST(ContentProviderNotice, DsaAutomaticDecisionIsReportedAsFullyAutomated) {
  absl::StatusOr<ContentProviderNotice> n = BuildContentProviderNotice(
      VoluntaryCase("policy:auto-action"), Profile(kProviderVoluntaryProfile), Options());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->payload["automated_decision"], "AUTOMATED_DECISION_FULLY");
  EXPECT_EQ(n->payload["human_review"], false);
  EXPECT_THAT(n->body, HasSubstr("Decision: automated, without human review"));
}

TEST(ContentProviderNotice, DsaAccessDisabledUsesConfiguredCountries) {
  ContentProviderNoticeOptions options = Options();
  options.territorial_scope = {"NL", "BE", "NL"};
  absl::StatusOr<ContentProviderNotice> n = BuildContentProviderNotice(
      VoluntaryCase("reviewer:alice", kRemovalAccessDisabled), Profile(kProviderVoluntaryProfile), options);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->payload["territorial_scope"], Json::array({"BE", "NL"}));
  EXPECT_EQ(n->payload["territorial_scope_worldwide"], false);
  EXPECT_THAT(n->body, HasSubstr("Territorial scope: in these countries: BE, NL"));
  EXPECT_THAT(n->body, HasSubstr("Duration: indefinitely"));
  EXPECT_THAT(n->subject, HasSubstr("motivering van de blokkering van uw inhoud"));
}

TEST(ContentProviderNotice, DsaStatementOffInProfileSendsNothing) {
  LegalProfileOverrides off;
  off.statement_of_reasons = false;
  absl::StatusOr<ContentProviderNotice> n = BuildContentProviderNotice(
      VoluntaryCase("reviewer:alice"), Profile(kProviderVoluntaryProfile, off), Options());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_FALSE(n->send);
  EXPECT_EQ(n->withheld_reason, "not sent: profile provider-voluntary has statement_of_reasons off");
  EXPECT_EQ(n->body, "");
}

TEST(ContentProviderNotice, DsaOtherCategoryNeedsContractualGround) {
  Case c = NewCase(SampleObject(), kT0);
  ASSERT_TRUE(AddEvidence(c, Evidence("md5", kMd5, "spam-list", "other")).ok());
  ASSERT_TRUE(ApplyTransition(c, CaseState::kConfirmed, kT0, "reviewer:bob", "spam").ok());
  c.terms.removal = std::string(kRemovalRemoved);
  c.terms.removed_at = kRemovedAt;
  absl::StatusOr<ContentProviderNotice> n =
      BuildContentProviderNotice(c, Profile(kProviderVoluntaryProfile), Options());
  EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(n.status().message()), HasSubstr("options.contractual_ground"));

  ContentProviderNoticeOptions options = Options();
  options.contractual_ground = "Acceptable use policy, clause 4.2";
  n = BuildContentProviderNotice(c, Profile(kProviderVoluntaryProfile), options);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->payload["decision_ground"], "DECISION_GROUND_INCOMPATIBLE_CONTENT");
  EXPECT_EQ(n->payload["incompatible_content_ground"], "Acceptable use policy, clause 4.2");
  EXPECT_EQ(n->payload["incompatible_content_illegal"], "No");
  EXPECT_FALSE(n->payload.contains("illegal_content_legal_ground"));
  EXPECT_THAT(n->body,
              HasSubstr("Incompatible with our terms and conditions: Acceptable use policy, clause 4.2."));
  EXPECT_THAT(n->body, HasSubstr("MD5 " + kMd5 + " matched list spam-list"));
}

TEST(ContentProviderNotice, NotRemovedYetIsAnError) {
  Case c = VoluntaryCase("reviewer:alice");
  c.terms.removal.clear();
  c.terms.removed_at = absl::InfinitePast();
  absl::StatusOr<ContentProviderNotice> n =
      BuildContentProviderNotice(c, Profile(kProviderVoluntaryProfile), Options());
  EXPECT_EQ(n.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(n.status().message()), HasSubstr("not recorded as removed"));
}

TEST(ContentProviderNotice, GoneOnRecheckSendsNothing) {
  absl::StatusOr<ContentProviderNotice> n = BuildContentProviderNotice(
      VoluntaryCase("reviewer:alice", kRemovalGone), Profile(kProviderVoluntaryProfile), Options());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_FALSE(n->send);
  EXPECT_THAT(n->withheld_reason, HasSubstr("no longer served"));
}

TEST(ContentProviderNotice, OrderProfileWithoutOrderIsAnError) {
  Case c = OrderCase(TcoOrder());
  c.terms.order.reset();
  absl::StatusOr<ContentProviderNotice> n =
      BuildContentProviderNotice(c, Profile(kTcoRemovalOrderProfile), Options());
  EXPECT_EQ(n.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(n.status().message()), HasSubstr("terms.order"));
}

TEST(ContentProviderNotice, UnconfirmedVoluntaryCaseIsAnError) {
  Case c = NewCase(SampleObject(), kT0);
  ASSERT_TRUE(AddEvidence(c, Evidence("sha256", kSha256, "offlimits-hashcheck", "csam")).ok());
  c.terms.removal = std::string(kRemovalRemoved);
  c.terms.removed_at = kRemovedAt;
  absl::StatusOr<ContentProviderNotice> n =
      BuildContentProviderNotice(c, Profile(kProviderVoluntaryProfile), Options());
  EXPECT_EQ(n.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(n.status().message()), HasSubstr("never confirmed"));
}

TEST(ContentProviderNotice, AuthorityProfileHasNoContentProviderNotice) {
  absl::StatusOr<ContentProviderNotice> n = BuildContentProviderNotice(
      VoluntaryCase("reviewer:alice"), Profile(kAuthorityNoticeCycleProfile), Options());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_FALSE(n->send);
  EXPECT_EQ(n->kind, "");
  EXPECT_THAT(n->withheld_reason, HasSubstr("authority_notice_cycle"));
}

TEST(ContentProviderNotice, RejectsBadOptions) {
  const Case c = VoluntaryCase("reviewer:alice");
  const LegalProfile p = Profile(kProviderVoluntaryProfile);
  struct Row {
    std::string what;
    ContentProviderNoticeOptions options;
    std::string message;
  };
  std::vector<Row> rows;
  rows.push_back({"no provider name", Options(), "options.provider_name is empty"});
  rows.back().options.provider_name.clear();
  rows.push_back({"no contact", Options(), "options.complaint_contact is empty"});
  rows.back().options.complaint_contact.clear();
  rows.push_back({"no language", Options(), "options.languages is empty"});
  rows.back().options.languages.clear();
  rows.push_back({"no time", Options(), "options.now is not set"});
  rows.back().options.now = absl::InfinitePast();
  rows.push_back({"bad country", Options(), "'nl' is not an ISO 3166-1 alpha-2 code"});
  rows.back().options.territorial_scope = {"nl"};
  rows.push_back(
      {"newline in name", Options(), "options.provider_name is not valid UTF-8 or contains a control"});
  rows.back().options.provider_name = "Evil\r\nBcc: x@example.org";
  rows.push_back({"long ground", Options(), "options.contractual_ground is 1025 bytes"});
  rows.back().options.contractual_ground = std::string(1025, 'x');
  for (const Row& row : rows) {
    absl::StatusOr<ContentProviderNotice> n = BuildContentProviderNotice(c, p, row.options);
    EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument) << row.what;
    EXPECT_THAT(std::string(n.status().message()), HasSubstr(row.message)) << row.what;
    EXPECT_THAT(std::string(n.status().message()), HasSubstr(c.id)) << row.what;
  }
}

TEST(ContentProviderNotice, CarriesDigestsButNeverContentAndCleansHostileKeys) {
  Case c = VoluntaryCase("reviewer:alice");
  // An object key with a line break, a bidi override and a byte that is not UTF-8.
  c.object.key = "up/\nSubject: pwned\xE2\x80\xAE\xFF.jpg";
  absl::StatusOr<ContentProviderNotice> n =
      BuildContentProviderNotice(c, Profile(kProviderVoluntaryProfile), Options());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_THAT(n->body, Not(HasSubstr("\nSubject: pwned")));
  EXPECT_THAT(n->body, Not(HasSubstr("\xE2\x80\xAE")));
  EXPECT_THAT(n->body, HasSubstr("Stored file: s3-eu: up/ Subject: pwned\xEF\xBF\xBD\xEF\xBF\xBD.jpg"));
  EXPECT_EQ(n->subject.find('\n'), std::string::npos);
  // The JSON keeps the exact key as hex next to a readable form.
  EXPECT_EQ(n->payload["object"]["key_hex"], "75702f0a5375626a6563743a2070776e6564e280aeff2e6a7067");
  EXPECT_EQ(n->payload["content_included"], false);
  std::vector<std::string> keys;
  CollectKeys(n->payload, keys);
  for (std::string_view forbidden : {"content", "content_bytes", "data", "bytes", "file", "image"}) {
    EXPECT_EQ(std::count(keys.begin(), keys.end(), forbidden), 0) << forbidden;
  }
  // Digests as the case has them.
  EXPECT_EQ(n->payload["object"]["sha256"], kSha256);
  EXPECT_EQ(n->payload["object"]["sha1"], kSha1);
  EXPECT_THAT(n->body, HasSubstr("SHA-1: " + kSha1));
  EXPECT_THAT(n->body, HasSubstr("MD5: " + kMd5));
  // Serialisable as strict JSON.
  EXPECT_FALSE(DumpJson(n->payload).empty());
  EXPECT_NO_THROW(n->payload.dump());
}

TEST(ContentProviderNotice, DuplicateLanguagesRenderOnce) {
  ContentProviderNoticeOptions options = Options();
  options.languages = {NoticeLanguage::kEnglish, NoticeLanguage::kDutch, NoticeLanguage::kEnglish};
  absl::StatusOr<ContentProviderNotice> n =
      BuildContentProviderNotice(OrderCase(TcoOrder()), Profile(kTcoRemovalOrderProfile), options);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_THAT(n->subject, HasSubstr("your content was removed under a removal order"));
  const std::string marker = "Information about the removal";
  const size_t first = n->body.find(marker);
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(n->body.find(marker, first + 1), std::string::npos);
  EXPECT_LT(first, n->body.find("Informatie over de verwijdering"));
  EXPECT_EQ(n->payload["languages"], Json::array({"en", "nl"}));
}

}  // namespace
}  // namespace takedown
