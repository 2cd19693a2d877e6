"""The drift report: drift.json for machines, drift.md for issues and job summaries, drift.html to read.

The HTML is one self-contained file (inline SVG, no scripts, nothing fetched), so it opens
from a workflow artifact as it is.
"""

import html
import json
import os
import shutil
import tempfile
from pathlib import Path

FILES = ("drift.json", "drift.md", "drift.html")
COLOURS = {"reference": "#4c78a8", "current": "#f58518"}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; }
td, th { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: middle; }
tr.drift td:first-child { font-weight: bold; color: #b00; }
"""


def write(report: dict, out_dir: Path) -> list[Path]:
    """All three files or none: written to a scratch directory, then moved into place."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".drift-", dir=out_dir))
    try:
        contents = {
            "drift.json": json.dumps(report, indent=2) + "\n",
            "drift.md": markdown(report),
            "drift.html": page(report),
        }
        for name in FILES:
            (scratch / name).write_text(contents[name], encoding="utf-8")
        for name in FILES:
            os.replace(scratch / name, out_dir / name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return [out_dir / name for name in FILES]


def columns_phrase(report: dict) -> str:
    """How many columns drifted, and whether that reached the dataset threshold (drift.drift_share)."""
    drifted, total = report["number_of_drifted_columns"], report["number_of_columns"]
    if drifted == 0:
        return f"none of {total} columns drifted"
    share, limit = report["share_of_drifted_columns"], report["drift_share"]
    reached = "reaching" if report["dataset_drift"] else "below"
    return (
        f"{drifted} of {total} columns drifted (share {share:.2f}, {reached} the dataset threshold "
        f"drift.drift_share {limit:g})"
    )


def verdict_line(report: dict) -> str:
    parts = [columns_phrase(report)]
    if report["prediction"]:
        parts.append("prediction drifted" if _drifted(report["prediction"]) else "prediction stable")
    if report["performance"]:
        perf = report["performance"]
        state = "degraded" if perf["degraded"] else "holding"
        parts.append(
            f"{perf['metric']} {state} ({perf['current']:.4g}, metrics.json {perf['reference']:.4g})"
        )
    if report["drift_detected"]:
        head = "Drift detected"
    else:  # drifted columns below the dataset threshold are not "no drift"
        head = "No dataset drift" if report["number_of_drifted_columns"] else "No drift"
    return f"{head}: {'; '.join(parts)}."


def _drifted(column: dict) -> bool:
    return column["drifted"] or column["missing_drifted"]


def _flag(column: dict) -> str:
    if column["drifted"]:
        return "**yes**"
    return "**missing values**" if column["missing_drifted"] else "no"


def _rows(report: dict) -> list[dict]:
    """Drifted columns first, then the rest, in data order; the prediction last."""
    columns = sorted(report["columns"], key=lambda c: not _drifted(c))
    return columns + ([report["prediction"]] if report["prediction"] else [])


def markdown(report: dict) -> str:
    current = report["current"]
    lines = [
        f"### {'⚠️ ' if report['drift_detected'] else ''}{verdict_line(report)}",
        "",
        f"Reference `{report['reference']['path']}` ({report['reference']['rows']} rows) against "
        f"current `{current['path']}` ({current['rows']} rows"
        + (f", {current['time_range'][0]} to {current['time_range'][1]}" if current.get("time_range") else "")
        + (f", model version {', '.join(current['model_versions'])}" if current.get("model_versions") else "")
        + ").",
        "",
        "| column | type | method | score | threshold | drifted | missing (ref → cur) |",
        "|---|---|---|---:|---:|---|---|",
    ]
    for c in _rows(report):
        lines.append(
            f"| {c['column']} | {c['kind']} | {c['method_label']} | {c['score']:.4g} | {c['threshold']:g} "
            f"| {_flag(c)} | {c['missing_reference']:.1%} → {c['missing_current']:.1%} |"
        )
    perf = report["performance"]
    if perf:
        lines += [
            "",
            f"Performance on labelled current data: {perf['metric']} {perf['current']:.4g} against "
            f"{perf['reference']:.4g} in metrics.json, the model's held-out score "
            f"({'beyond' if perf['degraded'] else 'within'} the tolerance of {perf['tolerance']:.0%}).",
        ]
    lines += [""] + [f"- {note}" for note in report["notes"]]
    return "\n".join(lines).rstrip() + "\n"


def svg_histogram(hist: dict, width: int = 360, height: int = 130) -> str:
    """Reference and current shares side by side per bin or category."""
    labels = hist.get("categories") or [f"{a:.4g}" for a in hist["edges"][:-1]]
    top = max(max(hist["reference"]), max(hist["current"]), 1e-12)
    base, slot = height - 25, (width - 10) / len(labels)
    parts = [f'<line x1="5" y1="{base}" x2="{width - 5}" y2="{base}" stroke="#999"/>']
    for i, label in enumerate(labels):
        for j, series in enumerate(("reference", "current")):
            h, x = hist[series][i] / top * (base - 5), 5 + (i + 0.1 + 0.4 * j) * slot  # a gap between pairs
            tip = html.escape(f"{series} {label}: {hist[series][i]:.1%}")
            parts.append(
                f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{0.4 * slot:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[series]}"><title>{tip}</title></rect>'
            )
    if "categories" in hist:
        parts += [
            _text(5 + (i + 0.5) * slot, height - 10, label[:10], "middle") for i, label in enumerate(labels)
        ]
    else:
        parts += [
            _text(5, height - 10, f"{hist['edges'][0]:.4g}"),
            _text(width - 5, height - 10, f"{hist['edges'][-1]:.4g}", "end"),
        ]
    size = f'width="{width}" height="{height}"'
    return f'<svg xmlns="http://www.w3.org/2000/svg" {size} role="img">{"".join(parts)}</svg>'


def _text(x: float, y: float, text: str, anchor: str = "start") -> str:
    return f'<text x="{x:.1f}" y="{y}" font-size="9" text-anchor="{anchor}">{html.escape(text)}</text>'


def page(report: dict) -> str:
    rows = "".join(
        f'<tr class="{"drift" if _drifted(c) else ""}">'
        f"<td>{html.escape(c['column'])}</td><td>{c['kind']}</td>"
        f"<td>{html.escape(c['method_label'])}</td><td>{c['score']:.4g}</td><td>{c['threshold']:g}</td>"
        f"<td>{_flag(c).strip('*')}</td><td>{c['missing_reference']:.1%} → {c['missing_current']:.1%}</td>"
        f"<td>{svg_histogram(c['histogram'])}</td></tr>"
        for c in _rows(report)
    )
    legend = " ".join(f'<span style="color:{colour}">■ {name}</span>' for name, colour in COLOURS.items())
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report["notes"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Drift report</title>
<style>{STYLE}</style></head><body>
<h1>Drift report</h1>
<p><strong>{html.escape(verdict_line(report))}</strong></p>
<p>Reference {html.escape(report["reference"]["path"])} ({report["reference"]["rows"]} rows);
current {html.escape(report["current"]["path"])} ({report["current"]["rows"]} rows). {legend}</p>
<table><thead><tr><th>column</th><th>type</th><th>method</th><th>score</th><th>threshold</th><th>drifted</th>
<th>missing (ref → cur)</th><th>distribution</th></tr></thead><tbody>{rows}</tbody></table>
<ul>{notes}</ul>
</body></html>
"""
