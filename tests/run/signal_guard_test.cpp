// run/signal_guard: a signal is recorded and asks the trainer to stop; the old handler returns.
#include <gtest/gtest.h>

#include <csignal>

#include "bnlandscape/run/signal_guard.h"

TEST(SignalGuard, RecordsTheSignalWhileInstalled) {
  {
    bnl::run::SignalGuard guard;
    EXPECT_EQ(bnl::run::SignalGuard::received(), 0);
    EXPECT_FALSE(guard.stop_requested());
    std::raise(SIGUSR1);
    EXPECT_EQ(bnl::run::SignalGuard::received(), SIGUSR1);
    EXPECT_TRUE(guard.stop_requested());
  }
  struct sigaction now {};
  sigaction(SIGUSR1, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_DFL);
}
