// Reading rank, world size and rendezvous address from torchrun's and SLURM's variables.
#include <gtest/gtest.h>

#include <map>

#include "bnlandscape/dist/environment.h"

using bnl::dist::first_slurm_host;
using bnl::dist::read_dist_env;

namespace {

bnl::dist::EnvLookup env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace

TEST(DistEnv, NothingSetIsOneProcess) {
  const auto d = read_dist_env(env({}));
  EXPECT_EQ(d.world_size, 1);
  EXPECT_EQ(d.rank, 0);
  EXPECT_EQ(d.source, "single");
}

TEST(DistEnv, TorchrunVariables) {
  const auto d = read_dist_env(
      env({{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"MASTER_ADDR", "node7"}, {"MASTER_PORT", "29611"}}));
  EXPECT_EQ(d.rank, 3);
  EXPECT_EQ(d.world_size, 4);
  EXPECT_EQ(d.master_addr, "node7");
  EXPECT_EQ(d.master_port, 29611);
  EXPECT_EQ(d.source, "torchrun");
}

TEST(DistEnv, TorchrunWinsOverSlurm) {
  const auto d = read_dist_env(env({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1234"},
                                    {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "8"}}));
  EXPECT_EQ(d.source, "torchrun");
  EXPECT_EQ(d.world_size, 2);
}

TEST(DistEnv, SlurmVariablesAndTheFirstHost) {
  const auto d = read_dist_env(env({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"},
                                    {"SLURM_JOB_NODELIST", "gpu[012-015,020],cpu1"}, {"SLURM_JOB_ID", "123456"}}));
  EXPECT_EQ(d.source, "slurm");
  EXPECT_EQ(d.rank, 5);
  EXPECT_EQ(d.world_size, 8);
  EXPECT_EQ(d.master_addr, "gpu012");
  EXPECT_EQ(d.master_port, 20000 + 123456 % 20000);
  // The step's own task count and node list win over the job's, MASTER_* over both.
  const auto s = read_dist_env(env({{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "8"}, {"SLURM_STEP_NUM_TASKS", "2"},
                                    {"SLURM_JOB_NODELIST", "a[1-4]"}, {"SLURM_STEP_NODELIST", "a[3-4]"}}));
  EXPECT_EQ(s.world_size, 2);
  EXPECT_EQ(s.master_addr, "a3");
  EXPECT_EQ(s.master_port, 29500);
  const auto m = read_dist_env(env({{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"SLURM_JOB_NODELIST", "a1"},
                                    {"MASTER_ADDR", "head"}, {"MASTER_PORT", "4000"}}));
  EXPECT_EQ(m.master_addr, "head");
  EXPECT_EQ(m.master_port, 4000);
  // One task (a job-array element, say) is a single process.
  EXPECT_EQ(read_dist_env(env({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}})).world_size, 1);
}

TEST(DistEnv, BadValuesNameTheVariable) {
  auto message = [](std::map<std::string, std::string> vars) {
    try {
      read_dist_env(env(std::move(vars)));
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"}}).find("RANK = 2"),
            std::string::npos);
  EXPECT_NE(message({{"RANK", "x"}, {"WORLD_SIZE", "2"}}).find("RANK = \"x\""), std::string::npos);
  EXPECT_NE(message({{"RANK", "0"}}).find("WORLD_SIZE"), std::string::npos);
  EXPECT_NE(message({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "1"}}).find("MASTER_ADDR"), std::string::npos);
  EXPECT_NE(message({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "70000"}})
                .find("MASTER_PORT = 70000"),
            std::string::npos);
  EXPECT_NE(message({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}}).find("NODELIST"), std::string::npos);
  EXPECT_NE(message({{"SLURM_PROCID", "4"}, {"SLURM_NTASKS", "2"}}).find("SLURM_PROCID = 4"), std::string::npos);
  // A torchrun world of one needs no address.
  EXPECT_EQ(message({{"RANK", "0"}, {"WORLD_SIZE", "1"}}), "no error");
}

TEST(DistEnv, SlurmHostLists) {
  EXPECT_EQ(first_slurm_host("node01"), "node01");
  EXPECT_EQ(first_slurm_host("a,b,c"), "a");
  EXPECT_EQ(first_slurm_host("node[03-05,7]"), "node03");
  EXPECT_EQ(first_slurm_host("node[7,3-5],x"), "node7");
  EXPECT_EQ(first_slurm_host("x-[1-2]-ib,y"), "x-1-ib");
  EXPECT_THROW(first_slurm_host(""), std::invalid_argument);
  EXPECT_THROW(first_slurm_host("node[1-2"), std::invalid_argument);
  EXPECT_THROW(first_slurm_host("node1-2]"), std::invalid_argument);
}
