// `--arch torchscript --model FILE.pt` end to end: train, online and offline probe, surface,
// launch and sweep on a scripted module (checkpoints under its Python names, the file's SHA-256
// and code recorded, autograd engines), and each bad module: exit 2, its message, no file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli/cli_test_util.h"
#include "common/torchscript_files.h"

using namespace bnl_test;

namespace {

const std::string kData = " --dataset fashion-mnist --train-subset 256 --test-subset 64 --batch-size 64 --epochs 1 --quiet";

#define BNL_NEED_DATA()                                                              \
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST not installed";               \
  if (!have_h5py()) GTEST_SKIP() << BNL_PYTHON << " has no h5py"

}  // namespace

TEST(TorchScriptCli, TrainProbeSurfaceOnAScriptedModule) {
  BNL_NEED_DATA();
  BNL_TORCHSCRIPT_DIR(dir);
  TempDir tmp("bnl_ts_cli");
  const std::string model = dir + "/conv_bn.pt";
  auto r = bnl("train --arch torchscript --model " + model + kData + " --out " + tmp / "run.h5");
  ASSERT_EQ(r.code, 0) << r.output;
  // Checkpoint names are the module's Python names; provenance holds the file's hash and code.
  auto py = python("import h5py, hashlib\n"
                   "f = h5py.File('" + tmp / "run.h5" + "', 'r')\n"
                   "g = f['/checkpoints/step_0000004']\n"
                   "print(sorted(k for k in g.keys() if not k.startswith('_')))\n"
                   "print(f.attrs['model_sha256'] == hashlib.sha256(open('" + model + "', 'rb').read()).hexdigest())\n"
                   "print('def forward' in f.attrs['model_code'], f.attrs['step_engine'])\n");
  ASSERT_EQ(py.code, 0) << py.output;
  EXPECT_NE(py.output.find("['head.bias', 'head.weight', 'layer1.0.bias', 'layer1.0.weight', 'layer1.1.bias', "
                           "'layer1.1.num_batches_tracked', 'layer1.1.running_mean', 'layer1.1.running_var', "
                           "'layer1.1.weight']"),
            std::string::npos)
      << py.output;
  EXPECT_NE(py.output.find("True\nTrue autograd"), std::string::npos) << py.output;
  r = bnl("info " + tmp / "run.h5");
  EXPECT_NE(r.output.find("  model     sha256 "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("arch=torchscript"), std::string::npos) << r.output;

  r = bnl("probe --arch torchscript --model " + model + kData + " --step-interval 2 --trace-samples 2 --out " +
          tmp / "online.h5");
  ASSERT_EQ(r.code, 0) << r.output;
  // Offline: the model file comes from the run file's configuration.
  r = bnl("probe --checkpoint " + tmp / "run.h5" + " --probe-size 64 --quiet --out " + tmp / "offline.h5");
  ASSERT_EQ(r.code, 0) << r.output;
  r = bnl("surface --checkpoint " + tmp / "run.h5" + " --resolution 3 --surface-size 64 --quiet --out " +
          tmp / "surface.h5");
  ASSERT_EQ(r.code, 0) << r.output;
  py = python("import h5py, numpy as np\n"
              "for n in ('online', 'offline'):\n"
              "    f = h5py.File('" + tmp.path.string() + "/' + n + '.h5', 'r')\n"
              "    print(n, f['/probes'].attrs['hvp_engine'], np.isfinite(f['/probes/eigvals'][:]).all(), "
              "'model_sha256' in f.attrs, 'model = ' in f.attrs['config_toml'])\n"
              "s = h5py.File('" + tmp / "surface.h5" + "', 'r')\n"
              "print('surface', np.isfinite(s['/surface/loss'][:]).all(), 'model_code' in s.attrs)\n");
  ASSERT_EQ(py.code, 0) << py.output;
  EXPECT_NE(py.output.find("online autograd True True True"), std::string::npos) << py.output;
  EXPECT_NE(py.output.find("offline autograd True True True"), std::string::npos) << py.output;
  EXPECT_NE(py.output.find("surface True True"), std::string::npos) << py.output;
}

TEST(TorchScriptCli, LaunchAndSweepPassTheModelOn) {
  BNL_NEED_DATA();
  BNL_TORCHSCRIPT_DIR(dir);
  TempDir tmp("bnl_ts_launch");
  const std::string model = dir + "/mlp_bn.pt";
  auto r = bnl("train --arch torchscript --model " + model + kData + " --out " + tmp / "run.h5");
  ASSERT_EQ(r.code, 0) << r.output;
  ASSERT_NO_FATAL_FAILURE(run_on_one_and_two_ranks("probe --checkpoint " + tmp / "run.h5" +
                                                       " --probe-size 64 --probe-microbatch 32 --probe-dtype float64 --tol 1e-10 --quiet --out ",
                                                   tmp / "one.h5", tmp / "two.h5"));
  auto py = python("import h5py\n"
                   "a = h5py.File('" + tmp / "one.h5" + "', 'r')['/probes/eigvals'][0, 0]\n"
                   "b = h5py.File('" + tmp / "two.h5" + "', 'r')['/probes/eigvals'][0, 0]\n"
                   "print('same' if abs(a - b) <= 1e-8 * abs(a) else ('differ', a, b))\n");
  EXPECT_NE(py.output.find("same"), std::string::npos) << py.output;

  std::ofstream(tmp / "sweep.toml") << "arch = \"torchscript\"\nmodel = \"" << model
                                    << "\"\ndataset = \"fashion-mnist\"\ntrain_subset = 256\ntest_subset = 64\n"
                                       "batch_size = 64\nepochs = 1\n[sweep]\nlr = [0.05]\n";
  r = bnl("sweep --config " + tmp / "sweep.toml" + " --out " + tmp / "sweep");
  ASSERT_EQ(r.code, 0) << r.output;
  py = python("import h5py\nf = h5py.File('" + tmp / "sweep/lr=0.05.h5" + "', 'r')\n"
              "print(f.attrs['status'], 'fc1.weight' in f['/checkpoints/step_0000004'])\n");
  EXPECT_NE(py.output.find("complete True"), std::string::npos) << py.output;
}

TEST(TorchScriptCli, BadModulesExitTwoWithTheirMessageAndWriteNothing) {
  BNL_NEED_DATA();
  BNL_TORCHSCRIPT_DIR(dir);
  TempDir tmp("bnl_ts_bad");
  std::ofstream(tmp / "text.pt") << "not a model\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {dir + "/missing.pt", "expected a TorchScript archive (torch.jit.save of a torch.jit.script or torch.jit.trace "
                            "module), got no such file"},
      {tmp / "text.pt", "expected a TorchScript archive"},
      {dir + "/state_dict.pt", "expected a TorchScript archive"},
      {dir + "/no_params.pt", "expected a module with parameters (trainable weights), got none"},
      {dir + "/bad_output.pt", "to [2, 10] logits (10 = the data's classes), got a tensor of shape [2, 3]"},
      {dir + "/tuple_output.pt", "got a Tuple instead of a tensor"},
      {dir + "/cdist.pt", "expected operations with second derivatives (the probe's Hessian-vector products "
                          "differentiate the gradient again), got: the derivative for '_cdist_backward' is not implemented"},
      {dir + "/round.pt", "got: the gradient of parameter fc1.weight does not depend on the parameters"},
  };
  for (const auto& [file, words] : cases) {
    const std::string out = tmp / "out.h5";
    auto r = bnl("probe --arch torchscript --model " + file + kData + " --out " + out);
    EXPECT_EQ(r.code, 2) << file << "\n" << r.output;
    EXPECT_NE(r.output.find("--model = " + file + ": "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(words), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(out)) << file;
  }
  // Training needs no second derivative: the cdist module trains.
  auto r = bnl("train --arch torchscript --model " + dir + "/cdist.pt" + kData + " --out " + tmp / "cdist.h5");
  EXPECT_EQ(r.code, 0) << r.output;
}

TEST(TorchScriptCli, ModelAndArchGoTogether) {
  TempDir tmp("bnl_ts_opts");
  const std::string out = " --out " + tmp / "x.h5";
  auto r = bnl("train --arch torchscript" + out);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("--model = \"\": expected a TorchScript file (--model FILE.pt) with --arch torchscript"),
            std::string::npos)
      << r.output;
  r = bnl("train --model m.pt" + out);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("--model = \"m.pt\": expected no model file with --arch mlp"), std::string::npos) << r.output;
  for (const std::string& bad : {"--bn-eval batch", "--bn-noise", "--bn-backward original", "--activations-every 5",
                                 "--ics-every 5"}) {
    r = bnl("train --arch torchscript --model m.pt " + bad + out);
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_NE(r.output.find("with --arch torchscript"), std::string::npos) << bad << ": " << r.output;
  }
  EXPECT_FALSE(std::filesystem::exists(tmp / "x.h5"));
}

TEST(TorchScriptCli, AResumedRunEqualsAnUninterruptedOne) {
  BNL_NEED_DATA();
  BNL_TORCHSCRIPT_DIR(dir);
  TempDir tmp("bnl_ts_resume");
  const std::string model = " --arch torchscript --model " + dir + "/mlp_bn.pt";
  auto r = bnl("train" + model + kData + " --epochs 2 --out " + tmp / "whole.h5");
  ASSERT_EQ(r.code, 0) << r.output;
  r = bnl("train" + model + kData + " --out " + tmp / "part.h5");
  ASSERT_EQ(r.code, 0) << r.output;
  // --resume takes the model file (and everything else) from the run file's configuration.
  r = bnl("train --resume " + tmp / "part.h5" + " --epochs 2 --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  auto py = python("import h5py, numpy as np\n"
                   "a = h5py.File('" + tmp / "whole.h5" + "', 'r')\n"
                   "b = h5py.File('" + tmp / "part.h5" + "', 'r')\n"
                   "print(len(a['/train/steps/loss']), np.array_equal(a['/train/steps/loss'][:], b['/train/steps/loss'][:]),\n"
                   "      np.array_equal(a['/checkpoints/step_0000008/bn.running_var'][:], b['/checkpoints/step_0000008/bn.running_var'][:]))\n");
  EXPECT_NE(py.output.find("8 True True"), std::string::npos) << py.output;
}
