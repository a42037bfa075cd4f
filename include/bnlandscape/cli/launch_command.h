#pragma once
/// \file
/// `bnlandscape launch --nproc N -- probe|surface ...`: starts N local processes of the command after
/// `--`, each with the torchrun environment (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE,
/// MASTER_ADDR=127.0.0.1, MASTER_PORT = a free loopback port), waits for all, and returns the
/// first non-zero exit code. When one process fails the others are stopped (SIGTERM), so a
/// failed rank never leaves its peers waiting; SIGINT or SIGTERM sent to launch reaches every rank
/// as SIGTERM (each stops cleanly after its current step).

#include <string>
#include <vector>

#include "bnlandscape/cli/app.h"

namespace bnl::cli {

/// Options of `launch`.
struct LaunchOptions {
  int nproc = 2;                      ///< number of processes (ranks)
  int master_port = 0;                ///< rendezvous port; 0 = a free one
  std::vector<std::string> command;   ///< the bnlandscape subcommand and its arguments
};

/// Registers `launch` on `app`.
Command setup_launch(CLI::App& app);

/// Starts the processes and waits for them; returns the exit code.
int run_launch(const LaunchOptions& opt);

/// A TCP port on 127.0.0.1 that was free when asked (bound to port 0, then released).
int free_loopback_port();

}  // namespace bnl::cli
