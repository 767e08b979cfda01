// ContentChecker: is a case's material still where it was? The case engine
// asks at every re-check timer (and before counting a penalty period): gone,
// access disabled or changed bytes resolve the case as removed; still present
// repeats the notice; an error changes nothing and is counted.
//
// Production implementations fetch again through crawler/recheck.h
// (RecheckUrl for reported URLs, RecheckObject for an object of a configured
// source); tests use a scripted fake. Called without any case-engine lock
// held, possibly from the engine's timer thread: implementations must be
// thread-safe and may block (network).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "crawler/recheck.h"
#include "notices/case.h"

namespace takedown {

struct ContentCheck {
  RecheckOutcome outcome = RecheckOutcome::kError;
  std::string reason;  // for the audit trail: "HTTP 404", "sha256 differs", ...
};

class ContentChecker {
 public:
  virtual ~ContentChecker() = default;
  // An error status is treated like RecheckOutcome::kError.
  virtual absl::StatusOr<ContentCheck> Recheck(const Case& c) = 0;
};

}  // namespace takedown
