"""The generated workflows against an S3 DVC remote, run for real under act: a project generated with
dvc_remote=s3 and its endpoint (`dvc_remote_endpoint_url`) on an S3-compatible server on loopback
(moto's server mode), the keys given as the workflows' secrets, as a team on MinIO, R2 or Ceph has it.

One project, one server, in order: main.yml's reproduce job pushes data, models and the run-cache
into an empty bucket; a pull request that changes only a training parameter pulls them, and DVC
restores the data stages instead of running them while train and evaluate run; after main moved on to
other parameters, a pull request back to the earlier ones gets its model from the run-cache, not by
training; drift.yml's check job pulls its reference (the training data and the model) and its current
data from the bucket.
Each run is the one job that does it (`act -j`), from the workflow files as generated.
"""

import re

import pytest
import yaml

from .act_runner import ORIGIN, commit_all, git, pull_request_event, run_act
from .conftest import bake
from .servers import S3_CREDENTIALS, s3_bucket, s3_keys, s3_read, s3_server

pytestmark = [pytest.mark.slow, pytest.mark.workflow]

BUCKET, PREFIX = "acme-ml", "dvc"
KEYS = {name: S3_CREDENTIALS[name] for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
SECRETS = {"GITHUB_TOKEN": "ghs_s3_remote_token", **KEYS}
DATA_STAGES, MODEL_STAGES = ["ingest", "validate", "split"], ["train", "evaluate"]


def run_entries(endpoint: str) -> list[dict]:
    """The run-cache's entries in the bucket: the command and the outputs of each recorded run."""
    keys = s3_keys(endpoint, BUCKET, f"{PREFIX}/runs/")
    return [yaml.safe_load(s3_read(endpoint, BUCKET, key)) for key in keys]


def lock_outputs(project) -> dict[str, str]:
    """The md5 in dvc.lock of each output DVC caches (dvc.yaml's `outs`; metrics and plots are in git)."""
    cached = {
        out
        for stage in yaml.safe_load(project.read("dvc.yaml"))["stages"].values()
        for out in stage.get("outs", [])
    }
    lock = yaml.safe_load(project.read("dvc.lock"))
    return {
        out["path"]: out["md5"]
        for stage in lock["stages"].values()
        for out in stage.get("outs", [])
        if out["path"] in cached
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("s3")
    server, endpoint = s3_server(root)
    try:
        s3_bucket(endpoint, BUCKET)
        project = bake(
            root,
            python_version="3.11",
            project_name="s3 demo",
            dvc_remote="s3",
            dvc_remote_url=f"s3://{BUCKET}/{PREFIX}",
            dvc_remote_endpoint_url=endpoint,
        )
        git(project.path, "remote", "add", "origin", ORIGIN)
        project.run("uv", "lock", "--quiet")
        project.run("uv", "sync", "--quiet")
        project.run("uv", "run", "dvc", "repro")  # its author commits dvc.lock; nothing is pushed yet
        commit_all(project.path, "generated, pipeline reproduced")
        empty = s3_keys(endpoint, BUCKET)
        head = git(project.path, "rev-parse", "HEAD")
        push = {
            "ref": "refs/heads/main",
            "before": "0" * 40,
            "after": head,
            "repository": {"full_name": "acme/demo", "name": "demo", "default_branch": "main"},
        }
        main = run_act(project.path, "push", push, workflow=".github/workflows/main.yml", job="reproduce",
                       secrets=SECRETS, workdir=tmp_path_factory.mktemp("main"))  # fmt: skip
        pushed, entries, outputs = s3_keys(endpoint, BUCKET), run_entries(endpoint), lock_outputs(project)

        git(project.path, "checkout", "-q", "-b", "tune")
        project.set_hyperparameters(max_depth=4)  # params.yaml only: dvc.lock is main's
        commit_all(project.path, "a shallower forest")
        event = pull_request_event(project.path, 3, "tune")
        pr = run_act(project.path, "pull_request", event, job="pipeline", secrets=SECRETS,
                     workdir=tmp_path_factory.mktemp("pr"))  # fmt: skip

        # main moves on to max_depth 6, reproduced and pushed from its author's machine; a pull
        # request sets it back to 8, which main trained before: only the run-cache has that model.
        git(project.path, "checkout", "-q", "main")
        project.set_hyperparameters(max_depth=6)
        project.run("uv", "run", "dvc", "repro")
        project.run("uv", "run", "dvc", "push", "--run-cache", **KEYS)
        commit_all(project.path, "a forest of depth 6")
        git(project.path, "checkout", "-q", "-b", "back")
        project.set_hyperparameters(max_depth=8)
        commit_all(project.path, "back to depth 8")
        event = pull_request_event(project.path, 4, "back")
        back = run_act(project.path, "pull_request", event, job="pipeline", secrets=SECRETS,
                       workdir=tmp_path_factory.mktemp("back"))  # fmt: skip

        git(project.path, "checkout", "-q", "main")
        drift = run_act(
            project.path,
            "schedule",
            {"schedule": project.answers["drift_schedule"]},
            workflow=".github/workflows/drift.yml",
            job="check",
            secrets=SECRETS,
            variables={"DRIFT_CURRENT": "data/processed/test.csv"},  # held-out data, tracked by DVC
            workdir=tmp_path_factory.mktemp("drift"),
        )
        yield {"project": project, "empty": empty, "main": main, "pushed": pushed, "entries": entries,
               "outputs": outputs, "pr": pr, "back": back, "drift": drift}  # fmt: skip
    finally:
        server.stop()


def test_main_pushes_data_models_and_the_run_cache_to_the_bucket(runs):
    result, project = runs["main"], runs["project"]
    assert runs["empty"] == []
    assert result.returncode == 0, result
    assert "**Data:** pushed to the DVC remote." in result.summary
    # Every output dvc.lock records, under DVC's content-addressed keys: CI reproduced them byte for byte.
    outputs = runs["outputs"]
    assert {"data/processed/train.csv", "data/processed/test.csv", "models/model.joblib"} < outputs.keys()
    for path, md5 in outputs.items():
        assert f"{PREFIX}/files/md5/{md5[:2]}/{md5[2:]}" in runs["pushed"], path
    # The run-cache: an entry per stage the job ran, but evaluate (DVC keeps no run of persisted
    # outputs; its committed metrics and plots let DVC restore it here). A stage whose outputs an
    # earlier one had already made (validate) is restored, not run.
    ran = list(dict.fromkeys(re.findall(r"Running stage '([^']+)'", result.stdout)))
    assert {"ingest", "split", "train"} <= set(ran)
    package = project.package
    assert sorted(entry["cmd"] for entry in runs["entries"]) == sorted(
        f"{package} {stage}" for stage in ran if stage != "evaluate"
    )
    model = next(e for e in runs["entries"] if e["cmd"] == f"{package} train")
    (out,) = model["outs"]
    assert (out["path"], out["md5"]) == ("models/model.joblib", outputs["models/model.joblib"])


def test_a_training_parameter_pull_request_restores_the_data_stages_and_trains(runs):
    result = runs["pr"]
    steps = result.steps()
    assert (
        steps["Pull data and the run-cache from the DVC remote"]
        == steps["Reproduce the pipeline"]
        == "success"
    )
    assert "**Data:** pulled from the DVC remote with its run-cache" in result.summary
    # DVC's own words, in the job's log, then in its summary.
    for stage in DATA_STAGES:
        assert f"Stage '{stage}' didn't change, skipping" in result.stdout
        assert f"Running stage '{stage}'" not in result.stdout
    for stage in MODEL_STAGES:
        assert f"Running stage '{stage}'" in result.stdout
    ran, restored = ",".join(MODEL_STAGES), ",".join(DATA_STAGES)
    assert f"**Pipeline:** stages run: {ran}; restored without running: {restored}." in result.summary
    assert result.returncode == 0, result  # lint, tests and the report too


def test_a_pull_request_back_to_parameters_main_trained_restores_the_model_from_the_run_cache(runs):
    result = runs["back"]
    assert result.steps()["Reproduce the pipeline"] == "success", result
    assert "Stage 'train' is cached - skipping run, checking out outputs" in result.stdout
    assert "Running stage 'train'" not in result.stdout
    assert (
        f"**Pipeline:** stages run: evaluate; restored without running: {','.join([*DATA_STAGES, 'train'])}."
        in result.summary
    )
    assert result.returncode == 0, result


def test_drift_check_pulls_its_reference_and_current_data_from_the_bucket(runs):
    result = runs["drift"]
    assert result.returncode == 0, result
    assert (
        "**Current data:** `data/processed/test.csv` (repository variable `DRIFT_CURRENT`), "
        "pulled from the DVC remote." in result.summary
    )
    assert (
        "**Reference:** `data/processed/train.csv` and `models/model.joblib` pulled from the DVC remote "
        "as dvc.lock records them" in result.summary
    )
    assert "reproduced from source" not in result.summary
    assert result.steps()["Check for drift"] == "success"
