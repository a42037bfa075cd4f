#pragma once
/// \file
/// When a RunFile commits (src/io's own): whole-image commits of a file grown large by
/// checkpoints must cost at most ~2% of the run.

#include <chrono>

namespace bnl::io::detail {

/// Whether a commit is due at a periodic flush point or checkpoint: always when the last one
/// took under 5 ms (every file without many checkpoints), else once the time since it ended is
/// at least 50 times what it took. close() and flush() commit regardless.
bool commit_due(double last_commit_seconds, std::chrono::steady_clock::time_point last_commit_end);

}  // namespace bnl::io::detail
