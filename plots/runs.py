"""Reading bnlandscape run files: root attributes, configuration, cached reads of datasets.

A run file (docs/hdf5_schema.md) carries its full configuration as TOML in the root attribute
``config_toml``; :class:`Run` parses it and lists the file's groups and datasets once, so that
the figure families can ask what a file holds (``has``) before reading it (``get``). The HDF5
names come from plots.schema. Grouping runs into seed groups and comparison sets is
plots.grouping's job.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from typing import Callable, Iterable, Sequence

import h5py
import numpy as np

from plots import schema as S

SEED_KEY = "seed"
# Defaults of keys that later versions of the program added, so that a file written before
# them groups with one written after (same training).
CONFIG_DEFAULTS = {"bn_noise": False, "bn_noise_mu": 0.5, "bn_noise_sigma": 0.25}


class RunFileError(Exception):
    """A file that is not a readable bnlandscape run file."""


def default_notice(msg: str) -> None:
    print(msg, file=sys.stderr)


# --------------------------------------------------------------------------------------------
# Configuration


def parse_config(text: str) -> dict:
    """The run configuration from ``config_toml``; keys normalised to snake_case."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RunFileError(f"{S.CONFIG_TOML} is not valid TOML ({e})") from None
    return {k.replace("-", "_"): v for k, v in raw.items()}

# --------------------------------------------------------------------------------------------
# Run files


def _to_py(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        if v.dtype.kind in "OSU":
            return [_to_py(x) for x in v.tolist()]
        return v
    if isinstance(v, np.generic):
        return v.item()
    return v


class Run:
    """One run file: root attributes, configuration, and cached reads of its datasets."""

    def __init__(self, path: str):
        self.path = str(path)
        self.name = os.path.splitext(os.path.basename(self.path))[0]
        if not os.path.isfile(self.path):
            raise RunFileError("no such file")
        try:
            f = h5py.File(self.path, "r")
        except OSError as e:
            raise RunFileError(f"cannot open as HDF5 ({str(e).splitlines()[0]})") from None
        with f:
            self.attrs = {k: _to_py(v) for k, v in f.attrs.items()}
            if S.CONFIG_TOML not in self.attrs:
                raise RunFileError(f"no root attribute {S.CONFIG_TOML} (not a bnlandscape run "
                                   "file)")
            self._names: dict[str, tuple] = {}  # path -> shape (datasets) or None (groups)

            def walk(g, prefix):
                for k in g:
                    obj = g.get(k)
                    p = f"{prefix}{k}"
                    if isinstance(obj, h5py.Group):
                        self._names[p] = None
                        if p == S.CHECKPOINTS:  # the step groups, not their tensors
                            self._names.update({f"{p}/{n}": None for n in obj})
                        else:
                            walk(obj, p + "/")
                    elif isinstance(obj, h5py.Dataset):
                        self._names[p] = obj.shape

            walk(f, "")
        self.config = parse_config(str(self.attrs[S.CONFIG_TOML]))
        for k, v in CONFIG_DEFAULTS.items():
            self.config.setdefault(k, v)
        self.seed = int(self.config.get(SEED_KEY, self.attrs.get(S.SEED, 0)))
        self.status = str(self.attrs.get(S.STATUS, ""))
        self._cache: dict[str, np.ndarray] = {}

    def __repr__(self):
        return f"Run({self.path!r})"

    @property
    def kind(self) -> str:
        """What the file measured: ``surface`` (/surface), ``offline probe`` (/probes of a
        checkpoint: root attribute checkpoint_file), ``online probe`` (/probes during training)
        or ``train``."""
        if self.has(S.SURFACE):
            return "surface"
        if self.has(S.PROBES):
            return "offline probe" if S.CHECKPOINT_FILE in self.attrs else "online probe"
        return "train"

    # existence -------------------------------------------------------------------------------
    def has(self, name: str) -> bool:
        """A group or a dataset with at least one row."""
        name = name.strip("/")
        if name not in self._names:
            return False
        shape = self._names[name]
        return shape is None or (len(shape) == 0 or shape[0] > 0)

    def children(self, group: str) -> list[str]:
        group = group.strip("/") + "/"
        out = []
        for p in self._names:
            if p.startswith(group) and "/" not in p[len(group):]:
                out.append(p[len(group):])
        return out

    def is_group(self, name: str) -> bool:
        name = name.strip("/")
        return name in self._names and self._names[name] is None

    # data ------------------------------------------------------------------------------------
    def get(self, name: str) -> np.ndarray:
        name = name.strip("/")
        if name not in self._cache:
            with h5py.File(self.path, "r") as f:
                v = f[name][()]
            self._cache[name] = np.asarray(v)
        return self._cache[name]

    def maybe(self, name: str):
        return self.get(name) if self.has(name) else None

    def attr(self, name: str, key: str, default=None):
        with h5py.File(self.path, "r") as f:
            obj = f[name.strip("/")] if name.strip("/") else f
            if key not in obj.attrs:
                return default
            return _to_py(obj.attrs[key])

    # models ----------------------------------------------------------------------------------
    def model_order(self) -> list[str]:
        """Module names in forward order, from the ``layers`` attribute of
        /train/steps/layer_grad_norm (else of /ics); [] when neither exists."""
        if not hasattr(self, "_order"):
            order = []
            for ds, owner, key in ((S.STEPS_LAYER_GRAD_NORM, S.STEPS_LAYER_GRAD_NORM,
                                    S.LAYER_GRAD_NORM_LAYERS), (S.ICS_L2, S.ICS, S.ICS_LAYERS)):
                if self.has(ds):
                    order = [str(x) for x in (self.attr(owner, key, None) or [])]
                    if order:
                        break
            self._order = order
        return self._order

    def sort_modules(self, names: Iterable[str]) -> list[str]:
        """`names` in forward order (model_order), unknown names last by numeric_key."""
        order = {n: i for i, n in enumerate(self.model_order())}
        return sorted(names, key=lambda n: (order.get(n, len(order)), numeric_key(n)))

    def layer_kinds(self, layers: Sequence[str]) -> dict[str, str]:
        """``weight`` (Linear/Conv) or ``norm`` (BN, lp) for each layer name, from the last
        checkpoint's tensors; ``weight`` for every layer when the file has no checkpoint."""
        ckpts = [p for p in self._names if p.startswith(S.CHECKPOINTS + "/") and p.count("/") == 1]
        kinds = {name: "weight" for name in layers}
        if not ckpts:
            return kinds

        def step_of(p):
            m = re.search(r"(\d+)$", p)
            return int(m.group(1)) if m else -1

        last = max(ckpts, key=step_of)
        with h5py.File(self.path, "r") as f:
            g = f[last]
            tensors = {k: g[k].shape for k in g if isinstance(g[k], h5py.Dataset)}
        for name in layers:
            w = tensors.get(f"{name}.{S.WEIGHT_TENSOR_SUFFIX}")
            if any(f"{name}.{k}" in tensors for k in S.NORM_TENSOR_SUFFIXES):
                kinds[name] = "norm"
            elif w is not None and len(w) == 1:
                kinds[name] = "norm"
        return kinds


def load_runs(paths: Iterable[str], notice: Callable[[str], None] = default_notice) -> list[Run]:
    """Every readable run file of `paths`; a notice (one line) for each file left out."""
    runs = []
    for p in paths:
        try:
            runs.append(Run(p))
        except RunFileError as e:
            notice(f"skip file {p}: {e}")
        except Exception as e:  # a file damaged in a way the reader did not foresee: one line
            notice(f"skip file {p}: {type(e).__name__}: {' '.join(str(e).split())}")
    return runs


def numeric_key(name: str):
    """Sort key of module names: net.2 before net.10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]
