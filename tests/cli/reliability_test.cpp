// Runs that are killed, interrupted or contended: what the run file says afterwards.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cli_test_util.h"

using namespace bnl_test;

namespace {

/// Starts a full-data training run in the background, sends `sig` after `seconds`, and returns
/// the exit code the shell saw.
int run_and_signal(const std::string& out, const char* sig, double seconds) {
  const std::string cmd = std::string(BNL_BINARY) +
                          " train --dataset fashion-mnist --hidden-dims 256,128 --epochs 3 --flush-every 50 --quiet --out " +
                          out + " & pid=$!; sleep " + std::to_string(seconds) + "; kill -" + sig +
                          " $pid; wait $pid; echo \"rc=$?\"";
  auto r = sh(cmd);
  const auto pos = r.output.rfind("rc=");
  return pos == std::string::npos ? -1 : std::atoi(r.output.c_str() + pos + 3);
}

}  // namespace

TEST(Reliability, SigtermFinishesTheStepCheckpointsAndSaysInterrupted) {
  if (!have_fashion() || !have_h5py()) GTEST_SKIP();
  TempDir dir;
  EXPECT_EQ(run_and_signal(dir / "r.h5", "TERM", 4.0), 143);
  auto py = python(R"(
import h5py, numpy as np
f = h5py.File(")" + dir / "r.h5" + R"(", "r")
assert f.attrs["status"] == "interrupted", f.attrs["status"]
n = len(f["train/steps/step"])
assert n > 0
ck = sorted(f["checkpoints"].keys())
assert ck[-1] == "step_%07d" % n, (ck, n)
assert np.all(np.isfinite(f["train/steps/loss"][:]))
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "r.h5.lock"));
}

TEST(Reliability, KillNineLeavesAReadableFileUpToTheLastFlush) {
  if (!have_fashion() || !have_h5py()) GTEST_SKIP();
  TempDir dir;
  EXPECT_EQ(run_and_signal(dir / "k.h5", "KILL", 5.0), 137);
  auto py = python(R"(
import h5py
f = h5py.File(")" + dir / "k.h5" + R"(", "r")
assert f.attrs["status"] == "running"
n = len(f["train/steps/step"])
assert n > 0 and n % 50 == 0, n
assert list(f["train/steps/step"][:]) == list(range(n))
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST(Reliability, ASecondWriterIsRefusedAndAStaleLockTakenOver) {
  if (!have_fashion()) GTEST_SKIP();
  TempDir dir;
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  const std::string out = dir / "l.h5";
  {
    std::ofstream lock(out + ".lock");
    lock << getpid() << "@" << host << "\n";  // this test process is alive
  }
  const std::string args = "train --train-subset 256 --test-subset 100 --hidden-dims 16 --epochs 1 --quiet --out " + out;
  auto r = bnl(args + " --overwrite");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find(std::to_string(getpid())), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(out));
  {
    std::ofstream lock(out + ".lock");
    lock << "999999999@" << host << "\n";  // no such process
  }
  auto ok = bnl(args);
  EXPECT_EQ(ok.code, 0) << ok.output;
  EXPECT_FALSE(std::filesystem::exists(out + ".lock"));
}
