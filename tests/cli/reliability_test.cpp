// Runs that are killed, interrupted or contended: what the run file says afterwards.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cli_test_util.h"

using namespace bnl_test;

namespace {

/// Starts a full-data training run in the background, sends `sig` `seconds` after its run file
/// appears (so a loaded machine's slow data loading cannot make the signal land first), and
/// returns the exit code the shell saw. The run is given 30 epochs, far more than the signal
/// lets it reach: the fused step trains 3 epochs of this model in about 3 s on 2 cores, and a
/// run that ends before the signal would test nothing.
int run_and_signal(const std::string& out, const char* sig, double seconds, std::string* output = nullptr) {
  const std::string cmd = std::string(BNL_BINARY) +
                          " train --dataset fashion-mnist --hidden-dims 256,128 --epochs 30 --flush-every 50 --quiet --out " +
                          out + " 2>&1 & pid=$!; for i in $(seq 1200); do [ -e " + out +
                          " ] && break; sleep 0.05; done; sleep " + std::to_string(seconds) + "; kill -" + sig +
                          " $pid; wait $pid; echo \"rc=$?\"";
  auto r = sh(cmd);
  if (output) *output = r.output;
  const auto pos = r.output.rfind("rc=");
  return pos == std::string::npos ? -1 : std::atoi(r.output.c_str() + pos + 3);
}

/// Rows of /train/steps in `file`, -1 when it cannot be read.
int steps_in(const std::string& file) {
  auto r = python("import h5py\nprint('rows', len(h5py.File('" + file + "', 'r')['train/steps/step']))\n");
  const auto pos = r.output.rfind("rows ");
  return r.code == 0 && pos != std::string::npos ? std::atoi(r.output.c_str() + pos + 5) : -1;
}

/// run_and_signal, repeated with twice the delay while the run had not yet `min_rows` rows on
/// disk when the signal came (a loaded machine); returns the last exit code.
int signal_after_rows(const std::string& out, const char* sig, double seconds, int min_rows,
                      std::string* output = nullptr) {
  int code = -1;
  for (double s = seconds; s <= 8 * seconds; s *= 2) {
    std::filesystem::remove(out);
    std::filesystem::remove(out + ".lock");
    code = run_and_signal(out, sig, s, output);
    if (steps_in(out) >= min_rows) break;
  }
  return code;
}

}  // namespace

TEST(Reliability, SigtermFinishesTheStepCheckpointsAndSaysInterrupted) {
  if (!have_fashion() || !have_h5py()) GTEST_SKIP();
  TempDir dir;
  EXPECT_EQ(signal_after_rows(dir / "r.h5", "TERM", 2.0, 1), 143);
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

TEST(Reliability, CtrlCPrintsTheCommandThatContinuesTheRun) {
  if (!have_fashion() || !have_h5py()) GTEST_SKIP();
  TempDir dir;
  std::string output;
  EXPECT_EQ(signal_after_rows(dir / "c.h5", "INT", 2.0, 1, &output), 130);
  const auto steps = steps_in(dir / "c.h5");
  EXPECT_NE(output.find("interrupted by signal 2 at step " + std::to_string(steps) + "; "), std::string::npos) << output;
  const std::string command = "bnlandscape train --resume " + dir / "c.h5";
  EXPECT_NE(output.find("continue with: " + command + "\n"), std::string::npos) << output;
  // The command printed is the one that continues the run.
  auto r = bnl(command.substr(std::string("bnlandscape ").size()) + " --epochs 1 --quiet");
  EXPECT_EQ(r.code, 2) << r.output;  // 30 epochs recorded: fewer is refused, by name
  EXPECT_NE(r.output.find("cannot change --epochs (30 in the run file, 1 given)"), std::string::npos) << r.output;
}

TEST(Reliability, KillNineLeavesAReadableFileUpToTheLastFlush) {
  if (!have_fashion() || !have_h5py()) GTEST_SKIP();
  TempDir dir;
  EXPECT_EQ(signal_after_rows(dir / "k.h5", "KILL", 3.0, 50), 137);
  auto py = python(R"(
import h5py
f = h5py.File(")" + dir / "k.h5" + R"(", "r")
assert f.attrs["status"] == "running"
n = len(f["train/steps/step"])
# Flush points: every 50 steps and every epoch end (469 steps an epoch).
assert n > 0 and (n % 50 == 0 or n % 469 == 0), n
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
  // Holders flock their lock file: a lock whose flock nobody holds is stale even when its pid
  // now belongs to a live process (reused after a kill -9), and one whose flock is held is
  // live even when its pid says otherwise.
  {
    std::ofstream lock(out + ".lock");
    lock << getpid() << "@" << host << " flock\n";
  }
  auto reused = bnl(args + " --overwrite");
  EXPECT_EQ(reused.code, 0) << reused.output;
  auto held = sh(std::string(BNL_PYTHON) + " -c \"import fcntl, subprocess, sys\n"
                 "f = open('" + out + ".lock', 'w'); f.write('999999999@" + host + " flock\\n'); f.flush()\n"
                 "fcntl.flock(f, fcntl.LOCK_EX)\n"
                 "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
                 "print('rc', r.returncode, r.stderr)\" " + BNL_BINARY + " " + args + " --overwrite");
  EXPECT_NE(held.output.find("rc 2"), std::string::npos) << held.output;
  EXPECT_NE(held.output.find("in use by process 999999999@"), std::string::npos) << held.output;
}

TEST(Reliability, AFullDiskEndsTheRunWithExitTwoAndKeepsTheLastCommit) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  TempDir dir;
  const std::string out = dir / "full.h5";
  // A 200 KiB file-size limit stands in for a full disk: the first checkpoint (2.3 MB) cannot
  // be written. SIGXFSZ is ignored so that the write fails with EFBIG instead of killing us.
  auto r = sh("bash -c 'trap \"\" XFSZ; ulimit -f 200; exec " + std::string(BNL_BINARY) +
              " train --train-subset 1000 --test-subset 100 --epochs 2 --checkpoint-every 5 --quiet --out " + out + "'");
  EXPECT_EQ(r.code, 2) << r.output;  // not a crash in HDF5's clean-up at exit
  EXPECT_NE(r.output.find("writing checkpoint '/checkpoints/step_0000005' failed"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("File too large"), std::string::npos) << r.output;
  // The commit of the checkpoint failed whole: the file on disk is the commit before it (the
  // run's start), it opens, and no partial image is left beside it.
  auto py = python("import h5py\nf = h5py.File('" + out + "', 'r')\nprint(f.attrs['status'], len(f['train/steps/step']))\n");
  EXPECT_EQ(py.code, 0) << py.output;
  EXPECT_NE(py.output.find("running 0"), std::string::npos) << py.output;
  EXPECT_FALSE(std::filesystem::exists(out + ".tmp"));
}

TEST(Reliability, EveryBadOptionIsRefusedBeforeAnyOutput) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  TempDir dir;
  const std::string out = " --out " + dir / "x.h5";
  struct Case {
    std::string args, needle;
  };
  for (const auto& c : std::vector<Case>{
           {"train --lr 0", "--lr"},
           {"train --train-subset 100 --batch-size 128", "--batch-size"},
           {"train --hidden-dims ,", "hidden-dims"},
           {"train --arch cnn --conv-channels 8,8,8", "not divisible"},
           {"probe --step-interval 0", "step-interval"},
           {"probe --step-sizes 0,1", "step-sizes"},
           {"probe --top-k 600000", "top-k"},
           {"train --data-dir " + dir.path.string(), "train-images"}}) {
    auto r = bnl(c.args + out);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.needle), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "x.h5")) << c.args;
  }
}
