"""The report in a real browser: headless Chromium opens the HTML report of small real runs from a
file:// URL with the network off, and the test fails on any console error, on a figure container
without a rendered plot, or on a missing section. It saves a full-page screenshot.

    /usr/bin/python3 tests/report/browser_test.py [--binary build/bnlandscape] [--keep DIR]
        [--screenshot report.png]

Runs (bnlandscape, Fashion-MNIST subsets, about a minute on 2 cores): BN and no BN probed every
4 steps with the SLQ density, per-layer eigenvalues, the Hessian trace, activations and ICS;
a 2-D surface around the BN run's last checkpoint (with its trajectory) and a 1-D one along the
gradient; a run that diverges. The page must show every section.

Exit codes: 0 passed, 1 failed, 77 skipped (no chromium; ``bash scripts/install-deps.sh``
installs Debian's). Standard library only (plus what the report itself needs).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
SECTIONS = ("summary", "training", "landscape", "curvature", "density", "surfaces", "activations",
            "ics")
SKIP = 77
SMALL = ["--train-subset", "2000", "--test-subset", "500", "--epochs", "2", "--hidden-dims",
         "64,32", "--threads", "1", "--quiet", "--overwrite"]
# Chromium's log of the page's console (one level for all): lines that are errors.
CONSOLE_ERROR = re.compile(r"CONSOLE.*(Uncaught|Refused|net::ERR|Error|error)")


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        p = shutil.which(name)
        if p:
            return p
    return None


def make_runs(binary: str, d: Path) -> None:
    """The run files of the page (see the module doc)."""
    def run(*args, ok=(0,)):
        p = subprocess.run([binary, *args], capture_output=True, text=True)
        if p.returncode not in ok:
            raise SystemExit(f"FAIL: {binary} {' '.join(args)} exited {p.returncode}: {p.stderr}")

    for bn in ("none", "custom"):
        run("probe", *SMALL, "--bn", bn, "--step-interval", "4", "--density-runs", "2",
            "--density-steps", "16", "--layer-top-k", "1", "--trace-samples", "4",
            "--activations-every", "4", "--ics-every", "4", "--checkpoint-every", "8",
            "--out", str(d / f"probe_{bn}.h5"))
    ck = ["--checkpoint", str(d / "probe_custom.h5"), "--checkpoint-group", "/checkpoints/step_0000032",
          "--hidden-dims", "64,32", "--bn", "custom", "--surface-size", "300", "--threads", "1",
          "--quiet", "--overwrite"]
    run("surface", *ck, "--resolution", "9", "--out", str(d / "surface_2d.h5"))
    run("surface", *ck, "--dims", "1", "--directions", "gradient", "--resolution", "15",
        "--out", str(d / "surface_1d.h5"))
    run("train", *SMALL, "--bn", "none", "--lr", "1e5", "--out", str(d / "diverged.h5"), ok=(0, 3))


def chromium(browser: str, profile: Path, *args, timeout: int = 240) -> subprocess.CompletedProcess:
    """Headless Chromium with the network off (every host unresolvable; the page's own policy
    blocks any load too), software WebGL for the 3-D surfaces."""
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader",
           "--hide-scrollbars", "--no-first-run", "--disable-extensions",
           "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
           "--virtual-time-budget=30000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def check_dom(dom: str) -> list:
    """Problems of the page after its scripts ran (empty: none)."""
    problems = []
    errors = re.search(r'<html[^>]*data-errors="(\d+)"', dom)
    if not errors:
        problems.append("the page's error capture did not run (no data-errors on <html>)")
    elif errors.group(1) != "0":
        shown = re.search(r'<pre id="report-errors"[^>]*>(.*?)</pre>', dom, re.S)
        problems.append(f"{errors.group(1)} error(s) on the page: {shown.group(1) if shown else '?'}")
    for sid in SECTIONS:
        if not re.search(rf'<(section|header)[^>]*id="{sid}"', dom):
            problems.append(f"section {sid} missing")
    plots = list(re.finditer(r'<div class="([^"]*)" id="(plot-[^"]+)"', dom))
    if not plots:
        problems.append("no figure container")
    for i, m in enumerate(plots):
        end = plots[i + 1].start() if i + 1 < len(plots) else len(dom)
        body = dom[m.end():end]
        if "js-plotly-plot" not in m.group(1) or "main-svg" not in body:
            problems.append(f"figure {m.group(2)} has no rendered plot")
    figs = re.search(r'<body[^>]*data-figures="(\d+)"', dom)
    done = re.search(r'<body[^>]*data-rendered="(\d+)"', dom)
    if not figs or not done or figs.group(1) != done.group(1):
        problems.append(f"figures drawn: {done.group(1) if done else 0} of "
                        f"{figs.group(1) if figs else '?'}")
    return problems


def broken_copy(report: Path) -> Path:
    """The report with three faults the test must see: a figure whose JSON does not parse, a
    console.error, and an image from the network."""
    html = report.read_text(encoding="utf-8")
    html = html.replace("class='figure-data' data-target='plot-training-loss'>{",
                        "class='figure-data' data-target='plot-training-loss'>{oops", 1)
    html = html.replace("</body>", "<script>console.error('planted error')</script>"
                                   "<img src='https://example.com/x.png'></body>", 1)
    bad = report.with_name("broken.html")
    bad.write_text(html, encoding="utf-8")
    return bad


def inspect(browser: str, profile: Path, page: Path) -> tuple:
    """(problems, dom) of the page opened in Chromium."""
    r = chromium(browser, profile, "--dump-dom", page.resolve().as_uri())
    console = [ln for ln in r.stderr.splitlines() if CONSOLE_ERROR.search(ln)]
    problems = check_dom(r.stdout) + [f"console: {ln}" for ln in console]
    if r.returncode != 0:
        problems.append(f"chromium exited {r.returncode}")
    return problems, r.stdout


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.environ.get("BNL_BINARY", str(REPO / "build" / "bnlandscape")))
    ap.add_argument("--keep", help="directory for the runs, report and screenshot (kept)")
    ap.add_argument("--screenshot", help="where to save the full-page screenshot (default: "
                                         "report.png in --keep DIR, else $TMPDIR/bnl_report_browser.png)")
    args = ap.parse_args(argv)
    browser = find_chromium()
    if browser is None:
        print("SKIP: chromium not found (bash scripts/install-deps.sh installs Debian's chromium)")
        return SKIP
    if not os.access(args.binary, os.X_OK):
        print(f"FAIL: bnlandscape binary {args.binary} not found (build it, or --binary / BNL_BINARY)")
        return 1
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bnl_report_"))
    work.mkdir(parents=True, exist_ok=True)
    runs = work / "runs"
    runs.mkdir(exist_ok=True)
    make_runs(args.binary, runs)
    report = work / "report.html"
    env = dict(os.environ, BNL_BINARY=args.binary)
    p = subprocess.run([PYTHON, "-m", "plots.report", str(runs), "--out", str(report)], cwd=REPO,
                       env=env, capture_output=True, text=True)
    print(p.stdout.strip())
    if p.returncode != 0:
        print(f"FAIL: report generation exited {p.returncode}: {p.stderr}")
        return 1
    url = report.resolve().as_uri()
    profile = work / "chromium-profile"
    problems, dom = inspect(browser, profile, report)
    # The checks themselves: a page with planted faults must fail them.
    planted, _ = inspect(browser, profile, broken_copy(report))
    for what in ("plot-training-loss has no rendered plot", "planted error", "example.com"):
        if not any(what in p for p in planted):
            problems.append(f"self-check: a planted fault went unnoticed ({what}); saw {planted}")
    height = re.search(r'<body[^>]*data-height="(\d+)"', dom)
    shot = Path(args.screenshot) if args.screenshot else (
        work / "report.png" if args.keep else Path(tempfile.gettempdir()) / "bnl_report_browser.png")
    h = min(int(height.group(1)) if height else 4000, 16000)
    s = chromium(browser, profile, f"--window-size=1400,{h}", f"--screenshot={shot.resolve()}", url)
    if s.returncode != 0 or not shot.exists():
        problems.append(f"no screenshot (chromium exited {s.returncode})")
    else:
        print(f"screenshot: {shot} (1400 x {h})")
    if problems:
        print("FAIL:\n  " + "\n  ".join(problems))
        print(f"report kept in {work}")
        return 1
    print(f"PASS: {len(SECTIONS)} sections, every figure drawn, no console error ({url})")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
