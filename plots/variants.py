"""Noisy BN and lp-normalisation variants (the paper's Figure 2) from /train.

Drawn for every comparison set that holds a variant: a group with ``bn`` = lp1, lp2 or lpinf
or with ``bn_noise`` = true (the other groups of the set, e.g. no BN and BN, are the
references). File ``variants_<set>``: (a) test accuracy against step (/train/evals, else the
epoch ends), (b) training loss per step; one line per variant (labels from ``bn`` and
``bn_noise``), averaged over seeds.

Command line: ``python3 -m plots.variants RUN.h5 ... --out DIR``.
"""

from __future__ import annotations

import sys

from plots import schema as S
from plots import style
from plots.grouping import ComparisonSet, organise, select
from plots.style import SkipFigure
from plots.training import draw_groups, eval_series, label_panel, step_series

FAMILY = "variants"
LP = ("lp1", "lp2", "lpinf")


def is_variant(config: dict) -> bool:
    return str(config.get("bn", "custom")) in LP or bool(config.get("bn_noise", False))


@style.styled
def figure2(cset: ComparisonSet):
    if not any(is_variant(g.config) for g in cset.groups):
        raise SkipFigure("no run with bn = lp1|lp2|lpinf or bn_noise = true")
    fig, axes = style.new_figure(1, 2, width=6, height=4.2)
    evals = any(r.has(S.EVALS_STEP) for r in cset.runs)
    draw_groups(axes[0, 0], cset, eval_series(S.EVALS_TEST_ACC), marker="o", linewidth=1.2)
    label_panel(axes[0, 0], "step", "test accuracy",
                "(a) test accuracy" + ("" if evals else " at epoch ends"), fontsize="x-small")
    draw_groups(axes[0, 1], cset, step_series(S.STEPS_LOSS), linewidth=1.0)
    label_panel(axes[0, 1], "step", "cross-entropy (nats)", "(b) training loss per step",
                fontsize="x-small")
    return style.finish(fig, f"Normalisation variants \u2014 {cset.title}")


def plan(runs, notice, context=None):
    have = select(runs, S.STEPS_STEP, FAMILY, notice)
    if not have:
        return []
    sets = [c for c in organise(have, context=context or runs, notice=lambda m: None)
            if any(is_variant(g.config) for g in c.groups)]
    if not sets:
        notice(f"skip {FAMILY}: no run with bn = lp1|lp2|lpinf or bn_noise = true")
        return []
    return [(f"variants_{cset.slug}", lambda cset=cset: figure2(cset)) for cset in sets]


if __name__ == "__main__":  # python3 -m plots.variants: the figures of this family only
    from plots.cli import main
    sys.exit(main(families=[FAMILY]))
