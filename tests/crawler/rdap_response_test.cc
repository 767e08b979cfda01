#include "crawler/rdap_response.h"

#include <string>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace takedown {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// RIPE style: the organisation is the registrant and holds the abuse
// contact as a nested entity; a technical contact sits beside it.
constexpr char kRipeStyle[] = R"json({
  "rdapConformance": ["rdap_level_0", "cidr0", "nro_rdap_profile_0"],
  "objectClassName": "ip network",
  "handle": "198.51.100.0 - 198.51.100.255",
  "startAddress": "198.51.100.0",
  "endAddress": "198.51.100.255",
  "ipVersion": "v4",
  "name": "EXAMPLE-HOSTING-NET",
  "type": "ASSIGNED PA",
  "country": "NL",
  "parentHandle": "198.51.0.0 - 198.51.255.255",
  "status": ["active"],
  "remarks": [{"description": ["Example Hosting customer servers"]}],
  "entities": [
    {
      "objectClassName": "entity",
      "handle": "ORG-EH1-RIPE",
      "roles": ["registrant"],
      "vcardArray": ["vcard", [
        ["version", {}, "text", "4.0"],
        ["fn", {}, "text", "Example Hosting B.V."],
        ["kind", {}, "text", "org"],
        ["adr", {"label": "Keizersgracht 1\nAmsterdam"}, "text", ["", "", "", "", "", "", ""]]
      ]],
      "entities": [
        {
          "objectClassName": "entity",
          "handle": "AR1234-RIPE",
          "roles": ["abuse"],
          "vcardArray": ["vcard", [
            ["version", {}, "text", "4.0"],
            ["fn", {}, "text", "Abuse desk"],
            ["kind", {}, "text", "group"],
            ["email", {}, "text", "abuse@example-hosting.nl"]
          ]]
        }
      ]
    },
    {
      "objectClassName": "entity",
      "handle": "EH-NOC-RIPE",
      "roles": ["technical", "administrative"],
      "vcardArray": ["vcard", [
        ["version", {}, "text", "4.0"],
        ["fn", {}, "text", "Example Hosting NOC"],
        ["kind", {}, "text", "group"],
        ["email", {}, "text", "noc@example-hosting.nl"]
      ]]
    }
  ],
  "links": [{"value": "https://rdap.db.ripe.net/ip/198.51.100.7", "rel": "self",
             "href": "https://rdap.db.ripe.net/ip/198.51.100.0/24"}],
  "port43": "whois.ripe.net"
})json";

// ARIN style: a registrant organisation with several contacts under it; the
// abuse contact has two addresses (one repeated in a different case).
constexpr char kArinStyle[] = R"json({
  "objectClassName": "ip network",
  "handle": "NET6-2001-DB8-1",
  "startAddress": "2001:db8::",
  "endAddress": "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
  "ipVersion": "v6",
  "name": "EXAMPLE-V6",
  "entities": [
    {
      "handle": "EXMPL",
      "roles": ["Registrant"],
      "vcardArray": ["vcard", [
        ["version", {}, "text", "4.0"],
        ["fn", {}, "text", "Example Networks, Inc."],
        ["adr", {"label": "1 Example Way\nSpringfield"}, "text", ["", "", "", "", "", "", ""]],
        ["kind", {}, "text", "org"]
      ]],
      "entities": [
        {
          "handle": "NOC42-ARIN",
          "roles": ["technical", "noc"],
          "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Network Operations"],
                                   ["email", {}, "text", "noc@example.com"]]]
        },
        {
          "handle": "ABUSE42-ARIN",
          "roles": ["abuse"],
          "vcardArray": ["vcard", [
            ["version", {}, "text", "4.0"],
            ["fn", {}, "text", "Abuse"],
            ["org", {}, "text", "Example Networks, Inc."],
            ["kind", {}, "text", "group"],
            ["email", {"pref": "1"}, "text", "abuse@example.com"],
            ["email", {}, "text", "Abuse@Example.com"],
            ["email", {}, "text", "mailto:security@example.com"],
            ["tel", {"type": ["work", "voice"]}, "uri", "tel:+1-555-0100"]
          ]]
        }
      ]
    }
  ]
})json";

RdapNetwork ParseOk(std::string_view json, const RdapLimits& limits = RdapLimits()) {
  absl::StatusOr<RdapNetwork> network = ParseRdapIpResponse(json, limits);
  EXPECT_TRUE(network.ok()) << network.status();
  return network.ok() ? *std::move(network) : RdapNetwork();
}

std::string ErrorOf(std::string_view json, const RdapLimits& limits = RdapLimits()) {
  absl::StatusOr<RdapNetwork> network = ParseRdapIpResponse(json, limits);
  EXPECT_FALSE(network.ok()) << json;
  if (network.ok()) return "";
  EXPECT_EQ(network.status().code(), absl::StatusCode::kInvalidArgument) << network.status();
  return std::string(network.status().message());
}

TEST(RdapResponse, RipeStyleNetworkWithNestedAbuseContact) {
  const RdapNetwork n = ParseOk(kRipeStyle);
  EXPECT_EQ(n.handle, "198.51.100.0 - 198.51.100.255");
  EXPECT_EQ(n.name, "EXAMPLE-HOSTING-NET");
  EXPECT_EQ(n.start_address, "198.51.100.0");
  EXPECT_EQ(n.end_address, "198.51.100.255");
  EXPECT_EQ(n.ip_version, "v4");
  EXPECT_EQ(n.country, "NL");
  EXPECT_THAT(n.abuse_emails, ElementsAre("abuse@example-hosting.nl"));
  EXPECT_EQ(n.registrant, "Example Hosting B.V.");
  EXPECT_EQ(n.registrant_handle, "ORG-EH1-RIPE");
  EXPECT_THAT(n.warnings, IsEmpty());

  // Breadth-first: both depth-1 entities before the nested abuse contact.
  ASSERT_EQ(n.entities.size(), 3u);
  EXPECT_EQ(n.entities[0].handle, "ORG-EH1-RIPE");
  EXPECT_EQ(n.entities[0].depth, 1);
  EXPECT_EQ(n.entities[0].json_path, "$.entities[0]");
  EXPECT_EQ(n.entities[0].kind, "org");
  EXPECT_THAT(n.entities[0].emails, IsEmpty());
  EXPECT_EQ(n.entities[1].handle, "EH-NOC-RIPE");
  EXPECT_THAT(n.entities[1].roles, ElementsAre("technical", "administrative"));
  EXPECT_THAT(n.entities[1].emails, ElementsAre("noc@example-hosting.nl"));
  EXPECT_EQ(n.entities[2].handle, "AR1234-RIPE");
  EXPECT_EQ(n.entities[2].depth, 2);
  EXPECT_EQ(n.entities[2].json_path, "$.entities[0].entities[0]");
  EXPECT_EQ(n.entities[2].fn, "Abuse desk");
  EXPECT_EQ(n.entities[2].kind, "group");
  EXPECT_TRUE(n.entities[2].HasRole("abuse"));
  EXPECT_FALSE(n.entities[2].HasRole("registrant"));
}

TEST(RdapResponse, ArinStyleIpv6WithSeveralAbuseAddresses) {
  const RdapNetwork n = ParseOk(kArinStyle);
  EXPECT_EQ(n.handle, "NET6-2001-DB8-1");
  EXPECT_EQ(n.start_address, "2001:db8::");
  EXPECT_EQ(n.ip_version, "v6");
  EXPECT_EQ(n.country, "");
  // Roles are lower-cased; "Abuse@Example.com" repeats the first address;
  // "mailto:" is dropped.
  EXPECT_EQ(n.registrant, "Example Networks, Inc.");
  EXPECT_EQ(n.registrant_handle, "EXMPL");
  EXPECT_THAT(n.abuse_emails, ElementsAre("abuse@example.com", "security@example.com"));
  ASSERT_EQ(n.entities.size(), 3u);
  EXPECT_THAT(n.entities[0].roles, ElementsAre("registrant"));
  EXPECT_EQ(n.entities[2].org, "Example Networks, Inc.");
  EXPECT_THAT(n.entities[2].emails, ElementsAre("abuse@example.com", "security@example.com"));
}

TEST(RdapResponse, AbuseContactsNearestToTheNetworkComeFirst) {
  const RdapNetwork n = ParseOk(R"json({
    "objectClassName": "ip network", "handle": "N1",
    "entities": [
      {"handle": "ORG", "roles": ["registrant"],
       "entities": [{"handle": "DEEP", "roles": ["abuse"],
                     "vcardArray": ["vcard", [["email", {}, "text", "abuse@parent.example"],
                                              ["email", {}, "text", "abuse@near.example"]]]}]},
      {"handle": "NEAR", "roles": ["abuse", "technical"],
       "vcardArray": ["vcard", [["fn", {}, "text", "Near abuse"], ["email", {}, "text", "abuse@near.example"]]]}
    ]})json");
  EXPECT_THAT(n.abuse_emails, ElementsAre("abuse@near.example", "abuse@parent.example"));
  // The registrant has no vCard: its name is empty, its handle known.
  EXPECT_EQ(n.registrant, "");
  EXPECT_EQ(n.registrant_handle, "ORG");
  ASSERT_EQ(n.entities.size(), 3u);
  EXPECT_EQ(n.entities[0].fn, "");
  EXPECT_THAT(n.entities[0].emails, IsEmpty());
}

TEST(RdapResponse, RegistrantNameFallsBackToStructuredOrg) {
  const RdapNetwork n = ParseOk(R"json({
    "objectClassName": "ip network",
    "entities": [{"handle": "R", "roles": ["registrant"],
                  "vcardArray": ["vcard", [["org", {}, "text", ["Example Org", "Hosting Unit"]],
                                           ["fn", {}, "text", ""]]]}]})json");
  EXPECT_EQ(n.registrant, "Example Org");
  EXPECT_EQ(n.entities[0].org, "Example Org");
}

TEST(RdapResponse, NetworkWithoutEntitiesHasNoContacts) {
  const RdapNetwork n = ParseOk(R"({"objectClassName": "ip network", "handle": "X", "entities": []})");
  EXPECT_EQ(n.handle, "X");
  EXPECT_THAT(n.entities, IsEmpty());
  EXPECT_THAT(n.abuse_emails, IsEmpty());
  EXPECT_EQ(n.registrant_handle, "");
}

TEST(RdapResponse, NullMembersCountAsAbsent) {
  const RdapNetwork n = ParseOk(R"({"objectClassName": "ip network", "handle": null, "name": "N",
    "country": null, "entities": [{"handle": "E", "roles": null, "vcardArray": null, "entities": null}]})");
  EXPECT_EQ(n.handle, "");
  EXPECT_EQ(n.name, "N");
  ASSERT_EQ(n.entities.size(), 1u);
  EXPECT_THAT(n.entities[0].roles, IsEmpty());
}

TEST(RdapResponse, ImplausibleEmailsAreDroppedWithAWarning) {
  const RdapNetwork n = ParseOk(R"json({
    "objectClassName": "ip network",
    "entities": [{"roles": ["abuse"], "vcardArray": ["vcard", [
      ["email", {}, "text", "n/a"],
      ["email", {}, "text", "abuse@example.net\r\nBcc: victim@example.org"],
      ["email", {}, "text", "two@@example.net"],
      ["email", {}, "text", " abuse@example.net "]]]}]})json");
  EXPECT_THAT(n.abuse_emails, ElementsAre("abuse@example.net"));
  ASSERT_EQ(n.warnings.size(), 3u);
  EXPECT_THAT(n.warnings[0], StartsWith("$.entities[0].vcardArray[1][0][3]: 'n/a' is not an e-mail address"));
  EXPECT_THAT(n.warnings[1],
              StartsWith("$.entities[0].vcardArray[1][1][3]: 'abuse@example.net\\x0d\\x0aBcc"));
  EXPECT_THAT(n.warnings[2], StartsWith("$.entities[0].vcardArray[1][2][3]"));
}

TEST(RdapResponse, ControlCharactersInNamesBecomeSpaces) {
  const RdapNetwork n = ParseOk(R"json({"objectClassName": "ip network", "name": "NET\tONE",
    "entities": [{"roles": ["registrant"], "vcardArray": ["vcard", [["fn", {}, "text", "Evil\r\nBcc: x@y.z\n"]]]}]})json");
  EXPECT_EQ(n.name, "NET ONE");
  EXPECT_EQ(n.registrant, "Evil  Bcc: x@y.z");
}

TEST(RdapResponse, WarningsAreBounded) {
  std::string properties;
  for (int i = 0; i < 40; ++i) properties += std::string(i ? "," : "") + R"(["email", {}, "text", "bad"])";
  const RdapNetwork n =
      ParseOk(R"({"entities": [{"roles": ["abuse"], "vcardArray": ["vcard", [)" + properties + "]]}]}");
  EXPECT_EQ(n.warnings.size(), kMaxRdapWarnings);
  EXPECT_THAT(n.abuse_emails, IsEmpty());
}

struct BadCase {
  const char* name;
  std::string json;
  std::string expected;  // a substring of the message
};

TEST(RdapResponse, MalformedInputIsInvalidArgumentNamingThePath) {
  const std::vector<BadCase> cases = {
      {"not json", "<html>502 Bad Gateway</html>", "RDAP response: not valid JSON at byte 1"},
      {"empty", "", "not valid JSON"},
      {"truncated", R"({"objectClassName": "ip network", "entities": [)", "not valid JSON"},
      {"bad utf-8", "{\"name\": \"\xff\xfe\"}", "not valid JSON"},
      {"top-level array", "[]", "RDAP response: $: expected an object, got array"},
      {"error object", R"({"errorCode": 404, "title": "Not Found"})",
       "$: an RDAP error object (errorCode 404: Not Found)"},
      {"other class", R"({"objectClassName": "domain"})",
       "$.objectClassName: 'domain' is not \"ip network\""},
      {"handle number", R"({"handle": 5})", "$.handle: expected a string, got number"},
      {"name object", R"({"name": {}})", "$.name: expected a string, got object"},
      {"bad start", R"({"startAddress": "198.51.100.300"})",
       "$.startAddress: '198.51.100.300' is not an IPv4"},
      {"mixed range", R"({"startAddress": "10.0.0.0", "endAddress": "::1"})", "of different IP versions"},
      {"entities object", R"({"entities": {}})", "$.entities: expected an array, got object"},
      {"entity string", R"({"entities": [{}, "ORG"]})",
       "$.entities[1]: expected an entity object, got string"},
      {"roles string", R"({"entities": [{"roles": "abuse"}]})",
       "$.entities[0].roles: expected an array, got string"},
      {"role number", R"({"entities": [{"roles": ["abuse", 7]}]})",
       "$.entities[0].roles[1]: expected a string"},
      {"nested entities", R"({"entities": [{"entities": [{"entities": true}]}]})",
       "$.entities[0].entities[0].entities: expected an array, got boolean"},
      {"vcard object", R"({"entities": [{"vcardArray": {"fn": "x"}}]})",
       "$.entities[0].vcardArray: expected [\"vcard\", [properties...]]"},
      {"vcard tag", R"({"entities": [{"vcardArray": ["vcalendar", []]}]})",
       "$.entities[0].vcardArray: expected"},
      {"short property", R"({"entities": [{"vcardArray": ["vcard", [["fn", {}, "text"]]]}]})",
       "$.entities[0].vcardArray[1][0]: expected a vCard property"},
      {"property name", R"({"entities": [{"vcardArray": ["vcard", [[1, {}, "text", "x"]]]}]})",
       "$.entities[0].vcardArray[1][0]: expected a vCard property"},
      {"email number",
       R"({"entities": [{"vcardArray": ["vcard", [["fn",{},"text","A"], ["email", {}, "text", 42]]]}]})",
       "$.entities[0].vcardArray[1][1][3]: expected a string, got number"},
      {"fn array", R"({"entities": [{"vcardArray": ["vcard", [["fn", {}, "text", ["A"]]]]}]})",
       "$.entities[0].vcardArray[1][0][3]: expected a string, got array"},
      {"org component", R"({"entities": [{"vcardArray": ["vcard", [["org", {}, "text", [3]]]]}]})",
       "$.entities[0].vcardArray[1][0][3][0]: expected a string, got number"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string message = ErrorOf(c.json);
    EXPECT_THAT(message, StartsWith("RDAP response: "));
    EXPECT_THAT(message, HasSubstr(c.expected));
  }
}

TEST(RdapResponse, BodyOverTheLimitIsRefused) {
  RdapLimits limits;
  limits.max_body_bytes = 64;
  const std::string body = R"({"objectClassName": "ip network", "name": ")" + std::string(100, 'x') + "\"}";
  EXPECT_THAT(ErrorOf(body, limits),
              HasSubstr(fmt::format("body of {} bytes is over the limit of 64 bytes", body.size())));
}

TEST(RdapResponse, JsonNestingOverTheLimitIsRefusedBeforeParsing) {
  RdapLimits limits;
  limits.max_json_depth = 8;
  // Seven levels (object, array, 5 arrays) pass; brackets inside strings do not count.
  EXPECT_TRUE(ParseRdapIpResponse(R"({"remarks": [[[[[["[[[[[[[[[["]]]]]]})", limits).ok());
  EXPECT_THAT(ErrorOf(R"({"remarks": [[[[[[[[1]]]]]]]]})", limits),
              HasSubstr("byte 19: arrays and objects nested deeper than the limit of 8"));
  // A million brackets: refused by the scan, not by the stack.
  EXPECT_THAT(ErrorOf(std::string(1'000'000, '['), RdapLimits()),
              HasSubstr("nested deeper than the limit of 32"));
}

std::string NestedEntities(int depth) {
  std::string json = R"({"objectClassName": "ip network", "entities": )";
  for (int i = 0; i < depth; ++i) json += R"([{"roles": ["abuse"], "entities": )";
  json += "[]";
  for (int i = 0; i < depth; ++i) json += "}]";
  return json + "}";
}

TEST(RdapResponse, EntityNestingOverTheLimitIsRefused) {
  RdapLimits limits;
  limits.max_entity_depth = 3;
  const RdapNetwork n = ParseOk(NestedEntities(3), limits);
  ASSERT_EQ(n.entities.size(), 3u);
  EXPECT_EQ(n.entities[2].depth, 3);
  EXPECT_EQ(n.entities[2].json_path, "$.entities[0].entities[0].entities[0]");
  EXPECT_THAT(
      ErrorOf(NestedEntities(4), limits),
      HasSubstr(
          "$.entities[0].entities[0].entities[0].entities: entities nested deeper than the limit of 3"));
}

TEST(RdapResponse, EntityCountOverTheLimitIsRefused) {
  RdapLimits limits;
  limits.max_entities = 5;
  auto with = [](int count) {
    std::string json = R"({"entities": [)";
    for (int i = 0; i < count; ++i)
      json += std::string(i ? "," : "") + R"({"handle": "E)" + std::to_string(i) + "\"}";
    return json + "]}";
  };
  EXPECT_EQ(ParseOk(with(5), limits).entities.size(), 5u);
  EXPECT_THAT(ErrorOf(with(6), limits), HasSubstr("$.entities[5]: more than the limit of 5 entities"));
}

TEST(RdapResponse, ItemsPerEntityOverTheLimitAreRefused) {
  RdapLimits limits;
  limits.max_items_per_entity = 2;
  EXPECT_THAT(ErrorOf(R"({"entities": [{"roles": ["a", "b", "c"]}]})", limits),
              HasSubstr("$.entities[0].roles: 3 roles, over the limit of 2"));
  EXPECT_THAT(ErrorOf(R"({"entities": [{"vcardArray": ["vcard", [["fn",{},"text","a"], ["fn",{},"text","b"],
              ["fn",{},"text","c"]]]}]})",
                      limits),
              HasSubstr("$.entities[0].vcardArray[1]: 3 vCard properties, over the limit of 2"));
}

TEST(RdapResponse, LongStringsAreRefused) {
  RdapLimits limits;
  limits.max_string_bytes = 16;
  EXPECT_EQ(ParseOk(R"({"name": "0123456789abcdef"})", limits).name, "0123456789abcdef");
  EXPECT_THAT(ErrorOf(R"({"name": "0123456789abcdefg"})", limits),
              HasSubstr("$.name: string of 17 bytes is over the limit of 16 bytes"));
  EXPECT_THAT(ErrorOf(R"({"entities": [{"vcardArray": ["vcard", [["email", {}, "text",
              "abuse@a-very-long-domain.example"]]]}]})",
                      limits),
              HasSubstr("$.entities[0].vcardArray[1][0][3]: string of 32 bytes"));
}

}  // namespace
}  // namespace takedown
