#include "crawler/http_object_reader.h"

#include <algorithm>
#include <cstring>

namespace takedown {

absl::StatusOr<size_t> HttpObjectReader::Read(std::span<uint8_t> buffer) {
  const size_t n = std::min(buffer.size(), fetch_.body.size() - offset_);
  if (n > 0) std::memcpy(buffer.data(), fetch_.body.data() + offset_, n);
  offset_ += n;
  return n;
}

}  // namespace takedown
