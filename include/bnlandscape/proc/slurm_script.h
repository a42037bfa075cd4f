#pragma once
/// \file
/// A sweep as a SLURM job array: one array task per point, task k running the sweep's point
/// k alone (`sweep --index k`), so that submitting the array again finishes an interrupted
/// sweep.

#include <cstddef>
#include <cstdint>
#include <string>

namespace bnl::proc {

/// What the job-array script needs to know (paths as they appear in it).
struct SlurmArray {
  std::size_t points = 1;      ///< number of array tasks (--array=0-points-1)
  std::string sweep_file;      ///< absolute path of the sweep file
  std::string out_dir;         ///< absolute path of the run files' directory
  std::string binary;          ///< the bnlandscape executable the tasks run
  std::string script;          ///< where the script is written, as the user named it
  std::int64_t threads = 0;    ///< --cpus-per-task (at least 1)
};

/// The bash script of `array`: #SBATCH lines (job name from the sweep file's stem, array
/// range, one task with `threads` CPUs, output beside the run files when that path has no
/// blanks) and the exec of `sweep --index $SLURM_ARRAY_TASK_ID`.
std::string slurm_array_script(const SlurmArray& array);

/// `s` single-quoted for bash ('...' with each ' written as '\'').
std::string shell_quote(const std::string& s);

}  // namespace bnl::proc
