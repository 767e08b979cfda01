#include "daemon/multi_body_digester.h"

#include <memory>
#include <utility>

#include "matcher/multi_digester.h"

namespace takedown {
namespace {

class MultiBodyDigester final : public BodyDigester {
 public:
  explicit MultiBodyDigester(MultiDigester digester) : digester_(std::move(digester)) {}
  void Update(std::span<const uint8_t> data) override { digester_.Update(data); }
  DigestSet Finish() override { return digester_.Finish(); }

 private:
  MultiDigester digester_;
};

}  // namespace

BodyDigesterFactory MultiBodyDigesterFactory() {
  return []() -> std::unique_ptr<BodyDigester> {
    absl::StatusOr<MultiDigester> digester = MultiDigester::Create();
    if (!digester.ok()) return nullptr;
    return std::make_unique<MultiBodyDigester>(*std::move(digester));
  };
}

}  // namespace takedown
