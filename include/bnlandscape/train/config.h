#pragma once
/// \file
/// The resolved configuration of a `train` run. Each option is declared once, in
/// visit_train_specs: its spelling (the C++ field name, the TOML key with underscores, the flag
/// with --dashes), doc, unit, allowed values with the message of a bad one, and the subcommands
/// taking it; the default is the field's initialiser. From it come the CLI flags, config files,
/// --dump-config, the per-option checks of validate(), docs/options.md and the copy of the
/// configuration written into every run file.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bnlandscape/config/option.h"
#include "bnlandscape/core/error.h"

namespace bnl::train {

/// A bad option value; the message names the option, the value and what is allowed.
/// `main` maps it to exit code 2.
using ConfigError = bnl::ConfigError;

/// Everything a training run depends on.
struct TrainConfig {
  // data
  std::string dataset = "fashion-mnist";
  std::string data_dir;  ///< empty: the dataset's default directory
  std::string data_file;  ///< --dataset tensors: the HDF5 file of the data (empty otherwise)
  std::int64_t train_subset = 0;
  std::int64_t test_subset = 0;
  std::int64_t pad_to = 0;  ///< images zero-padded to pad_to x pad_to after normalisation (0 = off)
  // model
  std::string arch = "mlp";
  std::string model;  ///< --arch torchscript: the TorchScript file (empty otherwise)
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
  std::int64_t checkpoint_every = -1;  ///< -1: every epoch; 0: at the end only
  double checkpoint_minutes = 5.0;       ///< 0: no checkpoints by wall time
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

/// Calls v(spec, field) for every option of TrainConfig in a fixed order: the one declaration
/// of each option (config/option.h). Subcommands: train and probe take every one, surface the
/// data, model, thread and output options; probe and surface adopt the model (and data) options
/// from a checkpoint's stored configuration.
template <class Config, class Visitor>
void visit_train_specs(Config& c, Visitor&& v) {
  using namespace bnl::optspec;
  constexpr unsigned kRun = kTrain | kProbe;
  constexpr unsigned kAll = kTrain | kProbe | kSurface;
  v(opt("dataset", "dataset: fashion-mnist | cifar10 | tensors (your own, from --data-file)")
        .in(kAll).adopted_by(kProbe | kSurface).one_of("fashion-mnist | cifar10 | tensors"),
    c.dataset);
  v(opt("data_dir", "data directory (default: /usr/share/datasets/fashion-mnist, ./data/cifar10)")
        .in(kAll).adopted_by(kSurface),
    c.data_dir);
  v(opt("data_file", "tensors only: the HDF5 file holding /train/x, /train/y, /test/x, /test/y (docs/usage.md, \"Your own data\")")
        .in(kAll).adopted_by(kProbe | kSurface),
    c.data_file);
  v(opt("train_subset", "use only the first N training examples (0 = all)")
        .in(kRun).at_least(0).expect("N >= 0 (0 = all)").with_unit("examples"),
    c.train_subset);
  v(opt("test_subset", "use only the first N test examples (0 = all)")
        .in(kRun).at_least(0).expect("N >= 0 (0 = all)").with_unit("examples"),
    c.test_subset);
  v(opt("pad_to", "zero-pad the normalised images to P x P, centred (32: Fashion-MNIST for --arch vgg, as F.pad(x, (2, 2, 2, 2)); 0 = off)")
        .in(kAll).adopted_by(kProbe | kSurface).at_least(0).expect("P >= 0 (0 = off), at least the image size").with_unit("pixels"),
    c.pad_to);
  v(opt("arch", "architecture: mlp | cnn (the original study's MLP and ConvMLP) | vgg (the paper's VGG, BN after every conv) | torchscript (your own, from --model)")
        .in(kAll).adopted_by(kProbe | kSurface).one_of("mlp | cnn | vgg | torchscript"),
    c.arch);
  v(opt("model", "torchscript only: the TorchScript file (torch.jit.save of a scripted or traced module) whose forward maps a batch to [N, num_classes] logits; its saved weights are the initial ones (docs/usage.md, \"Your own model\")")
        .in(kAll).adopted_by(kProbe | kSurface),
    c.model);
  v(opt("hidden_dims", "hidden layer widths, comma-separated")
        .in(kAll).adopted_by(kProbe | kSurface),
    c.hidden_dims);
  v(opt("conv_channels", "convolution channel counts of the cnn, comma-separated")
        .in(kAll).adopted_by(kProbe | kSurface),
    c.conv_channels);
  v(opt("vgg_config", "vgg only: 11 | 13 | 16 | 19 (torchvision's) or channel counts with M for 2x2 max-pools, e.g. \"64,M,128,M\"")
        .in(kAll).adopted_by(kProbe | kSurface),
    c.vgg_config);
  v(opt("width_mult", "vgg only: scales every convolution's width, max(1, round(w * width_mult)) (0.25: a CPU-sized VGG)")
        .in(kAll).adopted_by(kProbe | kSurface).above(0).finite().expect("a finite value > 0"),
    c.width_mult);
  v(opt("bn", "normalisation: none | custom (our BatchNorm) | torch (libtorch's, reference) | lp1 | lp2 | lpinf (lp-normalisation)")
        .in(kAll).adopted_by(kProbe | kSurface).one_of("none | custom | torch | lp1 | lp2 | lpinf"),
    c.bn);
  v(opt("bn_placement", "cnn only: BN in the dense head | after each conv | all (vgg: always after each conv)")
        .in(kAll).adopted_by(kProbe | kSurface).one_of("head | conv | all"),
    c.bn_placement);
  v(opt("bn_backward", "BN gradient: exact | original (the original study's buggy dvar term)")
        .in(kRun).one_of("exact | original"),
    c.bn_backward);
  v(opt("bn_eval", "BN statistics in evaluation: running | batch (the original study)")
        .in(kAll).adopted_by(kProbe | kSurface).one_of("running | batch"),
    c.bn_eval);
  v(opt("bn_noise", "noisy BN (Algorithm 1 of the paper): random per-unit shift and scale after every BN output, training only")
        .in(kRun),
    c.bn_noise);
  v(opt("bn_noise_mu", "noisy BN: per-unit mean shifts drawn from U(-mu, mu)")
        .in(kRun).at_least(0).finite().expect("a finite value >= 0"),
    c.bn_noise_mu);
  v(opt("bn_noise_sigma", "noisy BN: per-unit scales drawn from U(1, 1 + sigma)")
        .in(kRun).at_least(0).finite().expect("a finite value >= 0"),
    c.bn_noise_sigma);
  v(opt("optimizer", "optimizer: sgd | adam")
        .in(kRun).adopted_by(kProbe).one_of("sgd | adam"),
    c.optimizer);
  v(opt("lr", "learning rate")
        .in(kRun).adopted_by(kProbe).above(0).finite().expect("a finite learning rate > 0"),
    c.lr);
  v(opt("momentum", "SGD momentum (0 = plain SGD as in the original)")
        .in(kRun).adopted_by(kProbe).at_least(0).below(1).expect("0 <= momentum < 1"),
    c.momentum);
  v(opt("weight_decay", "L2 weight decay")
        .in(kRun).at_least(0).finite().expect("a finite value >= 0"),
    c.weight_decay);
  v(opt("batch_size", "mini-batch size")
        .in(kRun).at_least(1).expect("a batch size >= 1").with_unit("examples"),
    c.batch_size);
  v(opt("epochs", "number of epochs")
        .in(kRun).at_least(1).expect("at least 1 epoch"),
    c.epochs);
  v(opt("seed", "seed of initialisation and data order")
        .in(kRun),
    c.seed);
  v(opt("threads", "compute threads (0 = the measured default, see README)")
        .in(kAll).at_least(0).expect("N >= 0 (0 = measured default)"),
    c.threads);
  v(opt("device", "device of the whole run: cpu | cuda (exit 2 unless libtorch has CUDA) | auto (cuda when available, else cpu)")
        .in(kRun).one_of("cpu | cuda | auto"),
    c.device);
  v(opt("step_engine", "training step: auto (direct BLAS products and fused loops for an MLP with --bn none or custom, exact backward, no noise; autograd for every other model) | autograd (always libtorch autograd)")
        .in(kRun).one_of("auto | autograd"),
    c.step_engine);
  v(opt("eval_every", "also evaluate the test set every N steps (0 = per epoch only)")
        .in(kRun).at_least(0).expect("N >= 0 (0 = off)").with_unit("steps"),
    c.eval_every);
  v(opt("checkpoint_every", "write a checkpoint every N steps; -1 = at the end of every epoch; 0 = at the end of the run only (then no --checkpoint-minutes either). The run's end always gets one (unless diverged)")
        .in(kRun).at_least(-1).expect("N >= -1 (-1 = every epoch, 0 = at the end only)").with_unit("steps"),
    c.checkpoint_every);
  v(opt("checkpoint_minutes", "also write a checkpoint after a step when this much wall time has passed since the last one, so a kill -9 loses at most about that much work (0 = off; ignored with --checkpoint-every 0). Checkpoints never change a training number, but which steps get one then depends on timing")
        .in(kRun).at_least(0).finite().expect("a finite number of minutes >= 0 (0 = off)").with_unit("minutes"),
    c.checkpoint_minutes);
  v(opt("flush_every", "flush the run file every N steps (at most 50)")
        .in(kRun).at_least(1).at_most(50).expect("1 <= N <= 50").with_unit("steps"),
    c.flush_every);
  v(opt("activations_every", "record activation histograms and statistics on a fixed batch every N steps (0 = off)")
        .in(kRun).at_least(0).expect("N >= 0 (0 = off)").with_unit("steps"),
    c.activations_every);
  v(opt("activation_bins", "histogram bins of activation snapshots")
        .in(kRun).at_least(1).at_most(100000).expect("1 <= bins <= 100000"),
    c.activation_bins);
  v(opt("activation_range", "histogram range \"lo,hi\" for every layer and site (default: from the first snapshot's 0.5-99.5% quantiles, widened 25% each side)")
        .in(kRun),
    c.activation_range);
  v(opt("ics_every", "measure internal covariate shift (Definition 2.1 of the paper) every N steps (0 = off)")
        .in(kRun).at_least(0).expect("N >= 0 (0 = off)").with_unit("steps"),
    c.ics_every);
  v(opt("ics_layers", "layers of ICS, comma-separated module names (default: every Linear and Conv)")
        .in(kRun),
    c.ics_layers);
  v(opt("out", "run file (HDF5) to write")
        .in(kAll).not_empty().expect("a run file path (--out FILE)"),
    c.out);
  v(opt("overwrite", "replace an existing run file")
        .in(kAll),
    c.overwrite);
  v(opt("quiet", "no progress output")
        .in(kAll),
    c.quiet);
}

/// Calls v(key, field, doc) for every option of TrainConfig (visit_train_specs without the rest
/// of the declaration); `key` uses underscores (TOML key; the flag is the same with dashes).
template <class Config, class Visitor>
void visit_train_options(Config& c, Visitor&& v) {
  visit_train_specs(c, [&](const optspec::OptionSpec& s, auto& field) { v(s.key, field, s.doc); });
}

/// The keys of the train options that `command` (optspec::kProbe or optspec::kSurface) takes
/// from a checkpoint's stored configuration when not given on its command line.
std::vector<std::string> adopted_keys(unsigned command);

/// The word-set options as enums, each enumerator in the order of its declared words
/// (visit_train_specs); read them with the *_kind accessors below once validate() passed, and
/// compare enums, never words, past the configuration.
enum class Dataset { fashion_mnist, cifar10, tensors };
enum class Arch { mlp, cnn, vgg, torchscript };
enum class Bn { none, custom, torch, lp1, lp2, lpinf };
enum class BnPlacement { head, conv, all };
enum class BnBackward { exact, original };
enum class BnEval { running, batch };
enum class Optimizer { sgd, adam };
enum class Device { cpu, cuda, automatic };
enum class StepEngine { automatic, autograd };

/// The position of `value` among the declared words of train option `key`; throws
/// bnl::InternalError when it is not one (a configuration read before validate()).
std::size_t word_index(const std::string& key, const std::string& value);

inline Dataset dataset_kind(const TrainConfig& c) { return static_cast<Dataset>(word_index("dataset", c.dataset)); }
inline Arch arch_kind(const TrainConfig& c) { return static_cast<Arch>(word_index("arch", c.arch)); }
inline Bn bn_kind(const TrainConfig& c) { return static_cast<Bn>(word_index("bn", c.bn)); }
inline BnPlacement bn_placement_kind(const TrainConfig& c) {
  return static_cast<BnPlacement>(word_index("bn_placement", c.bn_placement));
}
inline BnBackward bn_backward_kind(const TrainConfig& c) {
  return static_cast<BnBackward>(word_index("bn_backward", c.bn_backward));
}
inline BnEval bn_eval_kind(const TrainConfig& c) { return static_cast<BnEval>(word_index("bn_eval", c.bn_eval)); }
inline Optimizer optimizer_kind(const TrainConfig& c) {
  return static_cast<Optimizer>(word_index("optimizer", c.optimizer));
}
inline Device device_kind(const TrainConfig& c) { return static_cast<Device>(word_index("device", c.device)); }
inline StepEngine step_engine_kind(const TrainConfig& c) {
  return static_cast<StepEngine>(word_index("step_engine", c.step_engine));
}

/// Checks every option of `c`; throws ConfigError naming the first bad one.
void validate(const TrainConfig& c);

/// Parses --activation-range "lo,hi" (finite, lo < hi); throws ConfigError otherwise.
std::pair<double, double> parse_activation_range(const std::string& s);

/// Splits "net.0, net.3" into {"net.0", "net.3"} (empty items dropped).
std::vector<std::string> parse_name_list(const std::string& s);

}  // namespace bnl::train
