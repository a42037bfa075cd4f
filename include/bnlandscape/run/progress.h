#pragma once
/// \file
/// Progress on stderr: a redrawn bar (steps, loss, rate, remaining time) when stderr is a
/// terminal; plain lines every 5% of the run otherwise (batch-job logs); nothing with --quiet.
/// stdout stays clean for results.

#include <chrono>
#include <cstdint>
#include <string>

#include "bnlandscape/train/trainer.h"

namespace bnl::run {

/// Progress reporting observer.
class Progress : public train::TrainObserver {
 public:
  /// `label` prefixes every line (e.g. the run file name).
  Progress(std::string label, bool quiet);
  void on_start(std::int64_t total_steps) override;
  void on_step(const train::StepRecord& r) override;
  void on_epoch(const train::EpochRecord& r) override;
  /// Ends the bar's line.
  void done();
  /// Writes one log line (not on a bar line).
  void log(const std::string& line);

 private:
  std::string label_;
  bool quiet_;
  bool tty_;
  std::int64_t total_ = 0;
  std::int64_t every_ = 1;
  bool bar_open_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace bnl::run
