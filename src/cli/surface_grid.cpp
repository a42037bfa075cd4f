#include "bnlandscape/record/schema_names.h"
#include "bnlandscape/cli/surface_grid.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>

#include "bnlandscape/run/run_lock.h"
#include "bnlandscape/run/signal_guard.h"
#include "bnlandscape/cli/surface_options.h"
#include "bnlandscape/dist/communicator.h"
#include "bnlandscape/io/surface_io.h"
#include "bnlandscape/models/classifier.h"

namespace bnl::cli {

using run::SignalGuard;

namespace names = record::names;
namespace {

std::vector<double> to_vector(const torch::Tensor& t) {
  const auto c = t.to(torch::kDouble).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

/// Evaluates the cells `part` (this rank its share) and returns every rank's results, summed:
/// loss of each cell, accuracy of each cell, then 1 if any rank was signalled.
std::vector<double> evaluate_round(const SurfaceConfig& s, models::Classifier& model, const SurfaceGrid& g,
                                   const std::vector<std::int64_t>& part, dist::Communicator* comm) {
  const int rank = comm ? comm->rank() : 0, world = comm ? comm->world_size() : 1;
  const auto r = static_cast<std::int64_t>(part.size());
  // Zero where another rank computes.
  auto values = torch::zeros({2 * r + 1}, torch::kDouble);
  auto* v = values.data_ptr<double>();
  const auto mine = probes::rank_share(part, rank, world);
  std::size_t k = 0;
  probes::evaluate_cells(g.params, g.plane, mine, [&] { return probes::evaluate_batched(model, g.x, g.y, s.surface_batch); },
                         [&](std::int64_t, const probes::LossAcc& la) {
                           const std::size_t pos = static_cast<std::size_t>(rank) + k * static_cast<std::size_t>(world);
                           v[pos] = la.loss;
                           v[static_cast<std::size_t>(r) + pos] = la.acc;
                           ++k;
                         });
  v[2 * r] = SignalGuard::received() != 0 ? 1.0 : 0.0;
  if (comm) comm->sum(values);
  return to_vector(values);
}

}  // namespace

SurfaceGrid make_grid(const SurfaceConfig& s, models::Classifier& model, torch::Tensor x, torch::Tensor y,
                      std::int64_t n, double lo, double hi) {
  SurfaceGrid g;
  for (const auto& item : model.named_parameters()) {
    g.names.push_back(item.key());
    g.params.push_back(item.value());
  }
  g.x = std::move(x);
  g.y = std::move(y);
  g.n = n;
  g.plane.alpha = probes::grid_axis(lo, hi, s.resolution);
  if (s.dims == 2) g.plane.beta = probes::grid_axis(lo, hi, s.resolution);
  const auto cells = static_cast<std::size_t>(g.plane.cells());
  g.loss.assign(cells, std::numeric_limits<double>::quiet_NaN());
  g.acc.assign(cells, std::numeric_limits<double>::quiet_NaN());
  g.dims = s.dims == 2 ? std::vector<std::int64_t>{s.resolution, s.resolution} : std::vector<std::int64_t>{s.resolution};
  return g;
}

void share_grid(dist::Communicator& comm, SurfaceGrid& g, std::int64_t dims) {
  const int rank = comm.rank();
  for (std::int64_t k = 0; k < dims; ++k) {
    if (rank != 0) {
      probes::Direction zeros;
      for (const auto& p : g.params) zeros.push_back(torch::zeros_like(p));
      g.dirs.push_back(std::move(zeros));
    }
    for (auto& t : g.dirs[static_cast<std::size_t>(k)]) {
      auto flat = t.contiguous();
      comm.sum(flat);
      t = flat;
    }
  }
  // The axes too: --range auto makes them from rank 0's trajectory.
  for (auto* axis : {&g.plane.alpha, &g.plane.beta}) {
    if (axis->empty()) continue;  // 1-D: no beta on any rank
    auto values = torch::zeros({static_cast<std::int64_t>(axis->size())}, torch::kDouble);
    if (rank == 0) values.copy_(torch::tensor(*axis, torch::kDouble));
    comm.sum(values);
    *axis = to_vector(values);
  }
  const std::int64_t cells = g.plane.cells();
  auto grid = torch::zeros({2 * cells}, torch::kDouble);
  if (rank == 0) {
    for (std::int64_t c = 0; c < cells; ++c) {
      grid[c] = g.loss[static_cast<std::size_t>(c)];
      grid[cells + c] = g.acc[static_cast<std::size_t>(c)];
    }
  }
  comm.sum(grid);
  const auto all = to_vector(grid);
  std::copy(all.begin(), all.begin() + cells, g.loss.begin());
  std::copy(all.begin() + cells, all.end(), g.acc.begin());
}

GridOutcome evaluate_grid(const SurfaceConfig& s, models::Classifier& model, SurfaceGrid& g, dist::Communicator* comm,
                          io::FileEditor* editor, bool quiet) {
  const int world = comm ? comm->world_size() : 1;
  const std::int64_t cells = g.plane.cells();
  // A cell is done once it has an accuracy (a loss may legitimately be NaN).
  std::vector<std::int64_t> pending;
  for (std::int64_t c = 0; c < cells; ++c)
    if (std::isnan(g.acc[static_cast<std::size_t>(c)])) pending.push_back(c);
  const std::int64_t nb = s.dims == 2 ? s.resolution : 1;
  const std::size_t round = static_cast<std::size_t>(std::max<std::int64_t>(world, nb));
  const std::size_t total_pending = pending.size();
  if (!quiet)
    std::cerr << "surface: " << total_pending << " of " << cells << " cells to compute on " << g.n << " "
              << s.surface_set << " examples" << (world > 1 ? " over " + std::to_string(world) + " ranks" : "") << "\n";
  SignalGuard signals;
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  GridOutcome out;
  double last_report = 0;
  for (std::size_t start = 0; start < total_pending && !out.stopped; start += round) {
    const std::vector<std::int64_t> part(pending.begin() + static_cast<std::ptrdiff_t>(start),
                                         pending.begin() + static_cast<std::ptrdiff_t>(std::min(total_pending, start + round)));
    const auto v = evaluate_round(s, model, g, part, comm);
    const std::size_t r = part.size();
    for (std::size_t j = 0; j < r; ++j) {
      g.loss[static_cast<std::size_t>(part[j])] = v[j];
      g.acc[static_cast<std::size_t>(part[j])] = v[r + j];
    }
    out.stopped = v[2 * r] > 0;
    out.done += r;
    if (editor) {
      editor->overwrite_array(names::at(names::kSurface, names::kLoss), g.loss);
      editor->overwrite_array(names::at(names::kSurface, names::kAcc), g.acc);
      editor->flush();
    }
    if (!quiet && (elapsed() - last_report > 10 || out.done == total_pending)) {
      last_report = elapsed();
      std::cerr << "surface: " << out.done << "/" << total_pending << " cells, " << fmt(elapsed()) << " s, "
                << fmt(static_cast<double>(out.done) * static_cast<double>(g.n) / elapsed()) << " examples/s\n";
    }
  }
  out.seconds = elapsed();
  return out;
}

}  // namespace bnl::cli
