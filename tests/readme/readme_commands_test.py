"""Every command of README.md, as written, on a fresh checkout (issue 28: "the README's every
command works as written on a fresh checkout").

    /usr/bin/python3 tests/readme/readme_commands_test.py [--binary build/bnlandscape] [--keep DIR]
        [--list]

The commands are read from README.md's ```sh blocks (a line ending in a backslash continues on
the next), in order, and run one by one with bash from the root of a fresh copy of the checkout
(the files git tracks or would track, nothing built or written by a run), so they cannot drift
from the page. Every command runs, whatever failed before it; the test then lists every failure
(command, exit code, the end of its output) and exits 1, or 0 when all passed.

What differs from a user's terminal, each for a stated reason:

- The data are cut down: ``build/bnlandscape`` in the copy is a wrapper around the binary under
  test that appends ``--train-subset 1407 --batch-size 3 --test-subset 200 --hidden-dims 64,32``
  to every ``train`` and ``probe`` that trains (not ``--checkpoint``, ``--resume`` or
  ``--dump-config``; those take the checkpoint's settings). 1407 examples in batches of 3 are
  469 steps per epoch, as the full set in batches of 128, so the checkpoint groups the README
  names (step_0000469) exist; the narrower MLP makes each step cheap. ``surface`` gets
  ``--surface-size 200`` (the loss at each of the 51 x 51 points over 200 examples).
- scripts/build.sh is not run (the binary under test is the build); scripts/install-deps.sh runs
  as written (it installs only what is missing). scripts/test.sh is only checked by ``bash -n``:
  it runs the whole suite, this test included.
- Placeholders of the page are filled in (PLACEHOLDERS below): a command whose placeholder is no
  longer on the page fails the test, so the table follows the page.

ctest label ``readme``; about two minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CUT = "--train-subset 1407 --batch-size 3 --test-subset 200 --hidden-dims 64,32"
SURFACE_CUT = "--surface-size 200"
TIMEOUT = 600  # seconds per command (generous: the machines that run the suite may be shared)

# (text on the page, what runs instead, why): the page's placeholders and optional parts.
PLACEHOLDERS = [
    ("--config sweep.toml", "--config sweep.toml",
     "sweep.toml: the user's sweep file; the test writes a small one (SWEEP_TOML)"),
    ("probe --checkpoint run.h5 ...",
     "probe --checkpoint run.h5 --checkpoint-group /checkpoints/step_0000469 --probe-batch fixed"
     " --probe-microbatch 64 --out launch.h5",
     "'...': the probe's other options (split over ranks, the probe set needs --probe-microbatch)"),
    ("--config FILE", "--config configs/corrected/fashion_mlp_bn_lr0.1.toml", "FILE: a configuration file"),
    (" [--watch 10]", "", "[--watch 10]: optional, and it never returns"),
]
SWEEP_TOML = """\
# A small sweep (written by tests/readme/readme_commands_test.py for README's `sweep --config sweep.toml`).
dataset = "fashion-mnist"
arch = "mlp"
hidden_dims = "32,16"
epochs = 1
train_subset = 512
test_subset = 200
[sweep]
bn = ["none", "custom"]
seed = [0, 1]
"""
# Commands checked but not run, and why.
NOT_RUN = {
    "bash scripts/test.sh": "runs the whole test suite, this test included (checked with bash -n)",
}

WRAPPER = """#!/bin/sh
# The binary under test with the data cut down (tests/readme/readme_commands_test.py).
real={real}
case "$1" in
  train|probe)
    for a in "$@"; do
      case "$a" in --checkpoint|--checkpoint=*|--resume|--resume=*|--dump-config) exec "$real" "$@";; esac
    done
    exec "$real" "$@" {cut};;
  surface)
    exec "$real" "$@" {surface_cut};;
esac
exec "$real" "$@"
"""


def readme_commands(text: str) -> list[str]:
    """The commands of README.md's ```sh blocks, continuation lines joined, comments and blank
    lines left out."""
    out = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M):
        pending = ""
        for line in block.splitlines():
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            line = pending + line
            pending = ""
            if line.strip() and not line.strip().startswith("#"):
                out.append(line.strip())
    return out


def fill_placeholders(commands: list[str]) -> tuple[list[str], list[str]]:
    """The commands with PLACEHOLDERS filled in; and a problem for each placeholder not found."""
    problems = []
    out = list(commands)
    for page, runs, why in PLACEHOLDERS:
        hits = [i for i, c in enumerate(out) if page in c]
        if not hits:
            problems.append(f"placeholder {page!r} ({why}) is no longer in README.md: update PLACEHOLDERS")
        for i in hits:
            out[i] = out[i].replace(page, runs)
    return out, problems


def fresh_checkout(dest: Path, binary: str) -> None:
    """The files git tracks or would track (not ignored), copied to dest; build/bnlandscape the
    cut-down wrapper around `binary`; scripts/build.sh a no-op."""
    files = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           capture_output=True, check=True).stdout.decode().split("\0")
    for f in files:
        src = REPO / f
        if not f or not src.is_file():
            continue
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / f)
    (dest / "build").mkdir(exist_ok=True)
    w = dest / "build" / "bnlandscape"
    w.write_text(WRAPPER.format(real=shlex.quote(os.path.abspath(binary)), cut=CUT, surface_cut=SURFACE_CUT))
    w.chmod(w.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    (dest / "scripts" / "build.sh").write_text("#!/usr/bin/env bash\n# not run by the README test: the binary "
                                               "under test is the build\nexit 0\n")
    (dest / "sweep.toml").write_text(SWEEP_TOML)


def run_all(root: Path, commands: list[str], log) -> list[str]:
    """Runs each command with bash in `root` (variables such as B= carry over); returns the
    failures, one paragraph each."""
    failures = []
    env = dict(os.environ, HDF5_USE_FILE_LOCKING="FALSE", MPLBACKEND="Agg")
    state = root / ".readme_test_env"
    state.write_text("")
    for i, cmd in enumerate(commands, 1):
        bare = cmd.split("#")[0].strip()  # the command without its comment
        if bare in NOT_RUN:
            script = bare.split()[-1]
            p = subprocess.run(["bash", "-n", script], cwd=root, capture_output=True, text=True)
            log(f"[{i}] {cmd}\n    not run: {NOT_RUN[bare]}; bash -n: exit {p.returncode}")
            if p.returncode != 0:
                failures.append(f"{cmd}\n    bash -n exit {p.returncode}: {p.stderr.strip()}")
            continue
        # Each command in its own bash, after the variable assignments of the ones before.
        script = f"set -o pipefail\n. ./.readme_test_env\n{cmd}\n"
        assign = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(\S+)", cmd)
        t0 = time.time()
        try:
            p = subprocess.run(["bash", "-c", script], cwd=root, env=env, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=TIMEOUT)
            code, output = p.returncode, p.stdout + p.stderr
        except subprocess.TimeoutExpired as e:
            text = [x.decode(errors="replace") if isinstance(x, bytes) else (x or "") for x in (e.stdout, e.stderr)]
            code, output = "timeout", f"(killed after {TIMEOUT} s) " + "".join(text)
        log(f"[{i}] {cmd}\n    exit {code}, {time.time() - t0:.1f} s")
        if assign and code == 0:
            with state.open("a") as f:
                f.write(cmd + "\n")
        if code != 0:
            tail = "\n".join("      " + ln for ln in str(output).strip().splitlines()[-6:])
            failures.append(f"{cmd}\n    exit {code}; output ends:\n{tail}")
    return failures


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.environ.get("BNL_BINARY", str(REPO / "build" / "bnlandscape")))
    ap.add_argument("--keep", metavar="DIR", help="run in DIR (created) and keep it")
    ap.add_argument("--list", action="store_true", help="print the commands as they will run, and exit")
    a = ap.parse_args(argv)
    commands, problems = fill_placeholders(readme_commands((REPO / "README.md").read_text()))
    if a.list:
        print("\n".join(commands))
        return 0
    if not os.access(a.binary, os.X_OK):
        print(f"readme_commands: expected the binary at {a.binary}, not found", file=sys.stderr)
        return 1
    root = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="bnl_readme_"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        fresh_checkout(root, a.binary)
        t0 = time.time()
        failures = problems + run_all(root, commands, lambda s: print(s, flush=True))
        print(f"{len(commands)} README commands in {time.time() - t0:.0f} s, {len(failures)} failed")
    finally:
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)
    if failures:
        print("\nFAILED:\n" + "\n".join(f"- {f}" for f in failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
