// ScratchDir: a fresh directory under /tmp for one test, removed with everything
// in it when the test ends. Header-only, no dependencies beyond gtest.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "gtest/gtest.h"

namespace takedown::testing {

class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = "/tmp/takedown_test_XXXXXX";
    EXPECT_NE(mkdtemp(pattern.data()), nullptr) << "mkdtemp failed";
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace takedown::testing
