#pragma once
/// \file
/// Root attribute names of offline-probe and surface files that say which checkpoint they
/// measured, beside checkpoint_file and checkpoint_group (record/schema_names.h).

namespace bnl::record::names {

/// SHA-256 (lowercase hex) of the checkpoint file, so a probe names the exact weights it measured.
inline constexpr char kCheckpointSha256[] = "checkpoint_sha256";

}  // namespace bnl::record::names
