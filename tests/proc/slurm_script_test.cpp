// sweep/slurm_script: the job array's header lines and its exec line.
#include <gtest/gtest.h>

#include "bnlandscape/proc/slurm_script.h"

TEST(SlurmScript, ArrayOverEveryPoint) {
  bnl::proc::SlurmArray a;
  a.points = 6;
  a.sweep_file = "/home/u/my sweep.toml";
  a.out_dir = "/scratch/out";
  a.binary = "/opt/bnl/bnlandscape";
  a.script = "job.sh";
  a.threads = 0;
  const std::string s = bnl::proc::slurm_array_script(a);
  EXPECT_EQ(s.rfind("#!/bin/bash\n", 0), 0u);
  EXPECT_NE(s.find("#SBATCH --job-name=bnl-my_sweep\n"), std::string::npos);
  EXPECT_NE(s.find("#SBATCH --array=0-5\n"), std::string::npos);
  EXPECT_NE(s.find("#SBATCH --cpus-per-task=1\n"), std::string::npos);
  EXPECT_NE(s.find("#SBATCH --output=/scratch/out/slurm-%A_%a.out\n"), std::string::npos);
  EXPECT_NE(s.find("exec '/opt/bnl/bnlandscape' sweep --config '/home/u/my sweep.toml' --out '/scratch/out' "
                   "--index \"$SLURM_ARRAY_TASK_ID\"\n"),
            std::string::npos);
  a.out_dir = "/scratch/my out";
  EXPECT_EQ(bnl::proc::slurm_array_script(a).find("--output="), std::string::npos);
}

TEST(SlurmScript, ShellQuote) {
  EXPECT_EQ(bnl::proc::shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(bnl::proc::shell_quote(""), "''");
}
