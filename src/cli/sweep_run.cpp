#include "bnlandscape/cli/sweep_run.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include <CLI/CLI.hpp>

#include "bnlandscape/cli/app.h"
#include "bnlandscape/cli/parse_errors.h"
#include "bnlandscape/io/run_reader.h"
#include "bnlandscape/probes/landscape_probe.h"
#include "bnlandscape/proc/process_pool.h"
#include "bnlandscape/train/config.h"

namespace bnl::cli {
namespace {

namespace fs = std::filesystem;

void say(const std::string& line) { std::cout << line << std::endl; }

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

/// One sweep over a pool of processes: prepares each point's child, and counts and reports
/// what became of it.
class SweepRun {
 public:
  SweepRun(const SweepSpec& spec, const std::vector<SweepPoint>& points, fs::path dir, std::int64_t inject_threads)
      : spec_(spec), points_(points), dir_(std::move(dir)), inject_threads_(inject_threads) {}

  proc::PoolHooks hooks() {
    proc::PoolHooks h;
    h.prepare = [this](std::size_t i) { return prepare(i); };
    h.spawn_failed = [this](std::size_t i, const std::string& error) {
      point_failed(i, "cannot start a process: " + error);
    };
    h.started = [this](std::size_t i, const proc::ChildSpec& c) { say(tag(i) + ": started (log " + c.log_file + ")"); };
    h.finished = [this](std::size_t i, const proc::ChildExit& how) { finished(i, how); };
    h.interrupted = [](int sig, std::size_t running) {
      say("sweep: signal " + std::to_string(sig) + ", starting no further point; waiting for " +
          std::to_string(running) + " running");
    };
    return h;
  }

  /// The exit code of a single point (--index): its own, 0 if skipped.
  int single_code() const { return single_code_; }

  /// Prints the summary of all points; returns the sweep's exit code.
  int summarize(std::size_t not_started) const {
    std::string summary = "sweep: " + std::to_string(points_.size()) + " points: " + std::to_string(complete_) +
                          " complete, " + std::to_string(diverged_) + " diverged, " + std::to_string(skipped_) +
                          " skipped (already complete or diverged), " + std::to_string(failed_) + " failed";
    if (interrupted_) summary += ", " + std::to_string(interrupted_) + " interrupted";
    if (not_started) summary += ", " + std::to_string(not_started) + " not started";
    say(summary);
    for (const auto& p : problems_) say("  " + p);
    return (failed_ || interrupted_ || not_started) ? kExitError : kExitOk;
  }

 private:
  std::string file(std::size_t i, const char* ext) const { return (dir_ / (points_[i].name + ext)).string(); }
  std::string tag(std::size_t i) const { return "[" + std::to_string(i) + "] " + points_[i].name; }

  void point_failed(std::size_t i, const std::string& why) {
    ++failed_;
    problems_.push_back(tag(i) + ": " + why);
    say(tag(i) + ": FAILED: " + why);
    single_code_ = kExitError;
  }

  /// True when point i must not run: its run file is complete or diverged (skipped), or is so
  /// for another configuration (failed). An unreadable file (e.g. killed before its first
  /// flush) runs again.
  bool already_done(std::size_t i, const std::string& run_file) {
    if (!fs::exists(run_file)) return false;
    std::optional<std::string> status, toml;
    try {
      io::RunReader r(run_file);
      status = r.string_attr("status");
      toml = r.string_attr("config_toml");
    } catch (const std::exception&) {
    }
    if (!status || (*status != "complete" && *status != "diverged")) return false;
    if (toml) {
      if (auto why = config_mismatch(*toml, run_file, points_[i])) {
        point_failed(i, run_file + " is " + *status + " but belongs to another configuration (" + *why +
                            "); delete it or use another --out");
        return true;
      }
    }
    ++skipped_;
    say(tag(i) + ": skipped (" + *status + ")");
    return true;
  }

  /// Writes point i's resolved configuration and returns its child, or nullopt if it does not run.
  std::optional<proc::ChildSpec> prepare(std::size_t i) {
    const std::string run_file = file(i, ".h5"), toml_file = file(i, ".toml");
    if (already_done(i, run_file)) return std::nullopt;
    try {
      const std::string resolved = resolve_point(spec_, points_[i], run_file, inject_threads_);
      std::ofstream f(toml_file, std::ios::binary);
      f << resolved;
      f.close();
      if (!f) throw train::ConfigError(toml_file + ": cannot write");
    } catch (const std::exception& e) {
      point_failed(i, e.what());
      return std::nullopt;
    }
    // The children run this very binary.
    return proc::ChildSpec{{"/proc/self/exe", spec_.command, "--config", toml_file, "--overwrite"}, file(i, ".log")};
  }

  void finished(std::size_t i, const proc::ChildExit& how) {
    if (how.exited && how.status == kExitOk) {
      ++complete_;
      say(tag(i) + ": complete (" + seconds(how.seconds) + ")");
      return;
    }
    if (how.exited && how.status == kExitDiverged) {
      ++diverged_;
      single_code_ = kExitDiverged;
      say(tag(i) + ": diverged (" + seconds(how.seconds) + ")");
      return;
    }
    const std::string log_file = file(i, ".log");
    const std::string end = how.exited ? "exit " + std::to_string(how.status) : "killed by signal " + std::to_string(how.status);
    if (how.pool_signal) {
      ++interrupted_;
      problems_.push_back(tag(i) + ": interrupted (" + end + ")");
      say(tag(i) + ": interrupted (" + end + ")");
      single_code_ = kExitError;
      return;
    }
    point_failed(i, end + ": " + proc::last_line(log_file) + " (log " + log_file + ")");
  }

  const SweepSpec& spec_;
  const std::vector<SweepPoint>& points_;
  const fs::path dir_;
  const std::int64_t inject_threads_;
  std::size_t complete_ = 0, diverged_ = 0, skipped_ = 0, failed_ = 0, interrupted_ = 0;
  std::vector<std::string> problems_;
  int single_code_ = kExitOk;
};

}  // namespace

std::string resolve_point(const SweepSpec& spec, const SweepPoint& pt, const std::string& out_file,
                          std::int64_t threads) {
  CLI::App app{"sweep point", spec.command};
  train::TrainConfig cfg;
  probes::ProbeConfig pcfg;
  const bool probe = spec.command == "probe";
  train::visit_train_options(cfg, OptionAdder{app});
  if (probe) probes::visit_probe_options(pcfg, OptionAdder{app});
  std::vector<std::string> args;
  for (const auto& [k, v] : pt.values) {
    if (sweep_option_table().at(k).is_bool) {
      args.push_back("--" + dashed(k) + "=" + v);
    } else {
      args.push_back("--" + dashed(k));
      args.push_back(v);
    }
  }
  if (threads > 0) {
    args.push_back("--threads");
    args.push_back(std::to_string(threads));
  }
  args.push_back("--out");
  args.push_back(out_file);
  ParseContext ctx;
  ctx.app = ctx.sub = &app;
  ctx.args = args;
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    throw train::ConfigError(spec.source + ": " + explain_parse_error(e, ctx));
  }
  std::ostringstream os;
  os << "# bnlandscape " << spec.command << " configuration\n"
     << "# sweep " << spec.source << ", point " << pt.index << " of " << spec.size() << ": " << pt.name << "\n"
     << "# repeat with: bnlandscape " << spec.command << " --config <this file> --overwrite\n";
  train::visit_train_options(cfg, TomlWriter{os});
  if (probe) probes::visit_probe_options(pcfg, TomlWriter{os});
  return os.str();
}

int run_sweep_points(const SweepSpec& spec, const std::vector<SweepPoint>& points,
                     const std::vector<std::size_t>& todo, const std::string& out, std::int64_t jobs_option,
                     bool single) {
  const fs::path dir(out);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw train::ConfigError("--out " + out + ": cannot create the directory: " + ec.message());

  bool threads_given = false;
  const std::int64_t user_threads = given_threads(spec, threads_given);
  const std::int64_t cpus = proc::available_cpus();
  std::int64_t jobs = jobs_option > 0 ? jobs_option : std::max<std::int64_t>(1, cpus / std::max<std::int64_t>(1, user_threads));
  jobs = std::max<std::int64_t>(1, std::min<std::int64_t>(jobs, static_cast<std::int64_t>(todo.size())));
  const std::int64_t inject_threads = threads_given ? 0 : std::max<std::int64_t>(1, cpus / jobs);
  if (!single)
    say("sweep: " + std::to_string(points.size()) + " points (" + spec.command + "), " + std::to_string(jobs) +
        " at a time" + (threads_given ? "" : ", " + std::to_string(inject_threads) + " thread(s) each") +
        "; run files, configurations and logs in " + dir.string());

  SweepRun run(spec, points, dir, inject_threads);
  const std::size_t not_started = proc::run_pool(todo, jobs, run.hooks());
  return single ? run.single_code() : run.summarize(not_started);
}

}  // namespace bnl::cli
