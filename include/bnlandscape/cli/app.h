#pragma once
/// \file
/// Glue between option tables (visit_*_options) and CLI11, config files and exit codes.
/// Subcommands follow CLI11's subcom_in_files pattern: an options struct, a setup function
/// that registers them, a run function.

#include <functional>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

#include <CLI/App.hpp>

#include "bnlandscape/cli/config_file.h"

namespace bnl::cli {

/// Process exit codes (a contract for scripts and schedulers).
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 2,      ///< bad input, configuration, data or I/O error
  kExitDiverged = 3,   ///< training loss became NaN or Inf
};

/// A registered subcommand and what runs it once its options are parsed; run returns the
/// exit code.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

/// "hidden_dims" -> "hidden-dims".
std::string dashed(const std::string& key);

/// Registers one CLI11 option (a flag for bool) per visited field, named --<dashed key>.
struct OptionAdder {
  CLI::App& app;
  template <class T>
  void operator()(const char* key, T& field, const char* doc) {
    const std::string flag = "--" + dashed(key);
    if constexpr (std::is_same_v<T, bool>) {
      app.add_flag(flag, field, doc);
    } else {
      app.add_option(flag, field, doc)->capture_default_str();
    }
  }
};

/// Writes visited fields as TOML `key = value` lines, each preceded by its doc as a comment.
struct TomlWriter {
  std::ostream& os;
  template <class T>
  void operator()(const char* key, const T& field, const char* doc) {
    os << "# " << doc << "\n" << key << " = ";
    if constexpr (std::is_same_v<T, bool>) {
      os << (field ? "true" : "false");
    } else if constexpr (std::is_floating_point_v<T>) {
      os << format_double(field);
    } else if constexpr (std::is_integral_v<T>) {
      os << field;
    } else {
      os << toml_quote(field);
    }
    os << "\n";
  }
};

/// Adds --config FILE and --dump-config to a subcommand (the file itself is read by run_app).
void add_config_options(CLI::App& sub, bool& dump_config);

/// Parses the command line (expanding each subcommand's --config FILE into arguments placed
/// before the command line's own, rejecting unknown keys), runs the chosen command, and maps
/// every exception to a one-line message on stderr and an exit code.
int run_app(CLI::App& app, int argc, char** argv, const std::vector<Command>& commands);

}  // namespace bnl::cli
