#pragma once
/// \file
/// Process-level safety of a run: a lock file of our own beside the run file (HDF5's file
/// locking is often disabled on cluster file systems, and then does not stop a second writer),
/// and SIGINT/SIGTERM/SIGUSR1 handling that lets the current step finish and the run end
/// cleanly with status "interrupted".

#include <csignal>
#include <string>

#include "bnlandscape/train/trainer.h"

namespace bnl::cli {

/// Holds `<run file>.lock` (pid and host inside) for its lifetime. Construction fails with a
/// one-line error naming the other process when a live process holds it; a lock left by a
/// dead process on this host is taken over.
class RunLock {
 public:
  explicit RunLock(const std::string& run_file);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool held_ = false;
  int fd_ = -1;  ///< the lock file, flock()ed while held (where the filesystem supports it)
};

/// Installs handlers for SIGINT, SIGTERM and SIGUSR1 that record the signal; a second SIGINT
/// exits at once (status stays "running", as after kill -9). Restores the old handlers on
/// destruction.
class SignalGuard : public train::TrainObserver {
 public:
  SignalGuard();
  ~SignalGuard() override;
  bool stop_requested() override;
  /// The signal received, 0 if none.
  static int received();
};

}  // namespace bnl::cli
