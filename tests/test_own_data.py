"""A team's own data, end to end: a CSV the template has never seen goes through the README's steps.

The data has what real tables have and the bundled examples lack: text categories, missing
values, an integer column, and a string target with three classes. It goes through the
README's "Bring your own data" commands, then `dvc repro`, the project's own tests, `release`,
`bento`, real predictions from `bentoml serve`, and the drift check on the predictions logged.
"""

import csv
import json
import random
import re
from pathlib import Path

import pytest
import yaml

from .conftest import bake, clean_env
from .servers import Server, free_port, http
from .test_project import stages_run

pytestmark = pytest.mark.slow

SPECIES = {  # island weights, bill length, bill depth, flipper length (mean, sd)
    "Adelie": ({"Torgersen": 0.3, "Biscoe": 0.3, "Dream": 0.4}, (38.8, 2.6), (18.3, 1.2), (190, 6.5)),
    "Chinstrap": ({"Dream": 1.0}, (48.8, 3.3), (18.4, 1.1), (196, 7.0)),
    "Gentoo": ({"Biscoe": 1.0}, (47.5, 3.1), (15.0, 1.0), (217, 6.5)),
}


def penguins(path: Path, rows_per_species: int = 120, seed: int = 7) -> None:
    """Penguin-like measurements, learnable, with gaps where field notes have them, as a CSV."""
    rng = random.Random(seed)
    rows = []
    for species, (islands, bill, depth, flipper) in SPECIES.items():
        for _ in range(rows_per_species):
            rows.append(
                {
                    "island": rng.choices(list(islands), weights=list(islands.values()))[0],
                    "bill_length_mm": "" if rng.random() < 0.05 else f"{rng.gauss(*bill):.1f}",
                    "bill_depth_mm": f"{rng.gauss(*depth):.1f}",
                    "flipper_length_mm": str(round(rng.gauss(*flipper))),
                    "sex": "" if rng.random() < 0.04 else rng.choice(["female", "male"]),
                    "species": species,
                }
            )
    rng.shuffle(rows)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def request_rows(path: Path) -> tuple[list[dict], list[str]]:
    """The test split's rows as JSON requests (empty cells as null), and their species."""
    with path.open() as handle:
        records = list(csv.DictReader(handle))
    numbers = {"bill_length_mm": float, "bill_depth_mm": float, "flipper_length_mm": int}
    rows = [
        {k: None if v == "" else numbers.get(k, str)(v) for k, v in r.items() if k != "species"}
        for r in records
    ]
    return rows, [r["species"] for r in records]


def readme_commands(readme: str) -> list[str]:
    """The shell commands of the README's "Bring your own data" section, comments dropped."""
    section = readme.split("## Bring your own data", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    return [
        line.split("  #")[0].strip()
        for line in block.splitlines()
        if line.strip() and not line.startswith("#")
    ]


@pytest.fixture(scope="module")
def journey(tmp_path_factory):
    work = tmp_path_factory.mktemp("own-data")
    project = bake(work, project_name="penguin watch")
    project.run("uv", "sync", "--quiet")
    project.commit("generated")
    source = work / "penguins.csv"
    penguins(source)
    steps = {}
    commands = readme_commands(project.read("README.md"))
    assert len(commands) == 3, commands
    for command in commands:  # the README's placeholders, filled in as its reader would
        command = command.replace("path/or/url/data.csv", str(source)).replace("data.csv", "penguins.csv")
        steps[command.split()[3]] = project.run("bash", "-c", command.replace("COLUMN", "species"))
    project.commit("our penguins")
    steps["make help"] = project.run("make", "help")
    steps["example"] = json.loads(project.run("uv", "run", project.package, "schema", "example").stdout)
    steps["make test"] = project.run("make", "test")
    steps["release"] = project.run("uv", "run", project.package, "release")
    home = {"BENTOML_HOME": str(work / "bentoml")}
    steps["bento"] = project.run("uv", "run", project.package, "bento", **home)
    port = free_port()
    server = Server(
        ["uv", "run", "bentoml", "serve", "penguin-watch:latest", "--host", "127.0.0.1", "--port", str(port)],
        cwd=project.path,
        env={**clean_env(**home), "MONITORING_DIR": str(project.path / "monitoring")},
        log=work / "serve.log",
        ready_url=f"http://127.0.0.1:{port}/readyz",
    )
    try:
        server.wait()
        url = f"http://127.0.0.1:{port}"
        rows, steps["expected"] = request_rows(project.path / "data/processed/test.csv")
        steps["single"] = http("POST", f"{url}/predict", rows[0])
        steps["batch"] = http("POST", f"{url}/predict_batch", rows)
        steps["unknown island"] = http("POST", f"{url}/predict", {**rows[0], "island": "Atlantis"})
        steps["README example"] = http("POST", f"{url}/predict", steps["example"])
    finally:
        server.stop()
    steps["drift"] = project.run("uv", "run", project.package, "drift", check=False)
    # The source changes: `source add` of the new version, and the pipeline runs again from ingest.
    penguins(source, rows_per_species=130, seed=8)
    project.run("uv", "run", project.package, "source", "add", str(source))
    steps["new version"] = project.run("uv", "run", "dvc", "repro")
    return project, steps


def test_the_readme_commands_bring_the_data_in(journey):
    project, steps = journey
    assert stages_run(steps["repro"].stdout) == ["ingest", "validate", "split", "train", "evaluate"]
    assert yaml.safe_load(project.read("params.yaml"))["data"]["source"] == "data/source/penguins.csv"
    schema = yaml.safe_load(project.read("schema.yaml"))
    assert schema["target"]["name"] == "species"
    assert sorted(schema["target"]["allowed"]) == sorted(SPECIES)
    features = schema["features"]
    assert features["island"]["dtype"] == "category"
    assert sorted(features["island"]["allowed"]) == ["Biscoe", "Dream", "Torgersen"]
    assert features["bill_length_mm"].get("nullable") is True and features["sex"].get("nullable") is True
    assert features["flipper_length_mm"]["dtype"] == "int"
    assert not features["bill_depth_mm"].get("nullable")
    # Examples follow the project's own columns, not the bundled example's.
    assert set(steps["example"]) == set(features)
    assert re.search(
        r'SHIFT="(bill_length_mm|bill_depth_mm|flipper_length_mm):mean=1"', steps["make help"].stdout
    )


def test_a_new_version_of_the_source_runs_the_pipeline_again(journey):
    _, steps = journey
    assert stages_run(steps["new version"].stdout)[:2] == ["ingest", "validate"]


def test_the_model_is_measured_per_class(journey):
    project, _ = journey
    metrics = json.loads(project.read("metrics.json"))
    assert metrics["accuracy"] > 0.85 and metrics["roc_auc"] > 0.9
    assert {f"f1.{species}" for species in SPECIES} <= set(metrics)


def test_the_projects_own_tests_pass_on_the_new_data(journey):
    _, steps = journey
    assert " passed" in steps["make test"].stdout and "failed" not in steps["make test"].stdout


def test_release_promotes_and_the_bento_serves_class_labels(journey):
    _, steps = journey
    assert "promoted" in steps["release"].stdout
    assert "serving model version 1" in steps["bento"].stdout
    status, body = steps["single"]
    assert status == 200, body
    assert body["prediction"] in SPECIES and set(body["probabilities"]) == set(SPECIES)
    status, body = steps["batch"]
    assert status == 200, body
    agree = sum(p == e for p, e in zip(body["predictions"], steps["expected"], strict=True))
    assert agree > 0.85 * len(steps["expected"])
    status, body = steps["unknown island"]
    assert status == 400 and body["detail"][0]["loc"] == ["island"], body
    status, body = steps["README example"]
    assert status == 200 and body["prediction"] in SPECIES, body


def test_the_drift_check_reads_the_logged_categories(journey):
    project, steps = journey
    assert steps["drift"].returncode in (0, 1), steps["drift"].stderr
    report = json.loads(project.read("reports/drift/drift.json"))
    columns = {c["column"]: c for c in report["columns"]}
    assert columns["island"]["kind"] == "categorical" and columns["sex"]["kind"] == "categorical"
    assert report["prediction"]["kind"] == "categorical"  # class labels, compared as categories
    assert report["current"]["rows"] == 2 + len(steps["expected"])  # single, batch, README example
