#include "bnlandscape/cli/checkpoint_config.h"

#include <utility>

#include <CLI/App.hpp>

#include "bnlandscape/cli/app.h"
#include "bnlandscape/cli/config_file.h"
#include "bnlandscape/record/checkpoint_source.h"

namespace bnl::cli {

void adopt_checkpoint_config(train::TrainConfig& cfg, const std::string& checkpoint,
                             const std::vector<std::string>& keys, const CLI::App* app) {
  const auto toml = record::stored_config(checkpoint);
  if (!toml) return;
  std::vector<std::pair<std::string, std::string>> stored;
  for (const auto& e : parse_config_text(*toml, checkpoint + ":config_toml")) stored.emplace_back(e.key, e.value);
  record::adopt_config(cfg, stored, keys,
                       [app](const std::string& key) { return app && app->count("--" + dashed(key)) > 0; });
}

}  // namespace bnl::cli
