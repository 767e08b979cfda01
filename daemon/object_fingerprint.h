// FingerprintObject: what a stored object is right now — its version, size
// and MD5/SHA-1/SHA-256 — read through its source, for the evidence of a
// removal order executed on it (daemon/order_intake.h). The bytes are
// digested as they stream; they are kept only by a `tee` the caller gives
// (the preservation vault, for content a legal profile preserves).
//
// Thread-safe if the source and digester factory are.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "absl/status/statusor.h"
#include "crawler/body_digester.h"
#include "crawler/source.h"
#include "notices/case.h"

namespace takedown {

// The source's errors (NotFound when the object is gone); ResourceExhausted
// when its listed size or the bytes read exceed `max_bytes` (nothing is read
// when the size already does); Internal when the digester cannot be made;
// the tee's error. `tee`, when set, receives every byte read, in order.
using ByteTee = std::function<absl::Status(std::span<const uint8_t>)>;
absl::StatusOr<CaseObject> FingerprintObject(Source& source, std::string_view key,
                                             const BodyDigesterFactory& digester, uint64_t max_bytes,
                                             const ByteTee& tee = nullptr);

}  // namespace takedown
