#include "notices/smtp_channel.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "notices/json_fields.h"
#include "tests/notices/loopback_server.h"

namespace takedown {
namespace {

namespace fs = std::filesystem;
using ::takedown::testing::LoopbackServer;
using ::takedown::testing::ReadWholeFile;
using ::takedown::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);  // 2027-01-15 08:00:00 UTC
// 2027-07-01 12:00:00 UTC, summer time in Amsterdam.
const absl::Time kSummerDeadline = absl::FromUnixSeconds(1'814'443'200);

Notice SampleNotice(std::string key = "uploads/kat.jpg") {
  CaseObject o;
  o.source_id = "s3-eu";
  o.key = std::move(key);
  o.version = "etag-1";
  o.size = 123456;
  o.sha256_hex = std::string(64, 'b');
  Case c = NewCase(o, kT0);
  MatchEvidence e;
  e.hash_type = "sha256";
  e.digest_hex = o.sha256_hex;
  e.list_name = "offlimits-hashes";
  e.list_version = "2027-01";
  e.entry_id = "e-17";
  e.category = "csam";
  e.matched_at = kT0;
  EXPECT_TRUE(AddEvidence(c, e).ok());
  Notice notice = MakeDetectionNotice(c, kT0 + absl::Seconds(1), "smtp");
  notice.payload["deadline"] = TimeToJson(kSummerDeadline);
  notice.payload["legal_profile"] = "nl-csam-instruction";
  return notice;
}

class SmtpChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    out_dir_ = dir_.path() + "/mail";
    fs::create_directory(out_dir_);
  }

  // Fails the test (never skips) when the helper cannot start, e.g. because
  // python3-aiosmtpd is not installed.
  void StartServer(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--out-dir", out_dir_};
    args.insert(args.end(), extra.begin(), extra.end());
    absl::StatusOr<std::unique_ptr<LoopbackServer>> server =
        LoopbackServer::Start(TAKEDOWN_SOURCE_DIR "/tests/notices/smtp_receiver.py", args, dir_.path());
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(*server);
  }

  SmtpChannelOptions Options() const {
    SmtpChannelOptions options;
    options.url = fmt::format("smtp://127.0.0.1:{}", server_ ? server_->port() : 25);
    options.starttls = SmtpStartTls::kNone;
    options.from = "takedownd@provider.example";
    options.from_name = "Abuse desk — provider";
    options.to = {"abuse@provider.example", "legal@provider.example"};
    options.total_timeout = absl::Seconds(10);
    return options;
  }

  std::unique_ptr<SmtpChannel> MakeChannel(SmtpChannelOptions options) {
    absl::StatusOr<std::unique_ptr<SmtpChannel>> channel = SmtpChannel::Create(std::move(options));
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.ok() ? std::move(*channel) : nullptr;
  }

  // The messages the receiver stored, in order.
  std::vector<Json> Received() const {
    std::vector<Json> messages;
    for (int n = 1;; ++n) {
      std::string text = ReadWholeFile(fmt::format("{}/{}.json", out_dir_, n));
      if (text.empty()) break;
      messages.push_back(Json::parse(text));
    }
    return messages;
  }

  static std::vector<std::string> HeaderValues(const Json& message, std::string_view name) {
    std::vector<std::string> values;
    for (const Json& header : message["headers"]) {
      if (header[0].get<std::string>() == name) values.push_back(header[1].get<std::string>());
    }
    return values;
  }

  TempDir dir_;
  std::string out_dir_;
  std::unique_ptr<LoopbackServer> server_;
};

TEST_F(SmtpChannelTest, DeliversUtf8NoticeWithMessageIdAndAmsterdamDeadline) {
  StartServer();
  auto channel = MakeChannel(Options());
  ASSERT_NE(channel, nullptr);
  const Notice notice = SampleNotice();
  absl::Status status = channel->Deliver(notice);
  ASSERT_TRUE(status.ok()) << status;

  std::vector<Json> received = Received();
  ASSERT_EQ(received.size(), 1u);
  const Json& message = received[0];
  EXPECT_EQ(message["mail_from"], "takedownd@provider.example");
  EXPECT_EQ(message["rcpt_tos"], Json({"abuse@provider.example", "legal@provider.example"}));
  EXPECT_THAT(HeaderValues(message, "Message-ID"), ElementsAre(fmt::format("<{}@takedownd>", notice.id)));
  EXPECT_THAT(HeaderValues(message, "Date"), ElementsAre("Fri, 15 Jan 2027 09:00:01 +0100"));
  EXPECT_THAT(HeaderValues(message, "Auto-Submitted"), ElementsAre("auto-generated"));
  EXPECT_THAT(HeaderValues(message, "X-Takedown-Case-Id"), ElementsAre(notice.case_id));
  EXPECT_EQ(
      message["subject"],
      fmt::format("[takedownd] Actie vereist: kinderpornografisch materiaal (zaak {})", notice.case_id));
  EXPECT_EQ(message["content_type"], "text/plain");
  EXPECT_EQ(message["charset"], "utf-8");
  EXPECT_TRUE(message["defects"].empty()) << message["defects"];

  const std::string body = message["body"];
  // Dutch first, then English; the deadline in Amsterdam summer time.
  EXPECT_THAT(body, HasSubstr("Termijn (uiterlijk):  2027-07-01 14:00:00 CEST (UTC+02:00)"));
  EXPECT_THAT(body, HasSubstr("Deadline:         2027-07-01 14:00:00 CEST (UTC+02:00)"));
  EXPECT_THAT(body, HasSubstr("ontoegankelijk vóór de termijn"));
  EXPECT_THAT(body, HasSubstr("alle kopieën hebben"));
  EXPECT_THAT(body, HasSubstr("Vindplaats:           s3-eu: uploads/kat.jpg"));
  EXPECT_THAT(body, HasSubstr("Grootte:              123.456 bytes"));
  EXPECT_THAT(body, HasSubstr("Size:             123,456 bytes"));
  EXPECT_THAT(body, HasSubstr("offlimits-hashes (2027-01)"));
  EXPECT_LT(body.find("Wat u moet doen:"), body.find("What you must do:"));

  // On the wire: 7-bit, no line over 78 characters, CRLF line ends.
  const std::string raw = ReadWholeFile(out_dir_ + "/1.eml");
  size_t line_start = 0;
  for (size_t pos = raw.find("\r\n"); pos != std::string::npos; pos = raw.find("\r\n", line_start)) {
    EXPECT_LE(pos - line_start, 78u) << raw.substr(line_start, pos - line_start);
    line_start = pos + 2;
  }
  for (char ch : raw) ASSERT_TRUE(static_cast<unsigned char>(ch) < 0x80) << "8-bit byte in message";
}

TEST_F(SmtpChannelTest, RedeliveryCarriesTheSameMessageId) {
  StartServer();
  auto channel = MakeChannel(Options());
  ASSERT_NE(channel, nullptr);
  const Notice notice = SampleNotice();
  ASSERT_TRUE(channel->Deliver(notice).ok());
  ASSERT_TRUE(channel->Deliver(notice).ok());
  std::vector<Json> received = Received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(HeaderValues(received[0], "Message-ID"), HeaderValues(received[1], "Message-ID"));
  EXPECT_EQ(ReadWholeFile(out_dir_ + "/1.eml"), ReadWholeFile(out_dir_ + "/2.eml"));
}

TEST_F(SmtpChannelTest, RecipientRejectedWith550IsPermanent) {
  StartServer({"--reject-rcpt", "550 5.1.1 no such user here"});
  auto channel = MakeChannel(Options());
  ASSERT_NE(channel, nullptr);
  absl::Status status = channel->Deliver(SampleNotice());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_FALSE(IsTransientDeliveryError(status));
  EXPECT_THAT(std::string(status.message()), HasSubstr("550"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("no such user here"));
  EXPECT_TRUE(Received().empty());
}

TEST_F(SmtpChannelTest, TransientReplyIsRetried) {
  StartServer({"--reject-data", "451 4.3.0 mailbox busy, try again"});
  auto channel = MakeChannel(Options());
  ASSERT_NE(channel, nullptr);
  absl::Status status = channel->Deliver(SampleNotice());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_TRUE(IsTransientDeliveryError(status));
  EXPECT_THAT(std::string(status.message()), HasSubstr("451"));
}

TEST_F(SmtpChannelTest, ConnectionRefusedIsTransient) {
  SmtpChannelOptions options = Options();
  options.url = fmt::format("smtp://127.0.0.1:{}", ::takedown::testing::UnusedLoopbackPort());
  auto channel = MakeChannel(options);
  ASSERT_NE(channel, nullptr);
  absl::Status status = channel->Deliver(SampleNotice());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_TRUE(IsTransientDeliveryError(status));
}

TEST_F(SmtpChannelTest, CrLfInCaseDataCannotInjectHeaders) {
  StartServer();
  auto channel = MakeChannel(Options());
  ASSERT_NE(channel, nullptr);
  Notice notice = SampleNotice("x\r\nBcc: victim@attacker.example\r\n\r\nfake body");
  notice.payload["category"] = "csam\r\nBcc: victim2@attacker.example";
  notice.payload["order_reference"] = "ref\nSubject: forged";
  ASSERT_TRUE(channel->Deliver(notice).ok());

  std::vector<Json> received = Received();
  ASSERT_EQ(received.size(), 1u);
  std::set<std::string> names;
  for (const Json& header : received[0]["headers"]) names.insert(header[0].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"Date", "From", "To", "Subject", "Message-ID", "Auto-Submitted",
                                          "X-Takedown-Notice-Id", "X-Takedown-Case-Id", "MIME-Version",
                                          "Content-Type", "Content-Transfer-Encoding"}));
  EXPECT_EQ(HeaderValues(received[0], "Subject").size(), 1u);
  EXPECT_EQ(received[0]["rcpt_tos"], Json({"abuse@provider.example", "legal@provider.example"}));
  const std::string subject = received[0]["subject"];
  EXPECT_EQ(subject.find_first_of("\r\n"), std::string::npos);
  const std::string body = received[0]["body"];
  // The key stays on its own line, with the line breaks replaced.
  EXPECT_THAT(body, HasSubstr("s3-eu: x\xEF\xBF\xBD\xEF\xBF\xBD"
                              "Bcc: victim@attacker.example"));
  EXPECT_THAT(body, Not(HasSubstr("\nBcc:")));
  EXPECT_THAT(body, Not(HasSubstr("\nSubject: forged")));
}

TEST_F(SmtpChannelTest, AuthenticatesWithUsernameAndPassword) {
  StartServer({"--user", "notices", "--password", "s3cret-pass"});
  SmtpChannelOptions options = Options();
  options.username = "notices";
  options.password = "s3cret-pass";
  auto channel = MakeChannel(options);
  ASSERT_NE(channel, nullptr);
  absl::Status status = channel->Deliver(SampleNotice());
  ASSERT_TRUE(status.ok()) << status;
  std::vector<Json> received = Received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0]["auth_login"], "notices");

  options.password = "wrong-password";
  auto wrong = MakeChannel(options);
  ASSERT_NE(wrong, nullptr);
  absl::Status refused = wrong->Deliver(SampleNotice());
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied) << refused;
  EXPECT_THAT(std::string(refused.message()), Not(HasSubstr("wrong-password")));
  EXPECT_EQ(Received().size(), 1u);
}

TEST_F(SmtpChannelTest, StartTlsRequiredUsesVerifiedTls) {
  absl::StatusOr<::takedown::testing::TestCertificate> cert =
      ::takedown::testing::WriteSelfSignedCertificate(dir_.path());
  ASSERT_TRUE(cert.ok()) << cert.status();
  StartServer({"--tls-cert", cert->cert_path, "--tls-key", cert->key_path});
  SmtpChannelOptions options = Options();
  options.starttls = SmtpStartTls::kRequired;
  options.ca_file = cert->cert_path;
  auto channel = MakeChannel(options);
  ASSERT_NE(channel, nullptr);
  absl::Status status = channel->Deliver(SampleNotice());
  ASSERT_TRUE(status.ok()) << status;
  std::vector<Json> received = Received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_TRUE(received[0]["tls"].get<bool>());
}

TEST_F(SmtpChannelTest, SmtpsUsesImplicitVerifiedTls) {
  absl::StatusOr<::takedown::testing::TestCertificate> cert =
      ::takedown::testing::WriteSelfSignedCertificate(dir_.path());
  ASSERT_TRUE(cert.ok()) << cert.status();
  StartServer({"--tls-cert", cert->cert_path, "--tls-key", cert->key_path, "--implicit-tls"});
  SmtpChannelOptions options = Options();
  options.url = fmt::format("smtps://127.0.0.1:{}", server_->port());
  options.starttls = SmtpStartTls::kRequired;
  options.connect_timeout = absl::Seconds(5);

  // Not trusted without the test CA.
  auto untrusting = MakeChannel(options);
  ASSERT_NE(untrusting, nullptr);
  absl::Status refused = untrusting->Deliver(SampleNotice());
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  EXPECT_TRUE(Received().empty());

  options.ca_file = cert->cert_path;
  auto channel = MakeChannel(options);
  ASSERT_NE(channel, nullptr);
  absl::Status status = channel->Deliver(SampleNotice());
  ASSERT_TRUE(status.ok()) << status;
  std::vector<Json> received = Received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_TRUE(received[0]["tls"].get<bool>());
}

TEST_F(SmtpChannelTest, StartTlsRequiredNeverFallsBackToClearText) {
  StartServer();  // offers no STARTTLS
  SmtpChannelOptions options = Options();
  options.starttls = SmtpStartTls::kRequired;
  auto channel = MakeChannel(options);
  ASSERT_NE(channel, nullptr);
  absl::Status status = channel->Deliver(SampleNotice());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("STARTTLS"));
  EXPECT_TRUE(Received().empty());
}

TEST_F(SmtpChannelTest, TemplateOverrideKeepsLinesStartingWithDotOrFrom) {
  const std::string templates = dir_.path() + "/templates";
  fs::create_directory(templates);
  std::ofstream(templates + "/notice.en.txt")
      << "Subject: Case {{case_id}}\n\n.a line starting with a dot\n.\nFrom the start\n"
      << std::string(200, 'x') << "=\nKey: {{object_key}}\n";
  StartServer();
  SmtpChannelOptions options = Options();
  options.languages = {NoticeLanguage::kEnglish};
  options.template_directory = templates;
  auto channel = MakeChannel(options);
  ASSERT_NE(channel, nullptr);
  const Notice notice = SampleNotice();
  ASSERT_TRUE(channel->Deliver(notice).ok());
  std::vector<Json> received = Received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0]["subject"], "Case " + notice.case_id);
  EXPECT_EQ(received[0]["body"], ".a line starting with a dot\n.\nFrom the start\n" + std::string(200, 'x') +
                                     "=\nKey: uploads/kat.jpg\n");
}

TEST(SmtpChannelMessage, EncodesNonAsciiSubjectAndStaysSevenBit) {
  SmtpChannelOptions options;
  options.url = "smtp://mail.provider.example:587";
  options.from = "takedownd@provider.example";
  options.to = {"abuse@provider.example"};
  options.languages = {NoticeLanguage::kDutch};
  auto channel = SmtpChannel::Create(options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  Notice notice = SampleNotice("mappen/één.jpg");
  notice.channel = "smtp";
  absl::StatusOr<std::string> message = (*channel)->Message(notice);
  ASSERT_TRUE(message.ok()) << message.status();
  EXPECT_THAT(*message, HasSubstr("Subject: =?UTF-8?B?"));
  EXPECT_THAT(*message, HasSubstr("Content-Transfer-Encoding: quoted-printable\r\n\r\n"));
  // "één" in quoted-printable.
  EXPECT_THAT(*message, HasSubstr("=C3=A9=C3=A9n.jpg"));
  for (char ch : *message) ASSERT_LT(static_cast<unsigned char>(ch), 0x80);
}

TEST_F(SmtpChannelTest, ContentProviderDocumentsAreSentAsDrawnUp) {
  StartServer();
  auto channel = MakeChannel(Options());
  ASSERT_NE(channel, nullptr);
  Notice notice = SampleNotice();
  notice.kind = "content_provider.tco_information";
  const std::string body =
      "Op 10 maart 2027 om 10:12 CET is uw bestand verwijderd.\n"
      "----------------------------------------\n"
      "On 10 March 2027 at 10:12 CET your file was removed.\n";
  notice.payload = Json{{"subject", "Informatie over verwijderde inhoud / Information on removed content"},
                        {"body", body},
                        {"order_reference", "TCO-DE-1"}};
  ASSERT_TRUE(channel->Deliver(notice).ok());
  std::vector<Json> received = Received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0]["subject"], "Informatie over verwijderde inhoud / Information on removed content");
  EXPECT_EQ(received[0]["body"], body);
  EXPECT_THAT(HeaderValues(received[0], "Message-ID"), ElementsAre(fmt::format("<{}@takedownd>", notice.id)));

  // A document without its text is refused, not sent with template filler.
  notice.payload.erase("body");
  absl::Status refused = channel->Deliver(notice);
  EXPECT_TRUE(absl::IsInvalidArgument(refused)) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("payload.subject and payload.body"));
  EXPECT_EQ(Received().size(), 1u);
}

TEST(SmtpChannelCreate, RejectsUnsafeOptions) {
  auto create = [](auto mutate) {
    SmtpChannelOptions options;
    options.url = "smtp://mail.provider.example:587";
    options.from = "takedownd@provider.example";
    options.to = {"abuse@provider.example"};
    mutate(options);
    return SmtpChannel::Create(options).status();
  };
  EXPECT_TRUE(create([](SmtpChannelOptions&) {}).ok());
  EXPECT_TRUE(create([](SmtpChannelOptions& o) { o.url = "smtps://mail.provider.example"; }).ok());
  const absl::StatusCode invalid = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(create([](SmtpChannelOptions& o) { o.starttls = SmtpStartTls::kNone; }).code(), invalid);
  EXPECT_EQ(create([](SmtpChannelOptions& o) {
              o.url = "smtps://127.0.0.1";
              o.starttls = SmtpStartTls::kNone;
            }).code(),
            invalid);
  EXPECT_EQ(create([](SmtpChannelOptions& o) { o.url = "http://mail.provider.example"; }).code(), invalid);
  EXPECT_EQ(create([](SmtpChannelOptions& o) { o.url = "smtp://u:p@mail.provider.example"; }).code(),
            invalid);
  EXPECT_EQ(create([](SmtpChannelOptions& o) { o.from = "a@b\r\nBcc: c@d"; }).code(), invalid);
  EXPECT_EQ(create([](SmtpChannelOptions& o) { o.from = "Name <a@b.example>"; }).code(), invalid);
  EXPECT_EQ(create([](SmtpChannelOptions& o) { o.to = {"x@y.example, z@w.example"}; }).code(), invalid);
  EXPECT_EQ(create([](SmtpChannelOptions& o) { o.to.clear(); }).code(), invalid);
  EXPECT_EQ(create([](SmtpChannelOptions& o) { o.from_name = "Desk\nBcc: x@y"; }).code(), invalid);
  EXPECT_EQ(create([](SmtpChannelOptions& o) { o.username = "user"; }).code(), invalid);
  EXPECT_EQ(create([](SmtpChannelOptions& o) { o.languages.clear(); }).code(), invalid);
  EXPECT_EQ(create([](SmtpChannelOptions& o) { o.message_id_domain = "bad domain"; }).code(), invalid);
  EXPECT_EQ(create([](SmtpChannelOptions& o) { o.ca_file = "/nonexistent/ca.pem"; }).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(create([](SmtpChannelOptions& o) { o.template_directory = "/nonexistent/templates"; }).code(),
            absl::StatusCode::kNotFound);

  EXPECT_EQ(ParseSmtpStartTls("required").value(), SmtpStartTls::kRequired);
  EXPECT_EQ(ParseSmtpStartTls("none").value(), SmtpStartTls::kNone);
  EXPECT_EQ(ParseSmtpStartTls("optional").status().code(), invalid);
}

}  // namespace
}  // namespace takedown
