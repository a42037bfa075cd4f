"""``python3 -m plots RUN.h5 [RUN.h5 ...] --out DIR [--families training,ics]``: see plots.cli."""

import sys

from plots.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python3 -m plots"))
