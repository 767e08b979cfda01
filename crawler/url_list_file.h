// URL-list files: one http(s) URL per line, read by UrlListSource.
//
// Format: lines end in LF (a CR before it is dropped); leading and trailing
// spaces and tabs are trimmed; empty lines and lines whose first non-blank
// byte is '#' are ignored (a '#' later in a line is part of the URL, e.g. a
// fragment). Every other line must be one URL that ParseHttpUrl accepts
// (crawler/http_url.h). The URL is kept as written (trimmed): it is the
// object's key.
//
// Bad lines (too long, not a URL, a scheme other than http/https) do not stop
// the parse: each becomes a UrlListProblem naming "<file>:<line>". Duplicate
// URLs are dropped silently (first occurrence kept). After max_urls URLs, the
// next URL line is reported and parsing stops.
//
// Functions are thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace takedown {

struct UrlListLimits {
  // Longest line (before trimming); longer lines are reported and skipped.
  size_t max_line_bytes = 8192;
  // URLs kept per file (and per source, files and added URLs together).
  size_t max_urls = 1'000'000;
  // Largest file read; a larger one fails the read as a whole.
  uint64_t max_file_bytes = 64ull * 1024 * 1024;
};

struct UrlListProblem {
  int line = 0;         // 1-based
  std::string where;    // "<name>:<line>"
  std::string message;  // what is wrong, quoting the line (truncated)
};

struct UrlList {
  std::vector<std::string> urls;  // in file order, without duplicates
  std::vector<UrlListProblem> problems;
};

// Parses the text of a URL list; `name` (usually the path) appears in problems.
UrlList ParseUrlList(std::string_view text, std::string_view name, const UrlListLimits& limits);

// Reads and parses a file. NotFound when it does not exist, PermissionDenied
// when it cannot be opened, FailedPrecondition when it is not a regular file,
// ResourceExhausted when it is larger than max_file_bytes, Unavailable on a
// read error.
absl::StatusOr<UrlList> ReadUrlListFile(const std::string& path, const UrlListLimits& limits);

}  // namespace takedown
