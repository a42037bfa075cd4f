#include "bnlandscape/cli/parse_errors.h"

#include <algorithm>
#include <optional>

#include <CLI/App.hpp>
#include <CLI/Error.hpp>

#include "bnlandscape/cli/option_catalog.h"
#include "bnlandscape/core/parse.h"

namespace bnl::cli {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

/// A value as the messages show it: numbers and booleans bare, anything else in quotes.
std::string shown(const std::string& v) {
  if (v == "true" || v == "false" || core::parse_double(v)) return v;
  return "\"" + v + "\"";
}

/// "--lr" -> "lr": the key of the option catalogue.
std::string key_of(const std::string& flag) {
  std::string k = flag;
  while (!k.empty() && k[0] == '-') k.erase(0, 1);
  return k;
}

/// The tokens the user gave the subcommand (after its name, before any "--"), or the main
/// app's when no subcommand was named.
std::vector<std::string> own_tokens(const ParseContext& ctx) {
  auto begin = ctx.args.begin();
  if (ctx.sub) {
    const auto at = std::find(ctx.args.begin(), ctx.args.end(), ctx.sub->get_name());
    if (at != ctx.args.end()) begin = at + 1;
  }
  return {begin, std::find(begin, ctx.args.end(), std::string("--"))};
}

const FileValue* from_file(const ParseContext& ctx, const std::string& flag) {
  for (auto it = ctx.from_files.rbegin(); it != ctx.from_files.rend(); ++it)
    if (it->flag == flag) return &*it;
  return nullptr;
}

/// The last value the command line gives `flag` ("--x v" or "--x=v"), nullopt if none.
std::optional<std::string> command_line_value(const ParseContext& ctx, const std::string& flag) {
  std::optional<std::string> out;
  const auto tokens = own_tokens(ctx);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (starts_with(tokens[i], flag + "=")) out = tokens[i].substr(flag.size() + 1);
    else if (tokens[i] == flag && i + 1 < tokens.size()) out = tokens[i + 1];
  }
  return out;
}

/// What the declaration of `flag` allows ("" where it says nothing).
std::string allowed(const ParseContext& ctx, const std::string& flag) {
  if (!ctx.sub) return "";
  const auto command = command_named(ctx.sub->get_name());
  if (!command) return "";
  const auto row = option_row(*command, key_of(flag));
  return row ? row->allowed : "";
}

/// The kind of value an option's type takes, in words.
std::string type_words(const CLI::Option* o) {
  const std::string t = o ? o->get_type_name() : "";
  if (t == "FLOAT") return "a number";
  if (t == "INT") return "an integer";
  if (t == "UINT") return "an integer >= 0";
  if (o && o->get_expected_max() == 0) return "true or false";
  return "a value";
}

/// "FILE:LINE: key = TEXT: expected X" for a value from a file, else "--flag = VALUE: expected X".
std::string bad_value(const ParseContext& ctx, const std::string& flag, const std::string& value,
                      const std::string& expected) {
  if (const FileValue* f = from_file(ctx, flag)) return f->where + ": " + f->key + " = " + f->text + ": expected " + expected;
  const auto v = command_line_value(ctx, flag);
  return flag + " = " + shown(v ? *v : value) + ": expected " + expected;
}

std::string with_allowed(std::string expected, const std::string& allowed_text) {
  if (!allowed_text.empty() && allowed_text != expected) expected += " (" + allowed_text + ")";
  return expected;
}

std::string subcommand_list(const CLI::App& app) {
  std::string out;
  for (const CLI::App* s : app.get_subcommands({})) out += (out.empty() ? "" : ", ") + s->get_name();
  return out;
}

std::string explain_conversion(const std::string& msg, const ParseContext& ctx) {
  const CLI::App* sub = ctx.sub;
  const std::string prefix = "Could not convert: ";
  if (starts_with(msg, prefix)) {
    const std::string rest = msg.substr(prefix.size());
    const auto eq = rest.find(" = ");
    const std::string flag = rest.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : rest.substr(eq + 3);
    const CLI::Option* o = sub ? sub->get_option_no_throw(flag) : nullptr;
    return bad_value(ctx, flag, value, with_allowed(type_words(o), allowed(ctx, flag)));
  }
  const auto colon = msg.find(':');
  const std::string flag = msg.substr(0, colon);
  if (sub && colon != std::string::npos) {
    const CLI::Option* o = sub->get_option_no_throw(flag);
    if (o && o->get_expected_max() == 0)
      return bad_value(ctx, flag, "", "true or false, attached: " + flag + "=true or " + flag + "=false");
  }
  return msg;
}

std::string explain_validation(const std::string& msg, const ParseContext& ctx) {
  const auto colon = msg.find(": ");
  if (colon == std::string::npos) return msg;
  const std::string flag = msg.substr(0, colon), what = msg.substr(colon + 2);
  for (const std::string& missing : {std::string("File does not exist: "), std::string("File is actually a directory: ")}) {
    if (!starts_with(what, missing)) continue;
    const std::string path = what.substr(missing.size());
    const bool absent = missing.find("does not exist") != std::string::npos;
    const std::string found = absent ? "cannot open: No such file or directory" : "expected a file, got a directory";
    if (const FileValue* f = from_file(ctx, flag)) return f->where + ": " + f->key + " = " + f->text + ": " + path + ": " + found;
    return path + ": " + found;
  }
  const std::string a = allowed(ctx, flag);
  return bad_value(ctx, flag, "", a.empty() ? what : a);
}

/// A token the subcommand does not take: an option of another subcommand, an unknown option,
/// a value after a flag, or `launch`'s command without "--".
std::string explain_extras(const std::string& msg, const ParseContext& ctx) {
  if (!ctx.sub) {
    for (const auto& t : own_tokens(ctx))
      if (!t.empty() && t[0] != '-')
        return t + ": expected a subcommand (" + subcommand_list(*ctx.app) + "), got '" + t + "'";
    return msg + " (options go after the subcommand: bnlandscape SUBCOMMAND [OPTIONS]; see bnlandscape --help)";
  }
  const std::string name = ctx.sub->get_name();
  if (name == "launch" && std::find(ctx.args.begin(), ctx.args.end(), "--") == ctx.args.end())
    return "launch: expected -- before the command to run, e.g. bnlandscape launch --nproc 2 -- probe --checkpoint "
           "run.h5 --out p.h5";
  const auto tokens = own_tokens(ctx);
  const auto command = command_named(name);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (t.size() < 2 || t[0] != '-' || core::parse_double(t)) continue;
    const std::string flag = t.substr(0, t.find('='));
    const CLI::Option* o = ctx.sub->get_option_no_throw(flag);
    if (!o) {
      const std::string hint = command ? other_command_hint(key_of(flag), *command, flag) : "";
      if (!hint.empty()) return hint;
      const std::string near = command ? closest_option(*command, key_of(flag)) : "";
      return flag + ": not an option of bnlandscape " + name +
             (near.empty() ? "" : "; did you mean --" + optspec::dashed(near) + "?") + " (see bnlandscape " + name +
             " --help)";
    }
    if (t.find('=') != std::string::npos || i + 1 >= tokens.size()) continue;
    if (o->get_expected_max() == 0) {
      const std::string& next = tokens[i + 1];
      if (!next.empty() && next[0] != '-')
        return flag + " " + next + ": " + flag + " is a flag; write " + flag + " alone or " + flag + "=true to turn it on, " +
               flag + "=false to turn it off";
    } else {
      ++i;  // its value
    }
  }
  std::string extras;
  for (const auto& t : tokens)
    if (msg.find(t) != std::string::npos) extras += (extras.empty() ? "" : " ") + t;
  return "bnlandscape " + name + ": unexpected argument" + (extras.find(' ') == std::string::npos ? " " : "s ") +
         (extras.empty() ? msg : extras) + " (see bnlandscape " + name + " --help)";
}

std::string explain_required(const std::string& msg, const ParseContext& ctx) {
  if (msg == "A subcommand is required" && ctx.app) {
    std::string got = "none";
    for (const auto& t : ctx.args)
      if (!t.empty() && t[0] != '-') {
        got = "'" + t + "'";
        break;
      }
    return "expected a subcommand (" + subcommand_list(*ctx.app) + "), got " + got + "; see bnlandscape --help";
  }
  const std::string suffix = " is required";
  if (ctx.sub && msg.size() > suffix.size() && msg.compare(msg.size() - suffix.size(), suffix.size(), suffix) == 0) {
    const std::string flag = msg.substr(0, msg.size() - suffix.size());
    const std::string a = allowed(ctx, flag);
    return "bnlandscape " + ctx.sub->get_name() + ": expected " + flag + (a.empty() ? "" : " (" + a + ")") + ", got none";
  }
  return msg;
}

/// "--lr: 1 required FLOAT missing": an option given last without its value.
std::string explain_mismatch(const std::string& msg, const ParseContext& ctx) {
  const auto tokens = own_tokens(ctx);
  if (ctx.sub && !tokens.empty()) {
    const CLI::Option* o = ctx.sub->get_option_no_throw(tokens.back());
    if (o && o->get_expected_max() > 0)
      return tokens.back() + ": expected " + with_allowed(type_words(o), allowed(ctx, tokens.back())) +
             " after it, got nothing";
  }
  return msg;
}

}  // namespace

std::string explain_parse_error(const CLI::ParseError& e, const ParseContext& ctx) {
  const std::string msg = e.what();
  if (dynamic_cast<const CLI::ExtrasError*>(&e)) return explain_extras(msg, ctx);
  if (dynamic_cast<const CLI::ConversionError*>(&e)) return explain_conversion(msg, ctx);
  if (dynamic_cast<const CLI::ValidationError*>(&e)) return explain_validation(msg, ctx);
  if (dynamic_cast<const CLI::RequiredError*>(&e)) return explain_required(msg, ctx);
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e)) return explain_mismatch(msg, ctx);
  return msg;
}

std::string locate_config_value(const std::string& message, const ParseContext& ctx) {
  if (!starts_with(message, "--")) return message;
  const std::string flag = message.substr(0, message.find_first_of(" :="));
  const FileValue* f = from_file(ctx, flag);
  return f ? f->where + ": " + message : message;
}

std::vector<std::string> join_flag_values(const CLI::App& sub, std::size_t sub_pos, std::vector<std::string> args) {
  std::vector<std::string> out(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(sub_pos + 1));
  for (std::size_t i = sub_pos + 1; i < args.size(); ++i) {
    if (args[i] == "--") {
      out.insert(out.end(), args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      break;
    }
    const CLI::Option* o = starts_with(args[i], "--") ? sub.get_option_no_throw(args[i]) : nullptr;
    if (o && o->get_expected_max() == 0 && i + 1 < args.size() && (args[i + 1] == "true" || args[i + 1] == "false")) {
      out.push_back(args[i] + "=" + args[i + 1]);
      ++i;
    } else {
      out.push_back(args[i]);
    }
  }
  return out;
}

}  // namespace bnl::cli
