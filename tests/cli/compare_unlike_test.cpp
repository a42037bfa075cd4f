// compare refuses runs that did not measure the same thing (issue 28, item 1): other kinds of file,
// other settings, an unknown --group-by, a file that is not a run; --allow-mixed turns the refusal
// into a note.
#include <gtest/gtest.h>

#include <string>

#include "cli/cli_test_util.h"

using bnl_test::bnl;
using bnl_test::TempDir;

namespace {

/// Writes NAME.h5 files: `train_<bn>_<seed>_e<epochs>` (train runs), `online_*` (with /probes),
/// `offline_*` (/probes and a checkpoint_file attribute), `surface_*` (/surface) and `plain.h5`
/// (an HDF5 file that is not a run).
const char* kMake = R"(
import h5py, numpy as np, sys
d = sys.argv[1]
def run(name, bn, seed, epochs, kind, threads=0):
    with h5py.File(f"{d}/{name}.h5", "w") as f:
        f.attrs["format"] = "bnlandscape"
        f.attrs["schema_version"] = np.int64(1)
        f.attrs["status"] = "complete"
        f.attrs["config_toml"] = (f'bn = "{bn}"\nlr = 0.1\nseed = {seed}\nepochs = {epochs}\n'
                                  f'threads = {threads}\nout = "{d}/{name}.h5"\nhvp_engine = "auto"\n')
        ep = f.create_group("train/epochs")
        ep.create_dataset("step", data=np.array([50], dtype=np.int64))
        ep.create_dataset("test_acc", data=np.array([0.8 + 0.01 * seed]))
        if kind in ("online", "offline"):
            f.create_group("probes").create_dataset("step", data=np.array([0], dtype=np.int64))
        if kind == "offline":
            f.attrs["checkpoint_file"] = f"{d}/ck.h5"
        if kind == "surface":
            f.create_group("surface")
for bn in ["none", "custom"]:
    for seed in range(2):
        run(f"train_{bn}_{seed}_e1", bn, seed, 1, "train", threads=seed)
        run(f"train_{bn}_{seed}_e2", bn, seed, 2, "train")
        run(f"online_{bn}_{seed}_e1", bn, seed, 1, "online")
        run(f"offline_{bn}_{seed}_e1", bn, seed, 1, "offline")
        run(f"surface_{bn}_{seed}_e1", bn, seed, 1, "surface")
with h5py.File(f"{d}/plain.h5", "w") as f:
    f.create_dataset("x", data=np.zeros(3))
with h5py.File(f"{d}/noconfig.h5", "w") as f:
    f.attrs["format"] = "bnlandscape"
print("ok")
)";

struct Runs {
  TempDir dir;
  bool ok = false;
  Runs() {
    const std::string script = dir / "make.py";
    FILE* f = std::fopen(script.c_str(), "w");
    std::fputs(kMake, f);
    std::fclose(f);
    ok = bnl_test::sh(std::string(BNL_PYTHON) + " " + script + " " + dir.path.string()).code == 0;
  }
  std::string operator()(std::initializer_list<const char*> names) const {
    std::string s;
    for (const char* n : names) s += " " + dir / (std::string(n) + ".h5");
    return s;
  }
};

bool has(const std::string& out, const std::string& s) { return out.find(s) != std::string::npos; }

}  // namespace

TEST(CompareUnlike, AlikeRunsDifferingInSeedAndThreadsArePooled) {
  if (!bnl_test::have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  Runs runs;
  ASSERT_TRUE(runs.ok);
  auto r = bnl("compare" + runs({"train_none_0_e1", "train_none_1_e1", "train_custom_0_e1", "train_custom_1_e1"}));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "complete, complete")) << r.output;
  EXPECT_FALSE(has(r.output, "note:")) << r.output;
}

TEST(CompareUnlike, KindsAreNotPooled) {
  if (!bnl_test::have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  Runs runs;
  ASSERT_TRUE(runs.ok);
  auto r = bnl("compare" + runs({"train_none_0_e1", "online_none_1_e1", "train_custom_0_e1", "train_custom_1_e1"}));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "group none: kinds: train vs online probe")) << r.output;
  EXPECT_TRUE(has(r.output, "--allow-mixed")) << r.output;
  r = bnl("compare" + runs({"offline_none_0_e1", "surface_none_1_e1", "offline_custom_0_e1", "online_custom_1_e1"}));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "group none: kinds: offline probe vs surface")) << r.output;
  EXPECT_TRUE(has(r.output, "group custom: kinds: offline probe vs online probe")) << r.output;
}

TEST(CompareUnlike, SettingsThatDifferAreNamed) {
  if (!bnl_test::have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  Runs runs;
  ASSERT_TRUE(runs.ok);
  auto r = bnl("compare" + runs({"train_none_0_e1", "train_none_1_e2", "train_custom_0_e1", "train_custom_1_e1"}));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "group none: these runs differ in: epochs 1 vs 2")) << r.output;
  // Groups alike inside but unlike one another in more than the grouping key.
  r = bnl("compare" + runs({"train_none_0_e1", "train_none_1_e1", "train_custom_0_e2", "train_custom_1_e2"}));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "between groups: these runs differ in: epochs 1 vs 2")) << r.output;
}

TEST(CompareUnlike, AllowMixedPrintsTheDifferencesAsANote) {
  if (!bnl_test::have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  Runs runs;
  ASSERT_TRUE(runs.ok);
  auto r = bnl("compare --allow-mixed" +
               runs({"train_none_0_e1", "train_none_1_e2", "online_custom_0_e1", "train_custom_1_e1"}));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "note: --allow-mixed")) << r.output;
  EXPECT_TRUE(has(r.output, "group none: these runs differ in: epochs 1 vs 2")) << r.output;
  EXPECT_TRUE(has(r.output, "group custom: kinds: online probe vs train")) << r.output;
  EXPECT_TRUE(has(r.output, "final test accuracy")) << r.output;
}

TEST(CompareUnlike, UnknownGroupByListsTheKeys) {
  if (!bnl_test::have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  Runs runs;
  ASSERT_TRUE(runs.ok);
  auto r = bnl("compare" + runs({"online_none_0_e1", "online_custom_0_e1"}) + " --group-by foo");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "--group-by foo: expected a key of the runs' configuration: bn, epochs, hvp_engine, lr"))
      << r.output;
}

TEST(CompareUnlike, AFileThatIsNotARunIsNamed) {
  if (!bnl_test::have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  Runs runs;
  ASSERT_TRUE(runs.ok);
  auto r = bnl("compare" + runs({"train_none_0_e1", "plain"}));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r.output, runs.dir / "plain.h5" + ": expected a bnlandscape run file")) << r.output;
  r = bnl("compare" + runs({"train_none_0_e1", "noconfig"}));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r.output, runs.dir / "noconfig.h5" + ": expected a bnlandscape run file with its configuration"))
      << r.output;
}
