"""Figures of offline probes and mixed sets (issue 28, item 12), from small hand-made run files
(schema: docs/hdf5_schema.md): offline probes of BN (step 100) and no BN (step 50) share the
density and per-layer panels; legends carry the grouping key and the seed, not checkpoint paths;
the landscape band says what it is; file names stay within 80 characters when surface, probe and
train files are mixed; a figure that cannot be drawn is one line, and the others are written.

    /usr/bin/python3 -m unittest tests/plots/test_figures_readable.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import h5py  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")

from plots import grouping, landscape, make_all, runs, spectrum, style  # noqa: E402
from test_plots import base_config, collect, png_ok, toml_dump, write_fake_run  # noqa: E402

PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
CKPT_DIR = "/very/long/path/to/the/runs/of/an/experiment/with/a/descriptive/name"


def write_probe(path, bn: str, seed: int, steps, ckpt_step=None, blocks=None):
    """A probe file: /probes (step, loss_path, grad_pred, beta_smoothness, layer_eigvals) and
    /density. With ckpt_step an offline probe of checkpoint step_<ckpt_step> of a run in
    CKPT_DIR (root attribute checkpoint_file, config keys checkpoint and checkpoint_group)."""
    cfg = base_config(bn=bn, seed=seed, step_interval=50, top_k=1, density_runs=1, density_steps=4)
    if ckpt_step is not None:
        cfg.update(checkpoint=f"{CKPT_DIR}/fashion_mlp_{bn}_seed{seed}_lr0.1_epochs3.h5",
                   checkpoint_group=f"/checkpoints/step_{ckpt_step:07d}", probe_batch="fixed")
    if blocks is None:
        blocks = [("net.0", "linear"), ("net.1", "norm"), ("net.3", "linear")] if bn != "none" else \
                 [("net.0", "linear"), ("net.2", "linear")]
    steps = np.asarray(steps, np.int64)
    n = len(steps)
    rng = np.random.default_rng(seed + (7 if bn == "none" else 0))
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "bnlandscape"
        f.attrs["status"] = "complete"
        f.attrs["config_toml"] = toml_dump(cfg)
        f.attrs["seed"] = np.int64(seed)
        if ckpt_step is not None:
            f.attrs["checkpoint_file"] = cfg["checkpoint"]
            f.attrs["checkpoint_group"] = cfg["checkpoint_group"]
        p = f.create_group("probes")
        p["step"] = steps
        p["step_sizes"] = np.linspace(0.05, 0.4, 5)
        p["loss_path"] = 1.0 + rng.random((n, 5))
        p["grad_pred"] = 1.0 + rng.random((n, 5))
        p["beta_smoothness"] = 10 + rng.random(n)
        p["eigvals"] = 15 + rng.random((n, 1))
        le = p.create_dataset("layer_eigvals", data=1 + rng.random((n, len(blocks), 1)))
        le.attrs["blocks"] = np.array([b for b, _ in blocks], dtype=h5py.string_dtype())
        le.attrs["block_kinds"] = np.array([k for _, k in blocks], dtype=h5py.string_dtype())
        d = f.create_group("density")
        d["step"] = steps
        d["nodes"] = np.sort(rng.normal(5, 2, (n, 4)), axis=1)
        d["weights"] = np.full((n, 4), 0.25)
    return path


def write_surface(path, bn: str):
    cfg = base_config(bn=bn, checkpoint=f"{CKPT_DIR}/fashion_mlp_{bn}_seed0.h5",
                      checkpoint_group="/checkpoints/step_0000469", resolution=5, dims=2,
                      directions="filter-random", surface_set="train", surface_size=100,
                      include_bn_bias=False, directions_from="")
    a = np.linspace(-1, 1, 5)
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "bnlandscape"
        f.attrs["status"] = "complete"
        f.attrs["config_toml"] = toml_dump(cfg)
        f.attrs["checkpoint_file"] = cfg["checkpoint"]
        g = f.create_group("surface")
        g["alpha"], g["beta"] = a, a
        g["loss"] = 0.2 + a[:, None] ** 2 + a[None, :] ** 2
        g["acc"] = 1 - g["loss"][()] / 3
        g["direction_norms"] = np.ones(2)
        g.attrs.update({"directions": "filter-random", "probe_bn_mode": "train", "surface_set": "train",
                        "surface_size": np.int64(100), "dims": np.int64(2), "directions_from": ""})
    return path


def legend_texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


class FiguresReadable(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bnl_plots_readable_")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def offline_set(self, seeds=(0,)):
        files = [write_probe(self.path(f"off_nobn_{s}.h5"), "none", s, [50], ckpt_step=50) for s in seeds]
        files += [write_probe(self.path(f"off_bn_{s}.h5"), "custom", s, [100], ckpt_step=100) for s in seeds]
        rs = [runs.Run(p) for p in files]
        sets = grouping.organise(rs, probe=True)
        self.assertEqual(len(sets), 1, [s.slug for s in sets])
        return sets[0]

    def test_offline_density_overlays_bn_and_no_bn_in_one_panel(self):
        cset = self.offline_set()
        fig = spectrum.density(cset)
        drawn = [ax for ax in fig.axes if ax.get_lines()]
        self.assertEqual(len(drawn), 1)  # before: one panel for step 50, one for step 100
        gids = sorted(line.get_gid() for line in drawn[0].get_lines())
        self.assertEqual(gids, ["density:BN, step 100 (seed 0):100", "density:no BN, step 50 (seed 0):50"])
        style.close(fig)

    def test_offline_layers_in_one_panel_by_role(self):
        cset = self.offline_set()
        fig = spectrum.layer_lambda_max(cset)
        visible = [ax for ax in fig.axes if ax.get_visible()]
        self.assertEqual(len(visible), 1)  # before: one panel per block, one dot in each
        ax = visible[0]
        self.assertEqual([t.get_text() for t in ax.get_xticklabels()], ["layer 1", "layer 2", "norm 1"])
        lines = {line.get_gid(): line for line in ax.get_lines() if line.get_gid()}
        self.assertEqual(sorted(lines), ["layers:BN, step 100 (seed 0)", "layers:no BN, step 50 (seed 0)"])
        # Every block of each model is a marker: BN has three blocks, no BN two (NaN for norm 1).
        bn_y = lines["layers:BN, step 100 (seed 0)"].get_ydata()
        nobn_y = lines["layers:no BN, step 50 (seed 0)"].get_ydata()
        self.assertEqual(int(np.isfinite(bn_y).sum()), 3)
        self.assertEqual(int(np.isfinite(nobn_y).sum()), 2)
        with h5py.File(self.path("off_bn_0.h5"), "r") as f:
            want = f["probes/layer_eigvals"][0, :, 0]  # net.0 (layer 1), net.1 (norm 1), net.3 (layer 2)
        np.testing.assert_allclose(bn_y, [want[0], want[2], want[1]])
        style.close(fig)

    def test_online_layers_keep_one_panel_per_block(self):
        files = [write_probe(self.path("on_bn.h5"), "custom", 0, [0, 50, 100]),
                 write_probe(self.path("on_nobn.h5"), "none", 0, [0, 50, 100])]
        (cset,) = grouping.organise([runs.Run(p) for p in files], probe=True)
        fig = spectrum.layer_lambda_max(cset)
        self.assertEqual(len([ax for ax in fig.axes if ax.get_visible()]), 3)
        style.close(fig)
        fig = spectrum.density(cset)
        self.assertEqual([ax.get_title().split(" (")[0] for ax in fig.axes], ["step 0", "step 50", "step 100"])
        style.close(fig)

    def test_legends_carry_the_key_and_seed_not_paths(self):
        cset = self.offline_set(seeds=(0, 1))
        self.assertEqual(sorted(g.label for g in cset.groups), ["BN, step 100", "no BN, step 50"])
        self.assertTrue(all(g.n == 2 for g in cset.groups))  # the seeds of a checkpoint are averaged
        for fn in (spectrum.density, spectrum.layer_lambda_max, landscape.figure4):
            fig = fn(cset)
            texts = legend_texts(fig)
            self.assertTrue(texts, fn.__name__)
            for t in texts:
                self.assertNotIn("/", t, f"{fn.__name__}: {t}")
                self.assertLessEqual(len(t), 90, f"{fn.__name__}: {t}")
            style.close(fig)
        # A value too long for a legend is cut short.
        self.assertLessEqual(len(grouping.label_value("hidden_dims", "512," * 40)), len("hidden_dims=") + 24)

    def test_landscape_band_says_what_it_is(self):
        one = self.offline_set()
        fig = landscape.figure4(one)
        texts = legend_texts(fig)
        self.assertIn("BN, step 100 (seed 0; band: min..max over s); s \u2208 [0.05, 0.4], 5 sizes", texts)
        style.close(fig)
        files = [write_probe(self.path(f"on_{s}.h5"), "custom", s, [0, 50]) for s in (0, 1, 2)]
        (cset,) = grouping.organise([runs.Run(p) for p in files], probe=True)
        fig = landscape.figure4(cset)
        texts = legend_texts(fig)
        self.assertTrue(any("band: mean of minima to mean of maxima, 3 seeds" in t for t in texts), texts)
        # The bands are not seed sds: nothing in panels (a) and (b) says "sd".
        self.assertFalse(any("sd" in t for ax in fig.axes[:2] if ax.get_legend()
                             for t in (x.get_text() for x in ax.get_legend().get_texts())), texts)
        style.close(fig)

    def test_mixed_surface_probe_and_train_files_get_short_names(self):
        files = []
        for bn in ("none", "custom"):
            # Train files of two learning rates, a probe file, an offline probe and a surface.
            files.append(self.path(f"t_{bn}.h5"))
            write_fake_run(files[-1], base_config(bn=bn, lr=0.1))
            files.append(self.path(f"t6_{bn}.h5"))
            write_fake_run(files[-1], base_config(bn=bn, lr=0.6))
            files.append(write_probe(self.path(f"p_{bn}.h5"), bn, 0, [0, 50]))
            files.append(write_probe(self.path(f"o_{bn}.h5"), bn, 0, [50], ckpt_step=50))
            files.append(write_surface(self.path(f"s_{bn}.h5"), bn))
        out = self.path("figs")
        res, notes = collect(make_all.make_all, files, out, formats=("png",))
        self.assertTrue(res.written, notes)
        names = sorted(os.listdir(out))
        for n in names:
            self.assertLessEqual(len(os.path.splitext(n)[0]), style.MAX_NAME, n)
        self.assertEqual(len(names), len(set(names)))
        # The training sets are named by what differs between them (lr), not by surface keys.
        self.assertIn("training_loss_steps_fashion-mnist_mlp_lr0.1.png", names)
        self.assertIn("training_loss_steps_fashion-mnist_mlp_lr0.6.png", names)
        # An over-long name is cut to 80 characters, distinctly and stably.
        a, b = "x" * 100 + "a", "x" * 100 + "b"
        self.assertEqual(len(style.short_name(a)), 80)
        self.assertNotEqual(style.short_name(a), style.short_name(b))
        self.assertEqual(style.short_name(a), style.short_name(a))
        self.assertEqual(style.short_name("short"), "short")

    def test_a_figure_that_cannot_be_drawn_is_one_line(self):
        # A surface of one point (surface --resolution 1 before it was refused): its contour
        # cannot be drawn. The training figures of the other file are still written.
        bad = write_surface(self.path("s1.h5"), "custom")
        with h5py.File(bad, "r+") as f:
            g = f["surface"]
            for k in ("alpha", "beta", "loss", "acc"):
                del g[k]
            g["alpha"], g["beta"] = np.array([-1.0]), np.array([-1.0])
            g["loss"], g["acc"] = np.array([[0.5]]), np.array([[0.8]])
        run = self.path("t.h5")
        write_fake_run(run, base_config())
        out = self.path("figs")
        p = subprocess.run([PYTHON, "-m", "plots", bad, run, "--out", out, "--formats", "png"],
                           cwd=REPO, capture_output=True, text=True, timeout=300)
        self.assertNotIn("Traceback", p.stdout + p.stderr)
        errors = [ln for ln in (p.stdout + p.stderr).splitlines() if ln.startswith("error ")]
        problems = [ln for ln in (p.stdout + p.stderr).splitlines() if "s1" in ln and not ln.startswith("wrote")]
        self.assertTrue(problems, p.stdout + p.stderr)
        for ln in errors:
            self.assertRegex(ln, r"^error \S+: \w+(: .*)?$")
        self.assertTrue(any(n.startswith("training_loss_steps") for n in os.listdir(out)), os.listdir(out))
        # And in-process: a figure that raises is counted, noticed in one line, and the rest drawn.
        def broken():
            raise TypeError("Input z must be at least a (2, 2) shaped array\nsecond line")
        fig_ok = lambda: style.new_figure()[0]  # noqa: E731
        from plots import registry
        notes = []
        written, failed = registry.render([("broken", broken), ("fine", fig_ok)], self.path("r"),
                                          notes.append, formats=("png",))
        self.assertEqual(failed, 1)
        self.assertEqual(notes, ["error broken: TypeError: Input z must be at least a (2, 2) shaped array second line"])
        self.assertTrue(png_ok(written[0]))


if __name__ == "__main__":
    unittest.main()
