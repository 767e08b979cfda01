#include "crawler/rdap_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/crawler/loopback_acceptor.h"
#include "tests/fakes/fake_clock.h"

namespace takedown {
namespace {

using ::takedown::testing::LoopbackAcceptor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// An HTTP/1.1 server on 127.0.0.1 (port chosen by the OS) answering GETs from
// a table of routes, one response per connection. Unknown paths get an RDAP
// 404 error object. It records each request's path and Accept header.
class RdapTestServer {
 public:
  struct Response {
    int status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    // Waited before the status line is sent.
    std::chrono::milliseconds delay{0};
    // Without Content-Length the body ends when the connection closes.
    bool announce_length = true;
  };
  struct Request {
    std::string path;
    std::string accept;
  };

  // Connections still waiting give up; acceptor_ (destroyed first) joins them.
  ~RdapTestServer() { stop_ = true; }

  int port() const { return acceptor_.port(); }
  std::string Url(std::string_view path) const { return acceptor_.endpoint() + std::string(path); }

  void Route(const std::string& path, Response response) {
    std::lock_guard lock(mu_);
    routes_[path] = std::move(response);
  }

  std::vector<Request> Requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

  // A port on 127.0.0.1 that was just free: connecting to it is refused.
  static int ClosedPort() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    close(fd);
    return ntohs(addr.sin_port);
  }

 private:
  void Serve(int fd) {
    std::string request;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!stop_ && request.find("\r\n\r\n") == std::string::npos && request.size() < 65536 &&
           std::chrono::steady_clock::now() < give_up) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      char buffer[4096];
      const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      request.append(buffer, static_cast<size_t>(n));
    }
    Request seen;
    const size_t first_space = request.find(' ');
    const size_t second_space = request.find(' ', first_space + 1);
    if (first_space != std::string::npos && second_space != std::string::npos) {
      seen.path = request.substr(first_space + 1, second_space - first_space - 1);
    }
    for (size_t line = request.find("\r\n"); line != std::string::npos;
         line = request.find("\r\n", line + 2)) {
      const std::string_view rest = std::string_view(request).substr(line + 2);
      if (rest.size() > 7 && strncasecmp(rest.data(), "accept:", 7) == 0) {
        seen.accept = std::string(rest.substr(7, rest.find("\r\n") - 7));
        seen.accept.erase(0, seen.accept.find_first_not_of(' '));
      }
    }
    Response response;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(seen);
      auto it = routes_.find(seen.path);
      if (it != routes_.end()) {
        response = it->second;
      } else {
        response.status = 404;
        response.body = R"({"errorCode": 404, "title": "Not Found"})";
      }
    }
    const auto send_at = std::chrono::steady_clock::now() + response.delay;
    while (!stop_ && std::chrono::steady_clock::now() < send_at) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::string out =
        fmt::format("HTTP/1.1 {} Status\r\nContent-Type: application/rdap+json\r\nConnection: close\r\n",
                    response.status);
    if (response.announce_length) out += fmt::format("Content-Length: {}\r\n", response.body.size());
    for (const auto& [name, value] : response.headers) out += name + ": " + value + "\r\n";
    out += "\r\n" + response.body;
    for (size_t sent = 0; !stop_ && sent < out.size();) {
      const ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    shutdown(fd, SHUT_WR);
    close(fd);
  }

  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::map<std::string, Response> routes_;
  std::vector<Request> requests_;
  LoopbackAcceptor acceptor_{[this](int fd) { Serve(fd); }};  // last: destroyed first
};

std::string NetworkJson(std::string_view abuse_email) {
  return fmt::format(R"json({{
    "objectClassName": "ip network", "handle": "TEST-NET-1", "name": "TEST-NET",
    "startAddress": "192.0.2.0", "endAddress": "192.0.2.255", "ipVersion": "v4", "country": "NL",
    "entities": [{{"handle": "ORG-1", "roles": ["registrant"],
      "vcardArray": ["vcard", [["version", {{}}, "text", "4.0"], ["fn", {{}}, "text", "Example Hosting"]]],
      "entities": [{{"handle": "AB-1", "roles": ["abuse"],
        "vcardArray": ["vcard", [["version", {{}}, "text", "4.0"], ["email", {{}}, "text", "{}"]]]}}]}}]}})json",
                     abuse_email);
}

RdapTestServer::Response Ok(std::string body) {
  RdapTestServer::Response response;
  response.body = std::move(body);
  return response;
}

RdapTestServer::Response Status(int status) {
  RdapTestServer::Response response;
  response.status = status;
  response.body = fmt::format(R"({{"errorCode": {}}})", status);
  return response;
}

RdapTestServer::Response Redirect(std::string location) {
  RdapTestServer::Response response;
  response.status = 302;
  response.headers.emplace_back("Location", std::move(location));
  return response;
}

class RdapClientTest : public ::testing::Test {
 protected:
  RdapClientOptions Options() {
    RdapClientOptions options;
    options.base_url = server_.Url("/rdap/");
    options.allow_private_addresses = true;  // the server is on 127.0.0.1
    options.max_requests_per_second = 0;     // the fake clock never advances on its own
    options.connect_timeout = std::chrono::milliseconds(2000);
    options.total_timeout = std::chrono::milliseconds(5000);
    options.clock = &clock_;
    return options;
  }

  std::unique_ptr<RdapClient> MakeClient(const RdapClientOptions& options) {
    absl::StatusOr<std::unique_ptr<RdapClient>> client = RdapClient::Create(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  std::vector<std::string> RequestedPaths() {
    std::vector<std::string> paths;
    for (const RdapTestServer::Request& r : server_.Requests()) paths.push_back(r.path);
    return paths;
  }

  RdapTestServer server_;
  FakeClock clock_;
};

TEST_F(RdapClientTest, LooksUpTheAddressAndParsesTheNetwork) {
  server_.Route("/rdap/ip/192.0.2.10", Ok(NetworkJson("abuse@hosting.example")));
  auto client = MakeClient(Options());
  ASSERT_NE(client, nullptr);
  absl::StatusOr<RdapNetwork> network = client->Lookup("192.0.2.10");
  ASSERT_TRUE(network.ok()) << network.status();
  EXPECT_EQ(network->handle, "TEST-NET-1");
  EXPECT_EQ(network->country, "NL");
  EXPECT_THAT(network->abuse_emails, ElementsAre("abuse@hosting.example"));
  EXPECT_EQ(network->registrant, "Example Hosting");
  const std::vector<RdapTestServer::Request> requests = server_.Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].path, "/rdap/ip/192.0.2.10");
  EXPECT_EQ(requests[0].accept, "application/rdap+json");
}

TEST_F(RdapClientTest, Ipv6AddressesAreCanonicalInTheQuery) {
  server_.Route("/rdap/ip/2001:db8::1", Ok(NetworkJson("abuse@v6.example")));
  auto client = MakeClient(Options());
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(*client->QueryUrl("2001:DB8:0:0:0:0:0:1"), server_.Url("/rdap/ip/2001:db8::1"));
  absl::StatusOr<RdapNetwork> network = client->Lookup("2001:DB8:0:0:0:0:0:1");
  ASSERT_TRUE(network.ok()) << network.status();
  EXPECT_THAT(network->abuse_emails, ElementsAre("abuse@v6.example"));
}

TEST_F(RdapClientTest, NonAddressesAreRefusedWithoutARequest) {
  auto client = MakeClient(Options());
  ASSERT_NE(client, nullptr);
  for (const char* ip : {"", "192.0.2.1:80", "[2001:db8::1]", "fe80::1%eth0", "example.com", "192.0.2",
                         "192.0.2.1/24", "192.0.2.1\n", "../../admin"}) {
    absl::StatusOr<RdapNetwork> network = client->Lookup(ip);
    EXPECT_EQ(network.status().code(), absl::StatusCode::kInvalidArgument) << ip;
    EXPECT_THAT(std::string(network.status().message()), HasSubstr("is not an IPv4 or IPv6 address"));
  }
  EXPECT_THAT(server_.Requests(), IsEmpty());
}

TEST_F(RdapClientTest, NotFoundSaysThereIsNoRecord) {
  auto client = MakeClient(Options());
  ASSERT_NE(client, nullptr);
  absl::StatusOr<RdapNetwork> network = client->Lookup("192.0.2.99");
  EXPECT_EQ(network.status().code(), absl::StatusCode::kNotFound);
  const std::string message(network.status().message());
  EXPECT_THAT(message, HasSubstr("no RDAP record for 192.0.2.99"));
  EXPECT_THAT(message, HasSubstr(server_.Url("/rdap/ip/192.0.2.99")));
  EXPECT_THAT(message, HasSubstr("HTTP 404"));
}

TEST_F(RdapClientTest, HttpStatusesMapToCodes) {
  const std::vector<std::pair<int, absl::StatusCode>> cases = {
      {500, absl::StatusCode::kUnavailable},        {503, absl::StatusCode::kUnavailable},
      {429, absl::StatusCode::kUnavailable},        {410, absl::StatusCode::kNotFound},
      {400, absl::StatusCode::kFailedPrecondition}, {403, absl::StatusCode::kPermissionDenied},
  };
  auto client = MakeClient(Options());
  ASSERT_NE(client, nullptr);
  int host = 1;
  for (const auto& [status, code] : cases) {
    const std::string ip = fmt::format("192.0.2.{}", host++);
    server_.Route("/rdap/ip/" + ip, Status(status));
    absl::StatusOr<RdapNetwork> network = client->Lookup(ip);
    EXPECT_EQ(network.status().code(), code) << status << ": " << network.status();
    EXPECT_THAT(std::string(network.status().message()), HasSubstr(fmt::format("HTTP {}", status)));
    EXPECT_THAT(std::string(network.status().message()), HasSubstr(server_.Url("/rdap/ip/" + ip)));
  }
}

TEST_F(RdapClientTest, FollowsRedirectsLikeABootstrapServer) {
  server_.Route("/rdap/ip/192.0.2.20", Redirect(server_.Url("/ripe/ip/192.0.2.20")));
  server_.Route("/ripe/ip/192.0.2.20", Redirect("/ripe/v2/ip/192.0.2.20"));
  server_.Route("/ripe/v2/ip/192.0.2.20", Ok(NetworkJson("abuse@redirected.example")));
  auto client = MakeClient(Options());
  ASSERT_NE(client, nullptr);
  absl::StatusOr<RdapNetwork> network = client->Lookup("192.0.2.20");
  ASSERT_TRUE(network.ok()) << network.status();
  EXPECT_THAT(network->abuse_emails, ElementsAre("abuse@redirected.example"));
  EXPECT_THAT(RequestedPaths(),
              ElementsAre("/rdap/ip/192.0.2.20", "/ripe/ip/192.0.2.20", "/ripe/v2/ip/192.0.2.20"));
  for (const RdapTestServer::Request& r : server_.Requests()) EXPECT_EQ(r.accept, "application/rdap+json");
}

TEST_F(RdapClientTest, TooManyRedirectsFail) {
  server_.Route("/rdap/ip/192.0.2.21", Redirect("/a"));
  server_.Route("/a", Redirect("/b"));
  server_.Route("/b", Ok(NetworkJson("abuse@never.example")));
  RdapClientOptions options = Options();
  options.max_redirects = 1;
  auto client = MakeClient(options);
  ASSERT_NE(client, nullptr);
  absl::StatusOr<RdapNetwork> network = client->Lookup("192.0.2.21");
  EXPECT_EQ(network.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(network.status().message()), HasSubstr("too_many_redirects"));
  EXPECT_THAT(RequestedPaths(), ElementsAre("/rdap/ip/192.0.2.21", "/a"));
}

TEST_F(RdapClientTest, BodiesOverTheLimitAreRefused) {
  RdapTestServer::Response announced = Ok(std::string(4096, ' ') + NetworkJson("abuse@big.example"));
  RdapTestServer::Response streamed = announced;
  streamed.announce_length = false;
  server_.Route("/rdap/ip/192.0.2.30", announced);
  server_.Route("/rdap/ip/192.0.2.31", streamed);
  RdapClientOptions options = Options();
  options.max_body_bytes = 2048;
  auto client = MakeClient(options);
  ASSERT_NE(client, nullptr);
  for (const char* ip : {"192.0.2.30", "192.0.2.31"}) {
    absl::StatusOr<RdapNetwork> network = client->Lookup(ip);
    EXPECT_EQ(network.status().code(), absl::StatusCode::kResourceExhausted)
        << ip << ": " << network.status();
    EXPECT_THAT(std::string(network.status().message()), HasSubstr("body_too_large"));
  }
}

TEST_F(RdapClientTest, ASlowServerWithinTheTimeoutIsAnswered) {
  RdapTestServer::Response slow = Ok(NetworkJson("abuse@slow.example"));
  slow.delay = std::chrono::milliseconds(300);
  server_.Route("/rdap/ip/192.0.2.40", slow);
  auto client = MakeClient(Options());
  ASSERT_NE(client, nullptr);
  absl::StatusOr<RdapNetwork> network = client->Lookup("192.0.2.40");
  ASSERT_TRUE(network.ok()) << network.status();
  EXPECT_THAT(network->abuse_emails, ElementsAre("abuse@slow.example"));
}

TEST_F(RdapClientTest, AServerSlowerThanTheTotalTimeoutIsUnavailable) {
  RdapTestServer::Response slow = Ok(NetworkJson("abuse@slow.example"));
  slow.delay = std::chrono::milliseconds(10'000);
  server_.Route("/rdap/ip/192.0.2.41", slow);
  RdapClientOptions options = Options();
  options.total_timeout = std::chrono::milliseconds(400);
  auto client = MakeClient(options);
  ASSERT_NE(client, nullptr);
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<RdapNetwork> network = client->Lookup("192.0.2.41");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(network.status().code(), absl::StatusCode::kUnavailable) << network.status();
  EXPECT_THAT(std::string(network.status().message()), HasSubstr("timeout"));
  EXPECT_GE(elapsed, std::chrono::milliseconds(350));
  EXPECT_LT(elapsed, std::chrono::milliseconds(3000));
}

TEST_F(RdapClientTest, ARefusedConnectionIsUnavailable) {
  RdapClientOptions options = Options();
  options.base_url = fmt::format("http://127.0.0.1:{}/rdap/", RdapTestServer::ClosedPort());
  auto client = MakeClient(options);
  ASSERT_NE(client, nullptr);
  absl::StatusOr<RdapNetwork> network = client->Lookup("192.0.2.50");
  EXPECT_EQ(network.status().code(), absl::StatusCode::kUnavailable) << network.status();
  EXPECT_THAT(std::string(network.status().message()), HasSubstr("connection_refused"));
}

TEST_F(RdapClientTest, LoopbackIsRefusedUnlessPrivateAddressesAreAllowed) {
  server_.Route("/rdap/ip/192.0.2.51", Ok(NetworkJson("abuse@hosting.example")));
  RdapClientOptions options = Options();
  options.allow_private_addresses = false;
  auto client = MakeClient(options);
  ASSERT_NE(client, nullptr);
  absl::StatusOr<RdapNetwork> network = client->Lookup("192.0.2.51");
  EXPECT_EQ(network.status().code(), absl::StatusCode::kFailedPrecondition) << network.status();
  EXPECT_THAT(std::string(network.status().message()), HasSubstr("allow_private_addresses"));
  EXPECT_THAT(server_.Requests(), IsEmpty());
}

TEST_F(RdapClientTest, AnInvalidAnswerNamesTheUrlAndTheJsonPath) {
  server_.Route("/rdap/ip/192.0.2.60",
                Ok(R"({"objectClassName": "ip network", "entities": [{"roles": 1}]})"));
  auto client = MakeClient(Options());
  ASSERT_NE(client, nullptr);
  absl::StatusOr<RdapNetwork> network = client->Lookup("192.0.2.60");
  EXPECT_EQ(network.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(network.status().message());
  EXPECT_THAT(message, HasSubstr("RDAP lookup of 192.0.2.60"));
  EXPECT_THAT(message, HasSubstr(server_.Url("/rdap/ip/192.0.2.60")));
  EXPECT_THAT(message, HasSubstr("$.entities[0].roles: expected an array, got number"));
}

TEST(RdapClientCreate, BaseUrlAndOptionsAreChecked) {
  auto create = [](std::string base_url, auto&& change) {
    RdapClientOptions options;
    options.base_url = std::move(base_url);
    change(options);
    return RdapClient::Create(options);
  };
  auto same = [](RdapClientOptions&) {};
  const auto code = [](const auto& client) { return client.status().code(); };
  EXPECT_EQ(code(create("ftp://rdap.example.net/", same)), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(create("rdap.example.net", same)), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(create("https://user:pw@rdap.example.net/", same)), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(create("https://rdap.example.net/?x=1", same)), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(create("https://rdap.example.net/#f", same)), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(create("https://rdap.example.net/", [](RdapClientOptions& o) { o.max_body_bytes = 10; })),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(create("https://rdap.example.net/", [](RdapClientOptions& o) { o.max_redirects = 11; })),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(create("https://rdap.example.net/",
                        [](RdapClientOptions& o) { o.total_timeout = std::chrono::milliseconds(0); })),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      code(create("https://rdap.example.net/", [](RdapClientOptions& o) { o.limits.max_entities = 0; })),
      absl::StatusCode::kInvalidArgument);

  absl::StatusOr<std::unique_ptr<RdapClient>> insecure = create("http://rdap.example.net/", same);
  EXPECT_EQ(insecure.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(insecure.status().message()), HasSubstr("plain http"));
  EXPECT_TRUE(
      create("http://rdap.example.net/", [](RdapClientOptions& o) { o.allow_insecure_http = true; }).ok());

  // Creating does not connect; the base URL gets its trailing slash.
  absl::StatusOr<std::unique_ptr<RdapClient>> https = create("https://RDAP.example.net/rdap", same);
  ASSERT_TRUE(https.ok()) << https.status();
  EXPECT_EQ((*https)->base_url(), "https://rdap.example.net/rdap/");
  EXPECT_EQ(*(*https)->QueryUrl("198.51.100.7"), "https://rdap.example.net/rdap/ip/198.51.100.7");
  for (const char* loopback :
       {"http://127.0.0.1:8080/", "http://127.1.2.3/", "http://[::1]:8080/rdap/", "http://localhost/"}) {
    EXPECT_TRUE(create(loopback, same).ok()) << loopback;
  }
}

TEST_F(RdapClientTest, CachesAnswersAndNotFoundUntilTheTtl) {
  server_.Route("/rdap/ip/192.0.2.70", Ok(NetworkJson("abuse@cached.example")));
  RdapClientOptions options = Options();
  options.cache_ttl = absl::Minutes(10);
  auto client = MakeClient(options);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Lookup("192.0.2.70").ok());
  absl::StatusOr<RdapNetwork> again = client->Lookup("192.0.2.70");
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(again->abuse_emails, ElementsAre("abuse@cached.example"));
  EXPECT_EQ(client->Lookup("192.0.2.71").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client->Lookup("192.0.2.71").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(RequestedPaths(), ElementsAre("/rdap/ip/192.0.2.70", "/rdap/ip/192.0.2.71"));

  clock_.Advance(absl::Minutes(10));
  server_.Route("/rdap/ip/192.0.2.70", Ok(NetworkJson("abuse@renewed.example")));
  again = client->Lookup("192.0.2.70");
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(again->abuse_emails, ElementsAre("abuse@renewed.example"));
  EXPECT_EQ(RequestedPaths().size(), 3u);
}

TEST_F(RdapClientTest, ServerErrorsAreNotCached) {
  server_.Route("/rdap/ip/192.0.2.72", Status(503));
  RdapClientOptions options = Options();
  options.cache_ttl = absl::Minutes(10);
  auto client = MakeClient(options);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->Lookup("192.0.2.72").status().code(), absl::StatusCode::kUnavailable);
  server_.Route("/rdap/ip/192.0.2.72", Ok(NetworkJson("abuse@recovered.example")));
  absl::StatusOr<RdapNetwork> network = client->Lookup("192.0.2.72");
  ASSERT_TRUE(network.ok()) << network.status();
  EXPECT_THAT(network->abuse_emails, ElementsAre("abuse@recovered.example"));
  EXPECT_EQ(RequestedPaths().size(), 2u);
}

TEST_F(RdapClientTest, TheCacheEvictsTheEntryExpiringFirst) {
  for (const char* ip : {"192.0.2.80", "192.0.2.81", "192.0.2.82"}) {
    server_.Route(std::string("/rdap/ip/") + ip, Ok(NetworkJson("abuse@hosting.example")));
  }
  RdapClientOptions options = Options();
  options.cache_ttl = absl::Minutes(10);
  options.cache_max_entries = 2;
  auto client = MakeClient(options);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Lookup("192.0.2.80").ok());
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(client->Lookup("192.0.2.81").ok());
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(client->Lookup("192.0.2.82").ok());  // evicts .80
  ASSERT_TRUE(client->Lookup("192.0.2.81").ok());  // cached
  ASSERT_TRUE(client->Lookup("192.0.2.80").ok());  // asked again
  EXPECT_THAT(RequestedPaths(), ElementsAre("/rdap/ip/192.0.2.80", "/rdap/ip/192.0.2.81",
                                            "/rdap/ip/192.0.2.82", "/rdap/ip/192.0.2.80"));
}

TEST_F(RdapClientTest, ConcurrentLookupsFromManyThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5;
  for (int i = 0; i < kThreads * kPerThread; ++i) {
    server_.Route(fmt::format("/rdap/ip/198.51.100.{}", i),
                  Ok(NetworkJson(fmt::format("abuse{}@example.net", i))));
  }
  RdapClientOptions options = Options();
  options.cache_ttl = absl::Minutes(1);
  auto client = MakeClient(options);
  ASSERT_NE(client, nullptr);
  std::vector<std::string> got(kThreads * kPerThread);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kPerThread; ++k) {
        const int i = t * kPerThread + k;
        absl::StatusOr<RdapNetwork> network = client->Lookup(fmt::format("198.51.100.{}", i));
        got[i] = network.ok() && network->abuse_emails.size() == 1 ? network->abuse_emails[0]
                                                                   : std::string(network.status().message());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < kThreads * kPerThread; ++i) EXPECT_EQ(got[i], fmt::format("abuse{}@example.net", i));
}

}  // namespace
}  // namespace takedown
