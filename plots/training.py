"""The original study's step- and epoch-level training figures (from /train).

Per comparison set (see plots.runs), BN and no BN overlaid, each group averaged over its seeds:

- training_loss_steps_<set>       mini-batch loss per step; test loss at evaluations
- training_loss_epochs_<set>      train and test loss per epoch
- training_accuracy_epochs_<set>  train and test accuracy per epoch
- training_accuracy_steps_<set>   mini-batch accuracy per step; test accuracy per evaluation
                                  (/train/evals, else the epoch ends)
- training_grad_norm_<set>        global gradient norm per step
- training_layer_grad_norm_<set>  per-layer gradient norms (layer_grad_norm and its `layers`)

Command line: ``python3 -m plots.training RUN.h5 ... --out DIR``.
"""

from __future__ import annotations

import sys

from plots import schema as S
from plots import style
from plots.grouping import ComparisonSet, plan_figures
from plots.runs import Run
from plots.style import SkipFigure

FAMILY = "training"


# --------------------------------------------------------------------------------------------
# Getters: run -> (x, y) or None


def _column(group: str, col: str) -> str:
    """The path of dataset `col` of `group`: `col` is its name (``loss``) or already its path."""
    return col if col.startswith(group + "/") else f"{group}/{col}"


def step_series(col: str):
    """x = step; `col` a dataset of /train/steps (S.STEPS_*, or its name)."""
    path = _column(S.TRAIN_STEPS, col)

    def get(r: Run):
        if not (r.has(S.STEPS_STEP) and r.has(path)):
            return None
        return r.get(S.STEPS_STEP), r.get(path)
    return get


def epoch_series(col: str):
    """x = epochs completed (epoch + 1); `col` a dataset of /train/epochs (S.EPOCHS_*, or its
    name)."""
    path = _column(S.TRAIN_EPOCHS, col)

    def get(r: Run):
        if not (r.has(S.EPOCHS_EPOCH) and r.has(path)):
            return None
        return r.get(S.EPOCHS_EPOCH) + 1, r.get(path)
    return get


def eval_series(col: str):
    """Test metric against step: /train/evals when the run has it, else the epoch ends; `col` a
    dataset of /train/evals (S.EVALS_*, or its name), found under the same name in
    /train/epochs."""
    evals = _column(S.TRAIN_EVALS, col)
    epochs = _column(S.TRAIN_EPOCHS, evals.rpartition("/")[2])

    def get(r: Run):
        if r.has(S.EVALS_STEP) and r.has(evals):
            return r.get(S.EVALS_STEP), r.get(evals)
        if r.has(S.EPOCHS_STEP) and r.has(epochs):
            return r.get(S.EPOCHS_STEP), r.get(epochs)
        return None
    return get


def _has_evals(cset: ComparisonSet) -> bool:
    return any(r.has(S.EVALS_STEP) for r in cset.runs)


def _require(cset: ComparisonSet, path: str) -> None:
    if not any(r.has(path) for r in cset.runs):
        raise SkipFigure(f"no run has /{path}")


# --------------------------------------------------------------------------------------------
# Panels (shared with the other families of /train and /probes)


def draw_groups(ax, cset: ComparisonSet, get, **kw) -> list:
    """Draws each group's seed average of getter `get` on `ax` (`kw`: style.draw_series's
    keywords); returns the means drawn, for style.maybe_log."""
    vals = []
    for g in cset.groups:
        s = g.series(get)
        if s is not None:
            vals.append(s.mean)
        style.draw_series(ax, s, g, **kw)
    return vals


def label_panel(ax, xlabel: str, ylabel: str, title: str, title_size: str | None = None,
                **legend_kw) -> None:
    """A panel's axis labels, its title (in font size `title_size`, else the style's) and its
    legend (`legend_kw`: style.legend's keywords)."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title_size is None:
        ax.set_title(title)
    else:
        ax.set_title(title, fontsize=title_size)
    style.legend(ax, **legend_kw)


# --------------------------------------------------------------------------------------------
# Figures


@style.styled
def loss_steps(cset: ComparisonSet):
    """Mini-batch training loss per step, with the test loss at each evaluation."""
    _require(cset, S.STEPS_LOSS)
    fig, axes = style.new_figure(1, 1, width=7, height=4.2)
    ax = axes[0, 0]
    for g in cset.groups:
        style.draw_series(ax, g.series(step_series(S.STEPS_LOSS)), g)
        s = g.series(eval_series(S.EVALS_TEST_LOSS))
        style.draw_series(ax, s, g, label=f"{g.label}: test", linestyle=":", marker="o")
    label_panel(ax, "step", "cross-entropy (nats)",
                "training loss per step (test loss: dotted, markers)")
    return style.finish(fig, f"Training loss \u2014 {cset.title}")


def _train_and_test_epochs(cset: ComparisonSet, train: str, test: str, what: str,
                           ylabel: str, title: str):
    """Two panels against epochs completed: /train/epochs column `train` (``training <what>
    (mean of mini-batches)``) and `test` (``test <what>``)."""
    fig, axes = style.new_figure(1, 2)
    for ax, col, panel in ((axes[0, 0], train, f"training {what} (mean of mini-batches)"),
                           (axes[0, 1], test, f"test {what}")):
        draw_groups(ax, cset, epoch_series(col), marker="o")
        label_panel(ax, "epochs completed", ylabel, panel)
    return style.finish(fig, f"{title} \u2014 {cset.title}")


@style.styled
def loss_epochs(cset: ComparisonSet):
    """Train (mean of the epoch's mini-batch losses) and test loss per epoch."""
    _require(cset, S.EPOCHS_TRAIN_LOSS)
    return _train_and_test_epochs(cset, S.EPOCHS_TRAIN_LOSS, S.EPOCHS_TEST_LOSS, "loss",
                                  "cross-entropy (nats)", "Loss per epoch")


@style.styled
def accuracy_epochs(cset: ComparisonSet):
    """Train (mean of mini-batch accuracies) and test accuracy per epoch."""
    _require(cset, S.EPOCHS_TEST_ACC)
    return _train_and_test_epochs(cset, S.EPOCHS_TRAIN_ACC, S.EPOCHS_TEST_ACC, "accuracy",
                                  "accuracy", "Accuracy per epoch")


@style.styled
def accuracy_steps(cset: ComparisonSet):
    """Mini-batch accuracy per step and test accuracy per evaluation step."""
    _require(cset, S.STEPS_ACC)
    fig, axes = style.new_figure(1, 2)
    draw_groups(axes[0, 0], cset, step_series(S.STEPS_ACC), linewidth=1.0)
    label_panel(axes[0, 0], "step", "accuracy",
                "training accuracy per step (mini-batch, before the update)")
    draw_groups(axes[0, 1], cset, eval_series(S.EVALS_TEST_ACC), marker="o")
    label_panel(axes[0, 1], "step", "accuracy",
                "test accuracy per evaluation" if _has_evals(cset)
                else "test accuracy at epoch ends (no /train/evals)")
    return style.finish(fig, f"Accuracy per step \u2014 {cset.title}")


@style.styled
def grad_norm(cset: ComparisonSet):
    """Global L2 norm of the parameter gradients per step."""
    _require(cset, S.STEPS_GRAD_NORM)
    fig, axes = style.new_figure(1, 1, width=7, height=4.2)
    ax = axes[0, 0]
    style.maybe_log(ax, draw_groups(ax, cset, step_series(S.STEPS_GRAD_NORM)))
    label_panel(ax, "step", "\u2016\u2207L\u2016\u2082",
                "global gradient norm per step (before the update)")
    return style.finish(fig, f"Gradient norm \u2014 {cset.title}")


def _layer_columns(r: Run):
    """(weight layers, norm layers): lists of (column index, layer name) of layer_grad_norm."""
    names = r.attr(S.STEPS_LAYER_GRAD_NORM, S.LAYER_GRAD_NORM_LAYERS, None)
    n = r.get(S.STEPS_LAYER_GRAD_NORM).shape[1]
    if names is None or len(names) != n:
        names = [f"layer {i}" for i in range(n)]
    kinds = r.layer_kinds(names)
    weight = [(i, nm) for i, nm in enumerate(names) if kinds[nm] != "norm"]
    norm = [(i, nm) for i, nm in enumerate(names) if kinds[nm] == "norm"]
    return weight, norm


@style.styled
def layer_grad_norm(cset: ComparisonSet):
    """Per-layer gradient norms against step.

    Layers are matched across BN and no BN by position among the Linear/Conv layers (their
    names differ: BN inserts modules); the normalisation layers' own parameters (gamma, beta)
    get a second row. Layer kinds come from the run's last checkpoint.
    """
    _require(cset, S.STEPS_LAYER_GRAD_NORM)
    cols = {}
    for g in cset.groups:
        r = next((r for r in g.runs if r.has(S.STEPS_LAYER_GRAD_NORM)), None)
        if r is not None:
            cols[id(g)] = _layer_columns(r)
    nw = max(len(w) for w, _ in cols.values())
    nn = max(len(n) for _, n in cols.values())
    nrows, ncols = (2 if nn else 1), max(nw, nn, 1)
    fig, axes = style.new_figure(nrows, ncols, width=3.6, height=3.0)
    for row, which, kind in ((0, 0, "Linear/Conv layer"), (1, 1, "normalisation layer")):
        if row >= nrows:
            break
        for j in range(ncols):
            ax = axes[row, j]
            names, vals = [], []
            for g in cset.groups:
                if id(g) not in cols or j >= len(cols[id(g)][which]):
                    continue
                col, name = cols[id(g)][which][j]
                names.append(name)

                def get(r, col=col):
                    if not r.has(S.STEPS_LAYER_GRAD_NORM):
                        return None
                    m = r.get(S.STEPS_LAYER_GRAD_NORM)
                    return (r.get(S.STEPS_STEP), m[:, col]) if col < m.shape[1] else None
                s = g.series(get)
                if s is not None:
                    vals.append(s.mean)
                style.draw_series(ax, s, g, label=f"{g.label} ({name})", linewidth=1.0)
            if not names:
                ax.set_visible(False)
                continue
            style.maybe_log(ax, vals)
            ax.set_title(f"{kind} {j + 1}: {' / '.join(dict.fromkeys(names))}", fontsize="small")
            ax.set_xlabel("step")
            if j == 0:
                ax.set_ylabel("layer gradient norm")
            if j == 0:
                style.legend(ax, fontsize="x-small")
    return style.finish(fig, f"Per-layer gradient norms \u2014 {cset.title}")


FIGURES = (
    ("training_loss_steps", loss_steps),
    ("training_loss_epochs", loss_epochs),
    ("training_accuracy_epochs", accuracy_epochs),
    ("training_accuracy_steps", accuracy_steps),
    ("training_grad_norm", grad_norm),
    ("training_layer_grad_norm", layer_grad_norm),
)


def plan(runs, notice, context=None):
    return plan_figures(runs, notice, context, S.STEPS_STEP, FAMILY, FIGURES)


if __name__ == "__main__":  # python3 -m plots.training: the figures of this family only
    from plots.cli import main
    sys.exit(main(families=[FAMILY]))
