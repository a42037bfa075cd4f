// Communicator::sum, which `surface` uses to broadcast directions and gather grid cells: a
// tensor that is zero on every rank but one arrives bit for bit, for three ranks, where
// average() times the world size would round (x / 3 * 3 != x for most doubles).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <thread>

#include <torch/torch.h>

#include "bnlandscape/dist/communicator.h"

using namespace bnl;

TEST(CommunicatorSum, ZeroFilledSharesArriveBitForBit) {
  constexpr int kWorld = 3;
  char tmpl[] = "/tmp/bnl_dist_sum_XXXXXX";
  const std::filesystem::path dir = mkdtemp(tmpl);
  // Values that x / 3 * 3 would not give back, and a NaN (a cell whose loss was not finite).
  auto want = torch::tensor({0.1, 1.0 / 3.0, 2.0 / 7.0, std::numeric_limits<double>::quiet_NaN(), 1e-300, 12345.678},
                            torch::kDouble);
  std::vector<torch::Tensor> got(kWorld), averaged(kWorld);
  std::vector<std::exception_ptr> errors(kWorld);
  std::vector<std::thread> threads;
  for (int r = 0; r < kWorld; ++r) {
    threads.emplace_back([&, r] {
      try {
        auto comm = dist::Communicator::connect_file((dir / "store").string(), r, kWorld, std::chrono::seconds(60));
        // Rank r owns entries r, r + 3, ... (as surface's round-robin cells).
        auto mine = torch::zeros_like(want);
        for (std::int64_t i = r; i < want.numel(); i += kWorld) mine[i] = want[i];
        comm->sum(mine);
        got[r] = mine;
        auto a = mine.clone();
        comm->average(a);
        averaged[r] = a;
        EXPECT_EQ(comm->allreduce_count(), 2);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::filesystem::remove_all(dir);
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  for (int r = 0; r < kWorld; ++r) {
    EXPECT_TRUE(torch::equal(got[r].view(torch::kLong), want.view(torch::kLong))) << r << ": " << got[r];
    // average of three equal tensors is the tensor (to rounding).
    EXPECT_TRUE(torch::allclose(averaged[r], want, 1e-15, 0, /*equal_nan=*/true)) << r;
  }
}
