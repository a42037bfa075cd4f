#include "bnlandscape/train/config.h"

#include <cmath>
#include <sstream>

#include "bnlandscape/models/factory.h"
#include "bnlandscape/models/vgg.h"

namespace bnl::train {
namespace {

[[noreturn]] void bad(const std::string& option, const std::string& value, const std::string& allowed) {
  throw ConfigError("--" + option + " = " + value + ": expected " + allowed);
}

std::string str(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}


/// A scripted module's BatchNorm layers are libtorch's (or the user's): the options that
/// configure ours (the original's backward, evaluation with batch statistics, noise) cannot
/// reach them.
void check_scripted_bn(const TrainConfig& c) {
  if (arch_kind(c) != Arch::torchscript) return;
  if (bn_backward_kind(c) == BnBackward::original)
    bad("bn-backward", "original", "exact with --arch torchscript (the module's BatchNorm has autograd's backward)");
  if (bn_eval_kind(c) == BnEval::batch)
    bad("bn-eval", "batch", "running with --arch torchscript (the module's BatchNorm evaluates with running statistics)");
  if (c.bn_noise) bad("bn-noise", "true", "false with --arch torchscript (noise is added after our normalisation layers only)");
}

/// The rules beyond one option's declared check (parsed lists, relations between options),
/// each run right after the option whose check it follows, so the first bad option is the one
/// reported.
void check_rules_after(const std::string& key, const TrainConfig& c) {
  if (key == "data_file") {
    const bool tensors = dataset_kind(c) == Dataset::tensors;
    if (tensors && c.data_file.empty())
      bad("data-file", "\"\"", "an HDF5 file (--data-file FILE.h5) with --dataset tensors");
    if (!tensors && !c.data_file.empty())
      bad("data-file", "\"" + c.data_file + "\"", "no data file with --dataset " + c.dataset +
                                                  " (it is read only with --dataset tensors)");
    if (tensors && !c.data_dir.empty())
      bad("data-dir", "\"" + c.data_dir + "\"", "no data directory with --dataset tensors (the data is --data-file)");
  } else if (key == "model") {
    const bool scripted = arch_kind(c) == Arch::torchscript;
    if (scripted && c.model.empty())
      bad("model", "\"\"", "a TorchScript file (--model FILE.pt) with --arch torchscript");
    if (!scripted && !c.model.empty())
      bad("model", "\"" + c.model + "\"", "no model file with --arch " + c.arch +
                                           " (it is read only with --arch torchscript)");
  } else if (key == "vgg_config") {
    try {
      models::parse_int_list(c.hidden_dims, "hidden-dims");
      models::parse_int_list(c.conv_channels, "conv-channels");
      models::parse_vgg_config(c.vgg_config);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(std::string("--") + e.what());
    }
  } else if (key == "bn_eval") {
    if (bn_backward_kind(c) == BnBackward::original && bn_kind(c) != Bn::custom)
      bad("bn-backward", "original", "exact unless --bn custom (only our BatchNorm has the original's backward)");
    check_scripted_bn(c);
    if (c.bn_noise && bn_kind(c) == Bn::none)
      bad("bn-noise", "true", "a normalisation layer to add noise after (--bn custom | torch | lp1 | lp2 | lpinf)");
  } else if (key == "weight_decay") {
    if (c.momentum > 0 && optimizer_kind(c) != Optimizer::sgd) bad("momentum", str(c.momentum), "0 with --optimizer adam");
  } else if (key == "batch_size") {
    if (bn_kind(c) != Bn::none && c.batch_size < 2)
      bad("batch-size", std::to_string(c.batch_size), "at least 2 with batch normalisation");
  } else if (key == "ics_layers") {
    // A scripted forward reports no intermediate outputs (models/torchscript_model.h).
    if (arch_kind(c) == Arch::torchscript && c.activations_every > 0)
      bad("activations-every", std::to_string(c.activations_every),
          "0 with --arch torchscript (a scripted module reports no intermediate outputs)");
    if (arch_kind(c) == Arch::torchscript && c.ics_every > 0)
      bad("ics-every", std::to_string(c.ics_every), "0 with --arch torchscript (a scripted module reports no intermediate outputs)");
  } else if (key == "activation_range") {
    if (!c.activation_range.empty()) parse_activation_range(c.activation_range);
  }
}

}  // namespace

void validate(const TrainConfig& c) {
  visit_train_specs(c, [&](const optspec::OptionSpec& s, const auto& field) {
    optspec::check_option<ConfigError>(s, field);
    check_rules_after(s.key, c);
  });
}

std::vector<std::string> adopted_keys(unsigned command) {
  std::vector<std::string> keys;
  TrainConfig c;
  visit_train_specs(c, [&](const optspec::OptionSpec& s, const auto&) {
    if (s.adopt & command) keys.emplace_back(s.key);
  });
  return keys;
}

std::size_t word_index(const std::string& key, const std::string& value) {
  TrainConfig c;
  int index = -1;
  visit_train_specs(c, [&](const optspec::OptionSpec& s, const auto&) {
    if (key == s.key) index = s.word_index(value);
  });
  if (index < 0) throw bnl::InternalError("--" + optspec::dashed(key) + " = \"" + value + "\": read before validation");
  return static_cast<std::size_t>(index);
}

std::pair<double, double> parse_activation_range(const std::string& s) {
  const auto comma = s.find(',');
  double lo = 0, hi = 0;
  bool ok = comma != std::string::npos;
  if (ok) {
    try {
      std::size_t a = 0, b = 0;
      const std::string l = s.substr(0, comma), h = s.substr(comma + 1);
      lo = std::stod(l, &a);
      hi = std::stod(h, &b);
      ok = l.find_first_not_of(" \t", a) == std::string::npos && h.find_first_not_of(" \t", b) == std::string::npos;
    } catch (const std::exception&) {
      ok = false;
    }
  }
  if (!ok || !std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi))
    bad("activation-range", "\"" + s + "\"", "\"lo,hi\" with finite lo < hi");
  return {lo, hi};
}

std::vector<std::string> parse_name_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto b = item.find_first_not_of(" \t");
    const auto e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

}  // namespace bnl::train
