// HttpTestServer: runs tests/crawler/http_test_server.py (python3, stdlib
// only) on 127.0.0.1 with an OS-chosen port, serving files from a fresh
// temporary directory, for the fetcher, URL-list and re-check tests.
// Start() spawns it and reads the port it reports; the destructor kills it
// (SIGKILL) and reaps it, then removes the directory. Also: a port on
// 127.0.0.1 where nothing listens, and a small blocking GET for the server's
// counters. Not thread-safe; Get() may be called from any thread.
#pragma once

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "gtest/gtest.h"

extern char** environ;

namespace takedown {

class HttpTestServer {
 public:
  // Fails the calling test (and returns nullptr) when the server cannot start.
  static std::unique_ptr<HttpTestServer> Start() {
    auto server = std::unique_ptr<HttpTestServer>(new HttpTestServer());
    char tmpl[] = "/tmp/takedown_http_test_XXXXXX";
    const char* made = mkdtemp(tmpl);
    if (made == nullptr) {
      ADD_FAILURE() << "mkdtemp failed";
      return nullptr;
    }
    server->root_ = made;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2 failed";
      return nullptr;
    }
    const std::string script = std::string(TAKEDOWN_SOURCE_DIR) + "/tests/crawler/http_test_server.py";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::string python = "/usr/bin/python3";
    std::string root_flag = "--root";
    char* argv[] = {python.data(), const_cast<char*>(script.c_str()), root_flag.data(), server->root_.data(),
                    nullptr};
    const int rc = posix_spawn(&server->pid_, python.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
      close(fds[0]);
      server->pid_ = -1;
      ADD_FAILURE() << "posix_spawn /usr/bin/python3 failed: " << rc;
      return nullptr;
    }
    std::string line;
    while (line.find('\n') == std::string::npos) {
      pollfd p{fds[0], POLLIN, 0};
      if (poll(&p, 1, 10'000) <= 0) break;
      char buffer[64];
      const ssize_t n = read(fds[0], buffer, sizeof(buffer));
      if (n <= 0) break;
      line.append(buffer, static_cast<size_t>(n));
    }
    close(fds[0]);
    if (!line.starts_with("PORT ")) {
      ADD_FAILURE() << "http_test_server.py did not report its port; got '" << line << "'";
      return nullptr;
    }
    server->port_ = std::stoi(line.substr(5));
    return server;
  }

  ~HttpTestServer() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    if (!root_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(root_, ec);
    }
  }

  int port() const { return port_; }
  const std::string& root() const { return root_; }
  std::string Url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

  // Writes <root>/<name>, served as /files/<name>.
  void WriteFile(const std::string& name, std::string_view content) const {
    std::ofstream out(root_ + "/" + name, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  }

  // A blocking GET of a server path (counters), bypassing the code under test.
  std::string Get(std::string_view path) const {
    CURL* easy = curl_easy_init();
    std::string body;
    const std::string url = Url(path);
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_PROXY, "");
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(
        easy, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t n, void* user) {
          static_cast<std::string*>(user)->append(data, size * n);
          return size * n;
        });
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body);
    const CURLcode code = curl_easy_perform(easy);
    curl_easy_cleanup(easy);
    EXPECT_EQ(code, CURLE_OK) << url;
    return body;
  }

  // How many requests with `method` the server received for `path_and_query`.
  int Count(std::string_view method, std::string_view path_and_query) const {
    char* escaped = curl_easy_escape(nullptr, path_and_query.data(), static_cast<int>(path_and_query.size()));
    const std::string body = Get("/count?method=" + std::string(method) + "&path=" + escaped);
    curl_free(escaped);
    return std::stoi(body);
  }

  // A port on 127.0.0.1 that was just free (bound, then closed): connecting
  // to it is refused.
  static int ClosedPort() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot bind a loopback port";
    }
    close(fd);
    return ntohs(addr.sin_port);
  }

 private:
  HttpTestServer() = default;

  pid_t pid_ = -1;
  int port_ = 0;
  std::string root_;
};

}  // namespace takedown
