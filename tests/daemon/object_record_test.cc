#include "daemon/object_record.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "crawler/http_url.h"

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

TEST(ObjectRecordTest, ArchiveFieldsRoundTrip) {
  ObjectRecord outer = FullRecord();
  outer.archive_outcome = ArchiveOutcome::kLimit;
  outer.archive_message = "archive x.zip: compression ratio exceeds limits.archive_max_ratio (200)";
  outer.archive_members = 100'001;
  outer.archive_members_unreadable = 3;
  outer.archive_member_matches = 2;
  absl::StatusOr<ObjectRecord> decoded = DecodeObjectRecord(EncodeObjectRecord(outer));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSame(outer, *decoded);
  EXPECT_EQ(decoded->archive_outcome, ArchiveOutcome::kLimit);
  EXPECT_EQ(decoded->archive_message, outer.archive_message);
  EXPECT_EQ(decoded->archive_members, 100'001u);
  EXPECT_EQ(decoded->archive_members_unreadable, 3u);
  EXPECT_EQ(decoded->archive_member_matches, 2u);
  EXPECT_TRUE(decoded->container.empty());

  ObjectRecord member = FullRecord();
  member.key = "x.zip!dir/%2E%2E/a.jpg";
  member.container = "x.zip";
  member.status = ObjectStatus::kFailed;
  member.error = "member is encrypted; it cannot be read without its passphrase";
  decoded = DecodeObjectRecord(EncodeObjectRecord(member));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->key, member.key);
  EXPECT_EQ(decoded->container, "x.zip");
  EXPECT_EQ(decoded->error, member.error);
  EXPECT_EQ(decoded->archive_outcome, ArchiveOutcome::kNone);

  for (ArchiveOutcome o : {ArchiveOutcome::kExpanded, ArchiveOutcome::kCorrupt, ArchiveOutcome::kNotArchive,
                           ArchiveOutcome::kUnreadable, ArchiveOutcome::kDisabled, ArchiveOutcome::kNotExpanded}) {
    ObjectRecord r = FullRecord();
    r.archive_outcome = o;
    decoded = DecodeObjectRecord(EncodeObjectRecord(r));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(decoded->archive_outcome, o) << ArchiveOutcomeName(o);
  }
  EXPECT_EQ(ArchiveOutcomeName(ArchiveOutcome::kLimit), "limit");
  EXPECT_EQ(ArchiveOutcomeName(ArchiveOutcome::kNotArchive), "not_archive");
}

TEST(ObjectRecordTest, RecordWithoutArchiveFieldsEncodesAsBeforeAndReadsAsNone) {
  // A record that is no archive adds no byte: what an earlier release wrote
  // and reads is unchanged, and its records read back with no archive outcome.
  ObjectRecord r = FullRecord();
  std::string plain = EncodeObjectRecord(r);
  r.archive_members = 5;  // ignored without an outcome
  EXPECT_EQ(EncodeObjectRecord(r), plain);
  absl::StatusOr<ObjectRecord> decoded = DecodeObjectRecord(plain);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->archive_outcome, ArchiveOutcome::kNone);
  EXPECT_EQ(decoded->archive_members, 0u);
  EXPECT_TRUE(decoded->container.empty());
}

TEST(ObjectRecordTest, UnknownArchiveOutcomeFromALaterVersionReadsAsNone) {
  ObjectRecord r = FullRecord();
  r.archive_outcome = ArchiveOutcome::kExpanded;
  r.archive_members = 4;
  std::string encoded = EncodeObjectRecord(r);
  encoded.push_back(static_cast<char>(23 << 1));  // the outcome again, as 99: the last one wins
  encoded.push_back(99);
  absl::StatusOr<ObjectRecord> decoded = DecodeObjectRecord(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->archive_outcome, ArchiveOutcome::kNone);
  EXPECT_EQ(decoded->archive_members, 4u);
}

// --- Fetch records (objects read over HTTP) ---

FetchRecord RedirectedFetch() {
  FetchRecord f;
  f.status = 200;
  f.requested_url = "http://reported.example/a";
  f.final_url = "https://cdn.example/x/a.jpg";
  f.hops = {{"http://reported.example/a", 301, "192.0.2.10"},
            {"https://reported.example/a", 302, "192.0.2.10"},
            {"https://cdn.example/x/a.jpg", 200, "2001:db8::7"}};
  f.ip = "2001:db8::7";
  f.content_type = "image/jpeg; charset=binary";
  f.server = "nginx/1.25.3";
  f.etag = "\"5f3a-1c\"";
  f.last_modified = "Tue, 03 Nov 2026 10:00:00 GMT";
  f.started_at = absl::FromUnixMicros(1'800'000'000'250'000);
  f.duration = absl::Milliseconds(734);
  return f;
}

// A record encoder of the test's own, for records as earlier releases wrote
// them (no fetch fields).
void PutTestVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void PutTestInt(std::string& out, int field, uint64_t v) {
  out.push_back(static_cast<char>(field << 1));
  PutTestVarint(out, v);
}
void PutTestBytes(std::string& out, int field, std::string_view bytes) {
  out.push_back(static_cast<char>(field << 1 | 1));
  PutTestVarint(out, bytes.size());
  out.append(bytes);
}

TEST(ObjectRecordTest, FetchRecordRoundTrips) {
  ObjectRecord r = FullRecord();
  r.key = "http://reported.example/a?x=1";
  r.fetch = RedirectedFetch();
  absl::StatusOr<ObjectRecord> decoded = DecodeObjectRecord(EncodeObjectRecord(r));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSame(r, *decoded);
  ASSERT_TRUE(decoded->fetch.has_value());
  EXPECT_EQ(*decoded->fetch, *r.fetch);
  EXPECT_EQ(decoded->fetch->hops[1].status, 302);
  EXPECT_EQ(decoded->fetch->hops[2].ip, "2001:db8::7");
  EXPECT_EQ(decoded->fetch->duration, absl::Milliseconds(734));
}

TEST(ObjectRecordTest, RequestedUrlEqualToTheKeyIsStoredOnceAndReadBack) {
  ObjectRecord r = FullRecord();
  r.key = "http://reported.example/a";
  r.fetch = RedirectedFetch();
  ASSERT_EQ(r.fetch->requested_url, r.key);
  const std::string encoded = EncodeObjectRecord(r);
  ObjectRecord without = r;
  without.fetch->requested_url.clear();
  EXPECT_EQ(EncodeObjectRecord(without), encoded);
  absl::StatusOr<ObjectRecord> decoded = DecodeObjectRecord(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_TRUE(decoded->fetch.has_value());
  EXPECT_EQ(decoded->fetch->requested_url, "http://reported.example/a");
  EXPECT_EQ(*decoded->fetch, *r.fetch);
}

TEST(ObjectRecordTest, FailedFetchesRoundTrip) {
  ObjectRecord gone;
  gone.source_id = "reported-urls";
  gone.key = "http://reported.example/gone.jpg";
  gone.status = ObjectStatus::kFailed;
  gone.error = "URL-list source 'reported-urls': GET http://reported.example/gone.jpg -> 404";
  gone.swept_at = absl::FromUnixSeconds(1'800'000'100);
  FetchRecord f;
  f.status = 404;
  f.requested_url = gone.key;
  f.final_url = gone.key;
  f.hops = {{gone.key, 404, "198.51.100.4"}};
  f.ip = "198.51.100.4";
  f.content_type = "text/html";
  f.server = "Apache";
  f.started_at = absl::FromUnixSeconds(1'800'000'099);
  f.duration = absl::Microseconds(1);
  gone.fetch = f;
  absl::StatusOr<ObjectRecord> decoded = DecodeObjectRecord(EncodeObjectRecord(gone));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSame(gone, *decoded);
  ASSERT_TRUE(decoded->fetch.has_value());
  EXPECT_EQ(*decoded->fetch, f);

  // No response at all: no status, no IP, only the error and the time.
  ObjectRecord timed_out = gone;
  FetchRecord t;
  t.requested_url = gone.key;
  t.final_url = gone.key;
  t.hops = {{gone.key, 0, ""}};
  t.error = "timeout";
  t.started_at = absl::FromUnixMicros(-3);  // before 1970 still reads back
  timed_out.fetch = t;
  decoded = DecodeObjectRecord(EncodeObjectRecord(timed_out));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_TRUE(decoded->fetch.has_value());
  EXPECT_EQ(*decoded->fetch, t);
  EXPECT_EQ(decoded->fetch->status, 0);
  EXPECT_EQ(decoded->fetch->error, "timeout");
}

TEST(ObjectRecordTest, SetFetchRecordCopiesTheEvidenceWithinBounds) {
  HttpFetchResult fetch;
  fetch.requested_url = "http://reported.example/start";
  fetch.final_url = "http://reported.example/" + std::string(kMaxHttpUrlBytes + 100, 'u');
  for (int i = 0; i < 30; ++i) {
    HttpHop hop;
    hop.url = "http://reported.example/" + std::to_string(i);
    hop.status = i + 1 < 30 ? 302 : 200;
    hop.ip = "192.0.2." + std::to_string(i);
    fetch.hops.push_back(hop);
  }
  fetch.status = 200;
  fetch.ip = "192.0.2.29";
  fetch.content_type = "text/html";
  fetch.server = std::string(5000, 's');
  fetch.etag = "\"abc\"";
  fetch.last_modified = "Tue, 03 Nov 2026 10:00:00 GMT";
  fetch.start = absl::FromUnixSeconds(1'800'000'000);
  fetch.duration = absl::Milliseconds(12);
  fetch.body = "not stored";

  ObjectRecord r = FullRecord();
  r.key = fetch.requested_url;
  SetFetchRecord(fetch, r);
  ASSERT_TRUE(r.fetch.has_value());
  const FetchRecord& f = *r.fetch;
  EXPECT_EQ(f.status, 200);
  EXPECT_EQ(f.requested_url, "http://reported.example/start");
  EXPECT_EQ(f.final_url.size(), kMaxHttpUrlBytes);
  ASSERT_EQ(f.hops.size(), FetchRecord::kMaxHops);
  EXPECT_EQ(f.hops_omitted, 30 - FetchRecord::kMaxHops);
  EXPECT_EQ(f.hops[0], (FetchHop{"http://reported.example/0", 302, "192.0.2.0"}));
  EXPECT_EQ(f.hops[20].url, "http://reported.example/20");
  EXPECT_EQ(f.ip, "192.0.2.29");
  EXPECT_EQ(f.server, std::string(FetchRecord::kMaxHeaderValueBytes, 's'));
  EXPECT_EQ(f.etag, "\"abc\"");
  EXPECT_EQ(f.last_modified, "Tue, 03 Nov 2026 10:00:00 GMT");
  EXPECT_TRUE(f.error.empty());
  EXPECT_EQ(f.started_at, absl::FromUnixSeconds(1'800'000'000));
  EXPECT_EQ(f.duration, absl::Milliseconds(12));

  absl::StatusOr<ObjectRecord> decoded = DecodeObjectRecord(EncodeObjectRecord(r));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_TRUE(decoded->fetch.has_value());
  EXPECT_EQ(*decoded->fetch, f);

  HttpFetchResult refused;
  refused.requested_url = "http://10.0.0.1/x";
  refused.final_url = refused.requested_url;
  refused.error = FetchError::kAddressBlocked;
  SetFetchRecord(refused, r);
  EXPECT_EQ(r.fetch->error, "address_blocked");
  EXPECT_EQ(r.fetch->status, 0);
  EXPECT_TRUE(r.fetch->hops.empty());
  EXPECT_EQ(r.fetch->hops_omitted, 0u);
}

TEST(ObjectRecordTest, RecordsOfEarlierReleasesReadWithoutFetchAndEncodeUnchanged) {
  // A failed record as a release before fetch records wrote it, field by field.
  std::string old(1, '\x01');
  PutTestBytes(old, 1, "reported-urls");
  PutTestBytes(old, 2, "http://reported.example/gone");
  PutTestBytes(old, 3, "etag:\"1\"");
  PutTestInt(old, 4, 0);
  PutTestInt(old, 5, 1);
  PutTestBytes(old, 6, "URL-list source 'reported-urls': 404");
  PutTestBytes(old, 11, "reported-urls-1");
  PutTestInt(old, 13, 2 * uint64_t{1'800'000'000'000'000});  // zig-zag of a positive time
  absl::StatusOr<ObjectRecord> decoded = DecodeObjectRecord(old);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->key, "http://reported.example/gone");
  EXPECT_EQ(decoded->status, ObjectStatus::kFailed);
  EXPECT_EQ(decoded->swept_at, absl::FromUnixSeconds(1'800'000'000));
  EXPECT_FALSE(decoded->fetch.has_value());
  // Rewritten without a fetch, it is byte for byte what it was.
  EXPECT_EQ(EncodeObjectRecord(*decoded), old);
  // And a record of any other source gains no byte from the new fields.
  ObjectRecord r = FullRecord();
  std::string plain = EncodeObjectRecord(r);
  r.fetch = RedirectedFetch();
  EXPECT_GT(EncodeObjectRecord(r).size(), plain.size());
  r.fetch.reset();
  EXPECT_EQ(EncodeObjectRecord(r), plain);
}

TEST(ObjectRecordTest, HopsBeyondTheBoundAreCountedNotKept) {
  ObjectRecord r = FullRecord();
  std::string encoded = EncodeObjectRecord(r);
  for (int i = 0; i < 25; ++i) {
    std::string hop;
    PutTestBytes(hop, 1, "http://h.example/" + std::to_string(i));
    PutTestInt(hop, 2, 302);
    PutTestBytes(hop, 3, "192.0.2.1");
    PutTestInt(hop, 9, 7);  // a hop field from a later version: skipped
    PutTestBytes(encoded, 32, hop);
  }
  absl::StatusOr<ObjectRecord> decoded = DecodeObjectRecord(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_TRUE(decoded->fetch.has_value());
  ASSERT_EQ(decoded->fetch->hops.size(), FetchRecord::kMaxHops);
  EXPECT_EQ(decoded->fetch->hops_omitted, 25 - FetchRecord::kMaxHops);
  EXPECT_EQ(decoded->fetch->hops[3], (FetchHop{"http://h.example/3", 302, "192.0.2.1"}));
  // No fetch time was stored: the epoch, and the key stands for the request.
  EXPECT_EQ(decoded->fetch->started_at, absl::UnixEpoch());
  EXPECT_EQ(decoded->fetch->requested_url, r.key);
}

TEST(ObjectRecordTest, EveryTruncationOfAFetchRecordIsDataLossNotACrash) {
  ObjectRecord r = FullRecord();
  r.fetch = RedirectedFetch();
  const std::string encoded = EncodeObjectRecord(r);
  const size_t plain = EncodeObjectRecord(FullRecord()).size();
  int rejected = 0;
  for (size_t n = plain + 1; n < encoded.size(); ++n) {
    absl::StatusOr<ObjectRecord> decoded = DecodeObjectRecord(encoded.substr(0, n));
    if (!decoded.ok()) {
      EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss) << n;
      ++rejected;
    } else {
      // A cut between two fields: a shorter, well-formed fetch record.
      EXPECT_TRUE(decoded->fetch.has_value()) << n;
    }
  }
  EXPECT_GT(rejected, static_cast<int>(encoded.size() - plain) / 2);
}

TEST(ObjectRecordTest, MalformedHopIsDataLoss) {
  for (const std::string& hop : {std::string("\x03\x05" "ab", 4),  // url of 5 bytes, 2 present
                                 std::string("\x04\x80", 2),       // status varint cut short
                                 std::string("\x06", 1)}) {        // ip without a length
    std::string encoded = EncodeObjectRecord(FullRecord());
    PutTestBytes(encoded, 32, hop);
    absl::StatusOr<ObjectRecord> decoded = DecodeObjectRecord(encoded);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(std::string(decoded.status().message()).find("malformed fetch hop"), std::string::npos);
  }
}

}  // namespace
}  // namespace takedown
