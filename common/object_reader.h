// ObjectReader: a streaming reader over one stored object's bytes. Sources
// (crawler/) produce them; digesters and decoders (matcher/) consume them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/status/statusor.h"

namespace takedown {

class ObjectReader {
 public:
  virtual ~ObjectReader() = default;
  // Reads up to buffer.size() bytes. Returns 0 at end of object.
  // An error (object vanished, I/O error) ends the read.
  virtual absl::StatusOr<size_t> Read(std::span<uint8_t> buffer) = 0;
};

}  // namespace takedown
