"""Write the excerpt of GitHub's REST API description that the API stand-in checks requests against.

Source: GitHub's published description (github/rest-api-description), as the npm package
@octokit/openapi ships it, dereferenced: `generated/api.github.com.deref.json` (MIT). Only the
operations the generated repository calls are kept: their path, method, operation id, parameters and
JSON request body schema. To refresh it:

    npm pack @octokit/openapi && tar xzf octokit-openapi-*.tgz
    uv run python tests/standins/github-rest/extract.py package/generated/api.github.com.deref.json
"""

import json
import sys
from pathlib import Path

OPERATIONS = [
    # what `github setup` and `github doctor` call
    "users/get-authenticated",
    "users/get-by-username",
    "repos/get",
    "repos/create-for-authenticated-user",
    "repos/create-in-org",
    "actions/list-repo-variables",
    "actions/create-repo-variable",
    "actions/update-repo-variable",
    "actions/list-repo-secrets",
    "actions/get-repo-public-key",
    "actions/create-or-update-repo-secret",
    "actions/list-environment-secrets",
    "actions/get-environment-public-key",
    "actions/create-or-update-environment-secret",
    "repos/get-all-environments",
    "repos/create-or-update-environment",
    "repos/list-deployment-branch-policies",
    "repos/create-deployment-branch-policy",
    "repos/get-repo-rulesets",
    "repos/get-repo-ruleset",
    "repos/create-repo-ruleset",
    "repos/update-repo-ruleset",
    "repos/get-branch-rules",
    "actions/get-github-actions-default-workflow-permissions-repository",
    "actions/set-github-actions-default-workflow-permissions-repository",
    "issues/get-label",
    "issues/create-label",
    # what the workflows' own steps call
    "issues/list-comments",
    "issues/create-comment",
    "issues/update-comment",
    "issues/list-for-repo",
    "issues/create",
    "issues/update",
    "pulls/list",
    "pulls/create",
    "pulls/update",
    "repos/list-pull-requests-associated-with-commit",
]


def excerpt(description: dict) -> dict:
    found = {}
    for path, item in description["paths"].items():
        for method, op in item.items():
            if method == "parameters" or op.get("operationId") not in OPERATIONS:
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            found[op["operationId"]] = {
                "method": method.upper(),
                "path": path,
                "parameters": [
                    {k: p[k] for k in ("name", "in", "required", "schema") if k in p}
                    for p in [*item.get("parameters", []), *op.get("parameters", [])]
                ],
                "requestBody": body.get("schema"),
                "bodyRequired": op.get("requestBody", {}).get("required", False),
            }
    missing = sorted(set(OPERATIONS) - set(found))
    if missing:
        sys.exit(f"not in the description: {', '.join(missing)}")
    return {
        "source": "@octokit/openapi "
        + description["info"]["version"]
        + ": generated/api.github.com.deref.json (GitHub's github/rest-api-description, MIT)",
        "operations": [found[name] | {"operationId": name} for name in OPERATIONS],
    }


if __name__ == "__main__":
    out = Path(__file__).with_name("api.github.com.excerpt.json")
    out.write_text(json.dumps(excerpt(json.loads(Path(sys.argv[1]).read_text())), indent=1) + "\n")
    print(f"wrote {out}")
