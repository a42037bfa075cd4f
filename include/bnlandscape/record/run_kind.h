#pragma once
/// \file
/// What a run file measured, derived from what it holds: a training run, a probe during training
/// (online), a probe of a checkpoint (offline) or a loss surface. `compare` pools only runs of one kind.

#include <string>

namespace bnl::io {
class RunReader;
}

namespace bnl::record {

/// The kind of a run file (docs/hdf5_schema.md).
enum class RunKind {
  kTrain,         ///< no /probes, no /surface
  kOnlineProbe,   ///< /probes written while training
  kOfflineProbe,  ///< /probes of a checkpoint: root attribute checkpoint_file
  kSurface,       ///< /surface
};

/// Classifies an open run file: /surface -> surface; /probes with a checkpoint_file root
/// attribute -> offline probe; /probes otherwise -> online probe; else train.
RunKind run_kind(const io::RunReader& r);

/// "train", "online probe", "offline probe" or "surface".
std::string run_kind_name(RunKind k);

}  // namespace bnl::record
