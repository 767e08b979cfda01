// ListPolicies: how each hash list is used, from the config: a blocklist
// (matches make cases) or an allowlist (known false positives: an object on
// it has every match vetoed), and its PDQ threshold and minimum quality.
// Lists not named in the config (e.g. imported through the API) are
// blocklists with the defaults.
//
// Immutable after construction; thread-safe.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "matcher/pdq_matcher.h"

namespace takedown {

struct ListPolicy {
  bool allowlist = false;
  PdqListPolicy pdq;  // allowlists use only the threshold
};

class ListPolicies {
 public:
  ListPolicies() = default;
  explicit ListPolicies(std::map<std::string, ListPolicy, std::less<>> policies)
      : policies_(std::move(policies)) {}

  const ListPolicy& For(std::string_view list) const {
    auto it = policies_.find(list);
    return it == policies_.end() ? default_ : it->second;
  }
  bool IsAllowlist(std::string_view list) const { return For(list).allowlist; }

 private:
  std::map<std::string, ListPolicy, std::less<>> policies_;
  ListPolicy default_;
};

}  // namespace takedown
