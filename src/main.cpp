// bnlandscape command line: registers the subcommands; cli/ does the rest.
#include <CLI/App.hpp>

#include "bnlandscape/cli/app.h"
#include "bnlandscape/cli/compare_command.h"
#include "bnlandscape/cli/probe_command.h"
#include "bnlandscape/cli/train_command.h"

int main(int argc, char** argv) {
  CLI::App app{"bnlandscape: does batch normalization smooth the loss landscape? (Santurkar et al. 2018)"};
  app.require_subcommand(1);
  std::vector<bnl::cli::Command> commands{bnl::cli::setup_train(app), bnl::cli::setup_compare(app),
                                          bnl::cli::setup_probe(app)};
  return bnl::cli::run_app(app, argc, argv, commands);
}
