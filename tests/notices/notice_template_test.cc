#include "notices/notice_template.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "notices/json_fields.h"
#include "tests/notices/loopback_server.h"

namespace takedown {
namespace {

namespace fs = std::filesystem;
using ::takedown::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);  // 2027-01-15 08:00:00 UTC
// 2027-07-01 12:00:00 UTC (Amsterdam summer time, CEST).
const absl::Time kSummer = absl::FromUnixSeconds(1'814'443'200);
// 2027-01-20 16:30:00 UTC (Amsterdam winter time, CET).
const absl::Time kWinter = absl::FromUnixSeconds(1'800'000'000 + 5 * 86400 + 8 * 3600 + 1800);

Notice SampleNotice(std::string key = "uploads/kat.jpg") {
  CaseObject o;
  o.source_id = "s3-eu";
  o.key = std::move(key);
  o.version = "etag-1";
  o.size = 9876543;
  o.md5_hex = std::string(32, 'd');
  o.sha256_hex = std::string(64, 'b');
  o.content_type = "image/jpeg";
  Case c = NewCase(o, kT0);
  MatchEvidence exact;
  exact.hash_type = "sha256";
  exact.digest_hex = o.sha256_hex;
  exact.list_name = "offlimits-hashes";
  exact.list_version = "2027-01";
  exact.entry_id = "e-17";
  exact.category = "csam";
  exact.matched_at = kT0;
  EXPECT_TRUE(AddEvidence(c, exact).ok());
  MatchEvidence perceptual = exact;
  perceptual.hash_type = "pdq";
  perceptual.digest_hex = std::string(64, 'f');
  perceptual.entry_id = "p-3";
  perceptual.distance = 12;
  perceptual.threshold = 31;
  perceptual.quality = 88;
  EXPECT_TRUE(AddEvidence(c, perceptual).ok());
  Notice notice = MakeDetectionNotice(c, kT0 + absl::Seconds(1), "smtp");
  notice.payload["deadline"] = TimeToJson(kSummer);
  notice.payload["legal_profile"] = "nl-csam-instruction";
  notice.payload["order_reference"] = "ATKM-2027-0815";
  return notice;
}

RenderedNotice Render(const Notice& notice, NoticeLanguage language) {
  return NoticeTemplate::Builtin(language).Render(NoticeValues(notice, language));
}

TEST(NoticeTemplate, RendersDutch) {
  const Notice notice = SampleNotice();
  RenderedNotice r = Render(notice, NoticeLanguage::kDutch);
  EXPECT_EQ(r.subject, fmt::format("[takedownd] Actie vereist: kinderpornografisch materiaal (zaak {})",
                                   notice.case_id));
  EXPECT_THAT(r.body, HasSubstr(fmt::format("Zaak:                 {}\n", notice.case_id)));
  EXPECT_THAT(r.body, HasSubstr(fmt::format("Melding:              {} (case.detected)\n", notice.id)));
  EXPECT_THAT(r.body, HasSubstr("Vindplaats:           s3-eu: uploads/kat.jpg\n"));
  EXPECT_THAT(r.body, HasSubstr("Grootte:              9.876.543 bytes\n"));
  EXPECT_THAT(r.body, HasSubstr("Inhoudstype:          image/jpeg\n"));
  EXPECT_THAT(r.body, HasSubstr("MD5:                  " + std::string(32, 'd') + "\n"));
  EXPECT_THAT(r.body, HasSubstr("SHA-1:                [niet beschikbaar]\n"));
  EXPECT_THAT(r.body, HasSubstr("Lijsten:              offlimits-hashes (2027-01)\n"));
  EXPECT_THAT(r.body, HasSubstr("  - sha256 " + std::string(64, 'b') +
                                " op lijst offlimits-hashes (versie 2027-01), vermelding e-17: exacte "
                                "overeenkomst\n"));
  EXPECT_THAT(r.body, HasSubstr("  - pdq " + std::string(64, 'f') +
                                " op lijst offlimits-hashes (versie 2027-01), vermelding p-3: afstand 12 "
                                "(drempel 31), kwaliteit 88\n"));
  EXPECT_THAT(r.body, HasSubstr("Termijn (uiterlijk):  2027-07-01 14:00:00 CEST (UTC+02:00)\n"));
  EXPECT_THAT(r.body, HasSubstr("Wettelijke grondslag: Wet bestuursrechtelijke aanpak online "
                                "kinderpornografisch materiaal (Stb. 2024, 186)"));
  EXPECT_THAT(r.body, HasSubstr("Kenmerk bevel:        ATKM-2027-0815\n"));
  EXPECT_THAT(r.body, HasSubstr("Wat u moet doen:\nVerwijder dit materiaal of maak het ontoegankelijk vóór"));
  EXPECT_THAT(r.body, HasSubstr("last onder dwangsom"));
  EXPECT_THAT(r.body, HasSubstr("melding aangemaakt op 2027-01-15 09:00:01 CET (UTC+01:00)."));
  EXPECT_THAT(r.body, Not(HasSubstr("{{")));
}

TEST(NoticeTemplate, RendersEnglish) {
  const Notice notice = SampleNotice();
  RenderedNotice r = Render(notice, NoticeLanguage::kEnglish);
  EXPECT_EQ(r.subject,
            fmt::format("[takedownd] Action required: child sexual abuse material (CSAM) (case {})",
                        notice.case_id));
  EXPECT_THAT(r.body, HasSubstr("Location:         s3-eu: uploads/kat.jpg\n"));
  EXPECT_THAT(r.body, HasSubstr("Size:             9,876,543 bytes\n"));
  EXPECT_THAT(r.body, HasSubstr("Deadline:         2027-07-01 14:00:00 CEST (UTC+02:00)\n"));
  EXPECT_THAT(r.body, HasSubstr("Legal basis:      Wet bestuursrechtelijke aanpak online kinderpornografisch "
                                "materiaal (Stb. 2024, 186): aanwijzing of the ATKM"));
  EXPECT_THAT(r.body,
              HasSubstr("What you must do:\nRemove this material or disable access to it before the"));
  EXPECT_THAT(r.body,
              HasSubstr("on list offlimits-hashes (version 2027-01), entry p-3: distance 12 (threshold "
                        "31), quality 88"));
  EXPECT_THAT(r.body, HasSubstr("SHA-1:            [not available]\n"));
}

TEST(NoticeTemplate, DeadlineShowsCestInSummerAndCetInWinter) {
  Notice notice = SampleNotice();
  notice.payload["deadline"] = TimeToJson(kSummer);
  EXPECT_EQ(NoticeValues(notice, NoticeLanguage::kEnglish)["deadline"],
            "2027-07-01 14:00:00 CEST (UTC+02:00)");
  notice.payload["deadline"] = TimeToJson(kWinter);
  EXPECT_EQ(NoticeValues(notice, NoticeLanguage::kDutch)["deadline"], "2027-01-20 17:30:00 CET (UTC+01:00)");
}

TEST(NoticeTemplate, CrLfInCaseDataStaysOnOneLine) {
  Notice notice = SampleNotice("a\r\nBcc: victim@attacker.example");
  notice.payload["category"] = "csam\r\nX-Injected: 1";
  notice.payload["order_reference"] = "ref\u202Egpj.exe";  // right-to-left override
  for (NoticeLanguage language : {NoticeLanguage::kDutch, NoticeLanguage::kEnglish}) {
    RenderedNotice r = Render(notice, language);
    EXPECT_EQ(r.subject.find_first_of("\r\n"), std::string::npos) << r.subject;
    EXPECT_THAT(r.subject, HasSubstr("csam\xEF\xBF\xBD\xEF\xBF\xBDX-Injected: 1"));
    EXPECT_THAT(r.body, HasSubstr("s3-eu: a\xEF\xBF\xBD\xEF\xBF\xBD"
                                  "Bcc: victim@attacker.example\n"));
    EXPECT_THAT(r.body, Not(HasSubstr("\nBcc:")));
    EXPECT_THAT(r.body, Not(HasSubstr("\r")));
    EXPECT_THAT(r.body, HasSubstr("ref\xEF\xBF\xBDgpj.exe"));
  }
}

TEST(NoticeTemplate, MissingFieldsRenderAsPlaceholders) {
  Notice notice;
  notice.id = "n-1";
  notice.kind = "case.detected";
  notice.channel = "smtp";
  notice.payload = Json::array({1, 2});  // not even an object
  RenderedNotice nl = Render(notice, NoticeLanguage::kDutch);
  EXPECT_EQ(nl.subject, "[takedownd] Actie vereist: [niet beschikbaar] (zaak [niet beschikbaar])");
  EXPECT_THAT(nl.body, HasSubstr("Termijn (uiterlijk):  [niet beschikbaar]\n"));
  EXPECT_THAT(nl.body, HasSubstr("Melding:              n-1 (case.detected)\n"));
  EXPECT_THAT(nl.body, HasSubstr("Overeenkomsten:\n  [niet beschikbaar]\n"));
  // Without a legal profile, the generic instruction.
  EXPECT_THAT(nl.body, HasSubstr("Wat u moet doen:\nControleer het object hierboven."));

  notice.payload =
      Json{{"deadline", "yesterday"}, {"object", Json{{"size", "big"}}}, {"evidence", Json{{"x", 1}}}};
  RenderedNotice en = Render(notice, NoticeLanguage::kEnglish);
  EXPECT_THAT(en.body, HasSubstr("Deadline:         [not available]\n"));
  EXPECT_THAT(en.body, HasSubstr("Size:             [not available]\n"));
  EXPECT_THAT(en.body, HasSubstr("Legal basis:      [not available]\n"));
}

TEST(NoticeTemplate, LegalBasisFromPayloadOrProfile) {
  Notice notice = SampleNotice();
  notice.payload["legal_profile"] = "tco-removal-order";
  EXPECT_THAT(NoticeValues(notice, NoticeLanguage::kEnglish)["legal_basis"],
              ::testing::StartsWith("Regulation (EU) 2021/784 (terrorist content online), Art. 3"));
  EXPECT_THAT(NoticeValues(notice, NoticeLanguage::kDutch)["legal_basis"],
              ::testing::StartsWith("Verordening (EU) 2021/784 (terroristische online-inhoud), art. 3"));
  EXPECT_THAT(NoticeValues(notice, NoticeLanguage::kEnglish)["required_action"], HasSubstr("(Annex III)"));

  // An operator's profile with its own basis text is shown as configured.
  LegalProfile custom = FindProfile("tco-removal-order").value();
  custom.legal_basis = "Custom basis text";
  std::vector<LegalProfile> profiles = {custom};
  EXPECT_EQ(NoticeValues(notice, NoticeLanguage::kDutch, profiles)["legal_basis"], "Custom basis text");

  // A basis in the payload wins.
  notice.payload["legal_basis"] = "Order under Art. 3";
  EXPECT_EQ(NoticeValues(notice, NoticeLanguage::kDutch)["legal_basis"], "Order under Art. 3");

  // Unknown profile: the name is shown, the action is generic.
  notice.payload["legal_profile"] = "my-own";
  notice.payload.erase("legal_basis");
  NoticeValueMap values = NoticeValues(notice, NoticeLanguage::kEnglish);
  EXPECT_EQ(values["legal_profile"], "my-own");
  EXPECT_EQ(values["legal_basis"], "[not available]");
  EXPECT_THAT(values["required_action"], ::testing::StartsWith("Check the object identified above."));
}

TEST(NoticeTemplate, LongValuesAreTruncated) {
  Notice notice = SampleNotice(std::string(5000, 'k'));
  NoticeValueMap values = NoticeValues(notice, NoticeLanguage::kEnglish);
  EXPECT_LE(values["object_key"].size(), kMaxNoticeValueBytes);
  EXPECT_THAT(values["object_key"], ::testing::EndsWith("\xE2\x80\xA6"));
  // A multi-byte character is never cut in half.
  notice = SampleNotice(std::string(1019, 'k') + "ééééé");
  EXPECT_TRUE(IsValidUtf8(NoticeValues(notice, NoticeLanguage::kEnglish)["object_key"]));
}

TEST(NoticeTemplate, EvidenceListIsBounded) {
  Notice notice = SampleNotice();
  Json evidence = Json::array();
  for (int i = 0; i < 70; ++i) {
    evidence.push_back(Json{{"hash_type", "md5"},
                            {"digest", std::string(32, 'a')},
                            {"list_name", "l"},
                            {"list_version", "1"},
                            {"entry_id", std::to_string(i)}});
  }
  notice.payload["evidence"] = evidence;
  const std::string text = NoticeValues(notice, NoticeLanguage::kEnglish)["evidence"];
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), static_cast<long>(kMaxNoticeEvidenceLines));
  EXPECT_THAT(text, HasSubstr("(and 20 more matches)"));
}

TEST(NoticeTemplateParse, AcceptsPlaceholdersAndCrLf) {
  absl::StatusOr<NoticeTemplate> parsed =
      NoticeTemplate::Parse("Subject: Case {{ case_id }}\r\n\r\nDeadline {{deadline}}.\r\n", "t.txt");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  RenderedNotice r = parsed->Render({{"case_id", "c-1"}, {"deadline", "soon"}});
  EXPECT_EQ(r.subject, "Case c-1");
  EXPECT_EQ(r.body, "Deadline soon.\n");
  EXPECT_EQ(parsed->Render({}).subject, "Case [case_id?]");
}

TEST(NoticeTemplateParse, RejectsBadTemplates) {
  struct Row {
    std::string text;
    std::string error;
  };
  for (const Row& row : std::vector<Row>{
           {"Subject: x\n\nHello {{dedline}}\n",
            "t.txt:3: unknown placeholder {{dedline}}; known placeholders: "
            "case_id, category"},
           {"Subject: x\n\nline\nHello {{deadline\n", "t.txt:4: unterminated placeholder"},
           {"Subject: {{nope}}\n\nbody\n", "t.txt:1: unknown placeholder {{nope}}"},
           {"Hello\n\nbody\n", "t.txt:1: the first line must be 'Subject: <subject template>'"},
           {"Subject:   \n\nbody\n", "t.txt:1: the subject is empty"},
           {"Subject: x\nbody\n", "t.txt:2: the line after the Subject line must be empty"},
           {"Subject: x\n\n\n", "t.txt:3: the body is empty"},
           {"Subject: x\n\nbad \x1b byte\n", "t.txt:3: control character 0x1b"},
           {"Subject: x\n\nbad \xff byte\n", "not valid UTF-8"},
           {"Subject: x", "followed by an empty line"},
       }) {
    absl::StatusOr<NoticeTemplate> parsed = NoticeTemplate::Parse(row.text, "t.txt");
    ASSERT_FALSE(parsed.ok()) << row.text;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(row.error)) << row.text;
  }
  EXPECT_EQ(NoticeTemplate::Parse("Subject: x\n\n" + std::string(kMaxNoticeTemplateBytes, 'a'), "big.txt")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(NoticeTemplates, DirectoryOverridesByKindThenDefault) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::ofstream(dir.path() + "/notice.en.txt") << "Subject: Generic {{case_id}}\n\nGeneric body\n";
  std::ofstream(dir.path() + "/case.reminder.en.txt") << "Subject: Reminder {{case_id}}\n\nReminder body\n";
  std::ofstream(dir.path() + "/README") << "not a template";
  absl::StatusOr<NoticeTemplates> templates = NoticeTemplates::Load(dir.path());
  ASSERT_TRUE(templates.ok()) << templates.status();
  EXPECT_EQ(templates->For("case.reminder", NoticeLanguage::kEnglish).Render({{"case_id", "c-9"}}).subject,
            "Reminder c-9");
  EXPECT_EQ(templates->For("case.detected", NoticeLanguage::kEnglish).Render({{"case_id", "c-9"}}).subject,
            "Generic c-9");
  // No Dutch override: the built-in.
  EXPECT_EQ(&templates->For("case.detected", NoticeLanguage::kDutch),
            &NoticeTemplate::Builtin(NoticeLanguage::kDutch));

  // RenderNotice: the subject of the first language, both bodies.
  const Notice notice = SampleNotice();
  const std::vector<NoticeLanguage> languages = {NoticeLanguage::kEnglish, NoticeLanguage::kDutch,
                                                 NoticeLanguage::kEnglish};
  absl::StatusOr<RenderedNotice> rendered = RenderNotice(*templates, notice, languages);
  ASSERT_TRUE(rendered.ok());
  EXPECT_EQ(rendered->subject, "Generic " + notice.case_id);
  EXPECT_THAT(rendered->body, ::testing::StartsWith("Generic body\n\n" + std::string(72, '-') + "\n\nDeze"));
  EXPECT_EQ(RenderNotice(*templates, notice, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(NoticeTemplates, LoadErrorsNameTheFile) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::ofstream(dir.path() + "/notice.de.txt") << "Subject: x\n\nbody\n";
  absl::Status bad_name = NoticeTemplates::Load(dir.path()).status();
  EXPECT_EQ(bad_name.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_name.message()), HasSubstr("notice.de.txt"));
  fs::remove(dir.path() + "/notice.de.txt");

  std::ofstream(dir.path() + "/notice.nl.txt") << "Subject: x\n\n{{unknown_field}}\n";
  absl::Status bad_template = NoticeTemplates::Load(dir.path()).status();
  EXPECT_EQ(bad_template.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_template.message()), HasSubstr("notice.nl.txt:3: unknown placeholder"));

  EXPECT_EQ(NoticeTemplates::Load(dir.path() + "/missing").status().code(), absl::StatusCode::kNotFound);
}

TEST(NoticeLanguage, ParsesCodes) {
  EXPECT_EQ(ParseNoticeLanguage("nl").value(), NoticeLanguage::kDutch);
  EXPECT_EQ(ParseNoticeLanguage("en").value(), NoticeLanguage::kEnglish);
  EXPECT_EQ(NoticeLanguageCode(NoticeLanguage::kDutch), "nl");
  EXPECT_EQ(ParseNoticeLanguage("NL").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(NoticeTemplate, BuiltinsUseOnlyKnownPlaceholdersAndCoverTheEssentials) {
  // Builtin() parses the compiled-in text with the same checks as an
  // override, so reaching here means every placeholder is known.
  for (NoticeLanguage language : {NoticeLanguage::kDutch, NoticeLanguage::kEnglish}) {
    NoticeValueMap marked;
    for (std::string_view name : NoticePlaceholderNames())
      marked[std::string(name)] = fmt::format("<{}>", name);
    RenderedNotice r = NoticeTemplate::Builtin(language).Render(marked);
    for (std::string_view name : {"case_id", "category", "object_location", "sha256", "md5", "lists",
                                  "evidence", "deadline", "legal_basis", "required_action"}) {
      EXPECT_THAT(r.subject + r.body, HasSubstr(fmt::format("<{}>", name))) << name;
    }
  }
}

}  // namespace
}  // namespace takedown
