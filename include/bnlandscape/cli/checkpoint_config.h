#pragma once
/// \file
/// The command-line side of adopting a checkpoint's stored configuration
/// (record/checkpoint_source.h): which options the user gave is known to CLI11 only.

#include <string>
#include <vector>

namespace CLI {
class App;
}
namespace bnl::train {
struct TrainConfig;
}

namespace bnl::cli {

/// Takes the options `keys` (underscored) that `app`'s command line and config file leave
/// unset from the configuration stored in `checkpoint` (its config_toml, parsed as a config
/// file named "<checkpoint>:config_toml"), so that a run file's checkpoint is evaluated as the
/// model it came from. Nothing happens when the file stores no configuration; a null `app`
/// counts no option as given.
void adopt_checkpoint_config(train::TrainConfig& cfg, const std::string& checkpoint,
                             const std::vector<std::string>& keys, const CLI::App* app);

}  // namespace bnl::cli
