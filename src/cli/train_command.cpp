#include "bnlandscape/cli/train_command.h"
#include "bnlandscape/cli/data_source.h"
#include "bnlandscape/cli/train_options.h"
#include "bnlandscape/cli/resume_request.h"
#include "bnlandscape/cli/scripted_model.h"
#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/conv_mlp.h"

#include <algorithm>
#include <iostream>
#include <sstream>

#include <torch/utils.h>

#include "bnlandscape/data/batches.h"
#include "bnlandscape/record/analysis_observer.h"
#include "bnlandscape/record/observer_list.h"
#include "bnlandscape/record/provenance.h"
#include "bnlandscape/record/resume_point.h"
#include "bnlandscape/record/run_recorder.h"
#include "bnlandscape/run/progress.h"
#include "bnlandscape/run/run_lock.h"
#include "bnlandscape/run/signal_guard.h"
#include "bnlandscape/train/device.h"
#include "bnlandscape/train/trainer.h"

namespace bnl::cli {

using record::ObserverList;
using record::read_resume_point;
using record::ResumeInfo;
using record::RunProvenance;
using record::RunRecorder;
using run::RunLock;
using run::SignalGuard;
using run::Progress;

std::string train_config_toml(const train::TrainConfig& cfg) {
  std::ostringstream os;
  os << "# bnlandscape train configuration\n";
  train::visit_train_options(cfg, TomlWriter{os});
  return os.str();
}

Command setup_train(CLI::App& app) {
  auto opt = std::make_shared<TrainOptions>();
  CLI::App* sub = app.add_subcommand("train", "train one model and write one HDF5 run file");
  train::visit_train_specs(opt->cfg, OptionAdder{*sub});
  add_config_options(*sub, opt->dump_config);
  add_resume_option(*sub, opt->resume);
  return {sub, [opt] { return run_train(*opt); }};
}

models::ModelSpec model_spec(const train::TrainConfig& cfg, const data::ImageSet& images, std::int64_t num_classes) {
  models::ModelSpec s;
  s.arch = cfg.arch;
  s.in_channels = images.channels;
  s.input_size = images.height;
  s.num_classes = num_classes;
  s.hidden_dims = models::parse_int_list(cfg.hidden_dims, "hidden-dims");
  s.conv_channels = models::parse_int_list(cfg.conv_channels, "conv-channels");
  s.norm.kind = models::parse_norm_kind(cfg.bn);
  s.norm.backward = models::parse_bn_backward(cfg.bn_backward);
  s.norm.eval_stats = models::parse_bn_eval(cfg.bn_eval);
  s.placement = models::parse_bn_placement(cfg.bn_placement);
  s.vgg_config = cfg.vgg_config;
  s.width_mult = cfg.width_mult;
  s.model_file = cfg.model;
  return s;
}

PreparedRun prepare_run(const train::TrainConfig& cfg) {
  train::validate(cfg);
  // A CUDA request without CUDA fails here, before any output exists.
  train::resolve_device(cfg.device);
  PreparedRun run;
  train::configure_allocator();
  run.threads = train::configure_threads(cfg.threads, /*convolutional=*/train::arch_kind(cfg) != train::Arch::mlp);
  run.data = load_run_data(cfg);
  // A subset larger than the set would be recorded as if it had been used.
  if (cfg.train_subset > run.data.train.n)
    throw train::ConfigError("--train-subset = " + std::to_string(cfg.train_subset) + ": expected at most the " +
                             std::to_string(run.data.train.n) + " training examples of " + cfg.dataset + " (0 = all)");
  if (cfg.test_subset > run.data.test.n)
    throw train::ConfigError("--test-subset = " + std::to_string(cfg.test_subset) + ": expected at most the " +
                             std::to_string(run.data.test.n) + " test examples of " + cfg.dataset + " (0 = all)");
  run.data.train = data::take_first(run.data.train, cfg.train_subset);
  run.data.test = data::take_first(run.data.test, cfg.test_subset);
  if (cfg.batch_size > run.data.train.n)
    throw train::ConfigError("--batch-size = " + std::to_string(cfg.batch_size) + ": expected at most the " +
                             std::to_string(run.data.train.n) + " training examples");
  check_input_fits(cfg, run.data);
  if (run.data.train.height != run.data.train.width)
    throw train::ConfigError("--dataset = " + cfg.dataset + ": expected square images, got " +
                             std::to_string(run.data.train.height) + "x" + std::to_string(run.data.train.width));
  run.spec = model_spec(cfg, run.data.train, run.data.num_classes);
  run.spec.flat_input = run.data.feature_rows;
  try {
    torch::manual_seed(cfg.seed);
    run.model = models::make_model(run.spec);
  } catch (const std::invalid_argument& e) {
    throw train::ConfigError(std::string("--") + e.what());
  }
  check_scripted_output(cfg, run);
  if (cfg.bn_noise) {
    // Its own generator, so noise changes neither the initialisation nor the data order.
    const std::uint64_t noise_seed = cfg.seed * 0x9E3779B97F4A7C15ULL + 0x6e6f697365ULL;
    run.model->set_bn_noise(std::make_shared<models::BnNoise>(
        models::BnNoiseOptions{cfg.bn_noise_mu, cfg.bn_noise_sigma}, noise_seed));
  }
  if (!cfg.ics_layers.empty()) {
    const auto available = run.model->weight_layer_names();
    std::string list;
    for (const auto& a : available) list += (list.empty() ? "" : ", ") + a;
    const auto names = train::parse_name_list(cfg.ics_layers);
    if (names.empty())
      throw train::ConfigError("--ics-layers = \"" + cfg.ics_layers + "\": expected names among " + list);
    for (const auto& l : names) {
      if (std::find(available.begin(), available.end(), l) == available.end())
        throw train::ConfigError("--ics-layers = \"" + cfg.ics_layers + "\": expected names among " + list +
                                 ", got \"" + l + "\"");
    }
  }
  return run;
}

int run_train(const TrainOptions& opt) {
  if (opt.dump_config) {
    std::cout << train_config_toml(opt.cfg);
    return kExitOk;
  }
  if (!opt.resume.empty()) check_resume_request("train", opt.resume, train_config_toml(opt.cfg), opt.cfg.out);
  PreparedRun run = prepare_run(opt.cfg);
  return train_and_record(opt.cfg, run, train_config_toml(opt.cfg), nullptr, opt.resume, "train");
}

int train_replica(const train::TrainConfig& cfg, PreparedRun& run,
                  const std::function<std::unique_ptr<train::TrainObserver>(train::Trainer&, Progress&)>& make) {
  train::Trainer trainer(cfg, run.model, run.data);
  Progress progress(cfg.out, /*quiet=*/true);
  SignalGuard signals;
  auto extra = make(trainer, progress);
  ObserverList observers;
  observers.add(extra.get());
  observers.add(&signals);
  const auto result = trainer.run(observers);
  if (result.status == train::RunStatus::Diverged) return kExitDiverged;
  if (result.status == train::RunStatus::Interrupted) return 128 + SignalGuard::received();
  return kExitOk;
}

void add_resume_option(CLI::App& sub, std::string& resume) {
  sub.add_option("--resume", resume,
                 "continue the run in FILE from its newest checkpoint, with the configuration stored in it "
                 "(only --quiet may be added, and --epochs raised to train a run further, complete or not)");
}

int train_and_record(const train::TrainConfig& cfg, PreparedRun& run, const std::string& config_toml,
                     const ExtendRun& extend, const std::string& resume_file, const std::string& command) {
  train::Trainer trainer(cfg, run.model, run.data);
  Progress progress(cfg.out, cfg.quiet);
  if (trainer.drops_singleton() && run.data.train.n % cfg.batch_size == 1)
    progress.log("note: the last training batch would hold a single example; it is dropped every epoch "
                 "because batch normalisation needs at least 2");

  RunProvenance prov;
  prov.config_toml = config_toml;
  prov.seed = cfg.seed;
  prov.intra_op_threads = run.threads.first;
  prov.blas_threads = run.threads.second;
  record::describe_data(prov, run.data);
  record::describe_model(prov, *run.model);
  RunLock lock(cfg.out);
  ResumeInfo resume;
  if (!resume_file.empty()) {
    // Read under the lock: nobody else may be writing the file we continue.
    resume = read_resume_point(resume_file);
    try {
      trainer.restore(resume.weights, resume.state);
    } catch (const std::exception& e) {
      throw train::ConfigError("--resume " + resume_file + ": " + e.what());
    }
    progress.log("resuming " + resume_file + " from step " + std::to_string(resume.step));
  }
  SignalGuard signals;
  RunRecorder recorder(cfg.out, cfg.overwrite, prov, trainer, &resume);
  ObserverList observers;
  train::TrainResult result;
  try {
    std::unique_ptr<train::TrainObserver> extra;
    if (extend) extra = extend(trainer, recorder.file(), progress, resume);
    if (extra) recorder.add_state_observer(extra.get());
    record::AnalysisObserver analysis(trainer, recorder.file(), cfg, run.data, &resume);
    // Probes measure before the recorder flushes, so a flushed step includes its probe.
    if (analysis.active()) observers.add(&analysis);
    if (extra) observers.add(extra.get());
    observers.add(&recorder);
    observers.add(&progress);
    observers.add(&signals);
    result = trainer.run(observers);
  } catch (...) {
    progress.done();
    recorder.fail();
    throw;
  }
  progress.done();
  recorder.finish(result);
  if (result.status == train::RunStatus::Diverged) {
    std::cerr << "bnlandscape: training diverged at step " << result.diverged_at_step
              << " (loss not finite); " << cfg.out << " keeps every step before it, status \"diverged\"\n";
    return kExitDiverged;
  }
  if (result.status == train::RunStatus::Interrupted) {
    const int sig = SignalGuard::received();
    std::cerr << "bnlandscape: interrupted by signal " << sig << " at step " << result.steps << "; " << cfg.out
              << " holds a checkpoint of that step, status \"interrupted\"; continue with: "
              << resume_command(command, cfg.out) << "\n";
    // 130 for SIGINT, 143 for SIGTERM: the shell's convention for a signal-terminated process.
    return 128 + sig;
  }
  return kExitOk;
}

}  // namespace bnl::cli
