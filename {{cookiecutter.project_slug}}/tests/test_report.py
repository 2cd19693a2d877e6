"""The pull request report's pieces: metric verdicts, parameter and data tables, the dvc.lock check."""

from pathlib import Path

from {{ cookiecutter.package_name }}.report import (
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
