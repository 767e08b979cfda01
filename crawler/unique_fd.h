// UniqueFd owns one file descriptor and closes it when destroyed; ErrnoText
// turns an errno value into its message. Shared by the crawler's
// file-system code (filesystem_source.cc, fs_watcher.cc).
#pragma once

#include <string.h>
#include <unistd.h>

#include <string>
#include <utility>

namespace takedown {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

inline std::string ErrnoText(int err) {
  char buffer[256];
  // GNU strerror_r: returns a pointer to the message, not always `buffer`.
  return std::string(strerror_r(err, buffer, sizeof(buffer)));
}

}  // namespace takedown
