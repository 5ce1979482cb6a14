// Detection of a key repeated in a JSON object, which nlohmann::json accepts by keeping only
// the key's last value.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace relaygw {

// Records the top-level keys of one JSON object as nlohmann::json parses it, so a message such
// as {"billing":"collect","billing":"calling-card"} can be rejected instead of meaning different
// things to different readers.
class RepeatedKeyCheck {
 public:
  // The callback to pass to nlohmann::json::parse. This object must outlive the parse.
  nlohmann::json::parser_callback_t callback() {
    return [this](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
      if (event == nlohmann::json::parse_event_t::key && depth == 1 && parsed.is_string()) {
        const std::string& key = parsed.get_ref<const std::string&>();
        if (repeated_.empty() && std::find(keys_.begin(), keys_.end(), key) != keys_.end()) {
          repeated_ = key;
        }
        keys_.push_back(key);
      }
      return true;
    };
  }

  // The first top-level key that appeared twice, or an empty string.
  const std::string& repeated_key() const { return repeated_; }

 private:
  std::vector<std::string> keys_;
  std::string repeated_;
};

}  // namespace relaygw
