#pragma once
/// \file
/// All of the measurement core: flat parameter vectors, the Hessian operator,
/// its spectrum, trace, SLQ density and per-layer blocks, and the gradient-path landscape probe.

#include "bnlandscape/probes/density.h"
#include "bnlandscape/probes/flat_params.h"
#include "bnlandscape/probes/gradient_path.h"
#include "bnlandscape/probes/hessian_operator.h"
#include "bnlandscape/probes/layer_hessian.h"
#include "bnlandscape/probes/loss_fn.h"
#include "bnlandscape/probes/spectrum.h"
#include "bnlandscape/probes/trace.h"
