"""Training curves: mini-batch loss per step (/train/steps) and test accuracy per epoch
(/train/epochs), each seed thin, each group's mean thick."""

from __future__ import annotations

import numpy as np

from plots.report.charts import xy_figure
from plots.report.figures import Figure, Section, Table, axis
from plots.report.series import group_traces, thinning_note


def _steps(col: str):
    def get(r):
        if not (r.has("train/steps/step") and r.has(f"train/steps/{col}")):
            return None
        return r.get("train/steps/step"), r.get(f"train/steps/{col}")
    return get


def _epochs(col: str):
    def get(r):
        if not (r.has("train/epochs/epoch") and r.has(f"train/epochs/{col}")):
            return None
        return np.asarray(r.get("train/epochs/epoch")) + 1, r.get(f"train/epochs/{col}")
    return get


def loss_steps(groups) -> Figure | None:
    xl, yl = "step (updates)", "mini-batch loss (nats, log scale)"
    table = Table(["run", "group", "step", "loss"])
    traces, k = group_traces(groups, _steps("loss"), xl, yl, table, "loss", decimate=True)
    return xy_figure("training-loss", "Training loss per step", traces, xl, yl, table,
                     "Mean cross-entropy of each mini-batch before its update "
                     "(/train/steps/loss); log scale, so that a diverging run does not flatten "
                     "the others." + thinning_note(k), log=True)


def test_acc_epochs(groups) -> Figure | None:
    xl, yl = "epochs completed", "test accuracy (fraction)"
    table = Table(["run", "group", "epoch", "test_acc"])
    traces, _ = group_traces(groups, _epochs("test_acc"), xl, yl, table, "test_acc")
    if not traces:
        return None
    for t in traces:
        t["mode"] = "lines+markers"
    return Figure("training-test-acc", "Test accuracy per epoch", traces,
                  {"xaxis": axis(xl, dtick=1), "yaxis": axis(yl)}, table,
                  "Accuracy on the test set at the end of each epoch, evaluation mode "
                  "(/train/epochs/test_acc; x = epoch + 1).")


def section(groups) -> Section | None:
    figs = [f for f in (loss_steps(groups), test_acc_epochs(groups)) if f is not None]
    if not figs:
        return None
    return Section("training", "Training curves",
                   "Each run (seed) is a thin line and each group's mean over its runs a thick "
                   "one (a group of one run: the run itself).", figs)
