// Lower-case hexadecimal encoding of byte strings, and strict decoding.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace takedown {

std::string HexEncode(std::span<const uint8_t> bytes);
std::string HexEncode(std::string_view bytes);

// Accepts upper- or lower-case hex of even length; nullopt on anything else.
std::optional<std::string> HexDecode(std::string_view hex);

}  // namespace takedown
