#include "bnlandscape/cli/inherited_config.h"

#include <algorithm>

#include "bnlandscape/cli/checkpoint_config.h"
#include "bnlandscape/train/config.h"

namespace bnl::cli {

const std::vector<std::string> kOwnRunKeys{"out",   "overwrite", "quiet",       "threads",          "device",
                                           "seed",  "data_dir",  "flush_every", "checkpoint_every", "checkpoint_minutes"};

train::TrainConfig inherited_config(const train::TrainConfig& cfg, const std::string& checkpoint,
                                    const CLI::App* app) {
  train::TrainConfig out = cfg;
  std::vector<std::string> keys;
  train::visit_train_options(out, [&](const char* key, auto&, const char*) {
    if (std::find(kOwnRunKeys.begin(), kOwnRunKeys.end(), key) == kOwnRunKeys.end()) keys.emplace_back(key);
  });
  adopt_checkpoint_config(out, checkpoint, keys, app);
  return out;
}

}  // namespace bnl::cli
