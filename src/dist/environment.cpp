#include "bnlandscape/dist/environment.h"

#include <cstdlib>
#include <stdexcept>

namespace bnl::dist {
namespace {

long long to_int(const std::string& name, const std::string& value) {
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != value.size())
    throw std::invalid_argument(name + " = \"" + value + "\": expected an integer");
  return v;
}

int port_from(const std::string& name, const std::string& value) {
  const long long p = to_int(name, value);
  if (p < 1 || p > 65535) throw std::invalid_argument(name + " = " + value + ": expected a port in 1..65535");
  return static_cast<int>(p);
}

void check_rank(const std::string& rank_name, long long rank, const std::string& world_name, long long world) {
  if (world < 1) throw std::invalid_argument(world_name + " = " + std::to_string(world) + ": expected >= 1");
  if (rank < 0 || rank >= world)
    throw std::invalid_argument(rank_name + " = " + std::to_string(rank) + ": expected 0 <= rank < " + world_name +
                                " = " + std::to_string(world));
}

}  // namespace

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

std::string first_slurm_host(const std::string& nodelist) {
  if (nodelist.empty()) throw std::invalid_argument("SLURM node list: expected at least one host, got \"\"");
  std::string out;
  int depth = 0;
  bool in_range_tail = false;  // inside [...] after the first number of the first range
  for (char c : nodelist) {
    if (c == '[') {
      if (depth > 0) throw std::invalid_argument("SLURM node list \"" + nodelist + "\": nested '['");
      ++depth;
      in_range_tail = false;
      continue;
    }
    if (c == ']') {
      if (depth == 0) throw std::invalid_argument("SLURM node list \"" + nodelist + "\": ']' without '['");
      --depth;
      continue;
    }
    if (depth > 0) {
      if (c == ',' || c == '-') in_range_tail = true;
      if (!in_range_tail) out += c;
      continue;
    }
    if (c == ',') break;  // the first host ends at a top-level comma
    out += c;
  }
  if (depth != 0) throw std::invalid_argument("SLURM node list \"" + nodelist + "\": '[' without ']'");
  if (out.empty()) throw std::invalid_argument("SLURM node list \"" + nodelist + "\": expected a host name first");
  return out;
}

DistEnv read_dist_env(const EnvLookup& env) {
  DistEnv d;
  const auto rank = env("RANK");
  const auto world = env("WORLD_SIZE");
  if (rank || world) {
    if (!rank || !world)
      throw std::invalid_argument(std::string(rank ? "RANK" : "WORLD_SIZE") + " is set but " +
                                  (rank ? "WORLD_SIZE" : "RANK") + " is not: expected both (torchrun convention)");
    const long long r = to_int("RANK", *rank), w = to_int("WORLD_SIZE", *world);
    check_rank("RANK", r, "WORLD_SIZE", w);
    d.rank = static_cast<int>(r);
    d.world_size = static_cast<int>(w);
    d.source = "torchrun";
    if (d.world_size == 1) return d;
    const auto addr = env("MASTER_ADDR");
    const auto port = env("MASTER_PORT");
    if (!addr || addr->empty() || !port)
      throw std::invalid_argument("WORLD_SIZE = " + *world + ": expected MASTER_ADDR and MASTER_PORT (the host and "
                                  "port of rank 0), got " + std::string(!addr || addr->empty() ? "no MASTER_ADDR" : "no MASTER_PORT"));
    d.master_addr = *addr;
    d.master_port = port_from("MASTER_PORT", *port);
    return d;
  }
  const auto procid = env("SLURM_PROCID");
  auto ntasks_name = std::string("SLURM_STEP_NUM_TASKS");
  auto ntasks = env(ntasks_name);
  if (!ntasks) ntasks = env(ntasks_name = "SLURM_NTASKS");
  if (procid && ntasks) {
    const long long r = to_int("SLURM_PROCID", *procid), w = to_int(ntasks_name, *ntasks);
    check_rank("SLURM_PROCID", r, ntasks_name, w);
    if (w == 1) return d;
    d.rank = static_cast<int>(r);
    d.world_size = static_cast<int>(w);
    d.source = "slurm";
    if (const auto addr = env("MASTER_ADDR"); addr && !addr->empty()) {
      d.master_addr = *addr;
    } else {
      auto nodes = env("SLURM_STEP_NODELIST");
      if (!nodes) nodes = env("SLURM_JOB_NODELIST");
      if (!nodes)
        throw std::invalid_argument("SLURM_PROCID is set: expected MASTER_ADDR or SLURM_STEP_NODELIST/SLURM_JOB_NODELIST");
      d.master_addr = first_slurm_host(*nodes);
    }
    if (const auto port = env("MASTER_PORT")) {
      d.master_port = port_from("MASTER_PORT", *port);
    } else if (const auto job = env("SLURM_JOB_ID")) {
      d.master_port = 20000 + static_cast<int>(to_int("SLURM_JOB_ID", *job) % 20000);
    }
    return d;
  }
  return d;
}

}  // namespace bnl::dist
