#pragma once
/// \file
/// The options of `probe` beyond those of `train`: the ProbeConfig struct, the one declaration
/// of each option (visit_probe_specs; config/option.h says what a declaration holds) and the
/// checks of a configuration, alone and against the model it probes.

#include <cstdint>
#include <string>
#include <vector>

#include "bnlandscape/config/option.h"

namespace bnl::probes {

struct ParamBlock;

/// The options of `probe`; each field is documented once, by its declaration in
/// visit_probe_specs.
struct ProbeConfig {
  std::int64_t step_interval = 50;
  std::string probe_batch = "current";
  std::int64_t probe_size = 128;
  std::int64_t probe_microbatch = 0;
  std::string step_sizes;
  std::int64_t top_k = 1;
  std::int64_t bottom_k = 0;
  double tol = 1e-3;
  std::int64_t ncv = 0;
  std::int64_t trace_samples = 0;
  std::int64_t density_runs = 0;
  std::int64_t density_steps = 0;
  std::int64_t layer_top_k = 0;
  std::string curvature = "hessian";
  std::string sharpness_scaling = "none";
  bool save_eigenvectors = false;
  std::string probe_bn_mode = "train";
  std::string probe_dtype = "float32";
  std::string hvp_engine = "auto";
  bool overlap = true;
  std::string checkpoint;
  std::string checkpoint_group;
  double dist_timeout = 300;
};

/// Calls v(spec, field) for every probe option in a fixed order: the one declaration of each.
template <class Config, class Visitor>
void visit_probe_specs(Config& c, Visitor&& v) {
  using namespace bnl::optspec;
  v(opt("step_interval", "probe every K training steps (and at step 0 and the last step)")
        .in(kProbe).at_least(1).expect("K >= 1").with_unit("steps"),
    c.step_interval);
  v(opt("probe_batch", "probe set: current (the training batch) | fixed (first --probe-size training examples)")
        .in(kProbe).one_of("current | fixed"),
    c.probe_batch);
  v(opt("probe_size", "size of the fixed probe set")
        .in(kProbe).at_least(2).expect("N >= 2").with_unit("examples"),
    c.probe_size);
  v(opt("probe_microbatch", "split the probe set into batches of M whose mean losses are averaged (0 = one batch)")
        .in(kProbe).at_least(0).expect("M >= 0 (0 = one batch)").with_unit("examples"),
    c.probe_microbatch);
  v(opt("step_sizes", "comma-separated absolute step sizes s of L(w - s g) (default: 10 log-spaced over [0.5, 4] x lr)")
        .in(kProbe),
    c.step_sizes);
  v(opt("top_k", "number of largest Hessian eigenvalues (0 = off)")
        .in(kProbe).at_least(0).expect("k >= 0"),
    c.top_k);
  v(opt("bottom_k", "number of smallest (most negative) Hessian eigenvalues (0 = off)")
        .in(kProbe).at_least(0).expect("k >= 0"),
    c.bottom_k);
  v(opt("tol", "relative tolerance of the Lanczos eigenvalues")
        .in(kProbe).above(0).below(1).expect("0 < tol < 1").show("%f"),
    c.tol);
  v(opt("ncv", "Lanczos subspace size (0 = the measured default)")
        .in(kProbe).at_least(0).expect("0 (default) or k < ncv <= P"),
    c.ncv);
  v(opt("trace_samples", "Rademacher samples of the Hutchinson trace estimate (0 = off)")
        .in(kProbe).at_least(0).expect("N >= 0 (0 = off)"),
    c.trace_samples);
  v(opt("density_runs", "spectral density by stochastic Lanczos quadrature: K Rademacher starts (0 = off; needs --density-steps)")
        .in(kProbe).at_least(0).expect("K >= 0 (0 = off)"),
    c.density_runs);
  v(opt("density_steps", "spectral density: M Lanczos steps (HVPs) per start (0 = off; needs --density-runs)")
        .in(kProbe).at_least(0).expect("M >= 0 (0 = off)"),
    c.density_steps);
  v(opt("layer_top_k", "top K eigenvalues of each layer's diagonal Hessian block (Linear/Conv with bias, norm layers apart; 0 = off)")
        .in(kProbe).at_least(0).expect("K >= 0 (0 = off)"),
    c.layer_top_k);
  v(opt("curvature", "curvature operator(s) of every spectral instrument (top-k, bottom-k, trace, density, layer blocks): a comma list of hessian | ggn (Gauss-Newton = Fisher for softmax cross-entropy; results under ggn_ names)")
        .in(kProbe).expect("a comma list of hessian | ggn"),
    c.curvature);
  v(opt("sharpness_scaling", "also the top-k eigenvalues of D A D (A each --curvature operator): a comma list of none | layer (D = ||w_b|| on each scale-invariant block, 1 elsewhere) | adaptive (D = diag(|w|)); needs --top-k")
        .in(kProbe).expect("a comma list of none | layer | adaptive"),
    c.sharpness_scaling);
  v(opt("save_eigenvectors", "store the top eigenvector at every probe")
        .in(kProbe),
    c.save_eigenvectors);
  v(opt("probe_bn_mode", "BN during probes: train (batch statistics, as training) | eval (running statistics, as PyHessian)")
        .in(kProbe).one_of("train | eval"),
    c.probe_bn_mode);
  v(opt("probe_dtype", "precision of all probe arithmetic: float32 | float64")
        .in(kProbe).one_of("float32 | float64"),
    c.probe_dtype);
  v(opt("hvp_engine", "gradients and Hessian-vector products: auto (the MLP's written out by hand where supported, else autograd) | autograd")
        .in(kProbe).one_of("auto | autograd"),
    c.hvp_engine);
  v(opt("overlap", "during training, measure each probe on a second thread while the next steps train (one process on the CPU; the same records; false = in the training thread)")
        .in(kProbe),
    c.overlap);
  v(opt("checkpoint", "offline: HDF5 file with the weights to probe (no training)")
        .in(kProbe),
    c.checkpoint);
  v(opt("checkpoint_group", "offline: group of dotted-name datasets in --checkpoint (\"\" = its last checkpoint /checkpoints/step_N)")
        .in(kProbe),
    c.checkpoint_group);
  v(opt("dist_timeout", "with several processes (WORLD_SIZE > 1): seconds to wait for the other ranks before failing")
        .in(kProbe).above(0).finite().expect("a positive number of seconds").show("%f").with_unit("s"),
    c.dist_timeout);
}

/// Calls v(key, field, doc) for every probe option (visit_probe_specs without the rest of the
/// declaration).
template <class Config, class Visitor>
void visit_probe_options(Config& c, Visitor&& v) {
  visit_probe_specs(c, [&](const optspec::OptionSpec& s, auto& field) { v(s.key, field, s.doc); });
}

/// The word-set probe options as enums, each enumerator in the order of its declared words
/// (visit_probe_specs); read them with the *_kind accessors once validate_probe() passed.
enum class ProbeBatch { current, fixed };
enum class ProbeBnMode { train, eval };
enum class ProbeDtype { float32, float64 };
enum class HvpEngine { automatic, autograd };

/// The position of `value` among the declared words of probe option `key`; throws
/// bnl::InternalError when it is not one (a configuration read before validation).
std::size_t probe_word_index(const std::string& key, const std::string& value);

inline ProbeBatch probe_batch_kind(const ProbeConfig& c) {
  return static_cast<ProbeBatch>(probe_word_index("probe_batch", c.probe_batch));
}
inline ProbeBnMode probe_bn_mode_kind(const ProbeConfig& c) {
  return static_cast<ProbeBnMode>(probe_word_index("probe_bn_mode", c.probe_bn_mode));
}
inline ProbeDtype probe_dtype_kind(const ProbeConfig& c) {
  return static_cast<ProbeDtype>(probe_word_index("probe_dtype", c.probe_dtype));
}
inline HvpEngine hvp_engine_kind(const ProbeConfig& c) {
  return static_cast<HvpEngine>(probe_word_index("hvp_engine", c.hvp_engine));
}

/// The operators of --curvature, parsed (validate_probe() checked the list).
struct CurvatureChoice {
  bool hessian = true;  ///< the loss Hessian H (HessianOperator)
  bool ggn = false;     ///< the Gauss-Newton matrix G (GgnOperator)
};
/// --curvature as a set; throws std::invalid_argument naming the option on a bad list.
CurvatureChoice curvature_choice(const ProbeConfig& c);

/// The scalings of --sharpness-scaling, parsed (validate_probe() checked the list).
struct ScalingChoice {
  bool layer = false;     ///< D = layer_scaling (Lyu, Li and Arora 2022)
  bool adaptive = false;  ///< D = adaptive_scaling (Kwon et al. 2021)
  bool any() const { return layer || adaptive; }
};
/// --sharpness-scaling as a set ("none" alone = neither); throws std::invalid_argument naming
/// the option on a bad list.
ScalingChoice scaling_choice(const ProbeConfig& c);

/// Checks the probe options (and their relation to the model's parameter count when known,
/// num_params > 0); throws std::invalid_argument naming the first bad one.
void validate_probe(const ProbeConfig& c, std::int64_t batch_size, std::int64_t num_params);

/// Checks that the probe set splits into whole micro-batches over `world_size` ranks: a fixed
/// set (--probe-batch fixed) of N examples, --probe-microbatch M > 0, and N / M a multiple of
/// world_size. Nothing to check for one rank. Throws std::invalid_argument naming the option.
void validate_probe_shard(const ProbeConfig& c, int world_size);

/// Checks the options that depend on the model's parameter blocks (--layer-top-k below the
/// smallest block's size); throws std::invalid_argument naming the option and the block.
void validate_probe_blocks(const ProbeConfig& c, const std::vector<ParamBlock>& blocks);

/// Parses --step-sizes "s1,s2,...": finite step sizes > 0; throws std::invalid_argument
/// naming the option otherwise.
std::vector<double> parse_step_sizes(const std::string& s);

}  // namespace bnl::probes
