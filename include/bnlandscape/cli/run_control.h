#pragma once
/// \file
/// Process-level safety of a run, as the commands name it: the lock file (run/run_lock.h)
/// and the signal guard (run/signal_guard.h).

#include "bnlandscape/run/run_lock.h"
#include "bnlandscape/run/signal_guard.h"

namespace bnl::cli {

using run::RunLock;
using run::SignalGuard;

}  // namespace bnl::cli
