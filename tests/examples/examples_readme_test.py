"""Every command of examples/README.md, as written but on less data, and the page's Python block
on their results (issue 26: "examples/ runs as documented"), so the example cannot rot.

    /usr/bin/python3 tests/examples/examples_readme_test.py [--binary build/bnlandscape] [--keep DIR]

The ```sh blocks' commands run in order with bash from a scratch directory holding a copy of
examples/ and plots/ and `build/bnlandscape`, the binary under test. Differences from the page,
each replaced in the command text (CUTS; a cut whose text is no longer on the page fails the
test, so the table follows the page):

- `--train-subset 5000` becomes `--train-subset 96 --batch-size 32` (3 steps instead of 40) and
  `--test-subset 2000` 64: ResNet-20 steps cost about a second on a loaded 2-core machine;
- the probe sets (`--probe-size 128`, `256`) become 64 examples, within the 96;
- `--trace-samples 10` becomes 2.

Then the ```python block runs in the scratch directory and must leave a `net` that holds the
run's newest checkpoint (equal tensors) in evaluation mode. Exit 0 when everything passed, else
1 with each failure (command, exit code, the end of its output). About a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "examples" / "README.md"
CUTS = [
    ("--train-subset 5000", "--train-subset 96 --batch-size 32"),
    ("--test-subset 2000", "--test-subset 64"),
    ("--probe-size 128", "--probe-size 64"),
    ("--probe-size 256", "--probe-size 64"),
    ("--trace-samples 10", "--trace-samples 2"),
]
TIMEOUT = 600  # seconds per command


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.S | re.M)


def page_commands(text: str) -> list[str]:
    """The commands of the page's ```sh blocks, comments and blank lines left out."""
    return [ln.strip() for b in blocks(text, "sh") for ln in b.splitlines()
            if ln.strip() and not ln.strip().startswith("#")]


def cut(commands: list[str]) -> tuple[list[str], list[str]]:
    """The commands with CUTS applied; and a problem for each cut not found on the page."""
    problems = [f"cut {page!r} is no longer in examples/README.md: update CUTS" for page, _ in CUTS
                if not any(page in c for c in commands)]
    out = []
    for c in commands:
        for page, runs in CUTS:
            c = c.replace(page, runs)
        out.append(c)
    return out, problems


def check_python_block(root: Path, text: str) -> list[str]:
    """Runs the page's python block in `root`; the loaded net must hold the newest checkpoint."""
    code = blocks(text, "python")
    if len(code) != 1:
        return [f"examples/README.md: expected one python block, got {len(code)}"]
    check = code[0] + (
        "\nassert not net.training\n"
        "sd = net.state_dict()\n"
        "assert sorted(sd) == sorted(state), (sorted(sd), sorted(state))\n"
        "assert all(torch.equal(sd[k], state[k]) for k in sd)\n"
        "print('python block: loaded', len(sd), 'tensors')\n")
    p = subprocess.run([sys.executable, "-c", check], cwd=root, capture_output=True, text=True, timeout=TIMEOUT)
    print(p.stdout.strip())
    return [] if p.returncode == 0 else [f"python block: exit {p.returncode}\n{p.stdout}{p.stderr}"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.environ.get("BNL_BINARY", str(REPO / "build" / "bnlandscape")))
    ap.add_argument("--keep", metavar="DIR", help="run in DIR (created) and keep it")
    a = ap.parse_args(argv)
    if not os.access(a.binary, os.X_OK):
        print(f"examples_readme: expected the binary at {a.binary}, not found", file=sys.stderr)
        return 1
    text = PAGE.read_text()
    commands, failures = cut(page_commands(text))
    root = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="bnl_examples_"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        for d in ("examples", "plots"):
            shutil.copytree(REPO / d, root / d, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("*.pt", "__pycache__"))
        (root / "build").mkdir(exist_ok=True)
        link = root / "build" / "bnlandscape"
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(os.path.abspath(a.binary))
        env = dict(os.environ, HDF5_USE_FILE_LOCKING="FALSE", MPLBACKEND="Agg")
        for i, cmd in enumerate(commands, 1):
            t0 = time.time()
            p = subprocess.run(["bash", "-c", cmd], cwd=root, env=env, capture_output=True, text=True,
                               timeout=TIMEOUT, stdin=subprocess.DEVNULL)
            print(f"[{i}] {cmd}\n    exit {p.returncode}, {time.time() - t0:.1f} s", flush=True)
            if p.returncode != 0:
                tail = "\n".join("      " + ln for ln in (p.stdout + p.stderr).strip().splitlines()[-8:])
                failures.append(f"{cmd}\n    exit {p.returncode}; output ends:\n{tail}")
        failures += check_python_block(root, text)
    finally:
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"{len(commands)} commands of examples/README.md, {len(failures)} failures")
    for f in failures:
        print("FAILED: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
