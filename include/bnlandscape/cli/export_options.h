#pragma once
/// \file
/// The options of `export` and the one declaration of each (config/option.h).

#include <cstdint>
#include <string>

#include "bnlandscape/config/option.h"

namespace bnl::cli {

/// Options of `export`; each field is documented once, by its declaration in
/// visit_export_specs.
struct ExportOptions {
  std::string file;
  std::string format = "csv";
  std::string out;
  std::int64_t max_columns = 4096;
};

/// Calls v(spec, field) for every `export` option, in the order --help lists them.
template <class Options, class Visitor>
void visit_export_specs(Options& o, Visitor&& v) {
  using namespace bnl::optspec;
  v(opt("file", "run file (HDF5)").in(kExport).as_positional().as_required().existing(), o.file);
  v(opt("format", "csv | json").in(kExport).one_of("csv | json").by_cli(), o.format);
  v(opt("out", "output directory (created if missing; files in it are replaced)").in(kExport).as_required(), o.out);
  v(opt("max_columns", "csv: skip 2-D datasets with more columns than this (e.g. /probes/top_eigenvector)")
        .in(kExport).above(0).by_cli(),
    o.max_columns);
}

/// Writes the export; returns the exit code.
int run_export(const ExportOptions& opt);

}  // namespace bnl::cli
