// CollectingSink: a ListingSink that keeps what a source lists, for tests
// of the sources. Stops the listing after `stop_after` objects.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crawler/source.h"

namespace takedown::testing {

class CollectingSink : public ListingSink {
 public:
  explicit CollectingSink(size_t stop_after = SIZE_MAX) : stop_after_(stop_after) {}
  bool OnObject(ObjectRef ref) override {
    objects.push_back(std::move(ref));
    return objects.size() < stop_after_;
  }
  void OnSkipped(std::string_view key, std::string_view reason) override {
    skipped.emplace_back(std::string(key), std::string(reason));
  }
  std::vector<std::string> Keys() const {
    std::vector<std::string> keys;
    for (const ObjectRef& ref : objects) keys.push_back(ref.key);
    return keys;
  }
  std::map<std::string, std::string> Versions() const {
    std::map<std::string, std::string> versions;
    for (const ObjectRef& ref : objects) versions[ref.key] = ref.version;
    return versions;
  }

  std::vector<ObjectRef> objects;
  std::vector<std::pair<std::string, std::string>> skipped;

 private:
  size_t stop_after_;
};

}  // namespace takedown::testing
