#pragma once
/// \file
/// The resolved configuration of a `train` run. Each option has exactly one spelling, used as
/// the C++ field name, the TOML key (underscores) and the flag (--dashes); a default; a
/// one-line doc; and a check in validate(). visit() lists them once for the CLI, config
/// files, --dump-config and the copy of the configuration written into every run file.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
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
  std::string vgg_config = "11";
  double width_mult = 1.0;
  std::string bn = "custom";
  std::string bn_placement = "head";
  std::string bn_backward = "exact";
  std::string bn_eval = "running";
  bool bn_noise = false;
  double bn_noise_mu = 0.5;
  double bn_noise_sigma = 0.25;
  // optimisation
  std::string optimizer = "sgd";
  double lr = 0.1;
  double momentum = 0.0;
  double weight_decay = 0.0;
  std::int64_t batch_size = 128;
  std::int64_t epochs = 10;
  std::uint64_t seed = 0;
  std::int64_t threads = 0;  ///< 0: chosen by measurement (see README)
  std::string device = "cpu";
  std::string step_engine = "auto";
  // logging and output
  std::int64_t eval_every = 0;
  std::int64_t checkpoint_every = 0;
  std::int64_t flush_every = 50;
  // activation statistics and internal covariate shift
  std::int64_t activations_every = 0;
  std::int64_t activation_bins = 180;
  std::string activation_range;  ///< "lo,hi"; empty: from the first snapshot
  std::int64_t ics_every = 0;
  std::string ics_layers;  ///< comma-separated module names; empty: every Linear and Conv
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
  v("arch", c.arch, "architecture: mlp | cnn (the original study's MLP and ConvMLP) | vgg (the paper's VGG, BN after every conv)");
  v("hidden_dims", c.hidden_dims, "hidden layer widths, comma-separated");
  v("conv_channels", c.conv_channels, "convolution channel counts of the cnn, comma-separated");
  v("vgg_config", c.vgg_config, "vgg only: 11 | 13 | 16 | 19 (torchvision's) or channel counts with M for 2x2 max-pools, e.g. \"64,M,128,M\"");
  v("width_mult", c.width_mult, "vgg only: scales every convolution's width, max(1, round(w * width_mult)) (0.25: a CPU-sized VGG)");
  v("bn", c.bn, "normalisation: none | custom (our BatchNorm) | torch (libtorch's, reference) | lp1 | lp2 | lpinf (lp-normalisation)");
  v("bn_placement", c.bn_placement, "cnn only: BN in the dense head | after each conv | all (vgg: always after each conv)");
  v("bn_backward", c.bn_backward, "BN gradient: exact | original (the original study's buggy dvar term)");
  v("bn_eval", c.bn_eval, "BN statistics in evaluation: running | batch (the original study)");
  v("bn_noise", c.bn_noise, "noisy BN (Algorithm 1 of the paper): random per-unit shift and scale after every BN output, training only");
  v("bn_noise_mu", c.bn_noise_mu, "noisy BN: per-unit mean shifts drawn from U(-mu, mu)");
  v("bn_noise_sigma", c.bn_noise_sigma, "noisy BN: per-unit scales drawn from U(1, 1 + sigma)");
  v("optimizer", c.optimizer, "optimizer: sgd | adam");
  v("lr", c.lr, "learning rate");
  v("momentum", c.momentum, "SGD momentum (0 = plain SGD as in the original)");
  v("weight_decay", c.weight_decay, "L2 weight decay");
  v("batch_size", c.batch_size, "mini-batch size");
  v("epochs", c.epochs, "number of epochs");
  v("seed", c.seed, "seed of initialisation and data order");
  v("threads", c.threads, "compute threads (0 = the measured default, see README)");
  v("device", c.device, "device of the whole run: cpu | cuda (exit 2 unless libtorch has CUDA) | auto (cuda when available, else cpu)");
  v("step_engine", c.step_engine, "training step: auto (direct BLAS products and fused loops for an MLP with --bn none or custom, exact backward, no noise; autograd for every other model) | autograd (always libtorch autograd)");
  v("eval_every", c.eval_every, "also evaluate the test set every N steps (0 = per epoch only)");
  v("checkpoint_every", c.checkpoint_every, "write a checkpoint every N steps (0 = at the end only)");
  v("flush_every", c.flush_every, "flush the run file every N steps (at most 50)");
  v("activations_every", c.activations_every, "record activation histograms and statistics on a fixed batch every N steps (0 = off)");
  v("activation_bins", c.activation_bins, "histogram bins of activation snapshots");
  v("activation_range", c.activation_range, "histogram range \"lo,hi\" for every layer and site (default: from the first snapshot's 0.5-99.5% quantiles, widened 25% each side)");
  v("ics_every", c.ics_every, "measure internal covariate shift (Definition 2.1 of the paper) every N steps (0 = off)");
  v("ics_layers", c.ics_layers, "layers of ICS, comma-separated module names (default: every Linear and Conv)");
  v("out", c.out, "run file (HDF5) to write");
  v("overwrite", c.overwrite, "replace an existing run file");
  v("quiet", c.quiet, "no progress output");
}

/// Checks every option of `c`; throws ConfigError naming the first bad one.
void validate(const TrainConfig& c);

/// Parses --activation-range "lo,hi" (finite, lo < hi); throws ConfigError otherwise.
std::pair<double, double> parse_activation_range(const std::string& s);

/// Splits "net.0, net.3" into {"net.0", "net.3"} (empty items dropped).
std::vector<std::string> parse_name_list(const std::string& s);

}  // namespace bnl::train
