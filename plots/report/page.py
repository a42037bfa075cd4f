"""The HTML page: plotly.js embedded once, a header, the sections' figures (each a container, its
figure as JSON, a note and a CSV link), and the script that draws them.

The page loads nothing: a Content-Security-Policy allows inline scripts and styles and data:
images only, so anything that would reach for the network is blocked (and reported on the page).
Errors (uncaught exceptions, console.error, blocked requests, a figure that failed to draw) are
collected in ``#report-errors`` and counted in the ``data-errors`` attribute of <html>; the number
of figures drawn is in ``data-rendered`` of <body>. Tests read both.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from plots.report.figures import csv_limits

PLOTLY_JS_PATHS = ("/usr/share/python3-plotly/plotly.js",)

CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
       "img-src data: blob:; font-src data:")

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;max-width:1300px;
padding:0 20px 40px;color:#222}
h1{font-size:1.6em;margin:18px 0 6px} h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:34px}
h3{font-size:1.05em;margin:18px 0 4px} code{font-size:.92em}
table{border-collapse:collapse;font-size:.88em;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
thead th{background:#f3f3f3} tbody th{font-weight:normal}
.status-complete{color:#2a7a2a}.status-diverged,.status-failed{color:#b00020;font-weight:bold}
.status-interrupted,.status-running{color:#a06000;font-weight:bold}
.warn{color:#a06000}.unreadable{color:#b00020}.live{color:#555;font-style:italic}
.note{color:#555;font-size:.88em;margin:2px 0 10px} nav a{margin-right:14px}
details pre{background:#f7f7f7;padding:6px;max-height:320px;overflow:auto;font-size:.85em}
.figure{margin-bottom:22px}.plot{width:100%}
#report-errors{color:#b00020;white-space:pre-wrap;border:1px solid #b00020;padding:6px}
"""

# Before plotly.js, so that errors while it loads are caught too.
ERROR_CAPTURE = """
window.__reportErrors=[];
function reportError(m){window.__reportErrors.push(String(m));
document.documentElement.setAttribute('data-errors',String(window.__reportErrors.length));
var p=document.getElementById('report-errors');if(p){p.textContent=window.__reportErrors.join('\\n');p.hidden=false;}}
window.addEventListener('error',function(e){reportError('Uncaught '+(e.message||e));});
window.addEventListener('unhandledrejection',function(e){reportError('Unhandled rejection: '+e.reason);});
document.addEventListener('securitypolicyviolation',function(e){reportError('Blocked by the page policy: '+e.blockedURI);});
(function(){var ce=console.error;console.error=function(){
reportError('console.error: '+Array.prototype.join.call(arguments,' '));return ce.apply(console,arguments);};})();
document.documentElement.setAttribute('data-errors','0');
"""

RENDER = """
(function(){var done=0,nodes=document.querySelectorAll('script.figure-data');
if(typeof Plotly==='undefined'){reportError('plotly.js did not load');return;}
for(var i=0;i<nodes.length;i++){var s=nodes[i],el=document.getElementById(s.getAttribute('data-target'));
try{var f=JSON.parse(s.textContent);
Plotly.newPlot(el,f.data,f.layout,{responsive:true,displaylogo:false}).then(function(){
done++;document.body.setAttribute('data-rendered',String(done));
document.body.setAttribute('data-height',String(document.documentElement.scrollHeight));},
function(e){reportError('figure failed: '+e);});}
catch(e){reportError('figure '+s.getAttribute('data-target')+': '+e);}}
document.body.setAttribute('data-figures',String(nodes.length));
if(window.__reportErrors.length){var p=document.getElementById('report-errors');
p.textContent=window.__reportErrors.join('\\n');p.hidden=false;}})();
"""


def plotly_js() -> str:
    """plotly.js as Debian's python3-plotly ships it (or plotly.offline.get_plotlyjs())."""
    for p in PLOTLY_JS_PATHS:
        if os.path.isfile(p):
            return Path(p).read_text(encoding="utf-8")
    try:
        from plotly.offline import get_plotlyjs  # noqa: PLC0415 (only when the file is elsewhere)
    except ImportError as e:
        raise SystemExit("report: plotly.js not found; install Debian's python3-plotly "
                         "(bash scripts/install-deps.sh)") from e
    return get_plotlyjs()


def figure_html(fig, csv_limit: int) -> str:
    uri, csv_note = fig.csv(csv_limit)
    link = (f" <a class='csv' download='{html.escape(fig.fid)}.csv' href='{uri}'>data (CSV)</a>"
            if uri else "")
    return (f"<div class='figure' id='fig-{fig.fid}'><h3>{html.escape(fig.title)}</h3>"
            f"<div class='plot' id='plot-{fig.fid}' data-figure='{fig.fid}'></div>"
            f"<script type='application/json' class='figure-data' data-target='plot-{fig.fid}'>"
            f"{fig.plotly_json()}</script>"
            f"<p class='note'>{html.escape(fig.note + (' ' + csv_note if csv_note else ''))}{link}</p></div>")


def section_html(sec, limits: dict) -> str:
    return (f"<section class='report-section' id='{sec.sid}'><h2>{html.escape(sec.title)}</h2>"
            f"<p class='note'>{html.escape(sec.intro)}</p>" +
            "".join(figure_html(f, limits[id(f)]) for f in sec.figures) + "</section>")


def page(title: str, header: str, sections, refresh: int | None = None, js: str | None = None) -> str:
    """The whole page; ``refresh``: reload every that many seconds (watch mode only)."""
    meta = f"<meta http-equiv='refresh' content='{int(refresh)}'>" if refresh else ""
    figs = [f for s in sections for f in s.figures]
    sizes = [f.table.full_size() if f.table is not None else 0 for f in figs]
    limits = {id(f): lim for f, lim in zip(figs, csv_limits(sizes))}
    nav = "<nav>" + "".join(f"<a href='#{s.sid}'>{html.escape(s.title.split(' (')[0])}</a>"
                            for s in sections) + "</nav>"
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">{meta}"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style>"
            f"<script>{ERROR_CAPTURE}</script>"
            f"<script>{js if js is not None else plotly_js()}</script></head><body>"
            f"{header}{nav}<pre id='report-errors' hidden></pre>"
            + "".join(section_html(s, limits) for s in sections) +
            f"<script>{RENDER}</script></body></html>\n")
