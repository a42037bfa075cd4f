// Kill -9 at any instant, inside commits and checkpoints included: the run file opens with
// plain h5py after every kill, holds exactly the rows of its last commit, and `--resume`
// ends on the uninterrupted run's values (tests/cli/crash_torture.py does the killing; the
// 100-kill version is scripts/crash-torture.sh).
#include <gtest/gtest.h>

#include <iostream>

#include "cli_test_util.h"

using namespace bnl_test;

namespace {

Result torture(const std::string& mode, int kills, int seed, int threads = 1) {
  return sh(std::string(BNL_PYTHON) + " " + BNL_SOURCE_DIR + "/tests/cli/crash_torture.py --binary " + BNL_BINARY +
            " --mode " + mode + " --kills " + std::to_string(kills) + " --seed " + std::to_string(seed) +
            " --threads " + std::to_string(threads));
}

}  // namespace

TEST(CrashTorture, TrainingRunSurvivesThirtyTwoKills) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  auto r = torture("train", 32, 1);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("32 kills"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("final file equals the uninterrupted run"), std::string::npos) << r.output;
  std::cout << r.output;
}

TEST(CrashTorture, OnlineProbeRunSurvivesThirtyTwoKills) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  auto r = torture("probe", 32, 2);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("32 kills"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("final file equals the uninterrupted run"), std::string::npos) << r.output;
  std::cout << r.output;
}

TEST(CrashTorture, OnlineProbeRunWithProbesBesideTrainingSurvivesTwelveKills) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  // Two threads: probes run on their own thread (--overlap), up to 4 behind training, and are
  // recorded before each checkpoint.
  auto r = torture("probe", 12, 3, 2);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("12 kills"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("final file equals the uninterrupted run"), std::string::npos) << r.output;
  std::cout << r.output;
}
