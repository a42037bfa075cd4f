#pragma once
/// \file
/// Records activation distributions (/activations, --activations-every) and internal covariate
/// shift (/ics, --ics-every) during training, for both `train` and `probe` (schema:
/// record/schema.h).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bnlandscape/data/dataset.h"
#include "bnlandscape/io/run_file.h"
#include "bnlandscape/probes/activations.h"
#include "bnlandscape/record/resume_point.h"
#include "bnlandscape/train/config.h"
#include "bnlandscape/train/trainer.h"

namespace bnl::record {

/// Size of the fixed batch activation snapshots are taken on (the original study's 128).
inline constexpr std::int64_t kActivationBatch = 128;

/// Indices of the fixed activation batch: the first min(128, n) of a permutation of the n
/// training examples drawn from `seed` (independent of the data order of training).
std::vector<std::int64_t> activation_batch_indices(std::int64_t n, std::uint64_t seed);

/// Writes /activations and /ics as training goes; both are measured in before_update, so on
/// the weights and batch of the step before its update.
class AnalysisObserver : public train::TrainObserver {
 public:
  /// Does nothing unless cfg.activations_every or cfg.ics_every is > 0. The ICS layers are
  /// cfg.ics_layers (names prepare_run has checked) or every Linear and Conv layer.
  /// With an active `resume` (may be null), existing groups are reopened, cut back to the
  /// checkpoint, and the histogram ranges come from their stored bin edges.
  AnalysisObserver(train::Trainer& trainer, io::RunFile& file, const train::TrainConfig& cfg,
                   const data::Dataset& data, const ResumeInfo* resume = nullptr);

  void before_update(std::int64_t step, const torch::Tensor& x, const torch::Tensor& y) override;

  /// Whether anything is recorded (an observer that records nothing need not be added).
  bool active() const { return acts_every_ > 0 || ics_every_ > 0; }

 private:
  void record_activations(std::int64_t step);
  void record_ics(std::int64_t step, const torch::Tensor& x, const torch::Tensor& y);

  train::Trainer& trainer_;
  io::RunFile& file_;
  std::int64_t acts_every_ = 0;
  std::int64_t ics_every_ = 0;
  std::vector<std::int64_t> batch_indices_;
  std::unique_ptr<probes::ActivationRecorder> recorder_;
  std::vector<io::SeriesGroup*> act_groups_;
  std::vector<std::string> ics_layers_;
  io::SeriesGroup* ics_ = nullptr;
  bool resuming_ = false;
  std::int64_t resume_step_ = 0;
};

}  // namespace bnl::record
