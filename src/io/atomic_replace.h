#pragma once
/// \file
/// Atomic file replacement (src/io's own): a complete file image reaches its path by one
/// rename, so a process killed at any instant leaves the previous file or the new one.

#include <string>
#include <vector>

namespace bnl::io::detail {

/// Writes `image` to "<path>.tmp" and renames it over `path` (or, with `exclusive`, links it
/// to `path` so that an existing file is never replaced). `durable` adds fsync of the file and
/// its directory, for the final state (power loss); a killed process needs neither, since the
/// page cache outlives it. `commit` numbers the commit for the test hook (commit_hook.h). A
/// failure throws Failure and removes the temporary file.
void replace_file(const std::string& path, const std::vector<char>& image, bool exclusive, bool durable,
                  long commit);

/// strerror(err).
std::string errno_text(int err);

}  // namespace bnl::io::detail
