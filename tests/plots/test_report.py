"""Tests of the HTML report (plots/report/) on run files written by hand with h5py.

    /usr/bin/python3 -m unittest discover -s tests/plots -p 'test_report*.py'

The page's figures are read back from their embedded JSON and their CSV links, and compared with
what the files hold. tests/plots/test_report_runs.py does the same on real runs of the binary;
tests/report/browser_test.py opens a report in headless Chromium.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import h5py  # noqa: E402

from plots.report import cli, figures, header, page  # noqa: E402

PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
JS_STUB = "/* plotly.js stub */ window.Plotly={newPlot:function(){return Promise.resolve();}};"


# ------------------------------------------------------------------------------------------
# Reading a page back


def figures_of(html: str) -> dict:
    """figure id -> {data, layout} as embedded in the page."""
    out = {}
    for m in re.finditer(r"<script type='application/json' class='figure-data' "
                         r"data-target='plot-([^']+)'>(.*?)</script>", html, re.S):
        out[m.group(1)] = json.loads(m.group(2).replace("<\\/", "</"))
    return out


def csv_of(html: str, fid: str) -> list:
    """The rows (dicts) of figure fid's CSV link."""
    m = re.search(rf"id='fig-{re.escape(fid)}'.*?href='data:text/csv;charset=utf-8;base64,([^']+)'",
                  html, re.S)
    if not m:
        raise AssertionError(f"no CSV link for {fid}")
    return list(csv.DictReader(io.StringIO(base64.b64decode(m.group(1)).decode())))


def section_ids(html: str) -> list:
    return re.findall(r"<section class='report-section' id='([^']+)'", html)


def trace_named(fig: dict, start: str) -> dict:
    for t in fig["data"]:
        if t.get("name", "").startswith(start):
            return t
    raise AssertionError(f"no trace {start!r} in {[t.get('name') for t in fig['data']]}")


def close(a, b, rtol=5.1e-6):
    """Drawn numbers carry 6 significant digits (figures.DIGITS)."""
    a = np.array([np.nan if v is None else v for v in a], float)
    np.testing.assert_allclose(a, np.asarray(b, float), rtol=rtol, equal_nan=True)


# ------------------------------------------------------------------------------------------
# Hand-made run files (docs/hdf5_schema.md)


def _ds(g, name, data, units="1"):
    ds = g.create_dataset(name, data=np.asarray(data))
    ds.attrs["units"] = units
    return ds


def write_run(path, bn="custom", seed=0, n=40, status="complete", diverged_at=-1, probes=True,
              loss=None, epochs=2):
    """A run file with /train/steps, /train/epochs and (probes=True) /probes."""
    rng = np.random.default_rng(seed + (bn == "none") * 10)
    if loss is None:
        loss = 2.3 * np.exp(-np.arange(n) / n) + 0.05 * rng.random(n)
    loss = np.asarray(loss, float)
    n = len(loss)
    with h5py.File(path, "w") as f:
        f.attrs.update({"format": "bnlandscape", "schema_version": 1, "status": status,
                        "diverged_at_step": diverged_at, "git_revision": "0123456789ab",
                        "seed": seed,
                        "config_toml": f'# comment\ndataset = "fashion-mnist"\narch = "mlp"\n'
                                       f'bn = "{bn}"\nlr = 0.1\nepochs = {epochs}\nseed = {seed}\n'
                                       f'out = "{path}"\n'})
        s = f.create_group("train/steps")
        _ds(s, "step", np.arange(n, dtype=np.int64))
        _ds(s, "epoch", np.arange(n, dtype=np.int64) * epochs // n)
        _ds(s, "loss", loss, "nats")
        _ds(s, "lr", np.full(n, 0.1))
        e = f.create_group("train/epochs")
        m = epochs if status == "complete" else max(0, epochs - 1)
        _ds(e, "epoch", np.arange(m, dtype=np.int64))
        _ds(e, "step", (np.arange(m, dtype=np.int64) + 1) * n // epochs)
        _ds(e, "test_acc", 0.5 + 0.1 * np.arange(m) + 0.01 * seed)
        _ds(e, "test_loss", 1.0 - 0.1 * np.arange(m), "nats")
        if probes:
            k = max(1, n // 10)
            steps = np.arange(0, n, 10, dtype=np.int64)[:k]
            p = f.create_group("probes")
            _ds(p, "step", steps)
            _ds(p, "step_sizes", np.linspace(0.05, 0.4, 5))
            _ds(p, "loss_path", 1.0 + rng.random((len(steps), 5)), "nats")
            _ds(p, "grad_pred", rng.random((len(steps), 5)))
            _ds(p, "beta_smoothness", 10 + rng.random(len(steps)))
            ev = 20 + rng.random((len(steps), 1))
            ev[-1, 0] = np.nan  # not converged
            _ds(p, "eigvals", ev)
            _ds(p, "eos_threshold", np.full(len(steps), 20.0))
            _ds(p, "trace", np.full(len(steps), np.nan))
    return path


class ReportCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="bnl_report_test_")
        self.dir = Path(self.tmp.name)
        self._find = header.find_binary
        header.find_binary = lambda: None  # no compare table unless a test asks

    def tearDown(self):
        header.find_binary = self._find
        self.tmp.cleanup()

    def build(self, *paths, **kw):
        kw.setdefault("js", JS_STUB)
        return cli.build([str(p) for p in paths], **kw)


class PageContent(ReportCase):
    def test_embedded_data_equals_the_files(self):
        a = write_run(self.dir / "nobn.h5", bn="none")
        b = write_run(self.dir / "bn.h5", bn="custom")
        figs = figures_of(self.build(self.dir).html)
        with h5py.File(b) as f:
            loss, steps = f["train/steps/loss"][:], f["train/steps/step"][:]
            beta, ev = f["probes/beta_smoothness"][:], f["probes/eigvals"][:, 0]
            lp = f["probes/loss_path"][:]
        t = trace_named(figs["training-loss"], "BN, seed 0")
        self.assertEqual(t["x"], steps.tolist())
        close(t["y"], loss)
        close(trace_named(figs["landscape-beta"], "BN, seed 0")["y"], beta)
        lam = trace_named(figs["curvature-lambda-max"], "BN, seed 0")["y"]
        self.assertIsNone(lam[-1])  # NaN (not converged) is a gap
        close(lam, ev)
        band = [t for t in figs["landscape-loss-range"]["data"] if t["name"] == "BN"]
        self.assertEqual(band[0]["fill"], "tonexty")
        close(band[0]["y"], lp.max(axis=1))
        close(trace_named(figs["landscape-loss-range"], "BN: min over s")["y"], lp.min(axis=1))
        close(trace_named(figs["training-test-acc"], "no BN, seed 0")["y"],
              h5py.File(a)["train/epochs/test_acc"][:])

    def test_csv_links_decode_to_the_same_numbers(self):
        b = write_run(self.dir / "bn.h5")
        html = self.build(b).html
        rows = [r for r in csv_of(html, "training-loss") if r["run"] == "bn.h5"]
        with h5py.File(b) as f:
            loss, lp, ss = f["train/steps/loss"][:], f["probes/loss_path"][:], f["probes/step_sizes"][:]
        self.assertEqual([float(r["loss"]) for r in rows], loss.tolist())  # full precision
        rows = csv_of(html, "landscape-loss-range")
        self.assertEqual(len(rows), lp.size)
        self.assertEqual([float(r["loss_path"]) for r in rows], lp.ravel().tolist())
        self.assertEqual([float(r["step_size"]) for r in rows[:5]], ss.tolist())
        ev = [r["lambda_max"] for r in csv_of(html, "curvature-lambda-max")]
        self.assertEqual(ev[-1], "nan")

    def test_sections_without_data_are_left_out(self):
        html = self.build(write_run(self.dir / "a.h5", probes=False)).html
        self.assertEqual(section_ids(html), ["training"])
        for missing in ("landscape", "curvature", "density", "surfaces", "activations", "ics"):
            self.assertNotIn(f"id='{missing}'", html)
        # /probes/trace is all NaN: no trace figure, and no figure container is empty
        html = self.build(write_run(self.dir / "b.h5")).html
        self.assertNotIn("curvature-trace", figures_of(html))
        for fid, fig in figures_of(html).items():
            self.assertTrue(fig["data"], fid)

    def test_diverged_and_interrupted_runs(self):
        loss = np.r_[np.linspace(2.3, 5.0, 12), np.inf]
        write_run(self.dir / "div.h5", bn="none", status="diverged", diverged_at=12, loss=loss)
        write_run(self.dir / "int.h5", bn="custom", status="interrupted", n=25)
        write_run(self.dir / "ok.h5", bn="custom", seed=1)
        built = self.build(self.dir)
        html = built.html
        self.assertIn("data-status='diverged'", html)
        self.assertIn("diverged at step 12", html)
        self.assertIn("data-status='interrupted'", html)
        self.assertIn("Not complete", html)
        figs = figures_of(html)  # strict JSON: NaN and inf became null
        t = trace_named(figs["training-loss"], "no BN, seed 0 (diverged at step 12)")
        self.assertIsNone(t["y"][-1])
        mean = trace_named(figs["training-loss"], "BN: mean of 2 runs")
        with h5py.File(self.dir / "ok.h5") as f:
            late = f["train/steps/loss"][30:]  # only the complete run reaches these steps
        close(mean["y"][30:], late)
        self.assertTrue(built.done)  # diverged and interrupted are final: watch stops
        with contextlib.redirect_stdout(io.StringIO()) as out:
            self.assertEqual(cli.main([str(self.dir), "--out", str(self.dir / "r.html"), "--no-compare"]), 0)
        self.assertIn("3 run files", out.getvalue())

    def test_plotly_embedded_once_and_nothing_loaded(self):
        html = cli.build([str(write_run(self.dir / "a.h5"))]).html
        self.assertEqual(html.count("* plotly.js v"), 1)
        self.assertEqual(html.count("<script>"), 3)  # error capture, plotly.js, the renderer
        self.assertNotRegex(html, r"<(script|link|img)[^>]+(src|href)=['\"]?https?:")
        self.assertIn("Content-Security-Policy", html)
        self.assertNotIn("http-equiv='refresh'", html)

    def test_long_series_are_thinned_and_say_so(self):
        n = 9000
        p = write_run(self.dir / "long.h5", n=n, probes=False)
        html = self.build(p).html
        t = figures_of(html)["training-loss"]["data"][0]
        k = figures.stride(n)
        self.assertLessEqual(len(t["x"]), figures.MAX_POINTS + 1)
        self.assertEqual(t["x"][:3], [0, k, 2 * k])
        self.assertEqual(t["x"][-1], n - 1)
        with h5py.File(p) as f:
            close(t["y"], f["train/steps/loss"][:][t["x"]])
        self.assertIn(f"one step in {k}", html)
        self.assertEqual(len(csv_of(html, "training-loss")), n)  # the CSV is complete

    def test_csv_budget_shared_among_figures(self):
        self.assertEqual(figures.csv_limits([10, 20], budget=100), [10, 20])
        self.assertEqual(figures.csv_limits([10, 500, 1000], budget=400), [10, 195, 195])
        self.assertEqual(figures.csv_limits([10, 500], budget=10_000, cap=300), [10, 300])

    def test_csv_over_the_limit_holds_every_kth_row(self):
        t = figures.Table(["run", "x", "y"])
        t.add(run="r", x=np.arange(1000), y=np.arange(1000) * 0.5)
        text, k = t.csv(limit=2000)
        self.assertGreater(k, 1)
        rows = list(csv.DictReader(io.StringIO(text)))
        self.assertEqual([int(r["x"]) for r in rows[:2]], [0, k])
        self.assertEqual(rows[-1]["x"], "999")


class Header(ReportCase):
    def test_compare_table_and_intervals(self):
        doc = {"group_by": "bn", "labels": {"final_test_acc": "final test accuracy"},
               "groups": [{"name": "none", "metrics": {"final_test_acc": {
                   "mean": 0.5, "std": 0.1, "n": 3, "values": [0.4, 0.5, 0.6]}}},
                          {"name": "custom", "metrics": {"final_test_acc": {
                              "mean": 0.7, "std": None, "n": 1, "values": [0.7]}}}],
               "comparison": {"numerator": "custom", "denominator": "none",
                              "metrics": {"final_test_acc": {"ratio": 1.4, "p_welch": 0.0123}}}}
        html = header.compare_table(doc)
        lo, hi = header.interval([0.4, 0.5, 0.6])
        self.assertAlmostEqual(hi - 0.5, 4.303 * 0.1 / np.sqrt(3), places=6)
        self.assertIn(f"[{lo:.4g}, {hi:.4g}]", html)
        self.assertIn("0.0123", html)
        self.assertIn("1.4", html)

    def test_no_binary_leaves_the_table_out_with_a_note(self):
        html = self.build(write_run(self.dir / "a.h5")).html
        self.assertIn("compare-missing", html)
        self.assertIn("binary was not found", html)
        self.assertNotIn("class='compare'", html)

    def test_configuration_and_revision_collapsible(self):
        html = self.build(write_run(self.dir / "a.h5")).html
        self.assertIn("<details><summary>configuration</summary>"
                      "<pre>dataset = &quot;fashion-mnist&quot;", html)
        self.assertIn("0123456789ab", html)
        self.assertNotIn("# comment", html)

    def test_unreadable_file_is_reported(self):
        bad = self.dir / "bad.h5"
        bad.write_bytes(b"not hdf5 at all")
        write_run(self.dir / "a.h5")
        built = self.build(self.dir)
        self.assertEqual([Path(p).name for p, _ in built.errors], ["bad.h5"])
        self.assertIn("Could not read", built.html)
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(cli.main([str(bad), "--out", str(self.dir / "x.html")]), 2)
        self.assertFalse((self.dir / "x.html").exists())


class Watch(ReportCase):
    def test_refreshes_while_running_and_stops_when_finished(self):
        p = write_run(self.dir / "a.h5", status="running", n=20)
        out = self.dir / "live.html"
        logs = []
        self.assertEqual(cli.watch([str(self.dir)], str(out), 0.05, max_rounds=2, log=logs.append), 0)
        html = out.read_text()
        self.assertIn("http-equiv='refresh' content='1'", html)
        self.assertIn("Live: regenerated", html)
        self.assertEqual(len(logs), 2)
        write_run(p, status="complete", n=40)
        self.assertEqual(cli.watch([str(self.dir)], str(out), 0.05, log=logs.append), 0)
        html = out.read_text()
        self.assertNotIn("http-equiv='refresh'", html)
        self.assertIn("every run finished", logs[-1])
        self.assertEqual(len(figures_of(html)["training-loss"]["data"][0]["x"]), 40)

    def test_unreadable_file_while_watching_is_reported_and_retried(self):
        write_run(self.dir / "a.h5")
        (self.dir / "b.h5").write_bytes(b"\x89HDF\r\n\x1a\n truncated")
        logs = []
        cli.watch([str(self.dir)], str(self.dir / "r.html"), 0.05, max_rounds=1, log=logs.append)
        self.assertTrue(any("cannot read" in m and "b.h5" in m for m in logs), logs)


class Package(unittest.TestCase):
    def test_import_has_no_side_effects(self):
        code = ("import os, sys; sys.path.insert(0, %r); import plots; e = dict(os.environ); "
                "import plots.report, plots.report.cli; assert dict(os.environ) == e; "
                "print('ok')" % str(REPO))
        p = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, cwd="/")
        self.assertEqual(p.stdout, "ok\n", p.stderr)

    def test_module_help(self):
        p = subprocess.run([PYTHON, "-m", "plots.report", "--help"], capture_output=True,
                           text=True, cwd=REPO)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("--watch SECONDS", p.stdout)

    def test_page_escapes_script_end_in_data(self):
        fig = figures.Figure("x", "t", [{"type": "scatter", "name": "</script><b>", "x": [1], "y": [1]}], {})
        self.assertNotIn("</script>", fig.plotly_json())
        self.assertIn("<b>", json.loads(fig.plotly_json().replace("<\\/", "</"))["data"][0]["name"])
        self.assertIn("plotly.js", page.plotly_js()[:200])


if __name__ == "__main__":
    unittest.main()
