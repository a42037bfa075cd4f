#include "commit_hook.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>
#include <thread>

namespace bnl::io::detail {
namespace {

// Test-only hook, BNL_TEST_COMMIT_HOOK="<stage>:<n>[:<ms>]": at <stage> (flushed, mid-write,
// written, renamed) of this process's n-th commit (or every commit for "*"), sleep <ms>
// milliseconds, or without <ms> kill the process with SIGKILL. The crash tests use it to
// land kills inside commits; it is read once per process and inert when unset.
struct CommitHook {
  std::string stage;
  long n = -1;  // -1: every commit
  long ms = -1;
  bool active = false;
};

const CommitHook& commit_hook() {
  static const CommitHook hook = [] {
    CommitHook h;
    const char* env = std::getenv("BNL_TEST_COMMIT_HOOK");
    if (!env || !*env) return h;
    const std::string v(env);
    const auto a = v.find(':');
    if (a == std::string::npos) return h;
    const auto b = v.find(':', a + 1);
    h.stage = v.substr(0, a);
    const std::string n = v.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
    h.n = n == "*" ? -1 : std::atol(n.c_str());
    if (b != std::string::npos) h.ms = std::atol(v.c_str() + b + 1);
    h.active = true;
    return h;
  }();
  return hook;
}

}  // namespace

long next_commit_number() {
  static std::atomic<long> n{0};
  return ++n;
}

void at_commit_stage(const char* stage, long commit) {
  const CommitHook& h = commit_hook();
  if (!h.active || h.stage != stage || (h.n >= 0 && h.n != commit)) return;
  if (h.ms >= 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(h.ms));
  } else {
    std::raise(SIGKILL);
  }
}


}  // namespace bnl::io::detail
