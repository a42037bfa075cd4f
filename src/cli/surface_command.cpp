#include "bnlandscape/cli/surface_command.h"
#include "bnlandscape/cli/surface_options.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <limits>
#include <memory>
#include <numeric>
#include <sstream>
#include <type_traits>

#include <torch/utils.h>
#include <torch/version.h>

#include "bnlandscape/cli/build_info.h"
#include "bnlandscape/cli/run_control.h"
#include "bnlandscape/cli/run_recorder.h"
#include "bnlandscape/cli/train_command.h"
#include "bnlandscape/data/batches.h"
#include "bnlandscape/dist/communicator.h"
#include "bnlandscape/dist/environment.h"
#include "bnlandscape/io/checkpoint.h"
#include "bnlandscape/io/run_file.h"
#include "bnlandscape/io/run_reader.h"
#include "bnlandscape/io/surface_io.h"
#include "bnlandscape/models/factory.h"
#include "bnlandscape/probes/flat_params.h"
#include "bnlandscape/probes/surface.h"

namespace bnl::cli {
namespace {

using probes::Direction;
using train::ConfigError;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const char* const kAxes[] = {"x", "y"};

[[noreturn]] void bad(const std::string& option, const std::string& value, const std::string& allowed) {
  throw ConfigError("--" + option + " = " + value + ": expected " + allowed);
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

std::string surface_config_toml(SurfaceOptions& opt) {
  std::ostringstream os;
  os << "# bnlandscape surface configuration\n";
  visit_surface_options(opt.surface, TomlWriter{os});
  visit_surface_train_options(opt.cfg, TomlWriter{os});
  return os.str();
}

/// Takes model and data options missing from the command line from the checkpoint file's own
/// configuration, so that a run file's checkpoint is evaluated as the model it came from.
void adopt_checkpoint_config(SurfaceOptions& opt) {
  io::RunReader reader(opt.surface.checkpoint);
  const auto toml = reader.string_attr("config_toml");
  if (!toml) return;
  const std::vector<std::string> keys{"dataset", "data_dir", "arch", "hidden_dims", "conv_channels",
                                      "bn", "bn_placement", "bn_eval"};
  for (const auto& e : parse_config_text(*toml, opt.surface.checkpoint + ":config_toml")) {
    if (std::find(keys.begin(), keys.end(), e.key) == keys.end()) continue;
    if (opt.app && opt.app->count("--" + dashed(e.key)) > 0) continue;
    train::visit_train_options(opt.cfg, [&](const char* key, auto& field, const char*) {
      using T = std::decay_t<decltype(field)>;
      if constexpr (std::is_same_v<T, std::string>)
        if (e.key == key) field = e.value;
    });
  }
}

/// Copies the checkpoint's parameters and buffers into `model` by name.
void load_checkpoint(models::Classifier& model, const SurfaceOptions& opt) {
  const auto& s = opt.surface;
  const auto tensors = io::read_tensor_group(s.checkpoint, s.checkpoint_group);
  torch::NoGradGuard no_grad;
  auto params = model.named_parameters();
  auto buffers = model.named_buffers();
  for (const auto& [name, t] : tensors) {
    torch::Tensor* dst = params.find(name);
    if (!dst) dst = buffers.find(name);
    if (!dst) continue;
    if (dst->sizes() != t.sizes()) {
      std::ostringstream os;
      os << s.checkpoint << ":" << s.checkpoint_group << "/" << name << ": expected shape " << dst->sizes()
         << " for --arch " << opt.cfg.arch << " --bn " << opt.cfg.bn << ", got " << t.sizes();
      throw ConfigError(os.str());
    }
    dst->copy_(t);
  }
  for (const auto& item : params)
    if (std::none_of(tensors.begin(), tensors.end(), [&](const auto& p) { return p.first == item.key(); }))
      throw ConfigError(s.checkpoint + ":" + s.checkpoint_group + ": expected parameter '" + item.key() +
                        "' for --arch " + opt.cfg.arch + " --bn " + opt.cfg.bn + ", not found");
}

/// Directions stored under `prefix` (/surface/directions/x or /y) of `file`, in the order and
/// dtypes of `params`; every parameter must be there with its shape.
Direction read_direction(const std::string& file, const std::string& prefix, const std::vector<std::string>& names,
                         const std::vector<torch::Tensor>& params, const std::string& option) {
  const auto stored = io::read_tensor_group(file, prefix);
  Direction d;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto it = std::find_if(stored.begin(), stored.end(), [&](const auto& p) { return p.first == names[i]; });
    if (it == stored.end())
      throw ConfigError("--" + option + " " + file + ": expected " + prefix + "/" + names[i] + ", not found");
    if (it->second.sizes() != params[i].sizes()) {
      std::ostringstream os;
      os << "--" << option << " " << file << ": expected " << prefix << "/" << names[i] << " of shape "
         << params[i].sizes() << ", got " << it->second.sizes();
      throw ConfigError(os.str());
    }
    d.push_back(it->second.to(params[i].scalar_type()));
  }
  return d;
}

/// What was decided about the directions, for the file.
struct DirectionInfo {
  std::string kind;  ///< filter-random | eigen | gradient
  std::string from;  ///< the file they were read from, "" when made here
  std::vector<double> eigenvalues;
  bool eigen_converged = true;
  std::int64_t hvp_count = 0;
  double gradient_norm = kNaN;
};

/// Makes (or reads) the surface directions on rank 0.
std::vector<Direction> make_directions(const SurfaceOptions& opt, models::Classifier& model,
                                       const std::vector<torch::Tensor>& params, const std::vector<std::string>& names,
                                       const torch::Tensor& x, const torch::Tensor& y, DirectionInfo& info) {
  const auto& s = opt.surface;
  const int count = static_cast<int>(s.dims);
  std::vector<Direction> out;
  if (!s.directions_from.empty()) {
    io::RunReader reader(s.directions_from);
    if (!reader.exists("/surface/directions/x"))
      throw ConfigError("--directions-from " + s.directions_from + ": expected a surface file (/surface/directions/x), not found");
    if (count == 2 && !reader.exists("/surface/directions/y"))
      throw ConfigError("--directions-from " + s.directions_from + ": expected two directions for --dims 2, the file holds one");
    info.kind = reader.string_attr("directions", "/surface").value_or("unknown");
    info.from = s.directions_from;
    for (int k = 0; k < count; ++k)
      out.push_back(read_direction(s.directions_from, std::string("/surface/directions/") + kAxes[k], names, params,
                                   "directions-from"));
    return out;
  }
  info.kind = s.directions;
  if (directions_kind(s) == Directions::filter_random) {
    for (int k = 0; k < count; ++k) {
      // Direction k from its own stream: the x direction of a 2-D surface is the 1-D one.
      auto d = probes::normal_direction(params, s.seed * 2 + static_cast<std::uint64_t>(k));
      probes::filter_normalize(d, params, s.include_bn_bias);
      out.push_back(std::move(d));
    }
    return out;
  }
  const auto loss = probes::batched_loss(model, x, y, s.surface_batch, params.front().scalar_type());
  if (directions_kind(s) == Directions::gradient) {
    out.push_back(probes::gradient_direction(params, loss, &info.gradient_norm));
    return out;
  }
  auto e = probes::hessian_eigen_directions(params, loss, count, s.eigen_tol, s.seed);
  info.eigenvalues = e.eigenvalues;
  info.eigen_converged = e.converged;
  info.hvp_count = e.hvp_count;
  return std::move(e.directions);
}

std::vector<double> to_vector(const torch::Tensor& t) {
  const auto c = t.to(torch::kDouble).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

/// Root attributes every bnlandscape output carries, for a surface file.
void write_provenance(io::RunFile& f, const SurfaceOptions& opt, const PreparedRun& run, const std::string& toml) {
  f.set_attr("status", std::string("running"));
  f.set_attr("config_toml", toml);
  f.set_attr("bnlandscape_version", std::string(BNL_VERSION));
  f.set_attr("git_revision", std::string(git_revision()));
  f.set_attr("torch_version", std::string(TORCH_VERSION));
  f.set_attr("blas", train::blas_description());
  f.set_attr("intra_op_threads", std::int64_t{run.threads.first});
  f.set_attr("blas_threads", std::int64_t{run.threads.second});
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  f.set_attr("host", std::string(host));
  f.set_attr("seed", static_cast<std::int64_t>(opt.surface.seed));
  f.set_attr("start_time", iso8601_utc_now());
  f.set_attr("end_time", std::string(""));
  std::string files;
  for (const auto& d : run.data.files) files += d.path + " " + d.sha256 + "\n";
  f.set_attr("data_files", files);
  f.set_attr("checkpoint_file", opt.surface.checkpoint);
  f.set_attr("checkpoint_group", opt.surface.checkpoint_group);
}

}  // namespace

std::pair<double, double> parse_surface_range(const std::string& s) {
  const auto comma = s.find(',');
  double lo = kNaN, hi = kNaN;
  try {
    std::size_t used_lo = 0, used_hi = 0;
    if (comma == std::string::npos) throw std::invalid_argument("no comma");
    const std::string a = s.substr(0, comma), b = s.substr(comma + 1);
    lo = std::stod(a, &used_lo);
    hi = std::stod(b, &used_hi);
    if (a.find_first_not_of(" \t", used_lo) != std::string::npos || b.find_first_not_of(" \t", used_hi) != std::string::npos)
      throw std::invalid_argument("trailing characters");
  } catch (const std::exception&) {
    bad("range", quoted(s), "\"lo,hi\" with finite lo < hi");
  }
  if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi)) bad("range", quoted(s), "\"lo,hi\" with finite lo < hi");
  return {lo, hi};
}

void validate_surface(const SurfaceConfig& c) {
  if (c.checkpoint.empty()) bad("checkpoint", "\"\"", "the HDF5 file with the weights");
  if (c.checkpoint_group.empty()) bad("checkpoint-group", "\"\"", "the group of the weights in --checkpoint");
  if (c.directions != "filter-random" && c.directions != "eigen" && c.directions != "gradient")
    bad("directions", quoted(c.directions), "filter-random | eigen | gradient");
  if (c.dims != 1 && c.dims != 2) bad("dims", std::to_string(c.dims), "1 or 2");
  if (c.directions == "gradient" && c.dims != 1 && c.directions_from.empty())
    bad("dims", std::to_string(c.dims), "1 with --directions gradient (there is one gradient)");
  parse_surface_range(c.range);
  if (c.resolution < 1 || c.resolution > 100001)
    bad("resolution", std::to_string(c.resolution), "1 <= N <= 100001 points per axis");
  if (c.surface_set != "train" && c.surface_set != "test") bad("surface-set", quoted(c.surface_set), "train | test");
  if (c.surface_size < 0) bad("surface-size", std::to_string(c.surface_size), "N >= 0 (0 = all)");
  if (c.surface_batch < 2) bad("surface-batch", std::to_string(c.surface_batch), "B >= 2");
  if (c.probe_bn_mode != "train" && c.probe_bn_mode != "eval")
    bad("probe-bn-mode", quoted(c.probe_bn_mode), "train | eval");
  if (!(c.eigen_tol > 0) || !(c.eigen_tol < 1)) bad("eigen-tol", fmt(c.eigen_tol), "0 < tol < 1");
  if (!(c.dist_timeout > 0) || !std::isfinite(c.dist_timeout))
    bad("dist-timeout", fmt(c.dist_timeout), "a positive number of seconds");
}

Command setup_surface(CLI::App& app) {
  auto opt = std::make_shared<SurfaceOptions>();
  CLI::App* sub = app.add_subcommand(
      "surface", "loss and accuracy on a 1-D or 2-D grid around a checkpoint's weights (Li et al. 2018)");
  visit_surface_specs(opt->surface, OptionAdder{*sub});
  visit_surface_train_specs(opt->cfg, OptionAdder{*sub});
  add_config_options(*sub, opt->dump_config);
  sub->add_option("--resume", opt->resume,
                  "compute the cells of the surface file FILE not yet computed (NaN), with the configuration stored "
                  "in it (only --quiet may be added)");
  opt->app = sub;
  return {sub, [opt] { return run_surface(*opt); }};
}

int run_surface(SurfaceOptions& opt) {
  if (opt.dump_config) {
    std::cout << surface_config_toml(opt);
    return kExitOk;
  }
  auto& s = opt.surface;
  validate_surface(s);
  const auto [lo, hi] = parse_surface_range(s.range);
  dist::DistEnv env;
  try {
    env = dist::read_dist_env(dist::process_env());
  } catch (const std::invalid_argument& e) {
    throw ConfigError(std::string("distributed environment: ") + e.what());
  }
  const bool resuming = !opt.resume.empty();
  if (resuming && opt.resume != opt.cfg.out)
    throw ConfigError("--resume " + opt.resume + ": expected the same file as --out, got " + opt.cfg.out);
  if (env.rank != 0) opt.cfg.quiet = true;
  adopt_checkpoint_config(opt);
  const std::string toml = surface_config_toml(opt);
  PreparedRun run = prepare_run(opt.cfg);

  // A private model: exact BN backward (the Hessian of the eigen directions must be one), no
  // running-statistics updates, no noise.
  auto spec = run.spec;
  spec.norm.backward = models::BnBackward::Exact;
  auto model = models::make_model(spec);
  load_checkpoint(*model, opt);
  models::set_running_stats_updates(*model, false);
  model->train(probe_bn_mode_kind(s) == SurfaceBnMode::train);
  std::vector<std::string> names;
  std::vector<torch::Tensor> params;
  for (const auto& item : model->named_parameters()) {
    names.push_back(item.key());
    params.push_back(item.value());
  }

  const data::ImageSet& set = surface_set_kind(s) == SurfaceSet::train ? run.data.train : run.data.test;
  const std::int64_t n = s.surface_size == 0 ? set.n : s.surface_size;
  if (n > set.n)
    bad("surface-size", std::to_string(s.surface_size), "at most the " + std::to_string(set.n) + " " + s.surface_set +
                                                              " examples");
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  const auto x = data::gather_images(set, run.data.norm, idx.data(), n);
  const auto y = data::gather_labels(set, idx.data(), n);

  std::unique_ptr<dist::Communicator> comm;
  if (env.world_size > 1)
    comm = dist::Communicator::connect(env, std::chrono::milliseconds(static_cast<std::int64_t>(s.dist_timeout * 1000.0)));
  const int rank = comm ? comm->rank() : 0, world = comm ? comm->world_size() : 1;

  probes::SurfacePlane plane;
  plane.alpha = probes::grid_axis(lo, hi, s.resolution);
  if (s.dims == 2) plane.beta = probes::grid_axis(lo, hi, s.resolution);
  const std::int64_t cells = plane.cells();
  std::vector<double> loss(static_cast<std::size_t>(cells), kNaN), acc(static_cast<std::size_t>(cells), kNaN);
  std::vector<Direction> dirs;
  std::unique_ptr<RunLock> lock;
  std::unique_ptr<io::FileEditor> editor;
  const std::string& out = opt.cfg.out;
  const std::vector<std::int64_t> grid_dims =
      s.dims == 2 ? std::vector<std::int64_t>{s.resolution, s.resolution} : std::vector<std::int64_t>{s.resolution};

  if (rank == 0) {
    lock = std::make_unique<RunLock>(out);
    if (resuming) {
      // Read under the lock: nobody else may be writing the grid we continue.
      io::RunReader reader(out);
      for (const char* d : {"/surface/loss", "/surface/acc"}) {
        if (!reader.exists(d)) throw ConfigError("--resume " + out + ": expected a surface file, got no " + d);
        if (reader.read(d).dims != grid_dims)
          throw ConfigError("--resume " + out + ": " + d + " does not have the shape of --resolution and --dims");
      }
      loss = reader.read("/surface/loss").values;
      acc = reader.read("/surface/acc").values;
      for (int k = 0; k < s.dims; ++k)
        dirs.push_back(read_direction(out, std::string("/surface/directions/") + kAxes[k], names, params, "resume"));
    } else {
      DirectionInfo info;
      dirs = make_directions(opt, *model, params, names, x, y, info);
      auto file = io::RunFile::create(out, opt.cfg.overwrite);
      write_provenance(*file, opt, run, toml);
      file->write_array("/surface/alpha", plane.alpha, {}, "1", "coefficient of direction x (grid rows)");
      if (s.dims == 2) file->write_array("/surface/beta", plane.beta, {}, "1", "coefficient of direction y (grid columns)");
      file->write_array("/surface/loss", loss, grid_dims, "nats",
                        "mean cross-entropy at theta + alpha x (+ beta y); NaN = not computed yet (or not finite)");
      file->write_array("/surface/acc", acc, grid_dims, "1", "accuracy at theta + alpha x (+ beta y); NaN = not computed yet");
      std::vector<double> norms;
      for (const auto& d : dirs) norms.push_back(probes::direction_norm(d));
      file->write_array("/surface/direction_norms", norms, {}, "1", "||d||_2 of each direction over all parameters (x, then y)");
      if (!info.eigenvalues.empty())
        file->write_array("/surface/eigenvalues", info.eigenvalues, {}, "1",
                          "Hessian eigenvalues (Ritz values) of the directions, descending");
      file->close();
      editor = std::make_unique<io::FileEditor>(out);
      for (std::size_t k = 0; k < dirs.size(); ++k) {
        std::vector<std::pair<std::string, torch::Tensor>> named;
        for (std::size_t i = 0; i < names.size(); ++i) named.emplace_back(names[i], dirs[k][i]);
        editor->write_tensor_group(std::string("/surface/directions/") + kAxes[k], named);
      }
      const std::string g = "/surface";
      editor->set_attr(g, "directions", info.kind);
      editor->set_attr(g, "directions_from", info.from);
      editor->set_attr(g, "dims", s.dims);
      editor->set_attr(g, "include_bn_bias", std::int64_t{s.include_bn_bias ? 1 : 0});
      editor->set_attr(g, "probe_bn_mode", s.probe_bn_mode);
      editor->set_attr(g, "surface_set", s.surface_set);
      editor->set_attr(g, "surface_size", n);
      editor->set_attr(g, "surface_batch", s.surface_batch);
      editor->set_attr(g, "num_params", probes::numel(params));
      editor->set_attr(g, "parameter_names", names);
      editor->set_attr(g, "world_size", static_cast<std::int64_t>(world));
      if (info.kind == "eigen" && info.from.empty()) {
        editor->set_attr(g, "eigen_converged", std::int64_t{info.eigen_converged ? 1 : 0});
        editor->set_attr(g, "hvp_count", info.hvp_count);
      }
      if (std::isfinite(info.gradient_norm)) editor->set_attr(g, "gradient_norm", info.gradient_norm);
    }
    if (!editor) editor = std::make_unique<io::FileEditor>(out);
    if (resuming) {
      editor->set_attr("/", "status", std::string("running"));
      editor->set_attr("/", "end_time", std::string(""));
      editor->set_attr("/surface", "world_size", static_cast<std::int64_t>(world));
    }
    editor->flush();
  }
  // A failure from here on is recorded in the file.
  auto fail = [&] {
    if (!editor) return;
    try {
      editor->set_attr("/", "status", std::string("failed"));
      editor->close();
    } catch (...) {
    }
  };
  try {
    if (comm) {
      // Rank 0's directions and grid reach every rank bit for bit (the others add zeros).
      for (int k = 0; k < s.dims; ++k) {
        if (rank != 0) {
          Direction zeros;
          for (const auto& p : params) zeros.push_back(torch::zeros_like(p));
          dirs.push_back(std::move(zeros));
        }
        for (auto& t : dirs[static_cast<std::size_t>(k)]) {
          auto flat = t.contiguous();
          comm->sum(flat);
          t = flat;
        }
      }
      auto grid = torch::zeros({2 * cells}, torch::kDouble);
      if (rank == 0) {
        for (std::int64_t c = 0; c < cells; ++c) {
          grid[c] = loss[static_cast<std::size_t>(c)];
          grid[cells + c] = acc[static_cast<std::size_t>(c)];
        }
      }
      comm->sum(grid);
      const auto all = to_vector(grid);
      std::copy(all.begin(), all.begin() + cells, loss.begin());
      std::copy(all.begin() + cells, all.end(), acc.begin());
    }
    plane.x = dirs[0];
    if (s.dims == 2) plane.y = dirs[1];

    // A cell is done once it has an accuracy (a loss may legitimately be NaN).
    std::vector<std::int64_t> pending;
    for (std::int64_t c = 0; c < cells; ++c)
      if (std::isnan(acc[static_cast<std::size_t>(c)])) pending.push_back(c);
    const std::int64_t nb = s.dims == 2 ? s.resolution : 1;
    const std::size_t round = static_cast<std::size_t>(std::max<std::int64_t>(world, nb));
    const std::size_t total_pending = pending.size();
    if (!opt.cfg.quiet)
      std::cerr << "surface: " << total_pending << " of " << cells << " cells to compute on " << n << " "
                << s.surface_set << " examples" << (world > 1 ? " over " + std::to_string(world) + " ranks" : "")
                << "\n";
    SignalGuard signals;
    const auto t0 = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    std::size_t done = 0;
    double last_report = 0;
    bool stopped = false;
    for (std::size_t start = 0; start < total_pending && !stopped; start += round) {
      const std::vector<std::int64_t> part(pending.begin() + static_cast<std::ptrdiff_t>(start),
                                           pending.begin() + static_cast<std::ptrdiff_t>(std::min(total_pending, start + round)));
      const auto r = static_cast<std::int64_t>(part.size());
      // loss of each cell, accuracy of each cell, stop flag; zero where another rank computes.
      auto values = torch::zeros({2 * r + 1}, torch::kDouble);
      auto* v = values.data_ptr<double>();
      const auto mine = probes::rank_share(part, rank, world);
      std::size_t k = 0;
      probes::evaluate_cells(params, plane, mine, [&] { return probes::evaluate_batched(*model, x, y, s.surface_batch); },
                             [&](std::int64_t, const probes::LossAcc& la) {
                               const std::size_t pos = static_cast<std::size_t>(rank) + k * static_cast<std::size_t>(world);
                               v[pos] = la.loss;
                               v[static_cast<std::size_t>(r) + pos] = la.acc;
                               ++k;
                             });
      v[2 * r] = SignalGuard::received() != 0 ? 1.0 : 0.0;
      if (comm) comm->sum(values);
      v = values.data_ptr<double>();
      for (std::int64_t j = 0; j < r; ++j) {
        loss[static_cast<std::size_t>(part[j])] = v[j];
        acc[static_cast<std::size_t>(part[j])] = v[r + j];
      }
      stopped = v[2 * r] > 0;
      done += part.size();
      if (editor) {
        editor->overwrite_array("/surface/loss", loss);
        editor->overwrite_array("/surface/acc", acc);
        editor->flush();
      }
      if (!opt.cfg.quiet && (elapsed() - last_report > 10 || done == total_pending)) {
        last_report = elapsed();
        std::cerr << "surface: " << done << "/" << total_pending << " cells, " << fmt(elapsed()) << " s, "
                  << fmt(static_cast<double>(done) * static_cast<double>(n) / elapsed()) << " examples/s\n";
      }
    }
    const double seconds = elapsed();
    if (editor) {
      editor->set_attr("/surface", "seconds", seconds);
      editor->set_attr("/surface", "examples_per_second",
                       done > 0 ? static_cast<double>(done) * static_cast<double>(n) / seconds : kNaN);
      editor->set_attr("/", "end_time", iso8601_utc_now());
      editor->set_attr("/", "status", std::string(stopped ? "interrupted" : "complete"));
      editor->close();
    }
    if (stopped) {
      const int sig = SignalGuard::received();
      if (rank == 0)
        std::cerr << "bnlandscape: interrupted" << (sig ? " by signal " + std::to_string(sig) : std::string(" (another rank)"))
                  << "; " << out << " keeps the cells computed, status \"interrupted\" (continue with surface --resume "
                  << out << ")\n";
      return 128 + (sig ? sig : SIGTERM);
    }
  } catch (...) {
    fail();
    throw;
  }
  return kExitOk;
}

}  // namespace bnl::cli
