"""`github setup`: configure the GitHub repository from what this repository declares.

Plans first (what exists, what it creates or changes, what it cannot know), then, once confirmed,
writes only what differs, so a second run makes no write call. Secrets are sealed with the
repository's public key (libsodium sealed boxes, PyNaCl) and never printed."""

import argparse
import base64
import os
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import repo_needs, repo_state
from .drift_issue import LABEL, LABEL_COLOUR, LABEL_DESCRIPTION
from .errors import UserError
from .github import GitHub

# Workflows that open pull requests, and what lets them do so without the workflow's GITHUB_TOKEN.
PULL_REQUEST_OPENERS = {  # workflow -> the variable and the secret that give it a token of its own
    "drift.yml": ("RETRAIN_APP_ID", "RETRAIN_TOKEN"),
    "production.yml": ("DEPLOY_APP_ID", "DEPLOY_TOKEN"),  # and main.yml's stage job, which comes with it
    "template-update.yml": ("TEMPLATE_UPDATE_APP_ID", "TEMPLATE_UPDATE_TOKEN"),
}
DVC_SECRETS = {
    "s3": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    "gcs": ("GCP_CREDENTIALS_JSON",),
    "azure": ("AZURE_STORAGE_CONNECTION_STRING",),
}
DVC_OIDC_VARIABLES = {  # with the answer cloud_credentials=oidc: the identity to sign in as
    "s3": ("AWS_ROLE_ARN", "AWS_REGION"),
    "gcs": ("GCP_WORKLOAD_IDENTITY_PROVIDER", "GCP_SERVICE_ACCOUNT"),
    "azure": ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID", "AZURE_STORAGE_ACCOUNT"),
}
MLFLOW_SECRETS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", help="OWNER/NAME (default: github_owner/project_slug of the answers)")
    parser.add_argument(
        "--var", action="append", default=[], metavar="NAME=VALUE", help="an Actions variable"
    )
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="[ENV:]NAME[=FILE]",
        help="an Actions secret, from the environment variable NAME or from FILE; ENV: for an environment's",
    )
    parser.add_argument(
        "--reviewer", action="append", default=[], metavar="ENV=LOGIN", help="a required reviewer of ENV"
    )
    parser.add_argument("--overwrite-secrets", action="store_true", help="set given secrets that exist")
    parser.add_argument("--public", action="store_true", help="create the repository public")
    parser.add_argument("--yes", action="store_true", help="apply the plan without asking")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")


@dataclass
class Step:
    what: str  # "variable MLFLOW_TRACKING_URI"
    status: str  # "exists", or what applying does
    apply: Callable[[], None] | None = None  # None: nothing to write


def login_token() -> str:
    """GITHUB_TOKEN, else the GitHub CLI's stored login."""
    if os.environ.get("GITHUB_TOKEN"):
        return os.environ["GITHUB_TOKEN"]
    gh = shutil.which("gh")
    if gh:
        found = subprocess.run([gh, "auth", "token"], capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip()
    raise UserError("no GitHub token: set GITHUB_TOKEN, or log in with the GitHub CLI (`gh auth login`).")


def client(repository: str | None, needs: repo_needs.Needs) -> GitHub:
    return GitHub(repository=repository or needs.repository, token=login_token())


def run(args) -> int:
    from . import github_doctor

    needs = repo_needs.read()
    github = client(args.repo, needs)
    state = repo_state.read(github, labels=(LABEL,))
    steps, unknown = plan(github, needs, state, args)
    print(render(github.repository, steps, unknown))
    writes = [step for step in steps if step.apply]
    if args.dry_run or not writes:
        print("dry run: nothing changed." if args.dry_run else "nothing to change.")
    else:
        if not args.yes and not _confirm(f"apply these {len(writes)} changes?"):
            print("nothing changed.")
            return 1
        for step in writes:
            step.apply()
            print(f"done: {step.what}: {step.status}")
    print()
    return github_doctor.report(needs, github)


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise UserError("not a terminal, so nothing to confirm the plan with: pass --yes to apply it.")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def render(repository: str, steps: list[Step], unknown: list[str]) -> str:
    width = max(len(step.what) for step in steps)
    lines = [f"plan for {repository}:"]
    lines += [f"  {step.what:<{width}}  {step.status}" for step in steps]
    if unknown:
        lines += ["cannot know:"] + [f"  - {line}" for line in unknown]
    return "\n".join(lines)


def _pairs(values: list[str], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise UserError(f"{option} {value!r} is not NAME=VALUE; write it as {option} NAME=VALUE.")
        pairs[name] = rest
    return pairs


def _declared(name: str, known: set[str], nowhere: str, they: str) -> None:
    if name not in known:
        raise UserError(f"{nowhere} {name!r}; {they} {', '.join(sorted(known))}.")


def _secret_values(specs: list[str], needs: repo_needs.Needs) -> dict[tuple[str | None, str], str]:
    values = {}
    for spec in specs:
        target, _, path = spec.partition("=")
        environment, _, name = target.rpartition(":")
        _declared(name, needs.secrets, "no workflow reads the secret", "they read")
        if environment:
            _declared(environment, needs.environments, "no job runs in the environment", "they use")
        if path:
            try:
                value = Path(path).read_text(encoding="utf-8")
            except OSError as error:
                raise UserError(f"cannot read the secret {name} from {path}: {error.strerror}.") from error
        elif name in os.environ:
            value = os.environ[name]
        else:
            raise UserError(f"--secret {spec}: set the environment variable {name}, or give {name}=FILE.")
        if not value.strip():
            raise UserError(f"the secret {name} would be empty; give it a value.")
        values[(environment or None, name)] = value
    return values


def plan(
    github: GitHub, needs: repo_needs.Needs, state: repo_state.State, args
) -> tuple[list[Step], list[str]]:
    variables = {}
    if needs.answers.get("mlflow_tracking_uri"):
        variables["MLFLOW_TRACKING_URI"] = needs.answers["mlflow_tracking_uri"]
    variables |= _pairs(args.var, "--var")
    for name in variables:
        _declared(name, needs.variables, "no workflow reads the variable", "they read")
    secrets = _secret_values(args.secret, needs)
    reviewers: dict[str, list[str]] = {}
    for spec in args.reviewer:
        ((environment, login),) = _pairs([spec], "--reviewer").items()
        _declared(environment, needs.environments, "no job runs in the environment", "they use")
        reviewers.setdefault(environment, []).append(login)

    for what in ("variables", "secrets", "environments"):
        if what in state.unreadable:
            raise UserError(f"cannot read the repository's {what}: {state.unreadable[what]}")
    steps = [_repository_step(github, needs, state, args.public)]
    steps += _variable_steps(github, state, variables)
    steps += _environment_steps(github, needs, state, reviewers)
    steps += _secret_steps(github, state, secrets, args.overwrite_secrets)
    steps.append(_ruleset_step(github, needs, state))
    final_variables = {**(state.variables or {}), **variables}
    final_secrets = (state.secrets or set()).union(
        {name for _, name in secrets}, *(names for names in state.environment_secrets.values() if names)
    )
    steps.append(_workflow_permission_step(github, needs, state, final_variables, final_secrets))
    if LABEL not in (state.labels or set()):
        body = {"name": LABEL, "color": LABEL_COLOUR, "description": LABEL_DESCRIPTION}
        steps.append(Step(f"label {LABEL}", "create", lambda: github.request("POST", "/labels", body)))
    else:
        steps.append(Step(f"label {LABEL}", "exists"))
    return steps, _unknowns(needs, state, variables, secrets, reviewers)


def _repository_step(github: GitHub, needs, state, public: bool) -> Step:
    if state.exists:
        return Step("repository", "exists")
    owner, name = github.repository.split("/")
    commit = _to_commit()

    def create() -> None:
        if commit:
            _git("add", "-A" if commit == FIRST_COMMIT else "uv.lock")
            _git("commit", "-q", "-m", "Generated from the template" if commit == FIRST_COMMIT else "Lock")
        me = github.api("GET", "/user")["login"]
        path = "/user/repos" if me.lower() == owner.lower() else f"/orgs/{owner}/repos"
        body = {"name": name, "private": not public, "description": needs.answers.get("description", "")}
        created = github.api("POST", path, body)
        _push(created["clone_url"], github.token)

    visibility = "public" if public else "private"
    first = f"commit {commit}, " if commit else ""
    return Step("repository", f"{first}create ({visibility}) under {owner} and push main", create)


FIRST_COMMIT = "the generated files"


def _to_commit() -> str:
    """What must be committed before main is pushed: every workflow installs with `uv sync --locked`."""
    if not Path("uv.lock").is_file():
        raise UserError("there is no uv.lock, which every workflow installs from: run `make setup` first.")
    if subprocess.run(["git", "rev-parse", "--verify", "-q", "HEAD"], capture_output=True).returncode != 0:
        return FIRST_COMMIT
    return "uv.lock" if _git("status", "--porcelain", "--", "uv.lock") else ""


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], capture_output=True, text=True)
    if done.returncode != 0:
        command = next(arg for arg in args if not arg.startswith("-") and "=" not in arg)
        raise UserError(f"git {command} failed: {(done.stderr.strip().splitlines() or ['no message'])[-1]}")
    return done.stdout.strip()


def _push(url: str, token: str) -> None:
    """Push main with the token in a header for this one command (not stored in .git/config)."""
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    _git("-c", f"http.extraHeader=Authorization: Basic {basic}", "push", "-q", url, "HEAD:refs/heads/main")
    if subprocess.run(["git", "remote", "get-url", "origin"], capture_output=True).returncode != 0:
        _git("remote", "add", "origin", url)


def _variable_steps(github: GitHub, state, variables: dict[str, str]) -> list[Step]:
    steps = []
    for name, value in sorted(variables.items()):
        current = (state.variables or {}).get(name)
        body = {"name": name, "value": value}
        if current == value:
            steps.append(Step(f"variable {name}", f"exists: {value}"))
        elif current is None:
            steps.append(
                Step(
                    f"variable {name}",
                    f"create: {value}",
                    lambda b=body: github.request("POST", "/actions/variables", b),
                )
            )
        else:
            steps.append(
                Step(
                    f"variable {name}",
                    f"change: {current} -> {value}",
                    lambda b=body: github.request("PATCH", f"/actions/variables/{b['name']}", b),
                )
            )
    return steps


def _environment_steps(github: GitHub, needs, state, reviewers: dict[str, list[str]]) -> list[Step]:
    steps = []
    branch = state.default_branch
    for name in sorted(needs.environments):
        current = (state.environments or {}).get(name)
        wanted = [_reviewer(github, login) for login in reviewers.get(name, [])]
        keep = current.reviewers if current else []
        people = wanted or keep
        path = f"/environments/{urllib.parse.quote(name, safe='')}"
        changes = []
        if current is None:
            changes.append("create")
        if current is None or current.branches is None or branch not in current.branches:
            changes.append(f"deployments from {branch} only")
        if wanted and sorted(map(str, wanted)) != sorted(map(str, keep)):
            changes.append(f"required reviewers {', '.join(reviewers[name])}")
        if not changes:
            steps.append(Step(f"environment {name}", f"exists: deployments from {branch} only"))
            continue

        def apply(path=path, people=people, current=current) -> None:
            body = {
                "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True},
                "reviewers": people,
            }
            github.request("PUT", path, body)
            if current is None or current.branches is None or branch not in current.branches:
                github.request(
                    "POST", f"{path}/deployment-branch-policies", {"name": branch, "type": "branch"}
                )

        steps.append(Step(f"environment {name}", ", ".join(changes), apply))
    return steps


def _reviewer(github: GitHub, login: str) -> dict:
    user = github.api("GET", f"/users/{urllib.parse.quote(login, safe='')}", accept=(404,))
    if user is None:
        raise UserError(f"no GitHub user {login!r}; name an existing login with --reviewer ENV=LOGIN.")
    return {"type": "User", "id": user["id"]}


def _secret_steps(github: GitHub, state, secrets: dict, overwrite: bool) -> list[Step]:
    steps = []
    for (environment, name), value in sorted(
        secrets.items(), key=lambda item: (item[0][0] or "", item[0][1])
    ):
        what = f"secret {environment}:{name}" if environment else f"secret {name}"
        known = state.environment_secrets.get(environment) if environment else state.secrets
        if name in (known or set()) and not overwrite:
            steps.append(
                Step(what, "exists: kept (GitHub never shows a value; --overwrite-secrets replaces it)")
            )
            continue
        base = f"/environments/{urllib.parse.quote(environment, safe='')}" if environment else ""

        def apply(base=base, name=name, value=value) -> None:
            key = github.request(
                "GET", f"{base}/secrets/public-key" if base else "/actions/secrets/public-key"
            )
            sealed = seal(key["key"], value)
            path = f"{base}/secrets/{name}" if base else f"/actions/secrets/{name}"
            github.request("PUT", path, {"encrypted_value": sealed, "key_id": key["key_id"]})

        status = "replace" if name in (known or set()) else "create"
        steps.append(Step(what, f"{status} (value not shown)", apply))
    return steps


def seal(public_key: str, value: str) -> str:
    """The value in a libsodium sealed box for the repository's key: what GitHub's secrets API takes."""
    from nacl import encoding, public

    key = public.PublicKey(public_key.encode(), encoding.Base64Encoder)
    return base64.b64encode(public.SealedBox(key).encrypt(value.encode())).decode()


def ruleset(needs: repo_needs.Needs) -> dict:
    """The default branch takes changes by pull request only, once the PR workflow's check passed."""
    return {
        "name": repo_state.RULESET,
        "target": "branch",
        "enforcement": "active",
        "conditions": {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
        "rules": [
            {"type": "deletion"},
            {"type": "non_fast_forward"},
            {
                "type": "pull_request",
                "parameters": {
                    "required_approving_review_count": 0,
                    "dismiss_stale_reviews_on_push": False,
                    "require_code_owner_review": False,
                    "require_last_push_approval": False,
                    "required_review_thread_resolution": False,
                },
            },
            {
                "type": "required_status_checks",
                "parameters": {
                    "strict_required_status_checks_policy": False,
                    "required_status_checks": [{"context": needs.required_check}],
                },
            },
        ],
    }


def _ruleset_step(github: GitHub, needs, state) -> Step:
    wanted = ruleset(needs)
    what = f"ruleset {wanted['name']!r}"
    detail = f'pull requests only, check "{needs.required_check}" required'
    current = state.ruleset
    if current is None:
        return Step(what, f"create: {detail}", lambda: github.request("POST", "/rulesets", wanted))
    if all(_covers(current.get(key), value) for key, value in wanted.items()):
        return Step(what, f"exists: {detail}")
    return Step(
        what, f"change: {detail}", lambda: github.request("PUT", f"/rulesets/{current['id']}", wanted)
    )


def _covers(found, wanted) -> bool:
    """`found` holds everything `wanted` says (GitHub adds fields of its own to what it returns)."""
    if isinstance(wanted, dict):
        return isinstance(found, dict) and all(_covers(found.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(found, list) and len(found) == len(wanted) and all(map(_covers, found, wanted))
    return found == wanted


def pull_requests_by_token(needs, variables: dict, secrets: set[str]) -> list[str]:
    """The workflows that would open pull requests with the workflow's GITHUB_TOKEN."""
    found = []
    workflows = {job.workflow for job in needs.jobs}
    for workflow, (app, token) in PULL_REQUEST_OPENERS.items():
        if workflow not in workflows or variables.get(app) or token in secrets:
            continue
        if workflow == "drift.yml" and variables.get("RETRAIN_ON_DRIFT") != "true":
            continue  # retraining is off: the drift workflow opens no pull request
        found.append(workflow)
    return found


def _workflow_permission_step(github: GitHub, needs, state, variables: dict, secrets: set[str]) -> Step:
    what = "Actions may open pull requests"
    users = pull_requests_by_token(needs, variables, secrets)
    current = state.workflow_permissions
    if current is None:
        return Step(what, f"cannot read it ({state.unreadable.get('workflow permissions', '')})")
    if not users:
        return Step(what, "not needed (no workflow opens pull requests with GITHUB_TOKEN)")
    if current.get("can_approve_pull_request_reviews"):
        return Step(what, f"exists (for {', '.join(users)})")
    body = {
        "default_workflow_permissions": current.get("default_workflow_permissions") or "read",
        "can_approve_pull_request_reviews": True,
    }
    return Step(
        what,
        f"enable (for {', '.join(users)})",
        lambda: github.request("PUT", "/actions/permissions/workflow", body),
    )


def _unknowns(needs, state, variables: dict, secrets: dict, reviewers: dict) -> list[str]:
    given = {name for _, name in secrets} | (state.secrets or set())
    unknown = []
    remote = needs.answers.get("dvc_remote")
    if needs.answers.get("cloud_credentials") == "oidc":
        known = {**(state.variables or {}), **variables}
        missing = [name for name in DVC_OIDC_VARIABLES.get(remote, ()) if name not in known]
        if missing:
            unknown.append(
                'the cloud identity for the DVC remote (README, "The DVC remote\'s credentials"): '
                + " ".join(f"--var {name}=..." for name in missing)
            )
    else:
        missing = [name for name in DVC_SECRETS.get(remote, ()) if name not in given]
        if missing:
            unknown.append(f"the DVC remote's credentials: --secret {' --secret '.join(missing)}")
    if "MLFLOW_TRACKING_URI" in {**(state.variables or {}), **variables} and not given & set(MLFLOW_SECRETS):
        unknown.append(
            "whether the tracking server needs credentials: --secret MLFLOW_TRACKING_USERNAME "
            "--secret MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)"
        )
    unset = sorted(needs.environments - set(reviewers))
    if unset:
        unknown.append(
            f"who approves jobs of {', '.join(unset)}: --reviewer ENV=LOGIN (none: they run unapproved)"
        )
    return unknown
