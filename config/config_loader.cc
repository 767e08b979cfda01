#include "config/config_loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/status_macros.h"
#include "config/scalars.h"
#include "config/yaml_reader.h"
#include "fmt/format.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/parser.h"
#include "yaml-cpp/yaml.h"

namespace takedown {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxSources = 1024;
constexpr size_t kMaxLists = 1024;
constexpr size_t kMaxLegalProfiles = 64;
constexpr size_t kMaxProviders = 10'000;
constexpr size_t kMaxChannels = 64;
constexpr size_t kMaxPatterns = 1024;
constexpr size_t kMaxIdBytes = 64;

constexpr std::string_view kFilesystemType = "filesystem";
constexpr std::string_view kS3Type = "s3";
constexpr std::string_view kUrlListType = "url_list";

bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdBytes) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
  }
  return true;
}

// Returns `path` joined to `base` when relative, normalised, without a
// trailing separator.
std::string ResolvePath(const fs::path& base, const std::string& path) {
  fs::path resolved = fs::path(path);
  if (!resolved.is_absolute()) resolved = base / resolved;
  resolved = resolved.lexically_normal();
  if (!resolved.has_filename() && resolved != resolved.root_path()) {
    resolved = resolved.parent_path();
  }
  return resolved.string();
}

// Reads one config document into a TakedownConfig. Holds the state shared
// across sections (the base directory, the ids seen).
class ConfigReader {
 public:
  ConfigReader(SchemaReader& reader, fs::path base_dir) : reader_(reader), base_dir_(std::move(base_dir)) {}

  void Read(const YAML::Node& document, TakedownConfig& config) {
    MapReader top(reader_, reader_.Root(document));
    if (std::optional<YamlField> field = top.Required("daemon")) {
      ReadDaemon(*field, config.daemon);
    }
    if (std::optional<YamlField> field = top.Optional("limits")) {
      ReadLimits(*field, config.limits);
    }
    if (std::optional<YamlField> field = top.Optional("sources")) {
      reader_.ForEach(*field, kMaxSources,
                      [&](const YamlField& item) { config.sources.push_back(ReadSource(item)); });
    }
    if (std::optional<YamlField> field = top.Optional("lists")) {
      reader_.ForEach(*field, kMaxLists,
                      [&](const YamlField& item) { config.lists.push_back(ReadList(item)); });
    }
    if (std::optional<YamlField> field = top.Optional("matcher")) {
      ReadMatcher(*field, config.matcher);
    }
    if (std::optional<YamlField> field = top.Optional("notices")) {
      ReadNotices(*field, config.notices);
    }
    // After lists and notices: the cases section names them.
    if (std::optional<YamlField> field = top.Optional("cases")) {
      ReadCases(*field, config);
    }
    if (std::optional<YamlField> field = top.Optional("orders")) {
      ReadOrders(*field, config.orders);
    }
    if (std::optional<YamlField> field = top.Optional("legal_profiles")) {
      reader_.ForEach(*field, kMaxLegalProfiles, [&](const YamlField& item) {
        config.legal_profiles.push_back(ReadLegalProfile(item));
      });
    }
    if (std::optional<YamlField> field = top.Optional("authority")) {
      ReadAuthority(*field, config.authority);
    }
    if (std::optional<YamlField> field = top.Optional("providers")) {
      reader_.ForEach(*field, kMaxProviders,
                      [&](const YamlField& item) { config.providers.push_back(ReadProvider(item)); });
    }
    if (std::optional<YamlField> field = top.Optional("rdap")) {
      config.rdap = ReadRdap(*field);
    }
    top.Finish();
  }

 private:
  void ReadDaemon(const YamlField& field, DaemonConfig& daemon) {
    MapReader map(reader_, field);
    map.ReadChoice<Role>("role",
                         {{RoleName(Role::kHostingProvider), Role::kHostingProvider},
                          {RoleName(Role::kAuthority), Role::kAuthority}},
                         &daemon.role);
    ReadPath(map.Required("data_dir"), &daemon.data_dir);
    ReadListenAddress(map.Optional("grpc_listen"), &daemon.grpc_listen);
    ReadListenAddress(map.Optional("http_listen"), &daemon.http_listen);
    map.ReadInteger("workers", 0, 256, &daemon.workers);
    map.ReadInteger("queue_capacity", 1, 1'000'000, &daemon.queue_capacity);
    map.ReadChoice<std::string>("log_level",
                                {{"trace", "trace"},
                                 {"debug", "debug"},
                                 {"info", "info"},
                                 {"warn", "warn"},
                                 {"error", "error"},
                                 {"critical", "critical"},
                                 {"off", "off"}},
                                &daemon.log_level);
    map.ReadInteger("checkpoint_every", 1, 1'000'000, &daemon.checkpoint_every);
    map.Finish();
  }

  void ReadLimits(const YamlField& field, LimitsConfig& limits) {
    constexpr uint64_t kPiB = 1ull << 50;
    MapReader map(reader_, field);
    map.ReadByteSize("max_object_bytes", 1, kPiB, &limits.max_object_bytes);
    map.ReadByteSize("read_buffer_bytes", 4 << 10, 64 << 20, &limits.read_buffer_bytes);
    map.ReadByteSize("hash_list_max_line_bytes", 64, 1 << 20, &limits.hash_list_max_line_bytes);
    map.ReadInteger("hash_list_max_entries", 1, 10'000'000'000, &limits.hash_list_max_entries);
    map.ReadByteSize("hash_list_max_bytes", 1, kPiB, &limits.hash_list_max_bytes);
    map.ReadInteger("max_image_pixels", 1, uint64_t{1} << 40, &limits.max_image_pixels);
    map.ReadByteSize("max_image_bytes", 1, 4ull << 30, &limits.max_image_bytes);
    map.ReadInteger("archive_max_depth", 0, 32, &limits.archive_max_depth);
    map.ReadInteger("archive_max_members", 1, 100'000'000, &limits.archive_max_members);
    map.ReadByteSize("archive_max_total_bytes", 1, kPiB, &limits.archive_max_total_bytes);
    map.ReadByteSize("archive_max_member_bytes", 1, kPiB, &limits.archive_max_member_bytes);
    map.ReadInteger("archive_max_ratio", 1, 100'000, &limits.archive_max_ratio);
    map.ReadByteSize("archive_max_buffered_bytes", 1 << 20, 4ull << 30, &limits.archive_max_buffered_bytes);
    map.Finish();
  }

  SourceConfig ReadSource(const YamlField& field) {
    SourceConfig source;
    MapReader map(reader_, field);
    ReadId(map.Required("id"), "source id", source_ids_, &source.id);
    // Empty unless the type is valid and known.
    std::string type;
    if (std::optional<YamlField> type_field = map.Required("type")) {
      std::optional<std::string> text = reader_.String(*type_field);
      if (text && (*text == kFilesystemType || *text == kS3Type || *text == kUrlListType)) {
        type = std::move(*text);
      } else if (text) {
        reader_.Error(*type_field, fmt::format("unknown source type {}; expected one of {}, {}, {}",
                                               QuoteForMessage(*text), kFilesystemType, kS3Type, kUrlListType));
      }
    }
    ReadDuration(map.Optional("rescan_interval"), &source.rescan_interval_seconds);
    if (type.empty()) {
      // The other keys depend on the type: judging them would only add noise.
      map.IgnoreUndeclaredKeys();
    } else if (type == kFilesystemType) {
      source.type = type;
      const std::string detail = fmt::format(" for type {}", type);
      FilesystemSourceConfig& filesystem = source.filesystem;
      ReadPath(map.Required("root", detail), &filesystem.root);
      if (!source.id.empty() && !filesystem.root.empty()) filesystem_roots_[source.id] = filesystem.root;
      if (std::optional<YamlField> include = map.Optional("include")) {
        ReadPatterns(*include, /*allow_empty=*/false, &filesystem.include);
      }
      if (std::optional<YamlField> exclude = map.Optional("exclude")) {
        ReadPatterns(*exclude, /*allow_empty=*/true, &filesystem.exclude);
      }
      ReadBool(map, "watch", &source.watch);
    } else if (type == kS3Type) {
      source.type = type;
      const std::string detail = fmt::format(" for type {}", type);
      S3SourceConfig& s3 = source.s3;
      if (std::optional<YamlField> endpoint = map.Required("endpoint", detail)) {
        if (std::optional<std::string> text = reader_.String(*endpoint)) {
          if (!text->starts_with("http://") && !text->starts_with("https://")) {
            reader_.Error(*endpoint, fmt::format("expected http(s)://host[:port], got {}", QuoteForMessage(*text)));
          }
          s3.endpoint = std::move(*text);
        }
      }
      map.ReadString("region", &s3.region);
      if (std::optional<YamlField> bucket = map.Required("bucket", detail)) {
        if (std::optional<std::string> text = reader_.String(*bucket)) s3.bucket = std::move(*text);
      }
      map.ReadString("prefix", &s3.prefix);
      map.ReadChoice<std::string>("addressing", {{"path", "path"}, {"virtual-host", "virtual-host"}},
                                  &s3.addressing);
      ReadPath(map.Optional("credentials_file"), &s3.credentials_file);
      map.ReadString("access_key_env", &s3.access_key_env);
      map.ReadString("secret_key_env", &s3.secret_key_env);
      map.ReadString("session_token_env", &s3.session_token_env);
      ReadBool(map, "anonymous", &s3.anonymous);
      ReadBool(map, "verify_tls", &s3.verify_tls);
      ReadPath(map.Optional("ca_file"), &s3.ca_file);
      map.ReadInteger("max_concurrent_requests", 1, 1024, &s3.max_concurrent_requests);
      map.ReadString("quarantine_bucket", &s3.quarantine_bucket);
      map.ReadString("quarantine_prefix", &s3.quarantine_prefix);
      ReadBool(map, "list_versions", &s3.list_versions);
    } else {
      source.type = type;
      const std::string detail = fmt::format(" for type {}", type);
      UrlListSourceConfig& urls = source.url_list;
      ReadPath(map.Required("file", detail), &urls.file);
      ReadBool(map, "allow_private_addresses", &urls.allow_private_addresses);
      map.ReadByteSize("max_body_bytes", 1, 4ull << 30, &urls.max_body_bytes);
      map.ReadInteger("max_redirects", 0, 20, &urls.max_redirects);
      map.ReadInteger("max_concurrent_per_host", 1, 64, &urls.max_concurrent_per_host);
      map.ReadInteger("max_requests_per_second_per_host", 1, 1000, &urls.max_requests_per_second_per_host);
      ReadBool(map, "verify_tls", &urls.verify_tls);
      ReadPath(map.Optional("ca_file"), &urls.ca_file);
    }
    map.Finish();
    return source;
  }

  HashListConfig ReadList(const YamlField& field) {
    HashListConfig list;
    MapReader map(reader_, field);
    ReadId(map.Required("name"), "list name", list_names_, &list.name);
    ReadPath(map.Required("path"), &list.path);
    map.ReadChoice<ListKind>("kind",
                             {{ListKindName(ListKind::kBlocklist), ListKind::kBlocklist},
                              {ListKindName(ListKind::kAllowlist), ListKind::kAllowlist}},
                             &list.kind);
    map.ReadInteger("pdq_threshold", 0, 256, &list.pdq_threshold);
    map.ReadInteger("pdq_min_quality", 0, 100, &list.pdq_min_quality);
    ReadBool(map, "auto_action", &list.auto_action);
    map.Finish();
    list_kinds_[list.name] = list.kind;
    return list;
  }

  void ReadMatcher(const YamlField& field, MatcherConfig& matcher) {
    MapReader map(reader_, field);
    map.ReadChoice<PdqMode>("pdq",
                            {{PdqModeName(PdqMode::kOff), PdqMode::kOff},
                             {PdqModeName(PdqMode::kExact), PdqMode::kExact},
                             {PdqModeName(PdqMode::kFast), PdqMode::kFast}},
                            &matcher.pdq);
    map.ReadInteger("pdq_fast_extra_radius", 0, 64, &matcher.pdq_fast_extra_radius);
    map.Finish();
  }

  void ReadNotices(const YamlField& field, NoticesConfig& notices) {
    MapReader map(reader_, field);
    if (std::optional<YamlField> file_drop_field = map.Optional("file_drop")) {
      MapReader file_drop(reader_, *file_drop_field);
      if (file_drop.valid()) {
        FileDropConfig config;
        ReadPath(file_drop.Required("directory"), &config.directory);
        channel_names_.emplace("file_drop", file_drop_field->mark.line + 1);
        notices.file_drop = std::move(config);
      }
      file_drop.Finish();
    }
    if (std::optional<YamlField> field = map.Optional("webhooks")) {
      reader_.ForEach(*field, kMaxChannels, [&](const YamlField& item) {
        MapReader hook(reader_, item);
        WebhookConfig config;
        ReadId(hook.Required("name"), "channel name", channel_names_, &config.name);
        ReadRequiredString(hook, "url", &config.url);
        ReadPath(hook.Required("secret_file"), &config.secret_file);
        ReadPath(hook.Optional("ca_file"), &config.ca_file);
        hook.Finish();
        notices.webhooks.push_back(std::move(config));
      });
    }
    if (std::optional<YamlField> field = map.Optional("smtp")) {
      reader_.ForEach(*field, kMaxChannels, [&](const YamlField& item) {
        MapReader smtp(reader_, item);
        SmtpConfig config;
        ReadId(smtp.Required("name"), "channel name", channel_names_, &config.name);
        ReadRequiredString(smtp, "url", &config.url);
        smtp.ReadChoice<std::string>("starttls", {{"required", "required"}, {"none", "none"}}, &config.starttls);
        smtp.ReadString("username", &config.username);
        ReadPath(smtp.Optional("password_file"), &config.password_file);
        ReadRequiredString(smtp, "from", &config.from);
        smtp.ReadString("from_name", &config.from_name);
        if (std::optional<YamlField> to = smtp.Required("to")) {
          if (std::optional<std::vector<std::string>> list = reader_.StringList(*to, 100)) {
            if (list->empty()) {
              reader_.Error(*to, "expected at least one address");
            } else {
              config.to = std::move(*list);
            }
          }
        }
        if (std::optional<YamlField> languages = smtp.Optional("languages")) {
          if (std::optional<std::vector<std::string>> list = reader_.StringList(*languages, 2)) {
            bool ok = !list->empty();
            for (const std::string& l : *list) ok = ok && (l == "nl" || l == "en");
            if (ok) {
              config.languages = std::move(*list);
            } else {
              reader_.Error(*languages, "expected one or two of nl, en");
            }
          }
        }
        ReadPath(smtp.Optional("ca_file"), &config.ca_file);
        smtp.Finish();
        notices.smtp.push_back(std::move(config));
      });
    }
    map.Finish();
  }

  void ReadCases(const YamlField& field, TakedownConfig& config) {
    CasesConfig& cases = config.cases;
    MapReader map(reader_, field);
    if (std::optional<YamlField> allowlist = map.Optional("review_allowlist")) {
      if (std::optional<std::string> name = reader_.String(*allowlist)) {
        auto it = list_kinds_.find(*name);
        if (it == list_kinds_.end()) {
          reader_.Error(*allowlist, fmt::format("no list named {} in lists; add it there with kind: allowlist",
                                                QuoteForMessage(*name)));
        } else if (it->second != ListKind::kAllowlist) {
          reader_.Error(*allowlist, fmt::format("list {} is a {}; review_allowlist must name a list of kind "
                                                "allowlist, or rejections would add to a blocklist",
                                                QuoteForMessage(*name), ListKindName(it->second)));
        } else {
          cases.review_allowlist = std::move(*name);
        }
      }
    }
    ReadBool(map, "auto_fine_on_proposal", &cases.auto_fine_on_proposal);
    ReadChannelName(map.Optional("feedback_channel"), &cases.feedback_channel);
    if (std::optional<YamlField> content_provider = map.Optional("content_provider")) {
      MapReader cp(reader_, *content_provider);
      ReadChannelName(cp.Required("channel"), &cases.content_provider_channel);
      ReadRequiredString(cp, "provider_name", &cases.provider_name);
      ReadRequiredString(cp, "complaint_contact", &cases.complaint_contact);
      ReadBool(cp, "online_platform", &cases.online_platform);
      cp.Finish();
    }
    ReadBool(map, "recheck_allow_private_addresses", &cases.recheck_allow_private_addresses);
    map.Finish();
  }

  void ReadOrders(const YamlField& field, OrdersConfig& orders) {
    MapReader map(reader_, field);
    ReadPath(map.Optional("inbox"), &orders.inbox);
    if (std::optional<YamlField> poll = map.Optional("poll_interval")) {
      int64_t seconds = orders.poll_interval_seconds;
      ReadDuration(poll, &seconds);
      if (seconds < 1 || seconds > 3600) {
        reader_.Error(*poll, fmt::format("expected a duration from 1s to 1h, got {}s", seconds));
      } else {
        orders.poll_interval_seconds = seconds;
      }
    }
    map.ReadChoice<std::string>("action",
                                {{"disable", "disable"}, {"quarantine", "quarantine"}, {"delete", "delete"}},
                                &orders.action);
    ReadBool(map, "execute", &orders.execute);
    std::optional<YamlField> quarantine_field = map.Optional("quarantine_dir");
    ReadPath(quarantine_field, &orders.quarantine_dir);
    std::optional<YamlField> preserve_dir_field = map.Optional("preserve_dir");
    ReadPath(preserve_dir_field, &orders.preserve_dir);
    std::optional<YamlField> preserve_key_field = map.Optional("preserve_key_file");
    ReadPath(preserve_key_field, &orders.preserve_key_file);
    if (orders.preserve_dir.empty() != orders.preserve_key_file.empty()) {
      reader_.Error(preserve_dir_field ? *preserve_dir_field : *preserve_key_field,
                    "preserve_dir and preserve_key_file go together: set both (create the key with "
                    "`takedownctl preservation keygen --out FILE`) or neither");
    }
    if (std::optional<YamlField> locations = map.Optional("locations")) {
      reader_.ForEach(*locations, kMaxSources, [&](const YamlField& item) {
        MapReader entry(reader_, item);
        OrderLocationConfig location;
        if (std::optional<YamlField> prefix = entry.Required("url_prefix")) {
          if (std::optional<std::string> text = reader_.String(*prefix)) {
            if ((!text->starts_with("http://") && !text->starts_with("https://")) || !text->ends_with("/")) {
              reader_.Error(*prefix, fmt::format("expected an absolute http(s) URL ending in '/', got {}",
                                                 QuoteForMessage(*text)));
            } else {
              location.url_prefix = std::move(*text);
            }
          }
        }
        if (std::optional<YamlField> source = entry.Required("source")) {
          if (std::optional<std::string> id = reader_.String(*source)) {
            if (!source_ids_.contains(*id)) {
              reader_.Error(*source, fmt::format("no source with id {}; expected one of the ids under sources",
                                                 QuoteForMessage(*id)));
            } else {
              location.source = std::move(*id);
            }
          }
        }
        entry.ReadString("key_prefix", &location.key_prefix);
        entry.Finish();
        orders.locations.push_back(std::move(location));
      });
    }
    for (const auto& [id, root] : filesystem_roots_) {
      if (!orders.preserve_dir.empty() &&
          (orders.preserve_dir == root || orders.preserve_dir.starts_with(root + "/"))) {
        reader_.Error(*preserve_dir_field,
                      fmt::format("preserve_dir {} lies inside the root of source {}; sealed files would be "
                                  "swept. Choose a directory outside it",
                                  QuoteForMessage(orders.preserve_dir), QuoteForMessage(id)));
      }
      if (orders.quarantine_dir.empty()) {
        // With a vault, quarantine seals the content there instead.
        if (orders.action != "quarantine" || !orders.preserve_dir.empty()) continue;
        for (const OrderLocationConfig& location : orders.locations) {
          if (location.source == id) {
            reader_.Error(field,
                          fmt::format("action quarantine on filesystem source {} needs quarantine_dir, a "
                                      "directory outside every source root",
                                      QuoteForMessage(id)));
            break;
          }
        }
      } else if (orders.quarantine_dir == root || orders.quarantine_dir.starts_with(root + "/")) {
        reader_.Error(
            *quarantine_field,
            fmt::format("quarantine_dir {} lies inside the root of source {}; quarantined files would "
                        "be swept again. Choose a directory outside it",
                        QuoteForMessage(orders.quarantine_dir), QuoteForMessage(id)));
      }
    }
    map.Finish();
  }

  // A profile name: 1..64 of [a-z0-9-].
  bool ValidProfileName(const YamlField& field, const std::string& name) {
    const bool ok = !name.empty() && name.size() <= 64 &&
                    name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos;
    if (!ok) {
      reader_.Error(field,
                    fmt::format("expected a profile name of 1 to 64 characters a-z, 0-9 and '-', got {}",
                                QuoteForMessage(name)));
    }
    return ok;
  }

  void ReadProfileName(const std::optional<YamlField>& field, std::string* out) {
    if (!field) return;
    if (std::optional<std::string> text = reader_.String(*field); text && ValidProfileName(*field, *text)) {
      *out = std::move(*text);
    }
  }

  // A channel configured under notices (read before the sections naming one).
  void ReadChannelName(const std::optional<YamlField>& field, std::string* out) {
    if (!field) return;
    std::optional<std::string> name = reader_.String(*field);
    if (!name) return;
    if (!channel_names_.contains(*name)) {
      reader_.Error(*field, fmt::format("no notice channel named {}; configure it under notices",
                                        QuoteForMessage(*name)));
      return;
    }
    *out = std::move(*name);
  }

  void ReadOptionalDuration(MapReader& map, std::string_view key, std::optional<int64_t>* out) {
    if (std::optional<YamlField> field = map.Optional(key)) {
      int64_t seconds = -1;
      ReadDuration(field, &seconds);
      if (seconds >= 0) *out = seconds;
    }
  }

  void ReadOptionalBool(MapReader& map, std::string_view key, std::optional<bool>* out) {
    if (!map.Optional(key)) return;
    bool value = false;
    ReadBool(map, key, &value);
    *out = value;
  }

  // "5000", "2500.50": a non-negative decimal amount with at most two
  // decimals, as cents.
  void ReadAmount(MapReader& map, std::string_view key, int64_t* cents) {
    std::optional<YamlField> field = map.Optional(key);
    if (!field) return;
    std::optional<std::string> text = reader_.String(*field);
    if (!text) return;
    std::optional<int64_t> parsed = ParseDecimalHundredths(*text, 13);
    if (!parsed) {
      reader_.Error(*field,
                    fmt::format("expected an amount such as 5000 or 2500.50 (at most 13 digits before "
                                "the point and 2 after), got {}",
                                QuoteForMessage(*text)));
      return;
    }
    *cents = *parsed;
  }

  EscalationStepConfig ReadEscalationStep(const YamlField& field) {
    EscalationStepConfig step;
    MapReader map(reader_, field);
    if (std::optional<YamlField> kind = map.Required("kind")) {
      if (std::optional<std::string> text = reader_.String(*kind)) {
        if (*text == "reminder" || *text == "penalty_order" || *text == "fine_proposal" ||
            *text == "referral") {
          step.kind = std::move(*text);
        } else {
          reader_.Error(*kind, fmt::format("unknown escalation step {}; expected reminder, penalty_order, "
                                           "fine_proposal or referral",
                                           QuoteForMessage(*text)));
        }
      }
    }
    ReadDuration(map.Optional("after_deadline"), &step.after_deadline_seconds);
    ReadAmount(map, "amount", &step.amount_cents);
    ReadAmount(map, "cap", &step.cap_cents);
    if (std::optional<YamlField> percent = map.Optional("cap_turnover_percent")) {
      if (std::optional<std::string> text = reader_.String(*percent)) {
        std::optional<int64_t> basis_points = ParseDecimalHundredths(*text, 3);
        if (!basis_points || *basis_points > 10000) {
          reader_.Error(*percent, fmt::format("expected a percentage from 0 to 100 with at most 2 decimals, "
                                              "got {}",
                                              QuoteForMessage(*text)));
        } else {
          step.cap_turnover_basis_points = static_cast<int>(*basis_points);
        }
      }
    }
    ReadDuration(map.Optional("period"), &step.period_seconds);
    map.ReadString("currency", &step.currency);
    map.ReadString("basis", &step.basis);
    map.Finish();
    return step;
  }

  LegalProfileConfig ReadLegalProfile(const YamlField& field) {
    LegalProfileConfig profile;
    MapReader map(reader_, field);
    if (std::optional<YamlField> name = map.Required("name")) {
      if (std::optional<std::string> text = reader_.String(*name); text && ValidProfileName(*name, *text)) {
        if (!profile_names_.insert(*text).second) {
          reader_.Error(*name, fmt::format("legal profile {} is configured twice; merge the two entries",
                                           QuoteForMessage(*text)));
        }
        profile.name = std::move(*text);
      }
    }
    ReadProfileName(map.Optional("base"), &profile.base);
    if (std::optional<YamlField> basis = map.Optional("legal_basis")) {
      if (std::optional<std::string> text = reader_.String(*basis)) profile.legal_basis = std::move(*text);
    }
    ReadOptionalDuration(map, "removal_deadline", &profile.removal_deadline_seconds);
    if (std::optional<YamlField> reminders = map.Optional("reminders")) {
      std::vector<int64_t> offsets;
      reader_.ForEach(*reminders, 16, [&](const YamlField& item) {
        int64_t seconds = -1;
        ReadDuration(item, &seconds);
        if (seconds >= 0) offsets.push_back(seconds);
      });
      profile.reminder_seconds = std::move(offsets);
    }
    if (std::optional<YamlField> escalation = map.Optional("escalation")) {
      std::vector<EscalationStepConfig> steps;
      reader_.ForEach(*escalation, 16,
                      [&](const YamlField& item) { steps.push_back(ReadEscalationStep(item)); });
      profile.escalation = std::move(steps);
    }
    ReadOptionalDuration(map, "preservation_period", &profile.preservation_period_seconds);
    ReadOptionalBool(map, "preserve_content", &profile.preserve_content);
    ReadOptionalBool(map, "inform_content_provider", &profile.inform_content_provider);
    ReadOptionalBool(map, "feedback_to_issuer", &profile.feedback_to_issuer);
    ReadOptionalBool(map, "statement_of_reasons", &profile.statement_of_reasons);
    if (map.Optional("review")) {
      std::string review;
      map.ReadChoice<std::string>("review",
                                  {{"human_review", "human_review"},
                                   {"review_perceptual", "review_perceptual"},
                                   {"authority_decided", "authority_decided"}},
                                  &review);
      if (!review.empty()) profile.review = std::move(review);
    }
    ReadOptionalDuration(map, "recheck_interval", &profile.recheck_interval_seconds);
    if (map.Optional("max_recheck_cycles")) {
      int cycles = 0;
      map.ReadInteger("max_recheck_cycles", 0, 1000, &cycles);
      profile.max_recheck_cycles = cycles;
    }
    map.Finish();
    return profile;
  }

  void ReadAuthority(const YamlField& field, AuthorityConfig& authority) {
    MapReader map(reader_, field);
    map.ReadString("name", &authority.name);
    if (std::optional<YamlField> state = map.Optional("member_state")) {
      if (std::optional<std::string> text = reader_.String(*state)) {
        if (text->size() != 2 || !std::isupper(static_cast<unsigned char>((*text)[0])) ||
            !std::isupper(static_cast<unsigned char>((*text)[1]))) {
          reader_.Error(*state, fmt::format("expected a two-letter ISO 3166-1 code such as NL, got {}",
                                            QuoteForMessage(*text)));
        } else {
          authority.member_state = std::move(*text);
        }
      }
    }
    map.ReadString("contact", &authority.contact);
    map.ReadString("redress", &authority.redress);
    map.Finish();
  }

  ProviderConfig ReadProvider(const YamlField& field) {
    ProviderConfig provider;
    MapReader map(reader_, field);
    ReadRequiredString(map, "name", &provider.name);
    if (std::optional<YamlField> hosts = map.Required("hosts")) {
      if (std::optional<std::vector<std::string>> list = reader_.StringList(*hosts, 256)) {
        if (list->empty()) reader_.Error(*hosts, "expected at least one host name");
        for (std::string& host : *list) {
          if (host.empty() || host.find_first_of("/:@ ") != std::string::npos) {
            reader_.Error(*hosts, fmt::format("expected host names such as files.example.net, got {}",
                                              QuoteForMessage(host)));
          }
          std::transform(host.begin(), host.end(), host.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        }
        provider.hosts = std::move(*list);
      }
    }
    ReadChannelName(map.Required("channel"), &provider.channel);
    ReadProfileName(map.Optional("profile"), &provider.profile);
    map.ReadString("contact_point", &provider.contact_point);
    map.Finish();
    return provider;
  }

  RdapConfig ReadRdap(const YamlField& field) {
    RdapConfig rdap;
    MapReader map(reader_, field);
    if (std::optional<YamlField> url = map.Required("base_url")) {
      if (std::optional<std::string> text = reader_.String(*url)) {
        if (!text->starts_with("https://") && !text->starts_with("http://")) {
          reader_.Error(*url, fmt::format("expected an http(s) URL, got {}", QuoteForMessage(*text)));
        } else {
          rdap.base_url = std::move(*text);
        }
      }
    }
    ReadChannelName(map.Required("channel"), &rdap.channel);
    ReadProfileName(map.Optional("profile"), &rdap.profile);
    if (std::optional<YamlField> timeout = map.Optional("timeout")) {
      int64_t seconds = rdap.timeout_seconds;
      ReadDuration(timeout, &seconds);
      if (seconds < 1 || seconds > 300) {
        reader_.Error(*timeout, fmt::format("expected a duration from 1s to 5m, got {}s", seconds));
      } else {
        rdap.timeout_seconds = seconds;
      }
    }
    ReadDuration(map.Optional("cache_ttl"), &rdap.cache_ttl_seconds);
    ReadBool(map, "allow_private_addresses", &rdap.allow_private_addresses);
    ReadBool(map, "allow_insecure_http", &rdap.allow_insecure_http);
    ReadPath(map.Optional("ca_file"), &rdap.ca_file);
    map.Finish();
    return rdap;
  }

  void ReadRequiredString(MapReader& map, std::string_view key, std::string* out) {
    if (std::optional<YamlField> field = map.Required(key)) {
      if (std::optional<std::string> text = reader_.String(*field)) *out = std::move(*text);
    }
  }

  static void ReadBool(MapReader& map, std::string_view key, bool* out) {
    map.ReadChoice<bool>(key, {{"true", true}, {"false", false}}, out);
  }

  void ReadDuration(const std::optional<YamlField>& field, int64_t* out) {
    if (!field) return;
    std::optional<std::string> text = reader_.String(*field);
    if (!text) return;
    std::optional<int64_t> seconds = ParseDurationSeconds(*text);
    if (!seconds) {
      reader_.Error(*field, fmt::format("expected a duration such as 0, 90s, 15m, 24h or 7d, got {}",
                                        QuoteForMessage(*text)));
      return;
    }
    *out = *seconds;
  }

  void ReadPath(const std::optional<YamlField>& field, std::string* out) {
    if (!field) return;
    if (std::optional<std::string> path = reader_.String(*field)) {
      *out = ResolvePath(base_dir_, *path);
    }
  }

  void ReadListenAddress(const std::optional<YamlField>& field, std::string* out) {
    if (!field) return;
    std::optional<std::string> text = reader_.String(*field);
    if (!text) return;
    if (!ParseHostPort(*text)) {
      reader_.Error(*field, fmt::format("expected host:port with a port 0..65535 "
                                        "(e.g. 127.0.0.1:9464 or [::1]:9464), got {}",
                                        QuoteForMessage(*text)));
      return;
    }
    *out = std::move(*text);
  }

  // `seen` maps ids to the line of their first use, for duplicates.
  void ReadId(const std::optional<YamlField>& field, std::string_view what,
              std::map<std::string, int, std::less<>>& seen, std::string* out) {
    if (!field) return;
    std::optional<std::string> id = reader_.String(*field);
    if (!id) return;
    if (!IsValidId(*id)) {
      reader_.Error(*field, fmt::format("expected a {}: 1..{} characters of a-z, 0-9, "
                                        "'.', '_', '-', starting with a letter or "
                                        "digit, got {}",
                                        what, kMaxIdBytes, QuoteForMessage(*id)));
      return;
    }
    auto [it, inserted] = seen.emplace(*id, field->mark.line + 1);
    if (!inserted) {
      reader_.Error(*field, fmt::format("duplicate {} '{}' (first at line {})", what, *id, it->second));
      return;
    }
    *out = std::move(*id);
  }

  void ReadPatterns(const YamlField& field, bool allow_empty, std::vector<std::string>* out) {
    std::optional<std::vector<std::string>> patterns = reader_.StringList(field, kMaxPatterns);
    if (!patterns) return;
    if (patterns->empty() && !allow_empty) {
      reader_.Error(field,
                    "expected at least one pattern (\"**\" matches "
                    "everything), got an empty sequence");
      return;
    }
    *out = std::move(*patterns);
  }

  SchemaReader& reader_;
  const fs::path base_dir_;
  std::map<std::string, int, std::less<>> source_ids_;
  std::map<std::string, int, std::less<>> list_names_;
  std::map<std::string, int, std::less<>> channel_names_;
  std::map<std::string, ListKind, std::less<>> list_kinds_;
  std::map<std::string, std::string, std::less<>> filesystem_roots_;  // source id -> root
  std::set<std::string, std::less<>> profile_names_;
};

// Records the position of the first event of a document.
class DocumentStartHandler : public YAML::EventHandler {
 public:
  std::optional<YAML::Mark> start() const { return start_; }

  void OnDocumentStart(const YAML::Mark& mark) override { Note(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Note(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Note(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
    Note(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Note(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Note(mark);
  }
  void OnMapEnd() override {}

 private:
  void Note(const YAML::Mark& mark) {
    if (!start_) start_ = mark;
  }

  std::optional<YAML::Mark> start_;
};

// Returns where a second document starts, if `text` has one. Not
// YAML::LoadAll: yaml-cpp 0.7 yields empty documents forever after a stray
// ',' ("{a: b},"), so LoadAll never returns; here the parser is asked for at
// most two documents. Throws what the parser throws.
std::optional<YAML::Mark> SecondDocumentStart(const std::string& text) {
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DocumentStartHandler first;
  if (!parser.HandleNextDocument(first)) return std::nullopt;
  DocumentStartHandler second;
  if (!parser.HandleNextDocument(second)) return std::nullopt;
  return second.start().value_or(YAML::Mark());
}

absl::StatusOr<fs::path> AbsoluteDirectory(const std::string& dir) {
  std::error_code error;
  fs::path absolute = dir.empty() ? fs::current_path(error) : fs::absolute(dir, error);
  if (error) {
    return absl::InvalidArgumentError(
        fmt::format("cannot make the config directory '{}' absolute: {}", dir, error.message()));
  }
  return absolute.lexically_normal();
}

}  // namespace

absl::StatusOr<TakedownConfig> ParseConfig(std::string_view yaml, const std::string& name,
                                           const std::string& base_dir) {
  if (yaml.size() > kMaxConfigFileBytes) {
    return absl::InvalidArgumentError(fmt::format("{}: config is {} bytes; the limit is {}", name,
                                                  yaml.size(), FormatByteSize(kMaxConfigFileBytes)));
  }
  ASSIGN_OR_RETURN(const fs::path base, AbsoluteDirectory(base_dir));

  const std::string text(yaml);
  YAML::Node document;
  std::optional<YAML::Mark> second_document;
  try {
    document.reset(YAML::Load(text));
    second_document = SecondDocumentStart(text);
  } catch (const YAML::Exception& e) {
    SchemaErrors errors(name);
    errors.AddRaw(e.mark, fmt::format("YAML syntax error: {}", EscapeForMessage(e.msg, 200)));
    return errors.ToStatus();
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        fmt::format("{}: cannot parse YAML: {}", name, EscapeForMessage(e.what(), 200)));
  }

  SchemaReader reader(name);
  TakedownConfig config;
  config.source_path = "<string>";
  try {
    if (second_document) {
      reader.errors().Add(*second_document, "",
                          "expected a single YAML document, found another "
                          "one here");
    }
    ConfigReader(reader, base).Read(document, config);
  } catch (const std::exception& e) {
    return absl::InternalError(
        fmt::format("{}: unexpected error while reading the config: {}", name, e.what()));
  }
  RETURN_IF_ERROR(reader.errors().ToStatus());
  return config;
}

absl::StatusOr<TakedownConfig> LoadConfigFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) {
      return absl::NotFoundError(fmt::format("config file '{}' does not exist", path));
    }
    return absl::ErrnoToStatus(error, fmt::format("cannot open config file '{}'", path));
  }
  struct stat info {};
  if (fstat(fd, &info) == 0 && S_ISDIR(info.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(fmt::format("config file '{}' is a directory", path));
  }
  std::string content;
  char buffer[64 << 10];
  while (content.size() <= kMaxConfigFileBytes) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      close(fd);
      return absl::ErrnoToStatus(error, fmt::format("cannot read config file '{}'", path));
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  if (content.size() > kMaxConfigFileBytes) {
    return absl::InvalidArgumentError(fmt::format("{}: config file is larger than the limit of {}", path,
                                                  FormatByteSize(kMaxConfigFileBytes)));
  }

  std::error_code error;
  const fs::path absolute = fs::absolute(path, error).lexically_normal();
  if (error) {
    return absl::InvalidArgumentError(
        fmt::format("cannot make config file path '{}' absolute: {}", path, error.message()));
  }
  absl::StatusOr<TakedownConfig> config = ParseConfig(content, path, absolute.parent_path().string());
  if (config.ok()) config->source_path = absolute.string();
  return config;
}

}  // namespace takedown
