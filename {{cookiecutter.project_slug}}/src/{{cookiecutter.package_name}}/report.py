"""The pull request report: this branch's results against the base branch's, as one markdown file.

Run after `dvc repro`. The base branch's metrics, parameters and plots come from git (they
are committed), the data changes from `dvc diff`; the metric directions from evaluate.py.
The plots' data (plots/*.csv) become Mermaid charts, which GitHub draws in the comment itself.
"""

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path

import yaml

from .errors import UserError
from .metrics import (
    DIRECTIONS,
    IMPORTANCE_DATA,
    METRICS_PATH,
    PLOTS_DIR,
    RESIDUALS_DATA,
    ROC_DATA,
    improvement,
)
from .tracking import file_md5, tracking_uri
from .train import MODEL_PATH

REPORT_PATH = Path("reports/pr/report.md")
LOCK_PATH = Path("dvc.lock")
FIX_LOCK = (
    "uv run dvc repro",
    f"git add {LOCK_PATH} {METRICS_PATH} {PLOTS_DIR}/",
    'git commit -m "Record the pipeline results"',
    "uv run dvc push",
    "git push",
)


def _run(*cmd: str, binary: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=not binary)


def dvc_json(*commands: tuple[str, ...]) -> list[dict]:
    """The answers of `dvc ... --json` commands, run side by side; a failure is a UserError naming it."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "dvc", *args, "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    answers = []
    for args, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise UserError(f"`dvc {' '.join(args)}` failed: {err.strip()[-300:]}")
        answers.append(json.loads(out or "{}"))
    return answers


def git_show(rev: str, path: Path | str) -> bytes | None:
    result = _run("git", "show", f"{rev}:{path}", binary=True)
    return result.stdout if result.returncode == 0 else None


def resolve(rev: str) -> str:
    result = _run("git", "rev-parse", "--verify", rev + "^" + "{commit}")
    if result.returncode != 0:
        raise UserError(
            f"base revision {rev!r} is not in this clone; fetch it (actions/checkout with fetch-depth: 0)."
        )
    return result.stdout.strip()


def _fmt(value) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def verdict(metric: str, new, old) -> str:
    if old is None or new is None:
        return "new" if old is None else "removed"
    gain = improvement(metric, new, old)
    return "better" if gain > 0 else "worse" if gain < 0 else "same"


def metrics_table(diff: dict, primary: str) -> str:
    """`dvc metrics diff --json --all` as a table; the primary metric first and in bold."""
    rows = {name: change for changes in diff.values() for name, change in changes.items()}
    if not rows:
        return "No metrics in this branch or the base branch.\n"
    lines = ["| metric | base | this PR | change | |", "| --- | ---: | ---: | ---: | --- |"]
    for name in sorted(rows, key=lambda n: (n != primary, n)):
        old, new = rows[name].get("old"), rows[name].get("new")
        change = f"{new - old:+.4g}" if isinstance(old, int | float) and isinstance(new, int | float) else "—"
        arrow = {1: " ↑", -1: " ↓"}.get(DIRECTIONS.get(name, 0), "")
        label = f"**{name}**{arrow}" if name == primary else f"{name}{arrow}"
        lines.append(f"| {label} | {_fmt(old)} | {_fmt(new)} | {change} | {verdict(name, new, old)} |")
    return "\n".join(lines) + "\n\n↑ higher is better, ↓ lower is better.\n"


def params_table(diff: dict) -> str:
    rows = [(name, change) for changes in diff.values() for name, change in sorted(changes.items())]
    if not rows:
        return "No parameter changed.\n"
    lines = ["| parameter | base | this PR |", "| --- | --- | --- |"]
    lines += [f"| `{name}` | {_fmt(c.get('old'))} | {_fmt(c.get('new'))} |" for name, c in rows]
    return "\n".join(lines) + "\n"


def csv_rows(file: Path | None, name: str) -> int | None:
    """Data rows of a CSV (header excluded); None when it is not a CSV or not at hand."""
    if file is None or not name.endswith(".csv") or not file.is_file():
        return None
    with open(file, "rb") as handle:
        return max(sum(1 for _ in handle) - 1, 0)


def cached(md5: str | None) -> Path | None:
    path = Path(".dvc/cache/files/md5") / md5[:2] / md5[2:] if md5 else None
    return path if path and path.is_file() else None


def data_table(diff: dict) -> str:
    """`dvc diff --json --show-hash` as a table, with CSV row counts where the files are at hand."""
    lines = []
    for change in ("added", "deleted", "modified", "renamed"):
        for entry in diff.get(change, []):
            path = entry["path"]["new"] if change == "renamed" else entry["path"]
            hashes = entry.get("hash") if isinstance(entry.get("hash"), dict) else {}
            old_file = cached(hashes.get("old") or (entry.get("hash") if change == "deleted" else None))
            old = csv_rows(old_file, path) if change != "added" else None
            new = None if change == "deleted" else csv_rows(Path(path), path)
            rows = "" if old is None and new is None else f"{_fmt(old)} → {_fmt(new)}"
            lines.append(f"| {change} | `{path}` | {rows} |")
    if not lines:
        return "No DVC-tracked data or model changed.\n"
    return "\n".join(["| change | path | rows (base → this PR) |", "| --- | --- | --- |", *lines]) + "\n"


def stale_stages(committed: str | None, reproduced: str) -> list[str]:
    """Stages whose committed dvc.lock entry differs from the one `dvc repro` wrote here."""
    new = (yaml.safe_load(reproduced) or {}).get("stages", {})
    old = (yaml.safe_load(committed) or {}).get("stages", {}) if committed else {}
    return [name for name in [*new, *(n for n in old if n not in new)] if new.get(name) != old.get(name)]


def lock_warning(stages: list[str], committed: bool) -> str:
    if not stages:
        return ""
    what = "does not match" if committed else "is missing from this branch, so it does not record"
    commands = "\n".join(FIX_LOCK)
    return (
        f"> [!WARNING]\n> The committed `{LOCK_PATH}` {what} what CI reproduced from this branch's code, "
        f"data and parameters (stages: {', '.join(stages)}). The results below are CI's. "
        "To record them with the change, run:\n>\n> ```bash\n"
        + "".join(f"> {line}\n" for line in commands.splitlines())
        + "> ```\n"
    )


TOP_FEATURES = 10
COLOURS = "#1f77b4, #9e9e9e"  # this PR, base: the order each chart declares its series in


def read_rows(text: str | bytes | None) -> list[dict[str, str]] | None:
    """A CSV's rows, or None when there is no file or it holds none."""
    if not text:
        return None
    rows = list(csv.DictReader(io.StringIO(text.decode() if isinstance(text, bytes) else text)))
    return rows or None


def _column(rows: list[dict], name: str) -> list[float]:
    return [float(row[name]) for row in rows]


def _interpolate(x: float, xs: list[float], ys: list[float]) -> float:
    """ys at x, on straight lines between the points (xs ascending), flat beyond the ends."""
    if x <= xs[0]:
        return ys[0]
    for i in range(1, len(xs)):
        if x <= xs[i]:
            span = xs[i] - xs[i - 1]
            return ys[i] if span == 0 else ys[i - 1] + (ys[i] - ys[i - 1]) * (x - xs[i - 1]) / span
    return ys[-1]


def _number(value: float) -> str:
    """Four significant digits as a plain decimal: Mermaid reads no exponent."""
    text = format(Decimal(f"{value:.4g}"), "f")
    return "0" if text == "-0" else text


def _text(value: str) -> str:
    return '"' + str(value).replace('"', "'") + '"'


def _series(kind: str, name: str, values: list[float]) -> str:
    return f"  {kind} {_text(name)} [{', '.join(_number(v) for v in values)}]"


def mermaid(header: str, lines: list[str]) -> str:
    """A fenced Mermaid block: GitHub draws it, this PR's series in blue, the base's in grey."""
    config = f'---\nconfig:\n  themeVariables:\n    xyChart:\n      plotColorPalette: "{COLOURS}"\n---\n'
    return "```mermaid\n" + config + header + "\n" + "\n".join(lines) + "\n```\n"


@dataclass(frozen=True)
class Curve:
    """How a curve's CSV is charted: its columns, title and axes (`y_range` None: fit the data)."""

    x: str
    y: str
    title: str
    x_label: str
    y_label: str
    y_range: tuple[float, float] | None = None


ROC = Curve("fpr", "tpr", "ROC curve", "False positive rate", "True positive rate", (0.0, 1.0))
RESIDUALS = Curve(
    "percentile",
    "residual",
    "Residuals by actual value",
    "Test rows by actual value (percentile)",
    "Mean residual (predicted - actual)",
)


def curve_chart(curve: Curve, pr: list[dict], base: list[dict] | None) -> str:
    """Two lines on a numeric x-axis: this PR's curve and the base's, both read at the same evenly
    spaced points (Mermaid spaces a line's values evenly between the axis's ends)."""
    xs, ys = _column(pr, curve.x), _column(pr, curve.y)
    grid = [xs[0] + (xs[-1] - xs[0]) * i / max(len(xs) - 1, 1) for i in range(len(xs))]
    series = {"this PR": [_interpolate(g, xs, ys) for g in grid]}
    if base:
        old = sorted(zip(_column(base, curve.x), _column(base, curve.y), strict=True))
        series["base"] = [_interpolate(g, [p[0] for p in old], [p[1] for p in old]) for g in grid]
    values = [v for line in series.values() for v in line]
    low, high = curve.y_range or (min(0.0, *values), max(0.0, *values))
    if not curve.y_range:
        pad = (high - low) * 0.05 or 1.0
        low, high = (low - pad if low < 0 else low), high + pad
    lines = [
        f"  title {_text(curve.title)}",
        f"  x-axis {_text(curve.x_label)} {_number(grid[0])} --> {_number(grid[-1])}",
        f"  y-axis {_text(curve.y_label)} {_number(low)} --> {_number(high)}",
    ]
    return mermaid("xychart-beta", lines + [_series("line", name, line) for name, line in series.items()])


def importance_chart(pr: list[dict], base: list[dict] | None, top: int = TOP_FEATURES) -> str:
    """This PR's most important features as bars, the base's importance of each as a line."""
    values = dict(zip((row["feature"] for row in pr), _column(pr, "importance"), strict=True))
    features = sorted(values, key=lambda name: -values[name])[:top]
    old = dict(zip((row["feature"] for row in base or []), _column(base or [], "importance"), strict=True))
    high = max([0.0, *(values[f] for f in features), *(old.get(f, 0.0) for f in features)]) * 1.1 or 1.0
    lines = [
        f"  title {_text(f'Feature importance (top {len(features)} in this PR)')}",
        f"  x-axis [{', '.join(_text(f) for f in features)}]",
        f'  y-axis "importance" 0 --> {_number(high)}',
        _series("bar", "this PR", [values[f] for f in features]),
    ]
    if base:
        lines.append(_series("line", "base", [old.get(f, 0.0) for f in features]))
    return mermaid("xychart-beta horizontal", lines)


CHARTS = {
    ROC_DATA: partial(curve_chart, ROC),
    RESIDUALS_DATA: partial(curve_chart, RESIDUALS),
    IMPORTANCE_DATA: importance_chart,
}


def charts_section(base: str) -> str:
    """The plots' data as charts GitHub draws: this branch's beside the base branch's."""
    parts, missing = [], []
    for path, chart in CHARTS.items():
        pr = read_rows(path.read_text()) if path.is_file() else None
        if pr is None:
            continue
        old = read_rows(git_show(base, path))
        if old is None:
            missing.append(f"`{path.name}`")
        parts.append(chart(pr, old))
    if not parts:
        return ""
    if len(missing) == len(parts):
        key = f"The base `{base[:7]}` has no plot data ({', '.join(missing)}): this PR's charts alone."
    else:
        key = f"This PR in blue, the base `{base[:7]}` in grey."
        if missing:
            key += f" The base has no {', '.join(missing)}: this PR's alone there."
    return key + "\n\n" + "\n".join(parts)


def plots_section(base: str, out_dir: Path, images: bool) -> str:
    """This branch's plots beside the base branch's (copied next to the report so it is self-contained)."""
    names = sorted(p.name for p in PLOTS_DIR.glob("*.png"))
    if not names:
        return "No plots.\n"
    if not images:
        listed = ", ".join(f"`{name}`" for name in names)
        return (
            f"Plots ({listed}) are in this run's `pr-report` artifact: publishing images in the comment "
            "is off (see the repository variable `CML_PUBLISH_URL` in the README).\n"
        )
    lines = ["| plot | base | this PR |", "| --- | --- | --- |"]
    for name in names:
        (out_dir / "pr").mkdir(parents=True, exist_ok=True)
        shutil.copy(PLOTS_DIR / name, out_dir / "pr" / name)
        old = git_show(base, PLOTS_DIR / name)
        cell = "—"
        if old:
            (out_dir / "base").mkdir(parents=True, exist_ok=True)
            (out_dir / "base" / name).write_bytes(old)
            cell = f"![base {name}](base/{name})"
        lines.append(f"| {name.removesuffix('.png')} | {cell} | ![{name}](pr/{name}) |")
    return "\n".join(lines) + "\n"


def mlflow_line(params: dict) -> str:
    uri = tracking_uri(params)
    if not uri.startswith(("http://", "https://", "databricks")):
        # Pull requests always land here: they hold no credential of the server (README.md, "Pull requests").
        return (
            f"MLflow: this run was logged to the local store `{uri}`, not to a tracking server: "
            "pull requests never write to it, and main.yml logs the merged model's run there.\n"
        )
    try:
        from .tracking import connect, run_of_model

        found = run_of_model(connect(params), params, file_md5(MODEL_PATH))
    except Exception as exc:  # the report must not fail because the tracking server is unreachable
        return f"MLflow: could not look up the run at {uri} ({exc.__class__.__name__}).\n"
    if not found:
        return f"MLflow: no run of this model found at {uri}.\n"
    run = found.info
    url = f"{uri.rstrip('/')}/#/experiments/{run.experiment_id}/runs/{run.run_id}"
    return f"MLflow: [run {run.run_id[:8]}]({url})\n"


def headline(diff: dict, primary: str) -> str:
    change = next((c[primary] for c in diff.values() if primary in c), None)
    if not change:
        return f"## Model report: `{primary}` not found in {METRICS_PATH}\n"
    old, new = change.get("old"), change.get("new")
    return f"## Model report: {primary} {_fmt(old)} → {_fmt(new)} ({verdict(primary, new, old)})\n"


def run_link() -> str:
    env = os.environ
    if not env.get("GITHUB_RUN_ID"):
        return ""
    url = f"{env.get('GITHUB_SERVER_URL', 'https://github.com')}/{env['GITHUB_REPOSITORY']}/actions/runs/"
    return f" in [this workflow run]({url}{env['GITHUB_RUN_ID']})"


def build(params: dict, base: str, out_dir: Path, *, images: bool) -> tuple[str, str]:
    """The report for the comment and for the job summary (which cannot show images)."""
    primary = params["evaluate"]["primary_metric"]
    metrics, changed_params, data = dvc_json(
        ("metrics", "diff", "--all", base), ("params", "diff", base), ("diff", "--show-hash", base)
    )
    head = _run("git", "rev-parse", "HEAD").stdout.strip()
    committed = git_show("HEAD", LOCK_PATH)
    stages = stale_stages(committed.decode() if committed else None, LOCK_PATH.read_text())
    before = [
        headline(metrics, primary),
        lock_warning(stages, committed is not None),
        "### Metrics\n",
        metrics_table(metrics, primary),
        "### Parameters\n",
        params_table(changed_params),
        "### Data and model (DVC)\n",
        data_table(data),
        "### Plots\n",
    ]
    after = [
        mlflow_line(params),
        f"Reproduced from `{head[:7]}` and compared with the base `{base[:7]}`{run_link()}.\n",
    ]
    charts = charts_section(base)
    plots = plots_section(base, out_dir, images)
    listed = plots_section(base, out_dir, False) if images else plots
    before.append(charts)
    return _join([*before, plots, *after]), _join([*before, listed, *after])


def _join(sections: list[str]) -> str:
    return "\n".join(s for s in sections if s)


def write_report(params: dict, base: str, output: Path = REPORT_PATH, *, images: bool = True) -> Path:
    """Write the report, with its images beside it, and append it to the job summary when there is one."""
    if not LOCK_PATH.is_file():
        raise UserError(f"{LOCK_PATH} not found; run `dvc repro` before the report.")
    base = resolve(base)
    for stale in ("pr", "base"):
        shutil.rmtree(output.parent / stale, ignore_errors=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    comment, summary = build(params, base, output.parent, images=images)
    output.write_text(comment)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a") as handle:
            handle.write(summary)
    return output
