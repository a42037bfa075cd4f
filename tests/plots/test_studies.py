"""The studies' shared statistics (analyses/study_stats.py) against direct computations, and the
scorecard in analyses/README.md against what analyses/scorecard.py generates from the committed
results.json files (so the table is never typed by hand and never stale).

Run from the repository root: /usr/bin/python3 -m unittest tests/plots/test_studies.py
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np
from scipy import stats

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "analyses"))
import study_stats as st  # noqa: E402


class StudyStats(unittest.TestCase):
    def test_mean_ci_is_the_t_interval(self):
        x = [1.0, 2.0, 4.0]
        m, h, n = st.mean_ci(x)
        self.assertEqual(n, 3)
        self.assertAlmostEqual(m, 7 / 3)
        self.assertAlmostEqual(h, stats.t.ppf(0.975, 2) * np.std(x, ddof=1) / math.sqrt(3))
        self.assertTrue(math.isnan(st.mean_ci([5.0])[1]))
        self.assertEqual(st.mean_ci([math.nan, 1.0, 3.0])[2], 2)

    def test_ratio_ci_is_the_welch_interval_of_log_means(self):
        a, b = [2.0, 2.5, 3.0], [1.0, 1.1, 0.9, 1.2]
        ratio, lo, hi = st.ratio_ci(a, b)
        la, lb = np.log(a), np.log(b)
        self.assertAlmostEqual(ratio, math.exp(la.mean() - lb.mean()))
        # The same interval from scipy's Welch test: the log difference's p at lo and hi is 0.05.
        for bound in (lo, hi):
            p = stats.ttest_ind(la - math.log(bound), lb, equal_var=False).pvalue
            self.assertAlmostEqual(p, 0.05, places=6)
        self.assertAlmostEqual(st.welch_p(a, b), stats.ttest_ind(a, b, equal_var=False).pvalue)
        # Non-positive values: the ratio of means, no interval.
        r = st.ratio_ci([1.0, -1.0, 3.0], [1.0, 1.0])
        self.assertAlmostEqual(r[0], 1.0)
        self.assertTrue(math.isnan(r[1]))


class Scorecard(unittest.TestCase):
    def test_readme_table_is_generated(self):
        p = subprocess.run([sys.executable, str(REPO / "analyses" / "scorecard.py"), "--check"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_a_hand_edit_is_caught(self):
        tmp = tempfile.mkdtemp(prefix="bnl_scorecard_")
        try:
            work = Path(tmp) / "analyses"
            shutil.copytree(REPO / "analyses", work, ignore=shutil.ignore_patterns("figures", "*.png", "*.html"))
            readme = work / "README.md"
            text = readme.read_text()
            self.assertIn("| verdict |", text)
            i = text.index("<!-- scorecard:begin -->")
            readme.write_text(text[:i] + text[i:].replace("| holds", "| HOLDS", 1))
            p = subprocess.run([sys.executable, str(work / "scorecard.py"), "--check"], capture_output=True, text=True)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("stale", p.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
