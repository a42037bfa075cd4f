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

import os
import sys

if __name__ == "__main__" and not __package__:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from plots import style
from plots.runs import ComparisonSet, Run, SkipFigure, plan_figures

FAMILY = "training"


# --------------------------------------------------------------------------------------------
# Getters: run -> (x, y) or None


def step_series(col: str):
    def get(r: Run):
        if not (r.has("train/steps/step") and r.has(f"train/steps/{col}")):
            return None
        return r.get("train/steps/step"), r.get(f"train/steps/{col}")
    return get


def epoch_series(col: str):
    """x = epochs completed (epoch + 1)."""
    def get(r: Run):
        if not (r.has("train/epochs/epoch") and r.has(f"train/epochs/{col}")):
            return None
        return r.get("train/epochs/epoch") + 1, r.get(f"train/epochs/{col}")
    return get


def eval_series(col: str):
    """Test metric against step: /train/evals when the run has it, else the epoch ends."""
    def get(r: Run):
        if r.has("train/evals/step") and r.has(f"train/evals/{col}"):
            return r.get("train/evals/step"), r.get(f"train/evals/{col}")
        if r.has("train/epochs/step") and r.has(f"train/epochs/{col}"):
            return r.get("train/epochs/step"), r.get(f"train/epochs/{col}")
        return None
    return get


def _has_evals(cset: ComparisonSet) -> bool:
    return any(r.has("train/evals/step") for r in cset.runs)


def _require(cset: ComparisonSet, path: str) -> None:
    if not any(r.has(path) for r in cset.runs):
        raise SkipFigure(f"no run has /{path}")



# --------------------------------------------------------------------------------------------
# Figures


def loss_steps(cset: ComparisonSet):
    """Mini-batch training loss per step, with the test loss at each evaluation."""
    _require(cset, "train/steps/loss")
    fig, axes = style.new_figure(1, 1, width=7, height=4.2)
    ax = axes[0, 0]
    for g in cset.groups:
        style.draw_series(ax, g.series(step_series("loss")), g)
        s = g.series(eval_series("test_loss"))
        style.draw_series(ax, s, g, label=f"{g.label}: test", linestyle=":", marker="o")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats)")
    ax.set_title("training loss per step (test loss: dotted, markers)")
    style.legend(ax)
    return style.finish(fig, f"Training loss \u2014 {cset.title}")


def loss_epochs(cset: ComparisonSet):
    """Train (mean of the epoch's mini-batch losses) and test loss per epoch."""
    _require(cset, "train/epochs/train_loss")
    fig, axes = style.new_figure(1, 2)
    for ax, col, what in ((axes[0, 0], "train_loss", "training loss (mean of mini-batches)"),
                          (axes[0, 1], "test_loss", "test loss")):
        for g in cset.groups:
            style.draw_series(ax, g.series(epoch_series(col)), g, marker="o")
        ax.set_xlabel("epochs completed")
        ax.set_ylabel("cross-entropy (nats)")
        ax.set_title(what)
        style.legend(ax)
    return style.finish(fig, f"Loss per epoch \u2014 {cset.title}")


def accuracy_epochs(cset: ComparisonSet):
    """Train (mean of mini-batch accuracies) and test accuracy per epoch."""
    _require(cset, "train/epochs/test_acc")
    fig, axes = style.new_figure(1, 2)
    for ax, col, what in ((axes[0, 0], "train_acc", "training accuracy (mean of mini-batches)"),
                          (axes[0, 1], "test_acc", "test accuracy")):
        for g in cset.groups:
            style.draw_series(ax, g.series(epoch_series(col)), g, marker="o")
        ax.set_xlabel("epochs completed")
        ax.set_ylabel("accuracy")
        ax.set_title(what)
        style.legend(ax)
    return style.finish(fig, f"Accuracy per epoch \u2014 {cset.title}")


def accuracy_steps(cset: ComparisonSet):
    """Mini-batch accuracy per step and test accuracy per evaluation step."""
    _require(cset, "train/steps/acc")
    fig, axes = style.new_figure(1, 2)
    ax = axes[0, 0]
    for g in cset.groups:
        style.draw_series(ax, g.series(step_series("acc")), g, linewidth=1.0)
    ax.set_xlabel("step")
    ax.set_ylabel("accuracy")
    ax.set_title("training accuracy per step (mini-batch, before the update)")
    style.legend(ax)
    ax = axes[0, 1]
    for g in cset.groups:
        style.draw_series(ax, g.series(eval_series("test_acc")), g, marker="o")
    ax.set_xlabel("step")
    ax.set_ylabel("accuracy")
    ax.set_title("test accuracy per evaluation" if _has_evals(cset)
                 else "test accuracy at epoch ends (no /train/evals)")
    style.legend(ax)
    return style.finish(fig, f"Accuracy per step \u2014 {cset.title}")


def grad_norm(cset: ComparisonSet):
    """Global L2 norm of the parameter gradients per step."""
    _require(cset, "train/steps/grad_norm")
    fig, axes = style.new_figure(1, 1, width=7, height=4.2)
    ax = axes[0, 0]
    vals = []
    for g in cset.groups:
        s = g.series(step_series("grad_norm"))
        if s is not None:
            vals.append(s.mean)
        style.draw_series(ax, s, g)
    style.maybe_log(ax, vals)
    ax.set_xlabel("step")
    ax.set_ylabel("\u2016\u2207L\u2016\u2082")
    ax.set_title("global gradient norm per step (before the update)")
    style.legend(ax)
    return style.finish(fig, f"Gradient norm \u2014 {cset.title}")


def _layer_columns(r: Run):
    """(weight layers, norm layers): lists of (column index, layer name) of layer_grad_norm."""
    names = r.attr("train/steps/layer_grad_norm", "layers", None)
    n = r.get("train/steps/layer_grad_norm").shape[1]
    if names is None or len(names) != n:
        names = [f"layer {i}" for i in range(n)]
    kinds = r.layer_kinds(names)
    weight = [(i, nm) for i, nm in enumerate(names) if kinds[nm] != "norm"]
    norm = [(i, nm) for i, nm in enumerate(names) if kinds[nm] == "norm"]
    return weight, norm


def layer_grad_norm(cset: ComparisonSet):
    """Per-layer gradient norms against step.

    Layers are matched across BN and no BN by position among the Linear/Conv layers (their
    names differ: BN inserts modules); the normalisation layers' own parameters (gamma, beta)
    get a second row. Layer kinds come from the run's last checkpoint.
    """
    _require(cset, "train/steps/layer_grad_norm")
    cols = {}
    for g in cset.groups:
        r = next((r for r in g.runs if r.has("train/steps/layer_grad_norm")), None)
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
                    if not r.has("train/steps/layer_grad_norm"):
                        return None
                    m = r.get("train/steps/layer_grad_norm")
                    return (r.get("train/steps/step"), m[:, col]) if col < m.shape[1] else None
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
    return plan_figures(runs, notice, context, "train/steps/step", FAMILY, FIGURES)


def main(argv=None) -> int:
    from plots import cli
    return cli.run_families([sys.modules[__name__]], argv, __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
