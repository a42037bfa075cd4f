"""Statistics of a stochastic-Lanczos-quadrature eigenvalue density (/density, /density_ggn),
shared by the spectrum, paper_vgg and curvature_decomposition studies. The definitions (bulk
edge at tail fraction q, mass above it, trace, tail share, gap, near top) are in
analyses/spectrum/summarize.py's docstring and the spectrum study's README.
"""

from __future__ import annotations

import numpy as np


def density_stats(nodes_row, weights_row, K: int, M: int, P: int, q: float) -> dict:
    """The bulk-edge statistics of one density row (K runs x M steps) at tail fraction q."""
    nodes = np.asarray(nodes_row, float).reshape(K, M)
    weights = np.asarray(weights_row, float).reshape(K, M)
    good = np.isfinite(weights).all(axis=1)  # a failed run has NaN weights throughout
    nodes, weights = nodes[good], weights[good]
    k_ok = int(good.sum())
    if k_ok == 0:
        return {}
    ok = np.isfinite(nodes) & (weights > 0)
    theta = nodes[ok]
    w = weights[ok] / k_ok  # pooled: each run's weights sum to 1, so all of them sum to 1
    order = np.argsort(theta)
    theta, w = theta[order], w[order]
    cum = np.cumsum(w)
    # Weighted (1 - q) quantile: the first node at which the cumulative mass reaches 1 - q.
    # (cum[-1] is 1 up to rounding; clip so that rounding cannot push the index past the end.)
    i_edge = min(int(np.searchsorted(cum, (1.0 - q) * cum[-1])), len(theta) - 1)
    edge = float(theta[i_edge])
    # A coarse SLQ (few Lanczos steps) can lump the whole bulk into one Ritz value near 0 with
    # nearly all the mass; when the quantile falls on such a node the density does not resolve
    # the bulk's upper edge at this q, and an "edge" of ~0 would make every ratio meaningless.
    # Such a node carries more than half of its run's weight (pooled: > 0.5 / K).
    resolved = bool(w[i_edge] <= 0.5 / k_ok)
    above = theta > edge
    mass_above = float(w[above].sum())
    # Hutchinson trace from SLQ: P * sum w theta per run, averaged (pooled weights do both).
    trace = float(P * np.sum(w * theta))
    tail_trace = float(P * np.sum(w[above] * theta[above]))
    # Share of the positive part of the trace, tr(H_+): at initialisation the positive and
    # negative eigenvalues nearly cancel in tr H, so a share of tr H itself can exceed 1.
    pos_trace = float(P * np.sum(w[theta > 0] * theta[theta > 0]))
    # Largest multiplicative gap between consecutive positive nodes from the edge upwards.
    top = theta[i_edge:]
    top = top[top > 0]
    gap = float(np.max(top[1:] / top[:-1])) if top.size >= 2 else 1.0
    # Scale-free crowding of the top: the estimated number of eigenvalues within a decade of
    # the largest one (P x mass of the nodes > max / 10). A few isolated outliers give a small
    # count, a top that is the upper end of a broad bulk a large one.
    near_top = float(P * w[theta > theta[-1] / 10].sum()) if theta[-1] > 0 else float("nan")
    if not resolved:
        nan = float("nan")
        edge = mass_above = tail_trace = gap = nan
    return {
        "resolved": resolved,
        "near_top": near_top,
        "slq_max": float(theta[-1]),
        "slq_min": float(theta[0]),
        "edge": edge,
        "mass_above": mass_above,
        "count_above": mass_above * P,
        # Ritz values above the edge, per SLQ run
        "nodes_above": float(above.sum()) / k_ok if resolved else float("nan"),
        "trace": trace,
        "tail_share": tail_trace / pos_trace if pos_trace > 0 else float("nan"),
        "gap": gap,
        "runs_ok": k_ok,
    }


def broadened(densities: list, points: int) -> tuple[np.ndarray, np.ndarray]:
    """(grid, rho): the SLQ densities of several runs (each (nodes, weights, K)) pooled with equal
    weight and Gaussian-broadened (sigma = 1% of the span) on `points` grid values, for figures."""
    theta = np.concatenate([np.asarray(d[0], float).ravel() for d in densities])
    w = np.concatenate([np.asarray(d[1], float).ravel() / d[2] for d in densities]) / len(densities)
    ok = np.isfinite(theta) & np.isfinite(w)
    theta, w = theta[ok], w[ok]
    grid = np.linspace(theta.min(), theta.max(), points)
    sigma = 0.01 * (theta.max() - theta.min() + 1e-12)
    rho = (w[None, :] * np.exp(-0.5 * ((grid[:, None] - theta[None, :]) / sigma) ** 2)).sum(1)
    return grid, rho / (sigma * np.sqrt(2 * np.pi))
