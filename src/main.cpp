// bnlandscape command line: registers the subcommands; cli/ does the rest.
#include <functional>
#include <string>

#include <CLI/App.hpp>

#include "bnlandscape/cli/app.h"
#include "bnlandscape/cli/compare_command.h"
#include "bnlandscape/cli/export_command.h"
#include "bnlandscape/cli/info_command.h"
#include "bnlandscape/cli/launch_command.h"
#include "bnlandscape/cli/probe_command.h"
#include "bnlandscape/cli/surface_command.h"
#include "bnlandscape/cli/sweep_command.h"
#include "bnlandscape/cli/train_command.h"

int main(int argc, char** argv) {
  CLI::App app{"bnlandscape: does batch normalization smooth the loss landscape? (Santurkar et al. 2018)"};
  app.name("bnlandscape");  // "Usage: bnlandscape [OPTIONS] SUBCOMMAND"
  app.set_version_flag("--version", std::function<std::string()>(bnl::cli::version_text),
                       "print the version, git revision, libtorch build and BLAS, and exit");
  app.require_subcommand(1);
  std::vector<bnl::cli::Command> commands{bnl::cli::setup_train(app), bnl::cli::setup_compare(app),
                                          bnl::cli::setup_probe(app),  bnl::cli::setup_sweep(app),
                                          bnl::cli::setup_info(app),   bnl::cli::setup_export(app),
                                          bnl::cli::setup_launch(app),  bnl::cli::setup_surface(app)};
  // `sweep --config FILE` names a sweep file, not an options file for run_app to expand.
  std::vector<std::string> args = bnl::cli::protect_sweep_config(argc, argv);
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  return bnl::cli::run_app(app, static_cast<int>(cargs.size()), cargs.data(), commands);
}
