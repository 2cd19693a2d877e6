"""What a GitHub repository's settings hold, as far as the token may read them: the part of the
repository's configuration that `github setup` writes and `github doctor` checks."""

import json
import os
import urllib.parse
from dataclasses import dataclass, field

from .errors import UserError
from .github import GitHub

RULESET = "main needs the pull request check"  # the ruleset `github setup` keeps


@dataclass
class Environment:
    reviewers: list[dict]  # {"type": "User"|"Team", "id": ...}
    branches: set[str] | None  # None: any branch may deploy


@dataclass
class State:
    exists: bool
    default_branch: str = "main"
    variables: dict[str, str] | None = None  # None: the token may not read it (see `unreadable`)
    secrets: set[str] | None = None
    environments: dict[str, Environment] | None = None
    environment_secrets: dict[str, set[str] | None] = field(default_factory=dict)
    ruleset: dict | None = None  # ours, in full; None: not there
    branch_rules: list[dict] | None = None  # the rules in force on the default branch, from any ruleset
    workflow_permissions: dict | None = None
    labels: set[str] | None = None
    unreadable: dict[str, str] = field(default_factory=dict)  # what -> why not

    @property
    def required_checks(self) -> set[str] | None:
        if self.branch_rules is None:
            return None
        return {
            check["context"]
            for rule in self.branch_rules
            if rule.get("type") == "required_status_checks"
            for check in rule.get("parameters", {}).get("required_status_checks", [])
        }

    def has_secret(self, name: str, environment: str | None = None) -> bool | None:
        """Set for the repository, or for the environment; None when neither could be read."""
        known = [self.secrets, self.environment_secrets.get(environment) if environment else None]
        if any(name in names for names in known if names is not None):
            return True
        return None if self.secrets is None else False


def read(github: GitHub, labels: tuple[str, ...] = ()) -> State:
    repo = github.request("GET", "", accept=(404,))
    if repo is None:
        return State(  # what GitHub gives a new repository
            exists=False,
            variables={},
            secrets=set(),
            environments={},
            branch_rules=[],
            workflow_permissions={
                "default_workflow_permissions": "read",
                "can_approve_pull_request_reviews": False,
            },
            labels=set(),
        )
    state = State(exists=True, default_branch=repo.get("default_branch") or "main")

    def attempt(what: str, read_it):
        try:
            return read_it()
        except UserError as error:
            state.unreadable[what] = str(error)
            return None

    state.variables = attempt("variables", lambda: _variables(github))
    if state.variables is None and os.environ.get("ACTIONS_VARIABLES"):
        state.variables = json.loads(os.environ["ACTIONS_VARIABLES"])  # a workflow's `toJSON(vars)`
        state.unreadable.pop("variables")
    state.secrets = attempt("secrets", lambda: _names(github, "/actions/secrets", "secrets"))
    state.environments = attempt("environments", lambda: _environments(github))
    for name in state.environments or {}:
        state.environment_secrets[name] = attempt(
            f"secrets of the environment {name}",
            lambda name=name: _names(github, f"/environments/{_quote(name)}/secrets", "secrets"),
        )
    state.ruleset = attempt("rulesets", lambda: _ruleset(github))
    branch = _quote(state.default_branch)
    state.branch_rules = attempt("branch rules", lambda: github.list(f"/rules/branches/{branch}"))
    state.workflow_permissions = attempt(
        "workflow permissions", lambda: github.request("GET", "/actions/permissions/workflow")
    )
    state.labels = attempt(
        "labels",
        lambda: {
            label
            for label in labels
            if github.request("GET", f"/labels/{_quote(label)}", accept=(404,)) is not None
        },
    )
    return state


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _variables(github: GitHub) -> dict[str, str]:
    found = github.list("/actions/variables", key="variables")
    return {item["name"]: item["value"] for item in found}


def _names(github: GitHub, path: str, key: str) -> set[str]:
    return {item["name"] for item in github.list(path, key=key)}


def _environments(github: GitHub) -> dict[str, Environment]:
    found = {}
    for env in github.list("/environments", key="environments"):
        reviewers = [
            {"type": r["type"], "id": r["reviewer"]["id"]}
            for rule in env.get("protection_rules") or []
            if rule.get("type") == "required_reviewers"
            for r in rule.get("reviewers") or []
        ]
        policy = env.get("deployment_branch_policy")
        branches = None  # any branch
        if policy and policy.get("protected_branches"):
            branches = {"(protected branches)"}
        elif policy and policy.get("custom_branch_policies"):
            path = f"/environments/{_quote(env['name'])}/deployment-branch-policies"
            branches = {p["name"] for p in github.list(path, key="branch_policies")}
        found[env["name"]] = Environment(reviewers, branches)
    return found


def _ruleset(github: GitHub) -> dict | None:
    for item in github.list("/rulesets"):
        if item.get("name") == RULESET:
            return github.request("GET", f"/rulesets/{item['id']}")
    return None
