// Loading and validating takedownd's YAML config (schema and defaults:
// docs/configuration.md, config/examples/full.yaml).
//
// Every schema problem is reported, not only the first: the error is
// InvalidArgument whose message has one line per problem (at most 20, then a
// count of the rest), each `<file>:<line>:<col>: <path>: <problem>`, e.g.
//   demo.yaml:3:12: daemon.workers: expected an integer 0..256, got 'many'
// YAML syntax errors read `<file>:<line>:<col>: YAML syntax error: <what>`.
//
// Relative paths (daemon.data_dir, sources[].root, lists[].path,
// notices.file_drop.directory) are resolved against the directory of the
// config file and returned absolute and lexically normalised (symlinks are
// not followed).
//
// Thread-safe: the functions share no state.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "config/config.h"

namespace takedown {

// Larger config files are refused.
inline constexpr size_t kMaxConfigFileBytes = 1 << 20;

// Reads and validates the file at `path`. NotFound if it does not exist;
// the result's source_path is the file's absolute path.
absl::StatusOr<TakedownConfig> LoadConfigFile(const std::string& path);

// Validates `yaml` from memory; `name` is the file name used in error
// messages, `base_dir` the directory relative paths are resolved against
// (itself made absolute against the working directory; "" means the working
// directory). The result's source_path is "<string>".
absl::StatusOr<TakedownConfig> ParseConfig(std::string_view yaml, const std::string& name,
                                           const std::string& base_dir);

}  // namespace takedown
