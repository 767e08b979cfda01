// Status propagation helpers for absl::Status / absl::StatusOr<T>.
//
//   RETURN_IF_ERROR(expr);            // returns the Status if !ok()
//   ASSIGN_OR_RETURN(auto x, expr);   // unwraps a StatusOr or returns its Status
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define TAKEDOWN_CONCAT_INNER(a, b) a##b
#define TAKEDOWN_CONCAT(a, b) TAKEDOWN_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::absl::Status takedown_status_ = (expr);      \
    if (!takedown_status_.ok()) return takedown_status_; \
  } while (0)

#define TAKEDOWN_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return tmp.status();                  \
  lhs = std::move(*tmp)

#define ASSIGN_OR_RETURN(lhs, expr) \
  TAKEDOWN_ASSIGN_OR_RETURN_IMPL(TAKEDOWN_CONCAT(takedown_statusor_, __LINE__), lhs, expr)

namespace takedown {

// Returns `status` with `context + ": "` prepended to its message, same code.
absl::Status Annotate(const absl::Status& status, std::string_view context);

}  // namespace takedown
