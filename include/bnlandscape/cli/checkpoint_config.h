#pragma once
/// \file
/// The command-line side of reading a checkpoint: adopting its stored configuration
/// (record/checkpoint_source.h; which options the user gave is known to CLI11 only), the
/// default checkpoint group and the offline probe's default probe set.

#include <string>
#include <vector>

namespace CLI {
class App;
}
namespace bnl::train {
struct TrainConfig;
}
namespace bnl::probes {
struct ProbeConfig;
}

namespace bnl::cli {

/// Takes the options `keys` (underscored) that `app`'s command line and config file leave
/// unset from the configuration stored in `checkpoint` (its config_toml, parsed as a config
/// file named "<checkpoint>:config_toml"), so that a run file's checkpoint is evaluated as the
/// model it came from. Nothing happens when the file stores no configuration; a null `app`
/// counts no option as given.
void adopt_checkpoint_config(train::TrainConfig& cfg, const std::string& checkpoint,
                             const std::vector<std::string>& keys, const CLI::App* app);

/// The checkpoint group of `file` to read: `group` when it names a group the file has (a bare name
/// such as step_0000100 is looked up under /checkpoints), else a
/// ConfigError "--checkpoint-group G: no such group in F; it has /checkpoints/step_0000100
/// (step 100), ..." listing the checkpoints present. An empty `group` defaults to the file's
/// last checkpoint (largest step), which `command` ("probe", "surface") reports on stderr
/// unless `quiet`; a file without checkpoints is then a ConfigError asking for the group.
std::string resolve_checkpoint_group(const std::string& file, const std::string& group, const std::string& command,
                                     bool quiet);

/// An offline probe (`probe --checkpoint F`) measures a fixed set (there is no training
/// batch): --probe-batch defaults to fixed there when `app`'s command line and config file
/// leave it unset. Nothing changes for an online probe or an explicit --probe-batch.
void default_offline_probe_batch(probes::ProbeConfig& probe, const CLI::App* app);

}  // namespace bnl::cli
