#pragma once
/// \file
/// Running a sweep's points on this machine: each point as a child process of this binary
/// (`probe` or `train --config DIR/<name>.toml --overwrite`, output in DIR/<name>.log), at
/// most --jobs at once (sweep/process_pool.h); a point whose run file is already complete or
/// diverged is skipped, so an interrupted sweep resumes. Progress and a summary go to stdout.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bnlandscape/cli/sweep_matrix.h"

namespace bnl::cli {

/// Runs the points `todo` (indices into `points`) with their run files under `out` (created
/// if missing), `jobs` at once (0 = available cores / threads per point). Returns the exit
/// code: with `single` (--index) the point's own (0 if skipped), else 0 when no point failed,
/// was interrupted or was left unstarted, 2 otherwise.
int run_sweep_points(const SweepSpec& spec, const std::vector<SweepPoint>& points,
                     const std::vector<std::size_t>& todo, const std::string& out, std::int64_t jobs, bool single);

/// The resolved configuration of point `pt` as TOML (what `--dump-config` prints), parsed with
/// the command's own option table so that a bad value fails here with CLI11's message;
/// `threads` > 0 is added as --threads.
std::string resolve_point(const SweepSpec& spec, const SweepPoint& pt, const std::string& out_file,
                          std::int64_t threads);

}  // namespace bnl::cli
