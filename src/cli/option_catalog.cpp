#include "bnlandscape/cli/option_catalog.h"

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

}  // namespace bnl::cli
