"""Supply chain of generated repositories: pre-commit hooks pinned to releases, Dependabot config."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

BIN = Path(sys.executable).parent
HOOKS = {
    "https://github.com/pre-commit/pre-commit-hooks": {
        "trailing-whitespace", "end-of-file-fixer", "check-yaml", "check-toml", "check-added-large-files",
    },
    "https://github.com/astral-sh/ruff-pre-commit": {"ruff-check", "ruff-format"},
    "https://github.com/python-jsonschema/check-jsonschema": {"check-github-workflows", "check-dependabot"},
    "https://github.com/zizmorcore/zizmor-pre-commit": {"zizmor"},
}  # fmt: skip
RELEASE_TAG = re.compile(r"v?\d+\.\d+\.\d+")


def hook_revs(project) -> dict[str, str]:
    config = yaml.safe_load(project.read(".pre-commit-config.yaml"))
    return {repo["repo"]: repo["rev"] for repo in config["repos"]}


def test_pre_commit_config_is_valid_and_pinned_to_releases(baked):
    project = baked()
    result = subprocess.run(
        [BIN / "pre-commit", "validate-config", ".pre-commit-config.yaml"],
        cwd=project.path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(project.read(".pre-commit-config.yaml"))
    assert {repo["repo"]: {hook["id"] for hook in repo["hooks"]} for repo in config["repos"]} == HOOKS
    for repo, rev in hook_revs(project).items():
        assert RELEASE_TAG.fullmatch(rev), f"{repo} is pinned to {rev!r}, not a release tag"


def test_dependabot_config_is_valid(baked):
    project = baked()
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.dependabot", ".github/dependabot.yml"],
        cwd=project.path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    updates = yaml.safe_load(project.read(".github/dependabot.yml"))["updates"]
    ecosystems = {update["package-ecosystem"] for update in updates}
    assert ecosystems == {"uv", "github-actions", "pre-commit", "pip"}  # pip: platform/requirements.txt
    for update in updates:
        assert update["schedule"]["interval"] == "weekly"
        assert update["cooldown"]["default-days"] >= 1
        (group,) = update["groups"].values()
        assert sorted(group["update-types"]) == ["minor", "patch"]


def test_workflows_install_exactly_the_lock_file(baked):
    project = baked()
    syncs = [
        line.strip()
        for workflow in sorted((project.path / ".github/workflows").glob("*.yml"))
        for line in workflow.read_text().splitlines()
        if re.search(r"\buv sync\b", line)
    ]
    assert syncs, "no workflow installs the project"
    assert all("--locked" in line for line in syncs), syncs


def uvx(project, package: str, *cmd: str):
    return project.run("uvx", "--from", package, *cmd, check=False, timeout=600)


@pytest.mark.slow
def test_hooks_at_their_pinned_versions_pass_on_a_generated_project(baked):
    """What `pre-commit run --all-files` would run, from PyPI at the pinned versions (the hook
    repositories themselves are on GitHub)."""
    project = baked()
    project.commit("generated")
    revs = {repo.rsplit("/", 1)[1]: rev.removeprefix("v") for repo, rev in hook_revs(project).items()}
    files = project.run("git", "ls-files").stdout.split()
    yaml_files = [f for f in files if f.endswith((".yml", ".yaml"))]
    workflows = [f for f in files if f.startswith(".github/workflows/")]
    hygiene = f"pre-commit-hooks=={revs['pre-commit-hooks']}"
    checks = [
        (hygiene, "trailing-whitespace-fixer", *files),
        (hygiene, "end-of-file-fixer", *files),
        (hygiene, "check-yaml", *yaml_files),
        (hygiene, "check-toml", *[f for f in files if f.endswith(".toml")]),
        (hygiene, "check-added-large-files", "--enforce-all", "--maxkb=1024", *files),
        (f"ruff=={revs['ruff-pre-commit']}", "ruff", "check", "."),
        (f"ruff=={revs['ruff-pre-commit']}", "ruff", "format", "--check", "."),
        (f"check-jsonschema=={revs['check-jsonschema']}", "check-jsonschema", "--builtin-schema",
         "vendor.github-workflows", *workflows),
        (f"check-jsonschema=={revs['check-jsonschema']}", "check-jsonschema", "--builtin-schema",
         "vendor.dependabot", ".github/dependabot.yml"),
        (f"zizmor=={revs['zizmor-pre-commit']}", "zizmor", "--offline", "--no-progress", *workflows,
         ".github/dependabot.yml"),
    ]  # fmt: skip
    failures = []
    for package, *cmd in checks:
        result = uvx(project, package, *cmd)
        if result.returncode != 0:
            failures.append(f"{package} {cmd[0]}: {result.stdout[-1500:]}{result.stderr[-1500:]}")
    assert not failures, "\n".join(failures)
    assert project.run("git", "status", "--porcelain").stdout == ""  # the fixers had nothing to fix
