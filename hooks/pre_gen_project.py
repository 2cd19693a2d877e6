"""Validate the answers before cookiecutter writes anything.

Each check returns one sentence naming the answer and what is expected, or None.
A failing hook exits 1; cookiecutter then removes the half-made project directory.
The module is importable so the checks have unit tests (tests/test_hooks.py).
"""

import json
import keyword
import re
import sys

SUPPORTED_PYTHON = ("3.11", "3.12", "3.13")
DATASETS = {"classification": ("breast_cancer", "wine"), "regression": ("diabetes",)}
REMOTE_SCHEMES = {"s3": "s3://", "gcs": "gs://", "azure": "azure://"}
LICENSES = ("MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary")
CLOUD_CREDENTIALS = ("secrets", "oidc")
DEPLOY_CHOICES = ("argocd", "flux", "kustomize", "none")
TRAINING_RUNNERS = ("github", "cml")
# Importing the project package must not shadow what the project itself imports.
TAKEN_NAMES = {
    "bentoml", "cml", "dvc", "joblib", "matplotlib", "mlflow", "numpy", "pandas", "pytest",
    "scipy", "sklearn", "skops", "yaml", "cookiecutter", "ruff", "pydantic", "tests", "src",
}  # fmt: skip
CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 6),
)
CRON_NAMES = {
    "month": ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    "day of week": ["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
}


def check_slug(slug: str) -> str | None:
    if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", slug):
        return (
            f"project_slug {slug!r} is not a valid repository name: use lowercase letters, digits and "
            "single dashes, starting with a letter (e.g. 'churn-model')."
        )
    return None


def check_package(name: str) -> str | None:
    if not name.isidentifier() or not name.isascii() or name != name.lower():
        return (
            f"package_name {name!r} is not a valid Python package name: use lowercase letters, digits and "
            "underscores, starting with a letter (e.g. 'churn_model')."
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"package_name {name!r} is a Python keyword; choose another name (e.g. '{name}_model')."
    if name in sys.stdlib_module_names or name in TAKEN_NAMES:
        return (
            f"package_name {name!r} would shadow the module of the same name that the project imports; "
            f"choose another name (e.g. '{name}_model')."
        )
    return None


def check_email(email: str) -> str | None:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s.]+", email):
        return (
            f"author_email {email!r} does not look like an email address; give one like 'name@example.com'."
        )
    return None


def check_owner(owner: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}", owner):
        return (
            f"github_owner {owner!r} is not a GitHub user or organisation name: use letters, digits and "
            "single dashes, at most 39 characters."
        )
    return None


def check_python(version: str) -> str | None:
    if version not in SUPPORTED_PYTHON:
        return f"python_version {version!r} is not supported; choose one of {', '.join(SUPPORTED_PYTHON)}."
    return None


def check_task(task: str, dataset: str) -> str | None:
    if task not in DATASETS:
        return f"task {task!r} is not supported; choose classification or regression."
    choices = " or ".join(DATASETS[task])
    if not any(dataset in names for names in DATASETS.values()):
        return f"dataset {dataset!r} is not a bundled example; choose {choices} for task {task}."
    if dataset not in DATASETS[task]:
        return f"dataset {dataset!r} does not fit task {task}; choose {choices}."
    return None


def _cron_value(token: str, field: str, low: int, high: int) -> int | None:
    names = CRON_NAMES.get(field, [])
    if token.lower() in names:
        return names.index(token.lower()) + (1 if field == "month" else 0)
    if token.isdigit() and low <= int(token) <= high:
        return int(token)
    return None


def _cron_field_ok(text: str, field: str, low: int, high: int) -> bool:
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            return False
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        first = _cron_value(start, field, low, high)
        last = _cron_value(end, field, low, high) if dash else first
        if first is None or last is None or first > last:
            return False
    return True


def check_cron(expression: str) -> str | None:
    fields = expression.split()
    if len(fields) != 5:
        return (
            f"drift_schedule {expression!r} has {len(fields)} fields; GitHub needs five "
            "(minute hour day-of-month month day-of-week), e.g. '0 6 * * 1'."
        )
    for text, (field, low, high) in zip(fields, CRON_FIELDS, strict=True):
        if not _cron_field_ok(text, field, low, high):
            return (
                f"drift_schedule {expression!r} has an invalid {field} field {text!r}; "
                f"use *, a number from {low} to {high}, a range a-b, a list a,b or a step */n."
            )
    return None


def check_remote(remote: str, url: str) -> str | None:
    if remote == "local":
        if "://" in url or not url:
            return f"dvc_remote_url {url!r} must be a directory path for the local remote, e.g. '../dvc-storage'."
        if not (url.startswith("/") or url.startswith("../")):
            return (
                f"dvc_remote_url {url!r} would put the DVC storage inside the repository; give a path "
                "outside it, e.g. '../dvc-storage' or an absolute path."
            )
        return None
    if remote not in REMOTE_SCHEMES:
        return f"dvc_remote {remote!r} is not supported; choose local, s3, gcs or azure."
    scheme = REMOTE_SCHEMES[remote]
    if not url.startswith(scheme) or len(url) <= len(scheme):
        return f"dvc_remote_url {url!r} does not match dvc_remote {remote}; give a URL like '{scheme}bucket/path'."
    return None


def check_endpoint(remote: str, endpoint: str) -> str | None:
    """The S3-compatible server (MinIO, R2, Ceph) an s3 remote talks to instead of Amazon S3."""
    if not endpoint:
        return None
    if remote != "s3":
        return (
            f"dvc_remote_endpoint_url {endpoint!r} is for an s3 remote only, not {remote!r}; "
            "leave it empty or choose dvc_remote s3."
        )
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", endpoint):
        return (
            f"dvc_remote_endpoint_url {endpoint!r} is not an http(s) URL; give the S3-compatible "
            "server's address, e.g. 'https://minio.example.com:9000', or leave it empty for Amazon S3."
        )
    return None


def check_tracking_uri(uri: str) -> str | None:
    if uri and not re.match(r"(https?|databricks|sqlite|postgresql|mysql|file)(\+\w+)?:", uri):
        return (
            f"mlflow_tracking_uri {uri!r} is not an MLflow tracking URI; give an http(s):// server URL, "
            "or leave it empty to use the local SQLite file."
        )
    return None


def check_registry(registry: str) -> str | None:
    if not re.fullmatch(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?(/[a-z0-9._-]+)*", registry):
        return (
            f"container_registry {registry!r} is not a registry host; give one like 'ghcr.io' "
            "or '123456789012.dkr.ecr.eu-west-1.amazonaws.com'."
        )
    return None


def check_text(name: str, value: str) -> str | None:
    if not value.strip():
        return f"{name} is empty; give a value."
    if "\n" in value:
        return f"{name} must be a single line."
    return None


def check_license(value: str) -> str | None:
    if value not in LICENSES:
        return f"license {value!r} is not offered; choose one of {', '.join(LICENSES)}."
    return None


def check_cloud_credentials(value: str, remote: str, endpoint: str = "") -> str | None:
    if value not in CLOUD_CREDENTIALS:
        return f"cloud_credentials {value!r} is not offered; choose secrets or oidc."
    if value == "oidc" and remote not in REMOTE_SCHEMES:
        return f"cloud_credentials 'oidc' needs a cloud DVC remote (s3, gcs or azure), not {remote!r}; choose secrets."
    if value == "oidc" and endpoint:
        return (
            "cloud_credentials 'oidc' signs in to AWS, but the s3 remote is on the S3-compatible server "
            f"{endpoint!r}, which takes its own keys; choose secrets."
        )
    return None


def check_deploy(value: str, slug: str = "") -> str | None:
    if value not in DEPLOY_CHOICES:
        return f"deploy {value!r} is not offered; choose one of {', '.join(DEPLOY_CHOICES)}."
    longest = 63 - len("-production")  # the production namespace, a Kubernetes name of 63 at most
    if value != "none" and len(slug) > longest:
        return (
            f"project_slug {slug!r} has {len(slug)} characters; the deploy manifests name a namespace "
            f"'<slug>-production', so give at most {longest} (or deploy 'none')."
        )
    return None


def check_training_runner(value: str) -> str | None:
    if value not in TRAINING_RUNNERS:
        return f"training_runner {value!r} is not offered; choose github or cml."
    return None


def problems(a: dict) -> list[str]:
    checks = [
        check_text("project_name", a["project_name"]),
        check_text("description", a["description"]),
        check_text("author_name", a["author_name"]),
        check_slug(a["project_slug"]),
        check_package(a["package_name"]),
        check_email(a["author_email"]),
        check_owner(a["github_owner"]),
        check_python(a["python_version"]),
        check_task(a["task"], a["dataset"]),
        check_remote(a["dvc_remote"], a["dvc_remote_url"]),
        check_endpoint(a["dvc_remote"], a["dvc_remote_endpoint_url"]),
        check_cloud_credentials(a["cloud_credentials"], a["dvc_remote"], a["dvc_remote_endpoint_url"]),
        check_tracking_uri(a["mlflow_tracking_uri"]),
        check_registry(a["container_registry"]),
        check_cron(a["drift_schedule"]),
        check_license(a["license"]),
        check_deploy(a["deploy"], a["project_slug"]),
        check_training_runner(a["training_runner"]),
    ]
    return [message for message in checks if message]


def main() -> int:
    answers = json.loads(r"""{{ cookiecutter | jsonify }}""")
    found = problems(answers)
    if found:
        # The first problem only: later ones are often derived from it (a bad slug makes a bad package name).
        print(f"error: {found[0]}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
