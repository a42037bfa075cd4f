// Probes beside training: run one after the other, recorded in launch order, bounded.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "bnlandscape/record/probe_scheduler.h"

namespace bnl::record {
namespace {

probes::ProbeRecord record_of(std::int64_t step) {
  probes::ProbeRecord r;
  r.step = step;
  return r;
}

TEST(ProbeScheduler, RecordsInLaunchOrderOneAtATimeAndBounded) {
  std::vector<std::int64_t> recorded;
  std::atomic<int> running{0}, most{0};
  {
    ProbeScheduler s([&](const probes::ProbeRecord& r) { recorded.push_back(r.step); });
    for (std::int64_t step = 0; step < 10; ++step) {
      s.make_room();
      s.launch([&, step] {
        const int now = ++running;
        most = std::max(most.load(), now);
        // Later probes are quicker: order must still follow launch order.
        std::this_thread::sleep_for(std::chrono::milliseconds(10 - step));
        --running;
        return record_of(step);
      });
    }
    s.harvest(/*wait=*/true);
  }
  EXPECT_EQ(recorded, (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(most.load(), 1);
}

TEST(ProbeScheduler, MakeRoomKeepsFewerThanTheBoundPending) {
  std::vector<std::int64_t> recorded;
  ProbeScheduler s([&](const probes::ProbeRecord& r) { recorded.push_back(r.step); });
  for (std::int64_t step = 0; step < 6; ++step) {
    s.make_room();
    s.launch([step] {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return record_of(step);
    });
  }
  // Six launched, at most kMaxPending outstanding: the first two were recorded by make_room.
  EXPECT_GE(recorded.size(), 6u - ProbeScheduler::kMaxPending);
  s.harvest(/*wait=*/true);
  EXPECT_EQ(recorded.size(), 6u);
}

}  // namespace
}  // namespace bnl::record
