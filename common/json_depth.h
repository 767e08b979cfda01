// JsonNestingOverflow: where JSON text first nests arrays and objects deeper
// than a limit, found by scanning the bytes without parsing, so hostile input
// ("[[[[...") is refused before a recursive parser sees it. Strings and their
// escapes are skipped; any other syntax error is left to the parser.
// Pure and thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace takedown {

// The byte offset of the bracket that opens level max_depth + 1, or nullopt
// when the text never nests deeper than max_depth.
std::optional<size_t> JsonNestingOverflow(std::string_view text, size_t max_depth);

}  // namespace takedown
