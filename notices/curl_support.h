// Small libcurl helpers shared by the notice channels that speak HTTP and
// SMTP through libcurl: owning handle pointers, one-time global init, URL
// part extraction with libcurl's own parser (so what a channel checks is
// what libcurl connects to), and the loopback test that decides where plain
// text transports are allowed. Header-only; callers link CURL::libcurl.
#pragma once

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace takedown::curl_support {

inline void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Deleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Deleter>;

// The part of a parsed URL, or "" if it has none.
inline std::string UrlPart(CURLU* url, CURLUPart part) {
  char* value = nullptr;
  if (curl_url_get(url, part, &value, 0) != CURLUE_OK || value == nullptr) return "";
  std::string result(value);
  curl_free(value);
  return result;
}

// "localhost", "[::1]" or an IPv4 address in 127.0.0.0/8.
inline bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost" || host == "[::1]") return true;
  in_addr address{};
  const std::string text(host);
  return ::inet_pton(AF_INET, text.c_str(), &address) == 1 && (ntohl(address.s_addr) >> 24) == 127;
}

}  // namespace takedown::curl_support
