"""Fixtures of the template's tests: render the template, install and run what it generates."""

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
DEFAULTS = json.loads((TEMPLATE / "cookiecutter.json").read_text())


# The modules that take longest, longest first (from `make test`'s durations). `make test` hands
# whole modules to its two workers in collection order (--dist loadscope --no-loadscope-reorder):
# these start first, and the many short ones fill in at the end.
SLOWEST_FIRST = (
    "test_workflow_pr.py",
    "test_registry_server.py",
    "test_platform_server.py",
    "test_project.py",
    "test_user_edits.py",
    "test_workflow_drift.py",
    "test_workflow_main.py",
    "test_workflow_s3_remote.py",
    "test_own_data.py",
    "test_service_serve.py",
    "test_github_setup.py",
    "test_demo.py",
    "test_drift_agreement.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a module keeps its order


def clean_env(**extra: str) -> dict[str, str]:
    """The environment a user's shell would have: none of this test run's venv or MLflow settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "MLFLOW_", "UV_PROJECT"))}
    env.update(extra)
    return env


@dataclass
class BakedProject:
    """A generated project and the commands its user would run in it."""

    path: Path
    answers: dict

    @property
    def package(self) -> str:
        (package,) = (p.name for p in (self.path / "src").iterdir() if p.is_dir())
        return package

    def has_file(self, relative: str) -> bool:
        return (self.path / relative).is_file()

    def read(self, relative: str) -> str:
        return (self.path / relative).read_text()

    def files(self) -> set[str]:
        return {
            str(p.relative_to(self.path))
            for p in self.path.rglob("*")
            if p.is_file() and ".git" not in p.relative_to(self.path).parts
        }

    def run(
        self, *cmd: str, check: bool = True, timeout: int = 900, **env: str
    ) -> subprocess.CompletedProcess:
        result = subprocess.run(
            cmd, cwd=self.path, env=clean_env(**env), capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} exited {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
            )
        return result

    def commit(self, message: str, *, allow_empty: bool = False) -> None:
        self.run("git", "add", "-A")
        empty = ["--allow-empty"] if allow_empty else []
        identity = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
        self.run("git", *identity, "commit", "-q", *empty, "-m", message)

    def set_hyperparameters(self, **values: int) -> None:
        """Change train.hyperparameters in params.yaml, keeping its comments."""
        text = self.read("params.yaml")
        for name, value in values.items():
            text, found = re.subn(rf"^(\s+{name}): \S+", rf"\g<1>: {value}", text, flags=re.MULTILINE)
            assert found == 1, f"params.yaml has no single {name}"
        (self.path / "params.yaml").write_text(text)


def bake(output_dir: Path, **answers: str) -> BakedProject:
    path = cookiecutter(str(TEMPLATE), no_input=True, extra_context=answers, output_dir=str(output_dir))
    defaults = {k: v[0] if isinstance(v, list) else v for k, v in DEFAULTS.items() if not k.startswith("_")}
    return BakedProject(Path(path), {**defaults, **answers})


@pytest.fixture
def baked(tmp_path):
    """Render the template with the given answers into a fresh directory."""

    def _bake(**answers: str) -> BakedProject:
        return bake(tmp_path, **answers)

    return _bake


@pytest.fixture(scope="session")
def installed(tmp_path_factory):
    """One installed, committed project per task, shared by the slow tests of a session."""
    cache: dict[str, BakedProject] = {}

    def _installed(task: str) -> BakedProject:
        if task not in cache:
            project = bake(tmp_path_factory.mktemp(task), task=task, project_name=f"{task} demo")
            project.run("uv", "sync", "--quiet")
            project.commit("generated")
            cache[task] = project
        return cache[task]

    return _installed
