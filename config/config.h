// The validated configuration of takedownd, as read from YAML by
// config/config_loader.h. Plain values, copyable and comparable; every field
// starts at its documented default (config/examples/full.yaml shows them all,
// and a test keeps that file equal to these initialisers).
//
// Paths in a loaded config are absolute and lexically normalised.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace takedown {

// What this instance does (see shared ARCHITECTURE.md "roles").
enum class Role {
  kHostingProvider,  // "hosting-provider": sweeps its own storage
  kAuthority,        // "authority": checks reported URLs, issues orders
};

// Returns the config spelling of `role` ("hosting-provider", "authority").
std::string_view RoleName(Role role);

struct DaemonConfig {
  Role role = Role::kHostingProvider;
  std::string data_dir;  // REQUIRED
  std::string grpc_listen = "127.0.0.1:50051";
  std::string http_listen = "127.0.0.1:9464";  // host:port; port 0: OS picks
  int workers = 0;                             // 0 = number of CPUs; 0..256
  int queue_capacity = 256;                    // 1..1'000'000
  std::string log_level = "info";              // trace|debug|info|warn|error|critical|off
  int checkpoint_every = 256;                  // objects between cursor checkpoints

  bool operator==(const DaemonConfig&) const = default;
};

struct LimitsConfig {
  uint64_t max_object_bytes = 64ull << 30;  // larger objects: skipped
  uint64_t read_buffer_bytes = 1 << 20;     // 4 KiB .. 64 MiB
  uint64_t hash_list_max_line_bytes = 4096;
  uint64_t hash_list_max_entries = 100'000'000;
  uint64_t hash_list_max_bytes = 16ull << 30;
  uint64_t max_image_pixels = 1ull << 26;  // larger images: recorded, not decoded
  uint64_t max_image_bytes = 64ull << 20;  // larger image files: not PDQ-hashed

  bool operator==(const LimitsConfig&) const = default;
};

struct FilesystemSourceConfig {
  std::string root;  // REQUIRED when type is "filesystem"
  std::vector<std::string> include = {"**"};
  std::vector<std::string> exclude;

  bool operator==(const FilesystemSourceConfig&) const = default;
};

struct SourceConfig {
  std::string id;                     // REQUIRED; [a-z0-9][a-z0-9._-]{0,63}, unique
  std::string type;                   // REQUIRED; "filesystem"
  FilesystemSourceConfig filesystem;  // meaningful when type == "filesystem"

  bool operator==(const SourceConfig&) const = default;
};

enum class ListKind {
  kBlocklist,  // "blocklist": matches make cases
  kAllowlist,  // "allowlist": known false positives; vetoes matches
};

// "blocklist", "allowlist".
std::string_view ListKindName(ListKind kind);

struct HashListConfig {
  std::string name;  // REQUIRED; same rule as source ids, unique
  std::string path;  // REQUIRED
  ListKind kind = ListKind::kBlocklist;
  int pdq_threshold = 31;    // Hamming distance 0..256, inclusive
  int pdq_min_quality = 50;  // 0..100; blocklists only

  bool operator==(const HashListConfig&) const = default;
};

enum class PdqMode {
  kOff,    // "off": images are not PDQ-hashed
  kExact,  // "exact": full decode, bit-exact with the reference
  kFast,   // "fast": reduced JPEG decode; candidates re-hashed exactly
};

// "off", "exact", "fast".
std::string_view PdqModeName(PdqMode mode);

struct MatcherConfig {
  PdqMode pdq = PdqMode::kExact;
  int pdq_fast_extra_radius = 8;  // 0..64 bits added to a list's threshold in fast mode

  bool operator==(const MatcherConfig&) const = default;
};

struct FileDropConfig {
  std::string directory;  // REQUIRED

  bool operator==(const FileDropConfig&) const = default;
};

struct NoticesConfig {
  std::optional<FileDropConfig> file_drop;

  bool operator==(const NoticesConfig&) const = default;
};

struct TakedownConfig {
  // The file the config was loaded from (absolute), or "<string>" when it
  // was parsed from memory.
  std::string source_path;
  DaemonConfig daemon;
  LimitsConfig limits;
  std::vector<SourceConfig> sources;
  std::vector<HashListConfig> lists;
  MatcherConfig matcher;
  NoticesConfig notices;

  bool operator==(const TakedownConfig&) const = default;
};

}  // namespace takedown
