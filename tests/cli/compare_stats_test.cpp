// `bnlandscape compare`: the statistics (incomplete beta, Student t, Welch) against scipy
// constants, and every metric on hand-made run files whose values are known.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "bnlandscape/cli/compare_command.h"
#include "bnlandscape/stats/descriptive.h"
#include "bnlandscape/stats/special_functions.h"
#include "bnlandscape/stats/welch.h"
#include "cli_test_util.h"

using namespace bnl_test;
namespace stats = bnl::stats;

namespace {

/// Relative (or, near 0, absolute) closeness.
::testing::AssertionResult close(double got, double want, double tol) {
  const double err = std::fabs(got - want) / std::max(1.0, std::fabs(want));
  if (err <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << got << ", want " << want << " (error " << err << ")";
}

}  // namespace

TEST(CompareStats, IncompleteBetaMatchesScipy) {
  // scipy.special.betainc(a, b, x), scipy 1.10.1.
  struct Case {
    double a, b, x, want;
  };
  const Case cases[] = {
      {0.5, 0.5, 0.3, 0.36901011956554541},  {2, 3, 0.4, 0.52479999999999993},
      {10, 0.5, 0.9, 0.15164090963470997},   {0.5, 10, 0.05, 0.68284842453445482},
      {50, 50, 0.45, 0.15865219893709973},   {1, 1, 0.7, 0.69999999999999996},
      {3.5, 0.5, 0.99, 0.7979716952348509},  {100, 0.5, 0.999, 0.6550435163244297},
  };
  for (const auto& c : cases)
    EXPECT_TRUE(close(stats::incomplete_beta(c.a, c.b, c.x), c.want, 1e-12)) << c.a << " " << c.b << " " << c.x;
  EXPECT_EQ(stats::incomplete_beta(2, 3, 0), 0);
  EXPECT_EQ(stats::incomplete_beta(2, 3, 1), 1);
  EXPECT_TRUE(std::isnan(stats::incomplete_beta(-1, 3, 0.5)));
  EXPECT_TRUE(std::isnan(stats::incomplete_beta(2, 3, 1.5)));
}

TEST(CompareStats, StudentTCdfMatchesScipy) {
  // scipy.stats.t.cdf(t, df), scipy 1.10.1.
  struct Case {
    double t, df, want;
  };
  const Case cases[] = {
      {0, 5, 0.5},
      {1.0, 1, 0.75000000000000022},
      {-2.0, 3, 0.069662984279421553},
      {2.5, 10, 0.98427657788169565},
      {-0.7, 2.5, 0.27170247159477412},
      {4.0, 30, 0.99980907718195811},
      {1.96, 1e6, 0.97500196620736512},
      {-10, 4, 0.00028100181135799556},
  };
  for (const auto& c : cases) EXPECT_TRUE(close(stats::student_t_cdf(c.t, c.df), c.want, 1e-11)) << c.t << " " << c.df;
  // The small tail keeps its relative precision.
  EXPECT_NEAR(stats::student_t_cdf(-10, 4) / 0.00028100181135799556, 1.0, 1e-10);
}

TEST(CompareStats, WelchMatchesScipy) {
  // scipy.stats.ttest_ind(a, b, equal_var=False).
  auto w = stats::welch_t_test({0.81, 0.83, 0.86}, {0.88, 0.875, 0.891, 0.884});
  EXPECT_TRUE(close(w.t, -3.2959350898250435, 1e-12));
  EXPECT_TRUE(close(w.p, 0.0703845856410615, 1e-10));
  w = stats::welch_t_test({1.0, 2.0, 3.0, 4.0}, {2.5, 3.5, 4.5, 5.0, 6.5});
  EXPECT_TRUE(close(w.t, -2.029253735350378, 1e-12));
  EXPECT_TRUE(close(w.p, 0.08236384112670367, 1e-10));
  // NaN values are left out; too few values or no variance give NaN.
  w = stats::welch_t_test({0.87, NAN, 0.88}, {0.80, 0.82, 0.85});
  EXPECT_TRUE(close(w.t, 3.362422096189172, 1e-12));
  EXPECT_TRUE(close(w.p, 0.059333976078154584, 1e-10));
  EXPECT_TRUE(std::isnan(stats::welch_t_test({1.0}, {1.0, 2.0}).p));
  EXPECT_TRUE(std::isnan(stats::welch_t_test({1.0, 1.0}, {2.0, 2.0}).p));
}

TEST(CompareStats, PoolAndMedian) {
  auto p = stats::pool({1.0, 2.0, NAN, 4.0});
  EXPECT_EQ(p.n, 3u);
  EXPECT_DOUBLE_EQ(p.mean, 7.0 / 3.0);
  EXPECT_NEAR(p.sd, std::sqrt(((1 - 7.0 / 3) * (1 - 7.0 / 3) + (2 - 7.0 / 3) * (2 - 7.0 / 3) + (4 - 7.0 / 3) * (4 - 7.0 / 3)) / 2), 1e-15);
  p = stats::pool({5.0});
  EXPECT_EQ(p.n, 1u);
  EXPECT_EQ(p.mean, 5.0);
  EXPECT_TRUE(std::isnan(p.sd));
  EXPECT_EQ(stats::pool({}).n, 0u);
  EXPECT_EQ(stats::median({3, 1, NAN, 2}), 2);
  EXPECT_EQ(stats::median({4, 1, 3, 2}), 2.5);
  EXPECT_TRUE(std::isnan(stats::median({NAN})));
}

namespace {

/// Writes 3 runs with bn = "none" (seeds 0-2) and 2 with bn = "custom" (seeds 0-1), following
/// docs/hdf5_schema.md, with values chosen so that every metric is known in closed form.
const char* kMakeRuns = R"(
import h5py, numpy as np, sys
d = sys.argv[1]
final = {"none": [0.80, 0.82, 0.85], "custom": [0.87, 0.88]}
amp = {"none": 0.1, "custom": 0.02}
beta0 = {"none": 5.0, "custom": 1.0}
gp0 = {"none": 2.0, "custom": 0.5}
lam0 = {"none": 50.0, "custom": 10.0}
ics0 = {"none": 0.01, "custom": 0.002}
def f64(g, name, data):
    ds = g.create_dataset(name, data=np.asarray(data, dtype=np.float64))
    ds.attrs["units"] = "1"
    ds.attrs["description"] = name
for bn in ["none", "custom"]:
    for s, acc in enumerate(final[bn]):
        with h5py.File(f"{d}/{bn}_{s}.h5", "w") as f:
            f.attrs["format"] = "bnlandscape"
            f.attrs["schema_version"] = np.int64(1)
            f.attrs["status"] = "complete"
            f.attrs["diverged_at_step"] = np.int64(-1)
            f.attrs["config_toml"] = f'# hand-made\nbn = "{bn}"\nbn_noise = false\nlr = 0.1\nseed = {s}\nhidden_dims = "32,16"\n'
            n = 150
            i = np.arange(n)
            st = f.create_group("train/steps")
            st.create_dataset("step", data=i.astype(np.int64))
            f64(st, "loss", 2.0 * np.exp(-i / 50) + amp[bn] * np.sin(0.7 * i + s))
            f64(st, "grad_norm", 1.0 + 0.01 * i)
            f64(st, "wall_time", 0.01 * (i + 1))
            f64(st, "layer_grad_norm", np.ones((n, 3)))
            st["layer_grad_norm"].attrs["layers"] = ["net.0", "net.2", "net.4"]
            ep = f.create_group("train/epochs")
            ep.create_dataset("epoch", data=np.arange(3, dtype=np.int64))
            ep.create_dataset("step", data=np.array([50, 100, 150], dtype=np.int64))
            f64(ep, "test_acc", [0.6, 0.75, acc])
            f64(ep, "test_loss", [1.0, 0.8, 0.5 - 0.01 * s])
            f64(ep, "train_loss", [1.1, 0.9, 0.6])
            f64(ep, "train_acc", [0.5, 0.7, 0.9])
            f64(ep, "grad_norm_mean", [1.0, 1.5, 2.0 + s])
            ev = f.create_group("train/evals")
            ev.create_dataset("step", data=np.array([25, 75, 125], dtype=np.int64))
            if bn == "none":
                f64(ev, "test_acc", [0.4, 0.7, 0.84 + 0.01 * s])
            else:
                f64(ev, "test_acc", [0.5 + 0.4 * s, 0.86, 0.9])
            f64(ev, "test_loss", [1.0, 0.9, 0.8])
            k = 1.0 + 0.1 * s
            p = f.create_group("probes")
            p.create_dataset("step", data=np.array([0, 50, 100, 149], dtype=np.int64))
            f64(p, "step_sizes", [0.05, 0.1, 0.2])
            f64(p, "beta_smoothness", beta0[bn] * np.array([1, 2, 3, 10]) * k)
            f64(p, "grad_pred", gp0[bn] * np.outer(np.arange(1, 5), [0.5, 1.0, 0.8]) * (1 + 0.05 * s))
            f64(p, "loss_path", [[1.0, 1.0 + 0.1 * (r + 1), 0.9] for r in range(4)])
            f64(p, "eigvals", lam0[bn] * k * np.array([[1, 0.5], [4, 1], [np.nan, 1], [2, 1]]))
            ics = f.create_group("ics")
            ics.create_dataset("step", data=np.arange(0, 150, 30, dtype=np.int64))
            r = np.arange(1, 6)[:, None]
            f64(ics, "l2", ics0[bn] * k * np.hstack([0 * r, r, 2 * r]))
            f64(ics, "cos", np.full((5, 3), np.nan))
            ck = f.create_group("checkpoints/step_0000150")
            ck.attrs["step"] = np.int64(150)
            ck.create_dataset("net.0.weight", data=np.zeros((2, 2), dtype=np.float32))
            ck.create_group("_state")
print("ok")
)";

/// Recomputes every metric with numpy from the definitions in `compare --help` and checks the
/// JSON output of compare; the Welch p-values are scipy's (ttest_ind, equal_var=False).
const char* kCheckJson = R"(
import json, sys, math, numpy as np
out = json.load(open(sys.argv[1]))
d = sys.argv[2]
final = {"none": [0.80, 0.82, 0.85], "custom": [0.87, 0.88]}
amp = {"none": 0.1, "custom": 0.02}
beta0 = {"none": 5.0, "custom": 1.0}
gp0 = {"none": 2.0, "custom": 0.5}
lam0 = {"none": 50.0, "custom": 10.0}
ics0 = {"none": 0.01, "custom": 0.002}
def expected(bn, s):
    k = 1.0 + 0.1 * s
    i = np.arange(150)
    loss = 2.0 * np.exp(-i / 50) + amp[bn] * np.sin(0.7 * i + s)
    ev = [0.4, 0.7, 0.84 + 0.01 * s] if bn == "none" else [0.5 + 0.4 * s, 0.86, 0.9]
    evals = sorted(list(zip([50, 100, 150], [0.6, 0.75, final[bn][s]])) + list(zip([25, 75, 125], ev)))
    reach = [st for st, a in evals if a >= 0.85]
    return {
        "final_test_acc": final[bn][s],
        "best_test_acc": final[bn][s],
        "steps_to_target": reach[0] if reach else None,
        "final_test_loss": 0.5 - 0.01 * s,
        "loss_std_last": float(np.std(loss[-100:], ddof=1)),
        "grad_norm_mean": 2.0 + s,
        "grad_norm_max": 1.0 + 0.01 * 149,
        "beta_median": beta0[bn] * 2.5 * k,
        "beta_max": beta0[bn] * 10 * k,
        "grad_pred_max_median": gp0[bn] * 2.5 * (1 + 0.05 * s),
        "lambda_max_median": lam0[bn] * 2 * k,
        "probe_loss_range_median": 0.35,
        "ics_median": ics0[bn] * k * 3.0,
        "steps": 150,
    }
def near(a, b, tol=1e-9):
    if b is None:
        return a is None
    return a is not None and abs(a - b) <= tol * max(1.0, abs(b))
assert out["group_by"] == "bn" and out["target_acc"] == 0.85 and out["last_steps"] == 100, out
groups = {g["name"]: g for g in out["groups"]}
assert list(groups) == ["none", "custom"], list(groups)
for bn, g in groups.items():
    assert [r["status"] for r in g["runs"]] == ["complete"] * len(final[bn])
    for key in expected(bn, 0):
        want = [expected(bn, s)[key] for s in range(len(final[bn]))]
        m = g["metrics"][key]
        got = m["values"]
        assert len(got) == len(want) and all(near(a, b) for a, b in zip(got, want)), (bn, key, got, want)
        fin = [w for w in want if w is not None]
        assert m["n"] == len(fin), (bn, key, m)
        assert near(m["mean"], float(np.mean(fin))), (bn, key, m)
        sd = float(np.std(fin, ddof=1)) if len(fin) > 1 else None
        assert near(m["std"], sd), (bn, key, m, sd)
c = out["comparison"]
assert c["numerator"] == "custom" and c["denominator"] == "none"
for key, m in c["metrics"].items():
    a = [v for v in groups["none"]["metrics"][key]["values"] if v is not None]
    b = [v for v in groups["custom"]["metrics"][key]["values"] if v is not None]
    if a and b and np.mean(a) != 0:
        assert near(m["ratio"], np.mean(b) / np.mean(a)), (key, m)
    if len(a) > 1 and len(b) > 1 and (np.var(a) > 0 or np.var(b) > 0):
        va, vb = np.var(b, ddof=1) / len(b), np.var(a, ddof=1) / len(a)
        t = (np.mean(b) - np.mean(a)) / math.sqrt(va + vb)
        df = (va + vb) ** 2 / (va ** 2 / (len(b) - 1) + vb ** 2 / (len(a) - 1))
        assert near(m["t"], t) and near(m["df"], df), (key, m, t, df)
        assert 0 <= m["p_welch"] <= 1, (key, m)
scipy_p = {"final_test_acc": 0.059333976078154584, "beta_median": 0.003378960054289216,
           "beta_max": 0.003378960054289216}
for key, p in scipy_p.items():
    assert near(c["metrics"][key]["p_welch"], p, 1e-8), (key, c["metrics"][key], p)
print("ok")
)";

std::string files(const TempDir& dir) {
  std::string s;
  for (const char* f : {"none_0", "custom_0", "none_1", "custom_1", "none_2"}) s += " " + dir / (std::string(f) + ".h5");
  return s;
}

void write_script(const std::string& path, const char* text) {
  std::ofstream f(path);
  f << text;
}

}  // namespace

TEST(CompareStats, MetricsOfHandMadeRunFiles) {
  if (!have_h5py()) GTEST_SKIP() << "no python3 with h5py";
  TempDir dir;
  write_script(dir / "make.py", kMakeRuns);
  write_script(dir / "check.py", kCheckJson);
  auto r = sh(std::string(BNL_PYTHON) + " " + dir / "make.py" + " " + dir.path.string());
  ASSERT_EQ(r.code, 0) << r.output;

  r = bnl_test::bnl("compare" + files(dir) + " --format json > " + dir / "out.json");
  ASSERT_EQ(r.code, 0) << r.output;
  r = sh(std::string(BNL_PYTHON) + " " + dir / "check.py" + " " + dir / "out.json" + " " + dir.path.string());
  EXPECT_EQ(r.code, 0) << r.output;

  // The table keeps its labels and adds the ratio and p-value columns for two groups.
  r = bnl_test::bnl("compare" + files(dir));
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* s : {"final test accuracy", "runs (status)", "steps to test accuracy >= 0.85",
                        "training loss std over the last 100 steps", "beta-smoothness, median over probes",
                        "beta-smoothness, max over probes", "max gradient predictiveness, median over probes",
                        "Hessian lambda_max, median over probes", "ICS l2", "ratio custom/none", "p (Welch)",
                        "0.8233 +- 0.0252 (n=3)", "0.8750 +- 0.0071 (n=2)", "0.0593"})
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;

  r = bnl_test::bnl("compare" + files(dir) + " --format markdown --target-acc 0.9 --last-steps 10");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("| bn | none | custom | ratio custom/none | p (Welch) |"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("| steps to test accuracy >= 0.9 |"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("over the last 10 steps"), std::string::npos) << r.output;

  r = bnl_test::bnl("compare" + files(dir) + " --format csv");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("metric,label,none mean,none std,none n,custom mean,custom std,custom n,ratio,p_welch\n", 0), 0u)
      << r.output;
  EXPECT_NE(r.output.find("\nfinal_test_acc,final test accuracy,0.82333333333333"), std::string::npos) << r.output;

  // Grouped by seed: three groups, no ratio column (each group mixes bn settings, so they are
  // compared only with --allow-mixed).
  r = bnl_test::bnl("compare" + files(dir) + " --group-by seed --allow-mixed");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find("p (Welch)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("0.8350 +- 0.0495 (n=2)"), std::string::npos) << r.output;  // seed 0: 0.80, 0.87
  r = bnl_test::bnl("compare" + files(dir) + " --group-by hidden-dims --allow-mixed");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("32,16"), std::string::npos) << r.output;

  // The baseline (none, or --baseline) is the denominator whatever the order of the files.
  r = bnl_test::bnl("compare " + dir / "custom_0.h5" + " " + dir / "none_0.h5" + " " + dir / "custom_1.h5" + " " +
                    dir / "none_1.h5");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("ratio custom/none"), std::string::npos) << r.output;
  r = bnl_test::bnl("compare" + files(dir) + " --baseline custom");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("ratio none/custom"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("0.941 "), std::string::npos) << r.output;  // 0.8233 / 0.875
  r = bnl_test::bnl("compare" + files(dir) + " --baseline torch");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("expected one of the groups of --group-by bn: none, custom"), std::string::npos) << r.output;

  EXPECT_EQ(bnl_test::bnl("compare" + files(dir) + " --format xml").code, 2);
}
