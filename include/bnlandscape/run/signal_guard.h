#pragma once
/// \file
/// SIGINT/SIGTERM/SIGUSR1 handling that lets the current step finish and the run end cleanly
/// with status "interrupted".

#include "bnlandscape/train/trainer.h"

namespace bnl::run {

/// Installs handlers for SIGINT, SIGTERM and SIGUSR1 that record the signal; a second SIGINT
/// exits at once (status stays "running", as after kill -9). Restores the old handlers on
/// destruction.
class SignalGuard : public train::TrainObserver {
 public:
  SignalGuard();
  ~SignalGuard() override;
  /// True once a signal was received: the trainer stops after the current step.
  bool stop_requested() override;
  /// The signal received, 0 if none.
  static int received();
};

}  // namespace bnl::run
