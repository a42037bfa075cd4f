#include "bnlandscape/io/checkpoint.h"

#include <gtest/gtest.h>

#include <H5Cpp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "bnlandscape/io/run_file.h"
#include "io_test_util.h"

namespace bnl::io {
namespace {

using test::expect_python_ok;
using test::run_python;
using test::TempDir;
using Named = std::vector<std::pair<std::string, torch::Tensor>>;

Named model_tensors() {
  torch::manual_seed(7);
  return {
      {"net.0.weight", torch::randn({3, 4})},
      {"net.0.bias", torch::randn({4}, torch::kDouble)},
      {"bn.num_batches_tracked", torch::tensor(17, torch::kLong)},
      {"net.2.running_mean", torch::randn({2, 2, 3}).transpose(0, 2)},  // non-contiguous
      {"idx", torch::arange(6, torch::kInt).reshape({2, 3})},
      {"mask", torch::tensor({true, false, true})},
      {"pixels", torch::arange(4, torch::kByte)},
      {"empty", torch::zeros({0, 5})},
  };
}

Named optimizer_state() {
  return {{"net.0.weight.momentum_buffer", torch::ones({3, 4})},
          {"step", torch::tensor(3.0, torch::kDouble)}};
}

void expect_same(const Named& got, const Named& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(want[i].first);
    EXPECT_EQ(got[i].first, want[i].first);
    EXPECT_EQ(got[i].second.scalar_type(), want[i].second.scalar_type());
    EXPECT_EQ(got[i].second.sizes(), want[i].second.sizes());
    EXPECT_TRUE(torch::equal(got[i].second, want[i].second));
  }
}

TEST(Checkpoint, RoundTripKeepsDtypeShapeAndOrder) {
  TempDir dir;
  const std::string path = dir.file("run.h5");
  const Named tensors = model_tensors();
  const Named state = optimizer_state();
  auto run = RunFile::create(path, false);
  const std::string group = run->write_checkpoint(50, tensors, state);
  EXPECT_EQ(group, "/checkpoints/step_0000050");

  // Readable while the writer still has the file open in this process.
  expect_same(read_tensor_group(path, group), tensors);
  run->close();
  expect_same(read_tensor_group(path, group), tensors);
  expect_same(read_tensor_group(path, group + "/_state"), state);
}

TEST(Checkpoint, WriteErrors) {
  TempDir dir;
  const std::string path = dir.file("run.h5");
  auto run = RunFile::create(path, false);
  run->write_checkpoint(5, model_tensors(), {});
  EXPECT_THROW(run->write_checkpoint(5, model_tensors(), {}), IoError);
  try {
    run->write_checkpoint(6, {{"z", torch::zeros({2}, torch::kComplexFloat)}}, {});
    FAIL() << "complex tensor accepted";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("'z'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(list_checkpoints(path), std::vector<std::string>{"/checkpoints/step_0000005"});
  EXPECT_THROW(run->write_checkpoint(7, {{"a/b", torch::zeros({2})}}, {}), IoError);
  EXPECT_THROW(run->write_checkpoint(8, {{"_state", torch::zeros({2})}}, {}), IoError);
  EXPECT_THROW(run->write_checkpoint(-1, {}, {}), IoError);
}

TEST(Checkpoint, ListIsSortedByStep) {
  TempDir dir;
  const std::string path = dir.file("run.h5");
  {
    auto run = RunFile::create(path, false);
    EXPECT_TRUE(list_checkpoints(path).empty());
    const Named one = {{"w", torch::ones({1})}};
    for (std::int64_t step : {1000, 50, 0, 12345678, 999}) run->write_checkpoint(step, one, {});
    run->write_array("/checkpoints/notes", {1.0}, {}, "", "not a checkpoint");
  }
  const std::vector<std::string> want = {"/checkpoints/step_0000000", "/checkpoints/step_0000050",
                                         "/checkpoints/step_0000999", "/checkpoints/step_0001000",
                                         "/checkpoints/step_12345678"};
  EXPECT_EQ(list_checkpoints(path), want);
  EXPECT_EQ(checkpoint_group(42), "/checkpoints/step_0000042");
}

TEST(Checkpoint, MissingFileOrGroupNamesThem) {
  TempDir dir;
  const std::string path = dir.file("run.h5");
  { RunFile::create(path, false)->write_checkpoint(1, {{"w", torch::ones({1})}}, {}); }
  try {
    read_tensor_group(path, "/checkpoints/step_0000999");
    FAIL() << "missing group accepted";
  } catch (const IoError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("'/checkpoints/step_0000999'"), std::string::npos) << msg;
  }
  EXPECT_THROW(read_tensor_group(path, "/checkpoints/step_0000001/w"), IoError);
  const std::string missing = dir.file("missing.h5");
  try {
    read_tensor_group(missing, "/checkpoints/step_0000001");
    FAIL() << "missing file accepted";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
  EXPECT_THROW(list_checkpoints(missing), IoError);
  const std::string text = dir.file("not_hdf5.h5");
  { std::ofstream(text) << "hello\n"; }
  EXPECT_THROW(read_tensor_group(text, "/"), IoError);
}

TEST(Checkpoint, ReadsCheckpointWrittenByH5py) {
  BNL_REQUIRE_H5PY();
  TempDir dir;
  const std::string path = dir.file("user.h5");
  const std::string script = R"PY(
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    g = f.create_group("model")
    g["net.0.weight"] = np.arange(6, dtype=np.float32).reshape(2, 3)
    g["net.0.bias"] = np.array([0.5, -1.5], dtype=np.float64)
    g["bn.num_batches_tracked"] = np.int64(12)
    g["flags"] = np.array([True, False])
    g["big_endian"] = np.array([1.0, 2.0], dtype=">f4")
    g.create_dataset("compressed", data=np.arange(100, dtype=np.int32), compression="gzip")
    g.create_group("_state")["m"] = np.zeros(3)
    f.create_group("bad")["u16"] = np.zeros(2, dtype=np.uint16)
print("OK")
)PY";
  const auto r = run_python(dir, script, "'" + path + "'");
  ASSERT_EQ(r.rc, 0) << r.out;

  const Named want = {
      {"big_endian", torch::tensor({1.0f, 2.0f})},
      {"bn.num_batches_tracked", torch::tensor(12, torch::kLong)},
      {"compressed", torch::arange(100, torch::kInt)},
      {"flags", torch::tensor({true, false})},
      {"net.0.bias", torch::tensor({0.5, -1.5}, torch::kDouble)},
      {"net.0.weight", torch::arange(6, torch::kFloat).reshape({2, 3})},
  };
  expect_same(read_tensor_group(path, "model"), want);
  try {
    read_tensor_group(path, "/bad");
    FAIL() << "uint16 accepted";
  } catch (const IoError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'/bad'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("uint16"), std::string::npos) << msg;
  }
}

TEST(Checkpoint, H5pyReadsOurCheckpoint) {
  BNL_REQUIRE_H5PY();
  TempDir dir;
  const std::string path = dir.file("run.h5");
  {
    auto run = RunFile::create(path, false);
    run->write_checkpoint(50, model_tensors(), optimizer_state());
  }
  const std::string script = R"PY(
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
g = f["checkpoints/step_0000050"]
assert g.attrs["step"] == 50
assert list(g.keys())[:3] == ["net.0.weight", "net.0.bias", "bn.num_batches_tracked"], list(g)
assert g["net.0.weight"].dtype == np.float32 and g["net.0.weight"].shape == (3, 4)
assert g["net.0.bias"].dtype == np.float64
assert g["bn.num_batches_tracked"].shape == () and g["bn.num_batches_tracked"][()] == 17
assert g["net.2.running_mean"].shape == (3, 2, 2)
assert g["idx"].dtype == np.int32 and g["idx"][:].tolist() == [[0, 1, 2], [3, 4, 5]]
assert g["mask"].dtype == np.bool_ and g["mask"][:].tolist() == [True, False, True]
assert g["pixels"].dtype == np.uint8 and g["empty"].shape == (0, 5)
s = g["_state"]
assert (s["net.0.weight.momentum_buffer"][:] == 1).all() and s["step"][()] == 3.0
print("OK")
)PY";
  expect_python_ok(dir, script, "'" + path + "'");
}

// A run file's writer holds no lock on the file on disk (it only ever renames whole images over
// it): readers, h5py with default locking among them, see the last commit while it writes.
// Another program holding an HDF5 file open for writing still makes HDF5's lock refuse a
// reader, and the error says so and names the way out.
TEST(Checkpoint, ReadersSeeTheLastCommitWhileTheWriterLivesAndLockErrorsMentionLocking) {
  const char* locking = std::getenv("HDF5_USE_FILE_LOCKING");
  if (locking != nullptr && std::string(locking) != "TRUE") {
    GTEST_SKIP() << "HDF5_USE_FILE_LOCKING=" << locking;
  }
  TempDir dir;
  const std::string path = dir.file("busy.h5");
  const std::string plain = dir.file("plain.h5");
  int ready[2];
  int done[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(done), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int rc = 0;
    try {
      auto run = RunFile::create(path, false);
      auto& steps = run->add_series("/train/steps", {{"loss", ColumnType::Float64, {}, "", ""}});
      for (int i = 0; i < 60; ++i) steps.append({{1.0 * i}});
      run->flush();
      for (int i = 60; i < 70; ++i) steps.append({{1.0 * i}});  // buffered, not committed
      const H5::H5File other(plain, H5F_ACC_TRUNC);  // HDF5's own writer: locked
      char c = 'r';
      if (::write(ready[1], &c, 1) != 1) rc = 4;
      if (::read(done[0], &c, 1) != 1) rc = 5;
    } catch (...) {
      rc = 3;
    }
    ::_exit(rc);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  EXPECT_TRUE(list_checkpoints(path).empty());
  try {
    list_checkpoints(plain);
    ADD_FAILURE() << "a file locked by a writer was opened";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("HDF5_USE_FILE_LOCKING"), std::string::npos) << e.what();
  }
  if (test::have_h5py()) {
    const auto r = run_python(dir, R"PY(
import sys, h5py
f = h5py.File(sys.argv[1], "r")
assert f["train/steps/loss"][:].tolist() == list(range(60))
print("OK")
)PY",
                              "'" + path + "'");
    EXPECT_EQ(r.rc, 0) << r.out;
  }
  c = 'd';
  EXPECT_EQ(::write(done[1], &c, 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  for (int fd : {ready[0], ready[1], done[0], done[1]}) ::close(fd);
  EXPECT_TRUE(list_checkpoints(path).empty());
}


TEST(Checkpoint, HugeDeclaredButUnwrittenDatasetsAreRefusedBeforeAllocating) {
  BNL_REQUIRE_H5PY();
  TempDir dir;
  const std::string path = dir.file("huge.h5");
  const std::string script = R"PY(
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    g = f.create_group("model")
    g.create_dataset("net.0.weight", shape=(1 << 20, 1 << 20), dtype=np.float32, chunks=(1, 1024))
    ok = f.create_group("ok")
    ok.create_dataset("zeros", data=np.zeros(20_000_000, dtype=np.float32), compression="gzip")
print("OK")
)PY";
  const auto r = run_python(dir, script, "'" + path + "'");
  ASSERT_EQ(r.rc, 0) << r.out;
  try {
    read_tensor_group(path, "model");  // 4 TiB declared, a few bytes stored
    FAIL() << "huge dataset accepted";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("net.0.weight"), std::string::npos) << e.what();
  }
  // Highly compressed real data (80 MB of zeros) is still read.
  const auto ok = read_tensor_group(path, "ok");
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].second.numel(), 20000000);
}

}  // namespace
}  // namespace bnl::io
