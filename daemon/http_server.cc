#include "daemon/http_server.h"

#include <civetweb.h>
#include <netdb.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>

#include "daemon/metrics.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace takedown {
namespace {

bool HasCrLf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Checks "host:port" / "[v6]:port"; civetweb would also accept its own
// extensions (port lists, 's' and 'r' suffixes), which we do not want.
absl::Status ValidateListen(const std::string& listen, std::string* host_out) {
  auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError(fmt::format(
        "http listen address '{}': {}; expected host:port such as 127.0.0.1:9464 or [::1]:9464",
        listen, why));
  };
  std::string_view host;
  std::string_view port;
  if (!listen.empty() && listen[0] == '[') {
    size_t close = listen.find("]:");
    if (close == std::string::npos) return invalid("missing ']:' after the IPv6 address");
    host = std::string_view(listen).substr(1, close - 1);
    port = std::string_view(listen).substr(close + 2);
  } else {
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos) return invalid("missing ':port'");
    host = std::string_view(listen).substr(0, colon);
    port = std::string_view(listen).substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return invalid("put IPv6 addresses in [ ]");
  }
  if (host.empty()) return invalid("missing host");
  if (host.find_first_of(", \t") != std::string_view::npos) return invalid("one address only");
  if (!AllDigits(port) || port.size() > 5 || std::stoi(std::string(port)) > 65535) {
    return invalid("port must be a number from 0 to 65535");
  }
  *host_out = std::string(host);
  return absl::OkStatus();
}

// Opens and closes one TCP connection to host:port, giving up after 200 ms.
void Knock(const std::string& host, int port) {
  std::string connect_host = host == "0.0.0.0" ? "127.0.0.1" : host == "::" ? "::1" : host;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* addresses = nullptr;
  if (getaddrinfo(connect_host.c_str(), std::to_string(port).c_str(), &hints, &addresses) != 0) {
    return;
  }
  for (addrinfo* a = addresses; a != nullptr; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    timeval timeout{0, 200'000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    bool connected = connect(fd, a->ai_addr, a->ai_addrlen) == 0;
    close(fd);
    if (connected) break;
  }
  freeaddrinfo(addresses);
}

void InitCivetweb() {
  static std::once_flag once;
  std::call_once(once, [] { mg_init_library(0); });
}

int LogMessage(const mg_connection*, const char* message) {
  spdlog::warn("http: {}", message);
  return 1;
}

std::string_view StatusText(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
  }
}

int SendResponse(mg_connection* conn, bool head, const HttpResponse& response) {
  int status = (response.status >= 100 && response.status <= 599) ? response.status : 500;
  std::string content_type = HasCrLf(response.content_type) ? "text/plain" : response.content_type;
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\n"
      "Content-Type: {}\r\n"
      "Content-Length: {}\r\n"
      "Cache-Control: no-store\r\n"
      "X-Content-Type-Options: nosniff\r\n"
      "Connection: close\r\n",
      status, StatusText(status), content_type, response.body.size());
  for (const auto& [name, value] : response.headers) {
    if (name.empty() || HasCrLf(name) || HasCrLf(value) || name.find(':') != std::string::npos) {
      spdlog::error("http: dropping invalid response header '{}'", name);
      continue;
    }
    out += fmt::format("{}: {}\r\n", name, value);
  }
  out += "\r\n";
  if (!head) out += response.body;
  mg_write(conn, out.data(), out.size());
  return status;
}

HttpResponse TextResponse(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

}  // namespace

std::optional<std::string> HttpRequest::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() && strncasecmp(key.data(), name.data(), name.size()) == 0) {
      return value;
    }
  }
  return std::nullopt;
}

std::optional<std::string> HttpRequest::QueryParam(std::string_view name) const {
  if (query.empty()) return std::nullopt;
  std::string var(name);
  std::string buffer(query.size() + 1, '\0');
  int length = mg_get_var(query.data(), query.size(), var.c_str(), buffer.data(), buffer.size());
  if (length < 0) return std::nullopt;
  buffer.resize(static_cast<size_t>(length));
  return buffer;
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& listen,
                                                              int threads) {
  std::string host;
  if (absl::Status s = ValidateListen(listen, &host); !s.ok()) return s;
  if (threads < 1 || threads > kMaxHttpThreads) {
    return absl::InvalidArgumentError(fmt::format(
        "http server threads is {}; it must be between 1 and {}", threads, kMaxHttpThreads));
  }
  InitCivetweb();

  std::unique_ptr<HttpServer> server(new HttpServer());
  server->host_ = host;
  const std::string thread_count = std::to_string(threads);
  const std::string request_size = std::to_string(kMaxHttpRequestBytes);
  const char* options[] = {
      "listening_ports",    listen.c_str(),
      "num_threads",        thread_count.c_str(),
      "max_request_size",   request_size.c_str(),
      "request_timeout_ms", "10000",
      "enable_keep_alive",  "no",
      "decode_url",         "yes",
      nullptr,
  };
  mg_callbacks callbacks{};
  callbacks.log_message = &LogMessage;
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = server.get();
  init.configuration_options = options;
  unsigned error_code = 0;
  std::array<char, 256> error_text{};
  mg_error_data error{};
  error.code = &error_code;
  error.text = error_text.data();
  error.text_buffer_size = error_text.size();

  server->context_ = mg_start2(&init, &error);
  if (server->context_ == nullptr) {
    return absl::UnavailableError(fmt::format(
        "http server on {}: cannot start: {}; is the address in use or not local?", listen,
        error_text.data()));
  }
  std::array<mg_server_port, 4> ports{};
  int count = mg_get_server_ports(server->context_, static_cast<int>(ports.size()), ports.data());
  if (count < 1) {
    return absl::InternalError(
        fmt::format("http server on {}: started but reports no listening port", listen));
  }
  server->port_ = ports[0].port;
  mg_set_request_handler(server->context_, "/", &HttpServer::Dispatch, server.get());
  return server;
}

HttpServer::~HttpServer() {
  if (context_ == nullptr) return;
  // civetweb's accept loop sits in poll() for up to 2 s before it notices
  // mg_stop(); a connection wakes it, so shutdown does not stall.
  std::atomic<bool> stopped{false};
  std::thread knocker([&] {
    while (!stopped.load()) {
      Knock(host_, port_);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  mg_stop(context_);
  stopped = true;
  knocker.join();
}

void HttpServer::Handle(const std::string& path, HttpHandler handler) {
  auto shared = std::make_shared<const HttpHandler>(std::move(handler));
  absl::MutexLock lock(&mu_);
  handlers_[path] = std::move(shared);
}

std::shared_ptr<const HttpHandler> HttpServer::Find(const std::string& path) const {
  absl::MutexLock lock(&mu_);
  auto it = handlers_.find(path);
  return it == handlers_.end() ? nullptr : it->second;
}

int HttpServer::Dispatch(mg_connection* conn, void* self) {
  return static_cast<HttpServer*>(self)->Serve(conn);
}

int HttpServer::Serve(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  if (info == nullptr) return 0;
  std::string_view method = info->request_method != nullptr ? info->request_method : "";
  bool head = method == "HEAD";
  if (method != "GET" && !head) {
    HttpResponse response = TextResponse(405, "method not allowed: use GET or HEAD\n");
    response.headers.emplace_back("Allow", "GET, HEAD");
    return SendResponse(conn, false, response);
  }
  if (info->content_length > 0) {
    return SendResponse(conn, head, TextResponse(413, "request bodies are not accepted\n"));
  }
  if (info->local_uri == nullptr) {
    return SendResponse(conn, head, TextResponse(400, "bad request path\n"));
  }

  HttpRequest request;
  request.method = std::string(method);
  request.path = info->local_uri;
  if (info->query_string != nullptr) request.query = info->query_string;
  request.remote_addr = info->remote_addr;
  for (int i = 0; i < info->num_headers && i < MG_MAX_HEADERS; ++i) {
    const mg_header& header = info->http_headers[i];
    if (header.name != nullptr && header.value != nullptr) {
      request.headers.emplace_back(header.name, header.value);
    }
  }

  std::shared_ptr<const HttpHandler> handler = Find(request.path);
  if (handler == nullptr) {
    return SendResponse(conn, head, TextResponse(404, "not found\n"));
  }
  HttpResponse response;
  try {
    response = (*handler)(request);
  } catch (const std::exception& e) {
    spdlog::error("http: handler for {} threw: {}", request.path, e.what());
    response = TextResponse(500, "internal error\n");
  } catch (...) {
    spdlog::error("http: handler for {} threw a non-standard exception", request.path);
    response = TextResponse(500, "internal error\n");
  }
  return SendResponse(conn, head, response);
}

void RegisterStandardEndpoints(HttpServer& server, const MetricsRegistry& metrics,
                               std::function<absl::Status()> ready) {
  server.Handle("/metrics", [&metrics](const HttpRequest&) {
    HttpResponse response;
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = metrics.RenderText();
    return response;
  });
  server.Handle("/healthz", [](const HttpRequest&) { return TextResponse(200, "ok\n"); });
  server.Handle("/readyz", [ready = std::move(ready)](const HttpRequest&) {
    absl::Status status = ready ? ready() : absl::OkStatus();
    if (status.ok()) return TextResponse(200, "ready\n");
    HttpResponse response =
        TextResponse(503, fmt::format("not ready: {}\n", std::string(status.message())));
    response.headers.emplace_back("Retry-After", "5");
    return response;
  });
}

}  // namespace takedown
