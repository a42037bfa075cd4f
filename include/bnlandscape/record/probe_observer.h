#pragma once
/// \file
/// The observer that measures landscape probes during training (`probe` without --checkpoint):
/// at step 0, every --step-interval steps and the last step, before the step's update, in the
/// training thread or (--overlap) beside it through a ProbeScheduler.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "bnlandscape/data/dataset.h"
#include "bnlandscape/models/factory.h"
#include "bnlandscape/probes/landscape_probe.h"
#include "bnlandscape/record/probe_scheduler.h"
#include "bnlandscape/record/probe_series.h"
#include "bnlandscape/record/resume_point.h"
#include "bnlandscape/train/trainer.h"

namespace bnl::dist {
class Communicator;
}

namespace bnl::record {

/// Probes during training. Without a file (ranks other than 0) it measures its share and
/// records nothing.
class ProbeObserver : public train::TrainObserver {
 public:
  /// Receives each probe's log line (probe_line).
  using Log = std::function<void(const std::string&)>;

  /// Probes `trainer`'s model as `cfg` says (cfg.overlap: beside training), writing /probes to
  /// `file` (may be null) and logging through `log`; with an active `resume`, continues the
  /// probe count and Lanczos warm start stored in its checkpoint.
  ProbeObserver(train::Trainer& trainer, io::RunFile* file, Log log, const models::ModelSpec& spec,
                const probes::ProbeConfig& cfg, const data::Dataset& data, const ResumeInfo& resume,
                dist::Communicator* comm);
  ~ProbeObserver() override = default;

  /// Adds the probe count and Lanczos's warm start (after every pending probe) to `state`.
  /// After the run's last step, when that step was probed only for being the last, these are
  /// the values before that probe (nothing probes after it) and "probe.end_step" names the
  /// step, so that a resume with more --epochs drops its row and continues as the longer run
  /// would have.
  void save_state(std::vector<std::pair<std::string, torch::Tensor>>& state) override;
  void on_start(std::int64_t total) override { total_ = total; }
  void before_update(std::int64_t step, const torch::Tensor& x, const torch::Tensor& y) override;
  void on_step(const train::StepRecord& r) override;
  void on_checkpoint(std::int64_t) override;

 private:
  void record(const probes::ProbeRecord& r);

  train::Trainer& trainer_;
  Log log_;
  probes::ProbeConfig cfg_;
  dist::Communicator* comm_;
  probes::LandscapeProbe probe_;
  std::optional<ProbeSeries> series_;
  torch::Tensor fixed_x_, fixed_y_;
  std::int64_t total_ = 0;
  /// The run's last step when it was probed off the --step-interval grid (else -1), and the
  /// solver state before that probe.
  std::int64_t end_step_ = -1;
  std::int64_t count_before_end_ = 0;
  Eigen::VectorXd warm_before_end_;
  // Last: destroyed first, it waits for the probes that still use probe_.
  ProbeScheduler scheduler_;
};

}  // namespace bnl::record
