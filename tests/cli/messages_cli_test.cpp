// Issue 28 items 8-10: messages that say what was expected and what was found, naming the file
// and line, the subcommand that takes an option, the flag to write; defaults that spare the
// user a guess (offline probes: --probe-batch fixed and the last checkpoint); --version, --help.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "cli_test_util.h"

using namespace bnl_test;

namespace {

const std::string kSmall =
    " --dataset fashion-mnist --train-subset 640 --test-subset 200 --hidden-dims 32,16 --epochs 1 --quiet --seed 3";

bool has(const Result& r, const std::string& words) { return r.output.find(words) != std::string::npos; }

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

TEST(MessagesCli, OfflineProbeDefaultsToFixedSetAndLastCheckpoint) {
  if (!have_fashion()) GTEST_SKIP();
  TempDir dir;
  const std::string t = dir / "t.h5";
  auto train = bnl("train" + kSmall + " --checkpoint-every 2 --out " + t);
  ASSERT_EQ(train.code, 0) << train.output;
  // info lists the groups --checkpoint-group takes, with their steps.
  auto info = bnl("info " + t);
  ASSERT_EQ(info.code, 0) << info.output;
  EXPECT_TRUE(has(info, "/checkpoints/step_0000002 (step 2)")) << info.output;
  EXPECT_TRUE(has(info, "/checkpoints/step_0000004 (step 4)")) << info.output;

  // Neither --probe-batch nor --checkpoint-group: the fixed set at the last checkpoint, said so.
  auto p = bnl("probe --checkpoint " + t + " --probe-size 256 --top-k 1 --out " + dir / "p.h5");
  ASSERT_EQ(p.code, 0) << p.output;
  EXPECT_TRUE(has(p, "using the last checkpoint")) << p.output;
  auto pinfo = bnl("info " + dir / "p.h5");
  ASSERT_EQ(pinfo.code, 0) << pinfo.output;
  EXPECT_TRUE(has(pinfo, "probe_batch=fixed")) << pinfo.output;
  const auto last = info.output.rfind("/checkpoints/step_");
  const std::string last_group = info.output.substr(last, std::string("/checkpoints/step_0000000").size());
  EXPECT_TRUE(has(pinfo, "probed    " + t + " " + last_group)) << pinfo.output << "\nlast: " << last_group;

  // An explicit --probe-batch current stays an error.
  auto current = bnl("probe --checkpoint " + t + " --probe-batch current --out " + dir / "c.h5");
  EXPECT_EQ(current.code, 2) << current.output;
  EXPECT_TRUE(has(current, "fixed with --checkpoint")) << current.output;

  // A wrong group lists the groups present, for probe and surface alike.
  for (const std::string cmd : {"probe", "surface"}) {
    auto wrong = bnl(cmd + " --checkpoint " + t + " --checkpoint-group /checkpoints/step_0000469 --out " + dir / "w.h5");
    EXPECT_EQ(wrong.code, 2) << wrong.output;
    EXPECT_TRUE(has(wrong, "--checkpoint-group /checkpoints/step_0000469: no such group in " + t + "; it has "))
        << wrong.output;
    EXPECT_TRUE(has(wrong, "/checkpoints/step_0000002 (step 2), /checkpoints/step_0000004 (step 4)")) << wrong.output;
  }

  // The bare group name, as `info` lists it under /checkpoints, is the same checkpoint.
  auto bare = bnl("probe --checkpoint " + t + " --checkpoint-group step_0000002 --probe-size 256 --out " + dir / "b.h5");
  ASSERT_EQ(bare.code, 0) << bare.output;
  EXPECT_TRUE(has(bnl("info " + dir / "b.h5"), t + " /checkpoints/step_0000002"));

  // A file without checkpoints (the probe's) and no --checkpoint-group: asked for the group.
  auto ask = bnl("surface --checkpoint " + dir / "p.h5" + " --resolution 3 --surface-size 64 --out " + dir / "s.h5");
  EXPECT_EQ(ask.code, 2) << ask.output;
  EXPECT_TRUE(has(ask, "found none; name the group of the weights with --checkpoint-group")) << ask.output;
}

TEST(MessagesCli, OptionOfAnotherSubcommandNamesIt) {
  TempDir dir;
  auto flag = bnl("train --step-interval 5");
  EXPECT_EQ(flag.code, 2) << flag.output;
  EXPECT_TRUE(has(flag, "--step-interval is a probe option; use bnlandscape probe")) << flag.output;
  auto surface_only = bnl("probe --resolution 5");
  EXPECT_EQ(surface_only.code, 2) << surface_only.output;
  EXPECT_TRUE(has(surface_only, "--resolution is a surface option; use bnlandscape surface")) << surface_only.output;
  auto unknown = bnl("train --no-such-option");
  EXPECT_EQ(unknown.code, 2) << unknown.output;
  EXPECT_TRUE(has(unknown, "--no-such-option: not an option of bnlandscape train")) << unknown.output;

  auto typo = bnl("train --bn-placment head");
  EXPECT_EQ(typo.code, 2) << typo.output;
  EXPECT_TRUE(has(typo, "--bn-placment: not an option of bnlandscape train; did you mean --bn-placement?")) << typo.output;

  const std::string cfg = dir / "cfg.toml";
  write(cfg, "bn_placment = \"head\"\n");
  auto toml_typo = bnl("train --config " + cfg);
  EXPECT_EQ(toml_typo.code, 2) << toml_typo.output;
  EXPECT_TRUE(has(toml_typo, cfg + ":1: unknown key 'bn_placment' for 'bnlandscape train'; did you mean bn_placement?"))
      << toml_typo.output;
  write(cfg, "epochs = 1\nstep_interval = 5\n");
  auto toml = bnl("train --config " + cfg);
  EXPECT_EQ(toml.code, 2) << toml.output;
  EXPECT_TRUE(has(toml, cfg + ":2: step_interval is a probe option; use bnlandscape probe")) << toml.output;
  // `train --resume` of a probe run: the stored configuration names the command that resumes it.
  if (have_h5py()) {
    const std::string run = dir / "probe_run.h5";
    auto made = python("import h5py\nwith h5py.File('" + run + "', 'w') as f:\n    f.attrs['status'] = 'running'\n"
                       "    f.attrs['config_toml'] = 'epochs = 1\\nstep_interval = 5\\n'\n");
    ASSERT_EQ(made.code, 0) << made.output;
    auto resume = bnl("train --resume " + run);
    EXPECT_EQ(resume.code, 2) << resume.output;
    EXPECT_TRUE(has(resume, run + ":config_toml:2: step_interval is a probe option: " + run +
                                " is a probe run; use bnlandscape probe --resume " + run))
        << resume.output;
  }
  // The repository's own probe configuration, given to train.
  auto repo = bnl(std::string("train --config ") + BNL_SOURCE_DIR + "/configs/main/fashion_mlp_bn.toml --dump-config");
  EXPECT_EQ(repo.code, 2) << repo.output;
  EXPECT_TRUE(has(repo, "fashion_mlp_bn.toml:")) << repo.output;
  EXPECT_TRUE(has(repo, "is a probe option; use bnlandscape probe")) << repo.output;
}

TEST(MessagesCli, ValuesOfTheWrongKindNameFileLineAndWhatWasExpected) {
  TempDir dir;
  const std::string cfg = dir / "cfg.toml";
  write(cfg, "epochs = 1\n# speed\nlr = \"fast\"\n");
  auto toml = bnl("train --config " + cfg + " --dump-config");
  EXPECT_EQ(toml.code, 2) << toml.output;
  EXPECT_TRUE(has(toml, cfg + ":3: lr = \"fast\": expected a number")) << toml.output;
  auto line = bnl("train --lr fast --dump-config");
  EXPECT_EQ(line.code, 2) << line.output;
  EXPECT_TRUE(has(line, "--lr = \"fast\": expected a number")) << line.output;
  auto integer = bnl("train --epochs 1.5 --dump-config");
  EXPECT_EQ(integer.code, 2) << integer.output;
  EXPECT_TRUE(has(integer, "--epochs = 1.5: expected an integer")) << integer.output;
  // A value of the right type that the command's own checks refuse: the file and line too.
  write(cfg, "epochs = 1\nlr = -1\n");
  auto checked = bnl("train --config " + cfg + " --out " + dir / "t.h5");
  EXPECT_EQ(checked.code, 2) << checked.output;
  EXPECT_TRUE(has(checked, cfg + ":2: --lr = -1: expected a finite learning rate > 0")) << checked.output;
  write(cfg, "epochs = 1\n# speed\nlr = \"fast\"\n");
  // The command line's value replaces the file's: a bad one is the command line's.
  auto replaced = bnl("train --config " + cfg + " --lr slow --dump-config");
  EXPECT_EQ(replaced.code, 2) << replaced.output;
  EXPECT_TRUE(has(replaced, "--lr = \"slow\": expected a number")) << replaced.output;
  auto good = bnl("train --config " + cfg + " --lr 0.5 --dump-config");
  EXPECT_EQ(good.code, 0) << good.output;
  EXPECT_TRUE(has(good, "lr = 0.5")) << good.output;
  // A word checked while parsing.
  auto word = bnl("export " + cfg + " --out " + dir / "y" + " --format xml");
  EXPECT_EQ(word.code, 2) << word.output;
  EXPECT_TRUE(has(word, "--format = \"xml\": expected csv | json")) << word.output;
  // A sweep point's value, named with the sweep file.
  const std::string sweep = dir / "s.toml";
  write(sweep, "epochs = 1\n[sweep]\nlr = [\"fast\", 0.1]\n");
  auto point = bnl("sweep --config " + sweep + " --out " + dir / "runs" + " --index 0");
  EXPECT_NE(point.code, 0) << point.output;
  EXPECT_TRUE(has(point, sweep + ": --lr = \"fast\": expected a number")) << point.output;
  auto missing_value = bnl("train --lr");
  EXPECT_EQ(missing_value.code, 2) << missing_value.output;
  EXPECT_TRUE(has(missing_value, "--lr: expected a number")) << missing_value.output;
  auto no_config = bnl("train --config " + dir / "nope.toml");
  EXPECT_EQ(no_config.code, 2) << no_config.output;
  EXPECT_TRUE(has(no_config, "nope.toml: cannot open: No such file or directory")) << no_config.output;
  auto typo = bnl("trian --epochs 1");
  EXPECT_EQ(typo.code, 2) << typo.output;
  EXPECT_TRUE(has(typo, "expected a subcommand (train, ")) << typo.output;
}

TEST(MessagesCli, FlagsTakeTrueOrFalseAndSayHowToWriteThem) {
  auto off = bnl("probe --overlap false --dump-config");
  ASSERT_EQ(off.code, 0) << off.output;
  EXPECT_TRUE(has(off, "overlap = false")) << off.output;
  auto attached = bnl("probe --overlap=false --quiet true --dump-config");
  ASSERT_EQ(attached.code, 0) << attached.output;
  EXPECT_TRUE(has(attached, "overlap = false")) << attached.output;
  EXPECT_TRUE(has(attached, "quiet = true")) << attached.output;
  auto no = bnl("probe --overlap no --dump-config");
  EXPECT_EQ(no.code, 2) << no.output;
  EXPECT_TRUE(has(no, "--overlap is a flag; write --overlap alone or --overlap=true to turn it on, --overlap=false"))
      << no.output;
  auto maybe = bnl("probe --overlap=maybe --dump-config");
  EXPECT_EQ(maybe.code, 2) << maybe.output;
  EXPECT_TRUE(has(maybe, "--overlap = \"maybe\": expected true or false")) << maybe.output;
}

TEST(MessagesCli, LaunchWithoutDoubleDashShowsHowToWriteIt) {
  auto r = bnl("launch --nproc 2 probe --checkpoint run.h5 --out p.h5");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r, "launch: expected -- before the command to run, e.g. bnlandscape launch --nproc 2 -- probe"))
      << r.output;
}

TEST(MessagesCli, FilesThatDoNotOpenSayWhy) {
  TempDir dir;
  const std::string nope = dir / "nope.h5";
  auto probe = bnl("probe --checkpoint " + nope + " --out " + dir / "p.h5");
  EXPECT_EQ(probe.code, 2) << probe.output;
  EXPECT_TRUE(has(probe, nope + ": cannot open: No such file or directory")) << probe.output;
  EXPECT_FALSE(has(probe, "H5Fopen")) << probe.output;
  auto info = bnl("info " + nope);
  EXPECT_EQ(info.code, 2) << info.output;
  EXPECT_TRUE(has(info, nope + ": cannot open: No such file or directory")) << info.output;
  const std::string text = dir / "text.h5";
  write(text, "not HDF5 at all\n");
  auto not_hdf5 = bnl("surface --checkpoint " + text + " --out " + dir / "s.h5");
  EXPECT_EQ(not_hdf5.code, 2) << not_hdf5.output;
  EXPECT_TRUE(has(not_hdf5, text + ": expected an HDF5 file, got a file without the HDF5 signature")) << not_hdf5.output;
  auto info_text = bnl("info " + text);
  EXPECT_EQ(info_text.code, 2) << info_text.output;
  EXPECT_TRUE(has(info_text, "expected an HDF5 file, got a file without the HDF5 signature")) << info_text.output;
  auto directory = bnl("probe --checkpoint " + dir.path.string() + " --out " + dir / "p.h5");
  EXPECT_EQ(directory.code, 2) << directory.output;
  EXPECT_TRUE(has(directory, "expected a file, got a directory")) << directory.output;
}

TEST(MessagesCli, ExistingOutputNamesTheOverwriteFlag) {
  if (!have_fashion()) GTEST_SKIP();
  TempDir dir;
  const std::string out = dir / "t.h5";
  write(out, "already here\n");
  auto r = bnl("train" + kSmall + " --out " + out);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r, "file exists (--overwrite replaces it)")) << r.output;
}

TEST(MessagesCli, VersionAndHelpShowTheProgramAndEveryDefault) {
  auto v = bnl("--version");
  ASSERT_EQ(v.code, 0) << v.output;
  for (const char* words : {"bnlandscape ", "(git ", "libtorch ", "BLAS"}) EXPECT_TRUE(has(v, words)) << v.output;
  auto h = bnl("--help");
  ASSERT_EQ(h.code, 0) << h.output;
  EXPECT_TRUE(has(h, "Usage: bnlandscape [OPTIONS] SUBCOMMAND")) << h.output;
  EXPECT_TRUE(has(bnl("probe --help"), "--overlap BOOL=true"));
  // Every option line of every subcommand shows its default, but for those without one.
  for (const std::string cmd : {"train", "probe", "surface", "sweep", "compare", "info", "export", "launch"}) {
    auto r = bnl(cmd + " --help");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_TRUE(has(r, "Usage: bnlandscape " + cmd)) << r.output;
    std::istringstream lines(r.output);
    for (std::string l; std::getline(lines, l);) {
      if (l.rfind("  --", 0) != 0) continue;
      const std::string flag = l.substr(2, l.find(' ', 2) - 2);
      if (flag == "--config" || flag == "--resume") continue;  // a file, none by default
      EXPECT_NE(l.substr(0, l.find("  ", 4)).find('='), std::string::npos) << cmd << ": " << l;
    }
  }
}
