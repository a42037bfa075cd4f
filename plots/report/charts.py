"""The figure that most sections draw: traces against one x axis and one y axis."""

from __future__ import annotations

from plots.report.figures import Figure, Table, axis


def xy_figure(fid: str, title: str, traces: list, xlabel: str, ylabel: str, table: Table | None,
              note: str, log: bool = False) -> Figure | None:
    """Figure `fid` of `traces` against axes titled `xlabel` and `ylabel` (the y axis on a log
    scale when `log`), with its data table and note; None when there are no traces (the section
    then leaves the figure out)."""
    if not traces:
        return None
    return Figure(fid, title, traces, {"xaxis": axis(xlabel), "yaxis": axis(ylabel, log=log)},
                  table, note)
