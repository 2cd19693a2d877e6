"""Fast tier: every supported combination of answers renders into a clean, parseable project."""

import ast
import configparser
import itertools
import json
import re
import tomllib

import pytest
import yaml
from cookiecutter.exceptions import FailedHookException

TASKS = ("classification", "regression")
REMOTES = {
    "local": "../dvc-storage",
    "s3": "s3://acme-ml/dvc",
    "gcs": "gs://acme-ml/dvc",
    "azure": "azure://ml/dvc",
}
# Options that do not interact with task and remote are cycled over the combinations, not multiplied.
PYTHONS = ("3.11", "3.12", "3.13")
LICENSES = ("MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary")
TRACKING = ("", "https://mlflow.example.com")
TEMPLATE_UPDATES = ("yes", "no")  # as typed at the prompt or on the command line
DEPLOYS = ("argocd", "flux", "kustomize", "none")
# cml twice in three: over the eight pairs it meets every remote (each cloud of the runner, and AWS for
# a local remote) and both kinds of cloud credentials.
TRAINING_RUNNERS = ("github", "cml", "cml")


def combinations():
    pairs = list(itertools.product(TASKS, REMOTES))
    cycled = zip(
        itertools.cycle(PYTHONS),
        itertools.cycle(LICENSES),
        itertools.cycle(TRACKING),
        itertools.cycle(TEMPLATE_UPDATES),
        itertools.cycle(DEPLOYS),
        itertools.cycle(TRAINING_RUNNERS),
    )
    for (task, remote), (python, license_, tracking, updates, deploy, runner) in zip(
        pairs, cycled, strict=False
    ):
        # Each cloud remote with stored keys (classification) and with OpenID Connect (regression).
        credentials = "oidc" if remote != "local" and task == "regression" else "secrets"
        yield {
            "task": task,
            "dvc_remote": remote,
            "dvc_remote_url": REMOTES[remote],
            "python_version": python,
            "license": license_,
            "mlflow_tracking_uri": tracking,
            "template_updates": updates,
            "deploy": deploy,
            "cloud_credentials": credentials,
            "training_runner": runner,
        }


COMBINATIONS = list(combinations())


def deploy_files(deploy: str) -> set[str]:
    """The Kustomize base and overlays, the controller's manifests, the workflows that deploy them and
    the project's tests of its deploy commands."""
    if deploy == "none":
        return set()
    base = ("kustomization", "deployment", "service", "hpa", "pdb", "prediction-log")
    overlay = ("kustomization.yaml", "namespace.yaml", "release/kustomization.yaml")
    controller = {
        "argocd": ("kustomization", "staging", "production"),
        "flux": ("kustomization", "source", "staging", "production"),
    }
    return {
        *(f"deploy/base/{name}.yaml" for name in base),
        *(f"deploy/overlays/{env}/{name}" for env in ("staging", "production") for name in overlay),
        *(f"deploy/{deploy}/{name}.yaml" for name in controller.get(deploy, ())),
        ".github/workflows/deploy.yml",
        ".github/workflows/production.yml",
        "tests/test_deploy.py",
    }


# The team's tracking server (platform/): Docker Compose and Kubernetes, whatever the deploy answer.
PLATFORM_FILES = {
    *(
        f"platform/{name}"
        for name in (".env.example", "Dockerfile", "basic_auth.ini", "compose.yaml", "requirements.txt")
    ),
    *(f"platform/kubernetes/{name}.yaml" for name in ("kustomization", "namespace", "deployment", "service")),
}


def expected_files(answers: dict, package: str) -> set[str]:
    src = f"src/{package}"
    files = {
        ".cruft.json",
        ".dvc/.gitignore",
        ".dvc/config",
        ".dvcignore",
        ".github/dependabot.yml",
        ".github/workflows/doctor.yml",
        ".github/workflows/drift.yml",
        ".github/workflows/main.yml",
        ".github/workflows/pr.yml",
        ".gitignore",
        ".pre-commit-config.yaml",
        ".python-version",
        "Makefile",
        "README.md",
        "data/source/README.md",
        "dvc.yaml",
        "params.yaml",
        "pyproject.toml",
        "schema.yaml",
        *(
            f"{src}/{name}.py"
            for name in (
                "__init__", "bento", "ci_user", "cli", "data", "deploy_aliases", "deploy_pr", "deploy_release", "drift", "drift_data", "drift_stream",
                "drift_issue", "drift_report", "errors", "evaluate", "features", "github", "github_doctor", "github_setup", "metrics", "monitoring", "params", "pipeline",
                "prediction_log", "proposal", "registry", "registry_lock", "report", "repo_needs", "repo_state", "request_guard", "retrain",
                "schema_tools", "serve", "service", "simulate", "sources", "split", "tracking", "train",
                "validation", "atomic",
            )
        ),
        *(
            f"tests/{name}.py"
            for name in (
                "conftest", "test_data", "test_drift", "test_drift_data", "test_evaluate", "test_github", "test_github_settings",
                "test_metrics", "test_monitoring_store", "test_pipeline", "test_registry", "test_report", "test_request_guard",
                "test_schema_tools", "test_serve", "test_service", "test_simulate", "test_sources", "test_split", "test_train",
                "test_validation",
            )
        ),
    }  # fmt: skip
    if answers["license"] != "Proprietary":
        files.add("LICENSE")
    if answers.get("template_updates", "yes") == "yes":
        files.add(".github/workflows/template-update.yml")
    return files | PLATFORM_FILES | deploy_files(answers.get("deploy", "argocd"))


LEFTOVER = re.compile(r"(?<!\$)\{\{|\{%|(?<![$])\{#")


def parse(path):
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        yaml.safe_load(text)
    elif path.suffix == ".toml":
        tomllib.loads(text)
    elif path.suffix == ".json":
        json.loads(text)
    elif path.suffix == ".py":
        ast.parse(text, filename=str(path))
    elif path.suffix == ".ini" or (path.name == "config" and path.parent.name == ".dvc"):
        configparser.ConfigParser().read_string(text)


@pytest.mark.parametrize(
    "answers",
    COMBINATIONS,
    ids=lambda a: f"{a['task']}-{a['dvc_remote']}-{a['deploy']}-{a['training_runner']}",
)
def test_combination_renders_cleanly(baked, answers):
    project = baked(**answers)
    assert project.files() == expected_files(answers, project.package)
    for relative in project.files():
        path = project.path / relative
        text = path.read_text()
        assert not LEFTOVER.search(text), f"template syntax left in {relative}"
        parse(path)


@pytest.mark.parametrize(
    "answers",
    COMBINATIONS,
    ids=lambda a: f"{a['task']}-{a['dvc_remote']}-{a['deploy']}-{a['training_runner']}",
)
def test_answers_reach_the_files(baked, answers):
    project = baked(**answers)
    params = yaml.safe_load(project.read("params.yaml"))
    assert params["task"] == answers["task"]
    assert params["evaluate"]["primary_metric"] == (
        "roc_auc" if answers["task"] == "classification" else "rmse"
    )
    pyproject = tomllib.loads(project.read("pyproject.toml"))
    assert pyproject["project"]["requires-python"] == f">={answers['python_version']}"
    assert project.read(".python-version").strip() == answers["python_version"]
    assert pyproject["project"]["scripts"] == {project.package: f"{project.package}.cli:main"}
    dvc = configparser.ConfigParser()
    dvc.read_string(project.read(".dvc/config"))
    url = dvc["'remote \"storage\"'"]["url"]
    if answers["dvc_remote"] == "local":
        assert url == "../" + answers["dvc_remote_url"]  # .dvc/config paths are relative to .dvc/
    else:
        assert url == answers["dvc_remote_url"]
        extra = {"s3": "s3", "gcs": "gs", "azure": "azure"}[answers["dvc_remote"]]
        assert any(dep.startswith(f"dvc[{extra}]") for dep in pyproject["project"]["dependencies"])
    if answers["license"] != "Proprietary":
        assert pyproject["project"]["license"] == answers["license"]
    # training_runner: cml adds the job that launches the runner, in the DVC remote's cloud (AWS for local).
    cml = answers["training_runner"] == "cml"
    cloud = {"s3": "aws", "gcs": "gcp", "azure": "azure", "local": "aws"}[answers["dvc_remote"]]
    for name in ("pr.yml", "main.yml"):
        workflow = project.read(f".github/workflows/{name}")
        assert ("launch" in yaml.safe_load(workflow)["jobs"]) is cml
        assert (
            f'cml runner launch --single --labels="$LABEL" --repo="$REPO_URL" --cloud={cloud} ' in workflow
        ) is cml
    assert ("## Training on a cloud runner" in project.read("README.md")) is cml


@pytest.mark.parametrize(
    ("task", "dataset", "first_feature"),
    [("classification", "breast_cancer", "mean_radius"), ("classification", "wine", "alcohol"),
     ("regression", "diabetes", "age")],
)  # fmt: skip
def test_the_dataset_answer_reaches_params_schema_and_examples(baked, task, dataset, first_feature):
    project = baked(task=task, dataset=dataset)
    assert project.files() == expected_files({"license": "MIT"}, project.package)
    params = yaml.safe_load(project.read("params.yaml"))
    assert params["data"] == {"source": dataset, "min_rows": 50}
    schema = yaml.safe_load(project.read("schema.yaml"))
    assert next(iter(schema["features"])) == first_feature
    target = schema["target"]
    if dataset == "wine":  # multiclass, string labels
        assert target == {"name": "target", "dtype": "category", "allowed": ["class_0", "class_1", "class_2"]}
        assert len(schema["features"]) == 13 and "od280_od315_of_diluted_wines" in schema["features"]
    assert ("allowed" in target) == (task == "classification")
    # make help names a column of this project's own schema in its examples.
    help_text = project.run("make", "help").stdout
    assert f'SHIFT="{first_feature}:mean=1"' in help_text
    assert f"source: {dataset} " in project.read("params.yaml")  # aligned with its comment


def test_the_readme_opens_with_bringing_your_own_data(baked):
    project = baked(dataset="wine", project_name="Wine Quality")
    readme = project.read("README.md")
    assert "scikit-learn's bundled `wine` example data" in readme
    section = readme.split("## Bring your own data", 1)[1].split("\n## ", 1)[0]
    commands = [
        line.split("#")[0].strip() for line in section.split("```bash", 1)[1].split("```")[0].splitlines()
    ]
    assert [c for c in commands if c] == [
        "uv run wine_quality source add path/or/url/data.csv",
        "uv run wine_quality schema infer data/source/data.csv --target COLUMN --force",
        "uv run dvc repro",
    ]
    assert "git commit" in section
    assert '-d "$(uv run wine_quality schema example)"' in readme


def test_defaults_render_a_git_repository(baked):
    project = baked()
    assert project.path.name == "demo-model"
    assert project.package == "demo_model"
    assert (project.path / ".git").is_dir()


def test_text_answers_with_quotes_stay_valid_toml(baked):
    project = baked(description='Predicts "churn" \\ quickly', author_name="Zoë O'Brien")
    pyproject = tomllib.loads(project.read("pyproject.toml"))
    assert pyproject["project"]["description"] == 'Predicts "churn" \\ quickly'
    assert pyproject["project"]["authors"][0]["name"] == "Zoë O'Brien"


BAD_ANSWERS = [
    ({"project_slug": "My Project"}, "project_slug 'My Project' is not a valid repository name"),
    ({"package_name": "2fast"}, "package_name '2fast' is not a valid Python package name"),
    ({"package_name": "class"}, "package_name 'class' is a Python keyword"),
    ({"package_name": "json"}, "package_name 'json' would shadow"),
    ({"package_name": "mlflow"}, "package_name 'mlflow' would shadow"),
    ({"drift_schedule": "0 6 * *"}, "drift_schedule '0 6 * *' has 4 fields"),
    ({"drift_schedule": "61 6 * * 1"}, "invalid minute field '61'"),
    ({"drift_schedule": "0 6 * 13 1"}, "invalid month field '13'"),
    ({"dvc_remote": "s3", "dvc_remote_url": "gs://bucket/x"}, "does not match dvc_remote s3"),
    ({"dvc_remote_url": "storage"}, "would put the DVC storage inside the repository"),
    ({"author_email": "ada.example.com"}, "author_email 'ada.example.com' does not look like an email"),
    (
        {"task": "regression", "dataset": "breast_cancer"},
        "dataset 'breast_cancer' does not fit task regression",
    ),
    (
        {"task": "regression", "dataset": "wine"},
        "dataset 'wine' does not fit task regression; choose diabetes.",
    ),
    ({"github_owner": "acme/inc"}, "github_owner 'acme/inc' is not a GitHub user"),
    ({"mlflow_tracking_uri": "mlflow.example.com"}, "is not an MLflow tracking URI"),
]


@pytest.mark.parametrize(("answers", "message"), BAD_ANSWERS, ids=[m[:30] for _, m in BAD_ANSWERS])
def test_bad_answer_is_rejected_and_leaves_nothing(baked, tmp_path, capfd, answers, message):
    with pytest.raises(FailedHookException):
        baked(**answers)
    err = capfd.readouterr().err
    assert message in err
    error_lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1, err  # one answer wrong, one sentence
    assert list(tmp_path.iterdir()) == []


def test_without_git_the_project_is_generated_and_the_user_told(baked, tmp_path_factory, monkeypatch, capfd):
    monkeypatch.setenv("PATH", str(tmp_path_factory.mktemp("empty-bin")))
    project = baked()
    assert not (project.path / ".git").exists()
    assert project.has_file("dvc.yaml")
    assert "git was not found" in capfd.readouterr().out


@pytest.mark.parametrize("endpoint", ["", "https://minio.example.com:9000"])
def test_s3_endpoint_reaches_the_dvc_config_and_readme(baked, endpoint):
    project = baked(dvc_remote="s3", dvc_remote_url="s3://acme-ml/dvc", dvc_remote_endpoint_url=endpoint)
    dvc = configparser.ConfigParser()
    dvc.read_string(project.read(".dvc/config"))
    assert dvc["'remote \"storage\"'"].get("endpointurl", "") == endpoint
    readme = project.read("README.md")
    assert "`dvc remote modify storage endpointurl https://<server>`" in readme
    assert (f"S3-compatible server `{endpoint}`" in readme) is bool(endpoint)
