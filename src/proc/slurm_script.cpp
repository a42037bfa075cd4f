#include "bnlandscape/proc/slurm_script.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <sstream>

namespace bnl::proc {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) {
    if (ch == '\'') out += "'\\''";
    else out += ch;
  }
  return out + "'";
}

std::string slurm_array_script(const SlurmArray& a) {
  namespace fs = std::filesystem;
  const std::size_t n = a.points;
  std::string stem = fs::path(a.sweep_file).stem().string();
  for (char& ch : stem)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.') ch = '_';
  std::ostringstream os;
  os << "#!/bin/bash\n"
     << "# bnlandscape sweep as a SLURM job array: one task per point, " << n << " points.\n"
     << "# Sweep file: " << a.sweep_file << "\n"
     << "# Submit with: sbatch " << a.script << "\n"
     << "# A task whose run file is already complete or diverged exits at once, so submitting the\n"
     << "# array again finishes an interrupted sweep. The same sweep runs locally with\n"
     << "#   bnlandscape sweep --config " << a.sweep_file << " --out " << a.out_dir << "\n"
     << "#SBATCH --job-name=bnl-" << stem << "\n"
     << "#SBATCH --array=0-" << (n - 1) << "\n"
     << "#SBATCH --ntasks=1\n"
     << "#SBATCH --cpus-per-task=" << std::max<std::int64_t>(1, a.threads) << "\n";
  if (a.out_dir.find_first_of(" \t") == std::string::npos)
    os << "#SBATCH --output=" << (fs::path(a.out_dir) / "slurm-%A_%a.out").string() << "\n";
  os << "set -euo pipefail\n"
     << "exec " << shell_quote(a.binary) << " sweep --config " << shell_quote(a.sweep_file) << " --out "
     << shell_quote(a.out_dir) << " --index \"$SLURM_ARRAY_TASK_ID\"\n";
  return os.str();
}

}  // namespace bnl::proc
