#pragma once
/// \file
/// A model's weights and buffers by dotted name, and copying them between models of the same
/// architecture (the probe's private copy follows the training model this way).

#include <string>

#include <torch/ordered_dict.h>
#include <torch/types.h>

namespace torch::nn {
class Module;
}

namespace bnl::probes {

/// A model's weights and buffers at one moment, by dotted name (LandscapeProbe::capture()).
struct ProbeState {
  torch::OrderedDict<std::string, torch::Tensor> params, buffers;
};

/// Copies every parameter and buffer of `from` into `to` by name (converting dtype); both
/// models must have the same architecture. Throws c10::Error on a missing name or shape.
void copy_state(const torch::nn::Module& from, torch::nn::Module& to);
/// The same from named parameters and buffers (e.g. a ProbeState), by dotted name.
void copy_state(const torch::OrderedDict<std::string, torch::Tensor>& params,
                const torch::OrderedDict<std::string, torch::Tensor>& buffers, torch::nn::Module& to);

}  // namespace bnl::probes
