#pragma once
/// \file
/// Probes beside training (--overlap): each probe runs on its own thread after the one before
/// it (they share the probe's model copy and Lanczos's warm start), at most kMaxPending at a
/// time, and their records are handed back in launch order on the training thread.

#include <cstddef>
#include <deque>
#include <functional>
#include <future>

#include "bnlandscape/probes/landscape_probe.h"

namespace bnl::record {

/// Runs probes one after the other on background threads and records them in order.
class ProbeScheduler {
 public:
  /// Called on the caller's thread with each finished probe, oldest first.
  using Record = std::function<void(const probes::ProbeRecord&)>;

  /// At most this many probes wait or run beside training; launching another then waits.
  static constexpr std::size_t kMaxPending = 4;

  /// `record` receives every finished probe (from harvest and make_room).
  explicit ProbeScheduler(Record record) : record_(std::move(record)) {}
  ProbeScheduler(const ProbeScheduler&) = delete;
  ProbeScheduler& operator=(const ProbeScheduler&) = delete;
  /// Waits for every launched probe (they use state owned by the caller); records none.
  ~ProbeScheduler();

  /// Records the probes already finished, then waits for (and records) the oldest until fewer
  /// than kMaxPending remain: called before capturing the state of the next probe.
  void make_room();
  /// Starts `measure` on its own thread once the previously launched probe has finished.
  void launch(std::function<probes::ProbeRecord()> measure);
  /// Records the finished probes in order; with `wait`, waits for and records all of them.
  void harvest(bool wait);

 private:
  void harvest_front();

  Record record_;
  std::deque<std::shared_future<probes::ProbeRecord>> pending_;  // oldest first
  std::shared_future<probes::ProbeRecord> last_;                 // the newest launched, recorded or not
};

}  // namespace bnl::record
