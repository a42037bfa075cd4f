#pragma once
/// \file
/// A lock file of our own beside the run file: HDF5's file locking is often disabled on
/// cluster file systems, and then does not stop a second writer.

#include <string>

namespace bnl::run {

/// Creates the directory of the run file `run_file` (--out) with its missing parents and checks
/// that this process may create files in it; throws io::IoError naming the directory and the
/// reason otherwise ("--out a/b.h5: cannot write in directory 'a': Permission denied").
void prepare_run_directory(const std::string& run_file);

/// Holds `<run file>.lock` (pid and host inside) for its lifetime. Construction first prepares
/// the run file's directory (prepare_run_directory), then fails with a one-line io::IoError
/// naming the other process when a live process holds the lock; a lock left by a dead process
/// on this host is taken over.
class RunLock {
 public:
  explicit RunLock(const std::string& run_file);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  /// The lock file's path, `<run file>.lock`.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool held_ = false;
  int fd_ = -1;  ///< the lock file, flock()ed while held (where the filesystem supports it)
};

}  // namespace bnl::run
