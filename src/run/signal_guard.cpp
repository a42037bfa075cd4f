#include "bnlandscape/run/signal_guard.h"

#include <unistd.h>

#include <csignal>

namespace bnl::run {
namespace {

volatile std::sig_atomic_t g_signal = 0;
struct sigaction g_old_int, g_old_term, g_old_usr1;

extern "C" void on_signal(int sig) {
  if (sig == SIGINT && g_signal == SIGINT) _exit(128 + SIGINT);
  g_signal = sig;
}

}  // namespace

SignalGuard::SignalGuard() {
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
  sigaction(SIGUSR1, &sa, &g_old_usr1);
}

SignalGuard::~SignalGuard() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
  sigaction(SIGUSR1, &g_old_usr1, nullptr);
}

bool SignalGuard::stop_requested() { return g_signal != 0; }

int SignalGuard::received() { return g_signal; }

}  // namespace bnl::run
