"""Project tier: install generated projects and run what their users run."""

import json
import random

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


def test_own_tests_pass(project):
    result = project.run("uv", "run", "pytest", "-q", "-p", "no:cacheprovider")
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


def test_corrupt_source_data_stops_the_pipeline_at_validate(project):
    # The source starts delivering a negative value in the first column of its third row.
    data_py = project.path / "src" / project.package / "data.py"
    data_py.write_text(
        data_py.read_text()
        + "\n\n_source = load_source\n\n\ndef load_source(source, root=Path('.')):\n"
        + "    frame = _source(source, root)\n    frame.iloc[2, 0] = -5\n    return frame\n"
    )
    try:
        result = project.run("uv", "run", "dvc", "repro", check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert stages_run(result.stdout) == ["ingest", "validate"]
        column = project.read("data/raw/dataset.csv").split(",")[0]
        assert f"column '{column}' has 1 values outside [0, " in output
        assert "on lines 4 (first: -5)" in output
        # Nothing half-written: no validated data, and dvc.lock still records the last good validation.
        assert not project.has_file("data/validated/dataset.csv")
        committed = yaml.safe_load(project.run("git", "show", "HEAD:dvc.lock").stdout)
        assert (
            yaml.safe_load(project.read("dvc.lock"))["stages"]["validate"] == committed["stages"]["validate"]
        )
    finally:
        project.run("git", "checkout", "--", ".")
        project.run("uv", "run", "dvc", "checkout", "--quiet", "--force")


def customers_csv(path, rows: int, seed: int) -> None:
    """A dataset no project has seen: numbers, a text category and a binary target that depends on them."""
    rng = random.Random(seed)
    lines = ["tenure,plan,monthly_charges,churned"]
    for _ in range(rows):
        tenure, plan, charges = rng.randint(1, 71), rng.choice(["basic", "pro", "team"]), rng.uniform(20, 100)
        risk = -0.05 * tenure + 0.03 * charges + (1.0 if plan == "basic" else -0.5) + rng.gauss(0, 0.5)
        lines.append(f"{tenure},{plan},{charges:.2f},{int(risk > -0.3)}")
    path.write_text("\n".join(lines) + "\n")


def test_bring_your_own_data_in_the_readmes_three_commands(tmp_path):
    from .conftest import bake

    project = bake(tmp_path, project_name="churn model")
    project.run("uv", "sync", "--quiet")
    project.commit("generated")
    customers_csv(tmp_path / "customers.csv", 600, seed=1)
    package = project.package

    project.run("uv", "run", package, "source", "add", str(tmp_path / "customers.csv"))
    project.run(
        "uv", "run", package, "schema", "infer", "data/source/customers.csv", "--target", "churned", "--force"
    )
    out = project.run("uv", "run", "dvc", "repro").stdout
    assert stages_run(out) == ["ingest", "validate", "split", "train", "evaluate"]
    schema = yaml.safe_load(project.read("schema.yaml"))
    assert schema["target"] == {"name": "churned", "dtype": "int", "allowed": [0, 1]}
    assert schema["features"]["plan"] == {"dtype": "category", "allowed": ["basic", "pro", "team"]}
    assert json.loads(project.read("metrics.json"))["roc_auc"] > 0.7
    example = json.loads(project.run("uv", "run", package, "schema", "example").stdout)
    assert list(example) == ["tenure", "plan", "monthly_charges"] and example["plan"] == "basic"
    assert 'SHIFT="tenure:mean=1"' in project.run("make", "help").stdout
    project.commit("our data")

    # A new version of the file: `source add` again, and the pipeline runs again from ingest.
    customers_csv(tmp_path / "customers.csv", 700, seed=2)
    project.run("uv", "run", package, "source", "add", str(tmp_path / "customers.csv"))
    out = project.run("uv", "run", "dvc", "repro").stdout
    assert stages_run(out)[:2] == ["ingest", "validate"]
    assert len(project.read("data/raw/dataset.csv").splitlines()) == 701
