#pragma once
/// \file
/// All of the measurement core: flat parameter vectors, the Hessian operator,
/// its spectrum and trace, and the gradient-path landscape probe.

#include "bnlandscape/probes/flat_params.h"
#include "bnlandscape/probes/gradient_path.h"
#include "bnlandscape/probes/hessian_operator.h"
#include "bnlandscape/probes/loss_fn.h"
#include "bnlandscape/probes/spectrum.h"
#include "bnlandscape/probes/trace.h"
