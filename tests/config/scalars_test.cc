#include "config/scalars.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/yaml_reader.h"
#include "gtest/gtest.h"

namespace takedown {
namespace {

TEST(ParseInteger, AcceptsDecimalWithOptionalSignAndSeparators) {
  struct Case {
    std::string text;
    std::optional<int64_t> expected;
  };
  const std::vector<Case> cases = {
      {"0", 0},
      {"256", 256},
      {"-1", -1},
      {"1_000_000", 1'000'000},
      {"9223372036854775807", INT64_MAX},
      {"-9223372036854775808", INT64_MIN},
      {"9223372036854775808", std::nullopt},
      {"99999999999999999999999", std::nullopt},
      {"", std::nullopt},
      {"-", std::nullopt},
      {"+1", std::nullopt},
      {"1.5", std::nullopt},
      {"0x10", std::nullopt},
      {"1__0", std::nullopt},
      {"_1", std::nullopt},
      {"1_", std::nullopt},
      {" 1", std::nullopt},
      {"many", std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ParseInteger(c.text), c.expected) << "'" << c.text << "'";
  }
}

TEST(ParseByteSize, AcceptsIntegersAndUnits) {
  struct Case {
    std::string text;
    std::optional<uint64_t> expected;
  };
  const std::vector<Case> cases = {
      {"4096", 4096},
      {"0", 0},
      {"7B", 7},
      {"4KiB", 4096},
      {"64MiB", 64ull * 1024 * 1024},
      {"1GiB", 1ull << 30},
      {"2TiB", 2ull << 40},
      {"1PiB", 1ull << 50},
      {"10MB", 10'000'000},
      {"3KB", 3000},
      {"5GB", 5'000'000'000},
      {"1TB", 1'000'000'000'000},
      {"2PB", 2'000'000'000'000'000},
      {"64 MiB", 64ull << 20},
      {"1_024KiB", 1ull << 20},
      {"16383PiB", 16383ull << 50},
      {"16384PiB", std::nullopt},  // 2^64: overflow
      {"18446744073709551615", UINT64_MAX},
      {"18446744073709551616", std::nullopt},
      {"", std::nullopt},
      {"MiB", std::nullopt},
      {"1.5GiB", std::nullopt},
      {"64mib", std::nullopt},
      {"64  MiB", std::nullopt},
      {"64MiB ", std::nullopt},
      {"-1", std::nullopt},
      {"10M", std::nullopt},
      {"lots", std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ParseByteSize(c.text), c.expected) << "'" << c.text << "'";
  }
}

TEST(FormatByteSize, UsesLargestExactUnit) {
  EXPECT_EQ(FormatByteSize(0), "0");
  EXPECT_EQ(FormatByteSize(1), "1");
  EXPECT_EQ(FormatByteSize(64), "64");
  EXPECT_EQ(FormatByteSize(4096), "4KiB");
  EXPECT_EQ(FormatByteSize(64ull << 20), "64MiB");
  EXPECT_EQ(FormatByteSize(1ull << 50), "1PiB");
  EXPECT_EQ(FormatByteSize(1536ull << 20), "1536MiB");
  EXPECT_EQ(FormatByteSize(10'000'000), "10MB");
  EXPECT_EQ(FormatByteSize(1023), "1023");
}

TEST(ParseDecimalHundredths, AcceptsUpToTwoDecimals) {
  EXPECT_EQ(ParseDecimalHundredths("5000", 13), 500000);
  EXPECT_EQ(ParseDecimalHundredths("2500.5", 13), 250050);
  EXPECT_EQ(ParseDecimalHundredths("0.25", 3), 25);
  EXPECT_EQ(ParseDecimalHundredths("100", 3), 10000);
  for (const char* bad : {"", ".5", "5.", "1.005", "-1", "+1", "1e3", " 1", "1,5", "1000", "abc"}) {
    EXPECT_EQ(ParseDecimalHundredths(bad, 3), std::nullopt) << bad;
  }
  EXPECT_EQ(ParseDecimalHundredths("9999999999999.99", 13), 999999999999999);
  EXPECT_EQ(ParseDecimalHundredths("99999999999999", 13), std::nullopt);
}

TEST(ParseDurationSeconds, AcceptsSecondsAndUnits) {
  EXPECT_EQ(ParseDurationSeconds("0"), 0);
  EXPECT_EQ(ParseDurationSeconds("90"), 90);
  EXPECT_EQ(ParseDurationSeconds("90s"), 90);
  EXPECT_EQ(ParseDurationSeconds("15m"), 900);
  EXPECT_EQ(ParseDurationSeconds("24h"), 86400);
  EXPECT_EQ(ParseDurationSeconds("7d"), 7 * 86400);
  EXPECT_EQ(ParseDurationSeconds("1_000s"), 1000);
  for (const char* bad : {"", "s", "-1", "1w", "1 h", "1.5h", "h1", "99999999999999999999d"}) {
    EXPECT_EQ(ParseDurationSeconds(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(FormatDurationSeconds, RoundTripsWithLargestExactUnit) {
  EXPECT_EQ(FormatDurationSeconds(0), "0");
  EXPECT_EQ(FormatDurationSeconds(90), "90s");
  EXPECT_EQ(FormatDurationSeconds(900), "15m");
  EXPECT_EQ(FormatDurationSeconds(86400), "1d");
  EXPECT_EQ(FormatDurationSeconds(7200), "2h");
  for (int64_t value : {int64_t{1}, int64_t{61}, int64_t{3600}, int64_t{172800}}) {
    EXPECT_EQ(ParseDurationSeconds(FormatDurationSeconds(value)), value) << value;
  }
}

TEST(FormatByteSize, RoundTripsThroughParse) {
  for (uint64_t value :
       {uint64_t{1}, uint64_t{999}, uint64_t{4096}, uint64_t{5000}, uint64_t{3} << 40, UINT64_MAX}) {
    EXPECT_EQ(ParseByteSize(FormatByteSize(value)), value) << value;
  }
}

TEST(ParseHostPort, AcceptsNamesIpv4AndBracketedIpv6) {
  struct Case {
    std::string text;
    bool valid;
    std::string host;
    uint16_t port;
  };
  const std::vector<Case> cases = {
      {"127.0.0.1:9464", true, "127.0.0.1", 9464},
      {"0.0.0.0:0", true, "0.0.0.0", 0},
      {"localhost:65535", true, "localhost", 65535},
      {"my-host.example_1:80", true, "my-host.example_1", 80},
      {"[::1]:50051", true, "::1", 50051},
      {"[fe80::1:2]:1", true, "fe80::1:2", 1},
      {"127.0.0.1", false, "", 0},
      {"127.0.0.1:", false, "", 0},
      {":80", false, "", 0},
      {"host:65536", false, "", 0},
      {"host:123456", false, "", 0},
      {"host:-1", false, "", 0},
      {"host:8o", false, "", 0},
      {"::1:80", false, "", 0},
      {"[::1]", false, "", 0},
      {"[::1]80", false, "", 0},
      {"[]:80", false, "", 0},
      {"[abc]:80", false, "", 0},
      {"ho st:80", false, "", 0},
      {"", false, "", 0},
  };
  for (const Case& c : cases) {
    std::optional<HostPort> parsed = ParseHostPort(c.text);
    ASSERT_EQ(parsed.has_value(), c.valid) << "'" << c.text << "'";
    if (!parsed) continue;
    EXPECT_EQ(parsed->host, c.host);
    EXPECT_EQ(parsed->port, c.port);
  }
}

TEST(SuggestKey, SuggestsWithinTwoEditsCountingTranspositionsOnce) {
  const std::vector<std::string_view> keys = {"role", "data_dir", "workers", "log_level"};
  EXPECT_EQ(SuggestKey("wrokers", keys), "workers");
  EXPECT_EQ(SuggestKey("worker", keys), "workers");
  EXPECT_EQ(SuggestKey("datadir", keys), "data_dir");
  EXPECT_EQ(SuggestKey("rol", keys), "role");
  EXPECT_EQ(SuggestKey("loglevl", keys), "log_level");
  EXPECT_EQ(SuggestKey("threads", keys), std::nullopt);
  EXPECT_EQ(SuggestKey("", keys), std::nullopt);
  // Two edits would turn "id" into anything of length <= 2: no suggestion.
  EXPECT_EQ(SuggestKey("x", {"id"}), std::nullopt);
  EXPECT_EQ(SuggestKey("di", {"id"}), "id");
}

TEST(QuoteForMessage, EscapesAndShortens) {
  EXPECT_EQ(QuoteForMessage("many"), "'many'");
  EXPECT_EQ(QuoteForMessage(std::string("a\0b\n", 4)), "'a\\x00b\\x0a'");
  EXPECT_EQ(QuoteForMessage("it's"), "'it's'");
  EXPECT_EQ(QuoteForMessage("a\\b"), "'a\\\\b'");
  const std::string long_text(100, 'x');
  EXPECT_EQ(QuoteForMessage(long_text), "'" + std::string(64, 'x') + "' (100 bytes)");
}

TEST(EscapeForMessage, KeepsOneLineAndCuts) {
  EXPECT_EQ(EscapeForMessage("plain text", 100), "plain text");
  EXPECT_EQ(EscapeForMessage(std::string("x\n\0\xff", 4), 100), "x\\x0a\\x00\\xff");
  EXPECT_EQ(EscapeForMessage("abcdef", 3), "abc...");
  EXPECT_EQ(EscapeForMessage("abc", 3), "abc");
}

}  // namespace
}  // namespace takedown
