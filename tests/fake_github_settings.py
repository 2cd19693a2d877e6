"""The repository settings part of the GitHub REST API stand-in (tests/fake_github.py): repository
creation, Actions variables and secrets, deployment environments, rulesets, the workflow permission
and users. Secrets must arrive as sealed boxes for the repository's (or environment's) public key:
the stand-in opens them with its private key and keeps the plain values for tests to compare."""

import base64
import itertools
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from nacl import encoding, exceptions, public

# The permission a fine-grained token needs for each kind of call, as GitHub names it in the
# X-Accepted-GitHub-Permissions header of a 403.
PERMISSIONS = {
    "variables": "variables",
    "secrets": "secrets",
    "environments": "administration",
    "rulesets": "administration",
    "workflow": "administration",
}


class Sealed:
    """A libsodium key pair: GitHub's public key for a repository's or an environment's secrets."""

    _ids = itertools.count(568250167242549743)

    def __init__(self):
        self.private = public.PrivateKey.generate()
        self.key_id = str(next(self._ids))

    def public_key(self) -> dict:
        return {"key_id": self.key_id, "key": self.private.public_key.encode(encoding.Base64Encoder).decode()}

    def open(self, sealed: str) -> str:
        return public.SealedBox(self.private).decrypt(base64.b64decode(sealed)).decode()


@dataclass
class Settings:
    variables: dict = field(default_factory=dict)  # name -> value
    secrets: dict = field(default_factory=dict)  # name -> plain value (after opening the sealed box)
    key: Sealed = field(default_factory=Sealed)
    environments: dict = field(default_factory=dict)  # name -> dict (GitHub's shape + "secrets", "key")
    rulesets: dict = field(default_factory=dict)  # id -> ruleset
    workflow_permissions: dict = field(
        default_factory=lambda: {
            "default_workflow_permissions": "read",
            "can_approve_pull_request_reviews": False,
        }
    )


class SettingsRoutes:
    """Mixed into FakeGitHub: `self.settings(full_name)`, `self.users`, `self.login`, `self.denied`."""

    def _settings_init(self, git_root: Path | None, login: str) -> None:
        self.git_root = git_root  # where created repositories get a bare git repository to push to
        self.login = login  # the token's user
        self.users = {login: 1}  # login -> id
        self.denied: set[str] = set()  # permissions (PERMISSIONS values) the token lacks
        self.created: dict[str, dict] = {}  # full name -> repository
        self._settings: dict[str, Settings] = {}
        self._rule_ids = itertools.count(42)

    def settings(self, full_name: str) -> Settings:
        return self._settings.setdefault(full_name, Settings())

    def writes(self) -> list:
        return [r for r in self.requests if r.method != "GET"]

    def _root_routes(self):
        return [
            ("GET", r"/user", self._get_user),
            ("GET", r"/users/([^/]+)", self._get_named_user),
            ("POST", r"/user/repos", self._create_repo),
            ("POST", r"/orgs/([^/]+)/repos", self._create_org_repo),
        ]

    def _settings_routes(self):
        return [
            ("GET", r"/actions/variables", "variables", self._list_variables),
            ("POST", r"/actions/variables", "variables", self._create_variable),
            ("PATCH", r"/actions/variables/([^/]+)", "variables", self._update_variable),
            ("GET", r"/actions/secrets", "secrets", self._list_secrets),
            ("GET", r"/actions/secrets/public-key", "secrets", self._public_key),
            ("PUT", r"/actions/secrets/([^/]+)", "secrets", self._put_secret),
            ("GET", r"/environments", None, self._list_environments),
            ("PUT", r"/environments/([^/]+)", "environments", self._put_environment),
            ("GET", r"/environments/([^/]+)/secrets", "secrets", self._list_secrets),
            ("GET", r"/environments/([^/]+)/secrets/public-key", "secrets", self._public_key),
            ("PUT", r"/environments/([^/]+)/secrets/([^/]+)", "secrets", self._put_secret),
            ("GET", r"/environments/([^/]+)/deployment-branch-policies", None, self._list_branch_policies),
            (
                "POST",
                r"/environments/([^/]+)/deployment-branch-policies",
                "environments",
                self._add_branch_policy,
            ),
            ("GET", r"/rulesets", None, self._list_rulesets),
            ("GET", r"/rulesets/(\d+)", None, self._get_ruleset),
            ("POST", r"/rulesets", "rulesets", self._create_ruleset),
            ("PUT", r"/rulesets/(\d+)", "rulesets", self._update_ruleset),
            ("GET", r"/rules/branches/([^/]+)", None, self._branch_rules),
            ("GET", r"/actions/permissions/workflow", "workflow", self._get_workflow_permissions),
            ("PUT", r"/actions/permissions/workflow", "workflow", self._put_workflow_permissions),
        ]

    def _denied(self, kind: str | None, method: str):
        permission = PERMISSIONS.get(kind or "")
        if permission in self.denied:
            level = "read" if method == "GET" else "write"
            return (
                403,
                {"message": "Resource not accessible by personal access token"},
                {"X-Accepted-GitHub-Permissions": f"{permission}={level}"},
            )
        return None

    # Users and repositories.
    def _get_user(self, request):
        return 200, {"login": self.login, "id": self.users[self.login], "type": "User"}

    def _get_named_user(self, request, login):
        login = unquote(login)
        if login not in self.users:
            return 404, {"message": "Not Found"}
        return 200, {"login": login, "id": self.users[login], "type": "User"}

    def _create_repo(self, request):
        return self._new_repo(self.login, request.body)

    def _create_org_repo(self, request, org):
        return self._new_repo(unquote(org), request.body)

    def _new_repo(self, owner: str, body: dict):
        full_name = f"{owner}/{body['name']}"
        if full_name in self.created:
            return 422, {
                "message": "Repository creation failed.",
                "errors": [
                    {"field": "name", "code": "custom", "message": "name already exists on this account"}
                ],
            }
        clone_url = f"https://github.com/{full_name}.git"
        if self.git_root:
            bare = self.git_root / owner / f"{body['name']}.git"
            subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
            clone_url = bare.as_uri()
        self.created[full_name] = {"private": body.get("private", False), "clone_url": clone_url}
        return 201, self._repo_json(full_name)

    # Variables and secrets.
    def _list_variables(self, full_name, request):
        items = [{"name": k, "value": v} for k, v in sorted(self.settings(full_name).variables.items())]
        page = self._page(items, request.query)
        return 200, {"total_count": len(items), "variables": page}

    def _create_variable(self, full_name, request):
        variables = self.settings(full_name).variables
        if request.body["name"] in variables:
            return 409, {"message": "Already exists - Variable already exists"}
        variables[request.body["name"]] = request.body["value"]
        return 201, {}

    def _update_variable(self, full_name, request, name):
        variables = self.settings(full_name).variables
        if unquote(name) not in variables:
            return 404, {"message": "Not Found"}
        variables[unquote(name)] = request.body["value"]
        return 204, b""

    def _scope(self, full_name: str, environment: str | None):
        """(the secrets, the key pair) of the repository or of one of its environments."""
        if environment is None:
            settings = self.settings(full_name)
            return settings.secrets, settings.key
        env = self.settings(full_name).environments.get(unquote(environment))
        return (env["secrets"], env["key"]) if env else (None, None)

    def _list_secrets(self, full_name, request, environment=None):
        secrets, _ = self._scope(full_name, environment)
        if secrets is None:
            return 404, {"message": "Not Found"}
        items = [
            {"name": name, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}
            for name in sorted(secrets)
        ]
        return 200, {"total_count": len(items), "secrets": self._page(items, request.query)}

    def _public_key(self, full_name, request, environment=None):
        _, key = self._scope(full_name, environment)
        return (200, key.public_key()) if key else (404, {"message": "Not Found"})

    def _put_secret(self, full_name, request, *names):
        environment, name = (None, names[0]) if len(names) == 1 else names
        secrets, key = self._scope(full_name, environment)
        if secrets is None:
            return 404, {"message": "Not Found"}
        if request.body["key_id"] != key.key_id:
            return 422, {"message": "Bad request - key_id does not match the public key"}
        try:
            value = key.open(request.body["encrypted_value"])
        except (exceptions.CryptoError, ValueError):
            return 422, {"message": "Bad request - could not decrypt encrypted_value"}
        existed = name in secrets
        secrets[name] = value
        return (204, b"") if existed else (201, {})

    # Environments.
    def _environment_json(self, name: str, env: dict) -> dict:
        rules = []
        if env["reviewers"]:
            rules.append(
                {
                    "id": 1,
                    "type": "required_reviewers",
                    "reviewers": [
                        {"type": r["type"], "reviewer": {"id": r["id"], "login": self._login_of(r["id"])}}
                        for r in env["reviewers"]
                    ],
                }
            )
        if env["deployment_branch_policy"]:
            rules.append({"id": 2, "type": "branch_policy"})
        return {
            "id": 1,
            "name": name,
            "protection_rules": rules,
            "deployment_branch_policy": env["deployment_branch_policy"],
        }

    def _login_of(self, user_id: int) -> str:
        return next(login for login, i in self.users.items() if i == user_id)

    def _list_environments(self, full_name, request):
        envs = self.settings(full_name).environments
        items = [self._environment_json(n, e) for n, e in sorted(envs.items())]
        return 200, {"total_count": len(items), "environments": self._page(items, request.query)}

    def _put_environment(self, full_name, request, name):
        body = request.body or {}
        reviewers = body.get("reviewers") or []
        unknown = [r["id"] for r in reviewers if r["id"] not in self.users.values()]
        if unknown:
            return 422, {
                "message": f"Validation Failed: reviewer {unknown[0]} is not a user of this repository"
            }
        envs = self.settings(full_name).environments
        env = envs.setdefault(unquote(name), {"secrets": {}, "key": Sealed(), "branch_policies": []})
        env["reviewers"] = reviewers
        env["deployment_branch_policy"] = body.get("deployment_branch_policy")
        return 200, self._environment_json(unquote(name), env)

    def _list_branch_policies(self, full_name, request, name):
        env = self.settings(full_name).environments.get(unquote(name))
        if not env:
            return 404, {"message": "Not Found"}
        return 200, {"total_count": len(env["branch_policies"]), "branch_policies": env["branch_policies"]}

    def _add_branch_policy(self, full_name, request, name):
        env = self.settings(full_name).environments.get(unquote(name))
        policy = (env or {}).get("deployment_branch_policy") or {}
        if not policy.get("custom_branch_policies"):
            return 404, {"message": "Not Found"}  # GitHub's answer without custom branch policies
        if any(p["name"] == request.body["name"] for p in env["branch_policies"]):
            return 303, {"message": "A policy with this name already exists"}
        item = {
            "id": len(env["branch_policies"]) + 1,
            "name": request.body["name"],
            "type": request.body.get("type", "branch"),
        }
        env["branch_policies"].append(item)
        return 200, item

    # Rulesets.
    def _list_rulesets(self, full_name, request):
        items = [
            {"id": i, "name": r["name"], "target": r["target"], "enforcement": r["enforcement"]}
            for i, r in self.settings(full_name).rulesets.items()
        ]
        return 200, self._page(items, request.query)

    def _get_ruleset(self, full_name, request, ruleset_id):
        ruleset = self.settings(full_name).rulesets.get(int(ruleset_id))
        return (200, ruleset) if ruleset else (404, {"message": "Not Found"})

    def _create_ruleset(self, full_name, request):
        rulesets = self.settings(full_name).rulesets
        if any(r["name"] == request.body["name"] for r in rulesets.values()):
            return 422, {"message": "Validation Failed", "errors": ["Name must be unique"]}
        ruleset_id = next(self._rule_ids)
        rulesets[ruleset_id] = {
            **request.body,
            "id": ruleset_id,
            "source_type": "Repository",
            "source": full_name,
        }
        return 201, rulesets[ruleset_id]

    def _update_ruleset(self, full_name, request, ruleset_id):
        rulesets = self.settings(full_name).rulesets
        if int(ruleset_id) not in rulesets:
            return 404, {"message": "Not Found"}
        rulesets[int(ruleset_id)].update(request.body)
        return 200, rulesets[int(ruleset_id)]

    def _branch_rules(self, full_name, request, branch):
        rules = [
            {**rule, "ruleset_source_type": "Repository", "ruleset_source": full_name, "ruleset_id": i}
            for i, ruleset in self.settings(full_name).rulesets.items()
            if ruleset.get("enforcement") == "active"
            and ruleset.get("conditions", {}).get("ref_name", {}).get("include")
            in (["~DEFAULT_BRANCH"], [f"refs/heads/{unquote(branch)}"])
            for rule in ruleset.get("rules", [])
        ]
        return 200, self._page(rules, request.query)

    # The workflow permission.
    def _get_workflow_permissions(self, full_name, request):
        return 200, dict(self.settings(full_name).workflow_permissions)

    def _put_workflow_permissions(self, full_name, request):
        self.settings(full_name).workflow_permissions.update(request.body)
        return 204, b""
