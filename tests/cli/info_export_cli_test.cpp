// `bnlandscape info` and `bnlandscape export` on a hand-made run file (docs/hdf5_schema.md).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli_test_util.h"

using namespace bnl_test;

namespace {

const char* kMakeRun = R"(
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], "w") as f:
    f.attrs["format"] = "bnlandscape"
    f.attrs["schema_version"] = np.int64(1)
    f.attrs["status"] = "complete"
    f.attrs["diverged_at_step"] = np.int64(-1)
    f.attrs["config_toml"] = '# hand-made\ndataset = "fashion-mnist"\nbn = "custom"\nhidden_dims = "32,16"\nlr = 0.1\n'
    f.attrs["bnlandscape_version"] = "0.1.0"
    f.attrs["git_revision"] = "abcdef123456"
    f.attrs["torch_version"] = "1.13.1"
    f.attrs["blas"] = "OpenBLAS"
    f.attrs["host"] = "testhost"
    f.attrs["intra_op_threads"] = np.int64(1)
    f.attrs["blas_threads"] = np.int64(2)
    f.attrs["seed"] = np.int64(7)
    f.attrs["start_time"] = "2024-05-01T12:00:00Z"
    f.attrs["end_time"] = "2024-05-01T12:01:00Z"
    st = f.create_group("train/steps")
    st["step"] = np.arange(4, dtype=np.int64)
    st["loss"] = np.array([2.3, 1.5, np.nan, 0.4])
    st["layer_grad_norm"] = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    st["layer_grad_norm"].attrs["layers"] = ["net.0", "net.2"]
    ep = f.create_group("train/epochs")
    ep["epoch"] = np.array([0], dtype=np.int64)
    ep["step"] = np.array([4], dtype=np.int64)
    ep["test_acc"] = np.array([0.8125])
    p = f.create_group("probes")
    p["step"] = np.array([0, 3], dtype=np.int64)
    p["step_sizes"] = np.array([0.05, 0.1, 0.2])
    p["beta_smoothness"] = np.array([12.5, 3.25])
    p["grad_pred"] = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    p["eigvals"] = np.array([[42.0], [17.5]])
    p["top_eigenvector"] = np.ones((2, 5000))
    p["note"] = "a string dataset, which readers skip"
    a = f.create_group("activations/net.0/pre_norm")
    a["step"] = np.array([0, 2], dtype=np.int64)
    a["hist"] = np.array([[1, 2, 3, 4], [4, 3, 2, 1]], dtype=np.int64)
    a["bin_edges"] = np.linspace(-1, 1, 5)
    a["quantiles"] = np.zeros((2, 7))
    a["quantiles"].attrs["levels"] = np.array([1, 5, 25, 50, 75, 95, 99.0])
    ics = f.create_group("ics")
    ics["step"] = np.array([0, 2], dtype=np.int64)
    ics["l2"] = np.array([[0.0, 0.5], [0.0, 0.25]])
    ics["l2"].attrs["layers"] = ["net.0", "net.2"]
    ck = f.create_group("checkpoints/step_0000004")
    ck.attrs["step"] = np.int64(4)
    ck["net.0.weight"] = np.zeros((16, 784), dtype=np.float32)
    ck.create_group("_state")
print("ok")
)";

const char* kCheckCsv = R"(
import csv, json, math, os, sys
d = sys.argv[1]
def rows(name):
    with open(os.path.join(d, name), newline="") as f:
        return list(csv.reader(f))
def columns(name):
    r = rows(name)
    assert r[0][0] == "step", (name, r[0])   # the step column comes first
    assert all(len(x) == len(r[0]) for x in r), name
    return {h: [x[i] for x in r[1:]] for i, h in enumerate(r[0])}
names = sorted(os.listdir(d))
want = ["activations_net.0_pre_norm.bin_edges.csv", "activations_net.0_pre_norm.csv", "attributes.csv", "ics.csv",
        "probes.csv", "probes.step_sizes.csv", "train_epochs.csv", "train_steps.csv"]
assert names == want, names
s = columns("train_steps.csv")
assert sorted(s) == ["layer_grad_norm[net.0]", "layer_grad_norm[net.2]", "loss", "step"], list(s)
assert s["step"] == ["0", "1", "2", "3"] and s["loss"] == ["2.3", "1.5", "nan", "0.4"], s
assert s["layer_grad_norm[net.0]"] == ["1", "3", "5", "7"] and s["layer_grad_norm[net.2]"] == ["2", "4", "6", "8"], s
p = columns("probes.csv")
assert sorted(p) == ["beta_smoothness", "eigvals[0]", "grad_pred[0]", "grad_pred[1]", "grad_pred[2]", "step"], list(p)
assert p["beta_smoothness"] == ["12.5", "3.25"] and p["grad_pred[2]"] == ["0.3", "0.6"] and p["eigvals[0]"] == ["42", "17.5"], p
assert rows("probes.step_sizes.csv") == [["step_sizes"], ["0.05"], ["0.1"], ["0.2"]]
a = columns("activations_net.0_pre_norm.csv")
assert [a["hist[%d]" % j][1] for j in range(4)] == ["4", "3", "2", "1"], a
assert a["step"] == ["0", "2"] and a["quantiles[6]"] == ["0", "0"], a
assert [r[0] for r in rows("activations_net.0_pre_norm.bin_edges.csv")] == ["bin_edges", "-1", "-0.5", "0", "0.5", "1"]
assert columns("ics.csv") == {"step": ["0", "2"], "l2[net.0]": ["0", "0"], "l2[net.2]": ["0.5", "0.25"]}
assert columns("train_epochs.csv")["test_acc"] == ["0.8125"]
attrs = dict(rows("attributes.csv")[1:])
assert attrs["status"] == "complete" and attrs["seed"] == "7", attrs
assert attrs["config_toml"].splitlines()[2] == 'bn = "custom"', attrs["config_toml"]
print("ok")
)";

const char* kCheckJson = R"(
import json, sys
j = json.load(open(sys.argv[1]))
assert j["attributes"]["status"] == "complete" and j["attributes"]["schema_version"] == 1, j["attributes"]
g = j["groups"]
assert sorted(g) == ["/activations/net.0/pre_norm", "/ics", "/probes", "/train/epochs", "/train/steps"], list(g)
st = g["/train/steps"]
assert st["rows"] == 4
assert st["datasets"]["loss"] == {"shape": [4], "data": [2.3, 1.5, None, 0.4]}, st["datasets"]["loss"]
lg = st["datasets"]["layer_grad_norm"]
assert lg["shape"] == [4, 2] and lg["columns"] == ["net.0", "net.2"] and lg["data"][3] == [7, 8], lg
p = g["/probes"]["datasets"]
assert "note" not in p and p["top_eigenvector"]["shape"] == [2, 5000] and len(p["top_eigenvector"]["data"][1]) == 5000
assert p["step_sizes"]["data"] == [0.05, 0.1, 0.2]
assert g["/ics"]["datasets"]["l2"]["data"] == [[0, 0.5], [0, 0.25]]
print("ok")
)";

void write_script(const std::string& path, const char* text) {
  std::ofstream f(path);
  f << text;
}

}  // namespace

TEST(InfoExportCli, InfoDescribesTheRunFile) {
  if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  TempDir dir;
  write_script(dir / "make.py", kMakeRun);
  auto r = sh(std::string(BNL_PYTHON) + " " + dir / "make.py" + " " + dir / "run.h5");
  ASSERT_EQ(r.code, 0) << r.output;
  r = bnl("info " + dir / "run.h5");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* s : {"status    complete", "bnlandscape 0.1.0 (git abcdef123456), torch 1.13.1", "testhost",
                        "2024-05-01T12:00:00Z -> 2024-05-01T12:01:00Z", "bn=custom", "hidden_dims=32,16",
                        "/train/steps", "4 rows", "layer_grad_norm [4 x 2]", "/probes", "step_sizes [3]",
                        "top_eigenvector [2 x 5000]", "/activations/net.0/pre_norm", "bin_edges [5]",
                        "1 group, steps 4 .. 4", "last values", "/train/steps (step 3):", "loss 0.4",
                        "/train/epochs (step 4):", "test_acc 0.8125", "/probes (step 3):", "beta_smoothness 3.25",
                        "lambda_max 17.5", "grad_pred (max) 0.6", "l2 (layer mean) 0.125"})
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  EXPECT_EQ(r.output.find("note"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("net.0.weight"), std::string::npos) << r.output;  // checkpoints are summarised only

  // A run that is still going (or whose writer was killed) says so; a missing file is exit 2.
  r = bnl("info " + dir / "missing.h5");
  EXPECT_EQ(r.code, 2) << r.output;
}

TEST(InfoExportCli, ExportsEverySeriesAsCsvAndJson) {
  if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  TempDir dir;
  write_script(dir / "make.py", kMakeRun);
  write_script(dir / "check_csv.py", kCheckCsv);
  write_script(dir / "check_json.py", kCheckJson);
  auto r = sh(std::string(BNL_PYTHON) + " " + dir / "make.py" + " " + dir / "run.h5");
  ASSERT_EQ(r.code, 0) << r.output;

  r = bnl("export " + dir / "run.h5" + " --format csv --out " + dir / "csv");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("skipped /probes/top_eigenvector (5000 columns"), std::string::npos) << r.output;
  r = sh(std::string(BNL_PYTHON) + " " + dir / "check_csv.py" + " " + dir / "csv");
  EXPECT_EQ(r.code, 0) << r.output;

  r = bnl("export " + dir / "run.h5" + " --format json --out " + dir / "json");
  ASSERT_EQ(r.code, 0) << r.output;
  ASSERT_TRUE(std::filesystem::exists(dir / "json/run.json")) << r.output;
  r = sh(std::string(BNL_PYTHON) + " " + dir / "check_json.py" + " " + dir / "json/run.json");
  EXPECT_EQ(r.code, 0) << r.output;

  EXPECT_EQ(bnl("export " + dir / "run.h5" + " --format xml --out " + dir / "x").code, 2);
  EXPECT_EQ(bnl("export " + dir / "run.h5").code, 2);  // --out is required
}
