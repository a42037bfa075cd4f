#include "bnlandscape/proc/local_ranks.h"

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

namespace bnl::proc {
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

namespace {

/// Forks rank r = 0..nproc-1, each exec'ing `self` with `argv` and its torchrun environment,
/// with the signal handlers `old_int`, `old_term` launch replaced.
std::vector<pid_t> start_ranks(const char* self, std::vector<char*>& argv, int nproc, int port,
                               const struct sigaction& old_int, const struct sigaction& old_term) {
  std::vector<pid_t> pids;
  for (int r = 0; r < nproc; ++r) {
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
      ::setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      ::execv(self, argv.data());
      std::cerr << "bnlandscape launch: exec " << self << ": " << std::strerror(errno) << "\n";
      ::_exit(127);
    }
    pids.push_back(pid);
  }
  return pids;
}

/// Reaps every rank of `pids`; returns the first non-zero exit code.
int wait_ranks(std::vector<pid_t>& pids) {
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
  return first_failure;
}

}  // namespace

int run_local_ranks(const std::vector<std::string>& args, int nproc, int port) {
  // The children run this very binary.
  std::vector<std::string> argv_strings{"/proc/self/exe"};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_strings) argv.push_back(a.data());
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
  std::vector<pid_t> pids = start_ranks(self, argv, nproc, port, old_int, old_term);
  const int first_failure = wait_ranks(pids);
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  return first_failure;
}

}  // namespace bnl::proc
