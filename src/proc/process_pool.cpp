#include "bnlandscape/proc/process_pool.h"

#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "bnlandscape/core/error.h"

extern char** environ;

namespace bnl::proc {
namespace {

volatile std::sig_atomic_t g_pool_signal = 0;
extern "C" void on_pool_signal(int sig) { g_pool_signal = sig; }

/// SIGINT/SIGTERM: start no further task, let the running ones end as interrupted.
struct PoolSignalGuard {
  struct sigaction old_int {}, old_term {};
  PoolSignalGuard() {
    g_pool_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_pool_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: waitpid returns EINTR
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
  }
  ~PoolSignalGuard() {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
  }
};

/// Starts `child` with its log as stdout and stderr; returns its pid, or the errno of
/// posix_spawn as a negative number.
pid_t spawn(const ChildSpec& child) {
  std::vector<std::string> args = child.args;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, child.log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args.front().c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc != 0 ? -rc : pid;
}

struct Running {
  std::size_t task;
  std::chrono::steady_clock::time_point start;
};

/// Starts the next tasks of `todo` until `jobs` children run or the list (or a signal) ends.
void fill(const std::vector<std::size_t>& todo, std::size_t& next, std::int64_t jobs, const PoolHooks& hooks,
          std::map<pid_t, Running>& running) {
  while (!g_pool_signal && next < todo.size() && static_cast<std::int64_t>(running.size()) < jobs) {
    const std::size_t i = todo[next++];
    const auto child = hooks.prepare(i);
    if (!child) continue;
    const pid_t pid = spawn(*child);
    if (pid < 0) {
      hooks.spawn_failed(i, std::strerror(static_cast<int>(-pid)));
      continue;
    }
    hooks.started(i, *child);
    running[pid] = {i, std::chrono::steady_clock::now()};
  }
}

}  // namespace

std::size_t run_pool(const std::vector<std::size_t>& todo, std::int64_t jobs, const PoolHooks& hooks) {
  std::map<pid_t, Running> running;
  PoolSignalGuard guard;
  bool forwarded = false;
  std::size_t next = 0;
  while (true) {
    if (g_pool_signal && !forwarded) {
      forwarded = true;
      hooks.interrupted(g_pool_signal, running.size());
      for (const auto& [pid, r] : running) kill(pid, SIGTERM);
    }
    fill(todo, next, jobs, hooks, running);
    if (running.empty()) break;
    int st = 0;
    const pid_t pid = waitpid(-1, &st, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      throw InternalError(std::string("sweep: waitpid: ") + std::strerror(errno));
    }
    auto it = running.find(pid);
    if (it == running.end()) continue;
    ChildExit how;
    how.exited = WIFEXITED(st);
    how.status = how.exited ? WEXITSTATUS(st) : WTERMSIG(st);
    how.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - it->second.start).count();
    how.pool_signal = g_pool_signal;
    const std::size_t i = it->second.task;
    running.erase(it);
    hooks.finished(i, how);
  }
  return todo.size() - next;
}

std::int64_t available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
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

}  // namespace bnl::proc
