#pragma once
/// \file
/// Every declared option of every subcommand, read from the declarations (visit_*_specs) as
/// rows of text: what docs/options.md lists, and the questions other code asks of the
/// declarations (is a key a probe option, which keys a checkpoint's configuration supplies).

#include <string>
#include <vector>

#include "bnlandscape/config/option.h"

namespace bnl::cli {

/// One option of one subcommand as docs/options.md shows it.
struct OptionRow {
  optspec::Command command = optspec::kTrain;  ///< the subcommand
  std::string key;           ///< TOML key (underscores)
  std::string flag;          ///< "--dashed-key", or the upper-case name of a positional argument
  bool in_config_file = false;  ///< the subcommand reads --config files, so the TOML key applies
  std::string default_value; ///< as --dump-config writes it ("" for a required or list argument)
  std::string unit;
  std::string allowed;       ///< the word set or the "expected ..." text of its check ("" = any)
  std::string doc;
};

/// Every option of every subcommand, subcommand by subcommand (optspec::kCommands order), each
/// in its --help order.
std::vector<OptionRow> option_rows();

/// Whether `key` (underscores) is an option `probe` takes and `train` does not: a sweep file
/// using it runs `probe`.
bool is_probe_option(const std::string& key);

}  // namespace bnl::cli
