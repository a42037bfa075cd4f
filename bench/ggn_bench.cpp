// Gauss-Newton products against Hessian products on the study's Fashion-MNIST MLP
// (784-512-256-128-10, our BatchNorm in training mode or none, float32, CPU), probe set of the
// first --probe-size training examples of a checkpoint (issue 24, section 5):
//   products   (a) one product of H and of G, each by the hand-written passes (MlpCurvature:
//              hvp, gvp through MlpGgnOperator) and by autograd (HessianOperator's double
//              backward; GgnOperator; HessianOperator on ggn_surrogate_loss), and the top-5 by
//              lanczos_eigs (tol 1e-3, default ncv) on H and G of both engines; (b) one product of
//              ScaledOperator (D A D, `layer` scaling on the scale-invariant blocks, and
//              `adaptive` d = |w|) against the unscaled operator, for H and G. Every repetition
//              runs every variant once, in the same order (A B C ... A B C ...), so that the
//              load of a shared machine falls on all alike; medians are printed.
//   scaling    the scaled operators' extra work alone (d * x, d * y) against one product.
//   peer       the top-5 of G by lanczos_eigs and the SLQ density of G (K runs of M steps), the
//              hand-written G through HessianOperator (MlpCurvature::Product::GaussNewton);
//              prints one JSON line (bench/ggn_bench.py alternates it with the Python peer).
//
// Usage: ggn_bench products|scaling|peer --checkpoint FILE --group GROUP [--bn custom|none]
//            [--probe-size 1024] [--reps 5] [--threads 2] [--runs 8] [--steps 80] [--seed 0]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <torch/nn/functional/loss.h>
#include <torch/torch.h>

#include "bnlandscape/data/batches.h"
#include "bnlandscape/data/dataset.h"
#include "bnlandscape/io/checkpoint.h"
#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/factory.h"
#include "bnlandscape/models/norm_spec.h"
#include "bnlandscape/probes/density.h"
#include "bnlandscape/probes/flat_params.h"
#include "bnlandscape/probes/ggn_operator.h"
#include "bnlandscape/probes/hessian_operator.h"
#include "bnlandscape/probes/mlp_curvature.h"
#include "bnlandscape/probes/mlp_ggn_operator.h"
#include "bnlandscape/probes/scaled_operator.h"
#include "bnlandscape/probes/spectrum.h"
#include "bnlandscape/train/process_tuning.h"

namespace {

using namespace bnl;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Process CPU seconds (all threads) since `c0`.
double cpu_since(std::clock_t c0) { return static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC; }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Args {
  std::string mode, checkpoint, group, bn = "custom";
  std::int64_t probe_size = 1024, reps = 5, threads = 2, runs = 8, steps = 80, seed = 0;
};

Args parse(int argc, char** argv) {
  Args a;
  if (argc < 2) {
    std::fprintf(stderr, "usage: ggn_bench products|peer --checkpoint FILE --group GROUP [...]\n");
    std::exit(2);
  }
  a.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--checkpoint") a.checkpoint = v;
    else if (k == "--group") a.group = v;
    else if (k == "--bn") a.bn = v;
    else if (k == "--probe-size") a.probe_size = std::stoll(v);
    else if (k == "--reps") a.reps = std::stoll(v);
    else if (k == "--threads") a.threads = std::stoll(v);
    else if (k == "--runs") a.runs = std::stoll(v);
    else if (k == "--steps") a.steps = std::stoll(v);
    else if (k == "--seed") a.seed = std::stoll(v);
    else {
      std::fprintf(stderr, "ggn_bench: unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

/// The checkpoint's MLP in training mode (batch statistics, running statistics frozen) and the
/// probe set: the first `n` training examples in file order, normalised as in training.
struct Problem {
  std::shared_ptr<models::Classifier> model;
  std::vector<torch::Tensor> params;
  torch::Tensor x, y;
};

Problem load(const Args& a) {
  models::ModelSpec spec;
  spec.norm.kind = a.bn == "none" ? models::NormKind::None : models::NormKind::Custom;
  Problem p;
  p.model = models::make_model(spec);
  std::map<std::string, torch::Tensor> state;
  for (auto& [name, t] : io::read_tensor_group(a.checkpoint, a.group)) state[name] = t;
  {
    torch::NoGradGuard no_grad;
    for (auto& item : p.model->named_parameters()) item.value().copy_(state.at(item.key()));
    for (auto& item : p.model->named_buffers())
      if (state.count(item.key())) item.value().copy_(state.at(item.key()));
  }
  models::set_running_stats_updates(*p.model, false);
  p.model->train();
  p.params = p.model->parameters();
  const auto data = data::load_dataset("fashion-mnist", "");
  std::vector<std::int64_t> idx(static_cast<std::size_t>(a.probe_size));
  std::iota(idx.begin(), idx.end(), 0);
  p.x = data::gather_images(data.train, data.norm, idx.data(), a.probe_size);
  p.y = data::gather_labels(data.train, idx.data(), a.probe_size);
  return p;
}

probes::LossFn autograd_loss(const Problem& p) {
  return [p] { return torch::nn::functional::cross_entropy(p.model->forward(p.x), p.y); };
}

std::vector<probes::LogitsFn> logits(const Problem& p) {
  return {[p] { return p.model->forward(p.x); }};
}

/// Seconds of one perform_op of `op` on a fixed random vector.
template <class Op>
double product_seconds(const Op& op, const Eigen::VectorXd& v, int count) {
  Eigen::VectorXd out(v.size());
  const auto t0 = Clock::now();
  for (int i = 0; i < count; ++i) op.perform_op(v.data(), out.data());
  return seconds_since(t0) / count;
}

void products(const Args& a) {
  const Problem p = load(a);
  auto curv_h = std::make_shared<probes::MlpCurvature>(*p.model, p.params, p.x, p.y, 0);
  auto curv_g = std::make_shared<probes::MlpCurvature>(*p.model, p.params, p.x, p.y, 0, true,
                                                       probes::MlpCurvature::Product::GaussNewton);
  const probes::HessianOperator h_hand(p.params, {}, {}, curv_h), g_hand(p.params, {}, {}, curv_g);
  const probes::MlpGgnOperator g_hand_op(p.params, curv_h);
  const probes::HessianOperator h_auto(p.params, autograd_loss(p));
  const probes::GgnOperator g_auto(p.params, logits(p));
  const probes::HessianOperator g_surrogate(p.params, probes::ggn_surrogate_loss(logits(p)));
  const auto blocks = probes::scale_invariant_blocks(*p.model);
  const Eigen::VectorXd d_layer = probes::layer_scaling(p.params, blocks), d_adapt = probes::adaptive_scaling(p.params);
  const probes::ScaledOperator<probes::HessianOperator> h_layer(h_hand, d_layer), h_adapt(h_hand, d_adapt),
      g_layer(g_hand, d_layer);
  const probes::ScaledOperator<probes::MlpGgnOperator> g_op_adapt(g_hand_op, d_adapt);
  torch::manual_seed(1);
  const Eigen::VectorXd v = probes::to_eigen(torch::randn({h_hand.rows()}, torch::kDouble));

  using Timed = std::pair<std::string, std::function<double()>>;
  const int n = 5;  // products per timing
  // Each scaled operator right after the operator it wraps, so that they see the same load.
  std::vector<Timed> prod{
      {"H, hand-written (HessianOperator + MlpCurvature)", [&] { return product_seconds(h_hand, v, n); }},
      {"D H D layer, hand-written", [&] { return product_seconds(h_layer, v, n); }},
      {"D H D adaptive, hand-written", [&] { return product_seconds(h_adapt, v, n); }},
      {"G, hand-written (HessianOperator + MlpCurvature, GaussNewton)", [&] { return product_seconds(g_hand, v, n); }},
      {"D G D layer, hand-written (HessianOperator, GaussNewton)", [&] { return product_seconds(g_layer, v, n); }},
      {"G, hand-written (MlpGgnOperator)", [&] { return product_seconds(g_hand_op, v, n); }},
      {"D G D adaptive, hand-written (MlpGgnOperator)", [&] { return product_seconds(g_op_adapt, v, n); }},
      {"H, autograd (HessianOperator, double backward)", [&] { return product_seconds(h_auto, v, n); }},
      {"G, autograd (GgnOperator)", [&] { return product_seconds(g_auto, v, n); }},
      {"G, autograd (HessianOperator + ggn_surrogate_loss)", [&] { return product_seconds(g_surrogate, v, n); }},
  };
  probes::LanczosOptions opt;
  opt.k = 5;
  std::map<std::string, probes::EigenResult> eig;
  auto lanczos = [&](const std::string& name, const probes::HessianOperator& op) {
    return [&, name] {
      const auto t0 = Clock::now();
      eig[name] = probes::lanczos_eigs(op, opt);
      return seconds_since(t0);
    };
  };
  std::vector<Timed> top{
      {"top-5 H, hand-written", lanczos("top-5 H, hand-written", h_hand)},
      {"top-5 G, hand-written", lanczos("top-5 G, hand-written", g_hand)},
      {"top-5 H, autograd", lanczos("top-5 H, autograd", h_auto)},
      {"top-5 G, autograd (ggn_surrogate_loss)", lanczos("top-5 G, autograd (ggn_surrogate_loss)", g_surrogate)},
  };
  std::map<std::string, std::vector<double>> t;
  for (const auto& [name, f] : prod) f();  // warm-up
  for (std::int64_t r = 0; r < a.reps; ++r) {
    for (const auto& [name, f] : prod) t[name].push_back(f());
    for (const auto& [name, f] : top) t[name].push_back(f());
    std::fprintf(stderr, "rep %lld done\n", static_cast<long long>(r));
  }
  std::printf("P = %lld, probe set %lld, bn %s, threads %lld, reps %lld (medians; each product timed over %d)\n\n",
              static_cast<long long>(h_hand.rows()), static_cast<long long>(a.probe_size), a.bn.c_str(),
              static_cast<long long>(a.threads), static_cast<long long>(a.reps), n);
  std::printf("| variant | ms (median) | vs H hand-written |\n| --- | ---: | ---: |\n");
  const double base = median(t[prod[0].first]);
  for (const auto& [name, f] : prod)
    std::printf("| %s | %.2f | %.3f |\n", name.c_str(), 1e3 * median(t[name]), median(t[name]) / base);
  std::printf("\n| top-5 by lanczos_eigs (tol 1e-3) | s (median) | products | eigenvalues |\n| --- | ---: | ---: | --- |\n");
  for (const auto& [name, f] : top) {
    const auto& e = eig[name];
    std::string vals;
    for (double x : e.eigenvalues) vals += (vals.empty() ? "" : ", ") + std::to_string(x);
    std::printf("| %s | %.3f | %lld | %s |\n", name.c_str(), median(t[name]), static_cast<long long>(e.hvp_count),
                vals.c_str());
  }
  // Ratios as medians over the repetitions of the per-repetition ratio (the two sides of a
  // ratio ran back to back), next to the ratio of the medians.
  auto ratio = [&](const std::string& num, const std::string& den) {
    std::vector<double> r;
    for (std::size_t i = 0; i < t[num].size(); ++i) r.push_back(t[num][i] / t[den][i]);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.3f (of medians %.3f)", median(r), median(t[num]) / median(t[den]));
    return std::string(buf);
  };
  const auto name = [&](std::size_t i) { return prod[i].first; };
  std::printf("\nRatios, median of per-repetition ratios:\n\n");
  std::printf("- G / H product, hand-written: %s; MlpGgnOperator / H: %s\n", ratio(name(3), name(0)).c_str(),
              ratio(name(5), name(0)).c_str());
  std::printf("- G / H product, autograd: GgnOperator %s, ggn_surrogate_loss %s\n", ratio(name(8), name(7)).c_str(),
              ratio(name(9), name(7)).c_str());
  std::printf("- hand-written / autograd: H %s, G %s\n", ratio(name(0), name(7)).c_str(), ratio(name(3), name(8)).c_str());
  std::printf("- top-5 G / H, hand-written: %s; autograd: %s\n", ratio(top[1].first, top[0].first).c_str(),
              ratio(top[3].first, top[2].first).c_str());
  std::printf("- scaled / unscaled product: D H D layer %s, D H D adaptive %s, D G D layer %s, D G D adaptive %s\n",
              ratio(name(1), name(0)).c_str(), ratio(name(2), name(0)).c_str(), ratio(name(4), name(3)).c_str(),
              ratio(name(6), name(5)).c_str());
}

/// Scaled operators' overhead on its own: per repetition, one product of H and of G (hand-written),
/// the same through ScaledOperator (layer scaling), and the scaling work of one product alone
/// (d * x and d * y on P doubles, 20 times), back to back.
void scaling(const Args& a) {
  const Problem p = load(a);
  auto curv_h = std::make_shared<probes::MlpCurvature>(*p.model, p.params, p.x, p.y, 0);
  const probes::HessianOperator h(p.params, {}, {}, curv_h);
  const probes::MlpGgnOperator g(p.params, curv_h);
  const Eigen::VectorXd d = probes::layer_scaling(p.params, probes::scale_invariant_blocks(*p.model));
  const probes::ScaledOperator<probes::HessianOperator> dhd(h, d);
  const probes::ScaledOperator<probes::MlpGgnOperator> dgd(g, d);
  torch::manual_seed(1);
  const Eigen::VectorXd v = probes::to_eigen(torch::randn({h.rows()}, torch::kDouble));
  std::vector<double> th, tdhd, tg, tdgd, tw;
  Eigen::VectorXd dx(v.size()), y = v;
  for (std::int64_t r = 0; r < a.reps; ++r) {
    th.push_back(product_seconds(h, v, 2));
    tdhd.push_back(product_seconds(dhd, v, 2));
    tg.push_back(product_seconds(g, v, 2));
    tdgd.push_back(product_seconds(dgd, v, 2));
    const auto t0 = Clock::now();
    for (int i = 0; i < 20; ++i) {
      dx = d.cwiseProduct(v);
      y.array() *= d.array();
    }
    tw.push_back(seconds_since(t0) / 20 + 0 * dx[0]);
  }
  std::printf("scaling work alone %.3f ms per product; H %.1f ms, D H D %.1f ms (ratio %.3f); G %.1f ms, D G D %.1f ms "
              "(ratio %.3f); scaling work / H product %.4f, / G product %.4f  [%g]\n",
              1e3 * median(tw), 1e3 * median(th), 1e3 * median(tdhd), median(tdhd) / median(th), 1e3 * median(tg),
              1e3 * median(tdgd), median(tdgd) / median(tg), median(tw) / median(th), median(tw) / median(tg), y[0]);
}

void peer(const Args& a) {
  const Problem p = load(a);
  const auto t_setup = Clock::now();
  auto curv_g = std::make_shared<probes::MlpCurvature>(*p.model, p.params, p.x, p.y, 0, true,
                                                       probes::MlpCurvature::Product::GaussNewton);
  const probes::HessianOperator g(p.params, {}, {}, curv_g);
  const double setup = seconds_since(t_setup);
  probes::LanczosOptions opt;
  opt.k = 5;
  opt.seed = static_cast<std::uint64_t>(a.seed);
  auto t0 = Clock::now();
  auto c0 = std::clock();
  const auto top = probes::lanczos_eigs(g, opt);
  const double top_s = seconds_since(t0), top_cpu = cpu_since(c0);
  probes::DensityOptions dopt;
  dopt.runs = static_cast<int>(a.runs);
  dopt.steps = static_cast<int>(a.steps);
  dopt.seed = static_cast<std::uint64_t>(a.seed);
  t0 = Clock::now();
  c0 = std::clock();
  const auto dens = probes::slq_density(g, dopt);
  const double slq_s = seconds_since(t0), slq_cpu = cpu_since(c0);
  double trace = 0;
  for (double x : probes::slq_trace_estimates(dens, 1)) trace += x / dens.runs;
  std::printf("{\"setup\": %.6f, \"top5\": %.6f, \"top5_cpu\": %.6f, \"top5_products\": %lld, \"slq\": %.6f, "
              "\"slq_cpu\": %.6f, \"slq_products\": %lld, "
              "\"loss\": %.8f, \"eigvals\": [%.8g, %.8g, %.8g, %.8g, %.8g], \"trace\": %.8g, \"converged\": %s}\n",
              setup, top_s, top_cpu, static_cast<long long>(top.hvp_count), slq_s, slq_cpu,
              static_cast<long long>(dens.hvp_count),
              g.loss(), top.eigenvalues[0], top.eigenvalues[1], top.eigenvalues[2], top.eigenvalues[3],
              top.eigenvalues[4], trace, top.converged ? "true" : "false");
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  train::configure_threads(a.threads);
  train::configure_allocator();
  if (a.mode == "products") products(a);
  else if (a.mode == "peer") peer(a);
  else if (a.mode == "scaling") scaling(a);
  else {
    std::fprintf(stderr, "ggn_bench: unknown mode %s\n", a.mode.c_str());
    return 2;
  }
  return 0;
}
