"""The pull request report's pieces: metric verdicts, parameter and data tables, the dvc.lock check,
the charts of the plots' data."""

import re
import subprocess
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.report import (
    charts_section,
    data_table,
    lock_warning,
    metrics_table,
    params_table,
    stale_stages,
)


def test_metrics_table_puts_the_primary_metric_first_and_judges_by_direction():
    diff = {
        "metrics.json": {
            "accuracy": {"old": 0.9, "new": 0.8, "diff": -0.1},
            "rmse": {"old": 50.0, "new": 45.0, "diff": -5.0},
            "mae": {"old": 40.0, "new": 40.0, "diff": 0.0},
        }
    }
    lines = metrics_table(diff, primary="rmse").splitlines()
    assert lines[2] == "| **rmse** ↓ | 50 | 45 | -5 | better |"
    assert "| accuracy ↑ | 0.9 | 0.8 | -0.1 | worse |" in lines
    assert "| mae ↓ | 40 | 40 | +0 | same |" in lines


def test_metrics_table_marks_a_metric_the_base_did_not_have():
    table = metrics_table({"metrics.json": {"roc_auc": {"old": None, "new": 0.97}}}, primary="roc_auc")
    assert "| **roc_auc** ↑ | — | 0.97 | — | new |" in table


def test_params_table_lists_base_and_pr_values():
    diff = {"params.yaml": {"train.model": {"old": "random_forest", "new": "gradient_boosting"}}}
    assert "| `train.model` | random_forest | gradient_boosting |" in params_table(diff)
    assert params_table({}) == "No parameter changed.\n"


def test_data_table_counts_rows_of_csv_files_at_hand(workdir):
    Path("data/raw").mkdir(parents=True)
    Path("data/raw/dataset.csv").write_text("a,target\n1,0\n2,1\n3,0\n")
    cache = Path(".dvc/cache/files/md5/ab")
    cache.mkdir(parents=True)
    (cache / "cdef").write_text("a,target\n1,0\n")
    diff = {
        "modified": [{"path": "data/raw/dataset.csv", "hash": {"old": "abcdef", "new": "123456"}}],
        "added": [{"path": "models/model.joblib", "hash": "999"}],
    }
    table = data_table(diff)
    assert "| modified | `data/raw/dataset.csv` | 1 → 3 |" in table
    assert "| added | `models/model.joblib` |  |" in table
    assert data_table({}) == "No DVC-tracked data or model changed.\n"


LOCK = """schema: '2.0'
stages:
  train:
    cmd: train
    outs:
    - path: models/model.joblib
      md5: {train}
  evaluate:
    cmd: evaluate
    outs:
    - path: metrics.json
      md5: {evaluate}
"""


def test_stale_stages_are_those_whose_lock_entry_changed():
    committed = LOCK.format(train="aaa", evaluate="bbb")
    assert stale_stages(committed, committed) == []
    assert stale_stages(committed, LOCK.format(train="ccc", evaluate="bbb")) == ["train"]
    assert stale_stages(None, committed) == ["train", "evaluate"]


def test_lock_warning_gives_the_commands_that_fix_it():
    warning = lock_warning(["train", "evaluate"], committed=True)
    assert "does not match" in warning and "(stages: train, evaluate)" in warning
    for command in ("uv run dvc repro", "git add dvc.lock metrics.json plots/", "uv run dvc push"):
        assert f"> {command}\n" in warning
    assert lock_warning([], committed=True) == ""


def mermaid_blocks(markdown: str) -> list[list[str]]:
    """The xychart of each ```mermaid block, checked as Mermaid reads it: a header line, a title,
    axes, and series of one value per x-axis category (or of equal lengths on a numeric axis)."""
    blocks = re.findall(r"```mermaid\n(.*?)```", markdown, flags=re.DOTALL)
    charts = []
    for block in blocks:
        config, _, chart = block.partition("---\n")[2].partition("---\n")
        assert "plotColorPalette:" in config
        lines = chart.strip().splitlines()
        assert lines[0] in ("xychart-beta", "xychart-beta horizontal"), lines[0]
        body = [line.strip() for line in lines[1:]]
        assert body[0].startswith('title "')
        x_axis = next(line for line in body if line.startswith("x-axis "))
        low, high = map(float, re.fullmatch(r'y-axis "[^"]*" (\S+) --> (\S+)', body[2]).groups())
        series = [re.fullmatch(r'(line|bar) "[^"]*" \[(.*)\]', line) for line in body[3:]]
        assert all(series), body
        values = [[float(v) for v in match.group(2).split(", ")] for match in series]
        categories = re.fullmatch(r"x-axis \[(.*)\]", x_axis)
        if categories:
            count = len(re.findall(r'"[^"]*"', categories.group(1)))
        else:
            assert re.fullmatch(r'x-axis "[^"]*" \S+ --> \S+', x_axis), x_axis
            count = len(values[0])
        assert all(len(v) == count for v in values), (x_axis, values)
        assert all(low <= v <= high for series_values in values for v in series_values), body
        charts.append(body)
    return charts


def series(chart: list[str], name: str) -> list[float]:
    line = next(line for line in chart if f' "{name}" [' in line)
    return [float(v) for v in line.split("[")[1].rstrip("]").split(", ")]


def git(*args: str) -> None:
    identity = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
    subprocess.run(["git", *identity, *args], check=True, capture_output=True)


ROC = "fpr,tpr\n0,{0}\n0.5,{1}\n1,1\n"
IMPORTANCE = "feature,importance\n{0},0.6\nplan,0.3\nsize,0.1\n"
RESIDUALS = "percentile,actual,predicted,residual\n25,1,3,2\n75,10,7,-3\n"


def write_plots(roc: str | None, importance: str, residuals: str | None = None) -> None:
    Path("plots").mkdir(exist_ok=True)
    for name, text in (("roc_curve", roc), ("feature_importance", importance), ("residuals", residuals)):
        path = Path(f"plots/{name}.csv")
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(text)


@pytest.fixture
def base(workdir):
    """A git repository whose HEAD is the base; returns a function committing plot data to it."""
    git("init", "-q")

    def commit(**files: str | None) -> str:
        write_plots(**files) if files else Path("README.md").write_text("no plots yet\n")
        git("add", "-A")
        git("commit", "-q", "-m", "base")
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()

    return commit


def test_charts_show_the_pr_beside_the_base(base):
    sha = base(roc=ROC.format(0.5, 0.8), importance=IMPORTANCE.format("visits"))
    write_plots(roc=ROC.format(0.7, 0.9), importance=IMPORTANCE.format("age"))
    section = charts_section(sha)
    assert section.startswith(f"This PR in blue, the base `{sha[:7]}` in grey.")
    roc, importance = mermaid_blocks(section)
    assert roc[0] == 'title "ROC curve"'
    assert 'x-axis "False positive rate" 0 --> 1' in roc and 'y-axis "True positive rate" 0 --> 1' in roc
    assert series(roc, "this PR") == [0.7, 0.9, 1] and series(roc, "base") == [0.5, 0.8, 1]
    # The PR's features, most important first; `age` is new (0 in the base), `visits` gone.
    assert 'x-axis ["age", "plan", "size"]' in importance
    assert series(importance, "this PR") == [0.6, 0.3, 0.1] and series(importance, "base") == [0, 0.3, 0.1]
    assert importance[0].startswith('title "Feature importance') and importance[3].startswith("bar ")


def test_charts_show_the_pr_alone_when_the_base_has_no_plot_data(base):
    sha = base()
    write_plots(roc=None, importance=IMPORTANCE.format("age"), residuals=RESIDUALS)
    section = charts_section(sha)
    assert section.startswith(
        f"The base `{sha[:7]}` has no plot data (`residuals.csv`, `feature_importance.csv`)"
    )
    residuals, importance = mermaid_blocks(section)
    assert 'x-axis "Test rows by actual value (percentile)" 25 --> 75' in residuals
    assert series(residuals, "this PR") == [2, -3]
    assert not any('"base"' in line for line in residuals + importance)
    low, high = map(float, residuals[2].split('" ')[1].split(" --> "))
    assert low < -3 and high > 2  # the whole curve and zero in view


def test_the_base_curve_is_read_at_the_pr_curve_points(base):
    sha = base(roc="fpr,tpr\n0,0.2\n1,1\n", importance=IMPORTANCE.format("age"))
    write_plots(roc=ROC.format(0.7, 0.9), importance=IMPORTANCE.format("age"))
    roc, _ = mermaid_blocks(charts_section(sha))
    assert series(roc, "base") == [0.2, 0.6, 1]


def test_no_plot_data_no_charts(base):
    assert charts_section(base()) == ""


def test_chart_labels_keep_their_quotes_out_of_the_syntax(base):
    sha = base()
    write_plots(roc=None, importance='feature,importance\n"say ""hi""",0.000012345\n')
    (chart,) = mermaid_blocks(charts_section(sha))
    assert "x-axis [\"say 'hi'\"]" in chart
    assert "e-" not in " ".join(chart) and series(chart, "this PR") == pytest.approx([0.00001234], rel=1e-3)
