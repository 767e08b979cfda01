#include "crawler/url_list_file.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <unordered_set>

#include "absl/status/status.h"
#include "crawler/http_url.h"
#include "fmt/format.h"

namespace takedown {
namespace {

constexpr size_t kQuotedLineBytes = 120;

std::string ErrnoText(int err) {
  char buffer[256];
  return std::string(strerror_r(err, buffer, sizeof(buffer)));
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

UrlList ParseUrlList(std::string_view text, std::string_view name, const UrlListLimits& limits) {
  UrlList out;
  std::unordered_set<std::string_view> seen;
  int line_number = 0;
  size_t pos = 0;
  auto problem = [&](std::string message) {
    std::string where = fmt::format("{}:{}", name, line_number);
    out.problems.push_back(UrlListProblem{line_number, where, where + ": " + message});
  };
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    if (raw.size() > limits.max_line_bytes) {
      problem(fmt::format("line is {} bytes, longer than max_line_bytes {}; skipped ('{}')", raw.size(),
                          limits.max_line_bytes, PrintableUrl(raw, kQuotedLineBytes)));
      continue;
    }
    const std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#') continue;
    absl::StatusOr<HttpUrl> url = ParseHttpUrl(line);
    if (!url.ok()) {
      problem(std::string(url.status().message()) + "; skipped");
      continue;
    }
    if (seen.contains(line)) continue;
    if (out.urls.size() >= limits.max_urls) {
      problem(fmt::format("more than max_urls {} URLs; this line and the rest of the file are not read",
                          limits.max_urls));
      break;
    }
    out.urls.emplace_back(line);
    seen.insert(line);  // views into `text`, which outlives `seen`
  }
  return out;
}

absl::StatusOr<UrlList> ReadUrlListFile(const std::string& path, const UrlListLimits& limits) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    std::string message = fmt::format("URL list {}: cannot open: {}", path, ErrnoText(err));
    if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(message);
    if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
    return absl::UnavailableError(message);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(fmt::format("URL list {}: not a regular file", path));
  }
  if (static_cast<uint64_t>(st.st_size) > limits.max_file_bytes) {
    ::close(fd);
    return absl::ResourceExhaustedError(
        fmt::format("URL list {}: {} bytes, larger than max_file_bytes {}; split it", path,
                    static_cast<uint64_t>(st.st_size), limits.max_file_bytes));
  }
  std::string text;
  char buffer[64 * 1024];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return absl::UnavailableError(fmt::format("URL list {}: read failed: {}", path, ErrnoText(err)));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    // The file may grow after fstat.
    if (text.size() > limits.max_file_bytes) {
      ::close(fd);
      return absl::ResourceExhaustedError(
          fmt::format("URL list {}: larger than max_file_bytes {}; split it", path, limits.max_file_bytes));
    }
  }
  ::close(fd);
  return ParseUrlList(text, path, limits);
}

}  // namespace takedown
