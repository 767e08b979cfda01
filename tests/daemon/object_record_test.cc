#include "daemon/object_record.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/time/time.h"

namespace takedown {
namespace {

ObjectRecord FullRecord() {
  ObjectRecord r;
  r.source_id = "disk-1";
  r.key = std::string("dir/na\0me\xff.jpg", 15);
  r.version = "4096:1700000000123456789:42";
  r.size = 4096;
  r.status = ObjectStatus::kHashed;
  for (size_t i = 0; i < r.digests.md5.size(); ++i) r.digests.md5[i] = static_cast<uint8_t>(i + 1);
  for (size_t i = 0; i < r.digests.sha1.size(); ++i) r.digests.sha1[i] = static_cast<uint8_t>(0xf0 - i);
  for (size_t i = 0; i < r.digests.sha256.size(); ++i) r.digests.sha256[i] = static_cast<uint8_t>(i * 7);
  r.content_type = "image/jpeg";
  r.sweep_id = "disk-1-1700000000000000";
  r.match_count = 3;
  r.swept_at = absl::FromUnixMicros(1'700'000'000'123'456);
  return r;
}

void ExpectSame(const ObjectRecord& a, const ObjectRecord& b) {
  EXPECT_EQ(a.source_id, b.source_id);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.digests.md5, b.digests.md5);
  EXPECT_EQ(a.digests.sha1, b.digests.sha1);
  EXPECT_EQ(a.digests.sha256, b.digests.sha256);
  EXPECT_EQ(a.content_type, b.content_type);
  EXPECT_EQ(a.sweep_id, b.sweep_id);
  EXPECT_EQ(a.match_count, b.match_count);
  EXPECT_EQ(a.swept_at, b.swept_at);
}

TEST(ObjectRecordTest, HashedRecordRoundTripsWithBinaryKey) {
  ObjectRecord r = FullRecord();
  std::string encoded = EncodeObjectRecord(r);
  EXPECT_LT(encoded.size(), 200u);
  absl::StatusOr<ObjectRecord> decoded = DecodeObjectRecord(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSame(r, *decoded);
}

TEST(ObjectRecordTest, PdqFieldsRoundTrip) {
  ObjectRecord r = FullRecord();
  r.pdq_outcome = "hashed";
  r.pdq_dihedral.assign(256, '\0');
  for (size_t i = 0; i < r.pdq_dihedral.size(); ++i) r.pdq_dihedral[i] = static_cast<char>(i * 13);
  r.pdq_quality = 87;
  r.pdq_mode = "fast";
  r.pdq_implementation = "takedown-pdq/1";
  r.image_width = 4032;
  r.image_height = 3024;
  r.vetoed_matches = 2;
  absl::StatusOr<ObjectRecord> decoded = DecodeObjectRecord(EncodeObjectRecord(r));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSame(r, *decoded);
  EXPECT_EQ(decoded->pdq_outcome, "hashed");
  EXPECT_EQ(decoded->pdq_dihedral, r.pdq_dihedral);
  EXPECT_EQ(decoded->pdq_quality, 87);
  EXPECT_EQ(decoded->pdq_mode, "fast");
  EXPECT_EQ(decoded->pdq_implementation, "takedown-pdq/1");
  EXPECT_EQ(decoded->image_width, 4032u);
  EXPECT_EQ(decoded->image_height, 3024u);
  EXPECT_EQ(decoded->vetoed_matches, 2u);

  ObjectRecord corrupt = FullRecord();
  corrupt.pdq_outcome = "corrupt";
  corrupt.pdq_message = "JPEG cut short";
  decoded = DecodeObjectRecord(EncodeObjectRecord(corrupt));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->pdq_outcome, "corrupt");
  EXPECT_EQ(decoded->pdq_message, "JPEG cut short");
  EXPECT_TRUE(decoded->pdq_dihedral.empty());
}

TEST(ObjectRecordTest, FailedRecordKeepsErrorAndNegativeTime) {
  ObjectRecord r;
  r.source_id = "s";
  r.key = "gone.txt";
  r.status = ObjectStatus::kFailed;
  r.error = "open gone.txt: No such file or directory";
  r.swept_at = absl::FromUnixMicros(-5);
  absl::StatusOr<ObjectRecord> decoded = DecodeObjectRecord(EncodeObjectRecord(r));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSame(r, *decoded);
  ObjectRecord skipped = r;
  skipped.status = ObjectStatus::kSkipped;
  decoded = DecodeObjectRecord(EncodeObjectRecord(skipped));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->status, ObjectStatus::kSkipped);
}

TEST(ObjectRecordTest, ReadsLegacyJsonRecords) {
  std::string json =
      R"({"source_id":"disk-1","key":"a/b.txt","version":"3:5:7","size":3,"status":"hashed",)"
      R"("sweep_id":"sw","match_count":1,"swept_at_us":1700000000000000,)"
      R"("md5":"0102030405060708090a0b0c0d0e0f10","content_type":"text/plain"})";
  absl::StatusOr<ObjectRecord> decoded = DecodeObjectRecord(json);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->key, "a/b.txt");
  EXPECT_EQ(decoded->version, "3:5:7");
  EXPECT_EQ(decoded->digests.md5[0], 1);
  EXPECT_EQ(decoded->digests.md5[15], 0x10);
  EXPECT_EQ(decoded->match_count, 1u);
  EXPECT_EQ(decoded->swept_at, absl::FromUnixMicros(1'700'000'000'000'000));
}

TEST(ObjectRecordTest, SkipsUnknownFields) {
  std::string encoded = EncodeObjectRecord(FullRecord());
  // Field 60 as a varint, then field 61 as bytes: what a later version might add.
  encoded.push_back(static_cast<char>(60 << 1));
  encoded.push_back(static_cast<char>(0x96));
  encoded.push_back(0x01);
  encoded.push_back(static_cast<char>(61 << 1 | 1));
  encoded.push_back(3);
  encoded.append("xyz");
  absl::StatusOr<ObjectRecord> decoded = DecodeObjectRecord(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSame(FullRecord(), *decoded);
}

TEST(ObjectRecordTest, EveryTruncationIsDataLossNotACrash) {
  std::string encoded = EncodeObjectRecord(FullRecord());
  int rejected = 0;
  for (size_t n = 0; n < encoded.size(); ++n) {
    absl::StatusOr<ObjectRecord> decoded = DecodeObjectRecord(encoded.substr(0, n));
    // A cut exactly between two fields is a well-formed shorter record.
    if (!decoded.ok()) {
      EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss) << n;
      ++rejected;
    }
  }
  EXPECT_GT(rejected, static_cast<int>(encoded.size()) / 2);
}

TEST(ObjectRecordTest, RejectsUnknownFormatAndBadDigestLength) {
  absl::StatusOr<ObjectRecord> decoded = DecodeObjectRecord(std::string("\x07rest", 5));
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(decoded.status().message()).find("0x07"), std::string::npos);

  std::string bad("\x01", 1);
  bad.push_back(static_cast<char>(7 << 1 | 1));  // md5 with 3 bytes
  bad.push_back(3);
  bad.append("abc");
  decoded = DecodeObjectRecord(bad);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(std::string(decoded.status().message()).find("MD5"), std::string::npos);

  std::string bad_status("\x01", 1);
  bad_status.push_back(static_cast<char>(5 << 1));
  bad_status.push_back(9);
  EXPECT_FALSE(DecodeObjectRecord(bad_status).ok());
  EXPECT_FALSE(DecodeObjectRecord("").ok());
}

}  // namespace
}  // namespace takedown
