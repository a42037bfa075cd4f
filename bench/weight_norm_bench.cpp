// The cost of /train/steps/layer_weight_norm (issue 24, section 2) in the training step of the
// study's Fashion-MNIST MLP (784-512-256-128-10, our BN or none, batch 128, float32, the fused
// step, (1, threads) threads as the trainer runs): per step, FusedMlpStep::forward_backward plus
// the per-layer gradient norms (what every step computed before) and the same plus the per-layer
// weight norms (squared_norm of every parameter, as Trainer::compute_grad_norms now does) and
// the plain SGD update. The two variants alternate step by step (A B A B ...), so that a shared
// machine's load falls on both alike; medians over --steps steps each.
//
// Usage: weight_norm_bench [--bn custom|none] [--steps 400] [--threads 2]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/factory.h"
#include "bnlandscape/train/fused_mlp_step.h"
#include "bnlandscape/train/process_tuning.h"
#include "bnlandscape/train/sgd_step.h"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string bn = "custom";
  long steps = 400, threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--bn") bn = argv[i + 1];
    else if (k == "--steps") steps = std::stol(argv[i + 1]);
    else if (k == "--threads") threads = std::stol(argv[i + 1]);
  }
  bnl::train::configure_threads(threads);
  bnl::train::configure_allocator();
  torch::manual_seed(0);
  bnl::models::ModelSpec spec;
  spec.norm.kind = bn == "none" ? bnl::models::NormKind::None : bnl::models::NormKind::Custom;
  auto model = bnl::models::make_model(spec);
  model->train();
  bnl::train::FusedMlpStep step(*model);
  const auto params = model->parameters();
  const auto x = torch::randn({128, 1, 28, 28});
  const auto y = torch::randint(0, 10, {128}, torch::kInt64);
  std::vector<double> without, with, norms_only;
  double sink = 0;
  for (long s = 0; s < 2 * steps + 20; ++s) {
    const bool weights = s % 2 == 1;
    const auto t0 = Clock::now();
    step.forward_backward(x, y);
    for (const auto& p : params) sink += bnl::train::squared_norm(p.grad());
    const auto t1 = Clock::now();
    if (weights)
      for (const auto& p : params) sink += bnl::train::squared_norm(p);
    const auto t2 = Clock::now();
    // A tiny step keeps the weights (and the timings) where they are.
    bnl::train::plain_sgd_update(params, 1e-6);
    const auto t3 = Clock::now();
    if (s < 20) continue;  // warm-up
    const double total = std::chrono::duration<double>(t3 - t0).count();
    (weights ? with : without).push_back(total);
    if (weights) norms_only.push_back(std::chrono::duration<double>(t2 - t1).count());
  }
  const double a = median(without), b = median(with), c = median(norms_only);
  std::printf("bn %s, threads (1, %ld), %ld steps each, alternating: step without weight norms %.3f ms, with %.3f ms "
              "(ratio %.4f); the weight norms alone %.1f us (%.2f%% of a step)  [%g]\n",
              bn.c_str(), threads, steps, 1e3 * a, 1e3 * b, b / a, 1e6 * c, 100.0 * c / a, sink > 0 ? 1.0 : 0.0);
  return 0;
}
