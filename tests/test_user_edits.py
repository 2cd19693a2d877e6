"""A generated project keeps working after the edits its team makes first: the model, the seed, the split.

Each case edits params.yaml as a user would (keeping its comments): another offered model with the
hyperparameters the file suggests for it, and one of another train seed, another split, another
gate; those are cycled across the models rather than multiplied. The edited project then passes
what its users and its workflows run: `make test`, `make lint`, `dvc repro`, `release`, `bento`.
The default model goes through the same steps elsewhere: its own tests, lint and `dvc repro` in
test_project.py, `release` and `bento` in test_service_serve.py, pr.yml with edited
hyperparameters in test_workflow_pr.py.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from .act_runner import git
from .conftest import BakedProject
from .params_text import edit as edit_params
from .params_text import suggested_hyperparameters

MODELS = {  # the default first
    "classification": ["random_forest", "gradient_boosting", "logistic_regression"],
    "regression": ["random_forest", "gradient_boosting", "ridge"],
}
# Cycled across the models of a task: each case changes one of these besides the model.
OTHER_EDITS: list[dict[str, dict]] = [
    {"train": {"seed": 4}},
    {"split": {"test_size": 0.3, "seed": 7}},
    {"train": {"seed": 123}, "split": {"test_size": 0.25}},
]
# A looser gate in one case per task, on another metric than the defaults' floors name.
GATES = {
    "classification": {"min_improvement": 0, "floors": {"f1": 0.8}},
    "regression": {"min_improvement": 0, "floors": {"mae": 65}},
}


@dataclass
class Case:
    task: str
    model: str
    edits: dict = field(default_factory=dict)

    def __str__(self) -> str:
        changed = [f"{section}.{key}" for section, values in self.edits.items() for key in values]
        return "-".join([self.task, self.model, *changed])


def cases(task: str) -> list[Case]:
    """One case per model the team can switch to; the other edits cycle, each reached by a task."""
    shift = list(MODELS).index(task)  # the tasks start the cycle at different edits
    found = []
    others = MODELS[task][1:]
    for i, model in enumerate(others):
        edits = {k: dict(v) for k, v in OTHER_EDITS[(i + shift) % len(OTHER_EDITS)].items()}
        if i == len(others) - 1:
            edits["promotion"] = GATES[task]
        found.append(Case(task, model, edits))
    return found


def test_the_cases_reach_every_model_and_every_edit():
    every = [case for task in MODELS for case in cases(task)]
    assert {(c.task, c.model) for c in every} == {(t, m) for t in MODELS for m in MODELS[t][1:]}
    for edit_ in OTHER_EDITS:
        assert any(all(c.edits.get(k) == v for k, v in edit_.items()) for c in every), edit_
    assert {c.task for c in every if "promotion" in c.edits} == set(MODELS)


def edit(project: BakedProject, case: Case) -> dict:
    """Apply the case to params.yaml as its user would; returns the hyperparameters chosen."""
    text = project.read("params.yaml")
    suggestions = suggested_hyperparameters(text)
    assert set(suggestions) == set(MODELS[case.task]), "params.yaml suggests hyperparameters for each model"
    hyperparameters = suggestions[case.model]
    text = edit_params(text, {"train": {"model": case.model, "hyperparameters": hyperparameters}})
    text = edit_params(text, case.edits)
    (project.path / "params.yaml").write_text(text)
    params = yaml.safe_load(text)
    assert params["train"]["model"] == case.model and params["train"]["hyperparameters"] == hyperparameters
    for section, values in case.edits.items():
        assert {k: params[section][k] for k in values} == values
    return hyperparameters


@pytest.mark.parametrize("task", MODELS)
def test_params_yaml_offers_each_model_with_hyperparameters_that_suit_it(baked, task):
    text = baked(task=task).read("params.yaml")
    offered = re.search(r"^  model: \w+ +# (.*)$", text, flags=re.MULTILINE)[1]
    assert offered.split(" | ") == MODELS[task]
    suggestions = suggested_hyperparameters(text)
    assert list(suggestions) == MODELS[task]
    params = yaml.safe_load(text)
    assert params["train"]["hyperparameters"] == suggestions[params["train"]["model"]]


def comments(text: str) -> list[str]:
    """The comments of params.yaml, but those of the mappings an edit replaces (4 spaces in)."""
    return [
        line.split("#", 1)[1] for line in text.splitlines() if "#" in line and not line.startswith("    ")
    ]


def test_an_edit_keeps_the_comments(baked):
    project = baked(task="classification")
    before = project.read("params.yaml")
    edit(
        project,
        Case("classification", "gradient_boosting", {**OTHER_EDITS[2], "promotion": GATES["classification"]}),
    )
    after = project.read("params.yaml")
    assert comments(after) == comments(before)
    assert "  model: gradient_boosting          # random_forest | gradient_boosting" in after


def edited(installed, tmp_path: Path, case: Case) -> BakedProject:
    """A clone of the task's installed project at its first commit, with the case's edits committed."""
    source = installed(case.task)
    path = tmp_path / source.path.name
    git(tmp_path, "clone", "-q", str(source.path), str(path))
    git(path, "checkout", "-q", "-B", "main", git(path, "rev-list", "--max-parents=0", "HEAD"))
    project = BakedProject(path, source.answers)
    project.run("uv", "sync", "--quiet")  # from uv's warm cache: seconds
    edit(project, case)
    project.commit(f"train {case.model}")
    return project


def passes_what_its_users_run(project: BakedProject) -> None:
    home = {"BENTOML_HOME": str(project.path.parent / "bentoml")}
    out = project.run("make", "test").stdout
    assert " passed" in out and "failed" not in out, out[-2000:]
    project.run("make", "lint")
    repro = project.run("uv", "run", "dvc", "repro").stdout
    assert "Running stage 'train'" in repro and "Running stage 'evaluate'" in repro
    params = yaml.safe_load(project.read("params.yaml"))
    metrics = yaml.safe_load(project.read("metrics.json"))
    assert params["evaluate"]["primary_metric"] in metrics
    project.commit("pipeline reproduced")

    release = project.run("uv", "run", project.package, "release", check=False)
    name = params["mlflow"]["registered_model"]
    assert f"registered version 1 of {name}" in release.stdout, release.stdout
    assert "### Model promotion:" in release.stdout  # the gate's verdict, with its table
    # No champion yet: only the floors decide, and every offered model with the hyperparameters
    # params.yaml suggests passes them on the bundled example (or a team switching models would
    # never see its first model promoted).
    assert release.returncode == 0, release.stdout
    assert f"version 1 of {name} promoted to champion" in release.stdout.lower()
    models = project.run("uv", "run", project.package, "show").stdout
    assert models.splitlines()[1].split()[:2] == ["1", "champion"], models

    built = project.run("uv", "run", project.package, "bento", **home).stdout
    assert "serving model version 1" in built, built
    bento, version = built.split("built Bento ", 1)[1].split()[0].split(":")
    assert (Path(home["BENTOML_HOME"]) / "bentos" / bento / version / "bento.yaml").is_file()


# One class per task: `pytest -n 2 --dist loadscope` gives each class to a worker of its own.
class TestClassification:
    @pytest.mark.slow
    @pytest.mark.parametrize("case", cases("classification"), ids=str)
    def test_the_edited_project_passes_its_tests_lint_pipeline_release_and_bento(
        self, installed, tmp_path, case
    ):
        passes_what_its_users_run(edited(installed, tmp_path, case))


class TestRegression:
    @pytest.mark.slow
    @pytest.mark.parametrize("case", cases("regression"), ids=str)
    def test_the_edited_project_passes_its_tests_lint_pipeline_release_and_bento(
        self, installed, tmp_path, case
    ):
        passes_what_its_users_run(edited(installed, tmp_path, case))
