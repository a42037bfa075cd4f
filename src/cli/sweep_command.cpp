#include "bnlandscape/cli/sweep_command.h"
#include "bnlandscape/cli/sweep_options.h"

#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <type_traits>

#include <CLI/CLI.hpp>

#include "bnlandscape/io/run_reader.h"
#include "bnlandscape/probes/landscape_probe.h"
#include "bnlandscape/train/config.h"

extern char** environ;

namespace bnl::cli {
namespace {

namespace fs = std::filesystem;

struct OptionInfo {
  bool is_bool = false;
  bool is_probe = false;
};

/// Every option a sweep file may set: those of `train`, and those `probe` adds.
const std::map<std::string, OptionInfo>& option_table() {
  static const std::map<std::string, OptionInfo> table = [] {
    std::map<std::string, OptionInfo> m;
    train::TrainConfig c;
    train::visit_train_options(c, [&](const char* key, auto& field, const char*) {
      m[key] = {std::is_same_v<std::decay_t<decltype(field)>, bool>, false};
    });
    probes::ProbeConfig p;
    probes::visit_probe_options(p, [&](const char* key, auto& field, const char*) {
      if (!m.count(key)) m[key] = {std::is_same_v<std::decay_t<decltype(field)>, bool>, true};
    });
    return m;
  }();
  return table;
}

std::string underscored(std::string key) {
  for (char& ch : key)
    if (ch == '-') ch = '_';
  return key;
}

[[noreturn]] void fail(const std::string& source, int line, const std::string& what) {
  throw train::ConfigError(source + ":" + std::to_string(line) + ": " + what);
}

/// The elements of a one-line TOML array after the '=' of `raw`, strings unquoted (the line
/// was already checked by parse_config_text; this keeps "512,256" one element). nullopt if
/// the value is not an array.
std::optional<std::vector<std::string>> parse_list(const std::string& raw, const std::string& source, int line) {
  std::size_t i = raw.find('=');
  if (i == std::string::npos) return std::nullopt;
  ++i;
  auto ws = [&] {
    while (i < raw.size() && (raw[i] == ' ' || raw[i] == '\t')) ++i;
  };
  ws();
  if (i >= raw.size() || raw[i] != '[') return std::nullopt;
  ++i;
  std::vector<std::string> out;
  while (true) {
    ws();
    if (i >= raw.size()) fail(source, line, "unterminated array");
    if (raw[i] == ']') break;
    std::string v;
    const char q = raw[i];
    if (q == '"' || q == '\'') {
      ++i;
      while (true) {
        if (i >= raw.size()) fail(source, line, "unterminated string");
        char ch = raw[i++];
        if (ch == q) break;
        if (q == '"' && ch == '\\' && i < raw.size()) {
          const char e = raw[i++];
          v += e == 'n' ? '\n' : e == 't' ? '\t' : e;
        } else {
          v += ch;
        }
      }
    } else {
      const std::size_t start = i;
      while (i < raw.size() && raw[i] != ',' && raw[i] != ']' && raw[i] != ' ' && raw[i] != '\t' && raw[i] != '#') ++i;
      std::string tok = raw.substr(start, i - start);
      if (tok != "true" && tok != "false") {
        tok.erase(std::remove(tok.begin(), tok.end(), '_'), tok.end());
        if (!tok.empty() && tok[0] == '+') tok.erase(0, 1);
      }
      v = tok;
    }
    out.push_back(v);
    ws();
    if (i < raw.size() && raw[i] == ',') {
      ++i;
      continue;
    }
    if (i < raw.size() && raw[i] == ']') break;
    fail(source, line, "expected ',' or ']' in array");
  }
  return out;
}

bool same_value(std::string a, std::string b) {
  auto strip = [](std::string& s) { s.erase(std::remove_if(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t'; }), s.end()); };
  strip(a);
  strip(b);
  if (a == b) return true;
  double x = 0, y = 0;
  const auto rx = std::from_chars(a.data(), a.data() + a.size(), x);
  const auto ry = std::from_chars(b.data(), b.data() + b.size(), y);
  return rx.ec == std::errc() && ry.ec == std::errc() && rx.ptr == a.data() + a.size() &&
         ry.ptr == b.data() + b.size() && x == y;
}

/// Why a finished run file does not belong to this point (nullopt if it does): a key of the
/// point whose value in the file's config_toml differs.
std::optional<std::string> config_mismatch(const std::string& stored_toml, const std::string& file,
                                           const SweepPoint& pt) {
  std::map<std::string, std::string> stored;
  for (const auto& e : parse_config_text(stored_toml, file + ":config_toml")) stored[underscored(e.key)] = e.value;
  for (const auto& [k, v] : pt.values) {
    if (k == "quiet" || k == "overwrite") continue;
    auto it = stored.find(k);
    if (it == stored.end()) return k + " is not in its configuration";
    if (!same_value(it->second, v)) return k + " = " + it->second + " there, " + v + " in the sweep";
  }
  return std::nullopt;
}

/// CPUs this process may run on (respects taskset, cgroups' cpusets and SLURM's allocation).
std::int64_t available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

/// The threads option the user gave (largest value if swept), 0 if none.
std::int64_t given_threads(const SweepSpec& spec, bool& given) {
  std::int64_t t = 0;
  given = false;
  auto take = [&](const std::string& v) {
    given = true;
    try {
      t = std::max<std::int64_t>(t, std::stoll(v));
    } catch (const std::exception&) {
    }
  };
  for (const auto& e : spec.fixed)
    if (e.key == "threads") take(e.value);
  for (const auto& a : spec.axes)
    if (a.key == "threads")
      for (const auto& v : a.values) take(v);
  return t;
}

/// The resolved configuration of a point as TOML (what `--dump-config` prints), parsed with the
/// command's own option table, so a bad value fails here with CLI11's message.
std::string resolve_point(const SweepSpec& spec, const SweepPoint& pt, const std::string& out_file,
                          std::int64_t threads) {
  CLI::App app{"sweep point"};
  train::TrainConfig cfg;
  probes::ProbeConfig pcfg;
  const bool probe = spec.command == "probe";
  train::visit_train_options(cfg, OptionAdder{app});
  if (probe) probes::visit_probe_options(pcfg, OptionAdder{app});
  std::vector<std::string> args;
  for (const auto& [k, v] : pt.values) {
    if (option_table().at(k).is_bool) {
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
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    throw train::ConfigError(e.what());
  }
  std::ostringstream os;
  os << "# bnlandscape " << spec.command << " configuration\n"
     << "# sweep " << spec.source << ", point " << pt.index << " of " << spec.size() << ": " << pt.name << "\n"
     << "# repeat with: bnlandscape " << spec.command << " --config <this file> --overwrite\n";
  train::visit_train_options(cfg, TomlWriter{os});
  if (probe) probes::visit_probe_options(pcfg, TomlWriter{os});
  return os.str();
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) {
    if (ch == '\'') out += "'\\''";
    else out += ch;
  }
  return out + "'";
}

std::string last_line(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str(), last;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find_first_of("\r\n", start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (line.find_first_not_of(" \t") != std::string::npos) last = line;
    start = end + 1;
  }
  if (last.size() > 400) last = last.substr(0, 400) + "...";
  return last;
}

volatile std::sig_atomic_t g_sweep_signal = 0;
extern "C" void on_sweep_signal(int sig) { g_sweep_signal = sig; }

/// SIGINT/SIGTERM: start no further point, let the running ones end as interrupted.
struct SignalGuard {
  struct sigaction old_int {}, old_term {};
  SignalGuard() {
    g_sweep_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_sweep_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: waitpid returns EINTR
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
  }
  ~SignalGuard() {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
  }
};

void say(const std::string& line) { std::cout << line << std::endl; }

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

/// Runs the points `todo` (indices into `points`) with at most `jobs` children at once.
/// Returns the exit code: for a single point (--index) the point's own, else 0 when no point
/// failed or was interrupted, 2 otherwise.
int run_points(const SweepSpec& spec, const std::vector<SweepPoint>& points, const std::vector<std::size_t>& todo,
               const SweepOptions& opt, bool single) {
  const fs::path dir(opt.out);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw train::ConfigError("--out " + opt.out + ": cannot create the directory: " + ec.message());

  bool threads_given = false;
  const std::int64_t user_threads = given_threads(spec, threads_given);
  const std::int64_t cpus = available_cpus();
  std::int64_t jobs = opt.jobs > 0 ? opt.jobs : std::max<std::int64_t>(1, cpus / std::max<std::int64_t>(1, user_threads));
  jobs = std::max<std::int64_t>(1, std::min<std::int64_t>(jobs, static_cast<std::int64_t>(todo.size())));
  const std::int64_t inject_threads = threads_given ? 0 : std::max<std::int64_t>(1, cpus / jobs);

  const std::size_t N = points.size();
  if (!single)
    say("sweep: " + std::to_string(N) + " points (" + spec.command + "), " + std::to_string(jobs) + " at a time" +
        (threads_given ? "" : ", " + std::to_string(inject_threads) + " thread(s) each") + "; run files, configurations and logs in " +
        dir.string());

  struct Running {
    std::size_t point;
    std::chrono::steady_clock::time_point start;
  };
  std::map<pid_t, Running> running;
  std::size_t complete = 0, diverged = 0, skipped = 0, failed = 0, interrupted = 0, not_started = 0;
  std::vector<std::string> problems;
  int single_code = kExitOk;

  auto tag = [&](std::size_t i) { return "[" + std::to_string(i) + "] " + points[i].name; };
  auto point_failed = [&](std::size_t i, const std::string& why) {
    ++failed;
    problems.push_back(tag(i) + ": " + why);
    say(tag(i) + ": FAILED: " + why);
    single_code = kExitError;
  };

  /// Starts point i, or skips it; returns the child's pid or -1.
  auto start = [&](std::size_t i) -> pid_t {
    const SweepPoint& pt = points[i];
    const std::string run_file = (dir / (pt.name + ".h5")).string();
    const std::string toml_file = (dir / (pt.name + ".toml")).string();
    const std::string log_file = (dir / (pt.name + ".log")).string();
    if (fs::exists(run_file)) {
      std::optional<std::string> status, toml;
      try {
        io::RunReader r(run_file);
        status = r.string_attr("status");
        toml = r.string_attr("config_toml");
      } catch (const std::exception&) {
        // Unreadable (e.g. killed before its first flush): run it again.
      }
      if (status && (*status == "complete" || *status == "diverged")) {
        if (toml) {
          if (auto why = config_mismatch(*toml, run_file, pt)) {
            point_failed(i, run_file + " is " + *status + " but belongs to another configuration (" + *why +
                                "); delete it or use another --out");
            return -1;
          }
        }
        ++skipped;
        say(tag(i) + ": skipped (" + *status + ")");
        return -1;
      }
    }
    try {
      const std::string resolved = resolve_point(spec, pt, run_file, inject_threads);
      std::ofstream f(toml_file, std::ios::binary);
      f << resolved;
      f.close();
      if (!f) throw train::ConfigError(toml_file + ": cannot write");
    } catch (const std::exception& e) {
      point_failed(i, e.what());
      return -1;
    }
    std::vector<std::string> args{"/proc/self/exe", spec.command, "--config", toml_file, "--overwrite"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      point_failed(i, std::string("cannot start a process: ") + std::strerror(rc));
      return -1;
    }
    say(tag(i) + ": started (log " + log_file + ")");
    return pid;
  };

  SignalGuard guard;
  bool forwarded = false;
  std::size_t next = 0;
  while (true) {
    if (g_sweep_signal && !forwarded) {
      forwarded = true;
      say("sweep: signal " + std::to_string(g_sweep_signal) + ", starting no further point; waiting for " +
          std::to_string(running.size()) + " running");
      for (const auto& [pid, r] : running) kill(pid, SIGTERM);
    }
    while (!g_sweep_signal && next < todo.size() && static_cast<std::int64_t>(running.size()) < jobs) {
      const std::size_t i = todo[next++];
      const pid_t pid = start(i);
      if (pid > 0) running[pid] = {i, std::chrono::steady_clock::now()};
    }
    if (running.empty()) break;
    int st = 0;
    const pid_t pid = waitpid(-1, &st, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      throw train::ConfigError(std::string("sweep: waitpid: ") + std::strerror(errno));
    }
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const std::size_t i = it->second.point;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - it->second.start).count();
    running.erase(it);
    const std::string log_file = (dir / (points[i].name + ".log")).string();
    if (WIFEXITED(st) && WEXITSTATUS(st) == kExitOk) {
      ++complete;
      say(tag(i) + ": complete (" + seconds(secs) + ")");
    } else if (WIFEXITED(st) && WEXITSTATUS(st) == kExitDiverged) {
      ++diverged;
      single_code = kExitDiverged;
      say(tag(i) + ": diverged (" + seconds(secs) + ")");
    } else {
      const std::string how = WIFEXITED(st) ? "exit " + std::to_string(WEXITSTATUS(st))
                                            : "killed by signal " + std::to_string(WTERMSIG(st));
      const std::string why = how + ": " + last_line(log_file) + " (log " + log_file + ")";
      if (g_sweep_signal) {
        ++interrupted;
        problems.push_back(tag(i) + ": interrupted (" + how + ")");
        say(tag(i) + ": interrupted (" + how + ")");
        single_code = kExitError;
      } else {
        point_failed(i, why);
      }
    }
  }
  not_started = todo.size() - next;
  if (single) return single_code;
  std::string summary = "sweep: " + std::to_string(N) + " points: " + std::to_string(complete) + " complete, " +
                        std::to_string(diverged) + " diverged, " + std::to_string(skipped) +
                        " skipped (already complete or diverged), " + std::to_string(failed) + " failed";
  if (interrupted) summary += ", " + std::to_string(interrupted) + " interrupted";
  if (not_started) summary += ", " + std::to_string(not_started) + " not started";
  say(summary);
  for (const auto& p : problems) say("  " + p);
  return (failed || interrupted || not_started) ? kExitError : kExitOk;
}

void emit_slurm(const SweepSpec& spec, const SweepOptions& opt) {
  std::error_code ec;
  const fs::path out = fs::absolute(opt.out);
  fs::create_directories(out, ec);
  if (ec) throw train::ConfigError("--out " + opt.out + ": cannot create the directory: " + ec.message());
  const fs::path config = fs::canonical(opt.config);
  fs::path binary = fs::read_symlink("/proc/self/exe", ec);
  if (ec) binary = "bnlandscape";
  bool threads_given = false;
  const std::int64_t threads = given_threads(spec, threads_given);
  const std::size_t n = spec.size();
  std::string stem = config.stem().string();
  for (char& ch : stem)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.') ch = '_';
  std::ostringstream os;
  os << "#!/bin/bash\n"
     << "# bnlandscape sweep as a SLURM job array: one task per point, " << n << " points.\n"
     << "# Sweep file: " << config.string() << "\n"
     << "# Submit with: sbatch " << opt.emit_slurm << "\n"
     << "# A task whose run file is already complete or diverged exits at once, so submitting the\n"
     << "# array again finishes an interrupted sweep. The same sweep runs locally with\n"
     << "#   bnlandscape sweep --config " << config.string() << " --out " << out.string() << "\n"
     << "#SBATCH --job-name=bnl-" << stem << "\n"
     << "#SBATCH --array=0-" << (n - 1) << "\n"
     << "#SBATCH --ntasks=1\n"
     << "#SBATCH --cpus-per-task=" << std::max<std::int64_t>(1, threads) << "\n";
  if (out.string().find_first_of(" \t") == std::string::npos)
    os << "#SBATCH --output=" << (out / "slurm-%A_%a.out").string() << "\n";
  os << "set -euo pipefail\n"
     << "exec " << shell_quote(binary.string()) << " sweep --config " << shell_quote(config.string()) << " --out "
     << shell_quote(out.string()) << " --index \"$SLURM_ARRAY_TASK_ID\"\n";
  std::ofstream f(opt.emit_slurm, std::ios::binary);
  f << os.str();
  f.close();
  if (!f) throw train::ConfigError("--emit-slurm " + opt.emit_slurm + ": cannot write");
  say("wrote " + opt.emit_slurm + ": SLURM job array of " + std::to_string(n) + " tasks (--array=0-" +
      std::to_string(n - 1) + "); submit with: sbatch " + opt.emit_slurm);
}

}  // namespace

std::size_t SweepSpec::size() const {
  std::size_t n = 1;
  for (const auto& a : axes) n *= a.values.size();
  return n;
}

SweepSpec parse_sweep_spec(const std::string& text, const std::string& source) {
  SweepSpec spec;
  spec.source = source;
  std::vector<std::string> lines;
  {
    std::istringstream in(text);
    std::string l;
    while (std::getline(in, l)) lines.push_back(l);
  }
  std::map<std::string, int> seen;  // key -> line
  bool probe = false;
  for (const auto& e : parse_config_text(text, source, /*allow_tables=*/true)) {
    const auto dot = e.key.rfind('.');
    const std::string table = dot == std::string::npos ? "" : e.key.substr(0, dot);
    const std::string key = underscored(dot == std::string::npos ? e.key : e.key.substr(dot + 1));
    if (!table.empty() && table != "sweep")
      fail(source, e.line, "unknown table [" + table + "]; expected top-level options and one [sweep] table");
    const auto info = option_table().find(key);
    if (info == option_table().end())
      fail(source, e.line, "unknown key '" + key + "' (expected an option of 'bnlandscape train' or 'bnlandscape probe')");
    if (key == "out")
      fail(source, e.line, "'out' is set by the sweep (one run file per point under --out DIR)");
    if (auto [it, fresh] = seen.emplace(key, e.line); !fresh)
      fail(source, e.line, "'" + key + "' is given twice (first on line " + std::to_string(it->second) + ")");
    probe = probe || info->second.is_probe;
    if (table.empty()) {
      spec.fixed.push_back({key, e.value, e.line});
      continue;
    }
    SweepAxis axis;
    axis.key = key;
    axis.line = e.line;
    const std::string& raw = e.line >= 1 && static_cast<std::size_t>(e.line) <= lines.size() ? lines[e.line - 1] : "";
    if (auto list = parse_list(raw, source, e.line)) axis.values = std::move(*list);
    else axis.values = {e.value};
    if (axis.values.empty()) fail(source, e.line, "[sweep] " + key + ": expected at least one value, got []");
    std::set<std::string> distinct(axis.values.begin(), axis.values.end());
    if (distinct.size() != axis.values.size()) fail(source, e.line, "[sweep] " + key + ": a value is listed twice");
    spec.axes.push_back(std::move(axis));
  }
  spec.command = probe ? "probe" : "train";
  return spec;
}

SweepSpec read_sweep_spec(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw train::ConfigError(path + ": cannot open sweep file");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_sweep_spec(ss.str(), path);
}

std::string sanitize_value(const std::string& v) {
  std::string out;
  for (unsigned char ch : v) out += (std::isalnum(ch) || ch == '.' || ch == '+' || ch == '-') ? static_cast<char>(ch) : '-';
  if (out.empty()) out = "none";
  if (out[0] == '.') out[0] = '-';  // no hidden files
  return out;
}

std::vector<SweepPoint> sweep_points(const SweepSpec& spec) {
  std::vector<SweepPoint> points(spec.size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    SweepPoint& p = points[i];
    p.index = i;
    for (const auto& e : spec.fixed) p.values.emplace_back(e.key, e.value);
    std::vector<std::size_t> pick(spec.axes.size());
    std::size_t rest = i;
    for (std::size_t a = spec.axes.size(); a-- > 0;) {
      pick[a] = rest % spec.axes[a].values.size();
      rest /= spec.axes[a].values.size();
    }
    std::string name;
    for (std::size_t a = 0; a < spec.axes.size(); ++a) {
      const std::string& v = spec.axes[a].values[pick[a]];
      p.values.emplace_back(spec.axes[a].key, v);
      name += (name.empty() ? "" : "_") + spec.axes[a].key + "=" + sanitize_value(v);
    }
    if (name.empty()) name = "run";
    if (name.size() > 200) name = name.substr(0, 180) + "_p" + std::to_string(i);
    p.name = name;
  }
  // Values that sanitise alike ("a/b", "a-b") would share a file: number them.
  std::map<std::string, int> count;
  for (const auto& p : points) ++count[p.name];
  for (auto& p : points)
    if (count[p.name] > 1) p.name += "_p" + std::to_string(p.index);
  return points;
}

Command setup_sweep(CLI::App& app) {
  auto opt = std::make_shared<SweepOptions>();
  CLI::App* sub = app.add_subcommand("sweep", "run a matrix of train or probe runs given in a TOML file");
  sub->footer(
      "Sweep file: top-level keys are fixed options, spelled as in train/probe config files; the [sweep]\n"
      "table maps options to lists of values, and the matrix is their product (first key slowest):\n"
      "  dataset = \"fashion-mnist\"\n"
      "  epochs = 3\n"
      "  [sweep]\n"
      "  bn = [\"none\", \"custom\"]\n"
      "  hidden_dims = [\"512,256,128\", \"256,128\"]   # a list of lists: quoted strings\n"
      "  seed = [0, 1, 2]\n"
      "Each point runs `bnlandscape probe` if any key is a probe option, else `train`, as a child process,\n"
      "writing DIR/<key>=<value>_....h5 (values sanitised), its resolved configuration (.toml, runnable\n"
      "with --config) and its output (.log). A point whose run file is complete or diverged is skipped,\n"
      "so running the sweep again resumes it; a failed point is reported and the rest go on (exit 2 at\n"
      "the end). Without a `threads` key each point gets threads = available cores / --jobs.\n"
      "--index I runs point I alone and exits with its code (0 if skipped, 3 if diverged);\n"
      "--emit-slurm FILE writes a SLURM job array (sbatch --array=0-N-1) whose task k runs --index k.");
  // run_app would expand --config as a flat options file; main() renames it to --sweep-config
  // for this command (see protect_sweep_config), and both names land here.
  visit_sweep_specs(*opt, OptionAdder{*sub});
  sub->add_option("--sweep-config", opt->config, "same as --config")->group("");
  return {sub, [opt] { return run_sweep(*opt); }};
}

std::vector<std::string> protect_sweep_config(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  bool in_sweep = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (!in_sweep) {
      if (!args[i].empty() && args[i][0] != '-') {
        if (args[i] != "sweep") break;
        in_sweep = true;
      }
      continue;
    }
    if (args[i] == "--config") args[i] = "--sweep-config";
    else if (args[i].rfind("--config=", 0) == 0) args[i] = "--sweep-config=" + args[i].substr(9);
  }
  return args;
}

int run_sweep(const SweepOptions& opt) {
  if (opt.config.empty()) throw train::ConfigError("sweep: expected --config FILE (the sweep file)");
  const SweepSpec spec = read_sweep_spec(opt.config);
  const auto points = sweep_points(spec);
  if (opt.count) {
    std::cout << points.size() << "\n";
    return kExitOk;
  }
  if (opt.list) {
    for (const auto& p : points) std::cout << p.index << "\t" << spec.command << "\t" << p.name << ".h5\n";
    return kExitOk;
  }
  if (opt.out.empty()) throw train::ConfigError("sweep: expected --out DIR (the directory of the run files)");
  if (!opt.emit_slurm.empty()) {
    emit_slurm(spec, opt);
    return kExitOk;
  }
  if (opt.index >= 0) {
    if (static_cast<std::size_t>(opt.index) >= points.size())
      throw train::ConfigError("--index = " + std::to_string(opt.index) + ": expected 0.." +
                               std::to_string(points.size() - 1) + " (the sweep has " + std::to_string(points.size()) +
                               " points)");
    SweepOptions one = opt;
    one.jobs = 1;
    return run_points(spec, points, {static_cast<std::size_t>(opt.index)}, one, true);
  }
  std::vector<std::size_t> todo(points.size());
  for (std::size_t i = 0; i < todo.size(); ++i) todo[i] = i;
  return run_points(spec, points, todo, opt, false);
}

}  // namespace bnl::cli
