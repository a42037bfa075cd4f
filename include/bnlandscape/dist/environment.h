#pragma once
/// \file
/// Where this process sits in a multi-process probe: rank, world size and the rendezvous
/// address, read from the launcher's environment variables. Two conventions are understood,
/// in this order:
///  - torchrun's (and `bnlandscape launch`'s): RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT
///    (LOCAL_RANK optional);
///  - SLURM's, for `srun bnlandscape probe ...`: SLURM_PROCID, SLURM_STEP_NUM_TASKS (else
///    SLURM_NTASKS), MASTER_ADDR if set, else the first host of SLURM_STEP_NODELIST (else
///    SLURM_JOB_NODELIST), MASTER_PORT if set, else 20000 + SLURM_JOB_ID mod 20000, so that
///    two jobs whose first node is the same do not share a port.
/// Neither present (or a world of one) means a single process.

#include <functional>
#include <optional>
#include <string>

namespace bnl::dist {

/// The process's place in the group.
struct DistEnv {
  int rank = 0;                         ///< 0 .. world_size-1; rank 0 alone writes output
  int world_size = 1;                   ///< number of processes sharing the probe set
  std::string master_addr = "127.0.0.1";  ///< host of rank 0, which serves the rendezvous store
  int master_port = 29500;              ///< TCP port of the rendezvous store
  std::string source = "single";        ///< single | torchrun | slurm: which convention was read
};

/// Reads an environment variable; std::nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

/// The process's own environment (std::getenv).
EnvLookup process_env();

/// The placement described by `env`. Throws std::invalid_argument naming the variable on a
/// malformed or inconsistent value (RANK outside [0, WORLD_SIZE), a port outside 1..65535,
/// WORLD_SIZE > 1 without MASTER_ADDR/MASTER_PORT, ...).
DistEnv read_dist_env(const EnvLookup& env);

/// The first host of a SLURM host list ("node[03-05,7],gpu1" -> "node03"; "a,b" -> "a";
/// "x-[1-2]-ib" -> "x-1-ib"). Throws std::invalid_argument on an empty or malformed list.
std::string first_slurm_host(const std::string& nodelist);

}  // namespace bnl::dist
