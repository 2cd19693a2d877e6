"""Where the drift workflow gets its data: current data from the repository or DVC, the reference
pulled as dvc.lock records it or reproduced from source (DVC itself replaced by a recorder)."""

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }} import drift_data
from {{ cookiecutter.package_name }}.errors import UserError

TRAIN = "a,target\n1,0\n2,1\n"
MISSING = "cache files do not exist neither locally nor on remote"  # DVC's words
DVC_YAML = """stages:
  split:
    cmd: split
    outs:
      - data/processed/train.csv
      - data/processed/test.csv
  train:
    cmd: train
    deps:
      - data/processed/train.csv
    outs:
      - models/model.joblib
"""


@pytest.fixture(autouse=True)
def outside_actions(monkeypatch):
    """No variables of a surrounding workflow run (pr.yml runs these tests): a test sets what it needs."""
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "GIT_CONFIG_", "RUNNER_")) or name in ("CI", "DRIFT_CURRENT"):
            monkeypatch.delenv(name)


@pytest.fixture
def repo(workdir, monkeypatch):
    """A committed pipeline whose dvc.lock records the training data TRAIN."""
    md5 = hashlib.md5(TRAIN.encode()).hexdigest()
    Path("dvc.yaml").write_text(DVC_YAML)
    Path("dvc.lock").write_text(
        f"schema: '2.0'\nstages:\n  split:\n    cmd: split\n    outs:\n    - path: data/processed/train.csv\n"
        f"      md5: {md5}\n"
    )
    identity = ["-c", "user.name=T", "-c", "user.email=t@example.com"]
    for args in (["init", "--quiet"], ["add", "-A"], [*identity, "commit", "-qm", "base"]):
        subprocess.run(["git", *args], check=True)
    return workdir


@pytest.fixture
def dvc(monkeypatch):
    """Records DVC calls; `pull` and `repro` write files as the real ones would, or fail on request."""
    calls, behaviour = [], {"pull": True, "repro": TRAIN}

    def fake(*args):
        calls.append(args)
        if args[0] == "pull":
            if not behaviour["pull"]:
                return False, f"WARNING: Some of the {MISSING}.\nERROR: failed to pull data from the cloud"
            for target in args[1:]:
                Path(target).parent.mkdir(parents=True, exist_ok=True)
                Path(target).write_text(TRAIN)
            return True, ""
        Path("data/processed").mkdir(parents=True, exist_ok=True)
        Path("data/processed/train.csv").write_text(behaviour["repro"])
        return True, ""

    monkeypatch.setattr(drift_data, "dvc", fake)
    fake.calls, fake.behaviour = calls, behaviour
    return fake


@pytest.fixture
def summary(tmp_path, monkeypatch):
    path = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(path))
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "output"))
    return lambda: path.read_text() if path.exists() else ""


def test_no_current_data_configured_is_one_clear_error(repo, params, dvc, summary):
    with pytest.raises(UserError, match="no current data is configured, so there is nothing to check"):
        drift_data.run(params, None, None)
    assert "**Current data:** no current data is configured" in summary()
    assert dvc.calls == []  # nothing is fetched when there is nothing to compare


def test_current_data_in_the_repository_and_a_pulled_reference(repo, params, dvc, summary):
    Path("current.csv").write_text(TRAIN)
    assert drift_data.run(params, "current.csv", None) == 0
    assert dvc.calls == [("pull", "data/processed/train.csv", "models/model.joblib")]
    text = summary()
    current = "`current.csv` (repository variable `DRIFT_CURRENT`), from the repository."
    assert f"**Current data:** {current}" in text
    assert "pulled from the DVC remote as dvc.lock records them" in text
    assert (repo / "output").read_text() == "current=current.csv\nreference=pulled\n"


def test_current_data_from_params_is_pulled_with_dvc(repo, params, dvc, summary):
    params["drift"]["current"] = "data/production.csv"
    drift_data.run(params, "", None)
    assert dvc.calls[0] == ("pull", "data/production.csv")
    assert "`data/production.csv` (params.yaml `drift.current`), pulled from the DVC remote." in summary()


def test_current_data_nowhere_to_be_found(repo, params, dvc):
    dvc.behaviour["pull"] = False
    with pytest.raises(UserError, match=r"missing.csv \(repository variable `DRIFT_CURRENT`\) is neither in"):
        drift_data.run(params, "missing.csv", None)


def test_a_prediction_log_in_an_object_store_is_copied_for_its_window(repo, params, dvc, summary):
    import fsspec

    url = "memory://drift-data-test/predictions"
    fs, root = fsspec.core.url_to_fs(url)
    record = '{"features": {"a": 1}, "prediction": 0}\n'
    for name in ("predictions-2025-01-01-000000-aa-01.jsonl", "predictions-2025-01-09-000000-aa-01.jsonl"):
        fs.pipe_file(f"{root}/{name}", record.encode())
    params["drift"]["window_days"] = 7
    try:
        assert drift_data.run(params, url, None) == 0
        assert [p.name for p in Path("data/current-log").iterdir()] == [
            "predictions-2025-01-09-000000-aa-01.jsonl"
        ]
        assert "1 file(s) of the last 7 days, copied from the object store" in summary()
        assert (repo / "output").read_text().startswith("current=data/current-log\n")
        with pytest.raises(UserError, match="holds no predictions-\\*.jsonl files; point it at the prefix"):
            drift_data.run(params, "memory://drift-data-test/elsewhere", None)
    finally:
        fs.rm("/drift-data-test", recursive=True)


def test_without_credentials_nothing_is_pulled_and_the_reference_is_reproduced(repo, params, dvc, summary,
                                                                                 monkeypatch):  # fmt: skip
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    Path("current.csv").write_text(TRAIN)
    drift_data.run(params, "current.csv", "AWS_ACCESS_KEY_ID")
    assert dvc.calls == [("repro", "split", "train")]
    assert (
        "**Reference:** reproduced from source with `dvc repro split train`, as the DVC remote could not be "
        "used (its credentials (secret `AWS_ACCESS_KEY_ID`) are not set). "
        "It is the training data dvc.lock records."
    ) in summary()


def test_without_an_openid_connect_sign_in_the_summary_names_the_variable(
    repo, params, dvc, summary, monkeypatch
):
    monkeypatch.delenv("SIGNED_IN", raising=False)  # the sign-in step was skipped: its variable is unset
    Path("current.csv").write_text(TRAIN)
    drift_data.run(params, "current.csv", "SIGNED_IN", "OpenID Connect, variable `AWS_ROLE_ARN`")
    assert dvc.calls == [("repro", "split", "train")]
    assert "(its credentials (OpenID Connect, variable `AWS_ROLE_ARN`) are not set)" in summary()


def test_a_reference_reproduced_from_a_changed_source_is_flagged(repo, params, dvc, summary):
    dvc.behaviour.update(pull=False, repro="a,target\n5,1\n")
    Path("current.csv").write_text(TRAIN)
    drift_data.run(params, "current.csv", None)
    assert [c[0] for c in dvc.calls] == ["pull", "repro"]
    text = summary()
    assert "could not be used (the remote does not have them: not pushed yet" in text
    assert "> It differs from the training data dvc.lock records: the source changed" in text
