// libFuzzer target for the RDAP ip-network parser (crawler/rdap_response.h).
// Besides "never crashes", it checks what a successful parse promises under
// small limits: entity count, depth and items within them, every extracted
// string within max_string_bytes, names and e-mail addresses free of control
// characters, abuse_emails drawn only from entities with role "abuse",
// entities ordered nearest first, a bounded warning list; and that a refusal
// is InvalidArgument with a message starting "RDAP response: ".
//
// To fuzz, build this file with clang++ -std=c++20 -I. -fsanitize=fuzzer,address,undefined
// together with crawler/rdap_response.cc and crawler/http_url.cc, linked with
// -lcurl -lfmt and the Abseil status and strings libraries, then run it on the
// seed corpus:
//   ./rdap_response_fuzz -max_len=65536 tests/fuzz/corpus/rdap_response
// The ctest "rdap_response_fuzz_replay" runs the seed corpus without libFuzzer.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "crawler/rdap_response.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

takedown::RdapLimits Limits() {
  takedown::RdapLimits limits;
  limits.max_body_bytes = 64 * 1024;
  limits.max_json_depth = 16;
  limits.max_entity_depth = 3;
  limits.max_entities = 16;
  limits.max_items_per_entity = 16;
  limits.max_string_bytes = 256;
  return limits;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const takedown::RdapLimits limits = Limits();
  absl::StatusOr<takedown::RdapNetwork> network = takedown::ParseRdapIpResponse(text, limits);
  if (!network.ok()) {
    Check(network.status().code() == absl::StatusCode::kInvalidArgument);
    Check(std::string(network.status().message()).rfind("RDAP response: ", 0) == 0);
    return 0;
  }
  const takedown::RdapNetwork& n = *network;
  for (const std::string* s :
       {&n.handle, &n.name, &n.start_address, &n.end_address, &n.ip_version, &n.country}) {
    Check(s->size() <= limits.max_string_bytes);
  }
  Check(!HasControl(n.name));
  Check(n.entities.size() <= limits.max_entities);
  Check(n.warnings.size() <= takedown::kMaxRdapWarnings);
  int previous_depth = 1;
  for (const takedown::RdapEntity& e : n.entities) {
    Check(e.depth >= previous_depth && e.depth <= limits.max_entity_depth);
    previous_depth = e.depth;
    Check(e.roles.size() <= limits.max_items_per_entity && e.emails.size() <= limits.max_items_per_entity);
    Check(e.fn.size() <= limits.max_string_bytes && !HasControl(e.fn));
    Check(e.org.size() <= limits.max_string_bytes && !HasControl(e.org));
    for (const std::string& email : e.emails) {
      Check(!email.empty() && email.size() <= limits.max_string_bytes && !HasControl(email));
      Check(email.find('@') != std::string::npos && email.find(' ') == std::string::npos);
    }
  }
  for (const std::string& email : n.abuse_emails) {
    Check(std::any_of(n.entities.begin(), n.entities.end(), [&](const takedown::RdapEntity& e) {
      return e.HasRole("abuse") && std::find(e.emails.begin(), e.emails.end(), email) != e.emails.end();
    }));
  }
  if (!n.registrant_handle.empty() || !n.registrant.empty()) {
    Check(std::any_of(n.entities.begin(), n.entities.end(),
                      [](const takedown::RdapEntity& e) { return e.HasRole("registrant"); }));
  }
  return 0;
}
