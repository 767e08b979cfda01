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
  // Archive expansion (crawler/archive_expander.h ArchiveLimits; docs/archives.md).
  int archive_max_depth = 3;  // 0: archives are not expanded; 0..32
  uint64_t archive_max_members = 100'000;
  uint64_t archive_max_total_bytes = 8ull << 30;
  uint64_t archive_max_member_bytes = 2ull << 30;
  int archive_max_ratio = 200;  // expanded bytes per archive byte; 1..100'000
  uint64_t archive_max_buffered_bytes = 64ull << 20;

  bool operator==(const LimitsConfig&) const = default;
};

struct FilesystemSourceConfig {
  std::string root;  // REQUIRED when type is "filesystem"
  std::vector<std::string> include = {"**"};
  std::vector<std::string> exclude;

  bool operator==(const FilesystemSourceConfig&) const = default;
};

struct S3SourceConfig {
  std::string endpoint;  // REQUIRED for s3: http(s)://host[:port]
  std::string region = "us-east-1";
  std::string bucket;  // REQUIRED for s3
  std::string prefix;
  std::string addressing = "path";  // "path" | "virtual-host"
  // Exactly one way to get credentials: a file (access_key_id=...,
  // secret_access_key=..., mode 0600), environment variables, or anonymous.
  std::string credentials_file;
  std::string access_key_env;
  std::string secret_key_env;
  std::string session_token_env;
  bool anonymous = false;
  bool verify_tls = true;
  std::string ca_file;
  int max_concurrent_requests = 16;  // 1..1024
  std::string quarantine_bucket;     // empty: the source bucket
  std::string quarantine_prefix = "takedown-quarantine/";
  // List with ListObjectVersions: the version id joins the ETag in the
  // object's version (versioned buckets).
  bool list_versions = false;

  bool operator==(const S3SourceConfig&) const = default;
};

struct UrlListSourceConfig {
  std::string file;  // REQUIRED for url_list: one URL per line
  // Reported URLs may point anywhere; fetching loopback, private and
  // link-local addresses is refused unless this is set.
  bool allow_private_addresses = false;
  uint64_t max_body_bytes = 32ull << 20;
  int max_redirects = 5;            // 0..20
  int max_concurrent_per_host = 4;  // 1..64
  int max_requests_per_second_per_host = 10;  // 1..1000
  bool verify_tls = true;
  std::string ca_file;

  bool operator==(const UrlListSourceConfig&) const = default;
};

struct SourceConfig {
  std::string id;                     // REQUIRED; [a-z0-9][a-z0-9._-]{0,63}, unique
  std::string type;                   // REQUIRED; "filesystem", "s3" or "url_list"
  FilesystemSourceConfig filesystem;  // meaningful when type == "filesystem"
  S3SourceConfig s3;                  // meaningful when type == "s3"
  UrlListSourceConfig url_list;       // meaningful when type == "url_list"
  // Seconds between the end of a full sweep and the start of the next one;
  // 0: sweeps start only when asked (API, takedownctl). Config spelling:
  // a duration ("0", "90s", "15m", "24h", "7d").
  int64_t rescan_interval_seconds = 0;
  // filesystem only: watch the root (inotify) and scan new and changed files
  // within seconds, between full sweeps.
  bool watch = false;

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
  // Exact matches on this blocklist may skip human review where the case's
  // legal profile allows it (CaseEngineOptions::auto_action_lists).
  bool auto_action = false;

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

// A webhook channel (notices/webhook_channel.h): HTTPS POST of each notice,
// signed with HMAC-SHA256 of a secret read from secret_file.
struct WebhookConfig {
  std::string name;         // REQUIRED; channel name, unique among channels
  std::string url;          // REQUIRED; https (http only to loopback)
  std::string secret_file;  // REQUIRED; at least 16 bytes
  std::string ca_file;

  bool operator==(const WebhookConfig&) const = default;
};

// An SMTP channel (notices/smtp_channel.h): one e-mail per notice.
struct SmtpConfig {
  std::string name;  // REQUIRED; channel name, unique among channels
  std::string url;   // REQUIRED; smtp://host[:port] or smtps://host[:port]
  std::string starttls = "required";  // "required" | "none" (loopback only)
  std::string username;
  std::string password_file;  // with username
  std::string from;           // REQUIRED
  std::string from_name;
  std::vector<std::string> to;                     // REQUIRED; 1..100
  std::vector<std::string> languages = {"nl", "en"};  // of the text, in order
  std::string ca_file;

  bool operator==(const SmtpConfig&) const = default;
};

struct NoticesConfig {
  std::optional<FileDropConfig> file_drop;
  std::vector<WebhookConfig> webhooks;
  std::vector<SmtpConfig> smtp;

  bool operator==(const NoticesConfig&) const = default;
};

// The case engine (daemon/case_engine.h; docs/cases.md).
struct CasesConfig {
  // Name of a list of kind allowlist that takes the digests of rejected
  // cases (false positives); empty: rejections feed no allowlist.
  std::string review_allowlist;
  // An escalation's fine proposal moves the case to `fined` by itself.
  bool auto_fine_on_proposal = false;
  // Notice channel for feedback to issuing authorities; empty: the first
  // configured channel.
  std::string feedback_channel;
  // Hosting provider: the document to the affected customer after a removal
  // (TCO Art. 11, DSA Art. 17; notices/content_provider_notice.h). Empty
  // channel: none is made.
  std::string content_provider_channel;
  std::string provider_name;      // required with the channel
  std::string complaint_contact;  // required with the channel: e-mail or https URL
  bool online_platform = false;   // DSA Art. 20/21 apply
  // Re-checks fetch the URL of a case no configured source serves; these
  // addresses are refused unless set (crawler/http_fetcher.h).
  bool recheck_allow_private_addresses = false;

  bool operator==(const CasesConfig&) const = default;
};

// One URL prefix of the order location resolver
// (daemon/prefix_location_resolver.h).
struct OrderLocationConfig {
  std::string url_prefix;  // REQUIRED; absolute http(s) URL ending in '/'
  std::string source;      // REQUIRED; a configured source id
  std::string key_prefix;

  bool operator==(const OrderLocationConfig&) const = default;
};

// Removal orders received by the hosting provider (docs/removal-orders.md).
struct OrdersConfig {
  // Directory watched for order files (*.json); empty: no inbox.
  std::string inbox;
  int64_t poll_interval_seconds = 2;  // config spelling: a duration, 1s..1h
  std::string action = "disable";     // "disable" | "quarantine" | "delete"
  // Carry the action out as soon as an order arrives; false: a person acts
  // (`takedownctl orders execute`, or removes by hand and records it).
  bool execute = true;
  // Where filesystem sources quarantine files; required with action
  // quarantine when an order location names a filesystem source, and never
  // inside a source root.
  std::string quarantine_dir;
  // The preservation vault (docs/preservation.md): removed content is sealed
  // here (AES-256-GCM with the key in preserve_key_file) before `quarantine`,
  // or `delete` under a profile with preserve_content, removes it at the
  // source. Both set or both empty; never inside a source root.
  std::string preserve_dir;
  std::string preserve_key_file;
  std::vector<OrderLocationConfig> locations;

  bool operator==(const OrdersConfig&) const = default;
};

// One escalation step of a legal profile (notices/legal_profile.h
// EscalationStep; docs/legal-profiles.md).
struct EscalationStepConfig {
  std::string kind;  // REQUIRED: reminder | penalty_order | fine_proposal | referral
  int64_t after_deadline_seconds = 0;
  int64_t amount_cents = 0;  // config spelling: a decimal amount, "5000" or "2500.50"
  int64_t cap_cents = 0;
  int cap_turnover_basis_points = 0;  // config spelling: cap_turnover_percent, e.g. 4 or 0.5
  int64_t period_seconds = 0;         // penalty_order: per period; 0: once
  std::string currency = "EUR";
  std::string basis;

  bool operator==(const EscalationStepConfig&) const = default;
};

// Changes to a built-in legal profile, or (with `base`) a new profile made
// from one. Unset members keep the base profile's value; the daemon checks
// the result against the law's limits at start (e.g. at most 12 h for
// nl-csam-instruction).
struct LegalProfileConfig {
  std::string name;  // REQUIRED: a built-in profile, or a new name with `base`
  std::string base;  // the built-in profile a new one starts from
  std::optional<std::string> legal_basis;
  std::optional<int64_t> removal_deadline_seconds;
  std::optional<std::vector<int64_t>> reminder_seconds;  // before the deadline
  std::optional<std::vector<EscalationStepConfig>> escalation;
  std::optional<int64_t> preservation_period_seconds;
  std::optional<bool> preserve_content;
  std::optional<bool> inform_content_provider;
  std::optional<bool> feedback_to_issuer;
  std::optional<bool> statement_of_reasons;
  std::optional<std::string> review;  // human_review | review_perceptual | authority_decided
  std::optional<int64_t> recheck_interval_seconds;
  std::optional<int> max_recheck_cycles;

  bool operator==(const LegalProfileConfig&) const = default;
};

// Authority role: who issues the notices and orders.
struct AuthorityConfig {
  std::string name;
  std::string member_state = "NL";  // ISO 3166-1 alpha-2
  std::string contact;
  std::string redress;  // how a provider objects or appeals

  bool operator==(const AuthorityConfig&) const = default;
};

// Authority role: one hosting provider of the provider table.
struct ProviderConfig {
  std::string name;                // REQUIRED
  std::vector<std::string> hosts;  // REQUIRED; host names, each also matching its subdomains
  std::string channel;             // REQUIRED; a notice channel that reaches the provider
  std::string profile;             // legal profile of its cases; empty: the default
  std::string contact_point;

  bool operator==(const ProviderConfig&) const = default;
};

// Authority role: RDAP lookup of the abuse contact for hosts the provider
// table does not list (daemon/rdap_provider_resolver.h; docs/rdap.md).
struct RdapConfig {
  std::string base_url;  // REQUIRED; https, or http to a loopback host
  std::string channel;   // REQUIRED; notice channel for the providers found
  std::string profile;   // legal profile of their cases; empty: the default
  int64_t timeout_seconds = 15;
  int64_t cache_ttl_seconds = 3600;
  bool allow_private_addresses = false;
  bool allow_insecure_http = false;
  std::string ca_file;

  bool operator==(const RdapConfig&) const = default;
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
  CasesConfig cases;
  OrdersConfig orders;
  std::vector<LegalProfileConfig> legal_profiles;
  AuthorityConfig authority;
  std::vector<ProviderConfig> providers;
  std::optional<RdapConfig> rdap;

  bool operator==(const TakedownConfig&) const = default;
};

}  // namespace takedown
