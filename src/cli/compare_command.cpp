#include "bnlandscape/cli/compare_command.h"
#include "bnlandscape/cli/compare_options.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>

#include <CLI/CLI.hpp>

#include "bnlandscape/cli/compare_groups.h"
#include "bnlandscape/cli/config_file.h"
#include "bnlandscape/cli/export_command.h"
#include "bnlandscape/io/run_reader.h"
#include "bnlandscape/record/schema_names.h"
#include "bnlandscape/stats/descriptive.h"
#include "bnlandscape/stats/welch.h"

namespace bnl::cli {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
using stats::median;

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

/// Per-row mean of the finite values of an [n x L] dataset (NaN for a row without any).
std::vector<double> row_means(const io::ArrayData& a) {
  std::vector<double> out;
  if (a.dims.size() != 2 || a.dims[1] == 0) return out;
  const auto L = static_cast<std::size_t>(a.dims[1]);
  for (std::size_t r = 0; (r + 1) * L <= a.values.size(); ++r) out.push_back(stats::finite_mean(&a.values[r * L], L));
  return out;
}

double last_of(const io::RunReader& r, const std::string& path) {
  if (!r.is_dataset(path)) return kNaN;
  auto a = r.read(path);
  return a.values.empty() ? kNaN : a.values.back();
}

std::string printf_str(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

const char* metric_format(const std::string& key) {
  if (key == "steps" || key == "steps_to_target") return "%.0f";
  if (key == "steps_per_s") return "%.1f";
  if (key == "ics_median" || key == "loss_std_last") return "%.4g";
  return "%.4f";
}

/// "m +- s (n=k)", "m (n=1)", or "-" when no run has the value.
std::string mean_std_cell(const stats::Pooled& p, const char* fmt) {
  if (p.n == 0) return "-";
  if (p.n == 1) return printf_str(fmt, p.mean) + " (n=1)";
  return printf_str(fmt, p.mean) + " +- " + printf_str(fmt, p.sd) + " (n=" + std::to_string(p.n) + ")";
}

std::string metric_label(const std::string& key, const std::string& label, const CompareOptions& opt) {
  if (key == "steps_to_target") return "steps to test accuracy >= " + printf_str("%g", opt.target_acc);
  if (key == "loss_std_last") return "training loss std over the last " + std::to_string(opt.last_steps) + " steps";
  return label;
}

/// Everything the output formats print, computed once.
struct Comparison {
  std::vector<std::string> groups;
  std::vector<RunSummary> runs;
  struct Row {
    std::string key, label;
    std::vector<std::vector<double>> values;  ///< per group, per run
    std::vector<stats::Pooled> pooled;        ///< per group
    double ratio = kNaN;                      ///< groups[1] mean / groups[0] mean (two groups only)
    stats::Welch welch{kNaN, kNaN, kNaN};
  };
  std::vector<Row> rows;
  bool two() const { return groups.size() == 2; }
};

Comparison build(const CompareOptions& opt) {
  Comparison c;
  for (const auto& f : opt.files) c.runs.push_back(summarize_run(f, opt.group_by, opt.target_acc, opt.last_steps));
  for (const auto& r : c.runs)
    if (std::find(c.groups.begin(), c.groups.end(), r.group) == c.groups.end()) c.groups.push_back(r.group);
  // The baseline goes first: it is the denominator of the ratio.
  auto base = c.groups.end();
  if (!opt.baseline.empty()) {
    base = std::find(c.groups.begin(), c.groups.end(), opt.baseline);
    if (base == c.groups.end()) {
      std::string list;
      for (const auto& g : c.groups) list += (list.empty() ? "" : ", ") + g;
      throw std::invalid_argument("--baseline " + opt.baseline + ": expected one of the groups of --group-by " +
                                  opt.group_by + ": " + list);
    }
  } else {
    for (const char* b : {"none", "false"})
      if (base == c.groups.end()) base = std::find(c.groups.begin(), c.groups.end(), b);
  }
  if (base != c.groups.end()) std::rotate(c.groups.begin(), base, base + 1);
  for (const auto& [key, label] : compare_metrics()) {
    Comparison::Row row;
    row.key = key;
    row.label = metric_label(key, label, opt);
    for (const auto& g : c.groups) {
      std::vector<double> xs;
      for (const auto& r : c.runs)
        if (r.group == g) xs.push_back(r.metrics.at(key));
      row.pooled.push_back(stats::pool(xs));
      row.values.push_back(std::move(xs));
    }
    if (c.two()) {
      const double a = row.pooled[0].mean, b = row.pooled[1].mean;
      if (row.pooled[0].n > 0 && row.pooled[1].n > 0 && a != 0) row.ratio = b / a;
      row.welch = stats::welch_t_test(row.values[1], row.values[0]);
    }
    c.rows.push_back(std::move(row));
  }
  return c;
}

/// The cells of the table and Markdown formats.
std::vector<std::vector<std::string>> cells(const Comparison& c, const CompareOptions& opt) {
  std::vector<std::vector<std::string>> table;
  std::vector<std::string> header{opt.group_by};
  for (const auto& g : c.groups) header.push_back(g);
  if (c.two()) {
    header.push_back("ratio " + c.groups[1] + "/" + c.groups[0]);
    header.push_back("p (Welch)");
  }
  table.push_back(header);
  std::vector<std::string> status_row{"runs (status)"};
  for (const auto& g : c.groups) {
    std::string cell;
    for (const auto& r : c.runs)
      if (r.group == g) cell += (cell.empty() ? "" : ", ") + r.status;
    status_row.push_back(cell);
  }
  if (c.two()) status_row.insert(status_row.end(), {"", ""});
  table.push_back(status_row);
  for (const auto& row : c.rows) {
    std::vector<std::string> out{row.label};
    for (const auto& p : row.pooled) out.push_back(mean_std_cell(p, metric_format(row.key)));
    if (c.two()) {
      out.push_back(std::isfinite(row.ratio) ? printf_str("%.4g", row.ratio) : "-");
      out.push_back(std::isfinite(row.welch.p) ? printf_str("%.3g", row.welch.p) : "-");
    }
    table.push_back(out);
  }
  return table;
}

void print_table(const std::vector<std::vector<std::string>>& table) {
  std::vector<std::size_t> width(table[0].size(), 0);
  for (const auto& row : table)
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  for (std::size_t r = 0; r < table.size(); ++r) {
    for (std::size_t i = 0; i < table[r].size(); ++i)
      std::cout << table[r][i] << std::string(width[i] - table[r][i].size() + 2, ' ');
    std::cout << "\n";
    if (r == 0) {
      std::size_t total = 0;
      for (auto w : width) total += w + 2;
      std::cout << std::string(total, '-') << "\n";
    }
  }
}

std::string md_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '|') out += "\\|";
    else if (ch == '\n') out += ' ';
    else out += ch;
  }
  return out;
}

void print_markdown(const std::vector<std::vector<std::string>>& table) {
  for (std::size_t r = 0; r < table.size(); ++r) {
    std::cout << "|";
    for (const auto& cell : table[r]) std::cout << " " << md_escape(cell) << " |";
    std::cout << "\n";
    if (r == 0) {
      std::cout << "|";
      for (std::size_t i = 0; i < table[r].size(); ++i) std::cout << (i == 0 ? " --- |" : " ---: |");
      std::cout << "\n";
    }
  }
}

std::string csv_num(double v) { return std::isfinite(v) ? csv_number(v) : ""; }

void print_csv(const Comparison& c, const CompareOptions& opt) {
  std::cout << "metric,label";
  for (const auto& g : c.groups)
    std::cout << "," << csv_field(g + " mean") << "," << csv_field(g + " std") << "," << csv_field(g + " n");
  if (c.two()) std::cout << ",ratio,p_welch";
  std::cout << "\n";
  for (const auto& row : c.rows) {
    std::cout << row.key << "," << csv_field(row.label);
    for (const auto& p : row.pooled) std::cout << "," << csv_num(p.mean) << "," << csv_num(p.sd) << "," << p.n;
    if (c.two()) std::cout << "," << csv_num(row.ratio) << "," << csv_num(row.welch.p);
    std::cout << "\n";
  }
}

void print_json(const Comparison& c, const CompareOptions& opt) {
  std::ostringstream os;
  os << "{\n  \"group_by\": " << json_quote(opt.group_by) << ",\n  \"target_acc\": " << json_number(opt.target_acc)
     << ",\n  \"last_steps\": " << opt.last_steps << ",\n  \"groups\": [";
  for (std::size_t gi = 0; gi < c.groups.size(); ++gi) {
    const auto& g = c.groups[gi];
    os << (gi ? "," : "") << "\n    {\"name\": " << json_quote(g) << ", \"runs\": [";
    bool first = true;
    for (const auto& r : c.runs) {
      if (r.group != g) continue;
      os << (first ? "" : ", ") << "{\"path\": " << json_quote(r.path) << ", \"status\": " << json_quote(r.status) << "}";
      first = false;
    }
    os << "],\n     \"metrics\": {";
    for (std::size_t i = 0; i < c.rows.size(); ++i) {
      const auto& row = c.rows[i];
      const auto& p = row.pooled[gi];
      os << (i ? "," : "") << "\n       " << json_quote(row.key) << ": {\"mean\": " << json_number(p.mean)
         << ", \"std\": " << json_number(p.sd) << ", \"n\": " << p.n << ", \"values\": [";
      for (std::size_t k = 0; k < row.values[gi].size(); ++k)
        os << (k ? ", " : "") << json_number(row.values[gi][k]);
      os << "]}";
    }
    os << "}}";
  }
  os << "\n  ],\n  \"labels\": {";
  for (std::size_t i = 0; i < c.rows.size(); ++i)
    os << (i ? "," : "") << "\n    " << json_quote(c.rows[i].key) << ": " << json_quote(c.rows[i].label);
  os << "\n  }";
  if (c.two()) {
    os << ",\n  \"comparison\": {\"numerator\": " << json_quote(c.groups[1]) << ", \"denominator\": "
       << json_quote(c.groups[0]) << ", \"metrics\": {";
    for (std::size_t i = 0; i < c.rows.size(); ++i) {
      const auto& row = c.rows[i];
      os << (i ? "," : "") << "\n    " << json_quote(row.key) << ": {\"ratio\": " << json_number(row.ratio)
         << ", \"t\": " << json_number(row.welch.t) << ", \"df\": " << json_number(row.welch.df)
         << ", \"p_welch\": " << json_number(row.welch.p) << "}";
    }
    os << "}}";
  }
  os << "\n}\n";
  std::cout << os.str();
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& compare_metrics() {
  static const std::vector<std::pair<std::string, std::string>> m{
      {"final_test_acc", "final test accuracy"},
      {"best_test_acc", "best test accuracy"},
      {"steps_to_target", "steps to target test accuracy"},
      {"final_test_loss", "final test loss"},
      {"final_train_loss", "final train loss (epoch mean)"},
      {"final_train_acc", "final train accuracy (epoch mean)"},
      {"loss_std_last", "training loss std over the last steps"},
      {"grad_norm_mean", "gradient norm, last epoch mean"},
      {"grad_norm_max", "gradient norm, max over steps"},
      {"beta_median", "beta-smoothness, median over probes"},
      {"beta_max", "beta-smoothness, max over probes"},
      {"grad_pred_max_median", "max gradient predictiveness, median over probes"},
      {"lambda_max_median", "Hessian lambda_max, median over probes"},
      {"ggn_lambda_max_median", "Gauss-Newton lambda_max, median over probes"},
      {"lambda_max_layer_median", "layer-scaled Hessian lambda_max, median over probes"},
      {"lambda_max_adaptive_median", "adaptive-scaled Hessian lambda_max, median over probes"},
      {"probe_loss_range_median", "loss range max-min along the gradient, median"},
      {"ics_median", "ICS l2, median over snapshots of the layer mean"},
      {"steps", "steps"},
      {"steps_per_s", "steps per second (wall clock, probes included)"},
  };
  return m;
}

RunSummary summarize_run(const std::string& path, const std::string& group_by, double target_acc,
                         std::int64_t last_steps) {
  using namespace record::names;
  io::RunReader r(path);
  RunSummary s;
  s.path = path;
  s.status = r.string_attr(kStatus).value_or("?");
  s.group = "?";
  if (auto toml = r.string_attr(kConfigToml)) {
    for (const auto& e : parse_config_text(*toml, path + ":config_toml"))
      if (e.key == group_by || dashed(e.key) == dashed(group_by)) s.group = e.value;
  }
  auto& m = s.metrics;
  for (const auto& [key, label] : compare_metrics()) m[key] = kNaN;
  m["final_test_acc"] = last_of(r, at(kTrainEpochs, kTestAcc));
  m["final_test_loss"] = last_of(r, at(kTrainEpochs, kTestLoss));
  m["final_train_loss"] = last_of(r, at(kTrainEpochs, kTrainLoss));
  m["final_train_acc"] = last_of(r, at(kTrainEpochs, kTrainAcc));
  m["grad_norm_mean"] = last_of(r, at(kTrainEpochs, kGradNormMean));
  if (r.is_dataset(at(kTrainEpochs, kTestAcc))) {
    auto a = r.read(at(kTrainEpochs, kTestAcc)).values;
    if (!a.empty()) m["best_test_acc"] = *std::max_element(a.begin(), a.end());
  }
  // Steps to the target: the first evaluation (per-epoch or --eval-every) at or above it.
  {
    std::vector<std::pair<double, double>> evals;  // (step, test_acc)
    for (const char* g : {kTrainEpochs, kTrainEvals}) {
      const std::string sp = at(g, kStep), ap = at(g, kTestAcc);
      if (!r.is_dataset(sp) || !r.is_dataset(ap)) continue;
      const auto st = r.read(sp).values, acc = r.read(ap).values;
      for (std::size_t i = 0; i < std::min(st.size(), acc.size()); ++i) evals.emplace_back(st[i], acc[i]);
    }
    std::sort(evals.begin(), evals.end());
    for (const auto& [step, acc] : evals)
      if (std::isfinite(acc) && acc >= target_acc) {
        m["steps_to_target"] = step;
        break;
      }
  }
  if (r.is_dataset(at(kTrainSteps, kGradNorm))) {
    auto g = r.read(at(kTrainSteps, kGradNorm)).values;
    double mx = -1;
    for (double x : g)
      if (std::isfinite(x)) mx = std::max(mx, x);
    if (mx >= 0) m["grad_norm_max"] = mx;
    m["steps"] = static_cast<double>(g.size());
    const double wall = last_of(r, at(kTrainSteps, kWallTime));
    if (wall > 0) m["steps_per_s"] = static_cast<double>(g.size()) / wall;
  }
  if (r.is_dataset(at(kTrainSteps, kLoss)) && last_steps > 0) {
    const auto loss = r.read(at(kTrainSteps, kLoss)).values;
    const std::size_t n = std::min(loss.size(), static_cast<std::size_t>(last_steps));
    m["loss_std_last"] = stats::pool(std::vector<double>(loss.end() - static_cast<std::ptrdiff_t>(n), loss.end())).sd;
  }
  if (r.is_dataset(at(kProbes, kBetaSmoothness))) {
    auto beta = r.read(at(kProbes, kBetaSmoothness)).values;
    m["beta_median"] = median(beta);
    double mx = -INFINITY;
    for (double b : beta)
      if (std::isfinite(b)) mx = std::max(mx, b);
    if (std::isfinite(mx)) m["beta_max"] = mx;
    if (r.is_dataset(at(kProbes, kGradPred))) m["grad_pred_max_median"] = median(row_reduce(r.read(at(kProbes, kGradPred)), false));
    if (r.is_dataset(at(kProbes, kLossPath)))
      m["probe_loss_range_median"] = median(row_reduce(r.read(at(kProbes, kLossPath)), true));
    // The top eigenvalue of each operator and scaling the probes measured (issue 24).
    for (const auto& [name, metric] : std::vector<std::pair<const char*, const char*>>{
             {kEigvals, "lambda_max_median"},
             {kGgnEigvals, "ggn_lambda_max_median"},
             {kEigvalsLayer, "lambda_max_layer_median"},
             {kEigvalsAdaptive, "lambda_max_adaptive_median"}}) {
      if (!r.is_dataset(at(kProbes, name))) continue;
      auto e = r.read(at(kProbes, name));
      std::vector<double> top;
      if (e.dims.size() == 2 && e.dims[1] > 0)
        for (std::size_t i = 0; i < e.values.size(); i += static_cast<std::size_t>(e.dims[1])) top.push_back(e.values[i]);
      m[metric] = median(top);
    }
  }
  if (r.is_dataset(at(kIcs, kL2))) m["ics_median"] = median(row_means(r.read(at(kIcs, kL2))));
  return s;
}

Command setup_compare(CLI::App& app) {
  auto opt = std::make_shared<CompareOptions>();
  CLI::App* sub = app.add_subcommand("compare", "compare run files side by side, grouped by a config key");
  sub->footer(
      "Every cell is mean +- sample standard deviation over the runs of a group (seeds pooled), with n the\n"
      "number of runs that have the value. Metrics:\n"
      "  final/best test accuracy, loss: /train/epochs (last row / max)\n"
      "  steps to test accuracy >= --target-acc: first evaluation (/train/epochs or /train/evals, by step)\n"
      "    reaching it; runs that never reach it are left out of n\n"
      "  training loss std over the last --last-steps steps: sample std of /train/steps/loss over the\n"
      "    last N steps (all steps if fewer)\n"
      "  beta-smoothness: median and max of /probes/beta_smoothness over probes\n"
      "  max gradient predictiveness: median over probes of the max over step sizes of /probes/grad_pred\n"
      "  lambda_max: median over probes of the top eigenvalue, /probes/eigvals[:, 0] (and of\n"
      "    ggn_eigvals, eigvals_layer, eigvals_adaptive where the runs have them)\n"
      "  ICS: median over snapshots (rows of /ics/l2 [n x L]) of the mean over layers of l2\n"
      "Groups appear in the order of the files, the baseline first (--baseline; default the group named\n"
      "none or false if there is one). With exactly two groups, baseline A and B: ratio = mean(B) / mean(A)\n"
      "and the two-sided p-value of Welch's t-test (unequal variances; needs n >= 2 in both groups).\n"
      "Only alike runs are pooled: one kind of file (train, online probe, offline probe, surface) and the\n"
      "same configuration apart from --group-by, the seed and how a run was measured (out, threads,\n"
      "hvp_engine, overlap, ...); unlike runs exit 2 naming what differs, or with --allow-mixed a note.");
  visit_compare_specs(*opt, OptionAdder{*sub});
  return {sub, [opt] { return run_compare(*opt); }};
}

int run_compare(const CompareOptions& opt) {
  check_comparable(opt.files, opt.group_by, opt.allow_mixed, std::cerr);
  const Comparison c = build(opt);
  if (opt.format == "csv") {
    print_csv(c, opt);
  } else if (opt.format == "json") {
    print_json(c, opt);
  } else if (opt.format == "markdown") {
    print_markdown(cells(c, opt));
  } else {
    print_table(cells(c, opt));
  }
  return kExitOk;
}

}  // namespace bnl::cli
