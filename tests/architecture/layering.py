#!/usr/bin/python3
"""The layering rule of docs/architecture.md, checked on the sources: the computing areas
(core, data, models, probes, train) include nothing from the areas above them (io, record,
cli) nor HDF5 or CLI11, so that they build and test without either.

Usage: layering.py [ROOT]   (ROOT: the repository, default: two levels above this file)
Prints one line per offending include, "<file>:<line>: includes <what> (<rule>)", and exits 1
when there is any, 0 otherwise (2 when ROOT has no include/ or src/).
"""

import pathlib
import re
import sys

# The areas that must stay free of storage, schema and command line.
COMPUTING_AREAS = ("core", "data", "models", "probes", "stats", "train")

# (pattern on the included name, why it is forbidden)
FORBIDDEN = (
    (re.compile(r"^bnlandscape/(io|record|cli)/"), "the io, record and cli areas sit above"),
    (re.compile(r"^(H5[A-Za-z]*\.h|hdf5(_hl)?\.h)$"), "only io/ touches HDF5"),
    (re.compile(r"^CLI/"), "only cli/ touches CLI11"),
)

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
SOURCE_SUFFIXES = {".h", ".hpp", ".cpp", ".cc", ".inl"}


def sources(root):
    """Every header and source file of the computing areas under ROOT."""
    for area in COMPUTING_AREAS:
        for top in (root / "include" / "bnlandscape" / area, root / "src" / area):
            if top.is_dir():
                yield from sorted(p for p in top.rglob("*") if p.suffix in SOURCE_SUFFIXES)


def violations(root):
    """(file, line number, included name, reason) of every forbidden include under ROOT."""
    out = []
    for path in sources(root):
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            m = INCLUDE.match(line)
            if not m:
                continue
            for pattern, reason in FORBIDDEN:
                if pattern.search(m.group(1)):
                    out.append((path.relative_to(root), number, m.group(1), reason))
    return out


def main(argv):
    root = pathlib.Path(argv[1] if len(argv) > 1 else pathlib.Path(__file__).resolve().parents[2])
    if not (root / "include").is_dir() or not (root / "src").is_dir():
        print(f"layering.py: expected include/ and src/ under {root}", file=sys.stderr)
        return 2
    found = violations(root)
    for path, number, name, reason in found:
        print(f"{path}:{number}: includes {name} ({reason})")
    checked = sum(1 for _ in sources(root))
    if found:
        print(f"layering.py: {len(found)} forbidden include(s) in {checked} files", file=sys.stderr)
        return 1
    print(f"layering.py: {checked} files of {', '.join(COMPUTING_AREAS)} include no io, record, cli, HDF5 or CLI11")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
