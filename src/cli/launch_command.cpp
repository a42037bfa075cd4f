#include "bnlandscape/cli/launch_command.h"
#include "bnlandscape/cli/launch_options.h"

#include <memory>

#include <CLI/App.hpp>

#include "bnlandscape/proc/local_ranks.h"
#include "bnlandscape/train/config.h"

namespace bnl::cli {

int free_loopback_port() { return proc::free_loopback_port(); }

Command setup_launch(CLI::App& app) {
  auto opt = std::make_shared<LaunchOptions>();
  CLI::App* sub = app.add_subcommand(
      "launch", "run a command as N local processes sharing its probes (torchrun environment): launch --nproc N -- probe|surface ...");
  visit_launch_specs(*opt, OptionAdder{*sub});
  return {sub, [opt] { return run_launch(*opt); }};
}

int run_launch(const LaunchOptions& opt) {
  if (opt.nproc < 1) throw train::ConfigError("--nproc = " + std::to_string(opt.nproc) + ": expected N >= 1");
  if (opt.master_port < 0 || opt.master_port > 65535)
    throw train::ConfigError("--master-port = " + std::to_string(opt.master_port) + ": expected 0..65535");
  if (opt.command.empty() || (opt.command[0] != "probe" && opt.command[0] != "surface"))
    throw train::ConfigError("launch: expected `-- probe ...` or `-- surface ...` after the launch options (only probe "
                             "and surface run on several processes), got " +
                             (opt.command.empty() ? std::string("nothing") : "`" + opt.command[0] + "`"));
  const int port = opt.master_port > 0 ? opt.master_port : free_loopback_port();

  return proc::run_local_ranks(opt.command, opt.nproc, port);
}

}  // namespace bnl::cli
