// `--resume`: a run continued from its newest checkpoint produces exactly the series of the
// uninterrupted run (every value, wall times aside), for train and probe, after a clean
// interruption (SIGTERM), after kill -9 (of a run with the default checkpoint policy too), with
// rows written past the checkpoint, and continued with a larger --epochs.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "cli_test_util.h"

using namespace bnl_test;

namespace {

const std::string kSmall =
    " --dataset fashion-mnist --train-subset 1000 --test-subset 300 --hidden-dims 64,32 --epochs 2 --quiet";

/// Python asserting that every dataset of files a and b is equal value for value (NaN equal),
/// skipping wall times, and that b ends "complete".
std::string same_run(const std::string& a, const std::string& b) {
  return R"(
import h5py, numpy as np
fa, fb = h5py.File(")" + a + R"(", "r"), h5py.File(")" + b + R"(", "r")
assert fb.attrs["status"] == "complete", fb.attrs["status"]
names = []
fa.visit(lambda n: names.append(n) if isinstance(fa[n], h5py.Dataset) else None)
checked = 0
for n in names:
    if n.split("/")[-1] in ("wall_time", "seconds") or "/_state/" in n:
        continue
    assert n in fb, n
    x, y = fa[n][()], fb[n][()]
    assert x.shape == y.shape, (n, x.shape, y.shape)
    assert np.array_equal(x, y, equal_nan=True), (n, x.ravel()[:4], y.ravel()[:4])
    checked += 1
# A checkpoint the interruption itself wrote is the only thing the resumed file may add.
extra = []
fb.visit(lambda n: extra.append(n) if isinstance(fb[n], h5py.Dataset) and n not in fa
         and not n.startswith("checkpoints/") else None)
assert not extra, extra
print("checked", checked)
)";
}

/// Makes `cut` look like `ref` killed after its checkpoint at `step`: later checkpoints gone,
/// the series (rows past the checkpoint included) kept, status "running".
std::string cut_after(const std::string& ref, const std::string& cut, int step) {
  return R"(
import h5py, shutil
shutil.copy(")" + ref + R"(", ")" + cut + R"(")
with h5py.File(")" + cut + R"(", "r+") as f:
    for k in list(f["checkpoints"]):
        if int(k[5:]) > )" + std::to_string(step) + R"(:
            del f["checkpoints"][k]
    f.attrs["status"] = "running"
print("ok")
)";
}

/// Starts the binary in the background; returns its pid.
pid_t spawn(const std::string& args) {
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + std::string(BNL_BINARY) + " " + args + " >/dev/null 2>&1").c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST(ResumeCli, TrainContinuesFromTheCheckpointAndReplacesLaterRows) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  TempDir dir;
  // Momentum, noise, activations and ICS: every piece of state a resume must carry.
  const std::string args = "train" + kSmall +
                           " --bn custom --momentum 0.9 --bn-noise --eval-every 4 --checkpoint-every 3"
                           " --activations-every 2 --ics-every 5";
  auto ref = bnl(args + " --out " + dir / "ref.h5");
  ASSERT_EQ(ref.code, 0) << ref.output;
  for (int step : {3, 6, 9}) {  // mid-epoch, and 9 right after the epoch end at 8
    const std::string cut = dir / ("cut" + std::to_string(step) + ".h5");
    auto c = python(cut_after(dir / "ref.h5", cut, step));
    ASSERT_EQ(c.code, 0) << c.output;
    auto r = bnl("train --resume " + cut + " --quiet");
    ASSERT_EQ(r.code, 0) << "step " << step << ": " << r.output;
    auto py = python(same_run(dir / "ref.h5", cut));
    EXPECT_EQ(py.code, 0) << "step " << step << ": " << py.output;
  }
}

TEST(ResumeCli, ProbeContinuesWithItsSolverState) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  TempDir dir;
  const std::string args = "probe" + kSmall + " --bn custom --checkpoint-every 5 --step-interval 3 --top-k 2";
  auto ref = bnl(args + " --out " + dir / "ref.h5");
  ASSERT_EQ(ref.code, 0) << ref.output;
  auto c = python(cut_after(dir / "ref.h5", dir / "cut.h5", 10));
  ASSERT_EQ(c.code, 0) << c.output;
  auto r = bnl("probe --resume " + dir / "cut.h5");
  ASSERT_EQ(r.code, 0) << r.output;
  auto py = python(same_run(dir / "ref.h5", dir / "cut.h5"));
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST(ResumeCli, AfterSigtermAndAfterKillNine) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  TempDir dir;
  const std::string args =
      "train --dataset fashion-mnist --test-subset 500 --epochs 1 --bn custom"
      " --checkpoint-every 10 --quiet";
  auto ref = bnl(args + " --out " + dir / "ref.h5");
  ASSERT_EQ(ref.code, 0) << ref.output;
  for (int sig : {SIGTERM, SIGKILL}) {
    const std::string out = dir / ("killed" + std::to_string(sig) + ".h5");
    // The signal must land after the first checkpoint and before the run's 469 steps end; how
    // long that takes depends on the machine's load, so a kill that came before any checkpoint
    // is repeated with twice the delay rather than counted as a failure.
    int code = 0;
    std::string status;
    for (int delay_ms = 1200;; delay_ms *= 2) {
      std::filesystem::remove(out);
      std::filesystem::remove(out + ".lock");
      const pid_t pid = spawn(args + " --out " + out);
      // The file appears once the data is loaded.
      for (int i = 0; i < 600 && !std::filesystem::exists(out); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      kill(pid, sig);
      code = wait_exit(pid);
      status = python("import h5py\nf = h5py.File('" + out +
                      "', 'r')\nprint(f.attrs['status'], 'checkpoints', len(f['checkpoints']) if 'checkpoints' in f else 0)\n")
                   .output;
      if (status.find("complete") != std::string::npos) {
        GTEST_SKIP() << "the run finished before the signal (machine too fast for this timing)";
      }
      // An unreadable file (killed before its first flush) counts as having none.
      const bool has_checkpoint = status.find("checkpoints ") != std::string::npos &&
                                  status.find("checkpoints 0") == std::string::npos;
      if (has_checkpoint || delay_ms >= 19200) break;
    }
    EXPECT_EQ(code, sig == SIGTERM ? 143 : 128 + SIGKILL);
    EXPECT_NE(status.find(sig == SIGTERM ? "interrupted" : "running"), std::string::npos) << status;
    std::filesystem::remove(out + ".lock");  // kill -9 leaves it; its holder is dead (stale)
    auto r = bnl("train --resume " + out);
    ASSERT_EQ(r.code, 0) << r.output;
    auto py = python(same_run(dir / "ref.h5", out));
    EXPECT_EQ(py.code, 0) << "signal " << sig << ": " << py.output;
  }
}

TEST(ResumeCli, ADefaultRunKilledAfterItsFirstEpochResumes) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  TempDir dir;
  // No --checkpoint-every: the default checkpoints every epoch (about 0.3 s of training here).
  const std::string args = "train --dataset fashion-mnist --train-subset 20000 --test-subset 500 --epochs 6 --quiet";
  auto ref = bnl(args + " --out " + dir / "ref.h5");
  ASSERT_EQ(ref.code, 0) << ref.output;
  const std::string out = dir / "killed.h5";
  std::string status;
  int code = 0;
  for (int delay_ms = 600;; delay_ms *= 2) {
    std::filesystem::remove(out);
    std::filesystem::remove(out + ".lock");
    const pid_t pid = spawn(args + " --out " + out);
    for (int i = 0; i < 600 && !std::filesystem::exists(out); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(pid, SIGKILL);
    code = wait_exit(pid);
    status = python("import h5py\nf = h5py.File('" + out +
                    "', 'r')\nprint(f.attrs['status'], 'checkpoints', len(f['checkpoints']) if 'checkpoints' in f else 0)\n")
                 .output;
    if (status.find("complete") != std::string::npos) GTEST_SKIP() << "the run finished before the kill";
    const bool has_checkpoint =
        status.find("checkpoints ") != std::string::npos && status.find("checkpoints 0") == std::string::npos;
    if (has_checkpoint || delay_ms >= 19200) break;
  }
  EXPECT_EQ(code, 128 + SIGKILL);
  ASSERT_NE(status.find("running"), std::string::npos) << status;
  ASSERT_EQ(status.find("checkpoints 0"), std::string::npos) << status;
  std::filesystem::remove(out + ".lock");
  auto r = bnl("train --resume " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  auto py = python(same_run(dir / "ref.h5", out));
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST(ResumeCli, CheckpointsChangeNoNumber) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  TempDir dir;
  // A checkpoint after every step (the wall-time bound below any step's time) against none but
  // the end's: probes, momentum and noise see the same numbers.
  const std::string args = "probe" + kSmall + " --bn custom --momentum 0.9 --bn-noise --step-interval 4 --top-k 2";
  auto none = bnl(args + " --checkpoint-every 0 --out " + dir / "none.h5");
  ASSERT_EQ(none.code, 0) << none.output;
  auto all = bnl(args + " --checkpoint-minutes 1e-9 --out " + dir / "all.h5");
  ASSERT_EQ(all.code, 0) << all.output;
  auto py = python(same_run(dir / "none.h5", dir / "all.h5") + "assert len(fb['checkpoints']) == 16, list(fb['checkpoints'])\n");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST(ResumeCli, MoreEpochsContinueAsTheLongerRunWould) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  TempDir dir;
  // 8 steps an epoch: the 2-epoch runs end at step 15 and probe it for being the last, off the
  // grid of 4, which the 3-epoch run does not; momentum and noise carry state across.
  const std::string train = "train" + kSmall + " --bn custom --momentum 0.9 --bn-noise --eval-every 5";
  const std::string probe = "probe" + kSmall + " --bn custom --step-interval 4 --top-k 2";
  for (const std::string& args : {train, probe}) {
    const std::string cmd = args.substr(0, 5);
    auto ref = bnl(args + " --epochs 3 --out " + dir / (cmd + "3.h5"));
    ASSERT_EQ(ref.code, 0) << ref.output;
    auto two = bnl(args + " --out " + dir / (cmd + "2.h5"));
    ASSERT_EQ(two.code, 0) << two.output;
    auto more = bnl(cmd + " --resume " + dir / (cmd + "2.h5") + " --epochs 3");
    ASSERT_EQ(more.code, 0) << more.output;
    auto py = python(same_run(dir / (cmd + "3.h5"), dir / (cmd + "2.h5")) +
                     "import tomllib\nassert tomllib.loads(fb.attrs['config_toml'])['epochs'] == 3\n");
    EXPECT_EQ(py.code, 0) << cmd << ": " << py.output;
  }
}

TEST(ResumeCli, RefusesChangesButALargerEpochs) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  TempDir dir;
  const std::string f = dir / "run.h5";
  auto ref = bnl("train" + kSmall + " --out " + f);
  ASSERT_EQ(ref.code, 0) << ref.output;
  auto lr = bnl("train --resume " + f + " --epochs 3 --lr 0.2 --momentum 0.5");
  EXPECT_EQ(lr.code, 2);
  EXPECT_NE(lr.output.find("--resume " + f + ": cannot change --lr (0.1 in the run file, 0.2 given), --momentum "
                           "(0.0 in the run file, 0.5 given); only --epochs may grow"),
            std::string::npos)
      << lr.output;
  auto fewer = bnl("train --resume " + f + " --epochs 1");
  EXPECT_EQ(fewer.code, 2);
  EXPECT_NE(fewer.output.find("cannot change --epochs (2 in the run file, 1 given)"), std::string::npos) << fewer.output;
  auto same = bnl("train --resume " + f + " --epochs 2 --lr 0.1");
  EXPECT_EQ(same.code, 2);
  EXPECT_NE(same.output.find("already complete; nothing to continue (--epochs N above 2"), std::string::npos)
      << same.output;
  auto out = bnl("train --resume " + f + " --epochs 3 --out " + dir / "other.h5");
  EXPECT_EQ(out.code, 2);
  EXPECT_NE(out.output.find("cannot change --out"), std::string::npos) << out.output;
  auto config = bnl("train --resume " + f + " --config " + f);
  EXPECT_EQ(config.code, 2);
  EXPECT_NE(config.output.find("got --config"), std::string::npos) << config.output;
  auto probe = bnl("probe --resume " + f + " --epochs 3");
  EXPECT_EQ(probe.code, 2) << probe.output;
  EXPECT_NE(probe.output.find("expected an online probe run file, got a train run file (continue it with bnlandscape "
                              "train --resume " + f + ")"),
            std::string::npos)
      << probe.output;
  // Nothing of the refused requests reached the file.
  auto py = python("import h5py\nf = h5py.File('" + f + "', 'r')\nprint(f.attrs['status'], len(f['train/epochs/epoch']))\n");
  EXPECT_NE(py.output.find("complete 2"), std::string::npos) << py.output;
}

TEST(ResumeCli, RefusesFinishedRunsAndOtherOptions) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  TempDir dir;
  auto ref = bnl("train" + kSmall + " --out " + dir / "done.h5");
  ASSERT_EQ(ref.code, 0) << ref.output;
  auto done = bnl("train --resume " + dir / "done.h5");
  EXPECT_EQ(done.code, 2);
  EXPECT_NE(done.output.find("already complete"), std::string::npos) << done.output;
  auto other = bnl("train --resume " + dir / "done.h5" + " --lr 0.5");
  EXPECT_EQ(other.code, 2);
  EXPECT_NE(other.output.find("--lr"), std::string::npos) << other.output;
  auto missing = bnl("train --resume " + dir / "nope.h5");
  EXPECT_EQ(missing.code, 2) << missing.output;
}
