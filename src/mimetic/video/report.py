"""The video report: one self-contained HTML file (no external resources; plots and pictures inline as base64).

Contents: a summary (file, duration, frames, tracks, settings), statistics per track (time seen, changes,
dominant expression, time share per expression, micro- and macro-expression counts and rate), per track the
representative frames (the strongest frame of each expression, face zoomed), the expression, AU, pose and
spotting plots, the change log, and the spotted events with onset/apex/offset thumbnails.

:func:`write_report` writes the HTML and, beside it, the plots as PNG files (``<stem>_plots/``).
"""

from __future__ import annotations

import base64
import html
import os
from datetime import datetime, timezone
from pathlib import Path


import numpy as np

__all__ = ["render_report", "write_report"]

#: Tables longer than this are cut in the HTML (the CSV outputs have everything).
MAX_ROWS = 500

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mimetic video report: {{ name }}</title>
<link rel="icon" href="data:,">
<style>
 body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #212121;
        background: #fafafa; }
 header { background: #263238; color: #fff; padding: 16px 28px; }
 header h1 { margin: 0; font-size: 20px; font-weight: 600; }
 header p { margin: 4px 0 0; color: #cfd8dc; }
 main { padding: 12px 28px 40px; max-width: 1200px; }
 h2 { font-size: 17px; border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 28px; }
 h3 { font-size: 15px; margin: 18px 0 6px; }
 table { border-collapse: collapse; margin: 6px 0 12px; background: #fff; }
 th, td { border: 1px solid #e0e0e0; padding: 4px 8px; text-align: left; vertical-align: middle; }
 th { background: #f1f3f4; font-weight: 600; }
 td.num { text-align: right; font-variant-numeric: tabular-nums; }
 .chip { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; }
 .plot { display: block; max-width: 100%; height: auto; margin: 6px 0; background: #fff; }
 .frames { display: flex; flex-wrap: wrap; gap: 10px; }
 figure { margin: 0; background: #fff; border: 1px solid #e0e0e0; padding: 6px; text-align: center; }
 figure.best { border: 2px solid #f2b705; }
 figcaption { font-size: 12px; color: #555; }
 .thumbs img { margin-right: 3px; border: 1px solid #ccc; }
 .note { color: #666; font-size: 13px; }
 .micro { color: #c62828; font-weight: 600; }
 .macro { color: #ef6c00; font-weight: 600; }
</style>
</head>
<body>
<header>
 <h1>Mimetic video report</h1>
 <p>{{ name }} &middot; {{ "%.1f"|format(stats.duration) }} s &middot; {{ stats.frames }} frames analysed
 {% if stats.fps %}({{ "%.2f"|format(stats.fps) }} per second){% endif %} &middot; generated {{ generated }}</p>
</header>
<main>
<h2 id="summary">Summary</h2>
<table>
 <tr><th>file</th><td>{{ source }}</td></tr>
 <tr><th>frame size</th><td>{{ width }} &times; {{ height }} px</td></tr>
 <tr><th>analysed</th><td>{{ stats.frames }} frames over {{ "%.2f"|format(stats.duration) }} s;
   {{ stats.frames_with_face }} with a face ({{ face_pct }})</td></tr>
 <tr><th>faces (tracks)</th><td>{{ stats.tracks }}</td></tr>
 <tr><th>expression changes</th><td>{{ stats.changes }}</td></tr>
 <tr><th>micro-expressions</th><td>{% if stats.micro is none %}not spotted (run with <code>--spot</code>){% else %}
   {{ stats.micro }} micro, {{ stats.macro }} macro{% if stats.micro_share is not none and (stats.micro or stats.macro) %}
   ({{ "%.0f"|format(100 * stats.micro_share) }} % micro){% endif %}{% if stats.micro_classes %}; micro by type:
   {% for k, v in stats.micro_classes.items() %}{{ k }} {{ v }}{% if not loop.last %}, {% endif %}{% endfor %}{% endif %}{% endif %}</td></tr>
 <tr><th>settings</th><td>smoothing: {{ smoothing }} s centred moving average; segments shorter than
   {{ min_segment }} s merged; windows of {{ window }} s{% if spot_window %}; spotting window {{ spot_window }} s{% endif %}</td></tr>
</table>

<h2 id="statistics">Statistics</h2>
{% if not tracks %}<p class="note">No face was found in this video.</p>{% else %}
<table>
 <tr><th>track</th><th>seen (s)</th><th>segments</th><th>changes</th><th>dominant</th><th>micro</th>
     <th>micro per minute</th><th>macro</th></tr>
 {% for t in tracks %}<tr><td>{{ t.id }}</td><td class="num">{{ "%.2f"|format(t.stats.seconds) }}</td>
 <td class="num">{{ t.stats.segments }}</td><td class="num">{{ t.stats.changes }}</td>
 <td>{% if t.stats.dominant %}<span class="chip" style="background:{{ color(t.stats.dominant) }}"></span>{{ t.stats.dominant }}{% endif %}</td>
 <td class="num">{{ dash(t.stats.micro) }}</td><td class="num">{{ dash(t.stats.micro_per_minute) }}</td>
 <td class="num">{{ dash(t.stats.macro) }}</td></tr>{% endfor %}
</table>
<img class="plot" alt="time share per expression" src="data:image/png;base64,{{ share_png }}">
<table>
 <tr><th>track</th>{% for c in classes %}<th><span class="chip" style="background:{{ color(c) }}"></span>{{ c }}</th>{% endfor %}</tr>
 {% for t in tracks %}<tr><td>{{ t.id }}</td>{% for c in classes %}<td class="num">{{ "%.1f"|format(100 * t.stats.time_share.get(c, 0)) }} %</td>{% endfor %}</tr>{% endfor %}
</table>
{% endif %}

{% for t in tracks %}
<h2 id="track-{{ t.id }}">Track {{ t.id }}</h2>
{% if t.frames %}<h3>Representative frames</h3>
<div class="frames">
 {% for f in t.frames %}<figure class="{{ 'best' if loop.first else '' }}"><img alt="track {{ t.id }} {{ f.label }}"
   width="{{ f.size }}" height="{{ f.size }}" src="data:image/jpeg;base64,{{ f.jpg }}">
   <figcaption>{{ f.label }} {{ "%.2f"|format(f.score) }}<br>frame {{ f.frame }}, {{ clock(f.time) }}</figcaption></figure>{% endfor %}
</div>{% endif %}
<h3>Expression</h3>
<img class="plot" alt="expression over time, track {{ t.id }}" src="data:image/png;base64,{{ t.expr_png }}">
{% if t.au_png %}<h3>Action units</h3>
<img class="plot" alt="AU intensities, track {{ t.id }}" src="data:image/png;base64,{{ t.au_png }}">{% endif %}
<h3>Head pose</h3>
<img class="plot" alt="head pose, track {{ t.id }}" src="data:image/png;base64,{{ t.pose_png }}">
{% if t.spot_png %}<h3>Facial movement</h3>
<img class="plot" alt="spotting score, track {{ t.id }}" src="data:image/png;base64,{{ t.spot_png }}">{% endif %}
{% endfor %}

<h2 id="changes">Change log</h2>
{% if changes %}
<table>
 <tr><th>track</th><th>time</th><th>frame</th><th>expression</th><th>duration (s)</th><th>before</th></tr>
 {% for c in changes %}<tr><td>{{ c.track_id }}</td><td class="num">{{ clock(c.time) }}</td><td class="num">{{ c.frame }}</td>
 <td><span class="chip" style="background:{{ color(c.label) }}"></span>{{ c.label }}</td>
 <td class="num">{{ "%.2f"|format(c.duration) }}</td><td>{{ c.previous or "&ndash;"|safe }}</td></tr>{% endfor %}
</table>{% if changes_cut %}<p class="note">{{ changes_cut }} more rows in the change-log CSV.</p>{% endif %}
{% else %}<p class="note">No expression segments (no face).</p>{% endif %}

<h2 id="events">Micro-expressions and other brief movements</h2>
{% if events is none %}<p class="note">Spotting did not run (use <code>mimetic video FILE --spot</code>).</p>
{% elif not events %}<p class="note">No facial movement was spotted.</p>
{% else %}
<table>
 <tr><th>#</th><th>track</th><th>kind</th><th>onset</th><th>apex</th><th>offset</th><th>duration (s)</th>
     <th>regions</th><th>AUs</th><th>score</th><th>type</th><th>onset / apex / offset</th></tr>
 {% for e in events %}<tr><td class="num">{{ loop.index }}</td><td>{{ e.track_id }}</td><td class="{{ e.kind }}">{{ e.kind }}</td>
 <td class="num">{{ e.onset_frame }}<br>{{ clock(e.onset) }}</td><td class="num">{{ e.apex_frame }}<br>{{ clock(e.apex) }}</td>
 <td class="num">{{ e.offset_frame }}<br>{{ clock(e.offset) }}</td><td class="num">{{ "%.3f"|format(e.duration) }}</td>
 <td>{{ e.regions|join(", ") }}</td><td>{{ e.aus|join(", ") }}</td><td class="num">{{ "%.2f"|format(e.score) }}</td>
 <td>{% if e.label %}{{ e.label }} ({{ "%.0f"|format(100 * e.probabilities[e.label]) }} %){% elif e.label_note %}<span class="note">{{ e.label_note }}</span>{% endif %}</td>
 <td class="thumbs">{% for im in e.thumbs %}<img alt="{{ im.phase }}" width="{{ im.size }}" height="{{ im.size }}" src="data:image/jpeg;base64,{{ im.jpg }}">{% endfor %}</td></tr>{% endfor %}
</table>{% if events_cut %}<p class="note">{{ events_cut }} more events in the events CSV.</p>{% endif %}
{% endif %}
<p class="note">Micro: shorter than {{ micro_max }} s. Onset and offset are the still frames around a movement, the apex
its peak. Method: landmark-aligned face crops, optical flow in regions (brows, eyes, nose, mouth corners, chin)
relative to the head, plus AU-intensity changes; see docs/video.md.</p>
</main>
</body>
</html>
"""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _jpg(rgb: np.ndarray, quality: int = 88) -> str:
    import cv2

    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    return _b64(buf.tobytes()) if ok else ""


def _clock(t: float) -> str:
    m, s = divmod(max(float(t), 0.0), 60.0)
    return f"{int(m)}:{s:05.2f}"


def _dash(v) -> str:
    return "–" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))


def build_plots(analysis, window: float = 1.0) -> dict[str, bytes]:
    """Every plot of the report as ``{file name: PNG bytes}``."""
    from mimetic.video import plots

    tl = analysis.timeline
    out: dict[str, bytes] = {}
    stats = analysis.stats()
    if tl.tracks:
        out["share.png"] = plots.share_plot(stats)
    for k in tl.track_ids():
        tag = f"track{k}"
        out[f"{tag}_expression.png"] = plots.expression_plot(tl, k, analysis.segments, analysis.events or ())
        if tl.tracks[k].au_names:
            out[f"{tag}_aus.png"] = plots.au_plot(tl, k)
        out[f"{tag}_pose.png"] = plots.pose_plot(tl, k)
        if analysis.events is not None and k in analysis.traces:
            out[f"{tag}_spotting.png"] = plots.spotting_plot(analysis.traces[k], analysis.events, k)
    return out


def render_report(analysis, *, window: float = 1.0, plots: dict[str, bytes] | None = None,
                  spot_config=None) -> str:
    """The report as an HTML string."""
    from jinja2 import Environment

    from mimetic.video.plots import color

    tl = analysis.timeline
    plots = build_plots(analysis, window) if plots is None else plots
    stats = analysis.stats()
    tracks = []
    for k in tl.track_ids():
        tr = tl.tracks[k]
        frames = sorted(({"label": lab, **v} for lab, v in tr.representative.items()),
                        key=lambda f: (f["label"] == "neutral", -f["score"]))
        for f in frames:
            f["jpg"] = _jpg(f["crop"])
            f["size"] = int(f["crop"].shape[0])
        tag = f"track{k}"
        tracks.append({"id": k, "stats": stats["per_track"][k], "frames": frames,
                       "expr_png": _b64(plots.get(f"{tag}_expression.png", b"")),
                       "au_png": _b64(plots[f"{tag}_aus.png"]) if f"{tag}_aus.png" in plots else "",
                       "pose_png": _b64(plots.get(f"{tag}_pose.png", b"")),
                       "spot_png": _b64(plots[f"{tag}_spotting.png"]) if f"{tag}_spotting.png" in plots else ""})
    events = None
    events_cut = 0
    if analysis.events is not None:
        events = []
        for e in analysis.events[:MAX_ROWS]:
            th = analysis.thumbnails.get((e.track_id, e.apex_frame), {})
            thumbs = [{"phase": p, "jpg": _jpg(th[p]), "size": int(th[p].shape[0])}
                      for p in ("onset", "apex", "offset") if p in th]
            events.append({**e.to_dict(), "thumbs": thumbs})
        events_cut = max(0, len(analysis.events) - MAX_ROWS)
    changes = analysis.change_log()
    env = Environment(autoescape=True)
    tpl = env.from_string(_TEMPLATE)
    face_pct = f"{100.0 * stats['frames_with_face'] / stats['frames']:.0f} %" if stats["frames"] else "–"
    cfg = spot_config
    if cfg is None and analysis.events is not None:
        from mimetic.video.spotting import SpotConfig

        cfg = SpotConfig()
    return tpl.render(
        name=Path(analysis.source).name or analysis.source, source=analysis.source, stats=stats,
        width=analysis.width, height=analysis.height, tracks=tracks, classes=tl.classes,
        share_png=_b64(plots.get("share.png", b"")), changes=changes[:MAX_ROWS],
        changes_cut=max(0, len(changes) - MAX_ROWS), events=events, events_cut=events_cut,
        smoothing=tl.smoothing, min_segment=tl.min_segment, window=window,
        spot_window=cfg.window if cfg is not None else None, micro_max=cfg.micro_max if cfg is not None else 0.5,
        face_pct=face_pct, generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        color=color, clock=_clock, dash=_dash, escape=html.escape)


def write_report(analysis, path: str | os.PathLike, *, window: float = 1.0, png_dir: str | os.PathLike | None = None,
                 spot_config=None) -> list[Path]:
    """Write the HTML report to ``path`` and the plots as PNG to ``png_dir`` (default ``<stem>_plots/`` beside it);
    returns the files written. Every file is written atomically."""
    from mimetic.media.atomic import atomic_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plots = build_plots(analysis, window)
    text = render_report(analysis, window=window, plots=plots, spot_config=spot_config)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    written = [path]
    folder = Path(png_dir) if png_dir is not None else path.with_name(f"{path.stem}_plots")
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in plots.items():
        target = folder / name
        with atomic_path(target) as tmp:
            Path(tmp).write_bytes(data)
        written.append(target)
    return written



