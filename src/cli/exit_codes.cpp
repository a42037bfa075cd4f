#include "bnlandscape/cli/exit_codes.h"

#include <CLI/Error.hpp>
#include <c10/util/Exception.h>

#include "bnlandscape/core/error.h"

namespace bnl::cli {

int exit_code_for(const std::exception& e) {
  // Every kind of error has the same code today; the cases stay apart so that one can change.
  if (dynamic_cast<const bnl::ConfigError*>(&e)) return kExitError;
  if (dynamic_cast<const bnl::Error*>(&e)) return kExitError;
  if (dynamic_cast<const CLI::ParseError*>(&e)) return kExitError;
  if (dynamic_cast<const c10::Error*>(&e)) return kExitError;
  return kExitError;
}

std::string error_message(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

}  // namespace bnl::cli
