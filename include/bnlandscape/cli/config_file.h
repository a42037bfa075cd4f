#pragma once
/// \file
/// Configuration files: a flat TOML subset whose keys are the long flag names ("hidden_dims"
/// and "hidden-dims" both accepted). CLI11 2.1 reads config files only at the main-app level
/// and silently ignores unknown keys, so subcommand configs go through this small glue: the
/// file becomes "--key=value" arguments placed before the command line's, so the command
/// line wins.

#include <string>
#include <utility>
#include <vector>

namespace bnl::cli {

/// One `key = value` of a config file; `value` is already in command-line form (strings
/// unquoted, arrays joined with commas, booleans true/false).
struct ConfigEntry {
  std::string key;  ///< as written, dashes or underscores
  std::string value;
  int line = 0;
  std::string text;  ///< the value as written in the file (quotes and brackets kept), for messages
};

/// Parses TOML subset text: `key = value` lines, `#` comments, basic "..." and literal '...'
/// strings, integers, floats, booleans, one-line arrays of those; and, when `allow_tables`,
/// `[table]` headers (returned as keys "table.key"). Throws train::ConfigError naming
/// `source`, the line and what was wrong.
std::vector<ConfigEntry> parse_config_text(const std::string& text, const std::string& source,
                                           bool allow_tables = false);

/// Reads and parses a config file; a file that cannot be read is a ConfigError "PATH: cannot
/// open: REASON".
std::vector<ConfigEntry> read_config_file(const std::string& path, bool allow_tables = false);

/// Formats a string as a TOML basic string ("..." with escapes).
std::string toml_quote(const std::string& s);

/// Formats a double so that parsing it back gives the same double (shortest round trip).
std::string format_double(double v);

}  // namespace bnl::cli
