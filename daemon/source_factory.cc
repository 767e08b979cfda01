#include "daemon/source_factory.h"

#include <memory>
#include <utility>

#include "common/status_macros.h"
#include "crawler/filesystem_source.h"
#include "crawler/s3_source.h"
#include "crawler/url_list_source.h"
#include "daemon/multi_body_digester.h"
#include "fmt/format.h"

namespace takedown {
namespace {

absl::StatusOr<SourcePtr> MakeFilesystem(const SourceConfig& config) {
  FilesystemSourceOptions options;
  options.id = config.id;
  options.root = config.filesystem.root;
  options.include = config.filesystem.include;
  options.exclude = config.filesystem.exclude;
  ASSIGN_OR_RETURN(std::unique_ptr<FilesystemSource> source, FilesystemSource::Create(options));
  return SourcePtr(std::move(source));
}

absl::StatusOr<SourcePtr> MakeS3(const SourceConfig& config) {
  const S3SourceConfig& c = config.s3;
  S3SourceOptions options;
  options.id = config.id;
  options.bucket = c.bucket;
  options.prefix = c.prefix;
  options.client.endpoint = c.endpoint;
  options.client.region = c.region;
  options.client.addressing = c.addressing == "virtual-host" ? S3Addressing::kVirtualHost : S3Addressing::kPath;
  options.client.verify_tls = c.verify_tls;
  options.client.ca_file = c.ca_file;
  options.client.max_concurrent_requests = c.max_concurrent_requests;
  options.credentials.file = c.credentials_file;
  options.credentials.access_key_env = c.access_key_env;
  options.credentials.secret_key_env = c.secret_key_env;
  options.credentials.session_token_env = c.session_token_env;
  options.credentials.anonymous = c.anonymous;
  options.quarantine_bucket = c.quarantine_bucket;
  options.quarantine_prefix = c.quarantine_prefix;
  options.list_versions = c.list_versions;
  ASSIGN_OR_RETURN(std::unique_ptr<S3Source> source, S3Source::Create(std::move(options)));
  return SourcePtr(std::move(source));
}

absl::StatusOr<SourcePtr> MakeUrlList(const SourceConfig& config) {
  const UrlListSourceConfig& c = config.url_list;
  UrlListSourceOptions options;
  options.id = config.id;
  options.file = c.file;
  options.digester = MultiBodyDigesterFactory();
  options.fetcher.allow_private_addresses = c.allow_private_addresses;
  options.fetcher.max_body_bytes = c.max_body_bytes;
  options.fetcher.max_redirects = c.max_redirects;
  options.fetcher.max_concurrent_per_host = c.max_concurrent_per_host;
  options.fetcher.max_requests_per_second_per_host = c.max_requests_per_second_per_host;
  options.fetcher.request_burst_per_host = c.max_requests_per_second_per_host;
  options.fetcher.verify_tls = c.verify_tls;
  options.fetcher.ca_file = c.ca_file;
  ASSIGN_OR_RETURN(std::unique_ptr<UrlListSource> source, UrlListSource::Create(std::move(options)));
  return SourcePtr(std::move(source));
}

}  // namespace

absl::StatusOr<SourcePtr> MakeSource(const SourceConfig& config) {
  absl::StatusOr<SourcePtr> source;
  if (config.type == "filesystem") {
    source = MakeFilesystem(config);
  } else if (config.type == "s3") {
    source = MakeS3(config);
  } else if (config.type == "url_list") {
    source = MakeUrlList(config);
  } else {
    return absl::InvalidArgumentError(fmt::format(
        "source {}: type '{}' is not supported; use filesystem, s3 or url_list", config.id, config.type));
  }
  if (!source.ok()) return Annotate(source.status(), fmt::format("source {}", config.id));
  return source;
}

}  // namespace takedown
