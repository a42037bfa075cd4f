#pragma once
/// \file
/// Reading every object of a run file back, to tell a whole file from a damaged one (a run
/// file written before commits were atomic could be left with a chunk that does not inflate
/// by a kill during a flush; any file can be damaged by a disk). Used by `info`.

#include <cstdint>
#include <string>
#include <vector>

namespace bnl::io {

/// One object that could not be read back, with HDF5's reason.
struct UnreadableObject {
  std::string path;    ///< dataset or group, e.g. "/train/steps/loss"
  std::string reason;  ///< e.g. "inflate() failed"
};

/// What reading a whole file back found.
struct IntegrityReport {
  bool opens = false;                        ///< the file opens as HDF5 at all
  std::string open_error;                    ///< why not, when it does not
  std::int64_t datasets_checked = 0;         ///< datasets read in full
  std::vector<UnreadableObject> unreadable;  ///< datasets, groups or attributes that failed
  std::vector<std::string> usable_checkpoints;    ///< checkpoint groups read in full, by step
  std::vector<std::string> unusable_checkpoints;  ///< checkpoint groups with an unreadable part
  /// Whether everything read back.
  bool whole() const { return opens && unreadable.empty(); }
};

/// Opens `path` read-only and reads every dataset in full (every chunk is inflated), listing
/// what fails; checkpoint groups under /checkpoints are usable when all of their datasets,
/// _state included, read back. Never throws for damage; a missing file is an IoError.
IntegrityReport check_integrity(const std::string& path);

}  // namespace bnl::io
