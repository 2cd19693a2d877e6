"""Project tier: install generated projects and run what their users run."""

import json

import pytest
import yaml

pytestmark = pytest.mark.slow

SANE = {"classification": ("roc_auc", 0.95, 1.0), "regression": ("rmse", 30.0, 70.0)}


@pytest.fixture(scope="module", params=["classification", "regression"])
def project(request, installed):
    project = installed(request.param)
    result = project.run("uv", "run", "dvc", "repro")
    project.first_repro = result.stdout
    project.commit("first pipeline run")
    return project


def stages_run(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")]


def test_own_tests_pass_on_the_regression_defaults(installed):
    # The classification project runs its own tests in every pull request of test_workflow_pr.py
    # (pr.yml's Test step), and both tasks in each case of test_user_edits.py.
    result = installed("regression").run("uv", "run", "pytest", "-q", "-p", "no:cacheprovider")
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_lint_and_format_are_clean(project):
    project.run("uv", "run", "ruff", "check", ".")
    project.run("uv", "run", "ruff", "format", "--check", ".")


def test_make_help_lists_the_targets(project):
    out = project.run("make", "help").stdout
    for target in ("setup", "repro", "test", "lint", "metrics", "mlflow-ui"):
        assert f"{target} " in out


def test_first_repro_runs_every_stage_and_the_metric_is_sane(project):
    assert stages_run(project.first_repro) == ["ingest", "validate", "split", "train", "evaluate"]
    task = project.answers["task"]
    metric, low, high = SANE[task]
    metrics = json.loads(project.read("metrics.json"))
    assert low <= metrics[metric] <= high, metrics
    assert project.has_file("plots/feature_importance.png")


def test_second_repro_runs_nothing(project):
    out = project.run("uv", "run", "dvc", "repro").stdout
    assert stages_run(out) == []
    assert "Data and pipelines are up to date." in out


def test_changing_a_training_parameter_reruns_train_and_evaluate_only(project):
    params = yaml.safe_load(project.read("params.yaml"))
    params["train"]["hyperparameters"]["n_estimators"] = 20
    (project.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        out = project.run("uv", "run", "dvc", "repro").stdout
        assert stages_run(out) == ["train", "evaluate"]
    finally:
        project.run("git", "checkout", "--", ".")
        project.run("uv", "run", "dvc", "checkout", "--quiet")


def test_corrupt_source_data_stops_the_pipeline_at_validate_and_loses_nothing(project):
    # The source starts delivering a negative value in the first column of its third row.
    data_py = project.path / "src" / project.package / "data.py"
    data_py.write_text(
        data_py.read_text()
        + "\n\n_source = load_source\n\n\ndef load_source(*args):\n"
        + "    frame = _source(*args)\n    frame.iloc[2, 0] = -5\n    return frame\n"
    )
    validated = project.read("data/validated/dataset.csv")
    try:
        result = project.run("make", "repro", check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert stages_run(result.stdout) == ["ingest", "validate"]
        column = project.read("data/raw/dataset.csv").split(",")[0]
        assert f"column '{column}' has 1 values outside [0, " in output
        assert "on lines 4 (first: -5)" in output
        # Nothing lost: the last good validation is back in place and dvc.lock still records it.
        assert "restored the outputs dvc.lock records" in output
        assert project.read("data/validated/dataset.csv") == validated
        committed = yaml.safe_load(project.run("git", "show", "HEAD:dvc.lock").stdout)
        assert (
            yaml.safe_load(project.read("dvc.lock"))["stages"]["validate"] == committed["stages"]["validate"]
        )
    finally:
        project.run("git", "checkout", "--", ".")
        project.run("uv", "run", "dvc", "checkout", "--quiet", "--force")


def test_a_failing_evaluate_keeps_the_last_metrics_and_plots(project):
    before = {p: p.read_bytes() for p in [project.path / "metrics.json", *(project.path / "plots").iterdir()]}
    test_csv = project.path / "data/processed/test.csv"
    test_csv.write_text(test_csv.read_text().splitlines()[0] + "\n")  # the header alone: nothing to score
    try:
        result = project.run("uv", "run", "dvc", "repro", "--single-item", "--force", "evaluate", check=False)
        assert result.returncode != 0
        assert "data/processed/test.csv has no rows" in result.stderr + result.stdout
        assert {p: p.read_bytes() for p in before} == before
    finally:
        project.run("git", "checkout", "--", ".")
        project.run("uv", "run", "dvc", "checkout", "--quiet", "--force")
