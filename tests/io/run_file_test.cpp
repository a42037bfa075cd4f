#include "bnlandscape/io/run_file.h"

#include <H5Cpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "io_test_util.h"

namespace bnl::io {
namespace {

using test::expect_python_ok;
using test::TempDir;

std::vector<ColumnSpec> step_columns() {
  return {
      {"step", ColumnType::Int64, {}, "step", "optimizer step"},
      {"loss", ColumnType::Float64, {}, "nats", "mean cross-entropy of the batch"},
      {"layer_grad_norm", ColumnType::Float64, {3}, "1", "gradient L2 norm per layer"},
      {"counts", ColumnType::Int64, {2}, "count", "two counters"},
  };
}

std::vector<std::vector<double>> step_row(int i) {
  return {{static_cast<double>(i)},
          {0.5 * i},
          {1.0 * i, 2.0 * i, 3.0 * i},
          {static_cast<double>(i), static_cast<double>(-i)}};
}

std::string read_string_attr(const H5::H5Object& obj, const std::string& name) {
  const H5::Attribute attr = obj.openAttribute(name);
  std::string value;
  attr.read(attr.getDataType(), value);
  return value;
}

TEST(RunFile, SeriesAcrossFlushesReadBackWithHdf5) {
  TempDir dir;
  const std::string path = dir.file("run.h5");
  {
    auto run = RunFile::create(path, false);
    auto& steps = run->add_series("train/steps", step_columns());
    steps.set_column_attr("layer_grad_norm", "layers",
                          std::vector<std::string>{"fc1", "fc2", "fc3"});
    steps.set_attr("cadence", std::string("every step"));
    for (int i = 0; i < 10; ++i) steps.append(step_row(i));
    EXPECT_EQ(steps.rows(), 10);
    EXPECT_EQ(steps.written_rows(), 0);
    steps.flush();
    EXPECT_EQ(steps.written_rows(), 10);
    for (int i = 10; i < 17; ++i) steps.append(step_row(i));
    run->flush();
    for (int i = 17; i < 22; ++i) steps.append(step_row(i));
    EXPECT_EQ(steps.rows(), 22);
    run->close();
    run->close();  // idempotent
    EXPECT_FALSE(run->is_open());
    EXPECT_THROW(steps.append(step_row(0)), IoError);
  }

  const H5::H5File file(path, H5F_ACC_RDONLY);
  const H5::DataSet step = file.openDataSet("/train/steps/step");
  hsize_t dims[2] = {0, 0};
  ASSERT_EQ(step.getSpace().getSimpleExtentDims(dims), 1);
  EXPECT_EQ(dims[0], 22u);
  EXPECT_EQ(step.getTypeClass(), H5T_INTEGER);
  EXPECT_EQ(step.getIntType().getSize(), 8u);
  std::vector<std::int64_t> steps(22);
  step.read(steps.data(), H5::PredType::NATIVE_INT64);
  for (int i = 0; i < 22; ++i) EXPECT_EQ(steps[i], i);
  EXPECT_EQ(read_string_attr(step, "units"), "step");
  EXPECT_EQ(read_string_attr(step, "description"), "optimizer step");

  const H5::DSetCreatPropList plist = step.getCreatePlist();
  hsize_t chunk[2] = {0, 0};
  ASSERT_EQ(plist.getChunk(2, chunk), 1);
  EXPECT_EQ(chunk[0], 4096u);
  EXPECT_EQ(plist.getNfilters(), 2);
  hsize_t maxdims[1] = {0};
  step.getSpace().getSimpleExtentDims(dims, maxdims);
  EXPECT_EQ(maxdims[0], H5S_UNLIMITED);

  const H5::DataSet lgn = file.openDataSet("/train/steps/layer_grad_norm");
  ASSERT_EQ(lgn.getSpace().getSimpleExtentDims(dims), 2);
  EXPECT_EQ(dims[0], 22u);
  EXPECT_EQ(dims[1], 3u);
  ASSERT_EQ(lgn.getCreatePlist().getChunk(2, chunk), 2);
  EXPECT_EQ(chunk[0] * chunk[1] * 8, 64u * 1024u - (64u * 1024u) % 24u);
  EXPECT_EQ(lgn.getTypeClass(), H5T_FLOAT);
  std::vector<double> lg(22 * 3);
  lgn.read(lg.data(), H5::PredType::NATIVE_DOUBLE);
  for (int i = 0; i < 22; ++i) {
    for (int k = 0; k < 3; ++k) EXPECT_DOUBLE_EQ(lg[i * 3 + k], (k + 1.0) * i);
  }

  const H5::DataSet counts = file.openDataSet("/train/steps/counts");
  std::vector<std::int64_t> c(22 * 2);
  counts.read(c.data(), H5::PredType::NATIVE_INT64);
  EXPECT_EQ(c[2 * 21], 21);
  EXPECT_EQ(c[2 * 21 + 1], -21);

  EXPECT_EQ(read_string_attr(file.openGroup("/"), "format"), "bnlandscape");
  EXPECT_EQ(read_string_attr(file.openGroup("/train/steps"), "cadence"), "every step");
}

TEST(RunFile, SeriesAndAttributesReadWithH5py) {
  BNL_REQUIRE_H5PY();
  TempDir dir;
  const std::string path = dir.file("run.h5");
  const std::string toml = "[model]\nname = \"mlp\"\nwidth = 512\n\n[train]\nlr = 0.1\n";
  {
    auto run = RunFile::create(path, false);
    run->set_attr("status", std::string("running"));
    run->set_attr("config_toml", toml);
    run->set_attr("seed", 42);
    run->set_attr("diverged_at_step", std::int64_t{-1});
    run->set_attr("lr", 0.1);
    run->set_attr("host", std::string("h\xc3\xa9te"));  // UTF-8
    auto& steps = run->add_series("/train/steps", step_columns());
    steps.set_column_attr("layer_grad_norm", "layers",
                          std::vector<std::string>{"fc1", "fc2", "fc3"});
    auto& epochs = run->add_series("/train/epochs",
                                   {{"epoch", ColumnType::Int64, {}, "epoch", "epoch index"},
                                    {"test_acc", ColumnType::Float64, {}, "1", "accuracy"}});
    for (int i = 0; i < 5000; ++i) {
      steps.append(step_row(i));
      if (i % 50 == 49) run->flush();
    }
    epochs.append({{0.0}, {0.75}});
    run->set_attr("status", std::string("complete"));
  }  // the destructor flushes and closes

  const std::string script = R"PY(
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
a = f.attrs
assert isinstance(a["format"], str) and a["format"] == "bnlandscape", repr(a["format"])
assert a["schema_version"] == 1 and a["schema_version"].dtype == np.int64
assert a["status"] == "complete", repr(a["status"])
assert a["config_toml"] == sys.argv[2], repr(a["config_toml"])
assert a["seed"] == 42 and a["diverged_at_step"] == -1 and a["lr"] == 0.1
assert a["host"] == "h\u00e9te", repr(a["host"])
g = f["train/steps"]
step = g["step"]
assert step.dtype == np.int64 and step.shape == (5000,) and step.maxshape == (None,)
assert step.chunks == (4096,) and step.compression == "gzip" and step.compression_opts == 4
assert step.shuffle
assert (step[:] == np.arange(5000)).all()
assert g["loss"].dtype == np.float64 and np.allclose(g["loss"][:], 0.5 * np.arange(5000))
lgn = g["layer_grad_norm"]
assert lgn.shape == (5000, 3) and lgn.maxshape == (None, 3)
assert np.allclose(lgn[:], np.outer(np.arange(5000), [1, 2, 3]))
assert list(lgn.attrs["layers"]) == ["fc1", "fc2", "fc3"], lgn.attrs["layers"]
assert g["counts"].dtype == np.int64 and (g["counts"][:, 1] == -np.arange(5000)).all()
for name in g:
    assert isinstance(g[name].attrs["units"], str) and isinstance(g[name].attrs["description"], str)
assert g["loss"].attrs["units"] == "nats"
assert g["loss"].attrs["description"] == "mean cross-entropy of the batch"
e = f["train/epochs"]
assert e["epoch"][:].tolist() == [0] and e["test_acc"][:].tolist() == [0.75]
print("OK")
)PY";
  expect_python_ok(dir, script, "'" + path + "' '" + toml + "'");
}

TEST(RunFile, RefusesExistingFileUnlessOverwrite) {
  TempDir dir;
  const std::string path = dir.file("run.h5");
  {
    auto run = RunFile::create(path, false);
    run->add_series("/old", {{"x", ColumnType::Float64, {}, "", ""}});
  }
  try {
    RunFile::create(path, false);
    FAIL() << "existing file accepted";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("exists"), std::string::npos) << e.what();
  }
  {
    auto run = RunFile::create(path, true);
    run->add_series("/new", {{"x", ColumnType::Float64, {}, "", ""}});
  }
  const H5::H5File file(path, H5F_ACC_RDONLY);
  EXPECT_FALSE(file.nameExists("/old"));
  EXPECT_TRUE(file.nameExists("/new"));
}

TEST(RunFile, ErrorsNameFileObjectAndOperation) {
  TempDir dir;
  EXPECT_THROW(RunFile::create(dir.file("no/such/dir/run.h5"), false), IoError);

  const std::string path = dir.file("run.h5");
  auto run = RunFile::create(path, false);
  auto& steps = run->add_series("/train/steps", step_columns());
  try {
    run->add_series("/train/steps", step_columns());
    FAIL() << "second add_series of one group accepted";
  } catch (const IoError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("'/train/steps'"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  EXPECT_THROW(run->add_series("/a", {}), IoError);
  EXPECT_THROW(run->add_series("/b", {{"x", ColumnType::Float64, {0}, "", ""}}), IoError);
  EXPECT_THROW(run->add_series("/c", {{"x", ColumnType::Float64, {}, "", ""},
                                      {"x", ColumnType::Float64, {}, "", ""}}),
               IoError);

  auto row = step_row(1);
  row[2].pop_back();
  EXPECT_THROW(steps.append(row), IoError);
  row = step_row(1);
  row[0][0] = std::nan("");
  EXPECT_THROW(steps.append(row), IoError);
  EXPECT_THROW(steps.append({{1.0}}), IoError);
  EXPECT_EQ(steps.rows(), 0);  // rejected rows leave nothing behind
  EXPECT_THROW(steps.set_column_attr("nope", "a", std::string("b")), IoError);

  // An HDF5-level failure: a dataset where a group is needed.
  run->write_array("/probes/x", {1.0}, {}, "", "");
  try {
    run->write_array("/probes/x/y", {1.0}, {}, "", "");
    FAIL() << "array under a dataset accepted";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("'/probes/x/y'"), std::string::npos) << e.what();
  }
}

TEST(RunFile, WriteArrayAndAttributeOverwrite) {
  BNL_REQUIRE_H5PY();
  TempDir dir;
  const std::string path = dir.file("run.h5");
  {
    auto run = RunFile::create(path, false);
    run->set_attr("status", std::string("running"));
    run->set_attr("end_time", std::string(""));
    run->set_attr("diverged_at_step", std::int64_t{-1});
    run->write_array("/probes/step_sizes", {0.1, 0.2, 0.3}, {3}, "1", "relative step sizes");
    run->write_array("/probes/surface", {1, 2, 3, 4, 5, 6}, {2, 3}, "nats", "loss surface");
    run->write_array("/probes/empty", {}, {0}, "", "nothing");
    EXPECT_THROW(run->write_array("/probes/bad", {1, 2, 3}, {2, 2}, "", ""), IoError);
    EXPECT_THROW(run->write_array("/probes/step_sizes", {1}, {1}, "", ""), IoError);
    run->set_attr("status", std::string("diverged"));
    run->set_attr("diverged_at_step", std::int64_t{1234});
    run->set_attr("end_time", std::string("2024-01-01T00:00:00Z"));
    run->flush();
    run->set_attr("status", std::string("complete"));
  }
  const std::string script = R"PY(
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
assert f.attrs["status"] == "complete", f.attrs["status"]
assert f.attrs["diverged_at_step"] == 1234
assert f.attrs["end_time"] == "2024-01-01T00:00:00Z"
s = f["probes/step_sizes"]
assert s.dtype == np.float64 and s.shape == (3,) and s.maxshape == (3,) and s.chunks is None
assert s[:].tolist() == [0.1, 0.2, 0.3]
assert s.attrs["units"] == "1" and s.attrs["description"] == "relative step sizes"
assert f["probes/surface"][:].tolist() == [[1, 2, 3], [4, 5, 6]]
assert f["probes/empty"].shape == (0,)
assert "bad" not in f["probes"]
print("OK")
)PY";
  expect_python_ok(dir, script, "'" + path + "'");
}

// The writer is killed after a flush without closing; the file must still open with plain
// h5py (no SWMR, default locking) and hold exactly the flushed rows.
TEST(RunFile, KillAfterFlushLeavesReadableFile) {
  BNL_REQUIRE_H5PY();
  TempDir dir;
  const std::string path = dir.file("killed.h5");
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      auto run = RunFile::create(path, false);
      run->set_attr("status", std::string("running"));
      auto& steps = run->add_series("/train/steps", step_columns());
      for (int i = 0; i < 1234; ++i) {
        steps.append(step_row(i));
        if (i % 50 == 49) run->flush();
      }
      ::raise(SIGKILL);
    } catch (...) {
    }
    ::_exit(3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  ASSERT_EQ(WTERMSIG(status), SIGKILL);

  {
    const H5::H5File file(path, H5F_ACC_RDONLY);
    hsize_t dims[1] = {0};
    file.openDataSet("/train/steps/loss").getSpace().getSimpleExtentDims(dims);
    EXPECT_EQ(dims[0], 1200u);
  }
  const std::string script = R"PY(
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
assert f.attrs["status"] == "running"
g = f["train/steps"]
for name in g:
    assert g[name].shape[0] == 1200, (name, g[name].shape)
assert (g["step"][:] == np.arange(1200)).all()
assert np.allclose(g["layer_grad_norm"][:, 2], 3.0 * np.arange(1200))
print("OK")
)PY";
  expect_python_ok(dir, script, "'" + path + "'");
}

}  // namespace
}  // namespace bnl::io
