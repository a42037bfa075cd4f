#include "bnlandscape/cli/inherited_config.h"

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include <CLI/App.hpp>

#include "bnlandscape/cli/app.h"
#include "bnlandscape/cli/config_file.h"
#include "bnlandscape/record/checkpoint_source.h"
#include "bnlandscape/train/config.h"

namespace bnl::cli {

const std::vector<std::string> kOwnRunKeys{"out",   "overwrite", "quiet",       "threads",          "device",
                                           "seed",  "data_dir",  "flush_every", "checkpoint_every"};

namespace {

/// Parses `text` into `field` as the field's type; false (field untouched) when it does not parse.
template <class T>
bool assign(T& field, const std::string& text) {
  try {
    std::size_t used = 0;
    if constexpr (std::is_same_v<T, std::string>) {
      field = text;
      return true;
    } else if constexpr (std::is_same_v<T, bool>) {
      if (text != "true" && text != "false") return false;
      field = text == "true";
      return true;
    } else if constexpr (std::is_floating_point_v<T>) {
      const double v = std::stod(text, &used);
      if (used != text.size()) return false;
      field = static_cast<T>(v);
      return true;
    } else if constexpr (std::is_integral_v<T>) {
      const long long v = std::stoll(text, &used);
      if (used != text.size() || (std::is_unsigned_v<T> && v < 0)) return false;
      field = static_cast<T>(v);
      return true;
    }
  } catch (const std::exception&) {
  }
  return false;
}

}  // namespace

train::TrainConfig inherited_config(const train::TrainConfig& cfg, const std::string& checkpoint,
                                    const CLI::App* app) {
  train::TrainConfig out = cfg;
  const auto toml = record::stored_config(checkpoint);
  if (!toml) return out;
  for (const auto& e : parse_config_text(*toml, checkpoint + ":config_toml")) {
    std::string key = e.key;
    std::replace(key.begin(), key.end(), '-', '_');
    if (std::find(kOwnRunKeys.begin(), kOwnRunKeys.end(), key) != kOwnRunKeys.end()) continue;
    if (app && app->count("--" + dashed(key)) > 0) continue;
    train::visit_train_options(out, [&](const char* k, auto& field, const char*) {
      if (key == k) assign(field, e.value);
    });
  }
  return out;
}

}  // namespace bnl::cli
