#pragma once
/// \file
/// `bnlandscape compare RUN.h5 ...`: a side-by-side table of run files grouped by a config key
/// (default bn), seeds pooled as mean +- standard deviation.

#include <map>
#include <string>
#include <vector>

#include "bnlandscape/cli/app.h"

namespace bnl::cli {

/// Options of `compare`.
struct CompareOptions {
  std::vector<std::string> files;
  std::string group_by = "bn";
};

/// The numbers `compare` reports for one run file (NaN where the file lacks them).
struct RunSummary {
  std::string path;
  std::string group;   ///< value of the group-by key in the run's config
  std::string status;
  std::map<std::string, double> metrics;
};

/// Reads one run file's summary; `group_by` names a key of its config_toml.
RunSummary summarize_run(const std::string& path, const std::string& group_by);

/// Metric names in display order, with a label each.
const std::vector<std::pair<std::string, std::string>>& compare_metrics();

/// Registers `compare` on `app`.
Command setup_compare(CLI::App& app);

/// Prints the table to stdout; returns the exit code.
int run_compare(const CompareOptions& opt);

}  // namespace bnl::cli
