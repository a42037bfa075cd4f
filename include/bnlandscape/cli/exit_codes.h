#pragma once
/// \file
/// Process exit codes, and the one mapping from an error to its code (used by run_app alone).

#include <exception>
#include <string>

namespace bnl::cli {

/// Process exit codes (a contract for scripts and schedulers).
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 2,      ///< bad input, configuration, data or I/O error
  kExitDiverged = 3,   ///< training loss became NaN or Inf (returned by train/probe, never thrown)
};

/// The exit code of a run ended by `e`: kExitError for every bnl::Error (configuration, data,
/// I/O, distributed, internal), CLI11 parse error, c10::Error and any other exception.
int exit_code_for(const std::exception& e);

/// The one-line message printed for `e` ("bnlandscape: error: <message>"): what() without
/// libtorch's backtrace for a c10::Error.
std::string error_message(const std::exception& e);

}  // namespace bnl::cli
