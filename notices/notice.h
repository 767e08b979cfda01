// Notice: one message about a case that leaves the system through a channel
// (file drop now; webhook, SMTP, CyberTipline later). Its JSON payload is what
// the receiver gets; it describes the object by metadata and digests and never
// includes the content.
//
// Notice ids are deterministic idempotency keys: the same case, kind, channel
// and sequence number always give the same id, so a notice rebuilt after a
// crash is recognised by the receiver as one it already has. The payload
// carries created_at, so build a notice once, store it in the outbox in the same
// write batch as the case, and always deliver the stored copy.
//
// Notices are plain values; functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "notices/case.h"

namespace takedown {

inline constexpr std::string_view kDetectionNoticeKind = "case.detected";
inline constexpr std::string_view kDefaultNoticeChannel = "file_drop";
// Version of the payload layout; bumped on incompatible changes.
inline constexpr int kNoticePayloadSchemaVersion = 1;
// Bound on a stored notice's serialised payload.
inline constexpr size_t kMaxNoticePayloadBytes = 4 * 1024 * 1024;

struct Notice {
  std::string id;  // idempotency key, see NoticeIdFor
  std::string case_id;
  std::string kind;     // "case.detected", "case.removal_request", "removal_order.feedback", ...
  std::string channel;  // name of the NoticeChannel that delivers it
  nlohmann::json payload;
  absl::Time created_at;

  friend bool operator==(const Notice&, const Notice&) = default;
};

// "n-" + the first 24 hex digits of SHA-256(case_id '\0' kind '\0' channel '\0'
// decimal sequence). `sequence` tells apart repeated notices of one kind on one
// channel (reminder 1, 2, ...); the detection notice uses 0. The channel is part
// of the key so one event fanned out to several channels gives distinct ids.
// The id only contains [a-z0-9-], so channels may use it as a file name.
std::string NoticeIdFor(std::string_view case_id, std::string_view kind, std::string_view channel,
                        uint64_t sequence);

// True for 1..128 characters of [A-Za-z0-9_.-] not starting with '.': every id
// NoticeIdFor makes, and nothing that could escape a directory as a file name.
bool IsSafeNoticeId(std::string_view id);

// The "case.detected" notice for `c` on `channel`, created at `now`. Payload:
//   schema_version, notice_id, kind, case_id, state, category,
//   object {source_id, key, version, size, md5, sha1, sha256, content_type},
//   evidence [{hash_type, digest, list_name, list_version, entry_id, category,
//              distance, threshold, quality, algorithm_version, matched_at}],
//   created_at, content_included: false.
// Object fields that are not valid UTF-8 also get an exact "<field>_hex"
// (e.g. key_hex) next to the readable form, as in CaseToJson.
Notice MakeDetectionNotice(const Case& c, absl::Time now, std::string_view channel = kDefaultNoticeChannel);

// A notice of `kind` about `c` (a removal request, reminder, escalation ...)
// with id NoticeIdFor(c.id, kind, channel, sequence): the detection payload
// above, with this kind and c's current state, plus every member of `extra`
// (a JSON object; its members replace those of the same name), e.g.
// deadline, legal_profile, legal_basis, order_reference, document.
Notice MakeCaseNotice(const Case& c, std::string_view kind, std::string_view channel, uint64_t sequence,
                      absl::Time now, const nlohmann::json& extra = nlohmann::json::object());

// A notice that carries a document addressed to someone outside (an order's
// feedback, RenderFeedback): the payload is `document` (a JSON object) plus
// notice_id, case_id and created_at; its own "kind" member, if any, is kept.
Notice MakeDocumentNotice(std::string_view case_id, std::string_view kind, std::string_view channel,
                          uint64_t sequence, absl::Time now, nlohmann::json document);

// Storage form (RocksDB `outbox` column family). Lossless round trip.
nlohmann::json NoticeToJson(const Notice& notice);
// InvalidArgument naming the notice and field for malformed input; the id must
// satisfy IsSafeNoticeId and the payload
// must be a JSON object no larger than kMaxNoticePayloadBytes serialised.
absl::StatusOr<Notice> NoticeFromJson(const nlohmann::json& json);

}  // namespace takedown
