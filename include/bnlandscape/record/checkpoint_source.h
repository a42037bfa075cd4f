#pragma once
/// \file
/// A checkpoint as the source of a model: the tensors of group G of HDF5 file F (written by
/// `train --checkpoint-every`, or any group of dotted-name datasets) copied into a model's
/// parameters and buffers, and the configuration stored beside them (the file's root attribute
/// config_toml) adopted for the options the command line leaves open, so that `probe
/// --checkpoint` and `surface` evaluate a run file's checkpoint as the model it came from.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bnl::models {
class Classifier;
}
namespace bnl::train {
struct TrainConfig;
}

namespace bnl::record {

/// Where the weights are: a group of dotted-name datasets ("net.0.weight", ...) in a file.
struct CheckpointSource {
  std::string file;   ///< HDF5 file
  std::string group;  ///< e.g. /checkpoints/step_0000469
};

/// The configuration stored in `file` (its root attribute config_toml), nullopt when the
/// file has none (a file of tensors not written by bnlandscape).
std::optional<std::string> stored_config(const std::string& file);

/// Sets each option of `cfg` named in `keys` to its value in `stored` (key with underscores,
/// value in command-line form, as parsed from a stored config_toml), unless `given(key)` says
/// the user set it. Other keys, and values that do not parse as their option's type, are left
/// alone.
void adopt_config(train::TrainConfig& cfg, const std::vector<std::pair<std::string, std::string>>& stored,
                  const std::vector<std::string>& keys, const std::function<bool(const std::string&)>& given);

/// Copies the tensors of `src` into `model`'s parameters and buffers of the same name (names
/// the model lacks are ignored). Throws train::ConfigError "F:G/NAME: expected shape [..] for
/// --arch A --bn B, got [..]" for a tensor whose shape differs, and "F:G: expected parameter
/// 'NAME' for --arch A --bn B, not found" for a parameter the group lacks (`arch` and `bn` name
/// the model built); io::IoError when the file or group cannot be read.
void load_checkpoint(models::Classifier& model, const CheckpointSource& src, const std::string& arch,
                     const std::string& bn);

/// The training step of a checkpoint group named ".../step_N" (N), 0 for any other name.
std::int64_t checkpoint_step(const std::string& group);

}  // namespace bnl::record
