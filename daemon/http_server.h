// HttpServer: a small embedded HTTP/1.1 server (civetweb) for /metrics,
// /healthz, /readyz and read-only pages such as the case dashboard.
//
// Only GET and HEAD are served (anything else gets 405); paths match exactly
// (no prefixes); unknown paths get 404. Request headers are limited to
// kMaxHttpRequestBytes and request bodies are refused (413). Connections are
// not kept alive. A handler that throws produces a 500.
//
// Handlers run on the server's worker threads, possibly concurrently, so they
// must be thread-safe; everything they reference must outlive the server.
// Handle() may be called at any time, also while serving. Destroying the
// server stops it and waits for requests in progress.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

struct mg_connection;
struct mg_context;

namespace takedown {

class MetricsRegistry;

inline constexpr size_t kMaxHttpRequestBytes = 16 << 10;
inline constexpr int kMaxHttpThreads = 64;

struct HttpRequest {
  std::string method;       // "GET" or "HEAD"
  std::string path;         // URL-decoded and normalized, without the query
  std::string query;        // raw query string without '?', may be empty
  std::string remote_addr;  // client IP address
  std::vector<std::pair<std::string, std::string>> headers;

  // First header with this name (case-insensitive).
  std::optional<std::string> Header(std::string_view name) const;
  // First query parameter with this name, URL-decoded.
  std::optional<std::string> QueryParam(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Extra headers; a name or value containing CR or LF is dropped.
  std::vector<std::pair<std::string, std::string>> headers;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  // Listens on `listen`, "host:port" ("127.0.0.1:9464", "[::1]:9464"); port 0
  // lets the OS pick (see port()). `threads` in [1, kMaxHttpThreads].
  // InvalidArgument for a malformed address or thread count, Unavailable if
  // the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& listen, int threads);

  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port.
  int port() const { return port_; }

  // Serves GET/HEAD `path` (exact match, e.g. "/metrics") with `handler`,
  // replacing any handler registered for it.
  void Handle(const std::string& path, HttpHandler handler);

 private:
  HttpServer() = default;
  static int Dispatch(mg_connection* conn, void* self);
  int Serve(mg_connection* conn);
  std::shared_ptr<const HttpHandler> Find(const std::string& path) const;

  // Constant after Start().
  mg_context* context_ = nullptr;
  std::string host_;
  int port_ = 0;

  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<const HttpHandler>> handlers_ ABSL_GUARDED_BY(mu_);
};

// Registers:
//   /metrics  200, metrics.RenderText() as text/plain; version=0.0.4
//   /healthz  200 "ok" while the process serves at all
//   /readyz   200 "ready" when ready() is OK, else 503 "not ready: <message>"
// `metrics` and whatever `ready` references must outlive the server. A null
// `ready` means always ready.
void RegisterStandardEndpoints(HttpServer& server, const MetricsRegistry& metrics,
                               std::function<absl::Status()> ready);

}  // namespace takedown
