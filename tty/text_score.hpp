// Character error rate scoring of decoded TTY text, as the bundled corpus defines it: case and
// whitespace are normalised (CR and LF count as a space), then Levenshtein distance is divided
// by the reference length. Used by the corpus tests and the benchmarks.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/edit_distance.hpp"

namespace relaygw::tty {

// Returns `text` in upper case with each run of whitespace made one space and no space at the
// start or end.
std::string normalize_for_scoring(std::string_view text);

// The Levenshtein distance from `a` to `b` (common/edit_distance.hpp).
using relaygw::edit_distance;

}  // namespace relaygw::tty
