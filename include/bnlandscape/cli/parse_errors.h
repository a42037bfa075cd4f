#pragma once
/// \file
/// CLI11's parse errors rewritten for the user, at the one place that knows the context (the
/// subcommand, where each value came from): "FILE:LINE: key = TEXT: expected X" for a value of
/// a config file, "--flag = VALUE: expected X" for one of the command line, the subcommand that
/// takes an option the chosen one does not, how to write a flag's value, and `launch`'s `--`.

#include <string>
#include <vector>

namespace CLI {
class App;
class ParseError;
}  // namespace CLI

namespace bnl::cli {

/// A value that came from a config file (or a run file's stored configuration): which option it
/// set and where it was written.
struct FileValue {
  std::string flag;   ///< "--lr"
  std::string where;  ///< "cfg.toml:3"
  std::string key;    ///< the key as written ("lr")
  std::string text;   ///< the value as written ("\"fast\"")
};

/// What run_app knows when CLI11 rejects the arguments.
struct ParseContext {
  CLI::App* app = nullptr;        ///< the main app
  CLI::App* sub = nullptr;        ///< the subcommand named, if any
  std::vector<std::string> args;  ///< the arguments after the program name, config files expanded
  std::vector<FileValue> from_files;  ///< the option values spliced in from files
};

/// The one-line message for `e`: what was expected and what was found, naming the file and
/// line for a config file's value; CLI11's own text where nothing better is known.
std::string explain_parse_error(const CLI::ParseError& e, const ParseContext& ctx);

/// An error message of a command's own checks, "--flag = VALUE: expected X", prefixed with
/// "FILE:LINE: " where that option's value came from a config file; other messages unchanged.
std::string locate_config_value(const std::string& message, const ParseContext& ctx);

/// The arguments with each `--flag true` / `--flag false` (a boolean flag of the subcommand,
/// before any `--`) joined into `--flag=true` / `--flag=false`, as a user coming from other
/// tools writes it and as CLI11 alone would reject it.
std::vector<std::string> join_flag_values(const CLI::App& sub, std::size_t sub_pos, std::vector<std::string> args);

}  // namespace bnl::cli
