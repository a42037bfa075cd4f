#pragma once
/// \file
/// `bnlandscape launch --nproc N -- probe|surface ...`: starts N local processes of the command after
/// `--`, each with the torchrun environment (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE,
/// MASTER_ADDR=127.0.0.1, MASTER_PORT = a free loopback port), waits for all, and returns the
/// first non-zero exit code. When one process fails the others are stopped (SIGTERM), so a
/// failed rank never leaves its peers waiting; SIGINT or SIGTERM sent to launch reaches every rank
/// as SIGTERM (each stops cleanly after its current step).

#include <string>

#include "bnlandscape/cli/app.h"

namespace bnl::cli {

/// Registers `launch` on `app` (options: cli/launch_options.h).
Command setup_launch(CLI::App& app);

/// A TCP port on 127.0.0.1 that was free when asked (bound to port 0, then released).
int free_loopback_port();

}  // namespace bnl::cli
