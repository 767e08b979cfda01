#include "matcher/pdq_matcher.h"

#include <atomic>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <optional>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/hex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "matcher/hash_list_parser.h"
#include "matcher/image_decoder.h"

namespace takedown {
namespace {

using ::testing::HasSubstr;

const std::string kVectorDir = std::string(TAKEDOWN_SOURCE_DIR) + "/../shared/vectors/pdq";

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream data;
  data << in.rdbuf();
  return data.str();
}

std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

using ManifestRow = std::map<std::string, std::string>;

// MANIFEST.tsv rows by file name.
const std::map<std::string, ManifestRow>& Manifest() {
  static const auto* const rows = [] {
    auto* out = new std::map<std::string, ManifestRow>();
    std::istringstream lines(ReadFileOrDie(kVectorDir + "/MANIFEST.tsv"));
    auto split = [](const std::string& line) {
      std::vector<std::string> fields;
      std::string field;
      std::istringstream in(line);
      while (std::getline(in, field, '\t')) fields.push_back(field);
      return fields;
    };
    std::string line;
    std::getline(lines, line);
    const std::vector<std::string> columns = split(line);
    while (std::getline(lines, line)) {
      if (line.empty()) continue;
      const std::vector<std::string> fields = split(line);
      ManifestRow row;
      for (size_t i = 0; i < columns.size() && i < fields.size(); ++i) row[columns[i]] = fields[i];
      (*out)[row["file"]] = row;
    }
    return out;
  }();
  return *rows;
}

const ManifestRow& Row(const std::string& file) {
  static const ManifestRow kEmpty;
  auto it = Manifest().find(file);
  EXPECT_NE(it, Manifest().end()) << file << " is not in MANIFEST.tsv";
  return it == Manifest().end() ? kEmpty : it->second;
}

PdqHash HashOf(const std::string& hex) {
  std::optional<PdqHash> hash = PdqHash::FromHex(hex);
  EXPECT_TRUE(hash.has_value()) << hex;
  return hash.value_or(PdqHash{});
}

// The reference's hash of a vector.
PdqHash ReferenceHash(const std::string& file) { return HashOf(Row(file).at("pdq_hex")); }

// The reference's 8 dihedral hashes and quality of a vector.
PdqDihedral ReferenceDihedral(const std::string& file) {
  static const char* const kColumns[PdqDihedral::kCount] = {"dih_orig",      "dih_rot90",     "dih_rot180",
                                                            "dih_rot270",    "dih_flipx",     "dih_flipy",
                                                            "dih_flipplus1", "dih_flipminus1"};
  PdqDihedral d;
  for (int i = 0; i < PdqDihedral::kCount; ++i) d.hashes[i] = HashOf(Row(file).at(kColumns[i]));
  d.quality = std::stoi(Row(file).at("quality"));
  return d;
}

std::string Vector(const std::string& file) { return ReadFileOrDie(kVectorDir + "/images/" + file); }

// `hash` with `bits` bits flipped (bits 0, 7, 14, ...: distinct, since 7 and
// 256 are coprime).
PdqHash Flip(PdqHash hash, int bits) {
  for (int k = 0; k < bits; ++k) {
    const int bit = (k * 7) % PdqHash::kBits;
    hash.words[bit / 16] ^= static_cast<uint16_t>(1u << (bit % 16));
  }
  return hash;
}

PdqIndexEntry Entry(const PdqHash& hash, const std::string& id,
                    ContentCategory category = ContentCategory::kCsam) {
  return PdqIndexEntry{hash, "ignored", id, category};
}

std::unique_ptr<PdqMatcher> MakeMatcher(PdqMatcherOptions options = {}) {
  absl::StatusOr<std::unique_ptr<PdqMatcher>> matcher = PdqMatcher::Create(options);
  EXPECT_TRUE(matcher.ok()) << matcher.status();
  return matcher.ok() ? std::move(*matcher) : nullptr;
}

PdqImageResult MatchOrDie(const PdqMatcher& matcher, const std::string& bytes) {
  absl::StatusOr<PdqImageResult> result = matcher.MatchImage(AsBytes(bytes));
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? std::move(*result) : PdqImageResult{};
}

std::vector<std::string> MatchIds(const std::vector<PdqListMatch>& matches) {
  std::vector<std::string> ids;
  for (const PdqListMatch& m : matches) ids.push_back(m.list_name + "@" + m.list_version + "/" + m.entry_id);
  return ids;
}

std::string EncodePng(const cv::Mat& bgr) {
  std::vector<uint8_t> png;
  EXPECT_TRUE(cv::imencode(".png", bgr, png, {cv::IMWRITE_PNG_COMPRESSION, 1}));
  return std::string(png.begin(), png.end());
}

constexpr char kBridge[] = "bridge-mods/aaa-orig.jpg";
constexpr char kSmallBridge[] = "bridge-mods/square-128x128.jpg";
constexpr char kLowQuality[] = "reg-test-input/labelme-subset/q0003.jpg";  // quality 3
constexpr char kExif1[] = "reg-test-input/exif-rotn/exif-rotn-1.jpg";      // 4032x3024
constexpr char kExif3[] = "reg-test-input/exif-rotn/exif-rotn-3.jpg";

TEST(PdqHashDigest, RoundTripsThroughTheListsHexForm) {
  const std::string hex = Row(kBridge).at("pdq_hex");
  const std::optional<std::string> raw = HexDecode(hex);
  ASSERT_TRUE(raw.has_value());
  const std::optional<PdqHash> hash = PdqHashFromDigest(*raw);
  ASSERT_TRUE(hash.has_value());
  EXPECT_EQ(hash->ToHex(), hex);
  EXPECT_EQ(PdqHashToDigest(*hash), *raw);
  EXPECT_FALSE(PdqHashFromDigest(raw->substr(1)).has_value());
}

TEST(PdqIndexEntriesFromHashList, TakesOnlyThePdqEntries) {
  const std::string hex = Row(kBridge).at("pdq_hex");
  absl::StatusOr<HashList> list = ParseHashList(
      "md5,d41d8cd98f00b204e9800998ecf8427e,csam,m-1\n"
      "pdq," +
          hex +
          ",terrorist,p-1\n"
          "sha256," +
          hex + ",csam,s-1\n",
      "mixed.csv", "mixed", HashListLimits{});
  ASSERT_TRUE(list.ok()) << list.status();
  absl::StatusOr<std::vector<PdqIndexEntry>> converted = PdqIndexEntriesFromHashList(*list);
  ASSERT_TRUE(converted.ok()) << converted.status();
  const std::vector<PdqIndexEntry>& entries = *converted;
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].hash, HashOf(hex));
  EXPECT_EQ(entries[0].list_name, "mixed");
  EXPECT_EQ(entries[0].entry_id, "p-1");
  EXPECT_EQ(entries[0].category, ContentCategory::kTerrorist);
}

TEST(PdqIndexEntriesFromHashList, ReportsAMalformedStoredDigest) {
  std::vector<HashListEntry> entries(1);
  entries[0].type = HashType::kPdq;
  entries[0].entry_id = "p-7";
  entries[0].digest = std::string(31, '\x01');
  absl::StatusOr<std::vector<PdqIndexEntry>> converted = PdqIndexEntriesFromHashList("damaged", entries);
  ASSERT_FALSE(converted.ok());
  EXPECT_EQ(converted.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(converted.status().message()), ::testing::HasSubstr("damaged: entry p-7"));
}

TEST(PdqMatcher, VectorInAListMatchesAtDistanceZero) {
  std::unique_ptr<PdqMatcher> matcher = MakeMatcher();
  ASSERT_NE(matcher, nullptr);
  EXPECT_FALSE(matcher->HasEntries());
  absl::StatusOr<HashList> list = ParseHashList("pdq," + Row(kBridge).at("pdq_hex") + ",csam,bridge-1\n" +
                                                    "pdq," + Row(kLowQuality).at("pdq_hex") + ",other,q3\n",
                                                "ncmec.csv", "ncmec", HashListLimits{});
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_TRUE(
      matcher->SetList("ncmec", list->version, PdqListPolicy{}, *PdqIndexEntriesFromHashList(*list)).ok());
  EXPECT_TRUE(matcher->HasEntries());

  const PdqImageResult result = MatchOrDie(*matcher, Vector(kBridge));
  EXPECT_EQ(result.outcome, PdqImageOutcome::kHashed);
  EXPECT_EQ(PdqImageOutcomeName(result.outcome), "hashed");
  EXPECT_TRUE(result.message.empty());
  EXPECT_TRUE(result.has_header);
  EXPECT_EQ(result.format, ImageFormat::kJpeg);
  EXPECT_EQ(std::to_string(result.width), Row(kBridge).at("width"));
  EXPECT_EQ(std::to_string(result.height), Row(kBridge).at("height"));
  EXPECT_EQ(result.hash.ToHex(), Row(kBridge).at("pdq_hex"));
  EXPECT_EQ(result.dihedral.hashes[PdqDihedral::kRotate90].ToHex(), Row(kBridge).at("dih_rot90"));
  EXPECT_EQ(std::to_string(result.quality), Row(kBridge).at("quality"));
  EXPECT_EQ(result.hash_mode, PdqHashMode::kExact);
  EXPECT_FALSE(result.rehashed);
  EXPECT_EQ(result.implementation, "takedown-pdq/1");
  EXPECT_TRUE(result.vetoes.empty());
  EXPECT_TRUE(result.skips.empty());
  ASSERT_EQ(result.matches.size(), 1u);
  const PdqListMatch& m = result.matches[0];
  EXPECT_EQ(m.list_name, "ncmec");
  EXPECT_EQ(m.list_version, list->version);
  EXPECT_EQ(m.entry_id, "bridge-1");
  EXPECT_EQ(m.category, ContentCategory::kCsam);
  EXPECT_EQ(m.entry_hash, ReferenceHash(kBridge));
  EXPECT_EQ(m.distance, 0);
  EXPECT_EQ(m.threshold, 31);
  EXPECT_EQ(m.quality, 100);
  EXPECT_EQ(m.variant, PdqDihedral::kOriginal);

  // An unrelated picture matches nothing.
  const char* const kOther = "reg-test-input/pen-and-coaster.png";
  ASSERT_GT(ReferenceHash(kOther).Distance(ReferenceHash(kBridge)), 64);
  const PdqImageResult other = MatchOrDie(*matcher, Vector(kOther));
  EXPECT_EQ(other.outcome, PdqImageOutcome::kHashed);
  EXPECT_EQ(other.format, ImageFormat::kPng);
  EXPECT_EQ(other.hash.ToHex(), Row(kOther).at("pdq_hex"));
  EXPECT_TRUE(other.matches.empty());
}

// A copy rotated or mirrored with OpenCV (so not one of the reference's
// files) matches the original's entry through the variant that undoes it.
TEST(PdqMatcher, RotatedAndMirroredCopiesMatchThroughADihedralVariant) {
  std::unique_ptr<PdqMatcher> matcher = MakeMatcher();
  ASSERT_NE(matcher, nullptr);
  ASSERT_TRUE(matcher->SetList("l", "v1", PdqListPolicy{}, {Entry(ReferenceHash(kBridge), "orig")}).ok());
  const std::string jpeg = Vector(kBridge);
  const cv::Mat bgr =
      cv::imdecode(cv::Mat(1, static_cast<int>(jpeg.size()), CV_8UC1, const_cast<char*>(jpeg.data())),
                   cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
  ASSERT_FALSE(bgr.empty());

  struct Case {
    const char* name;
    cv::Mat image;
    int variant;  // the variant of the copy's hash that undoes the change
  };
  cv::Mat ccw, mirrored;
  cv::rotate(bgr, ccw, cv::ROTATE_90_COUNTERCLOCKWISE);
  cv::flip(bgr, mirrored, 1);
  const Case cases[] = {
      // Rotating the copy 90 degrees clockwise gives back the original.
      {"rotated 90 ccw", ccw, PdqDihedral::kRotate270},
      {"left-right mirror", mirrored, PdqDihedral::kFlipY},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const PdqImageResult result = MatchOrDie(*matcher, EncodePng(c.image));
    ASSERT_EQ(result.outcome, PdqImageOutcome::kHashed) << result.message;
    EXPECT_EQ(result.format, ImageFormat::kPng);
    EXPECT_EQ(static_cast<int>(result.width), c.image.cols);
    // Not a near-duplicate as it stands...
    EXPECT_GT(result.hash.Distance(ReferenceHash(kBridge)), 64);
    // ...but through the variant.
    ASSERT_EQ(result.matches.size(), 1u);
    EXPECT_EQ(result.matches[0].entry_id, "orig");
    EXPECT_EQ(result.matches[0].variant, c.variant);
    EXPECT_LE(result.matches[0].distance, 31);
    EXPECT_EQ(result.matches[0].distance, result.dihedral.hashes[c.variant].Distance(ReferenceHash(kBridge)));
  }
}

// An entry exactly at the threshold matches, one bit further does not.
TEST(PdqMatcher, ThresholdIsInclusive) {
  std::unique_ptr<PdqMatcher> matcher = MakeMatcher();
  ASSERT_NE(matcher, nullptr);
  const PdqDihedral object = ReferenceDihedral(kBridge);
  const PdqHash base = object.hashes[PdqDihedral::kOriginal];
  for (int t : {0, 1, 15, 16, 31, 32, 47, 48}) {
    SCOPED_TRACE(t);
    PdqListPolicy policy;
    policy.threshold = t;
    ASSERT_EQ(Flip(base, t).Distance(base), t);
    ASSERT_TRUE(
        matcher->SetList("l", "v", policy, {Entry(Flip(base, t), "at"), Entry(Flip(base, t + 1), "over")})
            .ok());
    const PdqMatchResult result = matcher->MatchHash(object, object.quality);
    ASSERT_EQ(result.matches.size(), 1u);
    EXPECT_EQ(result.matches[0].entry_id, "at");
    EXPECT_EQ(result.matches[0].distance, t);
    EXPECT_EQ(result.matches[0].threshold, t);
    EXPECT_EQ(result.matches[0].variant, PdqDihedral::kOriginal);
  }

  // The same through MatchImage at the default threshold.
  ASSERT_TRUE(
      matcher
          ->SetList("l", "v", PdqListPolicy{}, {Entry(Flip(base, 31), "at"), Entry(Flip(base, 32), "over")})
          .ok());
  const PdqImageResult image = MatchOrDie(*matcher, Vector(kBridge));
  EXPECT_EQ(MatchIds(image.matches), std::vector<std::string>{"l@v/at"});
  ASSERT_EQ(image.matches.size(), 1u);
  EXPECT_EQ(image.matches[0].distance, 31);

  // Each list uses its own threshold.
  PdqListPolicy narrow;
  narrow.threshold = 10;
  ASSERT_TRUE(matcher->SetList("narrow", "n1", narrow, {Entry(Flip(base, 11), "n-11")}).ok());
  ASSERT_TRUE(matcher->SetList("wide", "w1", PdqListPolicy{}, {Entry(Flip(base, 11), "w-11")}).ok());
  EXPECT_EQ(MatchIds(matcher->MatchHash(object, object.quality).matches),
            (std::vector<std::string>{"wide@w1/w-11", "l@v/at"}));
}

TEST(PdqMatcher, LowQualityObjectsAreSkippedAndRecorded) {
  std::unique_ptr<PdqMatcher> matcher = MakeMatcher();
  ASSERT_NE(matcher, nullptr);
  ASSERT_EQ(Row(kLowQuality).at("quality"), "3");
  ASSERT_TRUE(
      matcher->SetList("strict", "s1", PdqListPolicy{}, {Entry(ReferenceHash(kLowQuality), "q3")}).ok());
  PdqListPolicy lenient;
  lenient.min_quality = 3;
  ASSERT_TRUE(matcher->SetList("lenient", "l1", lenient, {Entry(ReferenceHash(kLowQuality), "q3")}).ok());

  const PdqImageResult result = MatchOrDie(*matcher, Vector(kLowQuality));
  ASSERT_EQ(result.outcome, PdqImageOutcome::kHashed);
  EXPECT_EQ(result.quality, 3);
  EXPECT_EQ(MatchIds(result.matches), std::vector<std::string>{"lenient@l1/q3"});
  ASSERT_EQ(result.skips.size(), 1u);
  EXPECT_EQ(result.skips[0], (PdqListSkip{"strict", "s1", "low_quality", 3, 50, 1}));

  // A list with a min_quality above the object's is skipped even when
  // nothing would have matched.
  ASSERT_TRUE(matcher->RemoveList("lenient"));
  const PdqMatchResult unrelated = matcher->MatchHash(ReferenceDihedral(kBridge), 20);
  EXPECT_TRUE(unrelated.matches.empty());
  ASSERT_EQ(unrelated.skips.size(), 1u);
  EXPECT_EQ(unrelated.skips[0], (PdqListSkip{"strict", "s1", "low_quality", 20, 50, 0}));
  EXPECT_TRUE(matcher->MatchHash(ReferenceDihedral(kBridge), 50).skips.empty());
}

TEST(PdqMatcher, AllowlistVetoIsRecorded) {
  std::unique_ptr<PdqMatcher> matcher = MakeMatcher();
  ASSERT_NE(matcher, nullptr);
  const PdqHash base = ReferenceHash(kBridge);
  ASSERT_TRUE(matcher->SetList("ncmec", "n1", PdqListPolicy{}, {Entry(Flip(base, 3), "bridge")}).ok());
  // The allowlist entry is the object rotated: it vetoes through a variant.
  const PdqHash rotated = ReferenceDihedral(kBridge).hashes[PdqDihedral::kRotate90];
  ASSERT_TRUE(matcher->SetAllowlist("false-positives", "a1", 10, {Entry(Flip(rotated, 5), "fp-7")}).ok());

  const PdqImageResult result = MatchOrDie(*matcher, Vector(kBridge));
  ASSERT_EQ(result.outcome, PdqImageOutcome::kHashed);
  EXPECT_TRUE(result.matches.empty());
  ASSERT_EQ(result.vetoes.size(), 1u);
  const PdqVeto& veto = result.vetoes[0];
  EXPECT_EQ(veto.match.list_name, "ncmec");
  EXPECT_EQ(veto.match.list_version, "n1");
  EXPECT_EQ(veto.match.entry_id, "bridge");
  EXPECT_EQ(veto.match.distance, 3);
  EXPECT_EQ(veto.allowlist_name, "false-positives");
  EXPECT_EQ(veto.allowlist_version, "a1");
  EXPECT_EQ(veto.allowlist_entry_id, "fp-7");
  EXPECT_EQ(veto.distance, 5);
  EXPECT_EQ(veto.threshold, 10);
  EXPECT_EQ(veto.variant, PdqDihedral::kRotate90);

  // Outside the allowlist's threshold: no veto.
  ASSERT_TRUE(matcher->SetAllowlist("false-positives", "a2", 4, {Entry(Flip(rotated, 5), "fp-7")}).ok());
  PdqMatchResult no_veto = matcher->MatchHash(result.dihedral, result.quality);
  EXPECT_EQ(MatchIds(no_veto.matches), std::vector<std::string>{"ncmec@n1/bridge"});
  EXPECT_TRUE(no_veto.vetoes.empty());

  ASSERT_TRUE(matcher->SetAllowlist("false-positives", "a3", 5, {Entry(Flip(rotated, 5), "fp-7")}).ok());
  EXPECT_EQ(matcher->MatchHash(result.dihedral, result.quality).vetoes.size(), 1u);
  EXPECT_TRUE(matcher->RemoveAllowlist("false-positives"));
  EXPECT_FALSE(matcher->RemoveAllowlist("false-positives"));
  EXPECT_EQ(matcher->MatchHash(result.dihedral, result.quality).matches.size(), 1u);

  // An allowlist with no blocklists: nothing to veto, nothing worth hashing for.
  ASSERT_TRUE(matcher->RemoveList("ncmec"));
  ASSERT_TRUE(matcher->SetAllowlist("fp", "a", 31, {Entry(base, "fp-base")}).ok());
  EXPECT_FALSE(matcher->HasEntries());
  const PdqMatchResult nothing = matcher->MatchHash(result.dihedral, result.quality);
  EXPECT_TRUE(nothing.matches.empty());
  EXPECT_TRUE(nothing.vetoes.empty());
}

// Fast mode must report exactly what exact mode reports; a candidate's
// hash is the exact one.
TEST(PdqMatcher, FastModeMatchesLikeExactModeAndRehashesCandidates) {
  const std::vector<std::string> files = {
      kExif1, kExif3, kBridge, kSmallBridge, "misc-images/c.png", "reg-test-input/labelme-subset/q0122.jpg"};
  std::vector<PdqIndexEntry> entries;
  for (const char* file : {kExif1, kBridge, "misc-images/c.png"})
    entries.push_back(Entry(ReferenceHash(file), file));

  PdqMatcherOptions fast_options;
  fast_options.mode = PdqHashMode::kFast;
  EXPECT_EQ(fast_options.fast_extra_radius, 8);
  std::unique_ptr<PdqMatcher> exact = MakeMatcher();
  std::unique_ptr<PdqMatcher> fast = MakeMatcher(fast_options);
  ASSERT_NE(exact, nullptr);
  ASSERT_NE(fast, nullptr);
  ASSERT_TRUE(exact->SetList("l", "v", PdqListPolicy{}, entries).ok());
  ASSERT_TRUE(fast->SetList("l", "v", PdqListPolicy{}, entries).ok());

  int rehashed = 0;
  std::map<std::string, PdqImageResult> fast_results;
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    const std::string bytes = Vector(file);
    const PdqImageResult e = MatchOrDie(*exact, bytes);
    const PdqImageResult f = MatchOrDie(*fast, bytes);
    ASSERT_EQ(e.outcome, PdqImageOutcome::kHashed);
    ASSERT_EQ(f.outcome, PdqImageOutcome::kHashed);
    EXPECT_EQ(e.hash.ToHex(), Row(file).at("pdq_hex"));
    EXPECT_EQ(f.matches, e.matches);
    EXPECT_EQ(f.vetoes, e.vetoes);
    EXPECT_EQ(f.skips, e.skips);
    if (!f.matches.empty()) {
      EXPECT_EQ(f.hash_mode, PdqHashMode::kExact);
      EXPECT_EQ(f.hash.ToHex(), Row(file).at("pdq_hex"));
      EXPECT_EQ(f.quality, e.quality);
    }
    rehashed += f.rehashed;
    fast_results[file] = f;
  }
  // exif-rotn-1 is decoded at 1/4 in fast mode and is in the list: it must
  // have been re-hashed. The 1600x1004 bridge is not reduced (halved, a side
  // would be under 512) and c.png is not a JPEG: their first hash is exact.
  EXPECT_EQ(rehashed, 1);
  const PdqImageResult& exif1 = fast_results[kExif1];
  EXPECT_TRUE(exif1.rehashed);
  EXPECT_EQ(exif1.hash_mode, PdqHashMode::kExact);
  EXPECT_EQ(MatchIds(exif1.matches), std::vector<std::string>{std::string("l@v/") + kExif1});

  // exif-rotn-3 is far from every entry: it keeps its fast hash, which is
  // within the extra radius of the exact one.
  const PdqDihedral exif3 = ReferenceDihedral(kExif3);
  for (const PdqIndexEntry& entry : entries) {
    for (const PdqHash& variant : exif3.hashes) ASSERT_GT(variant.Distance(entry.hash), 31 + 8);
  }
  const PdqImageResult& f3 = fast_results[kExif3];
  EXPECT_EQ(f3.hash_mode, PdqHashMode::kFast);
  EXPECT_EQ(PdqHashModeName(f3.hash_mode), "fast");
  EXPECT_FALSE(f3.rehashed);
  EXPECT_EQ(f3.width, 4032u);
  EXPECT_LE(f3.hash.Distance(ReferenceHash(kExif3)), fast_options.fast_extra_radius);

  // A fast hash within threshold + extra radius, but not within threshold
  // once re-hashed exactly, is re-hashed and does not match.
  PdqListPolicy tight;
  tight.threshold = 0;
  ASSERT_TRUE(fast->SetList("l", "v2", tight, {Entry(Flip(ReferenceHash(kExif3), 1), "near")}).ok());
  const PdqImageResult near = MatchOrDie(*fast, Vector(kExif3));
  EXPECT_TRUE(near.rehashed);
  EXPECT_EQ(near.hash_mode, PdqHashMode::kExact);
  EXPECT_EQ(near.hash, ReferenceHash(kExif3));
  EXPECT_TRUE(near.matches.empty());
}

TEST(PdqMatcher, TooLargeImagesAreNotDecoded) {
  PdqMatcherOptions options;
  options.limits.max_pixels = 1000;
  std::unique_ptr<PdqMatcher> matcher = MakeMatcher(options);
  ASSERT_NE(matcher, nullptr);
  ASSERT_TRUE(matcher->SetList("l", "v", PdqListPolicy{}, {Entry(ReferenceHash(kBridge), "b")}).ok());
  const PdqImageResult result = MatchOrDie(*matcher, Vector(kBridge));
  EXPECT_EQ(result.outcome, PdqImageOutcome::kTooLarge);
  EXPECT_EQ(PdqImageOutcomeName(result.outcome), "too_large");
  EXPECT_TRUE(result.has_header);
  EXPECT_EQ(result.width, 1600u);
  EXPECT_EQ(result.height, 1004u);
  EXPECT_THAT(result.message, HasSubstr("1600x1004 = 1606400 pixels, over limits.max_image_pixels 1000"));
  EXPECT_TRUE(result.matches.empty());

  // A PNG header claiming 65536 x 65536 with no pixel data at all: a decode
  // attempt would report it corrupt; the header check refuses it first.
  std::string bomb("\x89PNG\r\n\x1A\n\0\0\0\x0DIHDR\0\x01\0\0\0\x01\0\0\x08\x02\0\0\0\0\0\0\0", 33);
  std::unique_ptr<PdqMatcher> defaults = MakeMatcher();
  ASSERT_NE(defaults, nullptr);
  const PdqImageResult png = MatchOrDie(*defaults, bomb);
  EXPECT_EQ(png.outcome, PdqImageOutcome::kTooLarge) << png.message;
  EXPECT_EQ(png.width, 65536u);

  PdqMatcherOptions small_bytes;
  small_bytes.max_image_bytes = 1000;
  std::unique_ptr<PdqMatcher> byte_limited = MakeMatcher(small_bytes);
  ASSERT_NE(byte_limited, nullptr);
  const PdqImageResult big = MatchOrDie(*byte_limited, Vector(kSmallBridge));
  EXPECT_EQ(big.outcome, PdqImageOutcome::kTooLarge);
  EXPECT_THAT(big.message, HasSubstr("7528 bytes, over limits.max_image_bytes 1000"));
}

TEST(PdqMatcher, TruncatedJpegIsCorruptInBothModes) {
  PdqMatcherOptions fast_options;
  fast_options.mode = PdqHashMode::kFast;
  for (const PdqMatcherOptions& options : {PdqMatcherOptions{}, fast_options}) {
    SCOPED_TRACE(PdqHashModeName(options.mode));
    std::unique_ptr<PdqMatcher> matcher = MakeMatcher(options);
    ASSERT_NE(matcher, nullptr);
    for (const char* file : {kSmallBridge, kExif1}) {
      SCOPED_TRACE(file);
      const std::string jpeg = Vector(file);
      const PdqImageResult result = MatchOrDie(*matcher, jpeg.substr(0, jpeg.size() / 2));
      EXPECT_EQ(result.outcome, PdqImageOutcome::kCorrupt);
      EXPECT_EQ(PdqImageOutcomeName(result.outcome), "corrupt");
      EXPECT_THAT(result.message, HasSubstr("truncated"));
      EXPECT_TRUE(result.has_header);
      EXPECT_TRUE(result.matches.empty());
    }
  }
}

TEST(PdqMatcher, BadBytesAreOutcomesNotErrors) {
  std::unique_ptr<PdqMatcher> matcher = MakeMatcher();
  ASSERT_NE(matcher, nullptr);
  std::mt19937 rng(20260102);
  std::string random(4096, '\0');
  for (char& c : random) c = static_cast<char>(rng() & 0xFF);
  ASSERT_NE(static_cast<uint8_t>(random[0]), 0xFF);  // not a JPEG start by chance

  struct Case {
    const char* name;
    std::string bytes;
    PdqImageOutcome want;
  };
  // A WebP whose VP8X header sets the animation flag (0x02 at byte 20), on
  // a 16x16 canvas: the header is read, animation is not supported.
  const std::string animated_webp("RIFF\x16\0\0\0WEBPVP8X\x0A\0\0\0\x02\0\0\0\x0F\0\0\x0F\0\0", 30);
  const Case cases[] = {
      {"random", random, PdqImageOutcome::kNotImage},
      {"empty", "", PdqImageOutcome::kNotImage},
      {"text", "hello, world\n", PdqImageOutcome::kNotImage},
      {"pdf", "%PDF-1.7\n", PdqImageOutcome::kNotImage},
      {"heic",
       std::string("\0\0\0\x18"
                   "ftypheic\0\0\0\0mif1heic",
                   24),
       PdqImageOutcome::kUnsupported},
      {"animated webp", animated_webp, PdqImageOutcome::kUnsupported},
      {"jpeg cut in its header", Vector(kSmallBridge).substr(0, 10), PdqImageOutcome::kCorrupt},
      {"png with a zero width",
       std::string("\x89PNG\r\n\x1A\n\0\0\0\x0DIHDR\0\0\0\0\0\0\0\x01\x08\x02\0\0\0", 29),
       PdqImageOutcome::kCorrupt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<PdqImageResult> result = matcher->MatchImage(AsBytes(c.bytes));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->outcome, c.want) << result->message;
    EXPECT_FALSE(result->message.empty());
    EXPECT_TRUE(result->matches.empty());
  }
}

TEST(PdqMatcher, ListManagementAndValidation) {
  PdqMatcherOptions bad;
  bad.fast_extra_radius = -1;
  EXPECT_EQ(PdqMatcher::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);

  std::unique_ptr<PdqMatcher> matcher = MakeMatcher();
  ASSERT_NE(matcher, nullptr);
  PdqListPolicy over;
  over.threshold = 257;
  EXPECT_EQ(matcher->SetList("l", "v", over, {}).code(), absl::StatusCode::kInvalidArgument);
  PdqListPolicy quality;
  quality.min_quality = 101;
  EXPECT_EQ(matcher->SetList("l", "v", quality, {}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(matcher->SetList("", "v", PdqListPolicy{}, {}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(matcher->SetAllowlist("a", "v", -1, {}).code(), absl::StatusCode::kInvalidArgument);
  absl::Status long_id =
      matcher->SetList("l", "v", PdqListPolicy{}, {Entry(PdqHash{}, std::string(2000, 'x'))});
  EXPECT_EQ(long_id.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(long_id.message()), HasSubstr("PDQ list 'l' version v"));
  EXPECT_TRUE(matcher->Lists().empty());

  const PdqDihedral object = ReferenceDihedral(kBridge);
  const PdqHash base = object.hashes[PdqDihedral::kOriginal];
  ASSERT_TRUE(
      matcher->SetList("b", "b1", PdqListPolicy{}, {Entry(base, "b-0"), Entry(Flip(base, 2), "b-2")}).ok());
  ASSERT_TRUE(matcher->SetList("a", "a1", PdqListPolicy{}, {}).ok());
  ASSERT_TRUE(matcher->SetAllowlist("fp", "f1", 8, {Entry(Flip(base, 100), "fp-1")}).ok());
  std::vector<PdqListInfo> lists = matcher->Lists();
  ASSERT_EQ(lists.size(), 3u);
  EXPECT_EQ(lists[0].name, "a");
  EXPECT_EQ(lists[0].entries, 0u);
  EXPECT_EQ(lists[1].name, "b");
  EXPECT_EQ(lists[1].version, "b1");
  EXPECT_EQ(lists[1].entries, 2u);
  EXPECT_EQ(lists[2].name, "fp");
  EXPECT_EQ(lists[2].kind, PdqListKind::kAllowlist);
  EXPECT_EQ(lists[2].policy.threshold, 8);

  EXPECT_EQ(MatchIds(matcher->MatchHash(object, 100).matches),
            (std::vector<std::string>{"b@b1/b-0", "b@b1/b-2"}));
  EXPECT_TRUE(matcher->RemoveEntry(PdqListKind::kBlocklist, "b", "b-0"));
  EXPECT_FALSE(matcher->RemoveEntry(PdqListKind::kBlocklist, "b", "b-0"));
  EXPECT_FALSE(matcher->RemoveEntry(PdqListKind::kAllowlist, "b", "b-2"));
  EXPECT_EQ(MatchIds(matcher->MatchHash(object, 100).matches), std::vector<std::string>{"b@b1/b-2"});
  EXPECT_EQ(matcher->Lists()[1].entries, 1u);

  // A new version replaces the old one entirely.
  ASSERT_TRUE(matcher->SetList("b", "b2", PdqListPolicy{}, {Entry(Flip(base, 4), "b-4")}).ok());
  EXPECT_EQ(MatchIds(matcher->MatchHash(object, 100).matches), std::vector<std::string>{"b@b2/b-4"});
  EXPECT_TRUE(matcher->RemoveList("b"));
  EXPECT_FALSE(matcher->RemoveList("b"));
  EXPECT_TRUE(matcher->MatchHash(object, 100).matches.empty());
  EXPECT_FALSE(matcher->HasEntries());
}

// Lookups run while a list flips between two versions with the same hash
// under different ids. Every lookup must see exactly one complete version.
TEST(PdqMatcher, LookupsDuringListReplacementSeeOneCompleteVersion) {
  std::unique_ptr<PdqMatcher> matcher = MakeMatcher();
  ASSERT_NE(matcher, nullptr);
  const PdqHash target = ReferenceHash(kSmallBridge);
  std::mt19937_64 rng(7);
  auto version = [&](const std::string& v) {
    std::vector<PdqIndexEntry> entries;
    entries.push_back(Entry(target, "hit-" + v));
    for (int i = 0; i < 5000; ++i) {  // far from the target: random hashes
      PdqHash h;
      for (uint16_t& w : h.words) w = static_cast<uint16_t>(rng());
      if (h.Distance(target) > 64) entries.push_back(Entry(h, v + "-" + std::to_string(i)));
    }
    return entries;
  };
  const std::vector<PdqIndexEntry> v1 = version("v1");
  const std::vector<PdqIndexEntry> v2 = version("v2");
  ASSERT_TRUE(matcher->SetList("l", "v1", PdqListPolicy{}, v1).ok());

  const std::string image = Vector(kSmallBridge);
  const PdqDihedral object = ReferenceDihedral(kSmallBridge);
  std::atomic<bool> done{false};
  std::atomic<int> lookups{0};
  std::atomic<int> bad{0};
  auto check = [&](const std::vector<PdqListMatch>& matches) {
    const bool ok =
        matches.size() == 1 && ((matches[0].list_version == "v1" && matches[0].entry_id == "hit-v1") ||
                                (matches[0].list_version == "v2" && matches[0].entry_id == "hit-v2"));
    if (!ok) ++bad;
    ++lookups;
  };
  std::thread by_hash([&] {
    while (!done) check(matcher->MatchHash(object, object.quality).matches);
  });
  std::thread by_image([&] {
    while (!done) {
      absl::StatusOr<PdqImageResult> result = matcher->MatchImage(AsBytes(image));
      if (!result.ok() || result->outcome != PdqImageOutcome::kHashed) {
        ++bad;
        continue;
      }
      check(result->matches);
    }
  });
  for (int i = 0; i < 12; ++i) {
    const bool to_v2 = i % 2 == 0;
    ASSERT_TRUE(matcher->SetList("l", to_v2 ? "v2" : "v1", PdqListPolicy{}, to_v2 ? v2 : v1).ok());
  }
  done = true;
  by_hash.join();
  by_image.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(lookups.load(), 12);
  EXPECT_EQ(MatchIds(matcher->MatchHash(object, object.quality).matches),
            std::vector<std::string>{"l@v1/hit-v1"});
}

}  // namespace
}  // namespace takedown
