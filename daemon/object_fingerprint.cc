#include "daemon/object_fingerprint.h"

#include <vector>

#include "common/hex.h"
#include "common/status_macros.h"
#include "fmt/format.h"

namespace takedown {

absl::StatusOr<CaseObject> FingerprintObject(Source& source, std::string_view key,
                                             const BodyDigesterFactory& digester, uint64_t max_bytes,
                                             const ByteTee& tee) {
  ASSIGN_OR_RETURN(ObjectRef ref, source.Stat(key));
  if (ref.size > max_bytes) {
    return absl::ResourceExhaustedError(fmt::format("{}: {}: {} bytes, over the {} bytes read for evidence",
                                                    source.id(), ref.key, ref.size, max_bytes));
  }
  std::unique_ptr<BodyDigester> digests = digester ? digester() : nullptr;
  if (digests == nullptr) return absl::InternalError("cannot set up the digests for the order's evidence");
  ASSIGN_OR_RETURN(std::unique_ptr<ObjectReader> reader, source.Open(ref));
  std::vector<uint8_t> buffer(1 << 20);
  uint64_t total = 0;
  while (true) {
    ASSIGN_OR_RETURN(size_t n, reader->Read(buffer));
    if (n == 0) break;
    total += n;
    if (total > max_bytes) {
      return absl::ResourceExhaustedError(fmt::format(
          "{}: {}: larger than {} bytes (limits.max_object_bytes)", source.id(), ref.key, max_bytes));
    }
    digests->Update(std::span<const uint8_t>(buffer.data(), n));
    if (tee) RETURN_IF_ERROR(tee(std::span<const uint8_t>(buffer.data(), n)));
  }
  const DigestSet set = digests->Finish();
  CaseObject object;
  object.source_id = source.id();
  object.key = ref.key;
  object.version = ref.version;
  object.size = total;
  object.md5_hex = HexEncode(set.md5);
  object.sha1_hex = HexEncode(set.sha1);
  object.sha256_hex = HexEncode(set.sha256);
  return object;
}

}  // namespace takedown
