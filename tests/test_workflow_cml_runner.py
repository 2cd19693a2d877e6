"""training_runner=cml: the launch jobs of pr.yml and main.yml, run for real under act.

One project with an S3 DVC remote (so the runner goes to AWS, and the DVC remote's secrets have the
very names CML reads for AWS, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY). Only the launch jobs run
(`act -j launch`): they run no code of the project, so nothing is installed. `cml` is the stand-in
of tests/standins/iterative/setup-cml, which checks the command line as CML does, fails as CML does
without a token or the cloud's credentials, and records what it was given instead of launching an
instance. The step that installs Terraform finds a stand-in `terraform` on PATH (one line that
answers `terraform version`): nothing is downloaded here.
"""

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from .act_runner import ORIGIN, REPOSITORY, SYSTEM_PATH, commit_all, git, pull_request_event, run_act
from .conftest import BakedProject, bake

pytestmark = [pytest.mark.slow, pytest.mark.workflow]

CML = Path(__file__).parent / "standins/iterative/setup-cml/cml.py"
RUNNER_SECRETS = {
    "CML_RUNNER_TOKEN": "github_pat_registers_runners",
    "CML_AWS_ACCESS_KEY_ID": "AKIARUNNER",
    "CML_AWS_SECRET_ACCESS_KEY": "runner-secret",
}
# The DVC remote's own keys, under the names CML reads for AWS: they must not reach CML.
DVC_SECRETS = {"AWS_ACCESS_KEY_ID": "AKIADVC", "AWS_SECRET_ACCESS_KEY": "dvc-secret"}
INSTANCE = {
    "CML_RUNNER_REGION": "eu-west-1",
    "CML_RUNNER_TYPE": "g4dn.xlarge",
    "CML_RUNNER_GPU": "v100",
    "CML_RUNNER_SPOT": "true",
}
EVENT_REPOSITORY = {"full_name": REPOSITORY, "name": "demo", "default_branch": "main", "private": False}


def terraform_standin(directory: Path) -> Path:
    """A `terraform` that only answers `terraform version [-json]`, as CML asks before it creates anything."""
    directory.mkdir()
    terraform = directory / "terraform"
    terraform.write_text(
        "#!/bin/sh\n"
        'if [ "$2" = -json ]; then echo \'{"terraform_version": "1.9.8"}\'; else echo "Terraform v1.9.8"; fi\n'
    )
    terraform.chmod(0o755)
    return directory


@dataclass
class Repository:
    """The committed project (main, and a pull request branch `feature`) and the runner's PATH."""

    project: BakedProject
    env: dict[str, str]

    def launch(
        self, tmp_path: Path, workflow: str, event: str, payload: dict, *, secrets=None, variables=None
    ):
        return run_act(
            self.project.path,
            event,
            payload,
            workflow=f".github/workflows/{workflow}",
            job="launch",
            secrets={**RUNNER_SECRETS, **DVC_SECRETS} if secrets is None else secrets,
            variables=INSTANCE if variables is None else variables,
            env=self.env,
            workdir=tmp_path / "act",
            timeout=300,
        )

    def pull_request(self, *, head_repo: str = REPOSITORY) -> dict:
        return pull_request_event(self.project.path, 7, "feature", head_repo=head_repo)

    def push_to_main(self) -> dict:
        head = git(self.project.path, "rev-parse", "main")
        return {"ref": "refs/heads/main", "before": "0" * 40, "after": head, "repository": EVENT_REPOSITORY}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Repository:
    root = tmp_path_factory.mktemp("cml-runner")
    project = bake(root, training_runner="cml", dvc_remote="s3", dvc_remote_url="s3://acme/dvc")
    git(project.path, "remote", "add", "origin", ORIGIN)
    commit_all(project.path, "generated")
    git(project.path, "checkout", "-q", "-b", "feature")
    (project.path / "params.yaml").write_text(project.read("params.yaml") + "# a change\n")
    commit_all(project.path, "a change")
    git(project.path, "checkout", "-q", "main")
    return Repository(project, {"PATH": f"{terraform_standin(root / 'bin')}:{SYSTEM_PATH}"})


def only_launch(result) -> dict:
    (call,) = result.cml_calls
    assert call["command"] == "runner launch"
    assert call["launched"] is False  # a stand-in: it records, it launches nothing
    return call


def test_a_pull_request_launches_one_single_job_runner_with_the_variables(repo, tmp_path):
    result = repo.launch(tmp_path, "pr.yml", "pull_request", repo.pull_request())
    assert result.returncode == 0, result
    call = only_launch(result)
    options = call["options"]
    assert options["single"] is True and "reuse" not in options and "reuse-idle" not in options
    assert options["labels"] == f"cml-{call['run']['id']}-{call['run']['attempt']}"
    assert re.fullmatch(r"cml-\d+-\d+", options["labels"])
    assert options["cloud"] == "aws"
    assert options["cloud-region"] == "eu-west-1" and options["cloud-type"] == "g4dn.xlarge"
    assert options["cloud-gpu"] == "v100"
    assert options["cloud-spot"] is True
    assert options["idle-timeout"] == 600
    assert options["repo"] == f"https://github.com/{REPOSITORY}"
    # The runner's token and the runner's keys reached CML; the token's value was never recorded.
    assert call["token_from"] == "REPO_TOKEN" and options.get("driver-token") is None
    assert call["credentials"] == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    assert "github_pat_registers_runners" not in json.dumps(result.cml_calls)
    assert f"**Runner:** `{options['labels']}` launched on aws: region `eu-west-1`" in result.summary
    assert ", spot;" in result.summary


@pytest.mark.parametrize("spot", ["false", ""])
def test_defaults_and_no_spot_unless_the_variable_is_true(repo, tmp_path, spot):
    variables = {"CML_RUNNER_SPOT": spot} if spot else {}
    result = repo.launch(tmp_path, "pr.yml", "pull_request", repo.pull_request(), variables=variables)
    assert result.returncode == 0, result
    options = only_launch(result)["options"]
    assert "cloud-spot" not in options and "--cloud-spot" not in only_launch(result)["argv"]
    assert (options["cloud-region"], options["cloud-type"]) == ("us-west", "m")
    assert "cloud-gpu" not in options  # --cloud-gpu=nogpu: CML's "no GPU"
    assert "--cloud-gpu=nogpu" in only_launch(result)["argv"]


def test_without_the_token_the_launch_fails_with_cmls_message(repo, tmp_path):
    secrets = {name: value for name, value in RUNNER_SECRETS.items() if name != "CML_RUNNER_TOKEN"}
    result = repo.launch(tmp_path, "pr.yml", "pull_request", repo.pull_request(), secrets=secrets)
    assert result.returncode != 0
    (call,) = result.cml_calls
    assert call["error"] == "token not found" and call["returncode"] == 1
    assert '{"level": "error", "message": "token not found"}' in result.stdout
    assert "**Runner:** not launched: `cml runner launch` failed" in result.summary
    assert "`CML_RUNNER_TOKEN`" in result.summary


def test_without_the_clouds_keys_the_launch_fails_as_terraform_would(repo, tmp_path):
    """The DVC remote's AWS keys are set, under the names CML reads: the launch job still has none."""
    secrets = {"CML_RUNNER_TOKEN": "github_pat_registers_runners", **DVC_SECRETS}
    result = repo.launch(tmp_path, "main.yml", "push", repo.push_to_main(), secrets=secrets)
    assert result.returncode != 0
    (call,) = result.cml_calls
    assert call["credentials"] == [] and call["token_from"] == "REPO_TOKEN"
    assert "found no aws credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in call["error"]


def test_a_forks_pull_request_launches_nothing(repo, tmp_path):
    result = repo.launch(tmp_path, "pr.yml", "pull_request", repo.pull_request(head_repo="mallory/demo"))
    assert result.returncode == 0, result
    assert result.cml_calls == []
    assert result.steps() == {}  # the job was skipped: not one step ran


def test_a_push_to_main_launches_the_release_runner(repo, tmp_path):
    result = repo.launch(tmp_path, "main.yml", "push", repo.push_to_main())
    assert result.returncode == 0, result
    call = only_launch(result)
    assert call["options"]["labels"] == f"cml-{call['run']['id']}-{call['run']['attempt']}"
    assert (call["options"]["cloud"], call["options"]["single"]) == ("aws", True)
    assert call["credentials"] == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]


def test_a_run_of_another_branch_launches_nothing(repo, tmp_path):
    payload = {
        "inputs": {"force_image": "false"},
        "ref": "refs/heads/experiment",
        "repository": EVENT_REPOSITORY,
    }
    result = repo.launch(tmp_path, "main.yml", "workflow_dispatch", payload)
    assert result.returncode == 0, result
    assert result.cml_calls == []


class TestRunnerLaunchStandIn:
    """The stand-in's command line, checked without act."""

    @staticmethod
    def cml(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
        tools = tmp_path / "bin"
        if not tools.exists():
            terraform_standin(tools)
        base = {"PATH": f"{tools}:{SYSTEM_PATH}", "HOME": str(tmp_path), "STANDIN_OUTPUT_DIR": str(tmp_path)}
        return subprocess.run(
            [sys.executable, str(CML), "runner", "launch", f"--repo=https://github.com/{REPOSITORY}", *args],
            env={**base, **env},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )

    def test_single_and_reuse_conflict(self, tmp_path):
        result = self.cml(tmp_path, "--single", "--reuse-idle", "--cloud=aws", REPO_TOKEN="t")
        assert (
            result.returncode == 1
            and "Arguments single and reuseIdle are mutually exclusive" in result.stderr
        )

    def test_cloud_is_one_of_cmls(self, tmp_path):
        result = self.cml(tmp_path, "--cloud=ibm", REPO_TOKEN="t")
        assert result.returncode == 1
        assert (
            "Argument: cloud, Given: \"ibm\", Choices: 'aws', 'azure', 'gcp', 'kubernetes'" in result.stderr
        )

    def test_unknown_option(self, tmp_path):
        result = self.cml(tmp_path, "--cloud-zone=x", REPO_TOKEN="t")
        assert result.returncode == 1 and "Unknown argument: cloud-zone" in result.stderr

    def test_options_from_cml_runner_variables_and_the_idle_timeout(self, tmp_path):
        result = self.cml(
            tmp_path,
            "--cloud=gcp",
            "--idle-timeout=1h 30min",
            REPO_TOKEN="t",
            CML_RUNNER_LABELS="gpu,big",
            GOOGLE_APPLICATION_CREDENTIALS_DATA="{}",
        )
        (call,) = [json.loads(line) for line in (tmp_path / "cml-calls.jsonl").read_text().splitlines()]
        assert (call["options"]["labels"], call["options"]["idle-timeout"]) == ("gpu,big", 5400)
        assert call["credentials"] == ["GOOGLE_APPLICATION_CREDENTIALS_DATA"] and call["terraform"] == "1.9.8"
        assert result.returncode == 0, result.stderr

    def test_without_terraform_it_fails_as_cml_does(self, tmp_path):
        result = self.cml(tmp_path, "--cloud=aws", REPO_TOKEN="t", PATH="/usr/bin:/bin")
        assert result.returncode == 1 and "terraform: not found" in result.stderr

    def test_a_runner_on_this_machine_is_refused(self, tmp_path):
        result = self.cml(tmp_path, "--labels=x", REPO_TOKEN="t")
        assert result.returncode == 1 and "without --cloud" in result.stderr
