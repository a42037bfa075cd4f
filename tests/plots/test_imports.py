"""The plots package imports in one direction and without side effects.

    /usr/bin/python3 -m unittest discover -s tests/plots        (from the repository root)

- Static: the imports between plots/*.py (read with ast, at module level and inside functions)
  go from a layer only to the layers below it: schema -> runs -> grouping -> style -> figure
  families -> registry -> cli -> entry points (plots/__main__.py, plots/make_all.py), and form
  no cycle. The HTML report (plots/report/, a package of its own that imports nothing else of
  plots) sits beside cli, below the entry points. The ``if __name__ == "__main__":`` block of a family (``python3 -m plots.<family>``)
  runs only when the module is the program, never on import, and is not part of the graph.
- Dynamic: importing every module in a fresh interpreter changes no environment variable, no
  matplotlib setting (backend included), loads no pyplot; each module also imports on its own.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLOTS = REPO / "plots"
PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable

FAMILIES = ("training", "landscape", "spectrum", "curvature", "activations", "ics", "variants", "surface")
LAYERS = {"__init__": 0, "schema": 1, "runs": 2, "grouping": 3, "style": 4,
          **{f: 5 for f in FAMILIES}, "registry": 6, "cli": 7, "report": 7, "__main__": 8,
          "make_all": 8}


def is_main_guard(node: ast.stmt) -> bool:
    """``if __name__ == "__main__"`` (alone or in an ``and``)."""
    if not isinstance(node, ast.If):
        return False
    tests = node.test.values if isinstance(node.test, ast.BoolOp) else [node.test]
    for t in tests:
        if (isinstance(t, ast.Compare) and isinstance(t.left, ast.Name)
                and t.left.id == "__name__" and len(t.comparators) == 1
                and isinstance(t.comparators[0], ast.Constant)
                and t.comparators[0].value == "__main__"):
            return True
    return False


def plots_imports(tree: ast.Module, modules: set[str]) -> set[str]:
    """The plots modules (``__init__`` for the package itself) that a module's code imports."""
    out = set()

    def visit(node):
        if is_main_guard(node):
            return
        if isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "plots":
                    out.add(parts[1] if len(parts) > 1 else "__init__")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] == "plots":
                if len(parts) > 1:
                    out.add(parts[1])
                else:
                    for a in node.names:
                        out.add(a.name if a.name in modules else "__init__")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def import_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """{module: modules it imports} for {module name: source text}."""
    modules = set(sources)
    return {m: plots_imports(ast.parse(src), modules) - {m} for m, src in sources.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state:
                found = dfs(n)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = dfs(m)
            if found:
                return found
    return None


def layering_problems(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for m, deps in sorted(graph.items()):
        if m not in LAYERS:
            problems.append(f"plots/{m}.py has no layer in tests/plots/test_imports.py LAYERS")
            continue
        for d in sorted(deps):
            if LAYERS.get(d, len(LAYERS)) > LAYERS[m]:  # the same layer: no cycle (find_cycle)
                problems.append(f"plots/{m}.py imports plots/{d}.py, a layer above it")
    if graph.get("__init__"):
        problems.append(f"plots/__init__.py imports {sorted(graph['__init__'])}")
    return problems


def package_sources() -> dict[str, str]:
    return {p.stem: p.read_text() for p in sorted(PLOTS.glob("*.py"))}


class StaticImports(unittest.TestCase):
    def test_every_import_goes_down_and_there_is_no_cycle(self):
        graph = import_graph(package_sources())
        self.assertEqual(layering_problems(graph), [])
        self.assertIsNone(find_cycle(graph))
        # The layers are really used: the registry sees every family, the families style.
        self.assertTrue(set(FAMILIES) <= graph["registry"])
        self.assertIn("style", graph["training"])

    def test_the_check_finds_a_planted_cycle_and_an_upward_import(self):
        sources = package_sources()
        sources["runs"] += "\n\ndef later():\n    from plots import registry\n    return registry\n"
        graph = import_graph(sources)
        self.assertIn("plots/runs.py imports plots/registry.py, a layer above it",
                      layering_problems(graph))
        cycle = find_cycle(graph)
        self.assertIsNotNone(cycle)
        self.assertIn("runs", cycle)
        self.assertIn("registry", cycle)

    def test_the_main_guard_is_not_an_import_of_the_module(self):
        src = textwrap.dedent('''
            import sys
            from plots import style
            if __name__ == "__main__":
                from plots.cli import main
                sys.exit(main())
        ''')
        self.assertEqual(plots_imports(ast.parse(src), {"style", "cli"}), {"style"})


PROBE = r"""
import importlib, json, os, sys
sys.path.insert(0, sys.argv[1])
import matplotlib
env = dict(os.environ)
backend = matplotlib.rcParams._get_backend_or_none()
rc = {k: repr(v) for k, v in matplotlib.rcParams.items()}
for name in sys.argv[2:]:
    importlib.import_module(name)
changed_rc = sorted(k for k, v in matplotlib.rcParams.items() if rc.get(k) != repr(v))
env_after = dict(os.environ)
print(json.dumps({
    "env": sorted(k for k in set(env) | set(env_after) if env.get(k) != env_after.get(k)),
    "backend": [str(backend), str(matplotlib.rcParams._get_backend_or_none())],
    "rc": changed_rc,
    "pyplot": "matplotlib.pyplot" in sys.modules,
}))
"""


def probe(modules: list[str]) -> dict:
    p = subprocess.run([PYTHON, "-c", PROBE, str(REPO), *modules], capture_output=True,
                       text=True, timeout=120, cwd=REPO,
                       env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home())})
    if p.returncode != 0:
        raise AssertionError(f"importing {modules} failed:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


class ImportSideEffects(unittest.TestCase):
    def modules(self) -> list[str]:
        return ["plots"] + [f"plots.{m}" for m in package_sources() if m != "__init__"]

    def test_importing_every_module_changes_nothing(self):
        r = probe(self.modules())
        self.assertEqual(r["env"], [], "environment variables set on import")
        self.assertEqual(r["backend"][0], r["backend"][1], "matplotlib backend chosen on import")
        self.assertEqual(r["rc"], [], "matplotlib settings changed on import")
        self.assertFalse(r["pyplot"], "pyplot loaded on import")

    def test_each_module_imports_alone(self):
        for m in self.modules():
            with self.subTest(module=m):
                r = probe([m])
                self.assertEqual((r["env"], r["rc"], r["pyplot"]), ([], [], False))

    def test_the_probe_sees_a_side_effect(self):
        # The entry point's own settings are what the probe must catch.
        code = ("import sys; sys.path.insert(0, %r)\n"
                "from plots import cli; cli.configure_process()\n") % str(REPO)
        p = subprocess.run([PYTHON, "-c", PROBE.replace("for name in sys.argv[2:]:",
                                                        code + "for name in sys.argv[2:]:"),
                            str(REPO)], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        r = json.loads(p.stdout.strip().splitlines()[-1])
        self.assertIn("HDF5_USE_FILE_LOCKING", r["env"])
        self.assertEqual(r["backend"][1], "agg")


if __name__ == "__main__":
    unittest.main()
