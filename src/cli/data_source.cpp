#include "bnlandscape/cli/data_source.h"

#include <utility>

namespace bnl::cli {
namespace {

data::ImageSet to_image_set(io::TensorSplit&& s) {
  data::ImageSet set;
  set.n = s.shape[0];
  set.channels = s.shape[1];
  // Feature rows [N, D] become [N, D, 1, 1]: the MLP flattens them back to D inputs.
  set.height = s.shape.size() == 4 ? s.shape[2] : 1;
  set.width = s.shape.size() == 4 ? s.shape[3] : 1;
  set.pixels = std::move(s.u8);
  set.values = std::move(s.f32);
  set.labels = std::move(s.labels);
  return set;
}

}  // namespace

data::Dataset to_dataset(io::TensorDatasetFile&& file, const std::string& sha256) {
  data::Dataset ds;
  ds.name = "tensors";
  ds.feature_rows = file.train.shape.size() == 2;
  ds.num_classes = file.num_classes;
  const auto channels = static_cast<std::size_t>(file.train.shape[1]);
  ds.train = to_image_set(std::move(file.train));
  ds.test = to_image_set(std::move(file.test));
  // Without mean/std the inputs are used as stored (uint8: x/255, as torchvision's
  // ToTensor without Normalize): statistics computed here would be a choice the file does
  // not record; the run file's input_normalization says which applied.
  ds.norm.mean = file.mean.empty() ? std::vector<float>(channels, 0.0f) : std::move(file.mean);
  ds.norm.std = file.std.empty() ? std::vector<float>(channels, 1.0f) : std::move(file.std);
  ds.files.push_back({file.path, sha256});
  return ds;
}

data::Dataset load_run_data(const train::TrainConfig& cfg) {
  if (train::dataset_kind(cfg) != train::Dataset::tensors) return data::load_dataset(cfg.dataset, cfg.data_dir);
  auto file = io::read_tensor_dataset(cfg.data_file);
  return to_dataset(std::move(file), data::sha256_file(cfg.data_file));
}

void check_input_fits(const train::TrainConfig& cfg, const data::Dataset& data) {
  const auto arch = train::arch_kind(cfg);
  // The MLP flattens; a scripted module takes feature rows as [N, D] (its own business).
  if (arch == train::Arch::mlp || arch == train::Arch::torchscript) return;
  const std::string where = "--arch " + cfg.arch + " with --dataset " + cfg.dataset +
                            (cfg.data_file.empty() ? "" : " (" + cfg.data_file + ")");
  if (data.feature_rows)
    throw ConfigError(where + ": expected images [N, C, H, W] (convolutions need a height and width), got feature rows [N, " +
                      std::to_string(data.train.channels) + "]; use --arch mlp");
}

}  // namespace bnl::cli
