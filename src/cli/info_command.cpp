#include "bnlandscape/cli/info_command.h"
#include "bnlandscape/cli/info_options.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

#include "bnlandscape/stats/descriptive.h"
#include "bnlandscape/cli/config_file.h"
#include "bnlandscape/cli/export_command.h"
#include "bnlandscape/io/integrity.h"
#include "bnlandscape/io/run_reader.h"
#include "bnlandscape/record/schema_names.h"

namespace bnl::cli {
namespace {

using namespace record::names;

std::string num(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string shape(const std::vector<std::int64_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? " x " : "") + std::to_string(dims[i]);
  return s + "]";
}

/// Appends words to lines of at most `width` characters, each line starting with `indent`.
std::string wrap(const std::vector<std::string>& words, const std::string& indent, std::size_t width = 100) {
  std::string out, line = indent;
  for (const auto& w : words) {
    if (line.size() > indent.size() && line.size() + 2 + w.size() > width) {
      out += line + "\n";
      line = indent;
    }
    line += (line.size() > indent.size() ? ", " : "") + w;
  }
  if (line.size() > indent.size()) out += line + "\n";
  return out;
}

std::string pad(const std::string& s, std::size_t w) { return s.size() >= w ? s + " " : s + std::string(w - s.size(), ' '); }

/// "name value" pairs of the last row of a series group's 1-D datasets (and a few 2-D summaries).
std::vector<std::string> last_values(const SeriesGroup& g) {
  std::vector<std::string> out;
  if (g.rows <= 0) return out;
  const auto last = static_cast<std::size_t>(g.rows - 1);
  for (const auto& c : g.columns) {
    if (c.dims.empty() || c.dims[0] != g.rows || c.name == kStep) continue;
    if (c.dims.size() == 1) {
      out.push_back(c.name + " " + num(c.values[last]));
    } else if (c.dims.size() == 2 && c.dims[1] > 0) {
      const auto w = static_cast<std::size_t>(c.dims[1]);
      if (c.name == kEigvals) {
        out.push_back("lambda_max " + num(c.values[last * w]));
      } else if (c.name == kGgnEigvals || c.name == kEigvalsLayer || c.name == kEigvalsAdaptive ||
                 c.name == kGgnEigvalsLayer || c.name == kGgnEigvalsAdaptive) {
        out.push_back(c.name + "[0] " + num(c.values[last * w]));
      } else if (c.name == kGradTopkShare || c.name == kGgnGradTopkShare) {
        out.push_back(c.name + " (top-" + std::to_string(w) + ") " + num(c.values[last * w + w - 1]));
      } else if (g.path == kIcs && c.name == kL2) {
        out.push_back("l2 (layer mean) " + num(stats::finite_mean(&c.values[last * w], w)));
      } else if (c.name == kGradPred || c.name == kLossPath) {
        double mx = -INFINITY;
        for (std::size_t j = 0; j < w; ++j) mx = std::max(mx, c.values[last * w + j]);
        out.push_back(c.name + " (max) " + num(mx));
      }
    }
  }
  return out;
}

double last_step(const SeriesGroup& g) {
  for (const auto& c : g.columns)
    if (c.name == kStep && c.dims.size() == 1 && !c.values.empty()) return c.values.back();
  return NAN;
}

/// Shell-quotes `s` when it needs it.
std::string quoted(const std::string& s) {
  if (s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+") == std::string::npos) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// The "integrity" lines: whether every object reads back, what does not, the newest usable
/// checkpoint and the command that resumes from it. Returns whether the file is whole.
bool describe_integrity(const std::string& path, const io::IntegrityReport& h, bool probe_run, bool finished) {
  if (!h.opens) {
    // HDF5's words for a file of another kind, said as what was expected and found.
    const bool foreign = h.open_error.find("file signature not found") != std::string::npos;
    std::cout << "  integrity DAMAGED: the file does not open as HDF5 ("
              << (foreign ? "expected an HDF5 file, got a file without the HDF5 signature" : h.open_error) << ")\n";
    return false;
  }
  if (h.whole()) {
    std::cout << "  integrity ok (" << h.datasets_checked << " datasets read back in full)\n";
  } else {
    std::cout << "  integrity DAMAGED: " << h.unreadable.size() << " of " << h.datasets_checked + h.unreadable.size()
              << " objects do not read back\n";
    for (const auto& u : h.unreadable) std::cout << "    unreadable " << u.path << ": " << u.reason << "\n";
  }
  for (const auto& g : h.unusable_checkpoints) std::cout << "    unusable checkpoint " << g << "\n";
  if (!h.usable_checkpoints.empty()) {
    if (!h.whole() || !h.unusable_checkpoints.empty())
      std::cout << "    newest usable checkpoint " << h.usable_checkpoints.back() << "\n";
    if (!finished) std::cout << "  resume    bnlandscape " << (probe_run ? "probe" : "train") << " --resume " << quoted(path) << "\n";
  } else if (!h.unusable_checkpoints.empty()) {
    std::cout << "    no usable checkpoint: the run cannot be resumed, only started again\n";
  }
  return h.whole();
}

bool describe(const std::string& path) {
  const io::IntegrityReport health = io::check_integrity(path);
  if (!health.opens) {
    std::cout << path << "\n";
    describe_integrity(path, health, false, false);
    return false;
  }
  io::RunReader r(path);
  const auto s = [&](const char* name) { return r.string_attr(name); };
  const auto n = [&](const char* name) { return r.number_attr(name); };
  std::cout << path << "\n";
  std::string fmt = s(kFormat).value_or("?");
  if (auto v = n(kSchemaVersion)) fmt += ", schema_version " + num(*v);
  std::cout << "  format    " << fmt << "\n";
  std::string status = s(kStatus).value_or("?");
  if (auto d = n(kDivergedAtStep); d && *d >= 0) status += " (diverged at step " + num(*d) + ")";
  if (status == "running") status += " (still running, or its writer was killed)";
  std::cout << "  status    " << status << "\n";
  const bool probe_run = r.exists(kProbes) && !r.string_attr(kCheckpointFile) && r.exists(kCheckpoints);
  const bool whole = describe_integrity(path, health, probe_run, s(kStatus).value_or("") == "complete");
  if (!whole) {
    std::cout << "  (the rest is what still reads back)\n";
  }
  if (auto v = s(kVersion)) {
    std::cout << "  program   bnlandscape " << *v << " (git " << s(kGitRevision).value_or("?") << "), torch "
              << s(kTorchVersion).value_or("?") << ", " << s(kBlas).value_or("?") << "\n";
  }
  if (auto d = s(kDevice)) std::cout << "  device    " << *d << " (" << s(kDeviceName).value_or("?") << "), "
                                      << s(kTorchBuild).value_or("?") << "\n";
  if (auto h = s(kHost)) {
    std::cout << "  host      " << *h;
    if (auto t = n(kIntraOpThreads)) std::cout << ", intra-op threads " << num(*t);
    if (auto t = n(kBlasThreads)) std::cout << ", BLAS threads " << num(*t);
    std::cout << "\n";
  }
  if (auto t = s(kStartTime)) {
    const std::string end = s(kEndTime).value_or("");
    std::cout << "  time      " << *t << " -> " << (end.empty() ? "(not finished)" : end) << "\n";
  }
  if (auto c = s(kCheckpointFile)) std::cout << "  probed    " << *c << " " << s(kCheckpointGroup).value_or("") << "\n";
  if (auto m = s(kModelSha256)) {
    // --arch torchscript: the file's hash and the size of its recorded code (model_code).
    const std::string code = s(kModelCode).value_or("");
    std::cout << "  model     sha256 " << *m << ", code " << std::count(code.begin(), code.end(), '\n')
              << " lines (attribute model_code)\n";
  }
  if (auto toml = s(kConfigToml)) {
    std::vector<std::string> words;
    try {
      for (const auto& e : parse_config_text(*toml, path + ":config_toml")) words.push_back(e.key + "=" + e.value);
    } catch (const std::exception& e) {
      words.push_back(std::string("(unreadable: ") + e.what() + ")");
    }
    std::cout << "  config\n" << wrap(words, "    ");
  }

  std::vector<SeriesGroup> groups;
  try {
    groups = read_series_groups(path);
  } catch (const std::exception& e) {
    if (whole) throw;
    std::cout << "series\n  (unreadable: " << e.what() << ")\n";
    return false;
  }
  std::cout << "series\n";
  if (groups.empty()) std::cout << "  (none)\n";
  std::size_t w = 0;
  for (const auto& g : groups) w = std::max(w, g.path.size());
  for (const auto& g : groups) {
    std::vector<std::string> words;
    for (const auto& c : g.columns) {
      if (c.dims.size() == 1 && c.dims[0] == g.rows) words.push_back(c.name);
      else words.push_back(c.name + " " + shape(c.dims));
    }
    const std::string head = "  " + pad(g.path, w + 2) + pad(std::to_string(g.rows) + (g.rows == 1 ? " row" : " rows"), 12);
    const std::string body = wrap(words, std::string(head.size(), ' '));
    std::cout << head << (body.size() > head.size() ? body.substr(head.size()) : std::string("\n"));
  }
  if (r.exists(kCheckpoints) && !r.is_dataset(kCheckpoints)) {
    const auto names = r.list(kCheckpoints);
    std::vector<std::pair<double, std::string>> steps;  // (step, group), by step
    for (const auto& name : names)
      if (auto st = r.number_attr(kCheckpointStep, at(kCheckpoints, name))) steps.emplace_back(*st, at(kCheckpoints, name));
    std::cout << "checkpoints\n  " << names.size() << " group" << (names.size() == 1 ? "" : "s");
    if (!steps.empty()) {
      std::sort(steps.begin(), steps.end());
      std::cout << ", steps " << num(steps.front().first) << " .. " << num(steps.back().first);
    }
    std::cout << "\n";
    // The names --checkpoint-group takes (the last is probe's and surface's default).
    std::vector<std::string> words;
    for (const auto& [step, group] : steps) words.push_back(group + " (step " + num(step) + ")");
    if (!words.empty()) std::cout << wrap(words, "    ");
  }
  std::vector<std::string> lines;
  for (const auto& g : groups) {
    if (g.path != kTrainSteps && g.path != kTrainEpochs && g.path != kTrainEvals && g.path != kProbes && g.path != kIcs)
      continue;
    const auto vals = last_values(g);
    if (vals.empty()) continue;
    std::string head = "  " + g.path;
    const double st = last_step(g);
    if (std::isfinite(st)) head += " (step " + num(st) + ")";
    lines.push_back(head + ":");
    lines.push_back(wrap(vals, "    "));
  }
  if (!lines.empty()) {
    std::cout << "last values\n";
    for (std::size_t i = 0; i < lines.size(); i += 2) std::cout << lines[i] << "\n" << lines[i + 1];
  }
  return whole;
}

}  // namespace

Command setup_info(CLI::App& app) {
  auto opt = std::make_shared<InfoOptions>();
  CLI::App* sub = app.add_subcommand("info", "describe what a run file holds");
  sub->footer(
      "Prints the provenance and status, the configuration (root attribute config_toml), every group\n"
      "of series with its datasets (shape shown where it differs from [rows]), the checkpoints, and\n"
      "the last row of /train/steps, /train/epochs, /train/evals, /probes and /ics. Every dataset is\n"
      "read back in full first: a damaged file is reported with what does not read, its newest\n"
      "usable checkpoint and the command that resumes from it, and the exit code is 2.");
  visit_info_specs(*opt, OptionAdder{*sub});
  return {sub, [opt] { return run_info(*opt); }};
}

int run_info(const InfoOptions& opt) {
  bool all_whole = true;
  for (std::size_t i = 0; i < opt.files.size(); ++i) {
    if (i) std::cout << "\n";
    all_whole = describe(opt.files[i]) && all_whole;
  }
  return all_whole ? kExitOk : kExitError;
}

}  // namespace bnl::cli
