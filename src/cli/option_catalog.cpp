#include "bnlandscape/cli/option_catalog.h"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <type_traits>

#include "bnlandscape/cli/compare_options.h"
#include "bnlandscape/cli/config_file.h"
#include "bnlandscape/cli/export_options.h"
#include "bnlandscape/cli/info_options.h"
#include "bnlandscape/cli/launch_options.h"
#include "bnlandscape/cli/probe_options.h"
#include "bnlandscape/cli/surface_options.h"
#include "bnlandscape/cli/sweep_options.h"
#include "bnlandscape/cli/train_options.h"

namespace bnl::cli {
namespace {

template <class T>
std::string default_text(const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_floating_point_v<T>) {
    return format_double(v);
  } else if constexpr (std::is_integral_v<T>) {
    return std::to_string(v);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return toml_quote(v);
  } else {
    return "";
  }
}

/// A visitor appending one row per visited option for `command`.
struct RowCollector {
  std::vector<OptionRow>& rows;
  optspec::Command command;
  bool config_files;
  template <class T>
  void operator()(const optspec::OptionSpec& s, const T& field) {
    OptionRow r;
    r.command = command;
    r.key = s.key;
    if (s.positional) {
      for (char c : r.key) r.flag += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    } else {
      r.flag = "--" + optspec::dashed(s.key);
      if (*s.short_flag) r.flag += std::string(", ") + s.short_flag;
    }
    r.in_config_file = config_files && !s.positional;
    if (!s.required) r.default_value = default_text(field);
    r.unit = s.unit;
    r.allowed = s.expected;
    if (r.allowed.empty() && s.cli_checked && s.ranged) {
      std::ostringstream os;
      os << (s.lo_open ? "> " : ">= ") << s.lo;
      if (s.hi != optspec::kInf) os << (s.hi_open ? ", < " : ", <= ") << s.hi;
      r.allowed = os.str();
    }
    r.doc = s.doc;
    rows.push_back(r);
  }
};

}  // namespace

std::vector<OptionRow> option_rows() {
  std::vector<OptionRow> rows;
  TrainOptions train;
  train::visit_train_specs(train.cfg, RowCollector{rows, optspec::kTrain, true});
  ProbeOptions probe;
  train::visit_train_specs(probe.cfg, RowCollector{rows, optspec::kProbe, true});
  probes::visit_probe_specs(probe.probe, RowCollector{rows, optspec::kProbe, true});
  SurfaceOptions surface;
  visit_surface_specs(surface.surface, RowCollector{rows, optspec::kSurface, true});
  visit_surface_train_specs(surface.cfg, RowCollector{rows, optspec::kSurface, true});
  SweepOptions sweep;
  visit_sweep_specs(sweep, RowCollector{rows, optspec::kSweep, false});
  CompareOptions compare;
  visit_compare_specs(compare, RowCollector{rows, optspec::kCompare, false});
  InfoOptions info;
  visit_info_specs(info, RowCollector{rows, optspec::kInfo, false});
  ExportOptions exp;
  visit_export_specs(exp, RowCollector{rows, optspec::kExport, false});
  LaunchOptions launch;
  visit_launch_specs(launch, RowCollector{rows, optspec::kLaunch, false});
  return rows;
}

bool is_probe_option(const std::string& key) {
  bool train_key = false, probe_key = false;
  train::TrainConfig t;
  train::visit_train_specs(t, [&](const optspec::OptionSpec& s, const auto&) { train_key |= key == s.key; });
  probes::ProbeConfig p;
  probes::visit_probe_specs(p, [&](const optspec::OptionSpec& s, const auto&) { probe_key |= key == s.key; });
  return probe_key && !train_key;
}

namespace {

std::string underscored(std::string key) {
  for (char& c : key)
    if (c == '-') c = '_';
  return key;
}

}  // namespace

std::vector<optspec::Command> commands_taking(const std::string& key) {
  const std::string k = underscored(key);
  std::vector<optspec::Command> out;
  for (const auto& r : option_rows())
    if (r.key == k && (out.empty() || out.back() != r.command)) out.push_back(r.command);
  return out;
}

std::optional<OptionRow> option_row(optspec::Command command, const std::string& key) {
  const std::string k = underscored(key);
  for (const auto& r : option_rows())
    if (r.command == command && r.key == k) return r;
  return std::nullopt;
}

std::optional<optspec::Command> command_named(const std::string& name) {
  for (const auto c : optspec::kCommands)
    if (name == optspec::command_name(c)) return c;
  return std::nullopt;
}

std::string closest_option(optspec::Command command, const std::string& key) {
  const std::string k = underscored(key);
  std::string best;
  std::size_t best_distance = 3;
  for (const auto& r : option_rows()) {
    if (r.command != command) continue;
    // Levenshtein distance, one row at a time.
    std::vector<std::size_t> row(r.key.size() + 1);
    for (std::size_t j = 0; j < row.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= k.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j < row.size(); ++j) {
        const std::size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (k[i - 1] == r.key[j - 1] ? 0 : 1)});
        diagonal = up;
      }
    }
    if (row.back() < best_distance) {
      best_distance = row.back();
      best = r.key;
    }
  }
  return best;
}

std::string other_command_hint(const std::string& key, optspec::Command here, const std::string& shown) {
  std::string kinds, uses;
  const auto takers = commands_taking(key);
  for (std::size_t i = 0; i < takers.size(); ++i) {
    if (takers[i] == here) return "";
    const std::string sep = i == 0 ? "" : i + 1 == takers.size() ? " or " : ", ";
    kinds += sep + optspec::command_name(takers[i]);
    uses += sep + "bnlandscape " + optspec::command_name(takers[i]);
  }
  if (takers.empty()) return "";
  return shown + " is " + (takers.size() == 1 ? "a " : "an option of ") + kinds + (takers.size() == 1 ? " option" : "") +
         "; use " + uses + " (" + optspec::command_name(here) + " does not take it)";
}

}  // namespace bnl::cli
