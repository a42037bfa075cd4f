#include "bnlandscape/record/probe_observer.h"

#include <cmath>

#include <Eigen/Core>

#include "bnlandscape/dist/communicator.h"
#include "bnlandscape/record/probe_run.h"

namespace bnl::record {

ProbeObserver::ProbeObserver(train::Trainer& trainer, io::RunFile* file, Log log, const models::ModelSpec& spec,
                             const probes::ProbeConfig& cfg, const data::Dataset& data, const ResumeInfo& resume,
                             dist::Communicator* comm)
    : trainer_(trainer),
      log_(std::move(log)),
      cfg_(cfg),
      comm_(comm),
      probe_(spec, cfg, probe_context(trainer.config()), shard_of(comm)),
      scheduler_([this](const probes::ProbeRecord& r) { record(r); }) {
  // A run continued with more --epochs does not probe its old last step unless the grid does:
  // that probe's row goes (its solver state was never stored: save_state).
  const auto end = resume.find_state("probe.end_step");
  const std::int64_t end_step = end.defined() ? end.reshape(-1)[0].item<std::int64_t>() : -1;
  const bool drop_end = resume.active && end_step >= 0 && end_step != trainer.total_steps() - 1;
  ResumeInfo cut;
  cut.active = resume.active;
  cut.step = drop_end ? end_step : resume.step;
  if (file) series_.emplace(*file, probe_, cfg, &cut, comm ? comm->world_size() : 1);
  if (probes::probe_batch_kind(cfg) == probes::ProbeBatch::fixed) std::tie(fixed_x_, fixed_y_) = fixed_probe_set(data, cfg.probe_size);
  if (resume.active) {
    // The solver state of the uninterrupted run: the seed counter and Lanczos's warm start.
    const auto count = resume.find_state("probe.count");
    if (count.defined()) probe_.set_probes_done(count.reshape(-1)[0].item<std::int64_t>());
    const auto warm = resume.find_state("probe.lanczos_warm_start").to(torch::kFloat64).contiguous();
    if (warm.defined() && warm.numel() > 0)
      probe_.set_warm_start(Eigen::Map<const Eigen::VectorXd>(warm.data_ptr<double>(), warm.numel()));
    const auto ggn_warm = resume.find_state("probe.ggn_lanczos_warm_start");
    if (ggn_warm.defined() && ggn_warm.numel() > 0) {
      const auto w = ggn_warm.to(torch::kFloat64).contiguous();
      probe_.set_ggn_warm_start(Eigen::Map<const Eigen::VectorXd>(w.data_ptr<double>(), w.numel()));
    }
  }
}

void ProbeObserver::save_state(std::vector<std::pair<std::string, torch::Tensor>>& state) {
  scheduler_.harvest(/*wait=*/true);
  if (end_step_ >= 0) {
    // Nothing probes after the last step: the state before its probe is the one a longer run
    // continues from, and the step says which row such a run drops.
    probe_.set_probes_done(count_before_end_);
    probe_.set_warm_start(warm_before_end_);
    state.emplace_back("probe.end_step", torch::tensor({end_step_}, torch::kInt64));
  }
  state.emplace_back("probe.count", torch::tensor({probe_.probes_done()}, torch::kInt64));
  const auto& w = probe_.warm_start();
  state.emplace_back("probe.lanczos_warm_start",
                     torch::from_blob(const_cast<double*>(w.data()), {static_cast<std::int64_t>(w.size())},
                                      torch::kFloat64).clone());
  // The Gauss-Newton solve's warm start, only with --curvature ggn (checkpoints stay as they were).
  const auto& gw = probe_.ggn_warm_start();
  if (gw.size() > 0)
    state.emplace_back("probe.ggn_lanczos_warm_start",
                       torch::from_blob(const_cast<double*>(gw.data()), {static_cast<std::int64_t>(gw.size())},
                                        torch::kFloat64).clone());
}

void ProbeObserver::before_update(std::int64_t step, const torch::Tensor& x, const torch::Tensor& y) {
  const bool on_grid = step % cfg_.step_interval == 0;
  if (!on_grid && step != total_ - 1) return;
  if (!on_grid) {
    // Probed only for being the last step: the solver state before it, for save_state.
    scheduler_.harvest(/*wait=*/true);
    end_step_ = step;
    count_before_end_ = probe_.probes_done();
    warm_before_end_ = probe_.warm_start();
  }
  const bool fixed = probes::probe_batch_kind(cfg_) == probes::ProbeBatch::fixed;
  // cfg_.overlap as run_probe resolved it: one process on the CPU with >= 2 threads.
  if (!cfg_.overlap) {
    record(measure_timed(probe_, comm_, step, trainer_.model(), fixed ? fixed_x_ : x, fixed ? fixed_y_ : y));
    return;
  }
  scheduler_.make_room();
  // The weights are copied now; the trainer may reuse its batch tensors, so they are copied too.
  auto state = std::make_shared<probes::ProbeState>(probe_.capture(trainer_.model()));
  auto px = fixed ? fixed_x_ : x.clone(), py = fixed ? fixed_y_ : y.clone();
  scheduler_.launch([this, step, state, px, py] { return probe_.measure_captured(step, *state, px, py); });
}

// The pending probes are recorded before anything that must see them: a checkpoint's state
// (Lanczos's warm start and the probe count), the end of the run, a divergence.
void ProbeObserver::on_step(const train::StepRecord& r) {
  if (!std::isfinite(r.loss)) scheduler_.harvest(/*wait=*/true);
}

void ProbeObserver::on_checkpoint(std::int64_t) { scheduler_.harvest(/*wait=*/true); }

void ProbeObserver::record(const probes::ProbeRecord& r) {
  if (series_) series_->append(r);
  log_(probe_line(r, comm_));
}

}  // namespace bnl::record
