#include "bnlandscape/cli/compare_command.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>

#include "bnlandscape/cli/config_file.h"
#include "bnlandscape/io/run_reader.h"

namespace bnl::cli {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Per-row max (or max - min) of an [n x S] dataset.
std::vector<double> row_reduce(const io::ArrayData& a, bool range) {
  std::vector<double> out;
  if (a.dims.size() != 2 || a.dims[1] == 0) return out;
  const auto S = static_cast<std::size_t>(a.dims[1]);
  for (std::size_t r = 0; r * S < a.values.size(); ++r) {
    double mx = -INFINITY, mn = INFINITY;
    for (std::size_t j = 0; j < S; ++j) {
      mx = std::max(mx, a.values[r * S + j]);
      mn = std::min(mn, a.values[r * S + j]);
    }
    out.push_back(range ? mx - mn : mx);
  }
  return out;
}

double last_of(const io::RunReader& r, const std::string& path) {
  if (!r.is_dataset(path)) return kNaN;
  auto a = r.read(path);
  return a.values.empty() ? kNaN : a.values.back();
}

std::string mean_std(const std::vector<double>& xs, const char* fmt) {
  std::vector<double> v;
  for (double x : xs)
    if (std::isfinite(x)) v.push_back(x);
  if (v.empty()) return "-";
  double m = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  char buf[160];
  if (v.size() == 1) {
    std::snprintf(buf, sizeof buf, fmt, m);
    return buf;
  }
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  s = std::sqrt(s / static_cast<double>(v.size() - 1));
  char a[48], b[48];
  std::snprintf(a, sizeof a, fmt, m);
  std::snprintf(b, sizeof b, fmt, s);
  std::snprintf(buf, sizeof buf, "%s +- %s (n=%zu)", a, b, v.size());
  return buf;
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& compare_metrics() {
  static const std::vector<std::pair<std::string, std::string>> m{
      {"final_test_acc", "final test accuracy"},
      {"best_test_acc", "best test accuracy"},
      {"final_test_loss", "final test loss"},
      {"final_train_loss", "final train loss (epoch mean)"},
      {"final_train_acc", "final train accuracy (epoch mean)"},
      {"grad_norm_mean", "gradient norm, last epoch mean"},
      {"grad_norm_max", "gradient norm, max over steps"},
      {"beta_median", "beta-smoothness, median over probes"},
      {"beta_max", "beta-smoothness, max over probes"},
      {"grad_pred_max_median", "max gradient predictiveness, median over probes"},
      {"lambda_max_median", "Hessian lambda_max, median over probes"},
      {"probe_loss_range_median", "loss range max-min along the gradient, median"},
      {"steps", "steps"},
      {"steps_per_s", "steps per second (wall clock, probes included)"},
  };
  return m;
}

RunSummary summarize_run(const std::string& path, const std::string& group_by) {
  io::RunReader r(path);
  RunSummary s;
  s.path = path;
  s.status = r.string_attr("status").value_or("?");
  s.group = "?";
  if (auto toml = r.string_attr("config_toml")) {
    for (const auto& e : parse_config_text(*toml, path + ":config_toml"))
      if (e.key == group_by || dashed(e.key) == dashed(group_by)) s.group = e.value;
  }
  auto& m = s.metrics;
  m["final_test_acc"] = last_of(r, "/train/epochs/test_acc");
  m["final_test_loss"] = last_of(r, "/train/epochs/test_loss");
  m["final_train_loss"] = last_of(r, "/train/epochs/train_loss");
  m["final_train_acc"] = last_of(r, "/train/epochs/train_acc");
  m["grad_norm_mean"] = last_of(r, "/train/epochs/grad_norm_mean");
  m["best_test_acc"] = kNaN;
  if (r.is_dataset("/train/epochs/test_acc")) {
    auto a = r.read("/train/epochs/test_acc").values;
    if (!a.empty()) m["best_test_acc"] = *std::max_element(a.begin(), a.end());
  }
  m["grad_norm_max"] = kNaN;
  m["steps"] = kNaN;
  m["steps_per_s"] = kNaN;
  if (r.is_dataset("/train/steps/grad_norm")) {
    auto g = r.read("/train/steps/grad_norm").values;
    double mx = -1;
    for (double x : g)
      if (std::isfinite(x)) mx = std::max(mx, x);
    if (mx >= 0) m["grad_norm_max"] = mx;
    m["steps"] = static_cast<double>(g.size());
    const double wall = last_of(r, "/train/steps/wall_time");
    if (wall > 0) m["steps_per_s"] = static_cast<double>(g.size()) / wall;
  }
  for (const char* k : {"beta_median", "beta_max", "grad_pred_max_median", "lambda_max_median", "probe_loss_range_median"})
    m[k] = kNaN;
  if (r.is_dataset("/probes/beta_smoothness")) {
    auto beta = r.read("/probes/beta_smoothness").values;
    m["beta_median"] = median(beta);
    double mx = -INFINITY;
    for (double b : beta)
      if (std::isfinite(b)) mx = std::max(mx, b);
    if (std::isfinite(mx)) m["beta_max"] = mx;
    m["grad_pred_max_median"] = median(row_reduce(r.read("/probes/grad_pred"), false));
    m["probe_loss_range_median"] = median(row_reduce(r.read("/probes/loss_path"), true));
    if (r.is_dataset("/probes/eigvals")) {
      auto e = r.read("/probes/eigvals");
      std::vector<double> top;
      if (e.dims.size() == 2 && e.dims[1] > 0)
        for (std::size_t i = 0; i < e.values.size(); i += static_cast<std::size_t>(e.dims[1])) top.push_back(e.values[i]);
      m["lambda_max_median"] = median(top);
    }
  }
  return s;
}

Command setup_compare(CLI::App& app) {
  auto opt = std::make_shared<CompareOptions>();
  CLI::App* sub = app.add_subcommand("compare", "compare run files side by side, grouped by a config key");
  sub->add_option("files", opt->files, "run files (HDF5)")->required()->check(CLI::ExistingFile);
  sub->add_option("--group-by", opt->group_by, "config key that defines the groups (seeds are pooled)")
      ->capture_default_str();
  return {sub, [opt] { return run_compare(*opt); }};
}

int run_compare(const CompareOptions& opt) {
  std::vector<RunSummary> runs;
  for (const auto& f : opt.files) runs.push_back(summarize_run(f, opt.group_by));
  std::vector<std::string> groups;
  for (const auto& r : runs)
    if (std::find(groups.begin(), groups.end(), r.group) == groups.end()) groups.push_back(r.group);

  std::vector<std::vector<std::string>> table;
  std::vector<std::string> header{opt.group_by};
  for (const auto& g : groups) header.push_back(g);
  table.push_back(header);
  std::vector<std::string> status_row{"runs (status)"};
  for (const auto& g : groups) {
    std::string cell;
    for (const auto& r : runs)
      if (r.group == g) cell += (cell.empty() ? "" : ", ") + r.status;
    status_row.push_back(cell);
  }
  table.push_back(status_row);
  for (const auto& [key, label] : compare_metrics()) {
    std::vector<std::string> row{label};
    const char* fmt = key == "steps" ? "%.0f" : (key == "steps_per_s" ? "%.1f" : "%.4f");
    for (const auto& g : groups) {
      std::vector<double> xs;
      for (const auto& r : runs)
        if (r.group == g) xs.push_back(r.metrics.at(key));
      row.push_back(mean_std(xs, fmt));
    }
    table.push_back(row);
  }
  std::vector<std::size_t> width(table[0].size(), 0);
  for (const auto& row : table)
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  for (std::size_t r = 0; r < table.size(); ++r) {
    for (std::size_t i = 0; i < table[r].size(); ++i) {
      std::cout << table[r][i] << std::string(width[i] - table[r][i].size() + 2, ' ');
    }
    std::cout << "\n";
    if (r == 0) {
      std::size_t total = 0;
      for (auto w : width) total += w + 2;
      std::cout << std::string(total, '-') << "\n";
    }
  }
  return kExitOk;
}

}  // namespace bnl::cli
