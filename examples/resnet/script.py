#!/usr/bin/python3
"""Scripts the example ResNet (model.py) with and without BN and saves both as TorchScript
archives that `bnlandscape --arch torchscript --model FILE.pt` trains and probes:

    /usr/bin/python3 examples/resnet/script.py            # -> examples/resnet/resnet20_bn.pt, resnet20_nobn.pt

The initial weights are drawn after torch.manual_seed(--seed) (the BN and no-BN networks each
from a freshly seeded generator) and with a fixed PYTHONHASHSEED (the script re-executes itself
with it), so the same arguments write byte-identical files; the file is the network's
initialisation (bnlandscape trains from the weights saved in it).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import ResNet  # noqa: E402

# TorchScript writes a module's constants in the order of a Python set of their names, which
# string hashing randomises per process; a fixed hash seed makes the archive byte-identical.
HASH_SEED = "0"


def build(depth: int, widths, in_channels: int, num_classes: int, bn: bool, shortcut: str,
          seed: int) -> torch.jit.ScriptModule:
    """The scripted ResNet, initialised after torch.manual_seed(seed)."""
    torch.manual_seed(seed)
    net = ResNet(depth, widths, in_channels, num_classes, bn=bn, shortcut=shortcut)
    return torch.jit.script(net)


def main(argv=None) -> int:
    if os.environ.get("PYTHONHASHSEED") != HASH_SEED:
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *(sys.argv[1:] if argv is None else argv)],
                  dict(os.environ, PYTHONHASHSEED=HASH_SEED))
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--depth", type=int, default=20, help="6n + 2 (8, 14, 20, 32, ...); default 20")
    ap.add_argument("--widths", default="8,16,32", help="the three stages' channels (the paper: 16,32,64)")
    ap.add_argument("--in-channels", type=int, default=1, help="1 for Fashion-MNIST, 3 for CIFAR-10")
    ap.add_argument("--num-classes", type=int, default=10)
    ap.add_argument("--shortcut", choices=("A", "B"), default="A",
                    help="A: zero-padded identity (the paper's CIFAR nets); B: 1x1 convolution")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-dir", default=here, help="where the two .pt files go (default: next to this script)")
    a = ap.parse_args(argv)
    widths = [int(w) for w in a.widths.split(",")]
    os.makedirs(a.out_dir, exist_ok=True)
    for bn, name in ((True, "bn"), (False, "nobn")):
        module = build(a.depth, widths, a.in_channels, a.num_classes, bn, a.shortcut, a.seed)
        path = os.path.join(a.out_dir, f"resnet{a.depth}_{name}.pt")
        module.save(path)
        params = sum(p.numel() for p in module.parameters())
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        print(f"{path}: {params} parameters, sha256 {digest[:16]}...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
