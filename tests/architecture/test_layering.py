"""Self-test of layering.py: it passes on a clean tree and catches every kind of planted
include (run: python3 -m unittest discover -s tests/architecture)."""

import pathlib
import subprocess
import sys
import tempfile
import unittest

CHECKER = pathlib.Path(__file__).resolve().parent / "layering.py"


def run_checker(root):
    return subprocess.run([sys.executable, str(CHECKER), str(root)], capture_output=True, text=True)


class LayeringCheck(unittest.TestCase):
    def make_tree(self, root, planted=None):
        """A miniature repository; `planted` = (relative path, include line) adds one file."""
        files = {
            "include/bnlandscape/models/mlp.h": '#include "bnlandscape/models/classifier.h"\n',
            "src/probes/trace.cpp": "#include <torch/types.h>\n#include \"bnlandscape/probes/trace.h\"\n",
            # The areas above may include whatever they need.
            "src/io/run_file.cpp": "#include <H5Cpp.h>\n",
            "src/cli/app.cpp": "#include <CLI/CLI.hpp>\n#include \"bnlandscape/io/run_file.h\"\n",
        }
        if planted:
            files[planted[0]] = planted[1] + "\n"
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)

    def test_clean_tree_passes(self):
        with tempfile.TemporaryDirectory() as tmp:
            self.make_tree(pathlib.Path(tmp))
            r = run_checker(tmp)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_planted_includes_fail(self):
        cases = [
            ("src/train/trainer.cpp", '#include "bnlandscape/io/run_file.h"'),
            ("include/bnlandscape/data/dataset.h", '#include "bnlandscape/record/probe_series.h"'),
            ("src/probes/spectrum.cpp", "#include <bnlandscape/cli/app.h>"),
            ("src/models/vgg.cpp", "#include <H5Cpp.h>"),
            ("include/bnlandscape/core/error.h", "#  include <hdf5.h>"),
            ("src/data/nested/reader.cpp", '#include "CLI/CLI.hpp"'),
        ]
        for rel, line in cases:
            with self.subTest(file=rel), tempfile.TemporaryDirectory() as tmp:
                self.make_tree(pathlib.Path(tmp), (rel, line))
                r = run_checker(tmp)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertIn(rel + ":1:", r.stdout)

    def test_repository_passes(self):
        r = run_checker(CHECKER.parents[2])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
