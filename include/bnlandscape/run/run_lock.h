#pragma once
/// \file
/// A lock file of our own beside the run file: HDF5's file locking is often disabled on
/// cluster file systems, and then does not stop a second writer.

#include <string>

namespace bnl::run {

/// Holds `<run file>.lock` (pid and host inside) for its lifetime. Construction fails with a
/// one-line io::IoError naming the other process when a live process holds it; a lock left by
/// a dead process on this host is taken over.
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
