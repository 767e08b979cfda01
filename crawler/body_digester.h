// BodyDigester: MD5, SHA-1 and SHA-256 of a byte stream fed in pieces, for
// fetched HTTP bodies and re-checked objects.
//
// crawler/ links no crypto library (ARCHITECTURE.md: common, libcurl,
// libarchive), so the digests come in through this interface: daemon/ wires a
// BodyDigesterFactory that wraps matcher/multi_digester.h; tests wrap OpenSSL
// directly. A factory is called once per body and must be safe to call from
// any thread; each BodyDigester is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "common/digest_set.h"

namespace takedown {

class BodyDigester {
 public:
  virtual ~BodyDigester() = default;
  virtual void Update(std::span<const uint8_t> data) = 0;
  // The digests of everything fed so far. Called at most once.
  virtual DigestSet Finish() = 0;
};

using BodyDigesterFactory = std::function<std::unique_ptr<BodyDigester>()>;

}  // namespace takedown
