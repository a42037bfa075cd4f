// Probes split across processes: `launch --nproc 2 -- probe ...` gives the single-process
// numbers (float64: 1e-8 relative), only rank 0 writes, and a rank without its peers fails
// within --dist-timeout instead of hanging.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli_test_util.h"

using namespace bnl_test;

namespace {

const std::string kTrain = " --dataset fashion-mnist --train-subset 1024 --test-subset 200 --hidden-dims 64,32 --bn custom";

/// Python asserting that /probes/eigvals, loss and beta_smoothness of a and b agree to `tol`
/// (relative), that the eigenvalues are not trivial, and that b says it used two ranks.
std::string same_probes(const std::string& a, const std::string& b, const std::string& tol) {
  return R"(
import h5py, numpy as np
pa, pb = h5py.File(")" + a + R"(", "r")["probes"], h5py.File(")" + b + R"(", "r")["probes"]
assert pb.attrs["world_size"] == 2 and pa.attrs["world_size"] == 1
for k in ("eigvals", "loss", "beta_smoothness", "grad_pred", "trace"):
    x, y = pa[k][()], pb[k][()]
    assert x.shape == y.shape, (k, x.shape, y.shape)
    assert np.allclose(x, y, rtol=)" + tol + R"(, atol=)" + tol + R"(, equal_nan=True), (k, x.ravel()[:3], y.ravel()[:3])
assert np.all(pa["eigvals"][()] > 1), pa["eigvals"][()]
assert np.all(pb["allreduce_seconds"][()] > 0)
print("rows", pa["step"].shape[0])
)";
}

/// A loopback port nobody listens on (bound to 0, released).
int unused_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

std::size_t h5_files(const TempDir& dir) {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path)) n += e.path().extension() == ".h5";
  return n;
}

}  // namespace

TEST(LaunchCli, OfflineProbeOnTwoRanksEqualsOneProcess) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  TempDir dir;
  auto t = bnl("train" + kTrain + " --epochs 1 --checkpoint-every 8 --quiet --out " + dir / "ck.h5");
  ASSERT_EQ(t.code, 0) << t.output;
  const std::string probe = "probe --checkpoint " + dir / "ck.h5" +
                            " --checkpoint-group /checkpoints/step_0000008 --probe-batch fixed --probe-size 512"
                            " --probe-microbatch 128 --probe-dtype float64 --tol 1e-10 --top-k 2 --trace-samples 3"
                            " --quiet --out ";
  ASSERT_NO_FATAL_FAILURE(run_on_one_and_two_ranks(probe, dir / "one.h5", dir / "two.h5"));
  EXPECT_EQ(h5_files(dir), 3u);  // ck, one, two: rank 1 wrote nothing
  auto py = python(same_probes(dir / "one.h5", dir / "two.h5", "1e-8"));
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST(LaunchCli, OnlineProbesWithReplicatedTrainingEqualOneProcess) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  TempDir dir;
  const std::string probe = "probe" + kTrain +
                            " --epochs 1 --probe-batch fixed --probe-size 256 --probe-microbatch 64"
                            " --probe-dtype float64 --tol 1e-10 --step-interval 4 --quiet --out ";
  // Probes beside training would give the one process's training half the threads (ranks
  // never overlap), and the MLP's BLAS products round differently with another thread count.
  ASSERT_NO_FATAL_FAILURE(run_on_one_and_two_ranks(probe, dir / "one.h5 --overlap=false", dir / "two.h5"));
  EXPECT_EQ(h5_files(dir), 2u);
  auto py = python(same_probes(dir / "one.h5", dir / "two.h5", "1e-8") + R"(
a, b = h5py.File(")" + dir / "one.h5" + R"(", "r"), h5py.File(")" + dir / "two.h5" + R"(", "r")
assert a["probes/step"].shape[0] >= 3
assert np.array_equal(a["train/steps/loss"][()], b["train/steps/loss"][()])
)");
  EXPECT_EQ(py.code, 0) << py.output;
}

TEST(LaunchCli, ARankWithoutItsPeerFailsWithinTheTimeout) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  TempDir dir;
  const std::string probe = " probe" + kTrain +
                            " --epochs 1 --probe-batch fixed --probe-size 256 --probe-microbatch 64 --dist-timeout 3 --out ";
  for (int rank : {0, 1}) {
    const std::string env = "RANK=" + std::to_string(rank) + " WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" +
                            std::to_string(unused_port()) + " ";
    const auto t0 = std::chrono::steady_clock::now();
    auto r = sh(env + BNL_BINARY + probe + dir / ("alone" + std::to_string(rank) + ".h5"));
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_NE(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("could not reach the other ranks"), std::string::npos) << r.output;
    // Data loading, then at most a few timeouts' worth of rendezvous: never a hang.
    EXPECT_LT(s, 60.0) << r.output;
  }
  EXPECT_EQ(h5_files(dir), 0u);
  // One rank failing (rank 0 refuses to overwrite) ends the other at once through launch.
  auto ok = bnl("train" + kTrain + " --epochs 1 --quiet --out " + dir / "exists.h5");
  ASSERT_EQ(ok.code, 0) << ok.output;
  auto r = bnl("launch --nproc 2 --" + probe + dir / "exists.h5");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("file exists"), std::string::npos) << r.output;
}

TEST(LaunchCli, BadSplitsAndCommandsAreRefused) {
  auto r = bnl("launch --nproc 2 -- train --epochs 1");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("only probe"), std::string::npos) << r.output;
  // 512 / 128 = 4 micro-batches cannot be shared by 3 ranks; each rank says so before connecting.
  auto s = bnl("launch --nproc 3 -- probe --probe-batch fixed --probe-size 512 --probe-microbatch 128 --out /tmp/x.h5");
  EXPECT_EQ(s.code, 2) << s.output;
  EXPECT_NE(s.output.find("multiple of the 3 ranks"), std::string::npos) << s.output;
  EXPECT_FALSE(std::filesystem::exists("/tmp/x.h5"));
}
