"""Statistics shared by the studies' summarize scripts and the scorecard (analyses/scorecard.py):
seed means with t intervals, Welch's test, and the BN / no BN ratio with a 95% interval.

Every function takes per-seed values (one number per run), so n is the number of seeds.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats


def finite(values) -> np.ndarray:
    """The finite entries of `values` as a float array."""
    a = np.asarray(values, float).ravel()
    return a[np.isfinite(a)]


def mean_ci(values, level: float = 0.95) -> tuple[float, float, int]:
    """(mean, half-width of the t interval at `level`, n) of the finite values; the half-width is
    NaN for n < 2."""
    a = finite(values)
    n = a.size
    if n == 0:
        return math.nan, math.nan, 0
    if n == 1:
        return float(a[0]), math.nan, 1
    half = stats.t.ppf(0.5 + level / 2, n - 1) * a.std(ddof=1) / math.sqrt(n)
    return float(a.mean()), float(half), n


def welch_p(a, b) -> float:
    """Two-sided p-value of Welch's t-test between the finite values of a and b (NaN when either
    has fewer than 2, or both have no spread)."""
    a, b = finite(a), finite(b)
    if a.size < 2 or b.size < 2:
        return math.nan
    if a.std(ddof=1) == 0 and b.std(ddof=1) == 0:
        return 0.0 if a.mean() != b.mean() else 1.0
    with warnings.catch_warnings():
        # near-identical per-seed values (a network stuck at chance: 0.1 every seed) make scipy
        # warn about precision; the p it returns is still the test's
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def ratio_ci(bn, nobn, level: float = 0.95) -> tuple[float, float, float]:
    """BN / no BN as (ratio, low, high): the ratio of geometric means with the Welch interval of
    the difference of mean logs, exponentiated (a ratio of positive quantities is symmetric on
    the log scale). Values that are not all positive give the ratio of arithmetic means and a
    NaN interval; fewer than 2 seeds on a side give a NaN interval."""
    a, b = finite(bn), finite(nobn)
    if a.size == 0 or b.size == 0:
        return math.nan, math.nan, math.nan
    if (a <= 0).any() or (b <= 0).any():
        return float(a.mean() / b.mean()) if b.mean() != 0 else math.nan, math.nan, math.nan
    la, lb = np.log(a), np.log(b)
    d = la.mean() - lb.mean()
    if a.size < 2 or b.size < 2:
        return float(math.exp(d)), math.nan, math.nan
    va, vb = la.var(ddof=1) / a.size, lb.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    if se == 0:
        return float(math.exp(d)), float(math.exp(d)), float(math.exp(d))
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    t = stats.t.ppf(0.5 + level / 2, df)
    return float(math.exp(d)), float(math.exp(d - t * se)), float(math.exp(d + t * se))


def fmt(x: float, digits: int = 3) -> str:
    """x with `digits` significant digits; "nan" for NaN, "inf" for infinities."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def fmt_ci(mean: float, half: float, digits: int = 3) -> str:
    """"mean +- half" (just the mean when the half-width is NaN)."""
    return fmt(mean, digits) if math.isnan(half) else f"{fmt(mean, digits)} +- {fmt(half, 2)}"


def fmt_ratio(r: tuple[float, float, float]) -> str:
    """"ratio [low, high]" of ratio_ci."""
    ratio, lo, hi = r
    return fmt(ratio) if math.isnan(lo) else f"{fmt(ratio)} [{fmt(lo)}, {fmt(hi)}]"


VARIANTS = {"none": "no BN", "custom": "BN"}


def compare_variants(runs: list[dict], measures: list[tuple[str, str]],
                     always: tuple[str, ...] = ("final_acc", "epoch_end_acc")) -> dict:
    """BN vs no BN over `runs` (dicts with "bn", "trained", "diverged" and each measure key):
    per variant the seed count, how many trained / diverged, and per measure mean, CI, n and the
    per-seed values (of trained runs only, except the keys in `always`); under "compare" per
    measure the BN / no BN ratio_ci and Welch p."""
    cell: dict = {}
    for bn in VARIANTS:
        rs = [r for r in runs if r["bn"] == bn]
        cell[bn] = {"seeds": len(rs), "trained": sum(r["trained"] for r in rs),
                    "diverged": sum(r["diverged"] for r in rs)}
        for key, _ in measures:
            vals = [r[key] for r in rs if r["trained"] or key in always]
            m, h, n = mean_ci(vals)
            cell[bn][key] = {"mean": m, "ci": h, "n": n, "values": vals}
    cell["compare"] = {}
    for key, _ in measures:
        a, b = cell["custom"][key]["values"], cell["none"][key]["values"]
        ratio, lo, hi = ratio_ci(a, b)
        cell["compare"][key] = {"ratio": ratio, "lo": lo, "hi": hi, "p": welch_p(a, b),
                                "n_bn": len(finite(a)), "n_nobn": len(finite(b))}
    return cell


def variant_rows(cell: dict, measures: list[tuple[str, str]]) -> list[str]:
    """Markdown table of compare_variants' cell: measure, no BN, BN, ratio [CI], Welch p."""
    lines = ["| measure | no BN | BN | BN / no BN [95% CI] | Welch p |", "|---|---|---|---|---|"]
    for key, label in measures:
        a, b, c = cell["none"][key], cell["custom"][key], cell["compare"][key]
        lines.append(f"| {label} | {fmt_ci(a['mean'], a['ci'])} (n={a['n']}) | {fmt_ci(b['mean'], b['ci'])} (n={b['n']}) | "
                     f"{fmt_ratio((c['ratio'], c['lo'], c['hi']))} | {fmt(c['p'], 2)} |")
    return lines


def strip_values(obj):
    """A copy of a result tree without the per-seed "values" lists (for results.json)."""
    if isinstance(obj, dict):
        return {k: strip_values(v) for k, v in obj.items() if k != "values"}
    if isinstance(obj, list):
        return [strip_values(v) for v in obj]
    return obj
