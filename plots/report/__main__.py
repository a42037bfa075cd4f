"""``python3 -m plots.report``: see :mod:`plots.report.cli`."""

import sys

from plots.report.cli import main

sys.exit(main())
