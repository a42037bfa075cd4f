#include "commit_policy.h"

namespace bnl::io::detail {
namespace {

// A commit is due at a periodic flush point or checkpoint once the time since the last one is
// this many times what the last one took, so that writing whole images costs at most ~2% of
// the run even when checkpoints make the file large; close() and flush() always commit. A
// file whose last commit took under kCheapCommitSeconds (every file without many checkpoints)
// is committed every time.
constexpr double kCommitCostFactor = 50.0;
constexpr double kCheapCommitSeconds = 0.005;

}  // namespace

bool commit_due(double last_commit_seconds, std::chrono::steady_clock::time_point last_commit_end) {
  if (last_commit_seconds < kCheapCommitSeconds) return true;
  const double since = std::chrono::duration<double>(std::chrono::steady_clock::now() - last_commit_end).count();
  return since >= kCommitCostFactor * last_commit_seconds;
}

}  // namespace bnl::io::detail
