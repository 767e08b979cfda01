#include "daemon/file_allowlist_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/status_macros.h"
#include "fmt/format.h"
#include "matcher/hash_list_parser.h"

namespace takedown {
namespace {

bool IsLowerHex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

size_t HexLength(std::string_view type) {
  if (type == "md5") return 32;
  if (type == "sha1") return 40;
  if (type == "sha256" || type == "pdq") return 64;
  return 0;
}

// One line of printable text for a comment: no control characters, quotes or
// invalid bytes, at most `limit` bytes.
std::string CommentText(std::string_view text, size_t limit) {
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (out.size() >= limit) break;
    out.push_back(u < 0x20 || u == 0x7F || c == '"' || u >= 0x80 ? ' ' : c);
  }
  return out;
}

constexpr std::string_view kNewFileHeader =
    "# takedownd review allowlist: digests rejected as false positives.\n"
    "hash_type,hash,category,entry_id\n";

absl::Status Errno(std::string_view what, const std::string& path) {
  return absl::UnavailableError(fmt::format("allowlist file {}: {}: {}", path, what, std::strerror(errno)));
}

absl::Status WriteAtomically(const std::string& path, const std::string& content) {
  const std::filesystem::path target(path);
  const std::string tmp = fmt::format("{}.tmp-{}", path, getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Errno("cannot create a temporary file", tmp);
  size_t written = 0;
  while (written < content.size()) {
    ssize_t n = write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status s = Errno("write failed", tmp);
      close(fd);
      unlink(tmp.c_str());
      return s;
    }
    written += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    absl::Status s = Errno("fsync failed", tmp);
    close(fd);
    unlink(tmp.c_str());
    return s;
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status s = Errno("rename failed", path);
    unlink(tmp.c_str());
    return s;
  }
  std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return absl::OkStatus();
}

}  // namespace

FileAllowlistWriter::FileAllowlistWriter(HashListManager& lists, const ListPolicies& policies,
                                         FileAllowlistOptions options)
    : lists_(lists), policies_(policies), options_(std::move(options)) {}

absl::Status FileAllowlistWriter::EnsureFiles() {
  std::lock_guard lock(mu_);
  for (const auto& [name, path] : options_.paths) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) continue;
    RETURN_IF_ERROR(
        Annotate(WriteAtomically(path, std::string(kNewFileHeader)), fmt::format("allowlist '{}'", name)));
  }
  return absl::OkStatus();
}

std::string FileAllowlistWriter::EntryIdFor(const std::string& hash_type, const std::string& digest_hex) {
  return fmt::format("fp-{}-{}", hash_type, digest_hex);
}

absl::Status FileAllowlistWriter::Add(const std::vector<AllowlistAddition>& additions,
                                      const std::string& actor) {
  std::map<std::string, std::vector<const AllowlistAddition*>> by_allowlist;
  for (const AllowlistAddition& a : additions) {
    if (HexLength(a.hash_type) == 0 || a.digest_hex.size() != HexLength(a.hash_type) ||
        !IsLowerHex(a.digest_hex)) {
      return absl::InvalidArgumentError(fmt::format("allowlist addition for case {}: '{}' is not a {} digest",
                                                    a.case_id, a.digest_hex.substr(0, 80), a.hash_type));
    }
    if (a.category != "csam" && a.category != "terrorist" && a.category != "other") {
      return absl::InvalidArgumentError(fmt::format("allowlist addition for case {}: unknown category '{}'",
                                                    a.case_id, a.category.substr(0, 32)));
    }
    auto mapped = options_.allowlist_for.find(a.list_name);
    const std::string& allowlist =
        mapped != options_.allowlist_for.end() ? mapped->second : options_.default_allowlist;
    if (allowlist.empty()) {
      return absl::FailedPreconditionError(
          fmt::format("no allowlist takes the false positives of list '{}'; configure a list of kind "
                      "allowlist and name it as the review allowlist",
                      a.list_name));
    }
    by_allowlist[allowlist].push_back(&a);
  }
  std::lock_guard lock(mu_);
  for (const auto& [allowlist, items] : by_allowlist) RETURN_IF_ERROR(AddTo(allowlist, items, actor));
  return absl::OkStatus();
}

absl::Status FileAllowlistWriter::AddTo(const std::string& allowlist,
                                        const std::vector<const AllowlistAddition*>& additions,
                                        const std::string& actor) {
  if (!policies_.IsAllowlist(allowlist)) {
    return absl::FailedPreconditionError(
        fmt::format("list '{}' is not configured as an allowlist (lists[].kind: allowlist); refusing to add "
                    "false positives "
                    "to it, as they would become matches",
                    allowlist));
  }
  auto path_it = options_.paths.find(allowlist);
  if (path_it == options_.paths.end() || path_it->second.empty()) {
    return absl::FailedPreconditionError(
        fmt::format("allowlist '{}' has no file; configure its lists[].path", allowlist));
  }
  const std::string& path = path_it->second;

  std::string content;
  std::set<std::string> present;
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    HashListLimits limits;
    limits.max_bytes = options_.max_file_bytes;
    ASSIGN_OR_RETURN(HashList existing, ParseHashListFile(path, allowlist, limits));
    for (const HashListEntry& e : existing.entries) present.insert(e.entry_id);
    std::ifstream in(path, std::ios::binary);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (!in && !in.eof()) return Errno("read failed", path);
    content = buffer.str();
    if (!content.empty() && content.back() != '\n') content.push_back('\n');
  } else {
    content = std::string(kNewFileHeader);
  }
  bool changed = false;
  for (const AllowlistAddition* a : additions) {
    const std::string id = EntryIdFor(a->hash_type, a->digest_hex);
    if (!present.insert(id).second) continue;
    content +=
        fmt::format("# case {} list {} rejected by {}: {}\n", CommentText(a->case_id, 64),
                    CommentText(a->list_name, 64), CommentText(actor, 128), CommentText(a->reason, 300));
    content += fmt::format("{},{},{},{}\n", a->hash_type, a->digest_hex, a->category, id);
    changed = true;
  }
  if (changed) RETURN_IF_ERROR(WriteAtomically(path, content));
  // Imported even when unchanged: a crash after the write and before the
  // import is repaired by the next addition (the import is a no-op when the
  // stored version equals the file's).
  return lists_.ImportFile(allowlist, path, actor).status();
}

}  // namespace takedown
