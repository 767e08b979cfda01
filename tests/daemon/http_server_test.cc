#include "daemon/http_server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <string>

#include "daemon/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace takedown {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Reply {
  long status = 0;
  std::string body;
  std::string headers;
  std::string content_type;
};

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

Reply Fetch(int port, const std::string& path, const std::string& method = "GET") {
  Reply reply;
  CURL* curl = curl_easy_init();
  EXPECT_NE(curl, nullptr);
  std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &Collect);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  CURLcode rc = curl_easy_perform(curl);
  EXPECT_EQ(rc, CURLE_OK) << curl_easy_strerror(rc) << " for " << url;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  char* type = nullptr;
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
  if (type != nullptr) reply.content_type = type;
  curl_easy_cleanup(curl);
  return reply;
}

// Sends `request` over a raw socket and returns everything the server sends.
std::string RawExchange(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buffer[4096];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) response.append(buffer, n);
  close(fd);
  return response;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = HttpServer::Start("127.0.0.1:0", 2);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_GT(server_->port(), 0);
    requests_ = registry_.AddCounter("takedown_test_requests_total", "Requests.").value();
    RegisterStandardEndpoints(*server_, registry_, [this]() -> absl::Status {
      if (ready_) return absl::OkStatus();
      return absl::UnavailableError("hash lists not loaded");
    });
  }

  MetricsRegistry registry_;
  Counter* requests_ = nullptr;
  std::atomic<bool> ready_{false};
  std::unique_ptr<HttpServer> server_;  // destroyed first: handlers use the above
};

TEST_F(HttpServerTest, ServesMetricsInTextFormat) {
  requests_->Inc(5);
  Reply reply = Fetch(server_->port(), "/metrics");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(reply.body, registry_.RenderText());
  EXPECT_THAT(reply.body, HasSubstr("\ntakedown_test_requests_total 5\n"));
}

TEST_F(HttpServerTest, HealthzIsOk) {
  Reply reply = Fetch(server_->port(), "/healthz");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "ok\n");
}

TEST_F(HttpServerTest, ReadyzFollowsProbe) {
  Reply not_ready = Fetch(server_->port(), "/readyz");
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_EQ(not_ready.body, "not ready: hash lists not loaded\n");
  EXPECT_THAT(not_ready.headers, HasSubstr("Retry-After: 5\r\n"));
  ready_ = true;
  Reply ready = Fetch(server_->port(), "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "ready\n");
}

TEST_F(HttpServerTest, UnknownPathIs404) {
  Reply reply = Fetch(server_->port(), "/nope");
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(Fetch(server_->port(), "/metrics/extra").status, 404);
  EXPECT_EQ(Fetch(server_->port(), "/").status, 404);
}

TEST_F(HttpServerTest, OtherMethodsAre405) {
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS"}) {
    Reply reply = Fetch(server_->port(), "/metrics", method);
    EXPECT_EQ(reply.status, 405) << method;
    EXPECT_THAT(reply.headers, HasSubstr("Allow: GET, HEAD\r\n")) << method;
  }
}

TEST_F(HttpServerTest, HeadSendsHeadersWithoutBody) {
  std::string response =
      RawExchange(server_->port(), "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(response, HasSubstr("Content-Length: 3\r\n"));
  EXPECT_EQ(response.substr(response.size() - 4), "\r\n\r\n");
}

TEST_F(HttpServerTest, PassesQueryHeadersAndCatchesExceptions) {
  server_->Handle("/echo", [](const HttpRequest& request) {
    HttpResponse response;
    response.body = request.method + " " + request.path + " q=" +
                    request.QueryParam("q").value_or("-") +
                    " ua=" + request.Header("user-agent").value_or("-");
    response.headers.emplace_back("X-Bad", "a\r\nInjected: yes");
    return response;
  });
  server_->Handle("/throw", [](const HttpRequest&) -> HttpResponse {
    throw std::runtime_error("bug");
  });
  std::string response = RawExchange(
      server_->port(), "GET /echo?q=a%20b&z=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: t1\r\n\r\n");
  EXPECT_THAT(response, HasSubstr("\r\n\r\nGET /echo q=a b ua=t1"));
  EXPECT_THAT(response, ::testing::Not(HasSubstr("Injected")));
  EXPECT_EQ(Fetch(server_->port(), "/throw").status, 500);
}

TEST_F(HttpServerTest, RefusesOversizedRequestsAndKeepsServing) {
  std::string huge = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                     std::string(2 * kMaxHttpRequestBytes, 'a') + "\r\n\r\n";
  std::string response = RawExchange(server_->port(), huge);
  EXPECT_THAT(response, ::testing::Not(HasSubstr("200 OK")));
  std::string with_body = RawExchange(
      server_->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody");
  EXPECT_THAT(with_body, StartsWith("HTTP/1.1 413 "));
  EXPECT_EQ(Fetch(server_->port(), "/healthz").status, 200);
}

TEST(HttpServerStart, RejectsBadAddressesAndThreadCounts) {
  for (const char* listen : {"", "9464", "127.0.0.1", "127.0.0.1:x", "127.0.0.1:70000",
                             "::1:80", "[::1]80", "1.2.3.4:80,5.6.7.8:80", "127.0.0.1:80s"}) {
    auto server = HttpServer::Start(listen, 1);
    ASSERT_FALSE(server.ok()) << listen;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument) << listen;
  }
  EXPECT_EQ(HttpServer::Start("127.0.0.1:0", 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpServer::Start("127.0.0.1:0", kMaxHttpThreads + 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HttpServerStart, PortInUseIsUnavailable) {
  auto first = HttpServer::Start("127.0.0.1:0", 1);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = HttpServer::Start("127.0.0.1:" + std::to_string((*first)->port()), 1);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("127.0.0.1:"));
}

}  // namespace
}  // namespace takedown
