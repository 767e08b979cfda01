// Test helpers for channels that talk to real servers on 127.0.0.1: a python3
// helper server run as a child process (started with posix_spawn, its
// OS-chosen port read from a file it writes, killed on destruction), a
// temporary directory, and a self-signed certificate for 127.0.0.1 for TLS
// tests.
//
// The interpreter is TAKEDOWN_TEST_PYTHON3 (Debian's /usr/bin/python3 when
// present: the SMTP helper needs the python3-aiosmtpd package, which only
// that interpreter sees).
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "fmt/format.h"

#ifndef TAKEDOWN_TEST_PYTHON3
#define TAKEDOWN_TEST_PYTHON3 "python3"
#endif

extern char** environ;

namespace takedown::testing {

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A directory under /tmp removed (recursively) on destruction.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/takedown-channel-XXXXXX";
    if (::mkdtemp(pattern) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A python3 script serving on 127.0.0.1. The script gets `--port-file FILE`
// and must write its port there (atomically) once it accepts connections.
class LoopbackServer {
 public:
  static absl::StatusOr<std::unique_ptr<LoopbackServer>> Start(const std::string& script,
                                                               const std::vector<std::string>& args,
                                                               const std::string& work_dir) {
    auto server = std::unique_ptr<LoopbackServer>(new LoopbackServer());
    const std::string port_file = work_dir + "/port";
    server->stderr_path_ = work_dir + "/server-stderr.txt";
    std::vector<std::string> argv_strings = {TAKEDOWN_TEST_PYTHON3, "-u", script, "--port-file", port_file};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : argv_strings) argv.push_back(arg.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, server->stderr_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, server->stderr_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
    pid_t pid = 0;
    int error = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) {
      return absl::FailedPreconditionError(
          fmt::format("cannot start {} {}: {}", TAKEDOWN_TEST_PYTHON3, script, std::strerror(error)));
    }
    server->pid_ = pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      std::string port = ReadWholeFile(port_file);
      if (!port.empty()) {
        server->port_ = std::stoi(port);
        return server;
      }
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        server->pid_ = -1;
        return absl::FailedPreconditionError(fmt::format(
            "test server {} exited ({} {}) before listening; its output:\n{}", script,
            WIFEXITED(status) ? "exit code" : "signal",
            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), ReadWholeFile(server->stderr_path_)));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return absl::DeadlineExceededError(
        fmt::format("test server {} did not write its port within 15 s; output:\n{}", script,
                    ReadWholeFile(server->stderr_path_)));
  }

  ~LoopbackServer() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }

  int port() const { return port_; }
  std::string output() const { return ReadWholeFile(stderr_path_); }

 private:
  LoopbackServer() = default;

  pid_t pid_ = -1;
  int port_ = 0;
  std::string stderr_path_;
};

// A TCP port on 127.0.0.1 with nothing listening (bound by the OS, then
// released).
inline int UnusedLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

struct TestCertificate {
  std::string cert_path;
  std::string key_path;
};

// Writes a self-signed P-256 certificate for 127.0.0.1 and localhost, valid
// from an hour ago for a day, and its key, as PEM files in `dir`.
inline absl::StatusOr<TestCertificate> WriteSelfSignedCertificate(const std::string& dir) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
  if (key == nullptr || cert == nullptr)
    return absl::InternalError("cannot create a test key or certificate");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("127.0.0.1"),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost"},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
    if (extension == nullptr) return absl::InternalError("cannot build a certificate extension");
    X509_add_ext(cert.get(), extension, -1);
    X509_EXTENSION_free(extension);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
    return absl::InternalError("cannot sign the certificate");
  TestCertificate paths{dir + "/cert.pem", dir + "/key.pem"};
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_out(BIO_new_file(paths.cert_path.c_str(), "w"), &BIO_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> key_out(BIO_new_file(paths.key_path.c_str(), "w"), &BIO_free);
  if (cert_out == nullptr || key_out == nullptr || PEM_write_bio_X509(cert_out.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError("cannot write the test certificate");
  }
  return paths;
}

}  // namespace takedown::testing
