"""Grouping runs: seed groups, comparison sets, their labels and colours, seed averages.

Runs are organised in two levels:

- a **group** holds the runs whose configurations are equal once the seed and the keys that
  only say how a run was measured or stored (``out``, ``threads``, ``eval_every``, probe
  settings, ...) are removed: the same experiment with different seeds. Every series of a group
  is drawn as the mean over its seeds with a +-1 sd band (sample standard deviation, ddof = 1).
- a **comparison set** holds the groups that differ only in their normalisation (the keys
  ``bn`` and ``bn_*``: BN or no BN, noisy BN, lp variants, BN's backward or evaluation mode).
  One figure is drawn per comparison set with its groups overlaid; its file name ends with the
  set's slug: ``<dataset>_<arch>``, plus every other key that differs between the sets of the
  same dataset and architecture, e.g. ``fashion-mnist_mlp_lr0.6``.

Below plots.style and the figure families; above plots.runs (reading).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from plots.runs import SEED_KEY, Run, default_notice

# Keys that say how a run was stored or measured, not what was trained: never distinguish runs.
MEASUREMENT_KEYS = frozenset({
    "out", "overwrite", "quiet", "threads", "data_dir", "flush_every", "checkpoint_every",
    "checkpoint_minutes",
    "eval_every", "dump_config", "config", "dist_timeout",
    # how probes compute the same numbers (hand-written or autograd Hessian-vector products, on
    # the training thread or beside it)
    "hvp_engine", "overlap",
    # which curvature instruments a probe adds (--curvature, --sharpness-scaling): more datasets,
    # the same numbers in every dataset a run without them has
    "curvature", "sharpness_scaling",
    # activation and ICS measurements
    "activations_every", "activation_bins", "activation_range", "ics_every", "ics_layers",
})
# Keys of `bnlandscape probe`: they distinguish runs only in the probe figures.
PROBE_KEYS = frozenset({
    "step_interval", "probe_batch", "probe_size", "probe_microbatch", "step_sizes", "top_k",
    "bottom_k", "tol", "ncv", "trace_samples", "save_eigenvectors", "probe_bn_mode",
    "probe_dtype", "checkpoint", "checkpoint_group",
    "density_runs", "density_steps", "layer_top_k",
})
# The checkpoint file an offline probe or a surface measured: a path, which says nothing the
# file's inherited configuration (seed included) does not; never distinguishes runs, never in a
# label. Its group (checkpoint_group, a probe key) does, shown as "step N".
SOURCE_KEYS = frozenset({"checkpoint"})
LABEL_VALUE_CHARS = 24  # a longer value in a legend is cut to this many characters
BN_ORDER = ("none", "custom", "torch", "lp2", "lp1", "lpinf")
BN_NAMES = {
    "none": "no BN",
    "custom": "BN",
    "torch": "BN (libtorch)",
    "lp1": "L1 BN",
    "lp2": "L2 BN",
    "lpinf": "L\u221e BN",
}
BN_SLUGS = {"none": "nobn", "custom": "bn", "torch": "bntorch", "lp1": "lp1", "lp2": "lp2",
            "lpinf": "lpinf"}
DATASET_NAMES = {"fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}
ARCH_NAMES = {"mlp": "MLP", "cnn": "CNN"}


def is_variant_key(key: str) -> bool:
    """Normalisation keys: the ones overlaid within one figure."""
    return key == "bn" or key.startswith("bn_")


# --------------------------------------------------------------------------------------------
# Labels


def format_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def slug_value(key: str, v) -> str:
    """File-name friendly ``key value``: lr0.6, hidden_dims512-256-128, bn_noise."""
    if isinstance(v, bool):
        s = key if v else f"no-{key}"
    else:
        s = f"{key}{format_value(v)}"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", s).strip("-")


def label_value(key: str, v) -> str:
    """``key=value`` for a legend: a checkpoint group as ``step N``, long values cut short."""
    if key == "checkpoint_group":
        m = re.search(r"step_0*(\d+)$", str(v))
        return f"step {m.group(1)}" if m else f"checkpoint {str(v).rsplit('/', 1)[-1]}"
    text = format_value(v)
    if len(text) > LABEL_VALUE_CHARS:
        text = text[:LABEL_VALUE_CHARS - 1] + "\u2026"
    return f"{key}={text}"


def variant_label(config: dict) -> str:
    """``no BN``, ``BN``, ``noisy BN``, ``L1 BN`` ... from the keys bn and bn_noise."""
    bn = str(config.get("bn", "custom"))
    name = BN_NAMES.get(bn, f"bn={bn}")
    if config.get("bn_noise", False):
        name = "noisy " + name
    return name


def variant_slug(config: dict) -> str:
    bn = str(config.get("bn", "custom"))
    s = BN_SLUGS.get(bn, re.sub(r"[^A-Za-z0-9]+", "", bn))
    if config.get("bn_noise", False):
        s += "-noise"
    return s


def variant_order(config: dict):
    bn = str(config.get("bn", "custom"))
    rank = BN_ORDER.index(bn) if bn in BN_ORDER else len(BN_ORDER)
    return (rank, bool(config.get("bn_noise", False)), bn)


# --------------------------------------------------------------------------------------------
# Seed averages


@dataclass
class Series:
    """A series averaged over seeds: x, mean, sd (ddof = 1; 0 where one seed), seeds per x."""

    x: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    count: np.ndarray
    members: list = field(default_factory=list)  # the (x, y) of each seed

    @property
    def nruns(self) -> int:
        return len(self.members)


def aggregate(pairs: Sequence[tuple]) -> Series | None:
    """Mean and sample standard deviation over seeds of 1-D series (x, y).

    Series are aligned on x (the union of their x values, e.g. steps); a seed without a value
    at some x (a run that diverged or stopped earlier, a NaN row) is left out there, and
    ``count`` says how many seeds each point averages. The sd is 0 where one seed is left.
    """
    pairs = [(np.asarray(x).ravel(), np.asarray(y, dtype=float).ravel()) for x, y in pairs
             if x is not None and y is not None and len(x) > 0]
    if not pairs:
        return None
    if all(len(x) == len(pairs[0][0]) and np.array_equal(x, pairs[0][0]) for x, _ in pairs):
        xs = pairs[0][0]
        Y = np.vstack([y for _, y in pairs])
    else:
        xs = np.unique(np.concatenate([x for x, _ in pairs]))
        Y = np.full((len(pairs), len(xs)), np.nan)
        for i, (x, y) in enumerate(pairs):
            Y[i, np.searchsorted(xs, x)] = y
    count = np.sum(np.isfinite(Y), axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(Y, axis=0)
        std = np.where(count >= 2, np.nanstd(Y, axis=0, ddof=1) if len(pairs) >= 2 else 0.0, 0.0)
    std = np.where(np.isfinite(std), std, 0.0)
    return Series(x=xs, mean=mean, std=std, count=count, members=pairs)


# --------------------------------------------------------------------------------------------
# Groups and comparison sets


def _freeze(config: dict, drop: Callable[[str], bool]) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in config.items() if not drop(k)))


@dataclass
class Group:
    """Runs that differ only in their seed (sorted by seed)."""

    runs: list
    config: dict
    label: str = ""
    color: str = "C0"
    linestyle: str = "-"

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.runs]

    @property
    def first(self) -> Run:
        return self.runs[0]

    @property
    def legend(self) -> str:
        """Label with the number of seeds averaged."""
        if self.n > 1:
            return f"{self.label} (mean \u00b1 sd, {self.n} seeds)"
        return f"{self.label} (seed {self.runs[0].seed})"

    @property
    def is_bn(self) -> bool:
        return str(self.config.get("bn", "custom")) != "none"

    def series(self, getter: Callable[[Run], tuple | None]) -> Series | None:
        """Seed average of getter(run) -> (x, y) or None (a run without the data)."""
        pairs = []
        for r in self.runs:
            xy = getter(r)
            if xy is not None:
                pairs.append(xy)
        return aggregate(pairs)

    def with_runs(self, runs: list) -> "Group":
        return Group(runs=runs, config=self.config, label=self.label, color=self.color,
                     linestyle=self.linestyle)


@dataclass
class ComparisonSet:
    """Groups that differ only in their normalisation: one figure overlays them."""

    slug: str
    title: str
    groups: list
    config: dict  # the partition keys' values

    @property
    def runs(self) -> list:
        return [r for g in self.groups for r in g.runs]

    def restrict(self, keep: Callable[[Run], bool]) -> "ComparisonSet":
        """The same set with only the runs `keep` accepts (groups left empty are dropped)."""
        groups = []
        for g in self.groups:
            runs = [r for r in g.runs if keep(r)]
            if runs:
                groups.append(g.with_runs(runs))
        return ComparisonSet(slug=self.slug, title=self.title, groups=groups, config=self.config)


PALETTE = {
    "none": "tab:blue", "custom": "tab:red", "torch": "tab:orange", "lp1": "tab:green",
    "lp2": "tab:purple", "lpinf": "tab:brown",
}
NOISE_PALETTE = {
    "none": "tab:cyan", "custom": "tab:pink", "torch": "gold", "lp1": "tab:olive",
    "lp2": "orchid", "lpinf": "tab:gray",
}
SPARE_COLORS = ["black", "navy", "teal", "maroon", "lime", "darkkhaki", "slateblue",
                "sienna", "darkgreen", "crimson"]


def _drop_group(probe: bool) -> Callable[[str], bool]:
    def drop(k):
        return (k in MEASUREMENT_KEYS or k in SOURCE_KEYS or k == SEED_KEY
                or (not probe and k in PROBE_KEYS))
    return drop


def _drop_partition(k: str) -> bool:
    return (k in MEASUREMENT_KEYS or k in SOURCE_KEYS or k == SEED_KEY or k in PROBE_KEYS
            or is_variant_key(k))


def measurement(r: Run) -> str:
    """What a run file measured, as far as naming goes: ``training`` (train and online-probe
    files both trained), ``offline probe`` or ``surface`` (plots.runs.Run.kind)."""
    return "training" if r.kind in ("train", "online probe") else r.kind


def varying_keys(configs: Sequence[dict], keep: Callable[[str], bool]) -> list[str]:
    keys = sorted({k for c in configs for k in c if keep(k)})
    out = []
    for k in keys:
        vals = {repr(c.get(k)) for c in configs}
        if len(vals) > 1:
            out.append(k)
    return out


def organise(runs: Sequence[Run], probe: bool = False, context: Sequence[Run] | None = None,
             notice: Callable[[str], None] = default_notice) -> list[ComparisonSet]:
    """Comparison sets of seed groups.

    `probe`: the probe settings distinguish groups (for the /probes figures). `context`: the
    runs whose differences name the sets (default `runs`), so that a family drawn from a subset
    of the files uses the same file names as the others.
    """
    # Only files that measured what `runs` measured name the sets: a surface file's settings
    # say nothing of the training figures' sets (and would lengthen their names).
    kinds = {measurement(r) for r in runs}
    context = [r for r in (context if context is not None else runs) if measurement(r) in kinds]
    drop_g = _drop_group(probe)

    def cluster(cfg):
        return (repr(cfg.get("dataset")), repr(cfg.get("arch")))

    # Keys that name a set: those that differ between runs of the same dataset and arch.
    clusters: dict[tuple, list] = {}
    for r in context + list(runs):
        clusters.setdefault(cluster(r.config), []).append(r.config)
    part_keys_of = {c: varying_keys(cfgs, lambda k: not _drop_partition(k))
                    for c, cfgs in clusters.items()}

    by_group: dict[tuple, list] = {}
    for r in runs:
        by_group.setdefault(_freeze(r.config, drop_g), []).append(r)

    sets: dict[tuple, list] = {}
    for key, members in by_group.items():
        members = sorted(members, key=lambda r: (r.seed, r.path))
        kept, seen = [], {}
        for r in members:
            if r.seed in seen:
                notice(f"note: {r.path} repeats seed {r.seed} of {seen[r.seed]} with the same "
                       "configuration; using the first only")
                continue
            seen[r.seed] = r.path
            kept.append(r)
        cfg = {k: v for k, v in kept[0].config.items() if not drop_g(k)}
        g = Group(runs=kept, config=cfg)
        sets.setdefault(_freeze(cfg, _drop_partition), []).append(g)

    out = []
    for pkey, groups in sets.items():
        cfg = dict(groups[0].config)
        part_keys = part_keys_of[cluster(cfg)]
        dataset = str(cfg.get("dataset", "data"))
        arch = str(cfg.get("arch", "model"))
        slug_parts = [slug_value("", dataset) or "data", slug_value("", arch) or "model"]
        slug_parts += [slug_value(k, cfg.get(k)) for k in part_keys if k not in ("dataset", "arch")]
        title = f"{DATASET_NAMES.get(dataset, dataset)} {ARCH_NAMES.get(arch, arch)}"
        extra = []
        if "optimizer" in cfg or "lr" in cfg:
            extra.append(f"{cfg.get('optimizer', 'sgd')} lr {format_value(cfg.get('lr', '?'))}")
        extra += [f"{k} {format_value(cfg.get(k))}" for k in part_keys
                  if k not in ("dataset", "arch", "lr", "optimizer")]
        if extra:
            title += ", " + ", ".join(extra)
        _label_groups(groups)
        groups.sort(key=lambda g: (variant_order(g.config), g.label))
        partition = {k: v for k, v in cfg.items() if not _drop_partition(k)}
        out.append(ComparisonSet(slug="_".join(slug_parts), title=title, groups=groups,
                                 config=partition))
    out.sort(key=lambda s: s.slug)
    return out


def _label_groups(groups: list) -> None:
    """Labels from bn and bn_noise, plus every other key that differs within the set."""
    extra_keys = varying_keys([g.config for g in groups],
                              lambda k: k not in ("bn", "bn_noise"))
    used = set()
    for g in sorted(groups, key=lambda g: variant_order(g.config)):
        label = variant_label(g.config)
        extras = [label_value(k, g.config.get(k)) for k in extra_keys]
        if extras:
            label += ", " + ", ".join(extras)
        if any(r.status == "diverged" for r in g.runs):
            label += " [diverged]"
        g.label = label
        bn = str(g.config.get("bn", "custom"))
        noisy = bool(g.config.get("bn_noise", False))
        color = (NOISE_PALETTE if noisy else PALETTE).get(bn, SPARE_COLORS[0])
        ls = "--" if noisy else "-"
        if color in used:
            color = next((c for c in SPARE_COLORS if c not in used), color)
        used.add(color)
        g.color, g.linestyle = color, ls


# --------------------------------------------------------------------------------------------
# Small helpers for the figure families


def finite_any(a) -> bool:
    a = np.asarray(a, dtype=float)
    return a.size > 0 and bool(np.isfinite(a).any())


def select(runs: Sequence[Run], required: str, family: str,
           notice: Callable[[str], None] = default_notice) -> list[Run]:
    """The runs that have `required` (a group or dataset path); one notice per run without it,
    or a single one when no run has it."""
    have = [r for r in runs if r.has(required)]
    if not have:
        notice(f"skip {family}: no run file has /{required}")
        return []
    for r in runs:
        if not r.has(required):
            notice(f"skip {family} for {r.path}: no /{required}")
    return have


def plan_figures(runs: Sequence[Run], notice: Callable[[str], None], context: Sequence[Run] | None,
                 required: str, family: str, figures, probe: bool = False):
    """(name, render) for every figure of `figures` ((name, fn(ComparisonSet)) pairs) and every
    comparison set of the runs that have `required`; the plan() of a plain figure family."""
    have = select(runs, required, family, notice)
    if not have:
        return []
    return [(f"{name}_{cset.slug}", lambda fn=fn, cset=cset: fn(cset))
            for cset in organise(have, probe=probe, context=context or runs, notice=notice)
            for name, fn in figures]
