#pragma once
/// \file
/// The resolved configuration of a `train` run. Each option has exactly one spelling, used as
/// the C++ field name, the TOML key (underscores) and the flag (--dashes); a default; a
/// one-line doc; and a check in validate(). visit() lists them once for the CLI, config
/// files, --dump-config and the copy of the configuration written into every run file.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace bnl::train {

/// A bad option value; the message names the option, the value and what is allowed.
/// `main` maps it to exit code 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Everything a training run depends on.
struct TrainConfig {
  // data
  std::string dataset = "fashion-mnist";
  std::string data_dir;  ///< empty: the dataset's default directory
  std::int64_t train_subset = 0;
  std::int64_t test_subset = 0;
  // model
  std::string arch = "mlp";
  std::string hidden_dims = "512,256,128";
  std::string conv_channels = "32,64";
  std::string bn = "custom";
  std::string bn_placement = "head";
  std::string bn_backward = "exact";
  std::string bn_eval = "running";
  // optimisation
  std::string optimizer = "sgd";
  double lr = 0.1;
  double momentum = 0.0;
  double weight_decay = 0.0;
  std::int64_t batch_size = 128;
  std::int64_t epochs = 10;
  std::uint64_t seed = 0;
  std::int64_t threads = 0;  ///< 0: chosen by measurement (see README)
  // logging and output
  std::int64_t eval_every = 0;
  std::int64_t checkpoint_every = 0;
  std::int64_t flush_every = 50;
  std::string out;
  bool overwrite = false;
  bool quiet = false;
};

/// Calls v(name, field, doc) for every option of TrainConfig in a fixed order; `name` uses
/// underscores (TOML key; the flag is the same with dashes).
template <class Config, class Visitor>
void visit_train_options(Config& c, Visitor&& v) {
  v("dataset", c.dataset, "dataset: fashion-mnist | cifar10");
  v("data_dir", c.data_dir, "data directory (default: /usr/share/datasets/fashion-mnist, ./data/cifar10)");
  v("train_subset", c.train_subset, "use only the first N training examples (0 = all)");
  v("test_subset", c.test_subset, "use only the first N test examples (0 = all)");
  v("arch", c.arch, "architecture: mlp | cnn (the original study's MLP and ConvMLP)");
  v("hidden_dims", c.hidden_dims, "hidden layer widths, comma-separated");
  v("conv_channels", c.conv_channels, "convolution channel counts of the cnn, comma-separated");
  v("bn", c.bn, "normalisation: none | custom (our BatchNorm) | torch (libtorch's, reference)");
  v("bn_placement", c.bn_placement, "cnn only: BN in the dense head | after each conv | all");
  v("bn_backward", c.bn_backward, "BN gradient: exact | original (the original study's buggy dvar term)");
  v("bn_eval", c.bn_eval, "BN statistics in evaluation: running | batch (the original study)");
  v("optimizer", c.optimizer, "optimizer: sgd | adam");
  v("lr", c.lr, "learning rate");
  v("momentum", c.momentum, "SGD momentum (0 = plain SGD as in the original)");
  v("weight_decay", c.weight_decay, "L2 weight decay");
  v("batch_size", c.batch_size, "mini-batch size");
  v("epochs", c.epochs, "number of epochs");
  v("seed", c.seed, "seed of initialisation and data order");
  v("threads", c.threads, "compute threads (0 = the measured default, see README)");
  v("eval_every", c.eval_every, "also evaluate the test set every N steps (0 = per epoch only)");
  v("checkpoint_every", c.checkpoint_every, "write a checkpoint every N steps (0 = at the end only)");
  v("flush_every", c.flush_every, "flush the run file every N steps (at most 50)");
  v("out", c.out, "run file (HDF5) to write");
  v("overwrite", c.overwrite, "replace an existing run file");
  v("quiet", c.quiet, "no progress output");
}

/// Checks every option of `c`; throws ConfigError naming the first bad one.
void validate(const TrainConfig& c);

}  // namespace bnl::train
