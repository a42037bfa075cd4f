// proc/local_ranks: the rendezvous port (running ranks is covered by LaunchCli and dist_tests).
#include <gtest/gtest.h>

#include "bnlandscape/proc/local_ranks.h"

TEST(LocalRanks, FreeLoopbackPortIsAnUnprivilegedPort) {
  const int port = bnl::proc::free_loopback_port();
  EXPECT_GT(port, 1023);
  EXPECT_LE(port, 65535);
}
