#pragma once
/// \file
/// A bounded pool of child processes: runs a list of tasks, each as one child whose stdout
/// and stderr go to its own log file, at most `jobs` at a time. SIGINT or SIGTERM stops
/// starting tasks and forwards SIGTERM to the running children, which then end as they
/// choose. What a task runs, and what its end means, is up to the owner (hooks).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace bnl::proc {

/// A child to start: its argument vector (args[0] is the program, also the path executed)
/// and the file that receives its stdout and stderr (created or truncated; stdin is /dev/null).
struct ChildSpec {
  std::vector<std::string> args;
  std::string log_file;
};

/// How a child ended.
struct ChildExit {
  bool exited = false;  ///< it returned an exit status (else a signal killed it)
  int status = 0;       ///< the exit status if exited, else the number of the killing signal
  double seconds = 0;   ///< wall time from its start to its reaping
  int pool_signal = 0;  ///< the signal the pool had received when the child was reaped (0 = none)
};

/// What the pool asks its owner and tells it, by task index (an element of `todo`).
struct PoolHooks {
  /// The child of task i, or nullopt when the task needs no process (skipped, or failed
  /// before starting: the hook reports that itself).
  std::function<std::optional<ChildSpec>(std::size_t i)> prepare;
  /// posix_spawn failed for task i; `error` is strerror's text.
  std::function<void(std::size_t i, const std::string& error)> spawn_failed;
  /// Task i's child is running.
  std::function<void(std::size_t i, const ChildSpec& child)> started;
  /// Task i's child ended.
  std::function<void(std::size_t i, const ChildExit& how)> finished;
  /// The pool received `signal` with `running` children alive (once); it starts no further task.
  std::function<void(int signal, std::size_t running)> interrupted;
};

/// Runs the tasks `todo` in order, at most `jobs` (>= 1) children at once, until every started
/// child is reaped. Returns the number of tasks never started (after a signal). Throws
/// bnl::InternalError when waitpid fails for another reason than a signal.
std::size_t run_pool(const std::vector<std::size_t>& todo, std::int64_t jobs, const PoolHooks& hooks);

/// CPUs this process may run on (respects taskset, cgroups' cpusets and SLURM's allocation).
std::int64_t available_cpus();

/// The last non-blank line of the text file at `path` (cut to 400 characters and "..."),
/// "" if none or unreadable: why a child failed, from its log.
std::string last_line(const std::string& path);

}  // namespace bnl::proc
