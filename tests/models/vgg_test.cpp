// VGG: configurations and widths, torchvision's state-dict keys and parameter counts, forward
// and backward equal to Python PyTorch on the same weights and batch, and our BatchNorm2d
// inside it equal to libtorch's batch_norm up to double backward.
#include "bnlandscape/models/vgg.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "bnlandscape/models/factory.h"
#include "cli/cli_test_util.h"

using namespace bnl::models;

namespace {

ModelSpec vgg_spec(const std::string& config, double width, NormKind kind, std::int64_t size = 32) {
  ModelSpec s;
  s.arch = "vgg";
  s.in_channels = 3;
  s.input_size = size;
  s.vgg_config = config;
  s.width_mult = width;
  s.norm.kind = kind;
  return s;
}

std::int64_t count_params(const torch::nn::Module& m) {
  std::int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

// Raw little-endian float64, the exchange format with the Python reference (numpy.fromfile).
void write_raw(const std::string& path, const torch::Tensor& t) {
  const auto c = t.detach().to(torch::kCPU, torch::kDouble).contiguous();
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(c.data_ptr<double>()), static_cast<std::streamsize>(c.numel() * 8));
}

torch::Tensor read_raw(const std::string& path, at::IntArrayRef sizes) {
  auto t = torch::empty(sizes, torch::kDouble);
  std::ifstream f(path, std::ios::binary);
  f.read(reinterpret_cast<char*>(t.data_ptr<double>()), static_cast<std::streamsize>(t.numel() * 8));
  EXPECT_EQ(f.gcount(), static_cast<std::streamsize>(t.numel() * 8)) << path;
  return t;
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.detach().to(torch::kDouble) - b.detach().to(torch::kDouble)).abs().max().item<double>();
}

// The Python side: the same net from torchvision's own make_layers (cfg with scaled widths)
// and one Linear, PyTorch-default initialisation.
const char* kPythonNet = R"PY(
import numpy as np, torch, torch.nn as nn
from torchvision.models.vgg import make_layers

def widths(cfg, mult):
    return [v if v == 'M' else max(1, int(v * mult + 0.5)) for v in cfg]

class Net(nn.Module):
    def __init__(self, cfg, bn, classes=10, side=1):
        super().__init__()
        self.features = make_layers(cfg, batch_norm=bn)
        last = [v for v in cfg if v != 'M'][-1]
        self.classifier = nn.Linear(last * side * side, classes)
    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))

def raw(path, shape):
    return torch.from_numpy(np.fromfile(path, dtype='<f8').reshape(shape))
)PY";

}  // namespace

TEST(Vgg, ConfigurationsAreTorchvisionsAndListsParse) {
  EXPECT_EQ(parse_vgg_config("11"), parse_vgg_config("64,M,128,M,256,256,M,512,512,M,512,512,M"));
  EXPECT_EQ(parse_vgg_config("13").size(), 15u);
  EXPECT_EQ(parse_vgg_config("16").size(), 18u);
  EXPECT_EQ(parse_vgg_config("19").size(), 21u);
  EXPECT_EQ(parse_vgg_config(" 8, M ,16"), (std::vector<std::int64_t>{8, kVggPool, 16}));
  for (const char* bad : {"", "M", "M,M", "64,,M", "64,X", "0,M", "-3", "12"}) {
    // "12" is a list of one 12-channel convolution, which is fine: only the others throw.
    if (std::string(bad) == "12") {
      EXPECT_EQ(parse_vgg_config(bad), (std::vector<std::int64_t>{12}));
      continue;
    }
    try {
      parse_vgg_config(bad);
      ADD_FAILURE() << "expected an exception for \"" << bad << "\"";
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()).rfind("vgg-config:", 0), 0u) << e.what();
    }
  }
  EXPECT_EQ(vgg_width(64, 0.25), 16);
  EXPECT_EQ(vgg_width(64, 0.125), 8);
  EXPECT_EQ(vgg_width(512, 1.0 / 3), 171);
  EXPECT_EQ(vgg_width(64, 0.001), 1);  // at least one channel
  EXPECT_THROW(vgg_width(64, 0.0), std::invalid_argument);
  EXPECT_THROW(vgg_width(64, -1.0), std::invalid_argument);
  EXPECT_THROW(vgg_width(64, NAN), std::invalid_argument);
}

TEST(Vgg, LayoutNamesAndCountsAtWidthOne) {
  auto bn = make_model(vgg_spec("11", 1.0, NormKind::Custom));
  auto plain = make_model(vgg_spec("11", 1.0, NormKind::None));
  // torchvision's vgg11_bn / vgg11 features plus Linear(512, 10) (checked against Python below).
  EXPECT_EQ(count_params(*bn), 9231114);
  EXPECT_EQ(count_params(*plain), 9225610);
  const auto names = bn->named_parameters().keys();
  ASSERT_GE(names.size(), 6u);
  EXPECT_EQ(names[0], "features.0.weight");
  EXPECT_EQ(names[2], "features.1.weight");  // our BatchNorm under torch.nn's names
  EXPECT_EQ(names[3], "features.1.bias");
  EXPECT_EQ(names[4], "features.4.weight");
  EXPECT_EQ(names[names.size() - 2], "classifier.weight");
  const auto buffers = bn->named_buffers().keys();
  EXPECT_EQ(buffers[0], "features.1.running_mean");
  EXPECT_EQ(buffers[2], "features.1.num_batches_tracked");
  EXPECT_EQ(plain->named_parameters().keys()[2], "features.3.weight");
  EXPECT_EQ(bn->weight_layer_names().back(), "classifier");
  EXPECT_EQ(bn->layer_names()[1], "features.1");
  // lp-normalisation keeps its own names.
  auto lp = make_model(vgg_spec("64,M", 1.0, NormKind::Lp2, 8));
  EXPECT_EQ(lp->named_parameters().keys()[2], "features.1.gamma");
}

TEST(Vgg, ShapesRecorderAndBadSettings) {
  auto m = make_model(vgg_spec("11", 0.125, NormKind::Torch));
  auto x = torch::randn({4, 3, 32, 32});
  EXPECT_EQ(m->forward(x).sizes(), (std::vector<std::int64_t>{4, 10}));
  std::vector<std::string> seen;
  m->forward_recorded(x, [&](const std::string& n, const torch::Tensor&) { seen.push_back(n); });
  EXPECT_EQ(seen.front(), "features.0");
  EXPECT_EQ(seen[1], "features.1");
  EXPECT_EQ(seen.back(), "classifier");
  // 16x16 inputs with two pools: 4x4 maps into the classifier.
  auto small = make_model(vgg_spec("8,M,16,M", 1.0, NormKind::None, 16));
  EXPECT_EQ(small->named_parameters()["classifier.weight"].sizes(), (std::vector<std::int64_t>{10, 16 * 4 * 4}));
  try {
    make_model(vgg_spec("11", 1.0, NormKind::None, 16));
    FAIL() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("input size 16 is not divisible by 2^5"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_model(vgg_spec("11", 0.0, NormKind::None)), std::invalid_argument);
  EXPECT_THROW(make_model(vgg_spec("64,Q", 1.0, NormKind::None)), std::invalid_argument);
}

TEST(Vgg, NumBatchesTrackedCountsUpdatesAsTorchDoes) {
  auto ours = make_model(vgg_spec("4,M", 1.0, NormKind::Custom, 4));
  auto x = torch::randn({3, 3, 4, 4});
  ours->forward(x);
  ours->forward(x);
  EXPECT_EQ(ours->named_buffers()["features.1.num_batches_tracked"].item<std::int64_t>(), 2);
  ours->eval();
  ours->forward(x);
  EXPECT_EQ(ours->named_buffers()["features.1.num_batches_tracked"].item<std::int64_t>(), 2);
  set_running_stats_updates(*ours, false);
  ours->train();
  ours->forward(x);
  EXPECT_EQ(ours->named_buffers()["features.1.num_batches_tracked"].item<std::int64_t>(), 2);
}

TEST(Vgg, KeysAndCountEqualTorchvisionVgg11Bn) {
  // torchvision's own vgg11_bn / vgg11 with this project's head: the keys and sizes a Python
  // user's load_state_dict checks.
  const auto py = bnl_test::python(R"PY(
import torch.nn as nn, torchvision
# Only names and shapes matter: skip initialising torchvision's 120M-parameter ImageNet head.
nn.Linear.reset_parameters = lambda self: None
nn.Conv2d.reset_parameters = lambda self: None
for bn in (True, False):
    m = torchvision.models.vgg11_bn(init_weights=False) if bn else torchvision.models.vgg11(init_weights=False)
    m.avgpool = nn.Identity()
    m.classifier = nn.Linear(512, 10)
    tag = 'bn' if bn else 'plain'
    for k, v in m.state_dict().items():
        print(tag, k, v.numel())
    print(tag, 'count', sum(p.numel() for p in m.parameters()))
)PY");
  if (py.code != 0 && py.output.find("No module named 'torchvision'") != std::string::npos)
    GTEST_SKIP() << BNL_PYTHON << " has no torchvision (python3-torchvision, scripts/install-deps.sh)";
  ASSERT_EQ(py.code, 0) << py.output;
  for (const auto& [tag, kind] : {std::pair<std::string, NormKind>{"bn", NormKind::Custom}, {"plain", NormKind::None}}) {
    std::vector<std::pair<std::string, std::int64_t>> want;
    std::int64_t want_count = -1;
    std::istringstream in(py.output);
    std::string t, key;
    std::int64_t n = 0;
    while (in >> t >> key >> n) {
      if (t != tag) continue;
      if (key == "count") want_count = n;
      else want.emplace_back(key, n);
    }
    auto model = make_model(vgg_spec("11", 1.0, kind));
    // state_dict order: per module, its parameters then its buffers.
    std::vector<std::pair<std::string, std::int64_t>> got;
    for (const auto& item : model->named_modules("", /*include_self=*/false)) {
      for (const auto& p : item.value()->named_parameters(false)) got.emplace_back(item.key() + "." + p.key(), p.value().numel());
      for (const auto& b : item.value()->named_buffers(false)) got.emplace_back(item.key() + "." + b.key(), b.value().numel());
    }
    EXPECT_EQ(got, want) << tag;
    EXPECT_EQ(count_params(*model), want_count) << tag;
  }
  // libtorch's BatchNorm2d (--bn torch) has the same keys as ours.
  EXPECT_EQ(make_model(vgg_spec("11", 1.0, NormKind::Torch))->named_buffers().keys(),
            make_model(vgg_spec("11", 1.0, NormKind::Custom))->named_buffers().keys());
}

TEST(Vgg, ForwardAndBackwardEqualPythonPyTorch) {
  // VGG-11 at width 0.25 on CIFAR-shaped float64 batches, with our BatchNorm and without:
  // the same seed gives the same initial weights as the Python net, and on the same weights and
  // batch the training-mode logits, loss, every gradient and the running statistics, then the
  // eval-mode logits, agree within 1e-5 (float64: they agree to ~1e-12).
  bnl_test::TempDir dir;
  struct Case {
    std::string tag;
    NormKind kind;
  };
  const std::vector<Case> cases{{"bn", NormKind::Custom}, {"plain", NormKind::None}};
  std::map<std::string, std::shared_ptr<Classifier>> models;
  for (const auto& c : cases) {
    const std::string d = dir / c.tag;
    std::filesystem::create_directories(d + "/in");
    std::filesystem::create_directories(d + "/out");
    torch::manual_seed(5);
    auto m = make_model(vgg_spec("11", 0.25, c.kind));
    for (const auto& item : m->named_parameters()) write_raw(d + "/in/init." + item.key() + ".bin", item.value());
    m->to(torch::kDouble);
    torch::NoGradGuard no_grad;
    for (auto& p : m->parameters()) p.add_(0.05 * torch::randn_like(p));  // BN weights away from 1, 0
    for (const auto& item : m->named_parameters()) write_raw(d + "/in/" + item.key() + ".bin", item.value());
    for (const auto& item : m->named_buffers()) write_raw(d + "/in/" + item.key() + ".bin", item.value());
    models[c.tag] = m;
  }
  torch::manual_seed(6);
  const auto x = torch::randn({8, 3, 32, 32}, torch::kDouble);
  const auto y = torch::randint(0, 10, {8}, torch::kLong);
  write_raw(dir / "x.bin", x);
  write_raw(dir / "y.bin", y);

  const auto py = bnl_test::python(std::string(kPythonNet) + R"PY(
import os
root = ')PY" + dir.path.string() + R"PY('
cfg = widths([64,'M',128,'M',256,256,'M',512,512,'M',512,512,'M'], 0.25)
x = raw(root + '/x.bin', (8, 3, 32, 32))
y = raw(root + '/y.bin', (8,)).long()
for tag in ('bn', 'plain'):
    d = root + '/' + tag
    torch.manual_seed(5)
    net = Net(cfg, tag == 'bn')
    init = max((p.detach().double() - raw(d + '/in/init.' + k + '.bin', p.shape)).abs().max().item()
               for k, p in net.named_parameters())
    print(tag, 'init_maxdiff', init)
    net = net.double()
    with torch.no_grad():
        for k, t in net.state_dict().items():
            t.copy_(raw(d + '/in/' + k + '.bin', t.shape).to(t.dtype))
    net.train()
    logits = net(x)
    loss = nn.functional.cross_entropy(logits, y)
    loss.backward()
    logits.detach().numpy().tofile(d + '/out/logits.bin')
    np.array([loss.item()]).tofile(d + '/out/loss.bin')
    for k, p in net.named_parameters():
        p.grad.numpy().tofile(d + '/out/grad.' + k + '.bin')
    for k, b in net.named_buffers():
        b.double().numpy().tofile(d + '/out/buf.' + k + '.bin')
    net.eval()
    with torch.no_grad():
        net(x).numpy().tofile(d + '/out/eval_logits.bin')
)PY");
  if (py.code != 0 && py.output.find("No module named 'torchvision'") != std::string::npos)
    GTEST_SKIP() << BNL_PYTHON << " has no torchvision (python3-torchvision, scripts/install-deps.sh)";
  ASSERT_EQ(py.code, 0) << py.output;

  const double tol = 1e-5;
  for (const auto& c : cases) {
    const std::string d = dir / c.tag;
    const auto pos = py.output.find(c.tag + " init_maxdiff ");
    ASSERT_NE(pos, std::string::npos) << py.output;
    EXPECT_EQ(std::stod(py.output.substr(pos + c.tag.size() + 14)), 0.0) << c.tag << ": same seed, same weights";
    auto& m = *models[c.tag];
    m.train();
    for (auto& p : m.parameters()) p.mutable_grad() = torch::Tensor();
    const auto logits = m.forward(x);
    const auto loss = torch::nn::functional::cross_entropy(logits, y);
    loss.backward();
    EXPECT_LT(max_abs_diff(logits, read_raw(d + "/out/logits.bin", {8, 10})), tol) << c.tag;
    EXPECT_LT(std::abs(loss.item<double>() - read_raw(d + "/out/loss.bin", {1}).item<double>()), tol) << c.tag;
    std::size_t n = 0;
    const auto convs = m.weight_layer_names();
    for (const auto& item : m.named_parameters()) {
      const auto& p = item.value();
      const auto want = read_raw(d + "/out/grad." + item.key() + ".bin", p.sizes());
      EXPECT_LT(max_abs_diff(p.grad(), want), tol) << c.tag << " " << item.key();
      // Not vacuous: every gradient is there, and zero only where BN removes the mean (the
      // bias of a convolution followed by BN).
      const bool cancelled = c.kind != NormKind::None && item.key() != "classifier.bias" &&
                             std::find(convs.begin(), convs.end(), item.key().substr(0, item.key().size() - 5)) !=
                                 convs.end() &&
                             item.key().size() > 5 && item.key().compare(item.key().size() - 5, 5, ".bias") == 0;
      if (cancelled) EXPECT_LT(want.abs().max().item<double>(), 1e-12) << c.tag << " " << item.key();
      else EXPECT_GT(want.abs().max().item<double>(), 1e-8) << c.tag << " " << item.key();
      ++n;
    }
    EXPECT_EQ(n, c.kind == NormKind::None ? 18u : 34u);
    for (const auto& item : m.named_buffers()) {
      const auto& b = item.value();
      EXPECT_LT(max_abs_diff(b, read_raw(d + "/out/buf." + item.key() + ".bin", b.sizes())), tol)
          << c.tag << " " << item.key();
    }
    m.eval();
    torch::NoGradGuard no_grad;
    EXPECT_LT(max_abs_diff(m.forward(x), read_raw(d + "/out/eval_logits.bin", {8, 10})), tol) << c.tag;
  }
}

TEST(Vgg, OurBatchNorm2dMatchesLibtorchUpToDoubleBackward) {
  // The same tiny VGG (width 1/16: 4 and 8 channels) with our BatchNorm and with libtorch's
  // BatchNorm2d (at::batch_norm, its own double backward), float64, training mode: equal loss,
  // gradients and Hessian-vector products.
  torch::manual_seed(8);
  auto ours = make_model(vgg_spec("64,M,128,M", 1.0 / 16, NormKind::Custom, 8));
  auto ref = make_model(vgg_spec("64,M,128,M", 1.0 / 16, NormKind::Torch, 8));
  ours->to(torch::kDouble);
  ref->to(torch::kDouble);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : ours->parameters()) p.add_(0.2 * torch::randn_like(p));
    auto src = ours->named_parameters();
    for (auto& item : ref->named_parameters()) item.value().copy_(src[item.key()]);
  }
  const auto x = torch::randn({6, 3, 8, 8}, torch::kDouble);
  const auto y = torch::randint(0, 10, {6}, torch::kLong);
  const auto po = ours->parameters(), pr = ref->parameters();
  ASSERT_EQ(po.size(), pr.size());
  const auto lo = torch::nn::functional::cross_entropy(ours->forward(x), y);
  const auto lr = torch::nn::functional::cross_entropy(ref->forward(x), y);
  EXPECT_NEAR(lo.item<double>(), lr.item<double>(), 1e-12);
  const auto go = torch::autograd::grad({lo}, po, {}, true, true);
  const auto gr = torch::autograd::grad({lr}, pr, {}, true, true);
  torch::Tensor dot_o = torch::zeros({}, torch::kDouble), dot_r = torch::zeros({}, torch::kDouble);
  std::vector<torch::Tensor> v;
  // Relative to the largest entry of all gradients (products): a convolution's bias before BN
  // has a zero gradient, so per-tensor scales can be round-off.
  double gscale = 0;
  for (const auto& g : gr) gscale = std::max(gscale, g.abs().max().item<double>());
  for (std::size_t i = 0; i < po.size(); ++i) {
    EXPECT_LT(max_abs_diff(go[i], gr[i]), 1e-10 * gscale) << "gradient " << i;
    v.push_back(torch::randn_like(po[i]));
    dot_o = dot_o + (go[i] * v[i]).sum();
    dot_r = dot_r + (gr[i] * v[i]).sum();
  }
  const auto ho = torch::autograd::grad({dot_o}, po);
  const auto hr = torch::autograd::grad({dot_r}, pr);
  double hscale = 0;
  for (const auto& h : hr) hscale = std::max(hscale, h.abs().max().item<double>());
  EXPECT_GT(hscale, 0);
  for (std::size_t i = 0; i < po.size(); ++i)
    EXPECT_LT(max_abs_diff(ho[i], hr[i]), 1e-10 * hscale) << "Hessian-vector product " << i;
  // Not vacuous: the BN layers' own gradients and products are not zero.
  EXPECT_GT(gr[2].abs().max().item<double>(), 1e-6 * gscale);  // features.1.weight
  EXPECT_GT(hr[2].abs().max().item<double>(), 1e-6 * hscale);
  // Running statistics moved alike (libtorch counts num_batches_tracked as ours does).
  auto bo = ours->named_buffers(), br = ref->named_buffers();
  for (const auto& item : br) EXPECT_LT(max_abs_diff(bo[item.key()], item.value()), 1e-12) << item.key();
}
