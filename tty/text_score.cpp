#include "tty/text_score.hpp"

#include <cctype>

namespace relaygw::tty {

std::string normalize_for_scoring(std::string_view text) {
  std::string out;
  bool pending_space = false;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isspace(byte) != 0) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) {
      out.push_back(' ');
      pending_space = false;
    }
    out.push_back(static_cast<char>(std::toupper(byte)));
  }
  return out;
}

}  // namespace relaygw::tty
