#pragma once
/// \file
/// What the program was built from, for the provenance attributes of every output file.

namespace bnl::cli {

/// Source revision the binary was built from: 12 hex digits of `git rev-parse HEAD` taken at
/// build time (not at CMake configure time, which later commits do not repeat), or "unknown"
/// outside a git checkout.
const char* git_revision();

}  // namespace bnl::cli
