#pragma once
/// \file
/// The options of `compare` and the one declaration of each (config/option.h).

#include <cstdint>
#include <string>
#include <vector>

#include "bnlandscape/config/option.h"

namespace bnl::cli {

/// Options of `compare`; each field is documented once, by its declaration in
/// visit_compare_specs.
struct CompareOptions {
  std::vector<std::string> files;
  std::string group_by = "bn";
  double target_acc = 0.85;
  std::int64_t last_steps = 100;
  std::string format = "table";
  std::string baseline;
  bool allow_mixed = false;
};

/// Calls v(spec, field) for every `compare` option, in the order --help lists them.
template <class Options, class Visitor>
void visit_compare_specs(Options& o, Visitor&& v) {
  using namespace bnl::optspec;
  v(opt("files", "run files (HDF5)").in(kCompare).as_positional().as_required().existing(), o.files);
  v(opt("group_by", "config key that defines the groups (seeds are pooled)").in(kCompare), o.group_by);
  v(opt("target_acc", "test accuracy whose first reaching step is reported")
        .in(kCompare).at_least(0).at_most(1).by_cli(),
    o.target_acc);
  v(opt("last_steps", "window (steps) of the training-loss variability")
        .in(kCompare).above(0).by_cli().with_unit("steps"),
    o.last_steps);
  v(opt("baseline", "group shown first and used as the ratio's denominator (default: none or false if present)")
        .in(kCompare),
    o.baseline);
  v(opt("format", "output: table | csv | json | markdown").in(kCompare).one_of("table | csv | json | markdown").by_cli(),
    o.format);
  v(opt("allow_mixed", "compare runs of different kinds or settings (differences printed as a note) instead of refusing them")
        .in(kCompare),
    o.allow_mixed);
}

/// Prints the comparison to stdout in opt.format; returns the exit code.
int run_compare(const CompareOptions& opt);

}  // namespace bnl::cli
