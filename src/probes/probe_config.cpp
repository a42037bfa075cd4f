#include "bnlandscape/probes/probe_config.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "bnlandscape/core/error.h"
#include "bnlandscape/probes/layer_hessian.h"

namespace bnl::probes {
namespace {

[[noreturn]] void bad(const std::string& option, const std::string& value, const std::string& allowed) {
  throw std::invalid_argument("--" + option + " = " + value + ": expected " + allowed);
}

/// The words of a comma list `value` of option `key`, each one of `allowed` and none twice;
/// throws naming the option otherwise.
std::vector<std::string> word_list(const std::string& key, const std::string& value,
                                   const std::vector<std::string>& allowed) {
  std::string expected = "a comma list of";
  for (std::size_t i = 0; i < allowed.size(); ++i) expected += (i ? " | " : " ") + allowed[i];
  std::vector<std::string> out;
  std::stringstream ss(value);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    const auto b = tok.find_first_not_of(" \t"), e = tok.find_last_not_of(" \t");
    tok = b == std::string::npos ? std::string() : tok.substr(b, e - b + 1);
    if (std::find(allowed.begin(), allowed.end(), tok) == allowed.end() ||
        std::find(out.begin(), out.end(), tok) != out.end())
      bad(optspec::dashed(key), "\"" + value + "\"", expected + ", each once");
    out.push_back(tok);
  }
  if (out.empty()) bad(optspec::dashed(key), "\"" + value + "\"", expected);
  return out;
}

/// The rules beyond one option's declared check (parsed lists, relations between options and
/// to the model's parameter count P = num_params when known), each run right after the option
/// whose check it follows, so the first bad option is the one reported.
void check_rules_after(const std::string& key, const ProbeConfig& c, std::int64_t batch_size,
                       std::int64_t num_params) {
  if (key == "probe_microbatch" && c.probe_microbatch > 0) {
    const std::int64_t n = probe_batch_kind(c) == ProbeBatch::fixed ? c.probe_size : batch_size;
    if (n % c.probe_microbatch != 0)
      bad("probe-microbatch", std::to_string(c.probe_microbatch),
          "a divisor of the probe set size " + std::to_string(n));
  } else if (key == "step_sizes") {
    if (!c.step_sizes.empty()) parse_step_sizes(c.step_sizes);
  } else if (key == "bottom_k" && num_params > 0) {
    if (c.top_k >= num_params)
      bad("top-k", std::to_string(c.top_k), "fewer than the " + std::to_string(num_params) + " parameters");
    if (c.bottom_k >= num_params)
      bad("bottom-k", std::to_string(c.bottom_k), "fewer than the " + std::to_string(num_params) + " parameters");
    if (c.ncv != 0 && (c.ncv <= std::max(c.top_k, c.bottom_k) || c.ncv > num_params))
      bad("ncv", std::to_string(c.ncv), "0 (default) or k < ncv <= " + std::to_string(num_params));
  } else if (key == "density_steps") {
    if ((c.density_runs > 0) != (c.density_steps > 0))
      bad(c.density_runs > 0 ? "density-steps" : "density-runs",
          std::to_string(c.density_runs > 0 ? c.density_steps : c.density_runs),
          "both --density-runs K and --density-steps M > 0, or neither");
    if (num_params > 0 && c.density_steps > num_params)
      bad("density-steps", std::to_string(c.density_steps),
          "at most the " + std::to_string(num_params) + " parameters");
  } else if (key == "curvature") {
    curvature_choice(c);
  } else if (key == "sharpness_scaling") {
    if (scaling_choice(c).any() && c.top_k < 1)
      bad("sharpness-scaling", "\"" + c.sharpness_scaling + "\"", "none without --top-k >= 1 (it scales the top-k)");
  } else if (key == "checkpoint_group") {
    if (c.checkpoint.empty() != c.checkpoint_group.empty())
      bad(c.checkpoint.empty() ? "checkpoint" : "checkpoint-group", "\"\"",
          "both --checkpoint and --checkpoint-group, or neither");
    if (!c.checkpoint.empty() && probe_batch_kind(c) != ProbeBatch::fixed)
      bad("probe-batch", "\"" + c.probe_batch + "\"", "fixed with --checkpoint (there is no training batch offline)");
  }
}

}  // namespace

std::size_t probe_word_index(const std::string& key, const std::string& value) {
  ProbeConfig c;
  int index = -1;
  visit_probe_specs(c, [&](const optspec::OptionSpec& s, const auto&) {
    if (key == s.key) index = s.word_index(value);
  });
  if (index < 0) throw bnl::InternalError("--" + optspec::dashed(key) + " = \"" + value + "\": read before validation");
  return static_cast<std::size_t>(index);
}

CurvatureChoice curvature_choice(const ProbeConfig& c) {
  CurvatureChoice out{false, false};
  for (const auto& w : word_list("curvature", c.curvature, {"hessian", "ggn"})) (w == "ggn" ? out.ggn : out.hessian) = true;
  return out;
}

ScalingChoice scaling_choice(const ProbeConfig& c) {
  const auto words = word_list("sharpness_scaling", c.sharpness_scaling, {"none", "layer", "adaptive"});
  ScalingChoice out;
  for (const auto& w : words) {
    if (w == "none" && words.size() > 1)
      bad("sharpness-scaling", "\"" + c.sharpness_scaling + "\"", "none alone, or a comma list of layer | adaptive");
    if (w == "layer") out.layer = true;
    if (w == "adaptive") out.adaptive = true;
  }
  return out;
}

std::vector<double> parse_step_sizes(const std::string& s) {
  std::vector<double> out;
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    std::size_t used = 0;
    double v = 0;
    try {
      v = std::stod(tok, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    while (used < tok.size() && std::isspace(static_cast<unsigned char>(tok[used]))) ++used;
    if (used == 0 || used != tok.size() || !(v > 0) || !std::isfinite(v))
      bad("step-sizes", "\"" + s + "\"", "a comma-separated list of finite step sizes > 0");
    out.push_back(v);
  }
  if (out.empty()) bad("step-sizes", "\"" + s + "\"", "at least one step size");
  return out;
}

void validate_probe(const ProbeConfig& c, std::int64_t batch_size, std::int64_t num_params) {
  visit_probe_specs(c, [&](const optspec::OptionSpec& s, const auto& field) {
    optspec::check_option<std::invalid_argument>(s, field);
    check_rules_after(s.key, c, batch_size, num_params);
  });
}

void validate_probe_shard(const ProbeConfig& c, int world_size) {
  if (world_size <= 1) return;
  const std::string ranks = std::to_string(world_size) + " ranks (WORLD_SIZE)";
  if (c.probe_batch != "fixed")
    bad("probe-batch", "\"" + c.probe_batch + "\"", "fixed with " + ranks + ": the fixed set is what is split");
  if (c.probe_microbatch <= 0)
    bad("probe-microbatch", std::to_string(c.probe_microbatch),
        "M > 0 with " + ranks + ": the set is split in whole micro-batches");
  const std::int64_t chunks = c.probe_size / c.probe_microbatch;
  if (c.probe_size % c.probe_microbatch != 0 || chunks % world_size != 0)
    bad("probe-microbatch", std::to_string(c.probe_microbatch),
        "M with --probe-size / M = " + std::to_string(c.probe_size) + " / M a multiple of the " + ranks);
}

void validate_probe_blocks(const ProbeConfig& c, const std::vector<ParamBlock>& blocks) {
  if (c.layer_top_k <= 0) return;
  for (const auto& b : blocks)
    if (c.layer_top_k >= b.size)
      bad("layer-top-k", std::to_string(c.layer_top_k),
          "fewer than the " + std::to_string(b.size) + " parameters of the smallest block (" + b.name + ")");
}

}  // namespace bnl::probes
