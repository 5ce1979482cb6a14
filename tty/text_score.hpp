// Character error rate scoring of decoded TTY text, as the bundled corpus defines it: case and
// whitespace are normalised (CR and LF count as a space), then Levenshtein distance is divided
// by the reference length. Used by the corpus tests and the benchmarks.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace relaygw::tty {

// Returns `text` in upper case with each run of whitespace made one space and no space at the
// start or end.
std::string normalize_for_scoring(std::string_view text);

// Returns the Levenshtein distance (insertions, deletions and substitutions) from `a` to `b`.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace relaygw::tty
