"""The page's header: what was compared, the runs (revision, status, configuration), the
``bnlandscape compare`` table with intervals and Welch p-values, and the files not read."""

from __future__ import annotations

import html
import json
import math
import os
import subprocess
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
# Two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom.
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def esc(s) -> str:
    return html.escape(str(s), quote=True)


def find_binary() -> str | None:
    """$BNL_BINARY, else <repo>/build/bnlandscape; None when neither is an executable file."""
    for p in (os.environ.get("BNL_BINARY", ""), str(REPO / "build" / "bnlandscape")):
        if p and os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def run_compare(paths, group_by: str = "bn", binary: str | None = None) -> tuple:
    """(document, message): ``bnlandscape compare PATHS --group-by KEY --format json`` parsed,
    with a warning naming what differs when compare refused unlike runs and they were compared
    with ``--allow-mixed``; or (None, why not)."""
    binary = binary or find_binary()
    if binary is None:
        return None, ("No compare table: the bnlandscape binary was not found (set BNL_BINARY or "
                      "build build/bnlandscape).")
    if not paths:
        return None, "No compare table: no training runs."
    command = [binary, "compare", *paths, "--group-by", group_by, "--format", "json"]
    try:
        p = subprocess.run(command, capture_output=True, text=True, timeout=120)
        note = ""
        if p.returncode == 2 and "--allow-mixed" in p.stderr:
            # compare refuses runs that measured different things; a report shows them all, so it
            # pools them anyway and says above the table what differs.
            note = "These runs did not all measure the same thing: " + p.stderr.strip()[:600]
            p = subprocess.run(command + ["--allow-mixed"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"No compare table: {binary} compare failed ({e})."
    if p.returncode != 0:
        return None, f"No compare table: bnlandscape compare exited {p.returncode}: {p.stderr.strip()[:300]}"
    try:
        return json.loads(p.stdout), note
    except json.JSONDecodeError as e:
        return None, f"No compare table: unreadable output of bnlandscape compare ({e})."


def t975(df: int) -> float:
    """Two-sided 95 % quantile of Student's t (Cornish-Fisher expansion above 30 df)."""
    if df <= 30:
        return T975[df - 1]
    z = 1.959964
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


def interval(values) -> tuple | None:
    """95 % t-interval of the mean of the finite values (n >= 2), or None."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], float)
    if v.size < 2:
        return None
    h = t975(v.size - 1) * v.std(ddof=1) / math.sqrt(v.size)
    return v.mean() - h, v.mean() + h


def fmt(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "\u2013"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) >= 100):
        return f"{int(v)}"
    return f"{v:.4g}"


def compare_table(doc: dict) -> str:
    groups = doc.get("groups", [])
    labels = doc.get("labels", {})
    comp = (doc.get("comparison") or {}).get("metrics", {})
    head = "".join(f"<th>{esc(g['name'])}<br><small>mean \u00b1 sd (n)</small></th>"
                   f"<th>95% interval</th>" for g in groups)
    if comp:
        c = doc["comparison"]
        head += f"<th>ratio {esc(c.get('numerator'))}/{esc(c.get('denominator'))}</th><th>p (Welch)</th>"
    rows = []
    for key, label in labels.items():
        cells = []
        for g in groups:
            m = g.get("metrics", {}).get(key, {})
            sd = f" \u00b1 {fmt(m.get('std'))}" if m.get("std") is not None else ""
            ci = interval(m.get("values") or [])
            cells.append(f"<td>{fmt(m.get('mean'))}{sd} ({m.get('n', 0)})</td>"
                         f"<td>{'[' + fmt(ci[0]) + ', ' + fmt(ci[1]) + ']' if ci else chr(0x2013)}</td>")
        if comp:
            m = comp.get(key, {})
            cells.append(f"<td>{fmt(m.get('ratio'))}</td><td>{fmt(m.get('p_welch'))}</td>")
        rows.append(f"<tr><th scope='row'>{esc(label)}</th>{''.join(cells)}</tr>")
    return (f"<table class='compare'><thead><tr><th>metric (grouped by "
            f"{esc(doc.get('group_by', '?'))})</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            "<p class='note'>From <code>bnlandscape compare --format json</code>: mean \u00b1 sample "
            "standard deviation over a group's runs (n runs have the value); 95% interval: "
            "Student's t interval of the mean (n \u2265 2); ratio and Welch's two-sided p-value "
            "with exactly two groups (n \u2265 2 in both).</p>")


def _config_lines(r) -> str:
    text = str(r.attrs.get("config_toml", ""))
    keep = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    extra = [f"# {k} = {r.attrs[k]}" for k in ("bnlandscape_version", "torch_version", "blas",
                                               "device", "device_name", "host", "start_time",
                                               "end_time") if k in r.attrs]
    return esc("\n".join(keep + extra))


def runs_table(runs) -> str:
    rows = []
    for r in runs:
        steps = len(r.get("train/steps/step")) if r.has("train/steps/step") else "\u2013"
        acc = r.get("train/epochs/test_acc") if r.has("train/epochs/test_acc") else []
        kind = "surface" if r.is_surface else (r.group.label if r.group else "\u2013")
        rows.append(
            f"<tr data-status='{esc(r.status)}'><td><code>{esc(r.name)}</code></td><td>{esc(kind)}</td>"
            f"<td>{esc(r.config.get('seed', r.attrs.get('seed', '')))}</td>"
            f"<td class='status status-{esc(r.status)}'>{esc(r.status_text)}</td><td>{steps}</td>"
            f"<td>{fmt(float(acc[-1])) if len(acc) else chr(0x2013)}</td>"
            f"<td><code>{esc(r.attrs.get('git_revision', '?'))}</code></td>"
            f"<td><details><summary>configuration</summary><pre>{_config_lines(r)}</pre>"
            f"<p>{esc(r.path)}</p></details></td></tr>")
    return ("<table class='runs'><thead><tr><th>file</th><th>group</th><th>seed</th><th>status</th>"
            "<th>steps</th><th>final test acc.</th><th>git revision</th><th></th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def header_html(title: str, runs, groups, errors, compare_doc, compare_msg, live: str = "") -> str:
    trained = [r for r in runs if r.grouped]
    surfaces = [r for r in runs if r.is_surface]
    counts = f"{len(trained)} run{'s' * (len(trained) != 1)} in {len(groups)} group" \
             f"{'s' * (len(groups) != 1)}" + (f", {len(surfaces)} surface file" +
                                               "s" * (len(surfaces) != 1) if surfaces else "")
    revs = sorted({str(r.attrs.get("git_revision", "?")) for r in runs})
    parts = [f"<h1>{esc(title)}</h1>",
             f"<p class='summary'>{esc(counts)}; program revision{'s' * (len(revs) != 1)} "
             f"{', '.join('<code>' + esc(v) + '</code>' for v in revs)}.</p>"]
    if live:
        parts.append(f"<p class='live'>{esc(live)}</p>")
    unfinished = [r for r in runs if r.status != "complete"]
    if unfinished:
        parts.append("<p class='warn'>Not complete: " + "; ".join(
            f"<code>{esc(r.name)}</code> {esc(r.status_text)}" for r in unfinished) + ".</p>")
    if errors:
        parts.append("<div class='unreadable'><p>Could not read:</p><ul>" + "".join(
            f"<li><code>{esc(p)}</code>: {esc(why)}</li>" for p, why in errors) + "</ul></div>")
    parts.append("<details open><summary>Runs</summary>" + runs_table(runs) + "</details>")
    if compare_doc is not None:
        warning = f"<p class='warn compare-mixed'>{esc(compare_msg)}</p>" if compare_msg else ""
        parts.append("<details open><summary>Comparison</summary>" + warning + compare_table(compare_doc)
                     + "</details>")
    elif compare_msg:
        parts.append(f"<p class='note compare-missing'>{esc(compare_msg)}</p>")
    return "<header id='summary'>" + "".join(parts) + "</header>"
