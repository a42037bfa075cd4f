#include "bnlandscape/cli/options_doc.h"

#include <sstream>

namespace bnl::cli {
namespace {

/// A table cell: '|' escaped, so that word sets ("a | b") stay in one cell.
std::string cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string code(const std::string& s) { return s.empty() ? "" : "`" + cell(s) + "`"; }

}  // namespace

std::string options_markdown(const std::vector<OptionRow>& rows) {
  std::ostringstream os;
  os << "# Options\n\n"
        "<!-- Generated from the option declarations (visit_*_specs in train/config.h,\n"
        "probes/probe_config.h and cli/*_options.h); do not edit. Regenerate with\n"
        "BNL_UPDATE_DOCS=1 build/tests/cli_tests --gtest_filter='OptionsDoc.*' -->\n\n"
        "Each option is declared once; its flag, TOML key, default, unit, allowed values and doc\n"
        "below come from that declaration, as do `--help`, `--dump-config` and the checks of a\n"
        "bad value (\"--key = value: expected ...\", exit code 2). `train`, `probe` and `surface`\n"
        "also read their options from `--config FILE` (TOML; keys with underscores or dashes, the\n"
        "command line wins); a `sweep` file's keys are those of `train` and `probe` (`probe` runs\n"
        "when any key is a probe option). Besides the options below, `train`, `probe` and `surface`\n"
        "take `--config FILE`, `--dump-config` and `--resume FILE`.\n";
  for (optspec::Command c : optspec::kCommands) {
    bool header = false;
    for (const auto& r : rows) {
      if (r.command != c) continue;
      if (!header) {
        os << "\n## " << optspec::command_name(c) << "\n\n"
           << "| flag | TOML key | default | unit | allowed | doc |\n"
           << "|---|---|---|---|---|---|\n";
        header = true;
      }
      os << "| " << code(r.flag) << " | " << (r.in_config_file ? code(r.key) : "") << " | "
         << code(r.default_value) << " | " << cell(r.unit) << " | " << cell(r.allowed) << " | " << cell(r.doc)
         << " |\n";
    }
  }
  return os.str();
}

std::string stale_report(const std::string& committed, const std::string& generated) {
  if (committed == generated) return "";
  std::istringstream a(committed), b(generated);
  std::string la, lb;
  for (int line = 1;; ++line) {
    const bool more_a = static_cast<bool>(std::getline(a, la));
    const bool more_b = static_cast<bool>(std::getline(b, lb));
    if (!more_a) la = "(end of file)";
    if (!more_b) lb = "(end of file)";
    if (la != lb || !more_a || !more_b)
      return "docs/options.md is stale at line " + std::to_string(line) + ":\n  committed: " + la +
             "\n  declared:  " + lb +
             "\nregenerate with BNL_UPDATE_DOCS=1 build/tests/cli_tests --gtest_filter='OptionsDoc.*'";
  }
}

}  // namespace bnl::cli
