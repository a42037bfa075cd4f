#include "bnlandscape/cli/probe_command.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <future>
#include <iostream>
#include <numeric>
#include <optional>
#include <sstream>

#include <torch/utils.h>

#include "bnlandscape/cli/build_info.h"
#include "bnlandscape/cli/checkpoint_config.h"
#include "bnlandscape/cli/progress.h"
#include "bnlandscape/cli/run_control.h"
#include "bnlandscape/cli/run_recorder.h"
#include "bnlandscape/cli/train_command.h"
#include "bnlandscape/data/batches.h"
#include "bnlandscape/dist/communicator.h"
#include "bnlandscape/dist/environment.h"
#include "bnlandscape/io/checkpoint.h"
#include "bnlandscape/io/run_reader.h"
#include "bnlandscape/record/checkpoint_source.h"
#include "bnlandscape/train/device.h"

namespace bnl::cli {
namespace {

using io::ColumnSpec;
using io::ColumnType;

std::string probe_config_toml(const ProbeOptions& opt) {
  std::ostringstream os;
  os << "# bnlandscape probe configuration\n";
  train::visit_train_options(opt.cfg, TomlWriter{os});
  probes::visit_probe_options(opt.probe, TomlWriter{os});
  return os.str();
}

std::vector<double> one(double v) { return {v}; }

/// The fixed probe set: the first N training examples in file order.
std::pair<torch::Tensor, torch::Tensor> fixed_probe_set(const data::Dataset& d, std::int64_t n) {
  if (n > d.train.n)
    throw train::ConfigError("--probe-size = " + std::to_string(n) + ": expected at most the " +
                             std::to_string(d.train.n) + " training examples");
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  return {data::gather_images(d.train, d.norm, idx.data(), n), data::gather_labels(d.train, idx.data(), n)};
}

probes::ProbeContext probe_context(const train::TrainConfig& cfg) {
  return {cfg.lr, cfg.momentum, cfg.optimizer, cfg.seed};
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string probe_line(const probes::ProbeRecord& r, const dist::Communicator* comm) {
  std::string s = "probe step " + std::to_string(r.step) + ": loss " + fmt(r.loss) + " beta " + fmt(r.beta_smoothness) +
                  " max grad_pred " + fmt(r.grad_pred.empty() ? NAN : *std::max_element(r.grad_pred.begin(), r.grad_pred.end()));
  if (!r.eigvals.empty()) s += " lambda_max " + fmt(r.eigvals[0]) + " (" + std::to_string(r.hvp_count) + " HVPs)";
  s += " " + fmt(r.seconds) + "s";
  if (comm) s += " (all-reduce " + fmt(r.allreduce_seconds) + "s, " + std::to_string(comm->world_size()) + " ranks)";
  return s;
}

/// This rank's share of the probe set (the whole set for a single process).
probes::ProbeShard shard_of(dist::Communicator* comm) {
  probes::ProbeShard shard;
  if (!comm) return shard;
  shard.rank = comm->rank();
  shard.world_size = comm->world_size();
  shard.average = [comm](torch::Tensor& t) { comm->average(t); };
  return shard;
}

/// Measures one probe, recording the time its all-reduces took.
probes::ProbeRecord measure_timed(probes::LandscapeProbe& probe, dist::Communicator* comm, std::int64_t step,
                                  const models::Classifier& model, const torch::Tensor& x, const torch::Tensor& y) {
  const double before = comm ? comm->allreduce_seconds() : 0.0;
  auto r = probe.measure(step, model, x, y);
  if (comm) r.allreduce_seconds = comm->allreduce_seconds() - before;
  return r;
}

/// Probes during training. Without a file (ranks other than 0) it measures its share and
/// records nothing.
class ProbeObserver : public train::TrainObserver {
 public:
  ProbeObserver(train::Trainer& trainer, io::RunFile* file, Progress& progress, const models::ModelSpec& spec,
                const probes::ProbeConfig& cfg, const data::Dataset& data, const ResumeInfo& resume,
                dist::Communicator* comm)
      : trainer_(trainer), progress_(progress), cfg_(cfg), comm_(comm),
        probe_(spec, cfg, probe_context(trainer.config()), shard_of(comm)) {
    if (file) series_.emplace(*file, probe_, cfg, &resume, comm ? comm->world_size() : 1);
    if (cfg.probe_batch == "fixed") std::tie(fixed_x_, fixed_y_) = fixed_probe_set(data, cfg.probe_size);
    if (resume.active) {
      // The solver state of the uninterrupted run: the seed counter and Lanczos's warm start.
      const auto count = resume.find_state("probe.count");
      if (count.defined()) probe_.set_probes_done(count.reshape(-1)[0].item<std::int64_t>());
      const auto warm = resume.find_state("probe.lanczos_warm_start").to(torch::kFloat64).contiguous();
      if (warm.defined() && warm.numel() > 0)
        probe_.set_warm_start(Eigen::Map<const Eigen::VectorXd>(warm.data_ptr<double>(), warm.numel()));
    }
  }
  void save_state(std::vector<std::pair<std::string, torch::Tensor>>& state) override {
    harvest(/*wait=*/true);
    state.emplace_back("probe.count", torch::tensor({probe_.probes_done()}, torch::kInt64));
    const auto& w = probe_.warm_start();
    state.emplace_back("probe.lanczos_warm_start",
                       torch::from_blob(const_cast<double*>(w.data()), {static_cast<std::int64_t>(w.size())},
                                        torch::kFloat64).clone());
  }
  void on_start(std::int64_t total) override { total_ = total; }
  void before_update(std::int64_t step, const torch::Tensor& x, const torch::Tensor& y) override {
    if (step % cfg_.step_interval != 0 && step != total_ - 1) return;
    const bool fixed = cfg_.probe_batch == "fixed";
    // cfg_.overlap as run_probe resolved it: one process on the CPU with >= 2 threads.
    if (!cfg_.overlap) {
      record(measure_timed(probe_, comm_, step, trainer_.model(), fixed ? fixed_x_ : x, fixed ? fixed_y_ : y));
      return;
    }
    harvest(/*wait=*/false);
    while (pending_.size() >= kMaxPending) harvest_front();
    // The weights are copied now; the trainer may reuse its batch tensors, so they are copied too.
    auto state = probe_.capture(trainer_.model());
    auto px = fixed ? fixed_x_ : x.clone(), py = fixed ? fixed_y_ : y.clone();
    // Probes run one after the other (each waits for the one before: they share the probe's
    // model copy and Lanczos's warm start), on their own thread while training goes on.
    last_ = std::async(std::launch::async, [this, step, state = std::move(state), px, py, before = last_] {
              if (before.valid()) before.wait();
              return probe_.measure_captured(step, state, px, py);
            }).share();
    pending_.push_back(last_);
  }
  // The pending probes are recorded before anything that must see them: a checkpoint's state
  // (Lanczos's warm start and the probe count), the end of the run, a divergence.
  void on_step(const train::StepRecord& r) override {
    if (!std::isfinite(r.loss)) harvest(/*wait=*/true);
  }
  void on_checkpoint(std::int64_t) override { harvest(/*wait=*/true); }
  ~ProbeObserver() override {
    for (auto& f : pending_) f.wait();
  }

 private:
  // At most this many probes wait or run beside training; the training thread then waits.
  static constexpr std::size_t kMaxPending = 4;

  void harvest(bool wait) {
    while (!pending_.empty() &&
           (wait || pending_.front().wait_for(std::chrono::seconds(0)) == std::future_status::ready))
      harvest_front();
  }
  void harvest_front() {
    auto f = pending_.front();
    pending_.pop_front();
    record(f.get());
  }
  void record(const probes::ProbeRecord& r) {
    if (series_) series_->append(r);
    progress_.log(probe_line(r, comm_));
  }

  train::Trainer& trainer_;
  Progress& progress_;
  probes::ProbeConfig cfg_;
  dist::Communicator* comm_;
  probes::LandscapeProbe probe_;
  std::optional<ProbeSeries> series_;
  torch::Tensor fixed_x_, fixed_y_;
  std::int64_t total_ = 0;
  std::deque<std::shared_future<probes::ProbeRecord>> pending_;  // oldest first
  std::shared_future<probes::ProbeRecord> last_;                 // the newest launched, recorded or not
};

int run_offline(ProbeOptions& opt, dist::Communicator* comm) {
  // Model options missing from the command line and config file come from the checkpoint
  // file's own configuration, so a run file's checkpoint probes as the model it came from.
  adopt_checkpoint_config(opt.cfg, opt.probe.checkpoint,
                          {"dataset", "arch", "hidden_dims", "conv_channels", "bn", "bn_placement", "bn_eval", "lr",
                           "momentum", "optimizer", "vgg_config", "width_mult"},
                          opt.app);
  opt.probe.overlap = false;  // nothing trains beside a checkpoint's probe
  auto& cfg = opt.cfg;
  PreparedRun run = prepare_run(cfg);
  probes::LandscapeProbe probe(run.spec, opt.probe, probe_context(cfg), shard_of(comm));
  probes::validate_probe(opt.probe, cfg.batch_size, probe.num_params());
  record::load_checkpoint(*run.model, {opt.probe.checkpoint, opt.probe.checkpoint_group}, cfg.arch, cfg.bn);
  const std::int64_t step = record::checkpoint_step(opt.probe.checkpoint_group);
  auto [x, y] = fixed_probe_set(run.data, opt.probe.probe_size);
  if (comm && comm->rank() != 0) {
    // Rank 0 writes the file; the others only contribute their share to its all-reduces.
    measure_timed(probe, comm, step, *run.model, x, y);
    return kExitOk;
  }

  RunLock lock(cfg.out);
  auto file = io::RunFile::create(cfg.out, cfg.overwrite);
  file->set_attr("status", std::string("running"));
  file->set_attr("config_toml", probe_config_toml(opt));
  file->set_attr("bnlandscape_version", std::string(BNL_VERSION));
  file->set_attr("git_revision", std::string(git_revision()));
  file->set_attr("seed", static_cast<std::int64_t>(cfg.seed));
  file->set_attr("start_time", iso8601_utc_now());
  file->set_attr("checkpoint_file", opt.probe.checkpoint);
  file->set_attr("checkpoint_group", opt.probe.checkpoint_group);
  try {
    ProbeSeries series(*file, probe, opt.probe, nullptr, comm ? comm->world_size() : 1);
    auto r = measure_timed(probe, comm, step, *run.model, x, y);
    series.append(r);
    if (!cfg.quiet) std::cerr << probe_line(r, comm) << "\n";
    file->set_attr("status", std::string("complete"));
    file->set_attr("end_time", iso8601_utc_now());
    file->close();
  } catch (...) {
    try {
      file->set_attr("status", std::string("failed"));
      file->close();
    } catch (...) {
    }
    throw;
  }
  return kExitOk;
}

}  // namespace

ProbeSeries::ProbeSeries(io::RunFile& file, const probes::LandscapeProbe& probe, const probes::ProbeConfig& cfg,
                         const ResumeInfo* resume, int world_size)
    : file_(file) {
  k_ = static_cast<std::size_t>(cfg.top_k);
  kb_ = static_cast<std::size_t>(cfg.bottom_k);
  s_ = probe.step_sizes().size();
  eigvecs_ = cfg.save_eigenvectors && k_ > 0;
  const auto S = static_cast<std::int64_t>(s_);
  std::vector<ColumnSpec> cols{
      {"step", ColumnType::Int64, {}, "1", "training step probed (updates done before it)"},
      {"loss", ColumnType::Float64, {}, "nats", "L(w) on the probe set"},
      {"grad_norm", ColumnType::Float64, {}, "1", "||grad L(w)||_2 on the probe set"},
      {"loss_path", ColumnType::Float64, {S}, "nats", "L(w - s g) for each step size s (dims step,step_size)"},
      {"grad_pred", ColumnType::Float64, {S}, "1", "gradient predictiveness ||grad L(w) - grad L(w - s g)||_2 per step size"},
      {"beta_smoothness", ColumnType::Float64, {}, "1", "effective beta-smoothness max_s ||grad L(w) - grad L(w - s g)|| / ||s g||"},
      {"grad_curvature", ColumnType::Float64, {}, "1", "curvature along the gradient g^T H g / ||g||^2"},
  };
  if (k_ > 0)
    cols.push_back({"eigvals", ColumnType::Float64, {static_cast<std::int64_t>(k_)}, "1",
                    "top-k Hessian eigenvalues (largest algebraic, descending; NaN = not converged)"});
  if (kb_ > 0)
    cols.push_back({"eigvals_bottom", ColumnType::Float64, {static_cast<std::int64_t>(kb_)}, "1",
                    "bottom-k Hessian eigenvalues (smallest algebraic, ascending; NaN = not converged)"});
  cols.push_back({"hvp_count", ColumnType::Int64, {}, "1", "Hessian-vector products of the eigenvalue solves"});
  cols.push_back({"converged", ColumnType::Int64, {}, "1", "1 if every requested eigenvalue converged, else 0"});
  cols.push_back({"grad_eig_cosine", ColumnType::Float64, {}, "1", "cosine between the gradient and the top eigenvector"});
  cols.push_back({"eos_threshold", ColumnType::Float64, {}, "1", "edge-of-stability threshold: 2/lr (SGD), (2 + 2 momentum)/lr, NaN for Adam"});
  cols.push_back({"trace", ColumnType::Float64, {}, "1", "Hutchinson estimate of the Hessian trace (NaN = off)"});
  cols.push_back({"trace_stderr", ColumnType::Float64, {}, "1", "standard error of the trace estimate"});
  cols.push_back({"seconds", ColumnType::Float64, {}, "s", "wall time of the probe"});
  cols.push_back({"allreduce_seconds", ColumnType::Float64, {}, "s",
                  "of which in all-reduces across processes (rank 0's clock; 0 for one process)"});
  const auto L = static_cast<std::int64_t>(probe.blocks().size());
  if (cfg.layer_top_k > 0) {
    layer_values_ = static_cast<std::size_t>(L * cfg.layer_top_k);
    cols.push_back({"layer_eigvals", ColumnType::Float64, {L, cfg.layer_top_k}, "1",
                    "top-k eigenvalues of each parameter block's diagonal Hessian block H_bb, descending (dims step,block,k; NaN = not converged)"});
    cols.push_back({"layer_hvp_count", ColumnType::Int64, {}, "1", "Hessian-vector products of the per-block eigenvalues"});
    cols.push_back({"layer_converged", ColumnType::Int64, {}, "1", "1 if every per-block eigenvalue converged, else 0"});
  }
  std::vector<ColumnSpec> dcols;
  if (cfg.density_runs > 0) {
    const std::int64_t km = cfg.density_runs * cfg.density_steps;
    dcols = {{"step", ColumnType::Int64, {}, "1", "training step probed (as /probes/step)"},
             {"nodes", ColumnType::Float64, {km}, "1",
              "SLQ quadrature nodes: Ritz values of each run's Lanczos tridiagonal, run-major (run r at [r M, (r+1) M)), ascending; NaN past an early stop"},
             {"weights", ColumnType::Float64, {km}, "1",
              "SLQ quadrature weights: squared first eigenvector components, summing to 1 per run (0 past an early stop)"},
             {"hvp_count", ColumnType::Int64, {}, "1", "Hessian-vector products of the density"},
             {"seconds", ColumnType::Float64, {}, "s", "wall time of the density"}};
  }
  if (eigvecs_)
    cols.push_back({"top_eigenvector", ColumnType::Float64, {probe.num_params()}, "1",
                    "unit top eigenvector, parameters flattened in named_parameters order"});
  if (resume && resume->active && file.exists("/probes")) {
    // Probes of the checkpoint's step and later are measured again.
    group_ = &file.reopen_series("/probes", cols, "step", resume->step);
    if (!dcols.empty() && file.exists("/density")) {
      density_ = &file.reopen_series("/density", dcols, "step", resume->step);
      return;
    }
    if (!dcols.empty()) add_density(file, cfg, probe, dcols);
    return;
  }
  group_ = &file.add_series("/probes", cols);
  file.write_array("/probes/step_sizes", probe.step_sizes(), {}, "1", "absolute step sizes s of the gradient path");
  group_->set_attr("probe_batch", cfg.probe_batch);
  group_->set_attr("probe_size", cfg.probe_batch == "fixed" ? cfg.probe_size : std::int64_t{-1});
  group_->set_attr("probe_microbatch", cfg.probe_microbatch);
  group_->set_attr("probe_dtype", cfg.probe_dtype);
  group_->set_attr("probe_bn_mode", cfg.probe_bn_mode);
  group_->set_attr("hvp_engine", probe.hvp_engine());
  group_->set_attr("overlap", std::int64_t{cfg.overlap ? 1 : 0});
  group_->set_attr("tol", cfg.tol);
  group_->set_attr("ncv", static_cast<std::int64_t>(probe.ncv()));
  group_->set_attr("top_k", cfg.top_k);
  group_->set_attr("bottom_k", cfg.bottom_k);
  group_->set_attr("trace_samples", cfg.trace_samples);
  group_->set_attr("step_interval", cfg.step_interval);
  group_->set_attr("num_params", probe.num_params());
  group_->set_attr("world_size", static_cast<std::int64_t>(world_size));
  if (layer_values_ > 0) {
    group_->set_attr("layer_top_k", cfg.layer_top_k);
    std::vector<std::string> names, kinds;
    for (const auto& b : probe.blocks()) {
      names.push_back(b.name);
      kinds.push_back(b.kind);
    }
    group_->set_column_attr("layer_eigvals", "blocks", names);
    group_->set_column_attr("layer_eigvals", "block_kinds", kinds);
    group_->set_column_attr("layer_eigvals", "dims", std::string("step,block,k"));
  }
  if (!dcols.empty()) add_density(file, cfg, probe, dcols);
  file.flush();
}

void ProbeSeries::add_density(io::RunFile& file, const probes::ProbeConfig& cfg, const probes::LandscapeProbe& probe,
                              const std::vector<io::ColumnSpec>& cols) {
  density_ = &file.add_series("/density", cols);
  density_->set_attr("runs", cfg.density_runs);
  density_->set_attr("steps", cfg.density_steps);
  density_->set_attr("num_params", probe.num_params());
  density_->set_attr("method", std::string("stochastic Lanczos quadrature, Rademacher starts, full reorthogonalisation"));
  density_->set_column_attr("nodes", "dims", std::string("step,run*steps+i"));
  density_->set_column_attr("weights", "dims", std::string("step,run*steps+i"));
}

void ProbeSeries::append(const probes::ProbeRecord& r) {
  std::vector<std::vector<double>> row{one(double(r.step)), one(r.loss), one(r.grad_norm), r.loss_path, r.grad_pred,
                                       one(r.beta_smoothness), one(r.grad_curvature)};
  if (k_ > 0) row.push_back(r.eigvals);
  if (kb_ > 0) row.push_back(r.eigvals_bottom);
  row.push_back(one(double(r.hvp_count)));
  row.push_back(one(r.converged ? 1.0 : 0.0));
  row.push_back(one(r.grad_eig_cosine));
  row.push_back(one(r.eos_threshold));
  row.push_back(one(r.trace));
  row.push_back(one(r.trace_stderr));
  row.push_back(one(r.seconds));
  row.push_back(one(r.allreduce_seconds));
  if (layer_values_ > 0) {
    row.push_back(r.layer_eigvals);
    row.push_back(one(double(r.layer_hvp_count)));
    row.push_back(one(r.layer_converged ? 1.0 : 0.0));
  }
  if (eigvecs_) row.emplace_back(r.top_eigenvector.begin(), r.top_eigenvector.end());
  group_->append(row);
  if (density_)
    density_->append({one(double(r.step)), r.density_nodes, r.density_weights, one(double(r.density_hvp_count)),
                      one(r.density_seconds)});
  file_.flush();
}

Command setup_probe(CLI::App& app) {
  auto opt = std::make_shared<ProbeOptions>();
  CLI::App* sub = app.add_subcommand(
      "probe", "train and probe the loss landscape every --step-interval steps, or probe a checkpoint (--checkpoint)");
  train::visit_train_options(opt->cfg, OptionAdder{*sub});
  probes::visit_probe_options(opt->probe, OptionAdder{*sub});
  add_config_options(*sub, opt->dump_config);
  add_resume_option(*sub, opt->resume);
  opt->app = sub;
  return {sub, [opt] { return run_probe(*opt); }};
}

int run_probe(ProbeOptions& opt) {
  if (opt.dump_config) {
    std::cout << probe_config_toml(opt);
    return kExitOk;
  }
  probes::validate_probe(opt.probe, opt.cfg.batch_size, 0);
  dist::DistEnv env;
  try {
    env = dist::read_dist_env(dist::process_env());
  } catch (const std::invalid_argument& e) {
    throw train::ConfigError(std::string("distributed environment: ") + e.what());
  }
  probes::validate_probe_shard(opt.probe, env.world_size);
  if (env.world_size > 1 && !opt.resume.empty())
    throw train::ConfigError("--resume: expected a single process (WORLD_SIZE = " + std::to_string(env.world_size) +
                             "); resume the run with one process, or start it again");
  std::unique_ptr<dist::Communicator> comm;
  if (env.world_size > 1) {
    if (env.rank != 0) opt.cfg.quiet = true;
    comm = dist::Communicator::connect(
        env, std::chrono::milliseconds(static_cast<std::int64_t>(opt.probe.dist_timeout * 1000.0)));
  }
  if (!opt.probe.checkpoint.empty()) {
    if (!opt.resume.empty())
      throw train::ConfigError("--resume: expected an online probe run (probe --checkpoint runs once and has nothing to resume)");
    return run_offline(opt, comm.get());
  }
  PreparedRun run = prepare_run(opt.cfg);
  // Probes beside training (--overlap) take one process on the CPU with at least two threads:
  // ranks must issue their all-reduces in step, and a GPU would run the two in turn. The
  // thread settings are process-wide, so the training thread and the probe thread each get
  // half (on 2 cores: one BLAS thread each, rather than two callers sharing OpenBLAS's pool,
  // which measured slower than no overlap at all).
  const int threads = std::max(run.threads.first, run.threads.second);
  opt.probe.overlap = opt.probe.overlap && env.world_size == 1 && threads >= 2 &&
                      train::resolve_device(opt.cfg.device).is_cpu();
  if (opt.probe.overlap) run.threads = train::configure_threads(threads / 2, /*convolutional=*/opt.cfg.arch != "mlp");
  std::int64_t num_params = 0;
  for (const auto& p : run.model->parameters()) num_params += p.numel();
  probes::validate_probe(opt.probe, opt.cfg.batch_size, num_params);
  probes::validate_probe_blocks(opt.probe, probes::parameter_blocks(*run.model, run.model->parameters()));
  if (opt.probe.probe_batch == "fixed") fixed_probe_set(run.data, opt.probe.probe_size);  // checks the size
  const auto spec = run.spec;
  const auto pcfg = opt.probe;
  const data::Dataset& data = run.data;
  dist::Communicator* c = comm.get();
  if (c && c->rank() != 0) {
    // Training is replicated (same seed, same numbers) so that each rank probes the weights
    // rank 0 records.
    return train_replica(opt.cfg, run, [&](train::Trainer& trainer, Progress& progress) {
      return std::make_unique<ProbeObserver>(trainer, nullptr, progress, spec, pcfg, data, ResumeInfo{}, c);
    });
  }
  return train_and_record(opt.cfg, run, probe_config_toml(opt),
                          [&](train::Trainer& trainer, io::RunFile& file, Progress& progress, const ResumeInfo& resume) {
                            return std::make_unique<ProbeObserver>(trainer, &file, progress, spec, pcfg, data, resume, c);
                          },
                          opt.resume);
}

}  // namespace bnl::cli
