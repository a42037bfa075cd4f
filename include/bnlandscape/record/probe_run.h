#pragma once
/// \file
/// Pieces a probe run shares between probing during training (record/probe_observer.h) and
/// probing a checkpoint once: the fixed probe set, the probe's training context, this rank's
/// shard, a probe measured with its all-reduce time, and the probe's log line.

#include <cstdint>
#include <string>
#include <utility>

#include "bnlandscape/data/dataset.h"
#include "bnlandscape/probes/landscape_probe.h"
#include "bnlandscape/train/config.h"

namespace bnl::dist {
class Communicator;
}

namespace bnl::record {

/// The fixed probe set: the first n training examples in file order, as (images [n, C, H, W],
/// labels [n]); more than the training set holds is a ConfigError naming --probe-size.
std::pair<torch::Tensor, torch::Tensor> fixed_probe_set(const data::Dataset& d, std::int64_t n);

/// The training settings a probe needs (learning rate, momentum, optimizer, seed).
probes::ProbeContext probe_context(const train::TrainConfig& cfg);

/// This rank's share of the probe set (the whole set for a single process, `comm` null).
probes::ProbeShard shard_of(dist::Communicator* comm);

/// Measures one probe at `step` on (x, y), recording in allreduce_seconds the time its
/// all-reduces took (0 without `comm`).
probes::ProbeRecord measure_timed(probes::LandscapeProbe& probe, dist::Communicator* comm, std::int64_t step,
                                  const models::Classifier& model, const torch::Tensor& x, const torch::Tensor& y);

/// "probe step 50: loss 0.31 beta 2.1 max grad_pred 0.4 lambda_max 12 (40 HVPs) 0.8s", plus
/// the all-reduce time and rank count with `comm`.
std::string probe_line(const probes::ProbeRecord& r, const dist::Communicator* comm);

}  // namespace bnl::record
