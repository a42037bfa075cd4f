#include "bnlandscape/record/probe_scheduler.h"

#include <chrono>

namespace bnl::record {

ProbeScheduler::~ProbeScheduler() {
  for (auto& f : pending_) f.wait();
}

void ProbeScheduler::make_room() {
  harvest(/*wait=*/false);
  while (pending_.size() >= kMaxPending) harvest_front();
}

void ProbeScheduler::launch(std::function<probes::ProbeRecord()> measure) {
  last_ = std::async(std::launch::async,
                     [measure = std::move(measure), before = last_] {
                       if (before.valid()) before.wait();
                       return measure();
                     })
              .share();
  pending_.push_back(last_);
}

void ProbeScheduler::harvest(bool wait) {
  while (!pending_.empty() &&
         (wait || pending_.front().wait_for(std::chrono::seconds(0)) == std::future_status::ready))
    harvest_front();
}

void ProbeScheduler::harvest_front() {
  auto f = pending_.front();
  pending_.pop_front();
  record_(f.get());
}

}  // namespace bnl::record
