#pragma once
/// \file
/// What the program was built from, for the provenance attributes of every output file.

namespace bnl::record {

/// Source revision the binary was built from: 12 hex digits of `git rev-parse HEAD` taken at
/// build time (not at CMake configure time, which later commits do not repeat), or "unknown"
/// outside a git checkout. Defined in the source cmake/git_revision.cmake generates.
const char* git_revision();

/// The program's version (CMake's PROJECT_VERSION), e.g. "0.1.0".
const char* version();

}  // namespace bnl::record
