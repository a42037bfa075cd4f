"""``python3 -m plots RUN.h5 [RUN.h5 ...] --out DIR [--families training,ics]``: see plots.cli.
``python3 -m plots report RUNS_OR_DIRS... --out report.html [--watch SECONDS]``: the
self-contained HTML report, see plots.report."""

import sys


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "report":
        from plots.report import main as report_main
        return report_main(argv[1:])
    from plots.cli import main as figures_main
    return figures_main(argv, prog="python3 -m plots")


if __name__ == "__main__":
    sys.exit(main())
