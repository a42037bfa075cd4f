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

void one_of(const std::string& option, const std::string& value, std::initializer_list<const char*> allowed) {
  std::string list;
  for (const char* a : allowed) {
    if (value == a) return;
    list += (list.empty() ? "" : " | ") + std::string(a);
  }
  bad(option, "\"" + value + "\"", list);
}

}  // namespace

void validate(const TrainConfig& c) {
  one_of("dataset", c.dataset, {"fashion-mnist", "cifar10"});
  if (c.train_subset < 0) bad("train-subset", std::to_string(c.train_subset), "N >= 0 (0 = all)");
  if (c.test_subset < 0) bad("test-subset", std::to_string(c.test_subset), "N >= 0 (0 = all)");
  one_of("arch", c.arch, {"mlp", "cnn", "vgg"});
  try {
    models::parse_int_list(c.hidden_dims, "hidden-dims");
    models::parse_int_list(c.conv_channels, "conv-channels");
    models::parse_vgg_config(c.vgg_config);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(std::string("--") + e.what());
  }
  if (!(c.width_mult > 0) || !std::isfinite(c.width_mult))
    bad("width-mult", str(c.width_mult), "a finite value > 0");
  one_of("bn", c.bn, {"none", "custom", "torch", "lp1", "lp2", "lpinf"});
  one_of("bn-placement", c.bn_placement, {"head", "conv", "all"});
  one_of("bn-backward", c.bn_backward, {"exact", "original"});
  one_of("bn-eval", c.bn_eval, {"running", "batch"});
  if (c.bn_backward == "original" && c.bn != "custom")
    bad("bn-backward", "original", "exact unless --bn custom (only our BatchNorm has the original's backward)");
  if (c.bn_noise && c.bn == "none")
    bad("bn-noise", "true", "a normalisation layer to add noise after (--bn custom | torch | lp1 | lp2 | lpinf)");
  if (!(c.bn_noise_mu >= 0) || !std::isfinite(c.bn_noise_mu))
    bad("bn-noise-mu", str(c.bn_noise_mu), "a finite value >= 0");
  if (!(c.bn_noise_sigma >= 0) || !std::isfinite(c.bn_noise_sigma))
    bad("bn-noise-sigma", str(c.bn_noise_sigma), "a finite value >= 0");
  one_of("optimizer", c.optimizer, {"sgd", "adam"});
  one_of("step-engine", c.step_engine, {"auto", "autograd"});
  if (!(c.lr > 0) || !std::isfinite(c.lr)) bad("lr", str(c.lr), "a finite learning rate > 0");
  if (!(c.momentum >= 0 && c.momentum < 1)) bad("momentum", str(c.momentum), "0 <= momentum < 1");
  if (!(c.weight_decay >= 0) || !std::isfinite(c.weight_decay))
    bad("weight-decay", str(c.weight_decay), "a finite value >= 0");
  if (c.momentum > 0 && c.optimizer != "sgd") bad("momentum", str(c.momentum), "0 with --optimizer adam");
  if (c.batch_size <= 0) bad("batch-size", std::to_string(c.batch_size), "a batch size >= 1");
  if (c.bn != "none" && c.batch_size < 2)
    bad("batch-size", std::to_string(c.batch_size), "at least 2 with batch normalisation");
  if (c.epochs <= 0) bad("epochs", std::to_string(c.epochs), "at least 1 epoch");
  if (c.threads < 0) bad("threads", std::to_string(c.threads), "N >= 0 (0 = measured default)");
  one_of("device", c.device, {"cpu", "cuda", "auto"});
  if (c.eval_every < 0) bad("eval-every", std::to_string(c.eval_every), "N >= 0 (0 = off)");
  if (c.checkpoint_every < 0) bad("checkpoint-every", std::to_string(c.checkpoint_every), "N >= 0 (0 = at the end)");
  if (c.flush_every < 1 || c.flush_every > 50) bad("flush-every", std::to_string(c.flush_every), "1 <= N <= 50");
  if (c.activations_every < 0) bad("activations-every", std::to_string(c.activations_every), "N >= 0 (0 = off)");
  if (c.activation_bins < 1 || c.activation_bins > 100000)
    bad("activation-bins", std::to_string(c.activation_bins), "1 <= bins <= 100000");
  if (!c.activation_range.empty()) parse_activation_range(c.activation_range);
  if (c.ics_every < 0) bad("ics-every", std::to_string(c.ics_every), "N >= 0 (0 = off)");
  if (c.out.empty()) bad("out", "\"\"", "a run file path (--out FILE)");
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
