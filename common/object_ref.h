// ObjectRef: one stored object as a source lists it.
//
// `version` is whatever proves the bytes unchanged (filesystem: size, mtime
// and inode; S3: ETag and version id). Two refs with the same source_id, key
// and version are assumed to have identical bytes.
#pragma once

#include <cstdint>
#include <string>

namespace takedown {

struct ObjectRef {
  std::string source_id;
  std::string key;
  std::string version;
  uint64_t size = 0;
};

}  // namespace takedown
