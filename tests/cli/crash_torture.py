#!/usr/bin/python3
"""Kill -9 torture of a run file (issue 16).

Runs one bnlandscape run (train or online probe, with activations, ICS and frequent
checkpoints) uninterrupted as the reference, then the same run again while killing it with
SIGKILL at pseudo-random instants and resuming it each time (`--resume`), until it completes.
Kills come three ways, mixed: an external SIGKILL at a random time; an external SIGKILL at a
random time while every commit pauses 20 ms in the middle of writing its image (so that many
kills land inside a commit); and the test-only hook BNL_TEST_COMMIT_HOOK, which makes the
process kill itself at a chosen stage (flushed, mid-write, written, renamed) of a chosen commit.

After every kill: the file opens with plain h5py, every dataset reads back in full, and every
series holds a prefix of the reference's rows, value for value. At the end, every dataset of
the resumed file (series, final checkpoint weights) equals the reference's, wall times aside.

Usage: crash_torture.py --binary build/bnlandscape --mode train|probe --kills 30 [--seed 1] [--threads 1]
Prints one summary line per kill with --verbose, and a closing line
"N passed, 0 failed" (one per kill plus the final comparison); exit 0 when all passed.
"""

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

TIMING = ("wall_time", "seconds", "allreduce_seconds")
STAGES = ("flushed", "mid-write", "written", "renamed")


def run_args(mode, out, threads=1):
    common = (" --dataset fashion-mnist --train-subset 1536 --test-subset 256 --hidden-dims 32,16"
              " --batch-size 64 --epochs 3 --seed 7 --threads %d --checkpoint-every 6 --flush-every 3" % threads +
              " --eval-every 12 --activations-every 8 --ics-every 8 --quiet")
    if mode == "probe":
        common += " --step-interval 9 --top-k 2 --trace-samples 2 --probe-size 128"
    return mode + common + " --out " + out


def wait_for_commit(path, before, proc):
    """Waits until `path` is (re)written after `before` (its mtime then) or `proc` ends."""
    while proc.poll() is None:
        try:
            if os.stat(path).st_mtime_ns != before:
                break
        except FileNotFoundError:
            pass
        time.sleep(0.005)
    return time.monotonic()


def resume_step(out):
    """Step of the checkpoint a resume of `out` starts from (0 for a fresh start)."""
    if not os.path.exists(out):
        return 0
    with h5py.File(out, "r") as f:
        if "checkpoints" not in f or len(f["checkpoints"]) == 0 or f.attrs["status"] == "complete":
            return 0
        return max(int(k[5:]) for k in f["checkpoints"])


def resume_or_start(a, out):
    """`--resume` when the file has a checkpoint, else the run from scratch over what is there."""
    resume = False
    if os.path.exists(out):
        with h5py.File(out, "r") as f:
            # A run killed after its final commit is complete: start it over to kill it again.
            resume = "checkpoints" in f and len(f["checkpoints"]) > 0 and f.attrs["status"] != "complete"
    if resume:
        return "%s %s --resume %s --quiet" % (a.binary, a.mode, out)
    return a.binary + " " + run_args(a.mode, out, a.threads) + " --overwrite"


def timing_column(name):
    leaf = name.split("/")[-1]
    return leaf in TIMING or leaf.endswith("_seconds")


def series_prefix_check(ref, path):
    """The file opens, every dataset reads, every series is a prefix of the reference's rows."""
    with h5py.File(path, "r") as f, h5py.File(ref, "r") as r:
        names = []
        f.visit(lambda n: names.append(n) if isinstance(f[n], h5py.Dataset) else None)
        for n in names:
            x = f[n][()]  # reads every chunk
            if n.startswith("checkpoints/") or timing_column(n) or n not in r:
                continue
            y = r[n][()]
            if x.ndim == 0 or y.ndim == 0 or f[n].maxshape[0] is not None:
                continue  # fixed arrays: written once
            if x.shape[0] > y.shape[0] or not np.array_equal(x, y[: x.shape[0]], equal_nan=True):
                return "%s: rows differ from the reference (%d rows)" % (n, x.shape[0])
        rows = len(f["train/steps/step"]) if "train/steps/step" in f else -1
        ck = sorted(f["checkpoints"].keys()) if "checkpoints" in f else []
        return rows, ck


def same_run(ref, path):
    with h5py.File(ref, "r") as a, h5py.File(path, "r") as b:
        if b.attrs["status"] != "complete":
            return "status %s" % b.attrs["status"]
        names = []
        a.visit(lambda n: names.append(n) if isinstance(a[n], h5py.Dataset) else None)
        checked = 0
        for n in names:
            if timing_column(n) or "/_state/" in n:
                continue
            if n not in b:
                return "missing " + n
            x, y = a[n][()], b[n][()]
            if x.shape != y.shape or not np.array_equal(x, y, equal_nan=True):
                return "%s differs: %s vs %s" % (n, np.ravel(x)[:3], np.ravel(y)[:3])
            checked += 1
        return checked


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--mode", choices=("train", "probe"), default="train")
    ap.add_argument("--kills", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1,
                    help="--threads of the run (2 or more: an online probe run measures beside training)")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--keep", help="directory to keep the files in")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    work = a.keep or tempfile.mkdtemp(prefix="bnl_torture_")
    os.makedirs(work, exist_ok=True)
    ref, out = os.path.join(work, "ref.h5"), os.path.join(work, "t.h5")
    for p in (ref, out, out + ".lock", out + ".tmp"):
        if os.path.exists(p):
            os.remove(p)
    env = dict(os.environ)
    env.pop("BNL_TEST_COMMIT_HOOK", None)
    t0 = time.monotonic()
    p = subprocess.Popen(a.binary + " " + run_args(a.mode, ref, a.threads), shell=True, env=env)
    appeared = wait_for_commit(ref, None, p)
    if p.wait() != 0:
        raise SystemExit("reference run failed")
    # The part of a run's life that has a file: startup (data loading) is not worth killing.
    duration = time.monotonic() - appeared
    startup = appeared - t0
    # Commits of a run from start to end: the hook's commit numbers are drawn below this.
    with h5py.File(ref, "r") as f:
        steps = len(f["train/steps/step"])

    passed, failed = 0, 0
    instants, inside, kinds = [], 0, {"external": 0, "paused": 0, "hook": 0}
    started = time.monotonic()
    kills = 0
    restarts = 0
    while kills < a.kills:
        cmd = resume_or_start(a, out)
        kind = rng.choice(("external", "external", "paused", "hook", "hook"))
        penv = dict(env)
        delay = None
        if kind == "hook":
            # A commit every 3 steps: draw among those the process still makes.
            left_commits = max(1, (steps - resume_step(out)) // 3)
            penv["BNL_TEST_COMMIT_HOOK"] = "%s:%d" % (rng.choice(STAGES), rng.randint(1, left_commits))
        else:
            if kind == "paused":
                penv["BNL_TEST_COMMIT_HOOK"] = "mid-write:*:20"
            # Over what is left of the run (a resume starts at its newest checkpoint).
            left = duration * (steps - resume_step(out)) / steps
            delay = rng.uniform(0.0, left * (1.6 if kind == "paused" else 1.05))
        before = os.stat(out).st_mtime_ns if os.path.exists(out) else None
        p = subprocess.Popen(cmd, shell=True, env=penv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             start_new_session=True)
        # Instants are counted from the process's first commit, over the rest of its life.
        ts = wait_for_commit(out, before, p)
        if delay is not None:
            try:
                p.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        err = p.communicate()[1].decode(errors="replace")
        rc = p.returncode
        if rc == 0:
            if os.path.exists(out) and h5py.File(out, "r").attrs["status"] == "complete":
                # Finished before the kill: start the run again from scratch.
                os.remove(out)
                restarts += 1
                continue
        if rc not in (-9, 137):
            print("FAIL: run exited %s without being killed\n%s" % (rc, err[-2000:]))
            failed += 1
            break
        kills += 1
        kinds[kind] += 1
        instants.append(time.monotonic() - ts)
        torn = os.path.exists(out + ".tmp")
        inside += torn or kind == "hook"
        if not os.path.exists(out):
            verdict = "no file yet"
            ok = True
        else:
            try:
                res = series_prefix_check(ref, out)
                ok = isinstance(res, tuple)
                verdict = ("rows %d, checkpoints %d" % (res[0], len(res[1]))) if ok else res
            except Exception as e:  # noqa: BLE001 - any failure to read is the failure tested for
                ok, verdict = False, "unreadable: %r" % (e,)
        if ok:
            passed += 1
        else:
            failed += 1
        if a.verbose or not ok:
            print("kill %3d %-8s %-22s at %.3fs%s: %s %s" % (
                kills, kind, penv.get("BNL_TEST_COMMIT_HOOK", ""), instants[-1], " (inside a commit)" if torn else "",
                "ok" if ok else "FAIL", verdict), flush=True)
    # Resume to the end.
    while failed == 0:
        cmd = resume_or_start(a, out)
        r = subprocess.run(cmd, shell=True, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            print("FAIL: final resume exited %d\n%s" % (r.returncode, r.stderr[-2000:]))
            failed += 1
        break
    if failed == 0:
        res = same_run(ref, out)
        if isinstance(res, int):
            passed += 1
            print("final file equals the uninterrupted run: %d datasets, %d steps" % (res, steps))
        else:
            failed += 1
            print("FAIL: final file differs from the uninterrupted run: %s" % res)
    q = np.percentile(instants, [0, 25, 50, 75, 100]) if instants else []
    print("%s: %d kills (%s), %d inside a commit, %d restarts from scratch; kill instants after the process's first commit "
          "min/q1/median/q3/max %s s (reference run: %.2f s to its first commit, then %.2f s); %.1f s in all" % (
              a.mode, kills, ", ".join("%s %d" % kv for kv in kinds.items()), inside, restarts,
              "/".join("%.2f" % v for v in q), startup, duration, time.monotonic() - started))
    print("%d passed, %d failed" % (passed, failed))
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
