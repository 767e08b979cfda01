// libFuzzer target for the removal-order parser (notices/removal_order.h).
// Besides "never crashes", it checks what a successful parse promises: the
// limits on locations and strings, a known profile, the ATKM term bound, a
// lossless round trip through RemovalOrderToJson, and that feedback can be
// rendered for the parsed order.
//
// To fuzz, build this file with clang++ -std=c++20 -I. -fsanitize=fuzzer,address,undefined
// together with notices/removal_order.cc, notices/legal_profile.cc,
// notices/case_state.cc, notices/json_fields.cc and common/hex.cc, linked with -lfmt
// and the Abseil status, strings and time libraries, then run it on the seed corpus:
//   ./removal_order_fuzz -max_len=65536 tests/fuzz/corpus/removal_order
// The ctest "removal_order_fuzz_replay" runs the seed corpus without libFuzzer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "notices/removal_order.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<takedown::RemovalOrder> order = takedown::ParseRemovalOrderJson(text, "fuzz.json");
  if (!order.ok()) {
    Check(order.status().code() == absl::StatusCode::kInvalidArgument);
    Check(std::string(order.status().message()).rfind("fuzz.json: ", 0) == 0);
    return 0;
  }
  Check(!order->locations.empty() && order->locations.size() <= takedown::kMaxRemovalOrderLocations);
  Check(order->profile == "tco-removal-order" || order->profile == "nl-csam-instruction");
  Check(order->order_reference.size() <= takedown::kMaxOrderNameLength);
  for (const takedown::ContentLocation& l : order->locations) {
    Check(!l.url.empty() && l.url.size() <= takedown::kMaxOrderUrlLength);
  }
  if (order->profile == "nl-csam-instruction") {
    Check(order->term > absl::ZeroDuration() && order->term <= absl::Hours(12));
  } else {
    Check(order->term == absl::ZeroDuration());
  }
  absl::StatusOr<takedown::RemovalOrder> again =
      takedown::ParseRemovalOrderJson(takedown::RemovalOrderToJson(*order).dump(), "again.json");
  Check(again.ok() && *again == *order);

  takedown::FeedbackOutcome outcome;
  outcome.at = order->issued_at + absl::Minutes(30);
  Check(takedown::RenderFeedback(*order, outcome).ok());
  return 0;
}
