"""What `github setup` and `github doctor` read from this repository's workflows, how they seal
secrets, and what the doctor says of a repository missing each item in turn."""

import re
from pathlib import Path

import pytest
import yaml
from nacl import encoding, exceptions, public

from {{ cookiecutter.package_name }} import github_doctor, github_setup, repo_needs
from {{ cookiecutter.package_name }}.repo_needs import Job, Needs
from {{ cookiecutter.package_name }}.repo_state import Environment, State

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github/workflows").glob("*.yml"))


def test_the_needs_are_what_the_workflows_reference():
    needs = repo_needs.read(ROOT)
    text = "\n".join(path.read_text() for path in WORKFLOWS)
    assert needs.secrets == set(re.findall(r"secrets\.([A-Z0-9_]+)", text)) - {"GITHUB_TOKEN"}
    assert needs.variables == set(re.findall(r"vars\.([A-Z0-9_]+)", text))
    environments = set()
    for path in WORKFLOWS:
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            env = job.get("environment")
            environments |= {env["name"] if isinstance(env, dict) else env} if env else set()
    assert needs.environments == environments
    pr = yaml.safe_load((ROOT / ".github/workflows/pr.yml").read_text())
    assert needs.required_check == pr["jobs"]["pipeline"].get("name", "pipeline")
    assert needs.repository.count("/") == 1


def test_a_sealed_secret_opens_only_with_the_repositorys_private_key():
    private = public.PrivateKey.generate()
    key = private.public_key.encode(encoding.Base64Encoder).decode()
    sealed = github_setup.seal(key, "päss\nword")
    assert public.SealedBox(private).decrypt(encoding.Base64Encoder.decode(sealed)).decode() == "päss\nword"
    assert github_setup.seal(key, "päss\nword") != sealed  # a fresh ephemeral key each time
    with pytest.raises(exceptions.CryptoError):
        public.SealedBox(public.PrivateKey.generate()).decrypt(encoding.Base64Encoder.decode(sealed))


NEEDS = Needs(
    jobs=[
        Job("pr.yml", "pipeline", None, {"CML_PUBLISH_URL"}, {"AWS_ACCESS_KEY_ID"}),
        Job(
            "main.yml",
            "release",
            "release",
            {"MLFLOW_TRACKING_URI"},
            {"AWS_ACCESS_KEY_ID", "REGISTRY_PASSWORD"},
        ),
        Job("drift.yml", "check", None, {"DRIFT_CURRENT"}, {"AWS_ACCESS_KEY_ID"}),
        Job(
            "drift.yml",
            "retrain",
            "retrain",
            {"RETRAIN_ON_DRIFT", "RETRAIN_APP_ID"},
            {"RETRAIN_APP_PRIVATE_KEY", "RETRAIN_TOKEN"},
        ),
    ],
    answers={
        "github_owner": "acme",
        "project_slug": "demo",
        "dvc_remote": "s3",
        "container_registry": "registry.example.com",
    },
    required_check="Test, reproduce and report",
)


def configured() -> State:
    check = {
        "type": "required_status_checks",
        "parameters": {"required_status_checks": [{"context": NEEDS.required_check}]},
    }
    return State(
        exists=True,
        variables={
            "MLFLOW_TRACKING_URI": "https://mlflow.example.com",
            "DRIFT_CURRENT": "data/current.csv",
            "RETRAIN_ON_DRIFT": "true",
        },
        secrets={"AWS_ACCESS_KEY_ID", "REGISTRY_PASSWORD"},
        environments={"release": Environment([], {"main"}), "retrain": Environment([], {"main"})},
        environment_secrets={"release": set(), "retrain": {"RETRAIN_TOKEN"}},
        branch_rules=[{"type": "pull_request"}, check],
        workflow_permissions={"can_approve_pull_request_reviews": False},
    )


def without(state: State, **change) -> State:
    for name, value in change.items():
        setattr(state, name, value)
    return state


CASES = {
    "no environment": (
        lambda s: without(s, environments={"retrain": s.environments["retrain"]}),
        "main.yml: no environment release: GitHub creates it, unprotected",
    ),
    "an environment any branch may use": (
        lambda s: s.environments["retrain"].__setattr__("branches", None) or s,
        "drift.yml: the environment retrain takes any branch",
    ),
    "no required check": (
        lambda s: without(s, branch_rules=[{"type": "pull_request"}]),
        'does not require the check "Test, reproduce and report"',
    ),
    "no tracking server": (
        lambda s: without(s, variables={**s.variables, "MLFLOW_TRACKING_URI": ""}),
        "main.yml: no MLFLOW_TRACKING_URI",
    ),
    "no current data": (
        lambda s: without(s, variables={k: v for k, v in s.variables.items() if k != "DRIFT_CURRENT"}),
        "drift.yml: no DRIFT_CURRENT and no drift.current",
    ),
    "no DVC remote credentials": (
        lambda s: without(s, secrets={"REGISTRY_PASSWORD"}),
        "drift.yml, main.yml, pr.yml: no secret AWS_ACCESS_KEY_ID: the DVC remote is not used",
    ),
    "no registry password": (
        lambda s: without(s, secrets={"AWS_ACCESS_KEY_ID"}),
        "main.yml: no secret REGISTRY_PASSWORD: the image push to registry.example.com fails",
    ),
    "an app without its key": (
        lambda s: without(s, variables={**s.variables, "RETRAIN_APP_ID": "1"}),
        "drift.yml: RETRAIN_APP_ID is set but not the secret RETRAIN_APP_PRIVATE_KEY",
    ),
    "no way to open the retraining pull request": (
        lambda s: without(s, environment_secrets={"release": set(), "retrain": set()}),
        "drift.yml: Actions may not create pull requests and no GitHub App or token is configured",
    ),
}


def test_a_configured_repository_has_nothing_missing():
    assert github_doctor.findings(NEEDS, configured(), drift_current=None) == []


def test_without_a_tracking_server_the_deployment_workflows_say_what_they_cannot_do():
    jobs = NEEDS.jobs + [
        Job("deploy.yml", "aliases", "release", {"MLFLOW_TRACKING_URI"}, set()),
        Job("production.yml", "propose", "production", {"MLFLOW_TRACKING_URI"}, set()),
    ]
    state = without(configured(), variables={"DRIFT_CURRENT": "data/current.csv", "RETRAIN_ON_DRIFT": "true"})
    needs = Needs(jobs, NEEDS.answers, NEEDS.required_check)
    found = github_doctor.findings(needs, state, drift_current=None)
    assert [line for line in found if "MLFLOW_TRACKING_URI" in line] == [
        "main.yml: no MLFLOW_TRACKING_URI: each run registers into a SQLite file on the runner that is "
        "thrown away, so the gate always promotes and nothing persists.",
        "deploy.yml, production.yml: no MLFLOW_TRACKING_URI: the registry's staging and production aliases "
        "do not follow the overlays, and production pull requests show no metrics.",
    ]


def test_the_doctor_names_a_missing_cloud_identity_and_runner_secrets():
    jobs = [
        Job("pr.yml", "pipeline", None, {"AWS_ROLE_ARN", "AWS_REGION"}, set()),
        Job("main.yml", "reproduce", "release", {"AWS_ROLE_ARN", "AWS_REGION"}, set()),
        Job("main.yml", "launch", "release", set(), {"CML_RUNNER_TOKEN", "CML_AWS_ACCESS_KEY_ID"}),
    ]
    needs = Needs(jobs, {**NEEDS.answers, "cloud_credentials": "oidc"}, NEEDS.required_check)
    state = configured()
    state.variables["AWS_REGION"] = "eu-west-1"
    state.secrets.add("CML_AWS_ACCESS_KEY_ID")
    found = github_doctor.findings(needs, state, drift_current=None)
    assert [line for line in found if "AWS_ROLE_ARN" in line or "CML_" in line] == [
        "pr.yml: no variable AWS_ROLE_ARN: the job does not sign in to the cloud, so the DVC remote is not "
        "used and the pipeline is reproduced from source.",  # main.yml may hold it in its environment
        "main.yml: no secret CML_RUNNER_TOKEN: no cloud runner is launched, so the training job fails "
        '(README.md, "Training on a cloud runner").',
    ]


@pytest.mark.parametrize("case", CASES)
def test_the_doctor_names_each_missing_item(case):
    change, expected = CASES[case]
    found = github_doctor.findings(NEEDS, change(configured()), drift_current=None)
    assert len(found) == 1 and expected in found[0], found


def test_what_the_doctor_cannot_read_it_does_not_call_missing():
    state = without(
        configured(),
        secrets=None,
        environment_secrets={},
        variables=None,
        branch_rules=None,
        environments=None,
        workflow_permissions=None,
    )
    assert github_doctor.findings(NEEDS, state, drift_current=None) == []


def test_drift_current_in_params_is_current_data():
    state = without(configured(), variables={"MLFLOW_TRACKING_URI": "https://mlflow.example.com"})
    assert github_doctor.findings(NEEDS, state, drift_current="data/current.csv") == []


def test_retraining_off_opens_no_pull_request_and_needs_no_permission():
    assert github_setup.pull_requests_by_token(NEEDS, {"RETRAIN_ON_DRIFT": "false"}, set()) == []
    assert github_setup.pull_requests_by_token(NEEDS, {"RETRAIN_ON_DRIFT": "true"}, set()) == ["drift.yml"]
    assert github_setup.pull_requests_by_token(NEEDS, {"RETRAIN_ON_DRIFT": "true"}, {"RETRAIN_TOKEN"}) == []


def test_a_ruleset_with_fields_github_adds_is_still_ours():
    wanted = github_setup.ruleset(NEEDS)
    found = {
        **wanted,
        "id": 7,
        "source": "acme/demo",
        "rules": [{**rule, "id": 1} for rule in wanted["rules"]],
    }
    assert all(github_setup._covers(found.get(k), v) for k, v in wanted.items())
    found["rules"] = found["rules"][:-1]
    assert not all(github_setup._covers(found.get(k), v) for k, v in wanted.items())


@pytest.mark.parametrize(
    ("credentials", "variables", "secrets", "wanted"),
    [
        (
            "secrets",
            {},
            {"AWS_ACCESS_KEY_ID"},
            "the DVC remote's credentials: --secret AWS_SECRET_ACCESS_KEY",
        ),
        ("secrets", {}, {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}, None),
        ("oidc", {"AWS_REGION": "eu-west-1"}, set(), "--var AWS_ROLE_ARN=..."),
        ("oidc", {"AWS_ROLE_ARN": "arn:aws:iam::1:role/r", "AWS_REGION": "eu-west-1"}, set(), None),
    ],
)
def test_setup_names_what_the_remote_still_needs_for_the_chosen_credentials(
    credentials, variables, secrets, wanted
):
    needs = Needs(NEEDS.jobs, {**NEEDS.answers, "cloud_credentials": credentials}, NEEDS.required_check)
    state = without(configured(), secrets=secrets, variables=variables)
    found = [line for line in github_setup._unknowns(needs, state, {}, {}, {}) if "DVC remote" in line]
    assert found == ([] if wanted is None else [next(line for line in found if wanted in line)])
    assert not any("--secret AWS" in line for line in found) or credentials == "secrets"
