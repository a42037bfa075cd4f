#include "bnlandscape/record/probe_run.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <vector>

#include "bnlandscape/data/batches.h"
#include "bnlandscape/dist/communicator.h"

namespace bnl::record {
namespace {

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> fixed_probe_set(const data::Dataset& d, std::int64_t n) {
  if (n > d.train.n)
    throw train::ConfigError("--probe-size = " + std::to_string(n) + ": expected at most the " +
                             std::to_string(d.train.n) + " training examples");
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  return {data::gather_images(d.train, d.norm, idx.data(), n), data::gather_labels(d.train, idx.data(), n)};
}

probes::ProbeContext probe_context(const train::TrainConfig& cfg) {
  return {cfg.lr, cfg.momentum, cfg.optimizer, cfg.seed};
}

probes::ProbeShard shard_of(dist::Communicator* comm) {
  probes::ProbeShard shard;
  if (!comm) return shard;
  shard.rank = comm->rank();
  shard.world_size = comm->world_size();
  shard.average = [comm](torch::Tensor& t) { comm->average(t); };
  return shard;
}

probes::ProbeRecord measure_timed(probes::LandscapeProbe& probe, dist::Communicator* comm, std::int64_t step,
                                  const models::Classifier& model, const torch::Tensor& x, const torch::Tensor& y) {
  const double before = comm ? comm->allreduce_seconds() : 0.0;
  auto r = probe.measure(step, model, x, y);
  if (comm) r.allreduce_seconds = comm->allreduce_seconds() - before;
  return r;
}

std::string probe_line(const probes::ProbeRecord& r, const dist::Communicator* comm) {
  std::string s = "probe step " + std::to_string(r.step) + ": loss " + fmt(r.loss) + " beta " + fmt(r.beta_smoothness) +
                  " max grad_pred " + fmt(r.grad_pred.empty() ? NAN : *std::max_element(r.grad_pred.begin(), r.grad_pred.end()));
  if (!r.eigvals.empty()) s += " lambda_max " + fmt(r.eigvals[0]) + " (" + std::to_string(r.hvp_count) + " HVPs)";
  if (!r.ggn.eigvals.empty())
    s += " ggn lambda_max " + fmt(r.ggn.eigvals[0]) + " (" + std::to_string(r.ggn.hvp_count) + " GVPs)";
  s += " " + fmt(r.seconds) + "s";
  if (comm) s += " (all-reduce " + fmt(r.allreduce_seconds) + "s, " + std::to_string(comm->world_size()) + " ranks)";
  return s;
}

}  // namespace bnl::record
