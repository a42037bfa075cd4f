#include "bnlandscape/cli/sweep_command.h"
#include "bnlandscape/cli/sweep_options.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

#include "bnlandscape/cli/sweep_run.h"
#include "bnlandscape/proc/slurm_script.h"
#include "bnlandscape/train/config.h"

namespace bnl::cli {
namespace {

namespace fs = std::filesystem;

/// --emit-slurm FILE: the sweep as a SLURM job array whose task k runs --index k.
void emit_slurm(const SweepSpec& spec, const SweepOptions& opt) {
  std::error_code ec;
  const fs::path out = fs::absolute(opt.out);
  fs::create_directories(out, ec);
  if (ec) throw train::ConfigError("--out " + opt.out + ": cannot create the directory: " + ec.message());
  proc::SlurmArray array;
  array.points = spec.size();
  array.sweep_file = fs::canonical(opt.config).string();
  array.out_dir = out.string();
  fs::path binary = fs::read_symlink("/proc/self/exe", ec);
  array.binary = ec ? std::string("bnlandscape") : binary.string();
  array.script = opt.emit_slurm;
  bool threads_given = false;
  array.threads = given_threads(spec, threads_given);
  std::ofstream f(opt.emit_slurm, std::ios::binary);
  f << proc::slurm_array_script(array);
  f.close();
  if (!f) throw train::ConfigError("--emit-slurm " + opt.emit_slurm + ": cannot write");
  const std::size_t n = array.points;
  std::cout << "wrote " + opt.emit_slurm + ": SLURM job array of " + std::to_string(n) + " tasks (--array=0-" +
                   std::to_string(n - 1) + "); submit with: sbatch " + opt.emit_slurm
            << std::endl;
}

}  // namespace

Command setup_sweep(CLI::App& app) {
  auto opt = std::make_shared<SweepOptions>();
  CLI::App* sub = app.add_subcommand("sweep", "run a matrix of train or probe runs given in a TOML file");
  sub->footer(
      "Sweep file: top-level keys are fixed options, spelled as in train/probe config files; the [sweep]\n"
      "table maps options to lists of values, and the matrix is their product (first key slowest):\n"
      "  dataset = \"fashion-mnist\"\n"
      "  epochs = 3\n"
      "  [sweep]\n"
      "  bn = [\"none\", \"custom\"]\n"
      "  hidden_dims = [\"512,256,128\", \"256,128\"]   # a list of lists: quoted strings\n"
      "  seed = [0, 1, 2]\n"
      "Each point runs `bnlandscape probe` if any key is a probe option, else `train`, as a child process,\n"
      "writing DIR/<key>=<value>_....h5 (values sanitised), its resolved configuration (.toml, runnable\n"
      "with --config) and its output (.log). A point whose run file is complete or diverged is skipped,\n"
      "so running the sweep again resumes it; a failed point is reported and the rest go on (exit 2 at\n"
      "the end). Without a `threads` key each point gets threads = available cores / --jobs.\n"
      "--index I runs point I alone and exits with its code (0 if skipped, 3 if diverged);\n"
      "--emit-slurm FILE writes a SLURM job array (sbatch --array=0-N-1) whose task k runs --index k.");
  // run_app would expand --config as a flat options file; main() renames it to --sweep-config
  // for this command (see protect_sweep_config), and both names land here.
  visit_sweep_specs(*opt, OptionAdder{*sub});
  sub->add_option("--sweep-config", opt->config, "same as --config")->group("");
  return {sub, [opt] { return run_sweep(*opt); }};
}

std::vector<std::string> protect_sweep_config(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  bool in_sweep = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (!in_sweep) {
      if (!args[i].empty() && args[i][0] != '-') {
        if (args[i] != "sweep") break;
        in_sweep = true;
      }
      continue;
    }
    if (args[i] == "--config") args[i] = "--sweep-config";
    else if (args[i].rfind("--config=", 0) == 0) args[i] = "--sweep-config=" + args[i].substr(9);
  }
  return args;
}

int run_sweep(const SweepOptions& opt) {
  if (opt.config.empty()) throw train::ConfigError("sweep: expected --config FILE (the sweep file)");
  const SweepSpec spec = read_sweep_spec(opt.config);
  const auto points = sweep_points(spec);
  if (opt.count) {
    std::cout << points.size() << "\n";
    return kExitOk;
  }
  if (opt.list) {
    for (const auto& p : points) std::cout << p.index << "\t" << spec.command << "\t" << p.name << ".h5\n";
    return kExitOk;
  }
  if (opt.out.empty()) throw train::ConfigError("sweep: expected --out DIR (the directory of the run files)");
  if (!opt.emit_slurm.empty()) {
    emit_slurm(spec, opt);
    return kExitOk;
  }
  if (opt.index >= 0) {
    if (static_cast<std::size_t>(opt.index) >= points.size())
      throw train::ConfigError("--index = " + std::to_string(opt.index) + ": expected 0.." +
                               std::to_string(points.size() - 1) + " (the sweep has " + std::to_string(points.size()) +
                               " points)");
    return run_sweep_points(spec, points, {static_cast<std::size_t>(opt.index)}, opt.out, 1, true);
  }
  std::vector<std::size_t> todo(points.size());
  for (std::size_t i = 0; i < todo.size(); ++i) todo[i] = i;
  return run_sweep_points(spec, points, todo, opt.out, opt.jobs, false);
}

}  // namespace bnl::cli
