#pragma once
/// \file
/// The options of `launch` and the one declaration of each (config/option.h).

#include <string>
#include <vector>

#include "bnlandscape/config/option.h"

namespace bnl::cli {

/// Options of `launch`; each field is documented once, by its declaration in
/// visit_launch_specs.
struct LaunchOptions {
  int nproc = 2;
  int master_port = 0;
  std::vector<std::string> command;
};

/// Calls v(spec, field) for every `launch` option, in the order --help lists them.
template <class Options, class Visitor>
void visit_launch_specs(Options& o, Visitor&& v) {
  using namespace bnl::optspec;
  v(opt("nproc", "number of processes (ranks)").in(kLaunch), o.nproc);
  v(opt("master_port", "rendezvous TCP port on 127.0.0.1 (0 = a free one)").in(kLaunch), o.master_port);
  v(opt("command", "the bnlandscape subcommand and its options, after --").in(kLaunch).as_positional().as_required(),
    o.command);
}

/// Starts the processes and waits for them; returns the exit code.
int run_launch(const LaunchOptions& opt);

}  // namespace bnl::cli
