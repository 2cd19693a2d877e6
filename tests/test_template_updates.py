"""Template updates: generated projects record their template in .cruft.json, and `cruft update`
brings later template changes into them; the scheduled workflow describes the result."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hooks import post_gen_project as hook

from .act_runner import ORIGIN, REPOSITORY, SYSTEM_PATH, run_act
from .conftest import TEMPLATE, BakedProject, clean_env
from .test_template_update_pr import GH_STANDIN
from .workflow_steps import run_step

BIN = Path(sys.executable).parent
GIT_ID = ("-c", "user.name=Test", "-c", "user.email=test@example.com")
SLUG_DIR = "{{cookiecutter.project_slug}}"


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *GIT_ID, *args], cwd=cwd, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def template_repo(path: Path) -> Path:
    """A git repository holding the template's working tree as it is now (tracked and new files)."""
    listed = git(TEMPLATE, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for relative in filter(None, listed.split("\0")):
        source = TEMPLATE / relative
        if source.is_file():
            (path / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, path / relative)
    git(path, "init", "--quiet", "--initial-branch=main")
    git(path, "add", "-A")
    git(path, "commit", "--quiet", "-m", "template v1")
    return path


def change_template(repo: Path, help_text: str) -> str:
    """A template commit: new help text in the generated Makefile and a new file. Returns the commit."""
    makefile = repo / SLUG_DIR / "Makefile"
    text, count = re.subn(r"(?m)^help: ## .*$", f"help: ## {help_text}", makefile.read_text())
    assert count == 1
    makefile.write_text(text)
    (repo / SLUG_DIR / "NOTES.md").write_text("Notes of {{ cookiecutter.project_name }}.\n")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", f"help: {help_text}")
    return git(repo, "rev-parse", "HEAD")


def generate(generator: str, template: Path, output: Path) -> BakedProject:
    if generator == "cruft":
        cmd = [BIN / "cruft", "create", "--no-input", str(template), "--output-dir", str(output)]
    else:
        cmd = [BIN / "cookiecutter", "--no-input", str(template), "--output-dir", str(output)]
    subprocess.run(cmd, env=clean_env(), capture_output=True, text=True, check=True)
    project = BakedProject(output / "demo-model", {})
    project.commit("generated")
    return project


def cruft_update(project: BakedProject) -> None:
    project.run(str(BIN / "cruft"), "update", "--skip-apply-ask", "--allow-untracked-files")


def describe(project: BakedProject, tmp: Path):
    step = run_step(project, "template-update.yml", "Describe the update", tmp)
    assert step.result.returncode == 0, step.result.stderr
    return step


# Fast: the link the post-generation hook writes.


def test_generated_project_is_linked_to_the_template_commit(baked):
    project = baked(project_name="Churn Model")
    text = project.read(".cruft.json")
    state = json.loads(text)
    commit = git(TEMPLATE, "rev-parse", "HEAD")
    assert (state["template"], state["commit"], state["directory"]) == (str(TEMPLATE), commit, None)
    answers = state["context"]["cookiecutter"]
    assert answers["project_name"] == "Churn Model"
    assert answers["template_updates"] is True
    assert answers["_commit"] == commit
    assert not {"_output_dir", "_repo_dir"} & set(answers)  # paths of the generating machine
    assert text.endswith("}\n")


@pytest.fixture
def git_template(tmp_path) -> Path:
    repo = tmp_path / "tpl"
    repo.mkdir()
    (repo / "cookiecutter.json").write_text("{}")
    git(repo, "init", "--quiet")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "v1")
    return repo


@pytest.mark.parametrize(
    ("template", "url"),
    [
        ("gh:acme/ml-template", "https://github.com/acme/ml-template.git"),
        ("gl:acme/ml-template", "https://gitlab.com/acme/ml-template.git"),
        ("https://github.com/acme/ml-template", "https://github.com/acme/ml-template"),
        ("git+https://example.com/ml-template.git", "https://example.com/ml-template.git"),
        ("git@github.com:acme/ml-template.git", "git@github.com:acme/ml-template.git"),
    ],
)
def test_remote_template_urls_are_ones_git_can_clone(git_template, template, url):
    answers = {"_template": template, "_repo_dir": str(git_template)}
    assert hook.template_source(answers, None) == (url, git_template)


def test_local_template_path_is_resolved_where_cookiecutter_ran(git_template):
    answers = {"_template": "tpl", "_repo_dir": "tpl"}
    assert hook.template_source(answers, str(git_template.parent)) == (str(git_template), git_template)
    assert hook.template_source(answers, str(git_template)) is None  # tpl/tpl does not exist


def test_template_that_is_not_a_git_checkout_is_not_linked(tmp_path):
    (tmp_path / "cookiecutter.json").write_text("{}")
    project = tmp_path / "project"
    project.mkdir()
    message = hook.link_template({"_template": str(tmp_path), "_repo_dir": str(tmp_path)}, project, None)
    assert "uvx cruft link <template URL>" in message
    assert not (project / ".cruft.json").exists()


def test_cruft_writes_its_own_link(git_template, tmp_path):
    answers = {"_template": str(git_template), "_repo_dir": str(git_template), "_commit": "abc"}
    assert hook.link_template(answers, tmp_path, None) == ""
    assert not (tmp_path / ".cruft.json").exists()


def test_template_update_without_a_link_says_what_to_do(baked):
    project = baked()
    (project.path / ".cruft.json").unlink()
    result = project.run("make", "template-update", check=False)
    assert result.returncode == 2
    assert "run 'uvx cruft link <template URL>'" in result.stderr


# Slow: cruft itself, on a copy of this template.


@pytest.mark.slow
@pytest.mark.parametrize("generator", ["cruft", "cookiecutter"])
def test_cruft_update_brings_a_template_change(tmp_path, generator):
    template = template_repo(tmp_path / "template")
    project = generate(generator, template, tmp_path / "out")
    readme = project.read("README.md") + "\nOur own notes.\n"
    (project.path / "README.md").write_text(readme)
    project.commit("a change of the project's own")
    new_commit = change_template(template, "list the targets and what they do")

    cruft_update(project)

    status = project.run("git", "status", "--porcelain", "--untracked-files=all").stdout.splitlines()
    assert {line[3:] for line in status} == {".cruft.json", "Makefile", "NOTES.md"}
    assert "help: ## list the targets and what they do" in project.read("Makefile")
    assert project.read("NOTES.md") == "Notes of Demo Model.\n"
    assert project.read("README.md") == readme
    assert json.loads(project.read(".cruft.json"))["commit"] == new_commit

    step = describe(project, tmp_path)
    assert step.outputs == {"changed": "true"}
    patch = (tmp_path / "template-update/update.patch").read_text()  # what the write job applies
    assert "+++ b/NOTES.md" in patch and f'+  "commit": "{new_commit}"' in patch
    assert "No conflicts: every change of the template applied cleanly." in step.summary
    assert "- `NOTES.md` (A )" in step.summary

    project.commit("take the update")
    cruft_update(project)  # nothing new: says so and changes nothing
    step = describe(project, tmp_path)
    assert step.outputs == {"changed": "false"}
    assert "up to date with its template" in step.summary


@pytest.mark.slow
@pytest.mark.parametrize("history", ["kept", "squashed"])
def test_conflicts_are_listed_for_the_pull_request(tmp_path, history):
    template = template_repo(tmp_path / "template")
    project = generate("cruft", template, tmp_path / "out")
    makefile = re.sub(r"(?m)^help: ## .*$", "help: ## our own help", project.read("Makefile"))
    (project.path / "Makefile").write_text(makefile)
    if history == "squashed":
        # Without the generated blobs git cannot merge three-way, and cruft writes .rej files instead.
        shutil.rmtree(project.path / ".git")
        project.run("git", "init", "--quiet", "--initial-branch=main")
    project.commit("our own help text")
    change_template(template, "every target")

    cruft_update(project)

    conflicted = "Makefile.rej" if history == "squashed" else "Makefile"
    step = describe(project, tmp_path)
    assert step.outputs["changed"] == "true"
    conflicts = step.summary.split("### Conflicts to resolve", 1)[1].split("###", 1)[0]
    assert re.findall(r"^- `(.+)`$", conflicts, flags=re.MULTILINE) == [conflicted]
    assert project.read("NOTES.md") == "Notes of Demo Model.\n"  # what did not conflict still applied


@pytest.mark.slow
@pytest.mark.workflow
def test_the_workflow_proposes_only_a_chosen_revision_from_its_write_job(tmp_path):
    """template-update.yml under act: the weekly run names the template's newer commit and proposes
    nothing; a run by hand with that revision's tag computes the update in the read-only job and
    the write job pushes the patch and opens the pull request (a bare repository stands in for
    github.com through git's insteadOf, a stand-in for `gh`)."""
    template = template_repo(tmp_path / "template")
    project = generate("cruft", template, tmp_path / "out")
    git(project.path, "remote", "add", "origin", ORIGIN)
    new_commit = change_template(template, "list the targets and what they do")
    git(template, "tag", "v2")
    server = tmp_path / "server"
    subprocess.run(["git", "init", "--quiet", "--bare", str(server / f"{REPOSITORY}.git")], check=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(GH_STANDIN)
    (bin_dir / "gh").chmod(0o755)
    log = tmp_path / "gh.log"
    env = {"PATH": f"{bin_dir}:{SYSTEM_PATH}", "GH_STANDIN_LOG": str(log), "GH_STANDIN_REPO": REPOSITORY}
    repository = {"full_name": REPOSITORY, "name": "demo", "default_branch": "main"}

    def run(label: str, event: str, payload: dict):
        work = tmp_path / label
        (work / "home").mkdir(parents=True)
        (work / "home/.gitconfig").write_text(
            f'[url "{server.as_uri()}/"]\n\tinsteadOf = https://github.com/\n'
        )
        log.write_text("")
        result = run_act(
            project.path, event, {**payload, "repository": repository}, workflow=".github/workflows/template-update.yml",
            secrets={"GITHUB_TOKEN": "ghs_template_update"}, env=env, workdir=work,
        )  # fmt: skip
        assert result.returncode == 0, result
        return result, log.read_text().splitlines()

    weekly, calls = run("weekly", "schedule", {"schedule": "23 5 * * 1"})
    assert f"has commits after `{json.loads(project.read('.cruft.json'))['commit'][:12]}`" in weekly.summary
    assert f"its newest is `{new_commit}`" in weekly.summary
    assert "Take the template's changes" not in weekly.steps()  # no template code ran
    assert "Push the branch and open or update the pull request" not in weekly.steps() and calls == []

    by_hand, calls = run(
        "by-hand", "workflow_dispatch", {"inputs": {"template_ref": "v2"}, "ref": "refs/heads/main"}
    )
    assert (by_hand.artifacts / "template-update/update.patch").is_file()
    assert calls[-1].startswith(f"pr create --repo {REPOSITORY} --base main --head template-update")
    assert "pull request #7 proposes the update" in by_hand.summary
    pushed = git(server / f"{REPOSITORY}.git", "log", "-1", "--format=%s", "--name-only", "template-update")
    assert pushed.splitlines() == [
        f"Update from the template ({new_commit[:12]})",
        "",
        ".cruft.json",
        "Makefile",
        "NOTES.md",
    ]
