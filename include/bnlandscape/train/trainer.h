#pragma once
/// \file
/// The training engine: mini-batch SGD or Adam on mean cross-entropy, with per-step and
/// per-epoch metrics handed to an observer (the CLI turns them into HDF5 rows and progress
/// output; probes measure the landscape from the before_update hook).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include "bnlandscape/data/dataset.h"
// Only model() needs it, but its callers (cli/analysis_recorder.cpp) rely on this include.
#include "bnlandscape/train/config.h"
#include "bnlandscape/train/process_tuning.h"

namespace bnl::models {
class Classifier;
}  // namespace bnl::models

namespace bnl::train {

class FusedMlpStep;

/// Metrics of one update, measured on its mini-batch before the update.
struct StepRecord {
  std::int64_t step = 0;   ///< 0-based index of the update
  std::int64_t epoch = 0;  ///< 0-based epoch
  double loss = 0;         ///< mean cross-entropy of the batch
  double acc = 0;          ///< batch accuracy from the pre-update logits
  double grad_norm = 0;    ///< global L2 norm of all parameter gradients (after backward, before the step)
  double lr = 0;
  double wall_time = 0;    ///< seconds since the run started
  std::vector<double> layer_grad_norm;  ///< per layer, in Classifier::layer_names() order
  /// L2 norm of each layer's parameters (same layers), at the weights the loss and gradient
  /// were evaluated at (before the update).
  std::vector<double> layer_weight_norm;
};

/// Metrics of one epoch.
struct EpochRecord {
  std::int64_t epoch = 0;
  std::int64_t step = 0;  ///< updates done at the end of the epoch
  double train_loss = 0;  ///< mean of the epoch's batch losses
  double train_acc = 0;   ///< mean of the epoch's batch accuracies
  double test_loss = 0;   ///< evaluation mode, whole test set
  double test_acc = 0;
  double grad_norm_mean = 0;
  double wall_time = 0;   ///< seconds the epoch took (training and evaluation)
};

/// A test-set evaluation between epochs (--eval-every).
struct EvalRecord {
  std::int64_t step = 0;
  double test_loss = 0;
  double test_acc = 0;
};

/// How a run ended.
enum class RunStatus { Complete, Diverged, Interrupted };

/// Name of a status as written in run files: "complete", "diverged", "interrupted".
const char* status_name(RunStatus s);

/// Outcome of Trainer::run.
struct TrainResult {
  RunStatus status = RunStatus::Complete;
  std::int64_t steps = 0;                ///< updates done
  std::int64_t diverged_at_step = -1;    ///< step whose loss was NaN or Inf
  double wall_time = 0;
};

/// Hooks called by the trainer; every default is a no-op.
class TrainObserver {
 public:
  virtual ~TrainObserver() = default;
  /// Called before the first step.
  virtual void on_start(std::int64_t total_steps) {}
  /// After the batch's forward and backward and before its update: x [B, C, H, W], y [B].
  /// Gradients of the parameters hold the batch gradient; an observer must leave weights,
  /// buffers and gradients as it found them.
  virtual void before_update(std::int64_t step, const torch::Tensor& x, const torch::Tensor& y) {}
  virtual void on_step(const StepRecord& r) {}
  virtual void on_eval(const EvalRecord& r) {}
  virtual void on_epoch(const EpochRecord& r) {}
  /// Every flush_every steps and at each epoch end: a point to persist what was recorded.
  virtual void on_flush_point(std::int64_t step) {}
  /// After a step that is due one (checkpoint_every steps, or the end of every epoch when it
  /// is -1, or checkpoint_minutes of wall time since the last one unless checkpoint_every is
  /// 0), after the step a stop was requested at, and at the end of the run (unless diverged).
  /// A checkpoint inside the run is taken before its step's epoch record, the last one after.
  virtual void on_checkpoint(std::int64_t step) {}
  /// Whether the run should stop after the current step (signals).
  virtual bool stop_requested() { return false; }
  /// Adds what this observer needs to continue after a resume (e.g. a solver's warm start) to
  /// a checkpoint's state, under names of its own.
  virtual void save_state(std::vector<std::pair<std::string, torch::Tensor>>& state) {}
};

/// Trains a classifier on a dataset as configured.
class Trainer {
 public:
  /// The global generator's state at construction (normally right after torch::manual_seed
  /// and the model's initialisation) fixes the data order: epoch e's order is
  /// data::loader_permutation of that state, so `--seed s` gives the initial weights and the
  /// batches PyTorch gives after `torch.manual_seed(s)`, the same model and
  /// `DataLoader(shuffle=True)`. The model moves to config.device (resolve_device; CPU stays
  /// where it is); the initialisation and data order are drawn on the CPU either way.
  Trainer(const TrainConfig& config, std::shared_ptr<models::Classifier> model,
          const data::Dataset& data);
  ~Trainer();

  /// Runs all epochs; stops early on a non-finite loss (status Diverged) or on request.
  TrainResult run(TrainObserver& observer);

  /// Mean loss and accuracy on the test set in evaluation mode, batches of batch_size in file
  /// order; the model is returned to training mode.
  std::pair<double, double> evaluate();

  /// Every parameter and buffer by dotted PyTorch name (detached, shared storage).
  std::vector<std::pair<std::string, torch::Tensor>> named_state() const;

  /// State a resume needs besides the weights (optimizer buffers, position, epoch sums).
  std::vector<std::pair<std::string, torch::Tensor>> resume_state() const;

  /// Continues a run from a checkpoint: parameters and buffers from `weights` (dotted names),
  /// position, epoch sums, wall time, RNG and optimizer state from `state` (resume_state()'s
  /// names). The next run() then produces exactly what the uninterrupted run would have.
  /// Throws std::runtime_error naming a missing or mismatched tensor.
  void restore(const std::vector<std::pair<std::string, torch::Tensor>>& weights,
               const std::vector<std::pair<std::string, torch::Tensor>>& state);

  /// Updates done so far (the step index of the next update).
  std::int64_t step() const { return step_; }

  /// The values, in model().parameters() order, that the optimizer's step would give the
  /// parameters from their current gradients (detached copies). Weights, gradients and
  /// optimizer state are left exactly as they were (ICS uses this inside before_update).
  std::vector<torch::Tensor> preview_update();

  std::int64_t steps_per_epoch() const;
  std::int64_t total_steps() const;
  const std::vector<std::string>& layer_names() const { return layer_names_; }
  models::Classifier& model() { return *model_; }
  const TrainConfig& config() const { return config_; }
  /// Whether a last batch of one example is dropped (the model normalises over the batch).
  bool drops_singleton() const { return drop_singleton_; }
  /// How training steps are computed: "fused" (FusedMlpStep, chosen by --step-engine auto for
  /// a supported model) or "autograd".
  const char* step_engine() const { return fused_ ? "fused" : "autograd"; }
  /// The device the model, batches and optimizer state live on (resolve_device of --device).
  const torch::Device& device() const { return device_; }

 private:
  /// Forward and backward of one batch (fused or autograd): the step's record, every field but
  /// wall_time set; the parameters' gradients hold the batch gradient.
  StepRecord forward_backward(const torch::Tensor& x, const torch::Tensor& y);
  /// The record of the epoch whose sums are current, test-set evaluation included; its wall
  /// time is epoch_time() read after that evaluation.
  EpochRecord epoch_record(const std::function<double()>& epoch_time);
  /// grad_norm, layer_grad_norm and layer_weight_norm of `r` from the parameters and their
  /// gradients (one BLAS dot per tensor each).
  void compute_grad_norms(StepRecord& r) const;
  /// One optimizer step from the current gradients: plain_sgd_update for plain SGD (the same
  /// arithmetic as torch::optim::SGD, through BLAS), the libtorch optimizer otherwise.
  void update();

  TrainConfig config_;
  std::shared_ptr<models::Classifier> model_;
  const data::Dataset& data_;
  torch::Device device_{torch::kCPU};
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::vector<std::string> layer_names_;
  std::vector<std::vector<torch::Tensor>> layer_params_;
  std::vector<torch::Tensor> params_;  ///< model parameters, in parameters() order
  bool plain_sgd_ = false;
  std::unique_ptr<FusedMlpStep> fused_;  ///< set when steps bypass autograd
  bool drop_singleton_ = false;
  /// The global generator as the model's initialisation left it; the data order's origin.
  at::Generator order_start_;
  /// Set when restoring a checkpoint written before loader_permutation: its epochs keep
  /// data::epoch_permutation's order.
  bool legacy_order_ = false;
  std::int64_t step_ = 0;
  std::int64_t epoch_ = 0;
  std::int64_t batches_ = 0;  ///< batches done in the current epoch
  double loss_sum_ = 0, acc_sum_ = 0, gnorm_sum_ = 0;
  double wall_offset_ = 0;   ///< seconds spent before this session (resume)
  double wall_at_step_ = 0;  ///< run time at the last update
  double epoch_time_ = 0;    ///< seconds the current epoch has taken so far
};

}  // namespace bnl::train
