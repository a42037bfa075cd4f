"""Tests of the plots package (plots/).

Run from the repository root with Debian's Python:

    /usr/bin/python3 -m unittest discover -s tests/plots        (or: /usr/bin/python3 tests/plots/test_plots.py)

Real run files come from the bnlandscape binary (environment variable BNL_BINARY, default
build/bnlandscape; the binary tests are skipped with a message when it is missing or cannot
read Fashion-MNIST): BN and no BN, two seeds, with landscape probes on seed 0, for a tiny MLP,
and BN / no BN for a tiny CNN. Other files are written by hand with h5py (known values for the
seed averages, the normalisation variants, a CNN with the /activations and /ics groups).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import h5py  # noqa: E402

import plots  # noqa: E402,F401
from plots import activations, grouping, ics, landscape, make_all, runs, spectrum, style, surface, training, variants  # noqa: E402

BINARY = os.environ.get("BNL_BINARY", str(REPO / "build" / "bnlandscape"))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------------------
# Hand-made run files (schema: docs/hdf5_schema.md)


def toml_dump(cfg: dict) -> str:
    lines = []
    for k, v in cfg.items():
        if isinstance(v, bool):
            lines.append(f"{k} = {'true' if v else 'false'}")
        elif isinstance(v, (int, float)):
            lines.append(f"{k} = {v!r}")
        else:
            lines.append(f'{k} = "{v}"')
    return "\n".join(lines) + "\n"


def base_config(**kw) -> dict:
    cfg = {"dataset": "fashion-mnist", "arch": "mlp", "hidden_dims": "8", "bn": "custom",
           "bn_backward": "exact", "bn_noise": False, "optimizer": "sgd", "lr": 0.1, "batch_size": 4, "epochs": 2,
           "seed": 0, "out": "x.h5", "threads": 0}
    cfg.update(kw)
    return cfg


def _series(g, name, data, units="1"):
    ds = g.create_dataset(name, data=np.asarray(data))
    ds.attrs["units"] = units
    ds.attrs["description"] = name
    return ds


def write_fake_run(path, config: dict, loss=None, nsteps=None, layers=("net.0", "net.2"),
                   evals=True, status="complete"):
    """A run file with /train/steps, /train/epochs (2 epochs) and /train/evals."""
    if loss is None:
        n = nsteps or 8
        rng = np.random.default_rng(config.get("seed", 0))
        loss = 2.3 * np.exp(-np.arange(n) / n) + 0.05 * rng.standard_normal(n)
    loss = np.asarray(loss, float)
    n = len(loss)
    steps = np.arange(n, dtype=np.int64)
    half = max(1, n // 2)
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "bnlandscape"
        f.attrs["schema_version"] = np.int64(1)
        f.attrs["status"] = status
        f.attrs["diverged_at_step"] = np.int64(-1)
        f.attrs["config_toml"] = toml_dump(config)
        f.attrs["seed"] = np.int64(config.get("seed", 0))
        s = f.create_group("train/steps")
        _series(s, "step", steps)
        _series(s, "epoch", steps // half)
        _series(s, "loss", loss, "nats")
        _series(s, "acc", np.clip(1.0 - loss / 3.0, 0, 1))
        _series(s, "grad_norm", 1.0 + loss)
        _series(s, "lr", np.full(n, float(config.get("lr", 0.1))))
        _series(s, "wall_time", steps * 0.01, "s")
        lg = _series(s, "layer_grad_norm", np.outer(1.0 + loss, np.arange(1, len(layers) + 1)))
        lg.attrs["layers"] = np.array(list(layers), dtype=h5py.string_dtype())
        lg.attrs["dims"] = "step,layer"
        e = f.create_group("train/epochs")
        ends = np.array([half, n], dtype=np.int64)
        _series(e, "epoch", np.arange(2, dtype=np.int64))
        _series(e, "step", ends)
        _series(e, "train_loss", [loss[:half].mean(), loss[half:].mean()], "nats")
        _series(e, "train_acc", [0.5, 0.6])
        _series(e, "test_loss", [loss[half - 1], loss[-1]], "nats")
        _series(e, "test_acc", [0.55, 0.65])
        _series(e, "grad_norm_mean", [1.0, 1.1])
        _series(e, "wall_time", [0.1, 0.1], "s")
        if evals:
            v = f.create_group("train/evals")
            _series(v, "step", np.array([0, half, n], dtype=np.int64))
            _series(v, "test_loss", [2.3, loss[half - 1], loss[-1]], "nats")
            _series(v, "test_acc", [0.1, 0.55, 0.65])


# Hand-made /activations and /ics groups following the schema of the brief (issue 5). The
# binary writes these groups itself once it has --activations-every / --ics-every; the binary
# tests below use its output whenever `train --help` lists those options, and fall back to
# these fixtures otherwise (or when the environment variable BNL_PLOTS_FIXTURES is set, to
# test this path). TO BE REPLACED by binary output once every build has the options.
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def add_activation_fixture(path, layers, bn: bool, steps=(0, 3, 6, 9), bins=40, seed=0):
    rng = np.random.default_rng(seed)
    edges = np.linspace(-4.0, 4.0, bins + 1)
    sites = ("pre_norm", "post_norm", "post_relu") if bn else ("pre_norm", "post_relu")
    with h5py.File(path, "a") as f:
        a = f.require_group("activations")
        a.create_dataset("batch_indices", data=np.arange(32, dtype=np.int64))
        for li, layer in enumerate(layers):
            for site in sites:
                g = a.create_group(f"{layer}/{site}")
                g.attrs["module"] = layer
                rows = {k: [] for k in ("hist", "underflow", "overflow", "mean", "std",
                                        "quantiles", "zero_fraction")}
                for i, _ in enumerate(steps):
                    sd = 1.0 if site == "post_norm" else 0.5 + 0.3 * i + 0.1 * li
                    v = rng.normal(0.2 * i if site != "post_norm" else 0.0, sd, 2000)
                    if site == "post_relu":
                        v = np.maximum(v, 0.0)
                    h, _ = np.histogram(v, edges)
                    rows["hist"].append(h.astype(float))
                    rows["underflow"].append(float((v < edges[0]).sum()))
                    rows["overflow"].append(float((v > edges[-1]).sum()))
                    rows["mean"].append(v.mean())
                    rows["std"].append(v.std())
                    rows["quantiles"].append(np.quantile(v, QUANTILES))
                    rows["zero_fraction"].append(float((v == 0).mean()))
                _series(g, "step", np.asarray(steps, dtype=np.int64))
                _series(g, "bin_edges", edges, "activation")
                for k, val in rows.items():
                    _series(g, k, np.asarray(val), "activation")


def add_ics_fixture(path, layers, steps=(0, 3, 6, 9), seed=0):
    rng = np.random.default_rng(seed)
    n, L = len(steps), len(layers)
    with h5py.File(path, "a") as f:
        g = f.create_group("ics")
        g.attrs["layers"] = np.array(list(layers), dtype=h5py.string_dtype())
        _series(g, "step", np.asarray(steps, dtype=np.int64))
        _series(g, "l2", rng.uniform(0.1, 1.0, (n, L)))
        _series(g, "cos", rng.uniform(0.5, 1.0, (n, L)))


def png_ok(path) -> bool:
    p = Path(path)
    return p.is_file() and p.stat().st_size > 1000 and p.read_bytes()[:8] == PNG_MAGIC


def collect(fn, *args, **kw):
    """Calls fn with a notice collector; returns (result, notices)."""
    notes = []
    res = fn(*args, notice=notes.append, **kw)
    return res, notes


# ------------------------------------------------------------------------------------------
# Binary runs


def binary_problem() -> str | None:
    if not os.path.isfile(BINARY):
        return f"bnlandscape binary not found at {BINARY} (set BNL_BINARY or build it)"
    if not os.access(BINARY, os.X_OK):
        return f"{BINARY} is not executable"
    return None


class BinaryRuns(unittest.TestCase):
    """Figures from real run files of the binary."""

    tmp: str
    files: dict
    result: make_all.Result
    notes: list

    @classmethod
    def setUpClass(cls):
        why = binary_problem()
        if why:
            raise unittest.SkipTest(why)
        cls.tmp = tempfile.mkdtemp(prefix="bnl_plots_test_")
        helptext = subprocess.run([BINARY, "train", "--help"], capture_output=True, text=True).stdout
        cls.binary_activations = ("--activations-every" in helptext and "--ics-every" in helptext
                                  and not os.environ.get("BNL_PLOTS_FIXTURES"))
        mlp = ["--dataset", "fashion-mnist", "--arch", "mlp", "--hidden-dims", "32,16",
               "--epochs", "2", "--train-subset", "512", "--test-subset", "200",
               "--eval-every", "3", "--quiet", "--threads", "1"]
        cnn = ["--dataset", "fashion-mnist", "--arch", "cnn", "--conv-channels", "4,8",
               "--hidden-dims", "16", "--bn-placement", "all", "--epochs", "1",
               "--train-subset", "256", "--test-subset", "100", "--quiet", "--threads", "1"]
        probe = ["--step-interval", "3", "--top-k", "2", "--trace-samples", "1",
                 "--density-runs", "2", "--density-steps", "8", "--layer-top-k", "1"]
        if cls.binary_activations:
            mlp += ["--activations-every", "2", "--ics-every", "2"]
            cnn += ["--activations-every", "1", "--ics-every", "1"]
        jobs = {
            "mlp_bn_s0": ["probe", *mlp, *probe, "--bn", "custom", "--seed", "0"],
            "mlp_nobn_s0": ["probe", *mlp, *probe, "--bn", "none", "--seed", "0"],
            "mlp_bn_s1": ["train", *mlp, "--bn", "custom", "--seed", "1"],
            "mlp_nobn_s1": ["train", *mlp, "--bn", "none", "--seed", "1"],
            "cnn_bn_s0": ["train", *cnn, "--bn", "custom", "--seed", "0"],
            "cnn_nobn_s0": ["train", *cnn, "--bn", "none", "--seed", "0"],
        }
        cls.files = {k: os.path.join(cls.tmp, f"{k}.h5") for k in jobs}
        t0 = time.time()
        procs = {}
        names = list(jobs)
        # Two at a time: the build machines have two shared cores.
        for i in range(0, len(names), 2):
            for k in names[i:i + 2]:
                procs[k] = subprocess.Popen([BINARY, *jobs[k], "--out", cls.files[k]],
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                            text=True)
            for k in names[i:i + 2]:
                out, _ = procs[k].communicate(timeout=300)
                if procs[k].returncode != 0:
                    shutil.rmtree(cls.tmp, ignore_errors=True)
                    raise unittest.SkipTest(f"bnlandscape {jobs[k][0]} failed (exit "
                                            f"{procs[k].returncode}): {out.strip()[-300:]}")
        cls.binary_seconds = time.time() - t0
        if not cls.binary_activations:
            for k, p in cls.files.items():
                bn = "_bn_" in k
                seed = int(k[-1])
                if k.startswith("mlp"):
                    layers, ics_layers = (["net.0", "net.3"] if bn else ["net.0", "net.2"],
                                          ["net.0", "net.3", "net.6"] if bn else ["net.0", "net.2", "net.4"])
                else:
                    layers = ["conv.0", "conv.4", "mlp.0"] if bn else ["conv.0", "conv.3", "mlp.0"]
                    ics_layers = layers + (["mlp.3"] if bn else ["mlp.2"])
                add_activation_fixture(p, layers, bn, seed=seed)
                add_ics_fixture(p, ics_layers, seed=seed)
        # A copy of a training run without /activations and /ics (a file missing groups).
        cls.bare = os.path.join(cls.tmp, "mlp_bn_s1_bare.h5")
        shutil.copy(cls.files["mlp_bn_s1"], cls.bare)
        with h5py.File(cls.bare, "a") as f:
            for g in ("activations", "ics"):
                if g in f:
                    del f[g]
        cls.out = os.path.join(cls.tmp, "figures")
        cls.result, cls.notes = collect(make_all.make_all, list(cls.files.values()), cls.out,
                                        strict=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(getattr(cls, "tmp", ""), ignore_errors=True)

    def mlp_set(self, probe=False):
        rs = runs.load_runs([self.files[k] for k in self.files if k.startswith("mlp")])
        if probe:
            rs = [r for r in rs if r.has("probes")]
        sets = grouping.organise(rs, probe=probe, notice=lambda m: None)
        self.assertEqual(len(sets), 1)
        return sets[0]

    def test_make_all_writes_the_expected_files(self):
        names = []
        for slug in ("fashion-mnist_mlp", "fashion-mnist_cnn"):
            names += [f"{n}_{slug}" for n, _ in training.FIGURES]
            names += [f"activations_ridge_{k}_{slug}" for k in ("nobn", "prebn", "postbn")]
            names += [f"activations_stats_{slug}", f"ics_{slug}"]
        names += ["landscape_fashion-mnist_mlp"]
        names += [f"{n}_fashion-mnist_mlp" for n, _ in spectrum.FIGURES]
        names += ["curvature_grad_share_fashion-mnist_mlp"]  # --top-k > 0: grad_topk_share
        expected = {f"{n}.{ext}" for n in names for ext in ("png", "svg")}
        self.assertEqual(set(os.listdir(self.out)), expected)
        self.assertEqual(self.result.failed, 0)
        for p in self.result.written:
            self.assertGreater(os.path.getsize(p), 1000, p)
            if p.endswith(".png"):
                self.assertTrue(png_ok(p), p)
            else:
                self.assertIn(b"<svg", Path(p).read_bytes()[:2000], p)

    def test_make_all_notices(self):
        # CNN runs have no probes: one line per file and family; no variants at all.
        for fam in ("landscape", "spectrum"):
            for k in ("cnn_bn_s0", "cnn_nobn_s0", "mlp_bn_s1", "mlp_nobn_s1"):
                self.assertIn(f"skip {fam} for {self.files[k]}: no /probes/step", self.notes)
        self.assertIn("skip variants: no run with bn = lp1|lp2|lpinf or bn_noise = true",
                      self.notes)
        self.assertFalse([n for n in self.notes if n.startswith("error")], self.notes)
        self.assertEqual(len(self.notes), len(set(self.notes)))

    def test_every_plot_function_writes_a_png(self):
        # make_all (setUpClass) drew every figure function; variants.figure2 is drawn in
        # HandMade.test_variants_figure.
        cs = self.mlp_set()
        drawn = {}
        for name, fn in training.FIGURES + spectrum.FIGURES:
            drawn[fn] = f"{name}_fashion-mnist_mlp"
        drawn[landscape.figure4] = "landscape_fashion-mnist_mlp"
        drawn[activations.ridge_figure] = "activations_ridge_prebn_fashion-mnist_mlp"
        drawn[activations.stats] = "activations_stats_fashion-mnist_mlp"
        drawn[ics.figure3] = "ics_fashion-mnist_mlp"
        self.assertEqual(len(drawn), 6 + 5 + 4)
        for fn, name in drawn.items():
            self.assertTrue(png_ok(os.path.join(self.out, f"{name}.png")), fn.__name__)
        self.assertEqual([k for k, _, _ in activations.ridge_kinds(cs)],
                         ["nobn", "prebn", "postbn"])
        # The functions are usable directly too.
        fig = training.grad_norm(cs)
        (p,) = style.save(fig, os.path.join(self.tmp, "direct"), "g", formats=("png",))
        self.assertTrue(png_ok(p))

    def test_density_and_layer_figures_from_the_binarys_files(self):
        ps = self.mlp_set(probe=True)
        r = next(r for r in ps.runs if r.config["bn"] == "custom")
        nodes, weights = r.get("density/nodes"), r.get("density/weights")
        self.assertEqual(nodes.shape, (len(r.get("probes/step")), 2 * 8))
        np.testing.assert_allclose(weights.reshape(-1, 2, 8).sum(axis=2), 1.0, atol=1e-9)
        # The smoothed density of every probe integrates to 1.
        lo, hi = np.nanmin(nodes), np.nanmax(nodes)
        grid = np.linspace(lo - 1, hi + 1, 20001)
        phi = spectrum.smoothed_density(nodes[-1], weights[-1], grid, 0.02 * (hi - lo))
        self.assertAlmostEqual(float(np.trapz(phi, grid)), 1.0, places=3)
        fig = spectrum.density(ps)
        gids = {l.get_gid() for ax in fig.axes for l in ax.get_lines()}
        for g in ps.groups:
            self.assertIn(f"density:{g.legend}:{int(r.get('density/step')[-1])}", gids)
        self.assertTrue(all(ax.get_yscale() == "log" for ax in fig.axes if ax.get_lines()))
        style.close(fig)
        # Per-layer panels line up the BN and no-BN models by role: 3 Linear layers, 2 BN.
        fig = spectrum.layer_lambda_max(ps)
        titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
        self.assertEqual(titles, ["layer 1: net.0", "layer 2: net.2, net.3", "layer 3: net.4, net.6",
                                  "norm 1: net.1", "norm 2: net.4"])
        style.close(fig)

    def test_seed_groups_and_labels(self):
        cs = self.mlp_set()
        self.assertEqual([g.label for g in cs.groups], ["no BN", "BN"])
        self.assertEqual([g.seeds for g in cs.groups], [[0, 1], [0, 1]])
        # The band of the loss figure is the mean +- sd of the two seeds' losses.
        g = cs.groups[1]
        a, b = (r.get("train/steps/loss") for r in g.runs)
        s = g.series(training.step_series("loss"))
        np.testing.assert_allclose(s.mean, (a + b) / 2)
        np.testing.assert_allclose(s.std, np.abs(a - b) / np.sqrt(2))
        # Probe figures group with the probe settings: one seed each.
        ps = self.mlp_set(probe=True)
        self.assertEqual([g.seeds for g in ps.groups], [[0], [0]])

    def test_layer_kinds_from_checkpoint(self):
        r = runs.Run(self.files["mlp_bn_s0"])
        names = list(r.attr("train/steps/layer_grad_norm", "layers"))
        kinds = r.layer_kinds(names)
        self.assertEqual([n for n in names if kinds[n] == "norm"], ["net.1", "net.4"])

    def test_missing_groups_give_notices_not_errors(self):
        out = os.path.join(self.tmp, "bare")
        # (The training figures of such files are drawn in setUpClass: the CNN runs lack
        # /probes.)
        families = ("landscape", "spectrum", "activations", "ics", "variants")
        res, notes = collect(make_all.make_all, [self.bare], out, strict=True,
                             families=families, formats=("png",))
        self.assertEqual((res.failed, res.written), (0, []))
        for fam in ("landscape", "spectrum", "activations", "ics"):
            self.assertTrue(any(n.startswith(f"skip {fam}: no run file has /") for n in notes),
                            (fam, notes))

    def test_command_line(self):
        out = os.path.join(self.tmp, "cli")
        p = subprocess.run([PYTHON, "plots/make_all.py", self.files["mlp_bn_s0"],
                            os.path.join(self.tmp, "no_such_file.h5"), "--out", out,
                            "--families", "landscape,ics", "--formats", "png"],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("skip file", p.stdout)
        self.assertEqual(sorted(os.listdir(out)),
                         ["ics_fashion-mnist_mlp.png", "landscape_fashion-mnist_mlp.png"])
        p = subprocess.run([PYTHON, "-m", "plots.spectrum", self.files["mlp_nobn_s1"],
                            "--out", out], cwd=REPO, capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)  # nothing to draw
        self.assertIn("skip spectrum: no run file has /probes/step", p.stdout)

    def test_surface_from_binary(self):
        with h5py.File(self.files["mlp_bn_s1"], "r") as f:
            last = sorted(f["checkpoints"], key=lambda n: int(n.split("_")[-1]))[-1]
        common = [BINARY, "surface", "--checkpoint", self.files["mlp_bn_s1"], "--checkpoint-group",
                  f"/checkpoints/{last}", "--surface-set", "test", "--surface-size", "100",
                  "--threads", "1", "--quiet"]
        s2 = os.path.join(self.tmp, "surf2d.h5")
        s1 = os.path.join(self.tmp, "surf1d.h5")
        for extra in (["--resolution", "5", "--out", s2],
                      ["--resolution", "7", "--dims", "1", "--directions-from", s2, "--out", s1]):
            p = subprocess.run(common + extra, capture_output=True, text=True, timeout=300)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        out = os.path.join(self.tmp, "surface_figures")
        res, notes = collect(make_all.make_all, [s2, s1], out, families=("surface",),
                             formats=("png",), strict=True)
        self.assertEqual(res.failed, 0, notes)
        self.assertEqual(sorted(os.listdir(out)),
                         ["surface_slices.png", "surface_surf1d.png", "surface_surf2d.png"])
        for f in os.listdir(out):
            self.assertTrue(png_ok(os.path.join(out, f)), f)


# ------------------------------------------------------------------------------------------
# Hand-made files


class HandMade(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bnl_plots_hand_")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def test_long_figure_names_are_shortened_distinctly(self):
        # Surface files passed with probe runs once made a 300-byte name ("File name too long").
        names = ["surface_" + "lr0.1-seed%d-" % i * 20 for i in range(2)]
        paths = []
        for n in names:
            fig, _ = style.new_figure()
            paths += style.save(fig, self.tmp, n, ["png"])
        self.assertEqual(len(set(paths)), 2)
        for p in paths:
            self.assertTrue(os.path.isfile(p))
            self.assertLessEqual(len(os.path.basename(p)), 200)

    def test_seed_average_known_values(self):
        losses = {0: [1.0, 2.0, 3.0, 4.0], 1: [2.0, 3.0, 4.0, 5.0], 2: [6.0, 7.0, 8.0, 9.0]}
        files = []
        for seed, loss in losses.items():
            files.append(self.path(f"bn_s{seed}.h5"))
            write_fake_run(files[-1], base_config(seed=seed, out=f"o{seed}.h5"), loss=loss)
        for seed, loss in ((0, [1.0, 1.0, 1.0, 1.0]), (1, [3.0, 3.0, 3.0, 3.0])):
            files.append(self.path(f"nobn_s{seed}.h5"))
            write_fake_run(files[-1], base_config(bn="none", seed=seed), loss=loss)
        (cs,) = grouping.organise(runs.load_runs(files), notice=lambda m: None)
        nobn, bn = cs.groups
        self.assertEqual((nobn.label, nobn.n, bn.label, bn.n), ("no BN", 2, "BN", 3))

        s = bn.series(training.step_series("loss"))
        np.testing.assert_allclose(s.x, [0, 1, 2, 3])
        np.testing.assert_allclose(s.mean, [3.0, 4.0, 5.0, 6.0])
        np.testing.assert_allclose(s.std, np.sqrt(7.0))  # sample sd of (1, 2, 6) + k
        np.testing.assert_allclose(s.count, 3)
        s = nobn.series(training.step_series("loss"))
        np.testing.assert_allclose(s.mean, 2.0)
        np.testing.assert_allclose(s.std, np.sqrt(2.0))

        # The figure draws exactly these: mean line and mean +- sd band.
        fig = training.loss_steps(cs)
        ax = fig.axes[0]
        for g, mean, sd in ((bn, [3, 4, 5, 6], np.sqrt(7)), (nobn, [2, 2, 2, 2], np.sqrt(2))):
            line = next(a for a in ax.lines if a.get_gid() == f"mean:{g.legend}")
            np.testing.assert_allclose(line.get_ydata(), mean)
            band = next(a for a in ax.collections if a.get_gid() == f"band:{g.legend}")
            v = band.get_paths()[0].vertices
            for x, m in zip(range(4), mean):
                ys = np.unique(np.round(v[np.isclose(v[:, 0], x), 1], 9))
                np.testing.assert_allclose(ys, [m - sd, m + sd])
        style.close(fig)
        self.assertIn("mean \u00b1 sd, 3 seeds", bn.legend)

    def test_seed_average_unequal_lengths(self):
        a = grouping.aggregate([(np.array([0, 1, 2]), np.array([1.0, 2.0, 3.0])),
                            (np.array([0, 1]), np.array([3.0, 4.0]))])
        np.testing.assert_allclose(a.x, [0, 1, 2])
        np.testing.assert_allclose(a.mean, [2.0, 3.0, 3.0])
        np.testing.assert_allclose(a.std, [np.sqrt(2), np.sqrt(2), 0.0])
        np.testing.assert_allclose(a.count, [2, 2, 1])
        a = grouping.aggregate([(np.array([0, 1]), np.array([1.0, np.nan])),
                            (np.array([0, 1]), np.array([3.0, 5.0]))])
        np.testing.assert_allclose(a.mean, [2.0, 5.0])
        np.testing.assert_allclose(a.count, [2, 1])
        self.assertIsNone(grouping.aggregate([]))

    def test_grouping_slugs_and_labels(self):
        specs = {
            "a.h5": base_config(lr=0.1, seed=0, out="a.h5", eval_every=5),
            "b.h5": base_config(lr=0.1, seed=1, out="b.h5", eval_every=0),
            "c.h5": base_config(lr=0.6, seed=0),
            "d.h5": base_config(lr=0.6, bn="none"),
            "e.h5": base_config(lr=0.1, seed=0, out="e.h5"),  # repeats a.h5's seed
            "f.h5": base_config(lr=0.1, bn_backward="original"),
        }
        for name, cfg in specs.items():
            write_fake_run(self.path(name), cfg)
        notes = []
        sets = grouping.organise(runs.load_runs([self.path(n) for n in specs]), notice=notes.append)
        self.assertEqual([s.slug for s in sets],
                         ["fashion-mnist_mlp_lr0.1", "fashion-mnist_mlp_lr0.6"])
        self.assertEqual([[g.label for g in s.groups] for s in sets],
                         [["BN, bn_backward=exact", "BN, bn_backward=original"],
                          ["no BN", "BN"]])
        self.assertEqual([g.seeds for g in sets[0].groups], [[0, 1], [0]])
        self.assertEqual(len(notes), 1)
        self.assertIn("repeats seed 0", notes[0])
        self.assertEqual(len({g.color for g in sets[0].groups}), 2)

    def test_smoothed_density_known_values(self):
        # Two runs: masses 1/4 at 0 and 3/4 at 2, and 1 at 2 with a NaN node of weight 0
        # (a run stopped early): mean 1/8 at 0 and 7/8 at 2.
        nodes = [0.0, 2.0, 2.0, np.nan]
        weights = [0.25, 0.75, 1.0, 0.0]
        t = np.array([0.0, 2.0, 5.0])
        phi = spectrum.smoothed_density(nodes, weights, t, 0.5)
        pdf = lambda x, m: np.exp(-0.5 * ((x - m) / 0.5) ** 2) / (0.5 * np.sqrt(2 * np.pi))
        np.testing.assert_allclose(phi, 0.125 * pdf(t, 0.0) + 0.875 * pdf(t, 2.0), rtol=1e-12)

    def test_variant_labels(self):
        lab = grouping.variant_label
        self.assertEqual(lab({"bn": "none"}), "no BN")
        self.assertEqual(lab({"bn": "custom", "bn_noise": True}), "noisy BN")
        self.assertEqual(lab({"bn": "lp1"}), "L1 BN")
        self.assertEqual(lab({"bn": "lpinf", "bn_noise": True}), "noisy L\u221e BN")
        self.assertEqual(grouping.variant_slug({"bn": "custom", "bn_noise": True}), "bn-noise")

    def test_variants_figure(self):
        files = []
        variants_cfg = [("none", False), ("custom", False), ("custom", True), ("lp1", False),
                        ("lp2", False), ("lpinf", False)]
        for bn, noise in variants_cfg:
            for seed in (0, 1):
                files.append(self.path(f"{bn}_{int(noise)}_{seed}.h5"))
                write_fake_run(files[-1], base_config(bn=bn, bn_noise=noise, seed=seed))
        (cs,) = grouping.organise(runs.load_runs(files), notice=lambda m: None)
        self.assertEqual([g.label for g in cs.groups],
                         ["no BN", "BN", "noisy BN", "L2 BN", "L1 BN", "L\u221e BN"])
        self.assertEqual(len({(g.color, g.linestyle) for g in cs.groups}), 6)
        fig = variants.figure2(cs)
        (p,) = style.save(fig, self.path("v"), "variants", formats=("png",))
        self.assertTrue(png_ok(p))
        out = self.path("all")
        res, notes = collect(make_all.make_all, files, out, strict=True,
                             families=("variants",), formats=("png",))
        self.assertEqual(sorted(os.listdir(out)), ["variants_fashion-mnist_mlp.png"])
        # Without a variant the figure is skipped with a notice.
        res, notes = collect(make_all.make_all, files[:4], out, strict=True,
                             families=("variants",), formats=("png",))
        self.assertEqual(res.written, [])
        self.assertEqual(notes, ["skip variants: no run with bn = lp1|lp2|lpinf or bn_noise = true"])

    def test_activation_and_ics_fixtures_cnn(self):
        # Hand-made /activations and /ics (see the fixture note above), for a CNN with noisy BN.
        files = []
        for bn, noise in (("none", False), ("custom", False), ("custom", True)):
            p = self.path(f"cnn_{bn}_{int(noise)}.h5")
            cfg = base_config(arch="cnn", bn=bn, bn_noise=noise)
            lyr = ["conv.0", "mlp.0"]
            write_fake_run(p, cfg, layers=lyr)
            add_activation_fixture(p, lyr, bn != "none", steps=(0, 4, 8))
            add_ics_fixture(p, lyr + ["mlp.3"], steps=(0, 4, 8))
            files.append(p)
        out = self.path("fig")
        res, notes = collect(make_all.make_all, files, out, strict=True,
                             families=("activations", "ics"), formats=("png",))
        self.assertEqual(res.failed, 0)
        self.assertEqual(sorted(os.listdir(out)), sorted(
            f"{n}_fashion-mnist_cnn.png" for n in
            ["activations_ridge_nobn", "activations_ridge_prebn", "activations_ridge_postbn",
             "activations_ridge_prebn-noise", "activations_ridge_postbn-noise",
             "activations_stats", "ics"]))
        for f in os.listdir(out):
            self.assertTrue(png_ok(os.path.join(out, f)), f)

    def test_ridgeline_normalisation(self):
        p = self.path("r.h5")
        write_fake_run(p, base_config(bn="none"))
        add_activation_fixture(p, ["net.0"], bn=False, steps=(0, 5))
        r = runs.Run(p)
        fig, axes = style.new_figure()
        self.assertEqual(activations.ridgeline_panel(axes[0, 0], r, "net.0", "pre_norm"), 2)
        # Two filled curves; the taller rises 1.6 above its baseline.
        polys = axes[0, 0].collections
        self.assertEqual(len(polys), 2)
        tops = [p.get_paths()[0].vertices[:, 1].max() - base for p, base in zip(polys, (1, 0))]
        self.assertAlmostEqual(max(tops), 1.6)
        style.close(fig)

    def write_surface(self, name, dims, nan_rows=0, bn="custom"):
        """A surface file as `bnlandscape surface` writes it: L = 0.2 + a^2 + 3 b^2."""
        p = self.path(name)
        a = np.linspace(-1, 1, 9)
        b = np.linspace(-1, 1, 7)
        with h5py.File(p, "w") as f:
            f.attrs["format"] = "bnlandscape"
            f.attrs["config_toml"] = toml_dump({"dataset": "fashion-mnist", "arch": "mlp", "bn": bn,
                                                "directions": "filter-random", "out": name})
            f.attrs["status"] = "complete"
            g = f.create_group("surface")
            g["alpha"] = a
            if dims == 2:
                g["beta"] = b
                loss = 0.2 + a[:, None] ** 2 + 3 * b[None, :] ** 2
            else:
                loss = 0.2 + a ** 2
            acc = 1.0 - loss / loss.max()
            if nan_rows:
                loss[-nan_rows:] = np.nan
                acc[-nan_rows:] = np.nan
            g["loss"], g["acc"] = loss, acc
            g["direction_norms"] = np.ones(dims)
            g.attrs.update({"directions": "filter-random", "probe_bn_mode": "train", "surface_set": "train",
                            "surface_size": np.int64(100), "dims": np.int64(dims), "directions_from": ""})
        return p

    def test_surface_figures(self):
        files = [self.write_surface("s2.h5", 2, nan_rows=2), self.write_surface("s1.h5", 1, bn="none")]
        out = self.path("o")
        res, notes = collect(make_all.make_all, files, out, families=("surface",), formats=("png",),
                             strict=True)
        self.assertEqual(res.failed, 0, notes)
        self.assertEqual(sorted(os.listdir(out)), ["surface_s1.png", "surface_s2.png", "surface_slices.png"])
        for f in os.listdir(out):
            self.assertTrue(png_ok(os.path.join(out, f)), f)
        r2 = runs.Run(files[0])
        fig = surface.surface_figure(r2)
        self.assertEqual(len(fig.axes), 5)  # three panels and two colour bars
        # (b): the alpha slice at beta = 0 is 0.2 + a^2 (NaN where not computed).
        slice_a = fig.axes[1].lines[0].get_ydata()
        np.testing.assert_allclose(slice_a[:7], 0.2 + np.linspace(-1, 1, 9)[:7] ** 2)
        self.assertTrue(np.isnan(slice_a[-1]))
        style.close(fig)
        fig = surface.slices_figure([runs.Run(p) for p in files])
        self.assertEqual(sorted(l.get_gid() for l in fig.axes[0].lines if l.get_gid()),
                         ["slice:s1", "slice:s2"])
        style.close(fig)
        # Nothing computed yet: a notice, not an error.
        empty = self.write_surface("s0.h5", 2, nan_rows=9)
        res, notes = collect(make_all.make_all, [empty], self.path("o2"), families=("surface",),
                             formats=("png",))
        self.assertEqual((res.failed, res.written), (0, []))
        self.assertTrue(any(n.startswith("skip surface_s0: ") for n in notes), notes)
        # A training run has no surface: one notice.
        run = self.path("t.h5")
        write_fake_run(run, base_config())
        res, notes = collect(make_all.make_all, [run], self.path("o3"), families=("surface",))
        self.assertIn("skip surface: no run file has /surface/loss", notes)

    def test_python_m_plots(self):
        # The package's own entry point: the same command line as plots/make_all.py.
        run = self.path("t.h5")
        write_fake_run(run, base_config())
        out = self.path("m")
        p = subprocess.run([PYTHON, "-m", "plots", run, "--out", out, "--families", "training",
                            "--formats", "png", "--quiet"], cwd=REPO, capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(sorted(os.listdir(out)),
                         sorted(f"{n}_fashion-mnist_mlp.png" for n, _ in training.FIGURES))
        self.assertIn(f"6 figures written to {out}", p.stdout)
        p = subprocess.run([PYTHON, "-m", "plots", "--help"], cwd=REPO, capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.startswith("usage: python3 -m plots "), p.stdout)

    def test_not_a_run_file(self):
        p = self.path("plain.h5")
        with h5py.File(p, "w") as f:
            f["x"] = 1
        res, notes = collect(make_all.make_all, [p, self.path("missing.h5")], self.path("o"))
        self.assertEqual(res.runs, 0)
        self.assertTrue(notes[0].startswith(f"skip file {p}: no root attribute config_toml"))
        self.assertTrue(notes[1].startswith("skip file"))


if __name__ == "__main__":
    unittest.main()
