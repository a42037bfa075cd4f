#pragma once
/// \file
/// Glue between option declarations (visit_*_specs, config/option.h) and CLI11, config files
/// and --dump-config.
/// Subcommands follow CLI11's subcom_in_files pattern: an options struct, a setup function
/// that registers them, a run function.

#include <functional>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

#include <CLI/App.hpp>
#include <CLI/Validators.hpp>

#include "bnlandscape/cli/config_file.h"
#include "bnlandscape/cli/exit_codes.h"
#include "bnlandscape/config/option.h"

namespace bnl::cli {

/// A registered subcommand and what runs it once its options are parsed; run returns the
/// exit code.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

using optspec::dashed;

/// The --help text of a declared option: its doc, then its unit and what it allows where the
/// doc does not already say so.
std::string help_text(const optspec::OptionSpec& s);

/// Adds to `o` the CLI11 check matching a declaration checked at parse time (s.cli_checked):
/// IsMember for words, PositiveNumber for > 0, NonNegativeNumber for >= 0, Range otherwise.
void add_cli_check(CLI::Option& o, const optspec::OptionSpec& s);

/// Registers one CLI11 option (a flag for bool) per visited field, named --<dashed key> (or
/// the key, for a positional argument), with the declaration's help, alias, requirement and
/// parse-time checks. Also takes the older (key, field, doc) visits.
struct OptionAdder {
  CLI::App& app;
  template <class T>
  void operator()(const optspec::OptionSpec& s, T& field) {
    std::string name = s.positional ? std::string(s.key) : "--" + dashed(s.key);
    if (*s.short_flag) name += std::string(",") + s.short_flag;
    CLI::Option* o = nullptr;
    if constexpr (std::is_same_v<T, bool>) {
      o = app.add_flag(name, field, help_text(s));
      // --help shows every default; a flag also takes =true / =false (and "true"/"false" after
      // it, joined by run_app).
      o->option_text(std::string("BOOL=") + (field ? "true" : "false"));
    } else {
      o = app.add_option(name, field, help_text(s));
      if (!s.positional) o->capture_default_str();
      if constexpr (std::is_same_v<T, std::string>)
        if (!s.positional && field.empty()) o->default_str("\"\"");
    }
    if (s.required) o->required();
    if (s.existing_file) o->check(CLI::ExistingFile);
    if (s.cli_checked) add_cli_check(*o, s);
  }
  template <class T>
  void operator()(const char* key, T& field, const char* doc) {
    (*this)(optspec::opt(key, doc), field);
  }
};

/// Writes visited fields as TOML `key = value` lines, each preceded by its doc as a comment.
struct TomlWriter {
  std::ostream& os;
  template <class T>
  void operator()(const optspec::OptionSpec& s, const T& field) {
    (*this)(s.key, field, s.doc);
  }
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

/// What `bnlandscape --version` prints: the version and git revision of the build, the
/// libtorch build (version, CUDA) and the BLAS library.
std::string version_text();

/// Adds --config FILE and --dump-config to a subcommand (the file itself is read by run_app).
void add_config_options(CLI::App& sub, bool& dump_config);

/// Parses the command line (expanding each subcommand's --config FILE into arguments placed
/// before the command line's own, rejecting unknown keys), runs the chosen command, and maps
/// every exception to a one-line message on stderr and an exit code (exit_code_for): the only
/// place where errors become exit codes.
int run_app(CLI::App& app, int argc, char** argv, const std::vector<Command>& commands);

}  // namespace bnl::cli
