// The option declarations: their checks give today's messages, their tags give the key lists
// that used to be written by hand, and every default passes its own declared check.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bnlandscape/cli/option_catalog.h"
#include "bnlandscape/cli/surface_options.h"
#include "bnlandscape/probes/probe_config.h"
#include "bnlandscape/train/config.h"

using namespace bnl;

namespace {

template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

/// Every declaration whose default fails its own check (required options apart).
struct DefaultChecker {
  std::vector<std::string>& bad;
  template <class T>
  void operator()(const optspec::OptionSpec& s, const T& v) {
    if (s.nonempty) return;
    try {
      optspec::check_option<std::runtime_error>(s, v);
    } catch (const std::exception& e) {
      bad.push_back(e.what());
    }
  }
};

}  // namespace

TEST(OptionCatalog, DeclaredChecksGiveTheMessages) {
  train::TrainConfig c;
  c.out = "x.h5";
  c.lr = -1;
  EXPECT_EQ(message_of([&] { train::validate(c); }), "--lr = -1: expected a finite learning rate > 0");
  c.lr = 0.1;
  c.bn = "batch";
  EXPECT_EQ(message_of([&] { train::validate(c); }),
            "--bn = \"batch\": expected none | custom | torch | lp1 | lp2 | lpinf");
  c.bn = "torch";
  c.bn_backward = "original";
  EXPECT_EQ(message_of([&] { train::validate(c); }),
            "--bn-backward = original: expected exact unless --bn custom (only our BatchNorm has the original's backward)");
  c.bn_backward = "exact";
  c.flush_every = 51;
  EXPECT_EQ(message_of([&] { train::validate(c); }), "--flush-every = 51: expected 1 <= N <= 50");
  c.flush_every = 50;
  c.out = "";
  EXPECT_EQ(message_of([&] { train::validate(c); }), "--out = \"\": expected a run file path (--out FILE)");

  probes::ProbeConfig p;
  p.tol = 2;
  EXPECT_EQ(message_of([&] { probes::validate_probe(p, 128, 0); }), "--tol = 2.000000: expected 0 < tol < 1");
  p.tol = 1e-3;
  p.ncv = -1;
  EXPECT_EQ(message_of([&] { probes::validate_probe(p, 128, 400); }), "--ncv = -1: expected 0 (default) or k < ncv <= 400");
  EXPECT_EQ(message_of([&] { probes::validate_probe(p, 128, 0); }), "--ncv = -1: expected 0 (default) or k < ncv <= P");
  EXPECT_THROW(probes::validate_probe(p, 128, 0), std::invalid_argument);

  cli::SurfaceConfig s;
  EXPECT_EQ(message_of([&] { cli::validate_surface_options(s); }),
            "--checkpoint = \"\": expected the HDF5 file with the weights");
  s.checkpoint = "a.h5";
  s.checkpoint_group = "/checkpoints/step_0";
  s.eigen_tol = 3;
  EXPECT_EQ(message_of([&] { cli::validate_surface_options(s); }), "--eigen-tol = 3: expected 0 < tol < 1");
  s.eigen_tol = 1e-3;
  s.directions = "gradient";
  EXPECT_EQ(message_of([&] { cli::validate_surface_options(s); }),
            "--dims = 2: expected 1 with --directions gradient (there is one gradient)");
  s.dims = 1;
  s.range = "1,1";
  EXPECT_EQ(message_of([&] { cli::validate_surface_options(s); }),
            "--range = \"1,1\": expected \"lo,hi\" with finite lo < hi");
  s.range = "-1,1";
  EXPECT_EQ(message_of([&] { cli::validate_surface_options(s); }), "(no error)");
}

TEST(OptionCatalog, EveryDefaultPassesItsDeclaredCheck) {
  std::vector<std::string> bad;
  train::TrainConfig t;
  train::visit_train_specs(t, DefaultChecker{bad});
  probes::ProbeConfig p;
  probes::visit_probe_specs(p, DefaultChecker{bad});
  cli::SurfaceConfig s;
  cli::visit_surface_specs(s, DefaultChecker{bad});
  EXPECT_TRUE(bad.empty()) << bad.front();

  // The same check fires on a deliberately inconsistent declaration.
  std::vector<std::string> caught;
  DefaultChecker check{caught};
  check(optspec::opt("bn", "normalisation").one_of("none | custom"), std::string("torch"));
  check(optspec::opt("lr", "learning rate").above(0).finite().expect("a finite learning rate > 0"), 0.0);
  ASSERT_EQ(caught.size(), 2u);
  EXPECT_EQ(caught[0], "--bn = \"torch\": expected none | custom");
  EXPECT_EQ(caught[1], "--lr = 0: expected a finite learning rate > 0");
}

TEST(OptionCatalog, TagsGiveTheKeyListsOfProbeAndSurface) {
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  // The lists probe_command.cpp and surface_command.cpp wrote by hand.
  EXPECT_EQ(sorted(train::adopted_keys(optspec::kProbe)),
            sorted({"dataset", "data_file", "pad_to", "arch", "model", "hidden_dims", "conv_channels", "bn",
                    "bn_placement", "bn_eval", "lr", "momentum", "optimizer", "vgg_config", "width_mult"}));
  EXPECT_EQ(sorted(train::adopted_keys(optspec::kSurface)),
            sorted({"dataset", "data_dir", "data_file", "pad_to", "arch", "model", "hidden_dims", "conv_channels",
                    "vgg_config", "width_mult", "bn", "bn_placement", "bn_eval"}));
  std::vector<std::string> surface_keys;
  train::TrainConfig c;
  cli::visit_surface_train_options(c, [&](const char* key, auto&, const char*) { surface_keys.push_back(key); });
  EXPECT_EQ(surface_keys, (std::vector<std::string>{"dataset", "data_dir", "data_file", "pad_to", "arch", "model",
                                                    "hidden_dims", "conv_channels", "vgg_config", "width_mult", "bn",
                                                    "bn_placement", "bn_eval", "threads", "out", "overwrite", "quiet"}));
  EXPECT_TRUE(cli::is_probe_option("top_k"));
  EXPECT_TRUE(cli::is_probe_option("dist_timeout"));
  EXPECT_FALSE(cli::is_probe_option("lr"));
  EXPECT_FALSE(cli::is_probe_option("no_such_key"));
}

TEST(OptionCatalog, EnumsFollowTheDeclaredWords) {
  train::TrainConfig c;
  c.bn = "lpinf";
  c.device = "auto";
  c.step_engine = "autograd";
  c.arch = "vgg";
  EXPECT_EQ(train::bn_kind(c), train::Bn::lpinf);
  EXPECT_EQ(train::device_kind(c), train::Device::automatic);
  EXPECT_EQ(train::step_engine_kind(c), train::StepEngine::autograd);
  EXPECT_EQ(train::arch_kind(c), train::Arch::vgg);
  c.bn = "batch";
  EXPECT_THROW(train::bn_kind(c), bnl::InternalError);
  probes::ProbeConfig p;
  p.probe_dtype = "float64";
  EXPECT_EQ(probes::probe_dtype_kind(p), probes::ProbeDtype::float64);
  EXPECT_EQ(probes::hvp_engine_kind(p), probes::HvpEngine::automatic);
  cli::SurfaceConfig s;
  s.directions = "gradient";
  EXPECT_EQ(cli::directions_kind(s), cli::Directions::gradient);
  EXPECT_EQ(cli::surface_set_kind(s), cli::SurfaceSet::train);
}

TEST(OptionCatalog, NamesTheSubcommandThatTakesAnOptionAndTheClosestOne) {
  using optspec::kProbe;
  using optspec::kSurface;
  using optspec::kTrain;
  EXPECT_EQ(cli::commands_taking("step-interval"), std::vector<optspec::Command>{kProbe});
  EXPECT_EQ(cli::other_command_hint("step_interval", kTrain, "step_interval"),
            "step_interval is a probe option; use bnlandscape probe (train does not take it)");
  EXPECT_EQ(cli::other_command_hint("lr", kTrain, "lr"), "");        // train takes it
  EXPECT_EQ(cli::other_command_hint("bogus", kTrain, "bogus"), "");  // nobody does
  EXPECT_EQ(cli::other_command_hint("resolution", kProbe, "--resolution"),
            "--resolution is a surface option; use bnlandscape surface (probe does not take it)");
  EXPECT_EQ(cli::closest_option(kTrain, "bn-placment"), "bn_placement");
  EXPECT_EQ(cli::closest_option(kTrain, "lrr"), "lr");
  EXPECT_EQ(cli::closest_option(kTrain, "completely_different"), "");
  EXPECT_EQ(cli::command_named("surface"), std::optional<optspec::Command>(kSurface));
  EXPECT_FALSE(cli::command_named("trian"));
  ASSERT_TRUE(cli::option_row(kProbe, "probe-batch"));
  EXPECT_EQ(cli::option_row(kProbe, "probe-batch")->allowed, "current | fixed");
}
