#pragma once
/// \file
/// N local processes of this binary as the ranks of one distributed run, each with the
/// torchrun environment (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR =
/// 127.0.0.1, MASTER_PORT) that dist/environment.h reads.

#include <string>
#include <vector>

namespace bnl::proc {

/// Starts `nproc` processes of this binary with arguments `args` (what follows the program
/// name), rank r with RANK = LOCAL_RANK = r, and waits for all of them. Returns the first
/// non-zero exit code in the shell's convention (128 + signal for a killed rank), 0 when all
/// succeed. When a rank fails the others get SIGTERM (with a line on stderr), so none is left
/// waiting; SIGINT or SIGTERM received meanwhile reaches every rank as SIGTERM. Throws
/// std::runtime_error when this executable cannot be found or fork() fails.
int run_local_ranks(const std::vector<std::string>& args, int nproc, int port);

/// A TCP port on 127.0.0.1 that was free when asked (bound to port 0, then released).
int free_loopback_port();

}  // namespace bnl::proc
