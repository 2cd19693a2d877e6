"""`github doctor`: for each workflow, what it needs that the repository's settings lack, and what
happens because of it. Exit status 1 when anything is missing."""

import argparse
from pathlib import Path

from . import repo_needs, repo_state
from .github import GitHub, add_summary
from .params import load_params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", help="OWNER/NAME (default: $GITHUB_REPOSITORY, else from the answers)")


def run(args) -> int:
    import os

    from .github_setup import client

    needs = repo_needs.read()
    github = client(args.repo or os.environ.get("GITHUB_REPOSITORY"), needs)
    return report(needs, github, args.params)


def report(needs: repo_needs.Needs, github: GitHub, params: str = "params.yaml") -> int:
    from .drift_issue import LABEL

    state = repo_state.read(github, labels=(LABEL,))
    drift_current = (load_params(Path(params)).get("drift") or {}).get("current")
    found = findings(needs, state, drift_current)
    unchecked = [f"{what}: {why}" for what, why in state.unreadable.items()]
    lines = [f"- {line}" for line in found] or ["Nothing missing: every workflow has what it needs."]
    if unchecked:
        lines += ["", "Not checked, the token may not read them:"] + [f"- {line}" for line in unchecked]
    text = "\n".join(lines)
    print(f"github doctor, {github.repository}:\n{text}")
    add_summary(f"### What the workflows need\n\n{text}")
    return 1 if found else 0


DEPLOY_WORKFLOWS = {"deploy.yml", "production.yml"}  # read the registry, never register into it


def findings(needs: repo_needs.Needs, state: repo_state.State, drift_current) -> list[str]:
    from .github_setup import DVC_OIDC_VARIABLES, DVC_SECRETS

    if not state.exists:
        return [f"{needs.repository}: the repository does not exist: run `github setup` to create it."]
    found = _environment_findings(needs, state)
    checks, check = state.required_checks, needs.required_check
    if checks is not None and check not in checks:
        found.append(
            f'{repo_needs.PR_WORKFLOW}: {state.default_branch} does not require the check "{check}": '
            "a pull request can merge while its pipeline fails."
        )
    variables = state.variables
    if variables is not None and not variables.get("MLFLOW_TRACKING_URI"):
        jobs = [job for job in needs.jobs if "MLFLOW_TRACKING_URI" in job.variables]
        found += _for_jobs(
            [job for job in jobs if job.workflow not in DEPLOY_WORKFLOWS],
            "no MLFLOW_TRACKING_URI: each run registers into a SQLite file on the runner that is thrown "
            "away, so the gate always promotes and nothing persists.",
        )
        found += _for_jobs(
            [job for job in jobs if job.workflow in DEPLOY_WORKFLOWS],
            "no MLFLOW_TRACKING_URI: the registry's staging and production aliases do not follow the "
            "overlays, and production pull requests show no metrics.",
        )
    if variables is not None and not variables.get("DRIFT_CURRENT") and not drift_current:
        found += _for_jobs(
            [job for job in needs.jobs if "DRIFT_CURRENT" in job.variables],
            "no DRIFT_CURRENT and no drift.current: the scheduled check stops at once.",
        )
    for name in DVC_SECRETS.get(needs.answers.get("dvc_remote"), ()):
        found += _for_jobs(
            _lacking(needs, state, name),
            f"no secret {name}: the DVC remote is not used, so each run reproduces the pipeline from source "
            "and the release pushes nothing.",
        )
    if variables is not None and needs.answers.get("cloud_credentials") == "oidc":
        for name in DVC_OIDC_VARIABLES.get(needs.answers.get("dvc_remote"), ()):
            # A job in an environment may take it from the environment's variables, not read here.
            jobs = [j for j in needs.jobs if name in j.variables and not j.environment]
            if not variables.get(name):
                found += _for_jobs(
                    jobs,
                    f"no variable {name}: the job does not sign in to the cloud, so the DVC remote is not "
                    "used and the pipeline is reproduced from source.",
                )
    for job in (j for j in needs.jobs if j.name == "launch"):  # training_runner=cml
        found += [
            f"{job.workflow}: no secret {name}: no cloud runner is launched, so the training job fails "
            '(README.md, "Training on a cloud runner").'
            for name in sorted(job.secrets)
            if state.has_secret(name, job.environment) is False
        ]
    for name in ("REGISTRY_USERNAME", "REGISTRY_PASSWORD"):
        registry = needs.answers.get("container_registry")
        found += _for_jobs(
            _lacking(needs, state, name), f"no secret {name}: the image push to {registry} fails."
        )
    return found + _pull_request_findings(needs, state)


def _environment_findings(needs: repo_needs.Needs, state: repo_state.State) -> list[str]:
    found = []
    for environment in sorted(needs.environments if state.environments is not None else ()):
        jobs = [job for job in needs.jobs if job.environment == environment]
        current = state.environments.get(environment)
        if current is None:
            found += _for_jobs(
                jobs,
                f"no environment {environment}: GitHub creates it, unprotected, at the first run, "
                "and a run from any branch gets its secrets.",
            )
        elif current.branches is None:
            found += _for_jobs(
                jobs,
                f"the environment {environment} takes any branch: a run from any branch gets its secrets.",
            )
    return found


def _lacking(needs: repo_needs.Needs, state: repo_state.State, secret: str) -> list[repo_needs.Job]:
    """The jobs that read `secret` and get it neither from the repository nor from their environment."""
    return [
        job
        for job in needs.jobs
        if secret in job.secrets and state.has_secret(secret, job.environment) is False
    ]


def _for_jobs(jobs: list[repo_needs.Job], what: str) -> list[str]:
    """One finding, prefixed by the workflows of `jobs`; none without jobs."""
    return [f"{', '.join(sorted({job.workflow for job in jobs}))}: {what}"] if jobs else []


def _pull_request_findings(needs: repo_needs.Needs, state: repo_state.State) -> list[str]:
    from .github_setup import pull_requests_by_token

    variables, secrets = state.variables, state.secrets
    if variables is None or secrets is None:
        return []
    secrets = secrets.union(*(names for names in state.environment_secrets.values() if names))
    found = []
    for app, key in (
        ("RETRAIN_APP_ID", "RETRAIN_APP_PRIVATE_KEY"),
        ("TEMPLATE_UPDATE_APP_ID", "TEMPLATE_UPDATE_APP_PRIVATE_KEY"),
    ):
        jobs = [job for job in needs.jobs if key in job.secrets]
        if variables.get(app) and jobs and not any(state.has_secret(key, job.environment) for job in jobs):
            found.append(
                f"{jobs[0].workflow}: {app} is set but not the secret {key}: "
                "the job that needs its token fails."
            )
    permitted = (state.workflow_permissions or {}).get("can_approve_pull_request_reviews")
    if state.workflow_permissions is not None and not permitted:
        for workflow in pull_requests_by_token(needs, variables, secrets):
            found.append(
                f"{workflow}: Actions may not create pull requests and no GitHub App or token is configured: "
                "the job fails when it opens its pull request."
            )
    return found
