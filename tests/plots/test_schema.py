"""Every HDF5 name in plots/schema.py is documented in docs/hdf5_schema.md.

    /usr/bin/python3 -m unittest discover -s tests/plots        (from the repository root)

plots/ and analyses/ read run files only through the names of plots/schema.py; the schema
document is checked against the C++ declaration of the run file, so this chains the Python
readers to the writer. The document is read as a reader would: a section per group (a heading
naming the group's path in backticks, ``## `/probes` ...``); in a section, the names in the
first column of a table whose first header is ``dataset`` (or ``attribute``), the names of its
code blocks (``step  int64 [n] ...``, ``/activations/<layer>/<site>/  attrs: module``), and, for
attributes and group names, the names in backticks of its prose (``Attributes of `/ics`:
`layers` ...``). Root attributes are those of the ``/`` table and those a paragraph introduces
as root attributes.
"""

from __future__ import annotations

import ast
import re
import sys
import tempfile
import unittest
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from plots import schema  # noqa: E402
from plots.schema import Name  # noqa: E402

DOC = REPO / "docs" / "hdf5_schema.md"
TICKED = re.compile(r"`([^`\n]+)`")
CODE_ENTRY = re.compile(r"^([A-Za-z_]\w*(?:,\s*[A-Za-z_]\w*)*)\s{2,}\S")
CODE_ATTRS = re.compile(r"attrs:\s*(.*)$")


@dataclass
class Section:
    """What one group's section of the document names."""

    path: str  # without the leading slash; "" for the root
    datasets: set = field(default_factory=set)
    attributes: set = field(default_factory=set)
    mentioned: set = field(default_factory=set)  # backticked in prose, code-block paths


@dataclass
class Doc:
    sections: dict  # path -> Section
    root_attributes: set


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _words(text: str) -> set[str]:
    """Backticked names, each also split at ``, `` and ``/`` (paths name their parts)."""
    out = set()
    for t in TICKED.findall(text):
        t = t.strip()
        out.add(t.strip("/"))
        out.update(p for p in re.split(r"[/,\s]+", t) if p)
    return out


def parse(text: str) -> Doc:
    sections: dict[str, Section] = {}
    root_attributes: set[str] = set()
    current: Section | None = None
    table_kind = None  # "dataset", "attribute" or None (another table) while in a table
    in_code = False
    paragraph: list[str] = []

    def end_paragraph():
        if paragraph and current is not None:
            text = " ".join(paragraph)
            current.mentioned.update(_words(text))
            # "... carry the root attributes `checkpoint_file` and `checkpoint_group`.": the
            # names from the phrase to the end of its sentence.
            for m in re.finditer(r"root attributes?\b(.*?)(?:\.\s|\.$|$)", text):
                root_attributes.update(_words(m.group(1)))
        paragraph.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            end_paragraph()
            in_code = not in_code
            continue
        if in_code:
            if current is None:
                continue
            m = CODE_ATTRS.search(stripped)
            if m:
                current.attributes.update(re.findall(r"[A-Za-z_]\w*", m.group(1))[:1])
            if stripped.startswith("/"):
                path = stripped.split()[0].strip("/")
                current.mentioned.update(path.split("/"))
                current.datasets.add(path.rpartition("/")[2])
            else:
                m = CODE_ENTRY.match(stripped)
                if m:
                    current.datasets.update(n.strip() for n in m.group(1).split(","))
            continue
        if stripped.startswith("#"):
            end_paragraph()
            table_kind = None
            paths = [t for t in TICKED.findall(stripped) if t.startswith("/")]
            if paths:
                path = paths[0].strip("/")
                current = sections.setdefault(path, Section(path))
            elif stripped.startswith("## "):
                current = None  # a section about no group (storage, reading)
            continue
        if stripped.startswith("|"):
            end_paragraph()
            cells = _cells(stripped)
            if table_kind is None and not set(stripped) <= set("|-: "):
                table_kind = cells[0].lower() if cells[0].lower() in ("dataset", "attribute") \
                    else "other"
                continue
            if set(stripped) <= set("|-: ") or current is None:
                continue
            names = {t.strip() for t in TICKED.findall(cells[0])}
            if table_kind == "dataset":
                current.datasets.update(names)
            elif table_kind == "attribute":
                current.attributes.update(names)
                if current.path == "":
                    root_attributes.update(names)
            continue
        table_kind = None
        if not stripped:
            end_paragraph()
        else:
            paragraph.append(stripped)
    end_paragraph()
    return Doc(sections, root_attributes)


def section_of(doc: Doc, path: str) -> Section | None:
    """The section of the longest documented group path that `path` lies in."""
    best = None
    for p, s in doc.sections.items():
        if p == "" or path == p or path.startswith(p + "/"):
            if best is None or len(p) > len(best.path):
                best = s
    return best


def undocumented(names: list[Name], doc: Doc) -> list[str]:
    """One line per name of `names` that the document does not name where it belongs."""
    problems = []
    for n in names:
        full = f"{n.parent}/{n.name}" if n.parent else n.name
        if n.kind == "group":
            if full in doc.sections or any(p.startswith(full + "/") for p in doc.sections):
                continue
            s = section_of(doc, full)
            rest = full[len(s.path):].strip("/").split("/") if s and s.path else []
            if s and s.path and all(c.startswith("<") or c in s.mentioned for c in rest):
                continue
            problems.append(f"group /{full}")
        elif n.kind == "dataset":
            s = section_of(doc, n.parent)
            if not (s and s.path and n.name in s.datasets):
                problems.append(f"dataset /{full}")
        elif n.kind == "attribute":
            if n.parent == "":
                ok = n.name in doc.root_attributes
            else:
                s = section_of(doc, n.parent)
                ok = bool(s and s.path and (n.name in s.attributes or n.name in s.mentioned))
            if not ok:
                problems.append(f"attribute {n.name} of /{n.parent}")
        else:
            problems.append(f"unknown kind {n.kind!r} of {full}")
    return problems


class SchemaDocumented(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.doc = parse(DOC.read_text())

    def test_every_name_of_plots_schema_is_documented(self):
        self.assertGreater(len(schema.NAMES), 50)
        self.assertEqual(undocumented(schema.NAMES, self.doc), [])

    def test_the_document_is_read_as_intended(self):
        s = self.doc.sections
        self.assertEqual(s["train/steps"].datasets,
                         {"step", "epoch", "loss", "acc", "grad_norm", "lr", "wall_time",
                          "layer_grad_norm", "layer_weight_norm"})
        self.assertIn("layers", s["ics"].mentioned)
        self.assertTrue({"hist", "bin_edges", "mean", "std"} <= s["activations"].datasets)
        self.assertIn("module", s["activations"].attributes)
        self.assertTrue({"config_toml", "status", "seed", "checkpoint_file"}
                        <= self.doc.root_attributes)

    def test_an_unknown_name_is_reported(self):
        planted = [Name("dataset", "probes", "eigvals_top"), Name("group", "", "hessian"),
                   Name("attribute", "surface", "directions_seed"),
                   Name("attribute", "", "git_hash"),
                   Name("group", "activations/<layer>", "pre_bn"),
                   Name("dataset", "train/evals", "train_acc")]
        self.assertEqual(undocumented(schema.NAMES + planted, self.doc),
                         ["dataset /probes/eigvals_top", "group /hessian",
                          "attribute directions_seed of /surface", "attribute git_hash of /",
                          "group /activations/<layer>/pre_bn", "dataset /train/evals/train_acc"])

    def test_a_name_removed_from_the_document_is_reported(self):
        text = DOC.read_text().replace("| `eigvals_bottom` |", "| `eigvals_lowest` |")
        self.assertEqual(undocumented(schema.NAMES, parse(text)),
                         ["dataset /probes/eigvals_bottom"])

    def test_readers_use_the_schema_names(self):
        # No HDF5 path spelled out as a string in plots/ (but schema.py) or analyses/.
        files = [p for p in sorted((REPO / "plots").glob("*.py")) if p.name != "schema.py"]
        files += sorted((REPO / "analyses").rglob("*.py"))
        self.assertEqual(literal_paths(files), [])

    def test_a_literal_path_is_reported(self):
        with tempfile.TemporaryDirectory() as d:
            planted = Path(d) / "family.py"
            planted.write_text('FAMILY = "ics"\n'
                               'def get(r):\n    return r.get("probes/eigvals")\n')
            self.assertEqual(literal_paths([planted]), [f"{planted}: 'probes/eigvals'"])


GROUPS = ("train", "probes", "density", "activations", "ics", "checkpoints", "surface")


def literal_paths(files: list[Path]) -> list[str]:
    """`file: 'path'` for each string constant of `files` that is an HDF5 path of a run file."""
    pattern = re.compile(rf"^/?({'|'.join(GROUPS)})/[\w<>/]+$")
    out = []
    for f in files:
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and pattern.match(node.value):
                name = f.relative_to(REPO) if f.is_relative_to(REPO) else f
                out.append(f"{name}: {node.value!r}")
    return out


if __name__ == "__main__":
    unittest.main()
