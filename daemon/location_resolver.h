// LocationResolver: maps the URL an order names ("https://files.example/u/1.jpg")
// to the stored object behind it (source id and key), so the order can be
// executed on the right object and re-checked.
//
// PrefixLocationResolver (daemon/prefix_location_resolver.h) is the
// configurable implementation. Implementations must be thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace takedown {

struct ResolvedLocation {
  std::string source_id;
  std::string key;

  friend bool operator==(const ResolvedLocation&, const ResolvedLocation&) = default;
};

class LocationResolver {
 public:
  virtual ~LocationResolver() = default;
  // NotFound when no source of this service serves the URL; InvalidArgument
  // for a URL that cannot name an object (e.g. ".." segments).
  virtual absl::StatusOr<ResolvedLocation> Resolve(std::string_view url) const = 0;
};

}  // namespace takedown
