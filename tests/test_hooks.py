"""Unit tests of the answer checks in hooks/pre_gen_project.py, and what a bad answer shows at generation.

python_version, task, dvc_remote, license, deploy and training_runner are plain answers, not cookiecutter choice lists:
cookiecutter 2.7 rejects a value outside a choice list before any hook runs, with a ValueError traceback.
As plain answers they reach the hook, which names the answer and the values allowed."""

import subprocess
import sys

import pytest
from cookiecutter.exceptions import FailedHookException

from hooks import pre_gen_project as hook
from tests.conftest import TEMPLATE


@pytest.mark.parametrize(
    "cron",
    ["0 6 * * 1", "*/15 * * * *", "0 0 1,15 * *", "30 2 * jan-mar mon-fri", "0 */6 * * 0-6", "5 4 * * sun"],
)
def test_valid_cron(cron):
    assert hook.check_cron(cron) is None


@pytest.mark.parametrize(
    ("cron", "field"),
    [
        ("60 * * * *", "minute"),
        ("0 24 * * *", "hour"),
        ("0 0 0 * *", "day of month"),
        ("0 0 * 0 *", "month"),
        ("0 0 * * 7", "day of week"),
        ("0 0 * * mon-sun", "day of week"),
        ("*/0 * * * *", "minute"),
        ("5-1 * * * *", "minute"),
        ("@daily * * * *", "minute"),
    ],
)
def test_invalid_cron_names_the_field(cron, field):
    assert f"invalid {field} field" in hook.check_cron(cron)


def test_cron_needs_five_fields():
    assert "has 6 fields" in hook.check_cron("0 0 * * * *")


@pytest.mark.parametrize("version", ["3.11", "3.12", "3.13"])
def test_supported_python(version):
    assert hook.check_python(version) is None


@pytest.mark.parametrize("version", ["3.10", "3.14", "3"])
def test_unsupported_python(version):
    assert "is not supported; choose one of 3.11, 3.12, 3.13" in hook.check_python(version)


@pytest.mark.parametrize("deploy", ["argocd", "flux", "kustomize", "none"])
def test_offered_deploy_answers(deploy):
    assert hook.check_deploy(deploy) is None


@pytest.mark.parametrize("deploy", ["ArgoCD", "helm", ""])
def test_deploy_answer_outside_the_offer(deploy):
    assert "is not offered; choose one of argocd, flux, kustomize, none." in hook.check_deploy(deploy)


@pytest.mark.parametrize("runner", ["github", "cml"])
def test_offered_training_runners(runner):
    assert hook.check_training_runner(runner) is None


@pytest.mark.parametrize("runner", ["CML", "self-hosted", ""])
def test_training_runner_outside_the_offer(runner):
    assert hook.check_training_runner(runner) == (
        f"training_runner {runner!r} is not offered; choose github or cml."
    )


def test_a_slug_too_long_for_a_kubernetes_namespace_is_refused_only_with_manifests():
    slug = "a" * 53  # "<slug>-production" would be 64 characters, one over Kubernetes' limit
    assert "give at most 52 (or deploy 'none')" in hook.check_deploy("argocd", slug)
    assert hook.check_deploy("argocd", slug[:52]) is None
    assert hook.check_deploy("none", slug) is None


def test_task_and_dataset():
    assert hook.check_task("classification", "breast_cancer") is None
    assert hook.check_task("regression", "diabetes") is None
    assert "not supported" in hook.check_task("clustering", "diabetes")
    assert hook.check_task("classification", "wine") is None
    assert hook.check_task("classification", "diabetes") == (
        "dataset 'diabetes' does not fit task classification; choose breast_cancer or wine."
    )
    assert (
        hook.check_task("regression", "wine")
        == "dataset 'wine' does not fit task regression; choose diabetes."
    )
    assert hook.check_task("classification", "iris") == (
        "dataset 'iris' is not a bundled example; choose breast_cancer or wine for task classification."
    )


@pytest.mark.parametrize("name", ["churn_model", "m2", "demo_model"])
def test_good_package_names(name):
    assert hook.check_package(name) is None


@pytest.mark.parametrize(
    ("name", "reason"),
    [("os", "shadow"), ("dvc", "shadow"), ("bentoml", "shadow"), ("sklearn", "shadow"), ("match", "keyword"),
     ("Churn", "not a valid"), ("churn-model", "not a valid"), ("café", "not a valid")],
)  # fmt: skip
def test_bad_package_names(name, reason):
    assert reason in hook.check_package(name)


@pytest.mark.parametrize(
    ("remote", "url", "ok"),
    [
        ("local", "../dvc-storage", True),
        ("local", "/srv/dvc", True),
        ("local", "data/remote", False),
        ("local", "s3://bucket", False),
        ("s3", "s3://bucket/path", True),
        ("s3", "s3://", False),
        ("gcs", "gs://bucket", True),
        ("azure", "azure://container/path", True),
        ("azure", "https://x.blob.core.windows.net", False),
        ("hdfs", "hdfs://x", False),
    ],
)
def test_remote_url_matches_type(remote, url, ok):
    assert (hook.check_remote(remote, url) is None) is ok


@pytest.mark.parametrize(
    ("remote", "endpoint", "ok"),
    [
        ("s3", "", True),
        ("local", "", True),
        ("s3", "http://127.0.0.1:9000", True),
        ("s3", "https://acct.r2.cloudflarestorage.com", True),
        ("s3", "https://ceph.example.com/s3", True),
        ("s3", "minio.example.com:9000", False),
        ("s3", "s3://bucket", False),
        ("s3", "https://", False),
        ("s3", "https://minio example.com", False),
    ],
)
def test_endpoint_is_an_http_url(remote, endpoint, ok):
    assert (hook.check_endpoint(remote, endpoint) is None) is ok


@pytest.mark.parametrize("remote", ["local", "gcs", "azure"])
def test_endpoint_is_for_an_s3_remote_only(remote):
    assert hook.check_endpoint(remote, "https://minio.example.com") == (
        f"dvc_remote_endpoint_url 'https://minio.example.com' is for an s3 remote only, not {remote!r}; "
        "leave it empty or choose dvc_remote s3."
    )


def test_every_problem_is_one_line_naming_the_answer():
    answers = {
        "project_name": "x", "description": "x", "author_name": "x", "project_slug": "Bad Slug",
        "package_name": "bad slug", "author_email": "nope", "github_owner": "-x", "python_version": "2.7",
        "task": "clustering", "dataset": "x", "dvc_remote": "ftp", "dvc_remote_url": "x", "dvc_remote_endpoint_url": "x",
        "mlflow_tracking_uri": "x", "container_registry": "Not A Host", "drift_schedule": "x",
        "license": "GPL", "deploy": "helm", "cloud_credentials": "keys", "training_runner": "gitlab",
    }  # fmt: skip
    found = hook.problems(answers)
    assert len(found) == 15
    named = ["project_slug", "package_name", "author_email", "github_owner", "python_version", "task",
             "dvc_remote", "dvc_remote_endpoint_url", "cloud_credentials", "mlflow_tracking_uri", "container_registry",
             "drift_schedule", "license", "deploy", "training_runner"]  # fmt: skip
    for message, answer in zip(found, named, strict=True):
        assert message.startswith(answer) and "\n" not in message


OUTSIDE_THE_OFFER = [
    ({"task": "clustering"}, "task 'clustering' is not supported; choose classification or regression."),
    (
        {"license": "GPL"},
        "license 'GPL' is not offered; choose one of MIT, Apache-2.0, BSD-3-Clause, Proprietary.",
    ),
    ({"dvc_remote": "ftp"}, "dvc_remote 'ftp' is not supported; choose local, s3, gcs or azure."),
    ({"python_version": "3.10"}, "python_version '3.10' is not supported; choose one of 3.11, 3.12, 3.13."),
    ({"deploy": "x"}, "deploy 'x' is not offered; choose one of argocd, flux, kustomize, none."),
    ({"cloud_credentials": "keys"}, "cloud_credentials 'keys' is not offered; choose secrets or oidc."),
    ({"training_runner": "gitlab"}, "training_runner 'gitlab' is not offered; choose github or cml."),
    (
        {"cloud_credentials": "oidc"},  # with the default remote, a local directory
        "cloud_credentials 'oidc' needs a cloud DVC remote (s3, gcs or azure), not 'local'; choose secrets.",
    ),
    (
        {
            "dvc_remote_endpoint_url": "https://minio.example.com"
        },  # with the default remote, a local directory
        "dvc_remote_endpoint_url 'https://minio.example.com' is for an s3 remote only, not 'local'; "
        "leave it empty or choose dvc_remote s3.",
    ),
    (
        {"dvc_remote": "s3", "dvc_remote_url": "s3://ml/dvc", "dvc_remote_endpoint_url": "minio:9000"},
        "dvc_remote_endpoint_url 'minio:9000' is not an http(s) URL; give the S3-compatible server's "
        "address, e.g. 'https://minio.example.com:9000', or leave it empty for Amazon S3.",
    ),
    (
        {
            "dvc_remote": "s3",
            "dvc_remote_url": "s3://ml/dvc",
            "dvc_remote_endpoint_url": "https://r2.example.com",
            "cloud_credentials": "oidc",
        },
        "cloud_credentials 'oidc' signs in to AWS, but the s3 remote is on the S3-compatible server "
        "'https://r2.example.com', which takes its own keys; choose secrets.",
    ),  # fmt: skip
]


@pytest.mark.parametrize(
    ("answers", "message"), OUTSIDE_THE_OFFER, ids=[next(iter(a)) for a, _ in OUTSIDE_THE_OFFER]
)
def test_value_outside_the_offered_ones_is_one_line_naming_them(baked, tmp_path, capfd, answers, message):
    with pytest.raises(FailedHookException):
        baked(**answers)
    assert capfd.readouterr().err == f"error: {message}\n"
    assert list(tmp_path.iterdir()) == []


def test_command_line_with_a_value_outside_the_offered_ones(tmp_path):
    """What a user typing the answer on the command line sees: the hook's one line on stderr, exit 1."""
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", str(TEMPLATE), "task=clustering", "-o", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == f"error: {OUTSIDE_THE_OFFER[0][1]}\n"
    assert "ValueError" not in result.stdout + result.stderr  # cookiecutter's own choice check did not fire
    assert not out.exists() or list(out.iterdir()) == []
