#pragma once
/// \file
/// Progress on stderr (run/progress.h), as the commands name it.

#include "bnlandscape/run/progress.h"

namespace bnl::cli {

using run::Progress;

}  // namespace bnl::cli
