// `bnlandscape sweep`: the sweep file, the matrix and its names, resuming, failures, --index,
// --count and the SLURM script.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "bnlandscape/cli/sweep_command.h"
#include "bnlandscape/train/config.h"
#include "cli_test_util.h"

using namespace bnl_test;
namespace fs = std::filesystem;

namespace {

const std::string kTiny =
    "dataset = \"fashion-mnist\"\n"
    "train_subset = 512\n"
    "test_subset = 128\n"
    "epochs = 1\n"
    "quiet = true\n";

void write(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

std::string error_of(const std::string& text) {
  try {
    bnl::cli::parse_sweep_spec(text, "s.toml");
  } catch (const bnl::train::ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(SweepSpec, ProductOfTheListsWithReadableNames) {
  const auto spec = bnl::cli::parse_sweep_spec(
      "epochs = 2\n"
      "hidden-dims = [64, 32]   # a fixed list: one value \"64,32\"\n"
      "[sweep]\n"
      "lr = [0.1, 1e-2, 0.5]\n"
      "seed = [0, 1]\n",
      "s.toml");
  EXPECT_EQ(spec.command, "train");
  ASSERT_EQ(spec.fixed.size(), 2u);
  EXPECT_EQ(spec.fixed[1].key, "hidden_dims");
  EXPECT_EQ(spec.fixed[1].value, "64,32");
  ASSERT_EQ(spec.axes.size(), 2u);
  EXPECT_EQ(spec.size(), 6u);
  const auto points = bnl::cli::sweep_points(spec);
  ASSERT_EQ(points.size(), 6u);
  EXPECT_EQ(points[0].name, "lr=0.1_seed=0");
  EXPECT_EQ(points[1].name, "lr=0.1_seed=1");
  EXPECT_EQ(points[3].name, "lr=1e-2_seed=1");
  EXPECT_EQ(points[5].name, "lr=0.5_seed=1");
  // Fixed keys first, then the swept ones.
  ASSERT_EQ(points[3].values.size(), 4u);
  EXPECT_EQ(points[3].values[2], (std::pair<std::string, std::string>{"lr", "1e-2"}));
  EXPECT_EQ(points[3].values[3], (std::pair<std::string, std::string>{"seed", "1"}));
}

TEST(SweepSpec, ListsOfListsAreQuotedStrings) {
  const auto spec = bnl::cli::parse_sweep_spec(
      "[sweep]\n"
      "bn = [\"none\", 'custom']\n"
      "hidden_dims = [\"512,256,128\", \"256, 128\"]\n"
      "step_interval = 10\n",
      "s.toml");
  EXPECT_EQ(spec.command, "probe");  // a probe option anywhere makes every point a probe run
  ASSERT_EQ(spec.axes.size(), 3u);
  EXPECT_EQ(spec.axes[1].values, (std::vector<std::string>{"512,256,128", "256, 128"}));
  EXPECT_EQ(spec.axes[2].values, (std::vector<std::string>{"10"}));
  const auto points = bnl::cli::sweep_points(spec);
  ASSERT_EQ(points.size(), 4u);
  EXPECT_EQ(points[0].name, "bn=none_hidden_dims=512-256-128_step_interval=10");
  EXPECT_EQ(points[3].name, "bn=custom_hidden_dims=256--128_step_interval=10");
  EXPECT_EQ(bnl::cli::sanitize_value("/data/x y"), "-data-x-y");
  EXPECT_EQ(bnl::cli::sanitize_value("..x"), "-.x");
  // Values that sanitise alike get the point index.
  const auto clash = bnl::cli::sweep_points(bnl::cli::parse_sweep_spec("[sweep]\ndata_dir = [\"a/b\", \"a b\"]\n", "s"));
  EXPECT_EQ(clash[0].name, "data_dir=a-b_p0");
  EXPECT_EQ(clash[1].name, "data_dir=a-b_p1");
  // No [sweep] table: one point.
  EXPECT_EQ(bnl::cli::sweep_points(bnl::cli::parse_sweep_spec("lr = 0.1\n", "s")).at(0).name, "run");
}

TEST(SweepSpec, ErrorsNameTheLineAndTheProblem) {
  EXPECT_NE(error_of("lr = 0.1\nbogus = 1\n").find("s.toml:2: unknown key 'bogus'"), std::string::npos);
  EXPECT_NE(error_of("out = \"x.h5\"\n").find("'out' is set by the sweep"), std::string::npos);
  EXPECT_NE(error_of("[grid]\nlr = [0.1]\n").find("unknown table [grid]"), std::string::npos);
  EXPECT_NE(error_of("lr = 0.1\n[sweep]\nlr = [0.1, 0.2]\n").find("s.toml:3: 'lr' is given twice (first on line 1)"),
            std::string::npos);
  EXPECT_NE(error_of("hidden_dims = \"1\"\n[sweep]\nhidden-dims = [\"2\"]\n").find("given twice"), std::string::npos);
  EXPECT_NE(error_of("[sweep]\nseed = []\n").find("expected at least one value"), std::string::npos);
  EXPECT_NE(error_of("[sweep]\nseed = [1, 1]\n").find("listed twice"), std::string::npos);
  EXPECT_NE(error_of("[sweep]\nhidden_dims = [[1, 2], [3]]\n").find("s.toml:2"), std::string::npos);
}

TEST(SweepCli, CountListAndSlurmScript) {
  TempDir dir;
  write(dir / "s.toml", kTiny + "[sweep]\nbn = [\"none\", \"custom\"]\nhidden_dims = [\"32,16\", \"16\"]\nseed = [0, 1, 2]\n");
  auto r = bnl_test::bnl("sweep --config " + dir / "s.toml" + " --count");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output, "12\n");
  r = bnl_test::bnl("sweep --config=" + dir / "s.toml" + " --list");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("0\ttrain\tbn=none_hidden_dims=32-16_seed=0.h5\n1\ttrain\tbn=none_hidden_dims=32-16_seed=1.h5\n", 0), 0u)
      << r.output;
  EXPECT_NE(r.output.find("11\ttrain\tbn=custom_hidden_dims=16_seed=2.h5\n"), std::string::npos) << r.output;

  r = bnl_test::bnl("sweep --config " + dir / "s.toml" + " --out " + dir / "runs" + " --emit-slurm " + dir / "job.sh");
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream f(dir / "job.sh");
  const std::string script((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_NE(script.find("#SBATCH --array=0-11\n"), std::string::npos) << script;
  EXPECT_NE(script.find(" sweep --config '" + fs::canonical(dir / "s.toml").string() + "' --out '" +
                        fs::absolute(dir / "runs").string() + "' --index \"$SLURM_ARRAY_TASK_ID\"\n"),
            std::string::npos)
      << script;
  EXPECT_EQ(script.rfind("#!/bin/bash\n", 0), 0u) << script;
  r = sh("bash -n " + dir / "job.sh");
  EXPECT_EQ(r.code, 0) << r.output;
  // Each array task runs a point through --index; out of range is an error.
  r = bnl_test::bnl("sweep --config " + dir / "s.toml" + " --out " + dir / "runs" + " --index 12");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("expected 0..11"), std::string::npos) << r.output;

  r = bnl_test::bnl("sweep --config " + dir / "s.toml");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("expected --out DIR"), std::string::npos) << r.output;
  write(dir / "bad.toml", "[sweep]\nbn_placment = [\"head\"]\n");
  r = bnl_test::bnl("sweep --config " + dir / "bad.toml" + " --count");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("bad.toml:2: unknown key 'bn_placment'"), std::string::npos) << r.output;
  r = bnl_test::bnl("sweep --help");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("[sweep]"), std::string::npos) << r.output;
}

TEST(SweepCli, RunsTheMatrixInParallelAndResumes) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  TempDir dir;
  const std::string out = dir / "runs";
  write(dir / "s.toml", kTiny + "[sweep]\nbn = [\"none\", \"custom\"]\nhidden_dims = [\"32,16\", \"16\"]\n");
  auto r = bnl_test::bnl("sweep --config " + dir / "s.toml" + " --out " + out + " --jobs 2");
  ASSERT_EQ(r.code, 0) << r.output;
  // Without a threads key each point gets the available cores / --jobs threads.
  EXPECT_NE(r.output.find("4 points (train), 2 at a time, "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("sweep: 4 points: 4 complete, 0 diverged, 0 skipped (already complete or diverged), 0 failed"),
            std::string::npos)
      << r.output;
  const std::vector<std::string> names{"bn=none_hidden_dims=32-16", "bn=none_hidden_dims=16",
                                       "bn=custom_hidden_dims=32-16", "bn=custom_hidden_dims=16"};
  std::vector<fs::file_time_type> mtime;
  for (const auto& n : names) {
    ASSERT_TRUE(fs::exists(out + "/" + n + ".h5")) << n << "\n" << r.output;
    ASSERT_TRUE(fs::exists(out + "/" + n + ".toml")) << n;
    ASSERT_TRUE(fs::exists(out + "/" + n + ".log")) << n;
    mtime.push_back(fs::last_write_time(out + "/" + n + ".h5"));
  }
  auto py = python(R"(
import h5py
d = ")" + out + R"("
for bn in ["none", "custom"]:
    for hd, tag in [("32,16", "32-16"), ("16", "16")]:
        with h5py.File(f"{d}/bn={bn}_hidden_dims={tag}.h5", "r") as f:
            assert f.attrs["status"] == "complete", f.attrs["status"]
            t = f.attrs["config_toml"]
            assert f'bn = "{bn}"' in t and f'hidden_dims = "{hd}"' in t and "train_subset = 512" in t, t
            assert "threads = 0" not in t, t
            assert len(f["train/steps/loss"]) == 4
        toml = open(f"{d}/bn={bn}_hidden_dims={tag}.toml").read()
        assert f'hidden_dims = "{hd}"' in toml and toml.startswith("# bnlandscape train configuration"), toml
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;

  // The point's configuration file repeats the point.
  r = bnl_test::bnl("train --config " + out + "/" + names[1] + ".toml --dump-config");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("hidden_dims = \"16\""), std::string::npos) << r.output;

  // info and export read what the sweep wrote.
  r = bnl_test::bnl("info " + out + "/" + names[0] + ".h5");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("status    complete"), std::string::npos) << r.output;
  r = bnl_test::bnl("export " + out + "/" + names[0] + ".h5 --out " + dir / "csv");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir / "csv/train_steps.csv")) << r.output;
  // hidden_dims varies within each bn group, so the groups are compared with --allow-mixed.
  r = bnl_test::bnl("compare " + out + "/*.h5 --group-by bn --allow-mixed");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("(n=2)"), std::string::npos) << r.output;

  // Delete one run file: running the sweep again runs only that point.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  fs::remove(out + "/" + names[2] + ".h5");
  r = bnl_test::bnl("sweep --config " + dir / "s.toml" + " --out " + out + " --jobs 2");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("sweep: 4 points: 1 complete, 0 diverged, 3 skipped"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[2] " + names[2] + ": started"), std::string::npos) << r.output;
  ASSERT_TRUE(fs::exists(out + "/" + names[2] + ".h5"));
  for (std::size_t i : {0u, 1u, 3u}) EXPECT_EQ(fs::last_write_time(out + "/" + names[i] + ".h5"), mtime[i]) << names[i];

  // A changed sweep file does not silently reuse run files of another configuration.
  write(dir / "s.toml", kTiny + "lr = 0.05\n[sweep]\nbn = [\"none\", \"custom\"]\nhidden_dims = [\"32,16\", \"16\"]\n");
  r = bnl_test::bnl("sweep --config " + dir / "s.toml" + " --out " + out + " --index 0");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("belongs to another configuration (lr = 0.1 there, 0.05 in the sweep)"), std::string::npos)
      << r.output;
}

TEST(SweepCli, AFailedPointIsReportedAndTheRestGoOn) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  TempDir dir;
  const std::string out = dir / "runs";
  write(dir / "s.toml", kTiny + "hidden_dims = \"16\"\n[sweep]\nbn = [\"bogus\", \"none\"]\n");
  // --index runs one point and exits with its code.
  auto r = bnl_test::bnl("sweep --config " + dir / "s.toml" + " --out " + out + " --index 1");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(out + "/bn=none.h5")) << r.output;
  r = bnl_test::bnl("sweep --config " + dir / "s.toml" + " --out " + out + " --index 0");
  EXPECT_EQ(r.code, 2) << r.output;
  // The whole sweep: the complete point is skipped, the bad one fails with its message.
  r = bnl_test::bnl("sweep --config " + dir / "s.toml" + " --out " + out);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("0 complete, 0 diverged, 1 skipped (already complete or diverged), 1 failed"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("[0] bn=bogus: FAILED: exit 2: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("bogus"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("bn=bogus.log"), std::string::npos) << r.output;
}
