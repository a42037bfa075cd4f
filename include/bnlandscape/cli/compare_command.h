#pragma once
/// \file
/// `bnlandscape compare RUN.h5 ...`: a side-by-side table of run files grouped by a config key
/// (default bn), seeds pooled as mean +- standard deviation (n = number of runs), and for two
/// groups the ratio of their means and a Welch t-test p-value. Output as an aligned table, CSV,
/// JSON or Markdown.

#include <cstdint>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "bnlandscape/cli/app.h"

namespace bnl::cli {

/// The numbers `compare` reports for one run file (NaN where the file lacks them).
struct RunSummary {
  std::string path;
  std::string group;   ///< value of the group-by key in the run's config
  std::string status;
  std::map<std::string, double> metrics;
};

/// Mean of the finite values among v[0..n) (NaN when there are none): the layer mean of one
/// row of an [n x L] series such as /ics/l2.
double finite_mean(const double* v, std::size_t n);

/// Reads one run file's summary; `group_by` names a key of its config_toml. `target_acc` and
/// `last_steps` as in CompareOptions.
RunSummary summarize_run(const std::string& path, const std::string& group_by, double target_acc = 0.85,
                         std::int64_t last_steps = 100);

/// Metric names in display order, with a label each (the labels of steps_to_target and
/// loss_std_last are completed with --target-acc and --last-steps in the output).
const std::vector<std::pair<std::string, std::string>>& compare_metrics();

/// Registers `compare` on `app` (options: cli/compare_options.h).
Command setup_compare(CLI::App& app);

/// Statistics behind `compare`, exposed for tests.
namespace stats {

/// Mean and sample standard deviation (divides by n - 1; NaN for n < 2) of the finite values.
struct Pooled {
  std::size_t n = 0;
  double mean = 0;
  double sd = 0;
};
Pooled pool(const std::vector<double>& xs);

/// Regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1 (continued
/// fraction evaluated with the modified Lentz method); NaN outside that domain.
double incomplete_beta(double a, double b, double x);

/// Cumulative distribution function of Student's t with `df` > 0 degrees of freedom.
double student_t_cdf(double t, double df);

/// Welch's unequal-variance t-test of the finite values of a and b.
struct Welch {
  double t = 0;    ///< (mean_a - mean_b) / sqrt(s_a^2/n_a + s_b^2/n_b)
  double df = 0;   ///< Welch-Satterthwaite degrees of freedom
  double p = 0;    ///< two-sided p-value
};
/// NaN fields when either side has fewer than 2 finite values or both have zero variance.
Welch welch_t_test(const std::vector<double>& a, const std::vector<double>& b);

/// Median of the finite values (NaN if none).
double median(std::vector<double> v);

}  // namespace stats

}  // namespace bnl::cli
