// Run files damaged outside the atomic commits (written by an older bnlandscape that was killed
// during a flush, or by a failing disk): `info` says what does not read back and how to resume,
// and `--resume` passes over an unreadable checkpoint and drops rows past a damaged chunk.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli_test_util.h"

using namespace bnl_test;

namespace {

const std::string kRun =
    "train --dataset fashion-mnist --train-subset 640 --test-subset 100 --hidden-dims 16 --batch-size 64"
    " --epochs 2 --checkpoint-every 5 --quiet --out ";

/// Python that overwrites 16 bytes in the middle of chunk 0 of dataset `name` (stored
/// compressed, so that it no longer inflates); with `recompress`, first rewrites the dataset
/// as chunked + gzip (checkpoint tensors are stored contiguous).
std::string tear_chunk(const std::string& file, const std::string& name, bool recompress) {
  return R"(
import h5py
p, n = ")" + file + R"(", ")" + name + R"("
with h5py.File(p, "r+") as f:
    f.attrs["status"] = "running"  # as a killed run's file says
    if )" + (recompress ? "True" : "False") + R"(:
        data = f[n][()]
        del f[n]
        f.create_dataset(n, data=data, chunks=data.shape, compression="gzip")
    info = f[n].id.get_chunk_info(0)
    off, size = info.byte_offset, info.size
with open(p, "r+b") as fh:
    fh.seek(off + size // 2)
    fh.write(b"\xa5" * 16)
print("torn", off, size)
)";
}

}  // namespace

TEST(DamagedFile, InfoNamesWhatDoesNotReadAndTheResumeCommand) {
  if (!have_fashion() || !have_h5py()) GTEST_SKIP();
  TempDir dir;
  const std::string out = dir / "d.h5";
  auto r = bnl(kRun + out);
  ASSERT_EQ(r.code, 0) << r.output;
  auto whole = bnl("info " + out);
  EXPECT_EQ(whole.code, 0) << whole.output;
  EXPECT_NE(whole.output.find("integrity ok"), std::string::npos) << whole.output;
  // The newest checkpoint (step 20, the end) and the loss series are damaged.
  auto t1 = python(tear_chunk(out, "checkpoints/step_0000020/net.0.weight", true));
  ASSERT_EQ(t1.code, 0) << t1.output;
  auto t2 = python(tear_chunk(out, "train/steps/loss", false));
  ASSERT_EQ(t2.code, 0) << t2.output;
  auto info = bnl("info " + out);
  EXPECT_EQ(info.code, 2) << info.output;
  EXPECT_NE(info.output.find("integrity DAMAGED"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("unreadable /train/steps/loss"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("unusable checkpoint /checkpoints/step_0000020"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("newest usable checkpoint /checkpoints/step_0000015"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("bnlandscape train --resume " + out), std::string::npos) << info.output;
}

TEST(DamagedFile, ResumePassesOverAnUnreadableCheckpointAndDropsRowsPastADamagedChunk) {
  if (!have_fashion() || !have_h5py()) GTEST_SKIP();
  TempDir dir;
  const std::string out = dir / "d.h5";
  auto r = bnl(kRun + out);
  ASSERT_EQ(r.code, 0) << r.output;
  ASSERT_EQ(python(tear_chunk(out, "checkpoints/step_0000020/net.0.weight", true)).code, 0);
  ASSERT_EQ(python(tear_chunk(out, "train/steps/loss", false)).code, 0);
  auto resumed = bnl("train --resume " + out + " --quiet");
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("passing over unreadable checkpoint /checkpoints/step_0000020"), std::string::npos)
      << resumed.output;
  EXPECT_NE(resumed.output.find("does not read back past row 0"), std::string::npos) << resumed.output;
  auto py = python(R"(
import h5py, numpy as np
f = h5py.File(")" + out + R"(", "r")
assert f.attrs["status"] == "complete", f.attrs["status"]
steps = f["train/steps/step"][:]
assert list(steps) == list(range(15, 20)), steps
assert np.all(np.isfinite(f["train/steps/loss"][:]))
assert sorted(f["checkpoints"].keys())[-1] == "step_0000020"
f["checkpoints/step_0000020/net.0.weight"][()]
print("ok")
)");
  EXPECT_EQ(py.code, 0) << py.output;
  EXPECT_EQ(bnl("info " + out).code, 0);
}
