#pragma once
/// \file
/// Resume bookkeeping: the checkpoint a run continues from (--resume).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

namespace bnl::record {

/// A run continued from the newest checkpoint of its file (--resume).
struct ResumeInfo {
  bool active = false;
  std::int64_t step = 0;  ///< the checkpoint's step: updates already done
  std::vector<std::pair<std::string, torch::Tensor>> weights;  ///< parameters and buffers
  std::vector<std::pair<std::string, torch::Tensor>> state;    ///< its _state group
  std::string group;                                           ///< e.g. "/checkpoints/step_0000050"
  std::vector<std::string> unreadable_groups;  ///< newer checkpoints passed over as unreadable
  /// The state tensor `name`, or an undefined tensor.
  torch::Tensor find_state(const std::string& name) const;
  /// Whether the epoch ending at `step` was recorded before the checkpoint: true for the
  /// checkpoint the end of a run writes after its last epoch record (its state has no batch
  /// of a current epoch done), false for one taken after a step, whose resume redoes the
  /// record of an epoch ending there.
  bool epoch_recorded() const;
};

/// Reads the newest checkpoint of `path` that reads back in full for a resume, passing over
/// (with a warning) newer ones that do not; a file without a readable one is a ConfigError.
ResumeInfo read_resume_point(const std::string& path);

}  // namespace bnl::record
