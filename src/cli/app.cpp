#include "bnlandscape/cli/app.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <set>

#include <CLI/CLI.hpp>

#include "bnlandscape/data/image_set.h"
#include "bnlandscape/io/run_file.h"
#include "bnlandscape/io/run_reader.h"
#include "bnlandscape/cli/option_catalog.h"
#include "bnlandscape/cli/parse_errors.h"
#include "bnlandscape/core/error.h"
#include "bnlandscape/record/build_info.h"
#include "bnlandscape/train/device.h"
#include "bnlandscape/train/process_tuning.h"

namespace bnl::cli {

std::string help_text(const optspec::OptionSpec& s) {
  std::string out = s.doc;
  if (*s.unit) out += std::string(" [") + s.unit + "]";
  const bool words_in_doc = *s.words && out.find(s.words) != std::string::npos;
  if (*s.expected && !words_in_doc && !s.cli_checked) out += std::string(" (expected ") + s.expected + ")";
  return out;
}

void add_cli_check(CLI::Option& o, const optspec::OptionSpec& s) {
  if (*s.words) {
    std::vector<std::string> words;
    const std::string all = s.words;
    for (std::size_t b = 0; b <= all.size();) {
      std::size_t e = all.find(" | ", b);
      if (e == std::string::npos) e = all.size();
      words.push_back(all.substr(b, e - b));
      b = e + 3;
    }
    o.check(CLI::IsMember(words));
  } else if (s.ranged && s.lo == 0 && s.lo_open && s.hi == optspec::kInf) {
    o.check(CLI::PositiveNumber);
  } else if (s.ranged && s.lo == 0 && !s.lo_open && s.hi == optspec::kInf) {
    o.check(CLI::NonNegativeNumber);
  } else if (s.ranged) {
    o.check(CLI::Range(s.lo, s.hi));
  }
}

void add_config_options(CLI::App& sub, bool& dump_config) {
  // Registered so that --help documents it and CLI11 accepts it; its contents were already
  // spliced into the arguments by run_app.
  sub.add_option("--config", "TOML file of options (keys are the long flag names); flags given on the command line win");
  sub.add_flag("--dump-config", dump_config, "print the resolved configuration as TOML and exit")->option_text("BOOL=false");
}

std::string version_text() {
  return std::string("bnlandscape ") + record::version() + " (git " + record::git_revision() + ")\n" +
         train::torch_build() + "\nBLAS: " + train::blas_description();
}

namespace {

/// The options the command line itself gives `sub` (the arguments after its name, before "--").
std::set<const CLI::Option*> command_line_options(const CLI::App& sub, const std::vector<std::string>& args,
                                                  std::size_t sub_pos) {
  std::set<const CLI::Option*> out;
  for (std::size_t i = sub_pos + 1; i < args.size() && args[i] != "--"; ++i)
    if (args[i].size() > 1 && args[i][0] == '-')
      if (const CLI::Option* o = sub.get_option_no_throw(args[i].substr(0, args[i].find('=')))) out.insert(o);
  return out;
}

/// The message for a key of a config file that the subcommand does not take: the subcommand
/// that does, where one does (a run file's stored configuration names the run's own command).
std::string unknown_key(const CLI::App& sub, const ConfigEntry& e, const std::string& path) {
  const std::string where = path + ":" + std::to_string(e.line) + ": ";
  const auto command = command_named(sub.get_name());
  const std::string hint = command ? other_command_hint(e.key, *command, e.key) : "";
  const std::string stored = ":config_toml";
  if (!hint.empty() && path.size() > stored.size() && path.compare(path.size() - stored.size(), stored.size(), stored) == 0) {
    const auto takers = commands_taking(e.key);
    const std::string file = path.substr(0, path.size() - stored.size());
    return where + e.key + " is a " + optspec::command_name(takers.front()) + " option: " + file + " is a " +
           optspec::command_name(takers.front()) + " run; use bnlandscape " + optspec::command_name(takers.front()) +
           " --resume " + file;
  }
  if (!hint.empty()) return where + hint;
  const std::string near = command ? closest_option(*command, e.key) : "";
  return where + "unknown key '" + e.key + "' for 'bnlandscape " + sub.get_name() + "'" +
         (near.empty() ? "" : "; did you mean " + near + "?") + " (see bnlandscape " + sub.get_name() +
         " --help for the options)";
}

/// Replaces "--config FILE" after a subcommand name with the file's entries as arguments
/// (recording in `ctx` where each came from); joins "--flag true|false".
std::vector<std::string> expand_config(CLI::App& app, const std::vector<std::string>& given, ParseContext& ctx) {
  std::vector<std::string> out;
  CLI::App* sub = nullptr;
  std::size_t sub_pos = 0;
  for (std::size_t i = 0; i < given.size(); ++i) {
    if (!sub && !given[i].empty() && given[i][0] != '-') {
      // Not get_subcommand_ptr, which throws for a name that is not one (CLI11 reports it).
      for (CLI::App* s : app.get_subcommands({}))
        if (s->check_name(given[i])) sub = s;
      sub_pos = i;
      break;
    }
  }
  if (!sub) return given;
  ctx.sub = sub;
  const std::vector<std::string> args = join_flag_values(*sub, sub_pos, given);
  // Everything after "--" belongs to another command (launch -- probe --config F): verbatim.
  const auto dashdash = std::find(args.begin() + static_cast<std::ptrdiff_t>(sub_pos), args.end(), std::string("--"));
  const std::vector<std::string> verbatim(dashdash, args.end());
  if (!verbatim.empty()) {
    std::vector<std::string> head(args.begin(), dashdash);
    auto out = expand_config(app, head, ctx);
    out.insert(out.end(), verbatim.begin(), verbatim.end());
    return out;
  }
  std::vector<std::string> rest;
  std::vector<std::string> from_file;
  // A value the command line gives anyway is not spliced in: it would lose to the command
  // line, yet CLI11 would still check it.
  const auto on_command_line = command_line_options(*sub, args, sub_pos);
  auto add_entries = [&](const std::vector<ConfigEntry>& entries, const std::string& path) {
    for (const auto& e : entries) {
      const std::string flag = "--" + dashed(e.key);
      const CLI::Option* opt = sub->get_option_no_throw(flag);
      if (!opt || flag == "--config" || flag == "--help") throw ConfigError(unknown_key(*sub, e, path));
      if (on_command_line.count(opt) && opt->get_expected_max() <= 1) continue;
      ctx.from_files.push_back({opt->get_name(), path + ":" + std::to_string(e.line), e.key, e.text.empty() ? e.value : e.text});
      // A flag takes its value attached; an option gets it as a separate argument, so that an
      // empty value (data_dir = "") is not mistaken for a missing one.
      if (opt->get_expected_max() == 0) {
        from_file.push_back(flag + "=" + e.value);
      } else {
        from_file.push_back(flag);
        from_file.push_back(e.value);
      }
    }
  };
  // --resume FILE: the configuration is the one stored in FILE, so the continued run is the
  // same run; only --quiet may be added. train and probe also take the options given after
  // it and check them once parsed (cli/resume_request.h: only --epochs may grow).
  const bool checked_later = sub->get_name() == "train" || sub->get_name() == "probe";
  for (std::size_t i = sub_pos + 1; i < args.size(); ++i) {
    std::string path;
    if (args[i] == "--resume" && i + 1 < args.size()) path = args[i + 1];
    else if (args[i].rfind("--resume=", 0) == 0) path = args[i].substr(9);
    else continue;
    for (std::size_t j = sub_pos + 1; j < args.size(); ++j) {
      if (j == i || (j == i + 1 && args[i] == "--resume") || args[j] == "--quiet") continue;
      const bool config = args[j] == "--config" || args[j].rfind("--config=", 0) == 0;
      if (checked_later && !config) continue;
      throw ConfigError("--resume " + path + ": expected no other options but --quiet" +
                        (checked_later ? " and --epochs" : "") + " (the run continues "
                               "with the configuration stored in its file), got " + args[j]);
    }
    io::RunReader reader(path);
    const auto status = reader.string_attr("status");
    const auto toml = reader.string_attr("config_toml");
    if (!toml) throw ConfigError("--resume " + path + ": expected a bnlandscape run file, got no config_toml");
    if (status && (*status == "diverged" || (*status == "complete" && !checked_later)))
      throw ConfigError("--resume " + path + ": the run is already " + *status + "; nothing to continue");
    add_entries(parse_config_text(*toml, path + ":config_toml"), path + ":config_toml");
    from_file.push_back("--out");
    from_file.push_back(path);
    from_file.push_back("--overwrite=false");
    std::vector<std::string> out(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(sub_pos + 1));
    out.insert(out.end(), from_file.begin(), from_file.end());
    out.insert(out.end(), args.begin() + static_cast<std::ptrdiff_t>(sub_pos + 1), args.end());
    return out;
  }
  for (std::size_t i = sub_pos + 1; i < args.size(); ++i) {
    std::string path;
    if (args[i] == "--config") {
      if (i + 1 >= args.size()) throw ConfigError("--config: expected a file name, got nothing");
      path = args[++i];
    } else if (args[i].rfind("--config=", 0) == 0) {
      path = args[i].substr(9);
    } else {
      rest.push_back(args[i]);
      continue;
    }
    add_entries(read_config_file(path), path);
  }
  out.assign(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(sub_pos + 1));
  out.insert(out.end(), from_file.begin(), from_file.end());
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

}  // namespace

int run_app(CLI::App& app, int argc, char** argv, const std::vector<Command>& commands) {
  const std::string prog = "bnlandscape";
  ParseContext ctx;
  ctx.app = &app;
  try {
    // A later value replaces an earlier one, which is how the command line overrides a file.
    for (const auto& c : commands)
      for (CLI::Option* o : c.app->get_options())
        if (o->get_expected_max() <= 1)
          o->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    std::vector<std::string> args(argv + 1, argv + argc);
    args = expand_config(app, args, ctx);
    ctx.args = args;
    std::reverse(args.begin(), args.end());  // CLI11 consumes a reversed vector
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << prog << ": error: " << explain_parse_error(e, ctx) << "\n";
    return exit_code_for(e);
  } catch (const std::exception& e) {
    std::cerr << prog << ": error: " << error_message(e) << "\n";
    return exit_code_for(e);
  }
  int code = kExitError;
  try {
    bool ran = false;
    for (const auto& c : commands) {
      if (c.app->parsed()) {
        code = c.run();
        ran = true;
        break;
      }
    }
    if (!ran) std::cerr << app.help();
  } catch (const std::exception& e) {
    std::cerr << prog << ": error: " << locate_config_value(error_message(e), ctx) << "\n";
    code = exit_code_for(e);
  }
  if (io::must_skip_hdf5_cleanup()) {
    std::cout.flush();
    std::cerr.flush();
    std::_Exit(code);
  }
  return code;
}

}  // namespace bnl::cli
