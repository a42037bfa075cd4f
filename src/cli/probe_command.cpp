#include "bnlandscape/cli/probe_command.h"
#include "bnlandscape/cli/probe_options.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <numeric>
#include <optional>
#include <sstream>

#include <torch/utils.h>

#include "bnlandscape/cli/checkpoint_config.h"
#include "bnlandscape/cli/inherited_config.h"
#include "bnlandscape/cli/resume_request.h"
#include "bnlandscape/cli/scripted_model.h"
#include "bnlandscape/cli/train_command.h"
#include "bnlandscape/data/batches.h"
#include "bnlandscape/dist/communicator.h"
#include "bnlandscape/dist/environment.h"
#include "bnlandscape/io/checkpoint.h"
#include "bnlandscape/io/run_reader.h"
#include "bnlandscape/models/classifier.h"
#include "bnlandscape/record/checkpoint_source.h"
#include "bnlandscape/record/observer_list.h"
#include "bnlandscape/record/probe_observer.h"
#include "bnlandscape/record/probe_run.h"
#include "bnlandscape/record/probe_series.h"
#include "bnlandscape/record/provenance.h"
#include "bnlandscape/record/resume_point.h"
#include "bnlandscape/record/run_recorder.h"
#include "bnlandscape/record/schema_names.h"
#include "bnlandscape/run/progress.h"
#include "bnlandscape/run/run_lock.h"
#include "bnlandscape/run/signal_guard.h"
#include "bnlandscape/train/device.h"

namespace bnl::cli {

using record::ResumeInfo;
using run::RunLock;
using run::Progress;
namespace {

using record::fixed_probe_set;
using record::measure_timed;
using record::probe_context;
using record::probe_line;
using record::shard_of;

std::string probe_config_toml(const ProbeOptions& opt, const train::TrainConfig& cfg) {
  std::ostringstream os;
  os << "# bnlandscape probe configuration\n";
  train::visit_train_options(cfg, TomlWriter{os});
  probes::visit_probe_options(opt.probe, TomlWriter{os});
  return os.str();
}

std::string probe_config_toml(const ProbeOptions& opt) { return probe_config_toml(opt, opt.cfg); }

/// Whether a probe computes Hessian (or Gauss-Newton) products, i.e. differentiates the
/// gradient again: every spectral instrument does.
bool needs_second_order(const probes::ProbeConfig& p) {
  return p.top_k > 0 || p.bottom_k > 0 || p.trace_samples > 0 || p.density_runs > 0 || p.layer_top_k > 0;
}

/// A probe observer's log going to the progress display.
record::ProbeObserver::Log log_to(Progress& progress) {
  return [&progress](const std::string& line) { progress.log(line); };
}

int run_offline(ProbeOptions& opt, dist::Communicator* comm) {
  // Model options missing from the command line and config file come from the checkpoint
  // file's own configuration, so a run file's checkpoint probes as the model it came from.
  adopt_checkpoint_config(opt.cfg, opt.probe.checkpoint, train::adopted_keys(optspec::kProbe), opt.app);
  opt.probe.overlap = false;  // nothing trains beside a checkpoint's probe
  auto& cfg = opt.cfg;
  PreparedRun run = prepare_run(cfg);
  probes::LandscapeProbe probe(run.spec, opt.probe, probe_context(cfg), shard_of(comm));
  probes::validate_probe(opt.probe, cfg.batch_size, probe.num_params());
  record::load_checkpoint(*run.model, {opt.probe.checkpoint, opt.probe.checkpoint_group}, cfg.arch, cfg.bn);
  if (needs_second_order(opt.probe)) check_scripted_second_order(cfg, run);
  const std::int64_t step = record::checkpoint_step(opt.probe.checkpoint_group);
  auto [x, y] = fixed_probe_set(run.data, opt.probe.probe_size);
  if (comm && comm->rank() != 0) {
    // Rank 0 writes the file; the others only contribute their share to its all-reduces.
    measure_timed(probe, comm, step, *run.model, x, y);
    return kExitOk;
  }

  RunLock lock(cfg.out);
  auto file = io::RunFile::create(cfg.out, cfg.overwrite);
  record::RunProvenance prov;
  prov.kind = record::ProvenanceKind::CheckpointProbe;
  // The file records the checkpoint's run (its epochs, subsets, ...) where the probe set nothing.
  prov.config_toml = probe_config_toml(opt, inherited_config(cfg, opt.probe.checkpoint, opt.app));
  prov.seed = cfg.seed;
  prov.intra_op_threads = run.threads.first;
  prov.blas_threads = run.threads.second;
  record::describe_data(prov, run.data);
  record::describe_model(prov, *run.model);
  const auto device = train::resolve_device(cfg.device);
  prov.device = device.str();
  prov.device_name = train::device_name(device);
  prov.checkpoint_file = opt.probe.checkpoint;
  prov.checkpoint_group = opt.probe.checkpoint_group;
  record::write_provenance(*file, prov);
  try {
    record::ProbeSeries series(*file, probe, opt.probe, nullptr, comm ? comm->world_size() : 1);
    auto r = measure_timed(probe, comm, step, *run.model, x, y);
    series.append(r);
    if (!cfg.quiet) std::cerr << probe_line(r, comm) << "\n";
    file->set_attr(record::names::kStatus, std::string("complete"));
    file->set_attr(record::names::kEndTime, record::iso8601_utc_now());
    file->close();
  } catch (...) {
    try {
      file->set_attr(record::names::kStatus, std::string("failed"));
      file->close();
    } catch (...) {
    }
    throw;
  }
  return kExitOk;
}

}  // namespace

Command setup_probe(CLI::App& app) {
  auto opt = std::make_shared<ProbeOptions>();
  CLI::App* sub = app.add_subcommand(
      "probe", "train and probe the loss landscape every --step-interval steps, or probe a checkpoint (--checkpoint)");
  train::visit_train_specs(opt->cfg, OptionAdder{*sub});
  probes::visit_probe_specs(opt->probe, OptionAdder{*sub});
  add_config_options(*sub, opt->dump_config);
  add_resume_option(*sub, opt->resume);
  opt->app = sub;
  return {sub, [opt] { return run_probe(*opt); }};
}

int run_probe(ProbeOptions& opt) {
  default_offline_probe_batch(opt.probe, opt.app);
  if (opt.dump_config) {
    std::cout << probe_config_toml(opt);
    return kExitOk;
  }
  dist::DistEnv env;
  try {
    env = dist::read_dist_env(dist::process_env());
  } catch (const std::invalid_argument& e) {
    throw train::ConfigError(std::string("distributed environment: ") + e.what());
  }
  if (!opt.probe.checkpoint.empty())
    opt.probe.checkpoint_group =
        resolve_checkpoint_group(opt.probe.checkpoint, opt.probe.checkpoint_group, "probe", opt.cfg.quiet || env.rank != 0);
  probes::validate_probe(opt.probe, opt.cfg.batch_size, 0);
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
  if (!opt.resume.empty()) check_resume_request("probe", opt.resume, probe_config_toml(opt), opt.cfg.out);
  PreparedRun run = prepare_run(opt.cfg);
  // Probes beside training (--overlap) take one process on the CPU with at least two threads:
  // ranks must issue their all-reduces in step, and a GPU would run the two in turn. The
  // thread settings are process-wide, so the training thread and the probe thread each get
  // half (on 2 cores: one BLAS thread each, rather than two callers sharing OpenBLAS's pool,
  // which measured slower than no overlap at all).
  const int threads = std::max(run.threads.first, run.threads.second);
  opt.probe.overlap = opt.probe.overlap && env.world_size == 1 && threads >= 2 &&
                      train::resolve_device(opt.cfg.device).is_cpu();
  if (opt.probe.overlap) run.threads = train::configure_threads(threads / 2, /*convolutional=*/train::arch_kind(opt.cfg) != train::Arch::mlp);
  std::int64_t num_params = 0;
  for (const auto& p : run.model->parameters()) num_params += p.numel();
  probes::validate_probe(opt.probe, opt.cfg.batch_size, num_params);
  probes::validate_probe_blocks(opt.probe, probes::parameter_blocks(*run.model, run.model->parameters()));
  if (probes::probe_batch_kind(opt.probe) == probes::ProbeBatch::fixed) fixed_probe_set(run.data, opt.probe.probe_size);  // checks the size
  if (needs_second_order(opt.probe)) check_scripted_second_order(opt.cfg, run);
  const auto spec = run.spec;
  const auto pcfg = opt.probe;
  const data::Dataset& data = run.data;
  dist::Communicator* c = comm.get();
  if (c && c->rank() != 0) {
    // Training is replicated (same seed, same numbers) so that each rank probes the weights
    // rank 0 records.
    return train_replica(opt.cfg, run, [&](train::Trainer& trainer, Progress& progress) {
      return std::make_unique<record::ProbeObserver>(trainer, nullptr, log_to(progress), spec, pcfg, data,
                                                     record::ResumeInfo{}, c);
    });
  }
  return train_and_record(opt.cfg, run, probe_config_toml(opt),
                          [&](train::Trainer& trainer, io::RunFile& file, Progress& progress, const ResumeInfo& resume) {
                            return std::make_unique<record::ProbeObserver>(trainer, &file, log_to(progress), spec, pcfg,
                                                                           data, resume, c);
                          },
                          opt.resume, "probe");
}

}  // namespace bnl::cli
