#pragma once
/// \file
/// `bnlandscape export RUN.h5 --format csv|json --out DIR`: every series of a run file as CSV
/// (one file per group) or JSON (one file), for tools that do not read HDF5. Checkpoints
/// (weights) are not series and are not exported.

#include <cstdint>
#include <string>
#include <vector>

#include "bnlandscape/cli/app.h"

namespace bnl::cli {

/// Registers `export` on `app` (options: cli/export_options.h).
Command setup_export(CLI::App& app);

/// One numeric dataset of a series group.
struct SeriesColumn {
  std::string name;                 ///< dataset name in its group
  std::vector<double> values;       ///< C order
  std::vector<std::int64_t> dims;   ///< shape
  std::vector<std::string> labels;  ///< names of the columns of a 2-D dataset (its `layers` or `levels` attribute), may be empty
};

/// A group holding numeric datasets (a "series group": /train/steps, /probes, /ics, ...).
struct SeriesGroup {
  std::string path;                  ///< absolute, e.g. "/train/steps"
  std::vector<SeriesColumn> columns;  ///< `step` first, then in the file's order
  std::int64_t rows = 0;             ///< length of `step` if present, else the most common first dimension
};

/// Every group of the file with numeric datasets, depth first in file order, /checkpoints
/// excluded. Non-numeric datasets are skipped.
std::vector<SeriesGroup> read_series_groups(const std::string& path);

/// Text helpers shared by `compare`, `info` and `export`.
/// A JSON string literal.
std::string json_quote(const std::string& s);
/// A JSON number (shortest round trip); NaN and infinities become null.
std::string json_number(double v);
/// A CSV field, quoted (RFC 4180) when it holds a comma, quote, CR or LF.
std::string csv_field(const std::string& s);
/// A number for CSV: shortest round-trip form; NaN as "nan", infinities as "inf" / "-inf".
std::string csv_number(double v);

}  // namespace bnl::cli
