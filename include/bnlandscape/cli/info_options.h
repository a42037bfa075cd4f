#pragma once
/// \file
/// The options of `info` and the one declaration of each (config/option.h).

#include <string>
#include <vector>

#include "bnlandscape/config/option.h"

namespace bnl::cli {

/// Options of `info`.
struct InfoOptions {
  std::vector<std::string> files;
};

/// Calls v(spec, field) for every `info` option.
template <class Options, class Visitor>
void visit_info_specs(Options& o, Visitor&& v) {
  using namespace bnl::optspec;
  v(opt("files", "run files (HDF5)").in(kInfo).as_positional().as_required().existing(), o.files);
}

/// Prints the description of each file to stdout; returns the exit code.
int run_info(const InfoOptions& opt);

}  // namespace bnl::cli
