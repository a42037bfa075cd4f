#include "bnlandscape/cli/launch_command.h"
#include "bnlandscape/cli/launch_options.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <stdexcept>

#include <CLI/App.hpp>

#include "bnlandscape/train/config.h"

namespace bnl::cli {
namespace {

volatile std::sig_atomic_t g_forward_signal = 0;

extern "C" void remember_signal(int sig) { g_forward_signal = sig; }

/// Exit code of a waitpid status, in the shell's convention (128 + signal).
int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

}  // namespace

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("launch: socket(): ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string err = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("launch: could not find a free loopback port: " + err);
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

Command setup_launch(CLI::App& app) {
  auto opt = std::make_shared<LaunchOptions>();
  CLI::App* sub = app.add_subcommand(
      "launch", "run a command as N local processes sharing its probes (torchrun environment): launch --nproc N -- probe|surface ...");
  visit_launch_specs(*opt, OptionAdder{*sub});
  return {sub, [opt] { return run_launch(*opt); }};
}

int run_launch(const LaunchOptions& opt) {
  if (opt.nproc < 1) throw train::ConfigError("--nproc = " + std::to_string(opt.nproc) + ": expected N >= 1");
  if (opt.master_port < 0 || opt.master_port > 65535)
    throw train::ConfigError("--master-port = " + std::to_string(opt.master_port) + ": expected 0..65535");
  if (opt.command.empty() || (opt.command[0] != "probe" && opt.command[0] != "surface"))
    throw train::ConfigError("launch: expected `-- probe ...` or `-- surface ...` after the launch options (only probe "
                             "and surface run on several processes), got " +
                             (opt.command.empty() ? std::string("nothing") : "`" + opt.command[0] + "`"));
  const int port = opt.master_port > 0 ? opt.master_port : free_loopback_port();

  // The children run this very binary.
  std::vector<std::string> args{"/proc/self/exe"};
  args.insert(args.end(), opt.command.begin(), opt.command.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) throw std::runtime_error(std::string("launch: cannot find this executable: ") + std::strerror(errno));
  self[n] = '\0';

  struct sigaction sa {}, old_int {}, old_term {};
  sa.sa_handler = remember_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);

  std::vector<pid_t> pids;
  for (int r = 0; r < opt.nproc; ++r) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      for (pid_t p : pids) ::kill(p, SIGTERM);
      throw std::runtime_error(std::string("launch: fork(): ") + std::strerror(errno));
    }
    if (pid == 0) {
      ::sigaction(SIGINT, &old_int, nullptr);
      ::sigaction(SIGTERM, &old_term, nullptr);
      ::setenv("RANK", std::to_string(r).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(opt.nproc).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(opt.nproc).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      ::execv(self, argv.data());
      std::cerr << "bnlandscape launch: exec " << self << ": " << std::strerror(errno) << "\n";
      ::_exit(127);
    }
    pids.push_back(pid);
  }

  int first_failure = 0;
  std::size_t running = pids.size();
  bool forwarded = false;
  while (running > 0) {
    int status = 0;
    const pid_t done = ::waitpid(-1, &status, 0);
    if (done < 0) {
      if (errno != EINTR) break;
      if (g_forward_signal != 0 && !forwarded) {
        // SIGTERM, whatever launch received: a Ctrl-C already reached the ranks from the
        // terminal, and a second SIGINT would make them exit without their checkpoint.
        for (pid_t p : pids)
          if (p > 0) ::kill(p, SIGTERM);
        forwarded = true;
      }
      continue;
    }
    const auto it = std::find(pids.begin(), pids.end(), done);
    if (it == pids.end()) continue;
    --running;
    const int code = exit_code(status);
    if (code != 0 && first_failure == 0) {
      first_failure = code;
      std::cerr << "bnlandscape launch: rank " << (it - pids.begin()) << " exited with code " << code
                << "; stopping the other ranks\n";
      for (pid_t p : pids)
        if (p > 0 && p != done) ::kill(p, SIGTERM);
    }
    *it = -1;  // reaped: never signal a pid that may have been reused
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  return first_failure;
}

}  // namespace bnl::cli
