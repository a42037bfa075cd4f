"""Reading run files for the report: which files, what they hold, and how they group.

A report reads every dataset it draws once, into memory, and closes the file: the writer
replaces a run file atomically (docs/crash_safety.md), so a reader sees a whole commit or the
previous one. A file that cannot be read (not HDF5, not a bnlandscape run file, a disk error) is
reported, not fatal.

Runs are grouped as in plots/README.md: runs whose configurations are equal once the seed and
the keys that only say how a run was stored or measured are removed form a group (the seeds of
one experiment); a group's label names the keys in which the groups differ.
"""

from __future__ import annotations

import glob
import os
import tomllib
from dataclasses import dataclass, field

import numpy as np

import h5py

# Keys that say how a run was stored, measured or probed, not what was trained.
IGNORED_KEYS = frozenset({
    "seed", "out", "overwrite", "quiet", "threads", "data_dir", "flush_every", "checkpoint_every",
    "checkpoint_minutes",
    "eval_every", "dump_config", "config", "dist_timeout", "hvp_engine", "overlap", "device",
    "step_engine", "activations_every", "activation_bins", "activation_range", "ics_every",
    "ics_layers", "step_interval", "probe_batch", "probe_size", "probe_microbatch", "step_sizes",
    "top_k", "bottom_k", "tol", "ncv", "trace_samples", "save_eigenvectors", "probe_bn_mode",
    "probe_dtype", "checkpoint", "checkpoint_group", "density_runs", "density_steps",
    "layer_top_k", "resume", "curvature", "sharpness_scaling",
})
BN_NAMES = {"none": "no BN", "custom": "BN", "torch": "BN (libtorch)", "lp1": "L1 BN",
            "lp2": "L2 BN", "lpinf": "L\u221e BN"}
BN_ORDER = ("none", "custom", "torch", "lp2", "lp1", "lpinf")
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
FINAL_STATUSES = ("complete", "diverged", "interrupted", "failed")


@dataclass
class Run:
    """One readable run file: its root attributes, parsed configuration and datasets.

    ``data`` maps HDF5 paths without the leading slash (``train/steps/loss``) to numpy arrays;
    ``dattrs`` maps dataset and group paths to their attributes (strings decoded).
    """
    path: str
    name: str
    attrs: dict
    config: dict
    data: dict = field(default_factory=dict)
    dattrs: dict = field(default_factory=dict)
    group: "Group | None" = None

    @property
    def status(self) -> str:
        return str(self.attrs.get("status", "unknown"))

    @property
    def status_text(self) -> str:
        """``complete``, ``diverged at step N``, ``interrupted``, ``running``, ..."""
        if self.status == "diverged":
            return f"diverged at step {int(self.attrs.get('diverged_at_step', -1))}"
        return self.status

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str) -> np.ndarray:
        return self.data[key]

    def get_or_nan(self, key: str, n: int) -> np.ndarray:
        """The dataset, or n NaNs when the run does not have it (a CSV column left empty)."""
        return self.data[key] if key in self.data else np.full(n, np.nan)

    def attr(self, key: str, name: str, default=None):
        return self.dattrs.get(key, {}).get(name, default)

    @property
    def is_surface(self) -> bool:
        return self.has("surface/loss")

    @property
    def trained(self) -> bool:
        return self.has("train/steps/loss") or self.has("train/epochs/epoch")

    @property
    def grouped(self) -> bool:
        """A run of the groups: trained, or an offline probe of a checkpoint (/probes only)."""
        return self.trained or self.has("probes/step")

    @property
    def legend(self) -> str:
        """The run's name in legends: its group's label, seed and any unfinished status."""
        label = self.group.label if self.group else self.name
        text = f"{label}, seed {self.config.get('seed', '?')}"
        return text if self.status == "complete" else f"{text} ({self.status_text})"


@dataclass
class Group:
    """Runs of one configuration (seeds pooled), drawn in one colour."""
    key: tuple
    config: dict
    runs: list
    label: str = ""
    color: str = PALETTE[0]

    @property
    def n(self) -> int:
        return len(self.runs)


def expand_inputs(items) -> list:
    """Run files named or found (``*.h5``, not recursive, sorted) in the named directories."""
    out = []
    for item in items:
        if os.path.isdir(item):
            out.extend(sorted(glob.glob(os.path.join(item, "*.h5"))))
        else:
            out.append(item)
    seen = set()
    return [p for p in out if not (os.path.abspath(p) in seen or seen.add(os.path.abspath(p)))]


def _decode(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.dtype.kind in "OS":
        return [_decode(x) for x in v.tolist()]
    if isinstance(v, np.generic):
        return v.item()
    return v


# Datasets the report never draws (large, or of no figure): not read.
_SKIP_PREFIXES = ("checkpoints", "surface/directions", "probes/top_eigenvector")


def read_run(path: str) -> Run:
    """Reads one run file; raises OSError or ValueError when it is not a readable run file."""
    with h5py.File(path, "r") as f:
        attrs = {k: _decode(v) for k, v in f.attrs.items()}
        if attrs.get("format") != "bnlandscape":
            raise ValueError("not a bnlandscape run file (root attribute format)")
        try:
            config = tomllib.loads(attrs.get("config_toml", "") or "")
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"config_toml is not TOML: {e}") from e
        run = Run(path=path, name=os.path.basename(path), attrs=attrs, config=config)

        def visit(name, obj):
            if name.startswith(_SKIP_PREFIXES):
                return
            run.dattrs[name] = {k: _decode(v) for k, v in obj.attrs.items()}
            if isinstance(obj, h5py.Dataset):
                run.data[name] = obj[()]

        f.visititems(visit)
        if "checkpoints" in f:
            run.dattrs["checkpoints"] = {"steps": sorted(
                int(g.attrs.get("step", -1)) for g in f["checkpoints"].values()
                if isinstance(g, h5py.Group))}
    return run


def load(paths) -> tuple:
    """(runs, errors): the readable run files and ``(path, reason)`` for the others."""
    runs, errors = [], []
    for p in paths:
        try:
            runs.append(read_run(p))
        except Exception as e:  # noqa: BLE001 (any unreadable file is reported, not fatal)
            errors.append((p, f"{type(e).__name__}: {e}".splitlines()[0]))
    return runs, errors


def _key(config: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in config.items() if k not in IGNORED_KEYS))


def _bn_rank(group: Group) -> tuple:
    bn = str(group.config.get("bn", ""))
    return (BN_ORDER.index(bn) if bn in BN_ORDER else len(BN_ORDER), bool(group.config.get("bn_noise")))


def _value_text(key: str, v) -> str:
    if key == "bn":
        return BN_NAMES.get(str(v), f"bn={v}")
    if key == "bn_noise":
        return "noisy" if v else "not noisy"
    return f"{key}={v}"


def group_runs(runs) -> list:
    """Groups of the trained and probed runs (not the surface files), no BN first, labelled and
    coloured. Sets ``run.group`` on each of them.
    """
    groups: dict = {}
    for r in runs:
        if not r.grouped:
            continue
        k = _key(r.config)
        if k not in groups:
            groups[k] = Group(key=k, config=r.config, runs=[])
        groups[k].runs.append(r)
    ordered = list(groups.values())
    # Stable: the order of the files within one normalisation.
    ordered.sort(key=_bn_rank)
    keys = sorted({k for g in ordered for k in g.config if k not in IGNORED_KEYS})
    differing = [k for k in keys if len({repr(g.config.get(k)) for g in ordered}) > 1]
    if "bn" in differing:
        differing.remove("bn")
        differing.insert(0, "bn")
    for i, g in enumerate(ordered):
        parts = [_value_text(k, g.config.get(k)) for k in differing]
        g.label = ", ".join(parts) if parts else _value_text("bn", g.config.get("bn", "?"))
        g.color = PALETTE[i % len(PALETTE)]
        for r in g.runs:
            r.group = g
    return ordered


def compared_what(groups) -> str:
    """One line: what the groups compare and what they share, e.g.
    ``no BN vs BN: fashion-mnist mlp 512,256,128, sgd lr 0.1, 3 epochs``."""
    if not groups:
        return "no training runs"
    c = groups[0].config
    shared = []
    for k, fmt in (("dataset", "{}"), ("arch", "{}"), ("hidden_dims", "{}"),
                   ("optimizer", "{}"), ("lr", "lr {}"), ("batch_size", "batch {}"),
                   ("epochs", "{} epochs")):
        if k in c and all(repr(g.config.get(k)) == repr(c[k]) for g in groups):
            shared.append(fmt.format(c[k]))
    return " vs ".join(g.label for g in groups) + (": " + ", ".join(shared) if shared else "")


def _resolve(path: str, beside: str) -> str | None:
    for p in (path, os.path.join(os.path.dirname(beside), os.path.basename(path))):
        if p and os.path.isfile(p):
            return p
    return None


def read_trajectory(run: Run, max_checkpoints: int = 500):
    """The training trajectory in a 2-D surface's plane, or None.

    The checkpoints of the run file the surface was made from (root attribute
    ``checkpoint_file``; found as stored or beside the surface file) minus the surface's centre
    (``checkpoint_group``), each projected onto the directions x, y by least squares:
    (a, b) = argmin ||theta_t - theta_c - a x - b y||. Returns (steps, a, b) when that file has
    at least two checkpoints.
    """
    ck = _resolve(str(run.attrs.get("checkpoint_file", "")), run.path)
    centre = str(run.attrs.get("checkpoint_group", ""))
    if ck is None or not centre or not run.has("surface/beta"):
        return None
    with h5py.File(run.path, "r") as f:
        names = [str(n) for n in _decode(f["surface"].attrs.get("parameter_names", []))]
        if "surface/directions/y" not in f or not names:
            return None
        x = np.concatenate([f["surface/directions/x"][n][()].ravel() for n in names]).astype(float)
        y = np.concatenate([f["surface/directions/y"][n][()].ravel() for n in names]).astype(float)
    with h5py.File(ck, "r") as c:
        if "checkpoints" not in c or centre not in c:
            return None
        groups = [g for g in c["checkpoints"].values() if isinstance(g, h5py.Group)]
        if len(groups) < 2:
            return None
        groups.sort(key=lambda g: int(g.attrs.get("step", -1)))
        groups = groups[-max_checkpoints:]

        def flat(g):
            return np.concatenate([g[n][()].ravel() for n in names]).astype(float)

        theta_c = flat(c[centre])
        gram = np.array([[x @ x, x @ y], [y @ x, y @ y]])
        steps, coords = [], []
        for g in groups:
            d = flat(g) - theta_c
            coords.append(np.linalg.solve(gram, np.array([x @ d, y @ d])))
            steps.append(int(g.attrs.get("step", -1)))
    coords = np.array(coords)
    return np.array(steps), coords[:, 0], coords[:, 1]
