#pragma once
/// \file
/// The error hierarchy. Bad input (an option, a file the user named, data that is not what it
/// claims to be) is an exception thrown where it is detected, carrying a message of the form
/// "WHERE: expected X, got Y"; solver outcomes (non-convergence, divergence) are data, never
/// errors. Errors are caught only in `main` (cli/app.cpp), which prints the message and maps
/// the type to an exit code (exit_code_for in cli/exit_codes.h).

#include <stdexcept>
#include <string>

namespace bnl {

/// Base of every error bnlandscape throws on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An option value, configuration file or option combination that is not allowed; the message
/// names the option (as its flag or TOML key), the value and what is allowed.
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// A data set file or tensor that is not what it must be (truncated, wrong magic, labels out
/// of range, ...); the message names the file and what was found.
class DataError : public Error {
 public:
  using Error::Error;
};

/// Reading or writing a file failed (HDF5, the file system, a lock file); the message names
/// the file and the reason.
class IoError : public Error {
 public:
  using Error::Error;
};

/// Communication between processes failed (rendezvous, all-reduce, timeouts).
class DistError : public Error {
 public:
  using Error::Error;
};

/// A broken invariant of bnlandscape itself: a bug to report, never the user's input.
class InternalError : public Error {
 public:
  using Error::Error;
};

}  // namespace bnl
