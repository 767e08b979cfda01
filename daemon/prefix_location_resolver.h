// PrefixLocationResolver: a LocationResolver configured with URL prefixes,
// e.g. "https://files.example-hosting.example/u/" -> source "uploads", key
// prefix "u/". The longest matching prefix wins; the rest of the URL path is
// percent-decoded and appended to the key prefix. The query string and
// fragment are ignored. Paths with "." or ".." segments, NUL bytes or an
// empty remainder name no object (InvalidArgument).
//
// Immutable after Create; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/location_resolver.h"

namespace takedown {

struct LocationPrefix {
  std::string url_prefix;  // absolute http(s) URL up to and including a '/'
  std::string source_id;
  std::string key_prefix;  // prepended to the decoded remainder; may be empty
};

class PrefixLocationResolver final : public LocationResolver {
 public:
  // InvalidArgument naming the entry for a prefix that is not an absolute
  // http(s) URL ending in '/', or an empty source id.
  static absl::StatusOr<PrefixLocationResolver> Create(std::vector<LocationPrefix> prefixes);

  absl::StatusOr<ResolvedLocation> Resolve(std::string_view url) const override;

 private:
  explicit PrefixLocationResolver(std::vector<LocationPrefix> prefixes) : prefixes_(std::move(prefixes)) {}

  std::vector<LocationPrefix> prefixes_;  // url_prefix normalised
};

}  // namespace takedown
