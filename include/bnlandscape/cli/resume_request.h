#pragma once
/// \file
/// `train --resume FILE` and `probe --resume FILE`: what a continuation may change (nothing but
/// a larger --epochs, and --quiet) and the command line that continues a run.

#include <string>

namespace bnl::cli {

/// Checks that a `--resume file` request of `command` ("train" or "probe") whose options
/// resolved to the configuration TOML `given` (the command's --dump-config text) and the output
/// `out` continues the run in `file`: a run file of the command's kind (record/run_kind.h), every option stored in the file's config_toml has the same value in `given` (out, overwrite
/// and quiet aside) but epochs, which may only grow; a complete run must grow epochs, a diverged
/// one cannot continue. Throws ConfigError naming every option that differs, e.g.
/// "--resume F: cannot change --lr (0.1 in the run file, 0.2 given); only --epochs may grow".
void check_resume_request(const std::string& command, const std::string& file, const std::string& given,
                          const std::string& out);

/// The shell command that continues the run file `path` written by `command` ("train" or
/// "probe"): "bnlandscape train --resume PATH", PATH single-quoted when the shell needs it.
std::string resume_command(const std::string& command, const std::string& path);

}  // namespace bnl::cli
