// libFuzzer target for the config parser: any bytes must give either a
// config whose paths are absolute or an InvalidArgument error whose every
// line names the file; never a crash, hang or other status.
//
//   clang++ -std=c++20 -fsanitize=fuzzer,address ... tests/fuzz/config_fuzz.cc
//   ./config_fuzz tests/fuzz/corpus/config
//
// Also built with tests/fuzz/fuzz_replay_main.cc as `config_fuzz_replay`,
// which replays the seed corpus under ctest.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "config/config_loader.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

bool IsAbsolute(const std::string& path) { return !path.empty() && path.front() == '/'; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<takedown::TakedownConfig> config = takedown::ParseConfig(yaml, "fuzz.yaml", "/fuzz/base");
  if (!config.ok()) {
    Check(config.status().code() == absl::StatusCode::kInvalidArgument);
    const std::string message(config.status().message());
    Check(!message.empty());
    size_t start = 0;
    while (start <= message.size()) {
      Check(message.compare(start, 9, "fuzz.yaml") == 0);
      const size_t end = message.find('\n', start);
      if (end == std::string::npos) break;
      start = end + 1;
    }
    return 0;
  }
  Check(IsAbsolute(config->daemon.data_dir));
  for (const takedown::SourceConfig& source : config->sources) {
    Check(!source.id.empty());
    Check(IsAbsolute(source.filesystem.root));
    Check(!source.filesystem.include.empty());
  }
  for (const takedown::HashListConfig& list : config->lists) {
    Check(!list.name.empty());
    Check(IsAbsolute(list.path));
  }
  if (config->notices.file_drop) {
    Check(IsAbsolute(config->notices.file_drop->directory));
  }
  Check(config->daemon.workers >= 0 && config->daemon.workers <= 256);
  return 0;
}
