"""The HDF5 names of bnlandscape run files that plots/ and analyses/ read.

One constant per group, dataset and attribute name (docs/hdf5_schema.md documents them all;
tests/plots/test_schema.py fails when a name here is not documented there). Datasets and groups
are paths relative to the file's root, without the leading slash (``train/steps/loss``), so that
they index an ``h5py.File`` directly and print as ``/<path>`` in notices; attributes are bare
names. Groups whose names the model chooses (``/activations/<layer>/<site>``) are built with
:func:`activation_path`.

This module is the bottom of the package: it imports nothing from plots and has no side
effects beyond defining the names (and recording them in :data:`NAMES` for the test).
"""

from __future__ import annotations

from typing import NamedTuple


class Name(NamedTuple):
    """One name the readers use: kind (``group``, ``dataset``, ``attribute``), the group or
    object it belongs to (``""`` = the root; for an attribute, the path of its group or
    dataset) and the name itself."""

    kind: str
    parent: str
    name: str


NAMES: list[Name] = []
"""Every name of this module, in declaration order (for tests/plots/test_schema.py)."""


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def _group(path: str) -> str:
    parent, _, name = path.rpartition("/")
    NAMES.append(Name("group", parent, name))
    return path


def _dataset(group: str, name: str) -> str:
    NAMES.append(Name("dataset", group, name))
    return _join(group, name)


def _attribute(owner: str, name: str) -> str:
    NAMES.append(Name("attribute", owner, name))
    return name


# ---------------------------------------------------------------------------------------------
# Root attributes (/)

ROOT = ""
CONFIG_TOML = _attribute(ROOT, "config_toml")  # the run configuration as TOML
STATUS = _attribute(ROOT, "status")  # running, complete, diverged, interrupted, failed
SEED = _attribute(ROOT, "seed")
CHECKPOINT_FILE = _attribute(ROOT, "checkpoint_file")  # offline probe and surface files
CHECKPOINT_GROUP = _attribute(ROOT, "checkpoint_group")  # the probed group of CHECKPOINT_FILE

STATUS_COMPLETE = "complete"
STATUS_DIVERGED = "diverged"

# ---------------------------------------------------------------------------------------------
# /train: one row per optimizer step, per epoch, per evaluation

TRAIN = _group("train")
TRAIN_STEPS = _group("train/steps")
STEPS_STEP = _dataset(TRAIN_STEPS, "step")
STEPS_LOSS = _dataset(TRAIN_STEPS, "loss")
STEPS_ACC = _dataset(TRAIN_STEPS, "acc")
STEPS_GRAD_NORM = _dataset(TRAIN_STEPS, "grad_norm")
STEPS_WALL_TIME = _dataset(TRAIN_STEPS, "wall_time")  # seconds since the start of the run
STEPS_LAYER_GRAD_NORM = _dataset(TRAIN_STEPS, "layer_grad_norm")
LAYER_GRAD_NORM_LAYERS = _attribute(STEPS_LAYER_GRAD_NORM, "layers")  # column names

TRAIN_EPOCHS = _group("train/epochs")
EPOCHS_EPOCH = _dataset(TRAIN_EPOCHS, "epoch")
EPOCHS_STEP = _dataset(TRAIN_EPOCHS, "step")
EPOCHS_TRAIN_LOSS = _dataset(TRAIN_EPOCHS, "train_loss")
EPOCHS_TRAIN_ACC = _dataset(TRAIN_EPOCHS, "train_acc")
EPOCHS_TEST_LOSS = _dataset(TRAIN_EPOCHS, "test_loss")
EPOCHS_TEST_ACC = _dataset(TRAIN_EPOCHS, "test_acc")

TRAIN_EVALS = _group("train/evals")
EVALS_STEP = _dataset(TRAIN_EVALS, "step")
EVALS_TEST_LOSS = _dataset(TRAIN_EVALS, "test_loss")
EVALS_TEST_ACC = _dataset(TRAIN_EVALS, "test_acc")

# ---------------------------------------------------------------------------------------------
# /probes: one row per landscape probe

PROBES = _group("probes")
PROBES_STEP = _dataset(PROBES, "step")
PROBES_STEP_SIZES = _dataset(PROBES, "step_sizes")
PROBES_LOSS = _dataset(PROBES, "loss")
PROBES_LOSS_PATH = _dataset(PROBES, "loss_path")
PROBES_GRAD_PRED = _dataset(PROBES, "grad_pred")
PROBES_BETA_SMOOTHNESS = _dataset(PROBES, "beta_smoothness")
PROBES_EIGVALS = _dataset(PROBES, "eigvals")
PROBES_EIGVALS_BOTTOM = _dataset(PROBES, "eigvals_bottom")
PROBES_EOS_THRESHOLD = _dataset(PROBES, "eos_threshold")
PROBES_TRACE = _dataset(PROBES, "trace")
PROBES_TRACE_STDERR = _dataset(PROBES, "trace_stderr")
PROBES_LAYER_EIGVALS = _dataset(PROBES, "layer_eigvals")
LAYER_EIGVALS_BLOCKS = _attribute(PROBES_LAYER_EIGVALS, "blocks")  # module names
LAYER_EIGVALS_BLOCK_KINDS = _attribute(PROBES_LAYER_EIGVALS, "block_kinds")  # linear, conv, norm
# issue 24: the Gauss-Newton matrix (ggn_*), scaled sharpness, the gradient's top-k share
PROBES_EIGVALS_LAYER = _dataset(PROBES, "eigvals_layer")
PROBES_EIGVALS_ADAPTIVE = _dataset(PROBES, "eigvals_adaptive")
PROBES_GGN_EIGVALS = _dataset(PROBES, "ggn_eigvals")
PROBES_GGN_EIGVALS_LAYER = _dataset(PROBES, "ggn_eigvals_layer")
PROBES_GGN_EIGVALS_ADAPTIVE = _dataset(PROBES, "ggn_eigvals_adaptive")
PROBES_GRAD_TOPK_SHARE = _dataset(PROBES, "grad_topk_share")
PROBES_GGN_GRAD_TOPK_SHARE = _dataset(PROBES, "ggn_grad_topk_share")

# ---------------------------------------------------------------------------------------------
# /density: stochastic Lanczos quadrature of the Hessian spectrum

DENSITY = _group("density")
DENSITY_STEP = _dataset(DENSITY, "step")
DENSITY_NODES = _dataset(DENSITY, "nodes")
DENSITY_WEIGHTS = _dataset(DENSITY, "weights")
DENSITY_RUNS = _attribute(DENSITY, "runs")  # K
DENSITY_STEPS = _attribute(DENSITY, "steps")  # M
DENSITY_NUM_PARAMS = _attribute(DENSITY, "num_params")  # P

# /density_ggn: the same for the Gauss-Newton matrix (probe --curvature ggn)
DENSITY_GGN = _group("density_ggn")
DENSITY_GGN_STEP = _dataset(DENSITY_GGN, "step")
DENSITY_GGN_NODES = _dataset(DENSITY_GGN, "nodes")
DENSITY_GGN_WEIGHTS = _dataset(DENSITY_GGN, "weights")

# ---------------------------------------------------------------------------------------------
# /activations/<layer>/<site>: activation histograms and statistics

ACTIVATIONS = _group("activations")
LAYER = "<layer>"  # a hidden Linear/Conv module's name, chosen by the model
SITE_GROUP = _group(f"{ACTIVATIONS}/{LAYER}/<site>")


def _site(name: str) -> str:
    _group(f"{SITE_GROUP.rpartition('/')[0]}/{name}")
    return name


def _site_dataset(name: str) -> str:
    _dataset(SITE_GROUP, name)
    return name


SITE_PRE_NORM = _site("pre_norm")  # the Linear/Conv output
SITE_POST_NORM = _site("post_norm")  # the normalisation layer's output
SITE_POST_RELU = _site("post_relu")
ACT_STEP = _site_dataset("step")
ACT_HIST = _site_dataset("hist")
ACT_BIN_EDGES = _site_dataset("bin_edges")
ACT_UNDERFLOW = _site_dataset("underflow")
ACT_OVERFLOW = _site_dataset("overflow")
ACT_MEAN = _site_dataset("mean")
ACT_STD = _site_dataset("std")


def activation_path(layer: str, site: str | None = None, name: str | None = None) -> str:
    """``activations/<layer>[/<site>[/<name>]]``: a layer's group, a site's group, or one of
    the site's datasets (ACT_*)."""
    path = f"{ACTIVATIONS}/{layer}"
    if site is not None:
        path += f"/{site}"
        if name is not None:
            path += f"/{name}"
    return path


# ---------------------------------------------------------------------------------------------
# /ics: internal covariate shift per layer

ICS = _group("ics")
ICS_STEP = _dataset(ICS, "step")
ICS_L2 = _dataset(ICS, "l2")
ICS_COS = _dataset(ICS, "cos")
ICS_LAYERS = _attribute(ICS, "layers")  # the column names of l2 and cos

# ---------------------------------------------------------------------------------------------
# /checkpoints/step_NNNNNNN/<tensor>

CHECKPOINTS = _group("checkpoints")
# Tensors in a checkpoint are named by the model's state_dict (net.1.running_mean), not by the
# schema; these suffixes mark a normalisation layer's tensors (BatchNorm's weight and bias carry
# torch's names, so a 1-D weight marks one too; gamma and beta: LpNorm, and BatchNorm in files
# written before 2026-12).
NORM_TENSOR_SUFFIXES = ("gamma", "beta", "running_mean", "running_var", "num_batches_tracked")
WEIGHT_TENSOR_SUFFIX = "weight"

# ---------------------------------------------------------------------------------------------
# /surface: loss surface around a checkpoint

SURFACE = _group("surface")
SURFACE_ALPHA = _dataset(SURFACE, "alpha")
SURFACE_BETA = _dataset(SURFACE, "beta")
SURFACE_LOSS = _dataset(SURFACE, "loss")
SURFACE_ACC = _dataset(SURFACE, "acc")
SURFACE_DIRECTIONS = _attribute(SURFACE, "directions")
SURFACE_DIRECTIONS_FROM = _attribute(SURFACE, "directions_from")
SURFACE_PROBE_BN_MODE = _attribute(SURFACE, "probe_bn_mode")
SURFACE_SET = _attribute(SURFACE, "surface_set")
SURFACE_SIZE = _attribute(SURFACE, "surface_size")
# --directions pca: the explained variance of x and y and the trajectory's path (m points)
SURFACE_EXPLAINED_VARIANCE = _dataset(SURFACE, "explained_variance")
SURFACE_TRAJECTORY_STEP = _dataset(SURFACE, "trajectory/step")
SURFACE_TRAJECTORY_ALPHA = _dataset(SURFACE, "trajectory/alpha")
SURFACE_TRAJECTORY_BETA = _dataset(SURFACE, "trajectory/beta")
SURFACE_TRAJECTORY_LOSS = _dataset(SURFACE, "trajectory/loss")
