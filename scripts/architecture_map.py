#!/usr/bin/python3
"""Writes (or, with --check, verifies) the file map of docs/architecture.md.

The map is the part of the page between the markers `<!-- file map -->` and `<!-- end file map -->`:
one table per area, one row per header of include/bnlandscape/<area>/, with the first sentence of
the header's `/// \\file` comment as its role. Generating it from the headers keeps the page true
as files come and go; `--check` (a ctest) fails when the committed page is stale.
"""
import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- file map -->", "<!-- end file map -->"


def role(path):
    """The first sentence of the header's `/// \\file` block (its doc lines joined)."""
    lines = open(path, encoding="utf-8").read().split("\n")
    text = []
    for i, line in enumerate(lines):
        if line.strip() == "/// \\file":
            for l in lines[i + 1:]:
                s = l.strip()
                if not s.startswith("///") or s == "///":
                    break
                text.append(s[3:].strip())
            break
    joined = " ".join(text)
    m = re.match(r"(.+?[^.]\.)(\s|$)", joined)  # up to the first full stop ("e.g." aside)
    first = m.group(1) if m else joined
    first = re.sub(r"\be\.g\.$", "", first)
    return first if first else "(no \\file comment)"


def file_map(root):
    inc = os.path.join(root, "include", "bnlandscape")
    out = []
    for area in sorted(os.listdir(inc)):
        adir = os.path.join(inc, area)
        if not os.path.isdir(adir):
            continue
        out.append(f"### `{area}/`\n")
        out.append("| header | role |")
        out.append("| --- | --- |")
        for h in sorted(f for f in os.listdir(adir) if f.endswith(".h")):
            out.append(f"| `{h}` | {role(os.path.join(adir, h)).replace('|', '/')} |")
        out.append("")
    return "\n".join(out)


def render(page, root):
    if BEGIN not in page or END not in page:
        raise SystemExit(f"docs/architecture.md: expected the markers {BEGIN} and {END}")
    head, rest = page.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + BEGIN + "\n" + file_map(root) + END + tail


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="fail (exit 1) if the committed map is stale")
    ap.add_argument("--root", default=ROOT, help="source tree (default: this script's)")
    a = ap.parse_args(argv)
    path = os.path.join(a.root, "docs", "architecture.md")
    page = open(path, encoding="utf-8").read()
    new = render(page, a.root)
    if a.check:
        if new != page:
            print("docs/architecture.md: the file map is stale; run: /usr/bin/python3 scripts/architecture_map.py",
                  file=sys.stderr)
            return 1
        return 0
    if new != page:
        open(path, "w", encoding="utf-8").write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
