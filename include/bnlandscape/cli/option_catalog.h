#pragma once
/// \file
/// Every declared option of every subcommand, read from the declarations (visit_*_specs) as
/// rows of text: what docs/options.md lists, and the questions other code asks of the
/// declarations (is a key a probe option, which keys a checkpoint's configuration supplies).

#include <optional>
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

/// The subcommands whose declared options include `key` (underscores or dashes), in
/// optspec::kCommands order; empty for a key no subcommand takes.
std::vector<optspec::Command> commands_taking(const std::string& key);

/// The row of `key` (underscores or dashes) for subcommand `command`, nullopt when it does not
/// take the option.
std::optional<OptionRow> option_row(optspec::Command command, const std::string& key);

/// The Command bit of a subcommand's name ("train" -> kTrain); nullopt for another name.
std::optional<optspec::Command> command_named(const std::string& name);

/// The option of subcommand `command` closest to the unknown `key` (underscores or dashes) when
/// one is at most 2 edits (insert, delete, replace a character) away, for "did you mean"; "" if
/// none is.
std::string closest_option(optspec::Command command, const std::string& key);

/// For an option `key` that subcommand `here` does not take: "step_interval is a probe option;
/// use bnlandscape probe" (naming every subcommand that takes it), or "" when none does.
/// `shown` is how the user wrote the option (a flag or a TOML key).
std::string other_command_hint(const std::string& key, optspec::Command here, const std::string& shown);

}  // namespace bnl::cli
