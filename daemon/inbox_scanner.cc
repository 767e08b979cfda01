#include "daemon/inbox_scanner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "fmt/format.h"
#include "notices/json_fields.h"
#include "spdlog/spdlog.h"

namespace takedown {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDone = "done";
constexpr std::string_view kRejected = "rejected";

// The order is at fault (so retrying cannot help), as opposed to the store.
bool IsRefusal(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAlreadyExists:
      return true;
    default:
      return false;
  }
}

// `dir`/`name`, or `dir`/<stem>-<n><ext> when that is taken.
fs::path FreeName(const fs::path& dir, const std::string& name) {
  fs::path candidate = dir / name;
  std::error_code ec;
  const std::string stem = fs::path(name).stem().string();
  const std::string ext = fs::path(name).extension().string();
  for (int n = 2; fs::exists(candidate, ec) && n < 100000; ++n) {
    candidate = dir / fmt::format("{}-{}{}", stem, n, ext);
  }
  return candidate;
}

absl::Status WriteFile(const fs::path& path, const std::string& content) {
  const fs::path tmp = path.parent_path() / ("." + path.filename().string() + ".tmp");
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0)
    return absl::UnavailableError(fmt::format("cannot create {}: {}", tmp.string(), std::strerror(errno)));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int error = errno;
      close(fd);
      unlink(tmp.c_str());
      return absl::UnavailableError(fmt::format("cannot write {}: {}", tmp.string(), std::strerror(error)));
    }
    done += static_cast<size_t>(n);
  }
  fsync(fd);
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int error = errno;
    unlink(tmp.c_str());
    return absl::UnavailableError(
        fmt::format("cannot rename to {}: {}", path.string(), std::strerror(error)));
  }
  return absl::OkStatus();
}

// Reads a regular file of at most `max_bytes` without following symlinks.
absl::StatusOr<std::string> ReadOrder(const fs::path& path, uint64_t max_bytes) {
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ELOOP) return absl::InvalidArgumentError("is a symbolic link; drop the order file itself");
    return absl::UnavailableError(fmt::format("cannot open: {}", std::strerror(errno)));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError("is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    close(fd);
    return absl::InvalidArgumentError(
        fmt::format("is {} bytes; a removal order may be at most {} bytes", st.st_size, max_bytes));
  }
  std::string content;
  content.resize(static_cast<size_t>(max_bytes) + 1);
  size_t got = 0;
  while (got < content.size()) {
    ssize_t n = read(fd, content.data() + got, content.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int error = errno;
      close(fd);
      return absl::UnavailableError(fmt::format("read failed: {}", std::strerror(error)));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  if (got > max_bytes) {
    return absl::InvalidArgumentError(fmt::format("grew past {} bytes while being read", max_bytes));
  }
  content.resize(got);
  return content;
}

}  // namespace

absl::StatusOr<std::unique_ptr<InboxScanner>> InboxScanner::Create(OrderIntake& intake,
                                                                   DaemonMetrics& metrics,
                                                                   InboxOptions options) {
  if (options.directory.empty()) return absl::InvalidArgumentError("order inbox: no directory configured");
  for (const fs::path& dir : {fs::path(options.directory), fs::path(options.directory) / kDone,
                              fs::path(options.directory) / kRejected}) {
    std::error_code ec;
    const bool created = fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir, ec)) {
      return absl::FailedPreconditionError(
          fmt::format("order inbox: cannot create directory {}: {}", dir.string(), ec.message()));
    }
    // Only directories made here get 0750; an operator's own modes stay.
    if (created)
      fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec, ec);
  }
  if (options.max_files_per_scan == 0) options.max_files_per_scan = 1;
  return std::unique_ptr<InboxScanner>(new InboxScanner(intake, metrics, std::move(options)));
}

InboxScanner::InboxScanner(OrderIntake& intake, DaemonMetrics& metrics, InboxOptions options)
    : intake_(intake), metrics_(metrics), options_(std::move(options)) {}

InboxScanner::~InboxScanner() { Stop(); }

absl::StatusOr<InboxScanResult> InboxScanner::ScanOnce() {
  std::lock_guard scan_lock(scan_mu_);
  const fs::path dir(options_.directory);
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || !name.ends_with(".json")) continue;
    std::error_code type_ec;
    fs::file_status status = it->symlink_status(type_ec);
    if (fs::is_directory(status)) continue;
    names.push_back(name);
  }
  if (ec) {
    return absl::UnavailableError(fmt::format("order inbox {}: cannot list: {}", dir.string(), ec.message()));
  }
  std::sort(names.begin(), names.end());
  if (names.size() > options_.max_files_per_scan) names.resize(options_.max_files_per_scan);

  InboxScanResult result;
  for (const std::string& name : names) {
    const fs::path path = dir / name;
    absl::StatusOr<std::string> content = ReadOrder(path, options_.max_file_bytes);
    absl::StatusOr<OrderReceipt> receipt =
        content.ok() ? intake_.Submit(*content, name, "inbox:" + name)
                     : absl::StatusOr<OrderReceipt>(absl::Status(
                           content.status().code(), name + ": " + std::string(content.status().message())));
    if (receipt.ok()) {
      const fs::path target = FreeName(dir / kDone, name);
      nlohmann::json summary{{"order_reference", receipt->order_reference},
                             {"profile", receipt->profile},
                             {"received_at", TimeToJson(receipt->received_at)},
                             {"deadline", TimeToJson(receipt->deadline)},
                             {"locations", nlohmann::json::array()}};
      for (const OrderLocationResult& l : receipt->locations) {
        summary["locations"].push_back({{"url", l.url},
                                        {"case_id", l.case_id},
                                        {"status", OrderLocationStatusName(l.status)},
                                        {"detail", l.detail}});
      }
      absl::Status written = WriteFile(target.string() + ".receipt.json", DumpJson(summary, 2) + "\n");
      if (!written.ok()) spdlog::warn("order inbox: {}", std::string(written.message()));
      if (rename(path.c_str(), target.c_str()) != 0) {
        spdlog::warn("order inbox: cannot move {} to {}: {}", path.string(), target.string(),
                     std::strerror(errno));
      }
      ++result.accepted;
      spdlog::info("order inbox: accepted {} (order {})", name, receipt->order_reference);
      continue;
    }
    if (!IsRefusal(receipt.status())) {
      ++result.deferred;
      metrics_.CountError("order_inbox_deferred");
      spdlog::warn("order inbox: {} left for the next scan: {}", name,
                   std::string(receipt.status().message()));
      continue;
    }
    const fs::path target = FreeName(dir / kRejected, name);
    absl::Status written =
        WriteFile(target.string() + ".error.txt", std::string(receipt.status().message()) + "\n");
    if (!written.ok()) spdlog::warn("order inbox: {}", std::string(written.message()));
    if (rename(path.c_str(), target.c_str()) != 0) {
      spdlog::warn("order inbox: cannot move {} to {}: {}", path.string(), target.string(),
                   std::strerror(errno));
    }
    ++result.rejected;
    spdlog::warn("order inbox: rejected {}: {}", name, std::string(receipt.status().message()));
  }
  return result;
}

void InboxScanner::Start() {
  std::lock_guard lock(loop_mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void InboxScanner::Stop() {
  {
    std::lock_guard lock(loop_mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void InboxScanner::Run() {
  std::unique_lock lock(loop_mu_);
  while (!stop_) {
    lock.unlock();
    absl::StatusOr<InboxScanResult> scanned = ScanOnce();
    if (!scanned.ok()) {
      metrics_.CountError("order_inbox");
      spdlog::warn("{}", std::string(scanned.status().message()));
    }
    lock.lock();
    wake_.wait_for(lock, absl::ToChronoMilliseconds(options_.poll_interval), [this] { return stop_; });
  }
}

}  // namespace takedown
