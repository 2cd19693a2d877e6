"""The deployment pull requests: `deploy stage` proposes the image main.yml just pushed for
staging, `deploy promote` proposes staging's release for production. Each writes the environment's
release component (deploy_release.py) on top of the base branch as it is now and pushes it to a
branch of its own, `deploy/<environment>`, with ONE pull request from it, updated by later runs
(see proposal.py). Staging may instead be committed straight to the base branch (`--direct`).
"""

import os
import re

from .deploy_release import Release, check_image, read, write
from .errors import UserError
from .github import GitHub, add_summary, run_url, set_outputs
from .proposal import GITHUB_TOKEN_NOTE, TOKEN_KIND_HELP, TOKEN_KINDS, commit_on_latest, open_or_update

VERSION = re.compile(r"[1-9][0-9]*")
WORKFLOW = {"staging": ".github/workflows/main.yml", "production": ".github/workflows/production.yml"}


def add_arguments(stage, promote) -> None:
    for parser in (stage, promote):
        parser.add_argument(
            "--base",
            default=os.environ.get("GITHUB_REF_NAME") or "main",
            help="branch the deployment is proposed to (default: $GITHUB_REF_NAME, else main)",
        )
        parser.add_argument("--remote", default="origin", help="git remote to push to (default: %(default)s)")
        parser.add_argument("--token-kind", choices=TOKEN_KINDS, default="github", help=TOKEN_KIND_HELP)
    stage.add_argument("--image", required=True, help="the image name, without tag: what main.yml pushed")
    stage.add_argument("--digest", required=True, help="the pushed image's digest, sha256:...")
    stage.add_argument("--model-version", required=True, help="the MLflow model version the image serves")
    stage.add_argument("--attestation", default="", help="URL of the image's build provenance attestation")
    stage.add_argument(
        "--direct",
        action="store_true",
        help="commit to the base branch instead of opening a pull request (needs a token allowed to)",
    )
    promote.add_argument("--reason", default="", help="why, for the pull request's description")


def provenance(release: Release, attestation: str) -> str:
    repository = os.environ.get("GITHUB_REPOSITORY", "OWNER/REPO")
    found = f"[its build provenance is attested]({attestation}); " if attestation else ""
    return (
        f"**Provenance:** {found}check that this repository's workflow built the image before you "
        "approve:\n\n"
        f"```\ngh attestation verify oci://{release.reference} -R {repository}\n```\n"
    )


def table(old: Release, new: Release, metrics: dict[str, dict[str, str]] | None = None) -> str:
    rows = [
        ("model version", old.version or "none", new.version),
        ("image", f"`{old.reference}`", f"`{new.reference}`"),
    ]
    for metric, values in sorted((metrics or {}).items()):
        rows.append((metric, values.get(old.version or "", "-"), values.get(new.version, "-")))
    lines = [f"| {new.environment} | now | proposed |", "| --- | --- | --- |"]
    return "\n".join(lines + [f"| {a} | {b} | {c} |" for a, b, c in rows]) + "\n"


def propose(environment: str, build, describe, args) -> int:
    """Write `build(current)` as `environment`'s release on the base as it is now, commit it to
    deploy/<environment> (or to the base) and open or update its pull request, described by
    `describe(current, new)`."""
    github = GitHub()  # checks the token and repository before anything is pushed
    branch = args.base if getattr(args, "direct", False) else f"deploy/{environment}"
    found: dict[str, Release] = {}

    def change() -> tuple[list[str], list[str]]:
        found["old"] = read(environment)
        found["new"] = build(found["old"])
        return [write(found["new"])], [title(found["new"])]

    commit = commit_on_latest(change, args.base, branch, args.remote, github.token)
    old, new = found["old"], found["new"]
    if commit is None:
        line = f"{environment} already runs model version {new.version} (`{new.reference}`) on {args.base}"
        print(line)
        add_summary(f"**Deployment:** {line}; nothing to propose.")
        set_outputs(proposed="false")
        return 0
    if branch == args.base:
        line = f"committed {environment}'s release to {args.base} at {commit[:7]}"
        print(line)
        add_summary(f"**Deployment:** {line}: model version {new.version}, `{new.reference}`.")
        set_outputs(proposed="true", commit=commit)
        return 0
    text = describe(old, new)
    if args.token_kind == "github":
        text += "\n" + GITHUB_TOKEN_NOTE.format(workflow=WORKFLOW[environment])
    hint = f"configure the GitHub App or token described in {WORKFLOW[environment]}"
    action, pull = open_or_update(github, branch, args.base, title(new), text, hint)
    url = pull.get("html_url", "")
    what = f"deploying model version {new.version} to {environment}"
    print(f"{action} pull request #{pull['number']} ({url}) {what}")
    add_summary(f"**Deployment:** [{action} pull request #{pull['number']}]({url}) {what}.")
    set_outputs(proposed="true", pull=pull["number"], url=url)
    return 0


def title(release: Release) -> str:
    return f"Deploy model version {release.version} to {release.environment}"


def stage(params: dict, args) -> int:
    """The `deploy stage` command: propose the image main.yml pushed for staging."""
    check_image(args.image, args.digest)
    if not VERSION.fullmatch(args.model_version):
        raise UserError(
            f"--model-version {args.model_version!r} is not an MLflow model version (a number); pass the "
            "version the release registered."
        )
    model = params["mlflow"]["registered_model"]

    def describe(old: Release, new: Release) -> str:
        run = run_url()
        return "\n".join(
            [
                f"## Deploy model version {new.version} to staging\n",
                f"main.yml released model version {new.version} of `{new.model}` and pushed its image"
                + (f" in [this run]({run})." if run else ".")
                + " Merging this pull request deploys it to staging: the controller syncs "
                "`deploy/overlays/staging`, and the deploy workflow moves the registry's alias `staging`.\n",
                table(old, new),
                provenance(new, args.attestation),
                "Later releases update this pull request while it is open.",
            ]
        )

    return propose(
        "staging", lambda old: old.runs(args.image, args.digest, model, args.model_version), describe, args
    )


def registry_metrics(params: dict, name: str, versions: list[str]) -> tuple[dict[str, dict[str, str]], str]:
    """{metric: {version: value}} from the registry tags of versions of `name`, or ({}, why not)."""
    from .tracking import connect

    try:
        client = connect(params).MlflowClient()
        metrics: dict[str, dict[str, str]] = {}
        for version in versions:
            for key, value in client.get_model_version(name, version).tags.items():
                if key.startswith("metric."):
                    metrics.setdefault(key.removeprefix("metric."), {})[version] = value
        return metrics, ""
    except Exception as exc:  # the pull request still helps without them; it says why they are missing
        why = (str(exc).splitlines() or [type(exc).__name__])[0].rstrip(".")
        return {}, f"The registry's metrics are not shown: {why}."


def released_staging() -> Release:
    staging = read("staging")
    if not staging.released:
        raise UserError(
            "staging runs no release yet (deploy/overlays/staging/release has no digest): merge the "
            "staging pull request of a release first."
        )
    return staging


def promote(params: dict, args) -> int:
    """The `deploy promote` command: propose staging's release for production."""
    read("production")  # a broken file, or a staging with no release yet, stops it before any fetch
    released_staging()

    def build(production: Release) -> Release:
        staging = released_staging()  # as the base has it now
        return production.runs(staging.image, staging.digest, staging.model, staging.version)

    def describe(production: Release, new: Release) -> str:
        versions = [v for v in (production.version, new.version) if v]
        metrics, missing = registry_metrics(params, new.model, versions)
        run = run_url()
        return "\n".join(
            part
            for part in [
                f"## Deploy model version {new.version} to production\n",
                f"> {args.reason}\n" if args.reason else "",
                "This copies staging's release into `deploy/overlays/production`"
                + (f" ([run]({run}))" if run else "")
                + ". Merging it deploys it: the controller syncs the overlay, and the deploy workflow "
                "moves the registry's alias `production`. To roll back, revert the merge.\n",
                table(production, new, metrics),
                missing,
                provenance(new, ""),
            ]
            if part
        )

    return propose("production", build, describe, args)
