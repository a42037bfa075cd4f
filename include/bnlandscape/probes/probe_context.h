#pragma once
/// \file
/// The training settings a landscape probe reads (the step sizes' scale, the edge-of-stability
/// threshold, the seeds of its random vectors).

#include <cstdint>
#include <string>

namespace bnl::probes {

/// Settings a probe needs from the training configuration.
struct ProbeContext {
  double lr = 0.1;                ///< learning rate: step sizes scale with it; eos_threshold
  double momentum = 0;            ///< SGD momentum (eos_threshold)
  std::string optimizer = "sgd";  ///< sgd | adam (eos_threshold is NaN for Adam)
  std::uint64_t seed = 0;         ///< seeds the probes' random start and sample vectors
};

}  // namespace bnl::probes
