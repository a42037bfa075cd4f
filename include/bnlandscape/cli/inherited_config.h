#pragma once
/// \file
/// The run configuration an offline probe or a surface records: its checkpoint's run's
/// settings (epochs, train_subset, lr, ...) wherever the command did not set the key itself, so
/// that its file says which run it measured rather than the defaults.

#include <string>
#include <vector>

namespace CLI {
class App;
}
namespace bnl::train {
struct TrainConfig;
}

namespace bnl::cli {

/// Keys a checkpoint's measurement keeps as its own (where it writes, how it computes, its seed):
/// never taken from the checkpoint's configuration.
extern const std::vector<std::string> kOwnRunKeys;

/// `cfg` with every option that `app` (command line and config file) leaves unset, other than
/// kOwnRunKeys, taken from the configuration stored in `checkpoint`; `cfg` itself when the
/// file stores none. Values that do not parse as the option's type are left as they are.
train::TrainConfig inherited_config(const train::TrainConfig& cfg, const std::string& checkpoint,
                                    const CLI::App* app);

}  // namespace bnl::cli
