#include "daemon/keys.h"

#include "fmt/format.h"

namespace takedown {

std::string EncodeUint64BE(uint64_t value) {
  std::string out;
  AppendUint64BE(out, value);
  return out;
}

void AppendUint64BE(std::string& out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xFF));
  }
}

std::optional<uint64_t> DecodeUint64BE(std::string_view bytes) {
  if (bytes.size() != 8) return std::nullopt;
  uint64_t value = 0;
  for (char c : bytes) value = (value << 8) | static_cast<uint8_t>(c);
  return value;
}

std::string JoinKey(std::string_view a, std::string_view b) {
  std::string key;
  key.reserve(a.size() + 1 + b.size());
  key.append(a);
  key.push_back(kKeySeparator);
  key.append(b);
  return key;
}

std::string KeyPrefix(std::string_view a) {
  std::string prefix(a);
  prefix.push_back(kKeySeparator);
  return prefix;
}

std::optional<std::pair<std::string_view, std::string_view>> SplitKey(std::string_view key) {
  size_t pos = key.find(kKeySeparator);
  if (pos == std::string_view::npos) return std::nullopt;
  return std::make_pair(key.substr(0, pos), key.substr(pos + 1));
}

std::string PrintableKey(std::string_view key, size_t max_chars) {
  std::string out;
  for (char c : key) {
    if (out.size() >= max_chars) {
      out += "...";
      break;
    }
    auto byte = static_cast<uint8_t>(c);
    if (byte >= 0x20 && byte < 0x7F && c != '\\') {
      out.push_back(c);
    } else {
      out += fmt::format("\\x{:02x}", byte);
    }
  }
  return out;
}

}  // namespace takedown
