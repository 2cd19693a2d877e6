"""Git is the source of truth for the registry's environment aliases: `deploy aliases` sets the
MLflow alias of each environment (`staging`, `production`) to the model version its overlay names,
and removes it where the overlay names none. Run by the deploy workflow when an overlay change lands
on main, so `git revert` of a deployment moves the alias back. `champion` stays the gate's output.
"""

from .deploy_release import ENVIRONMENTS, path, read
from .errors import UserError
from .github import add_summary, set_outputs
from .registry import _alias, _locked, _version
from .tracking import connect, tracking_uri


def sync(params: dict) -> list[str]:
    """Make the aliases match the overlays; returns one line per environment saying what changed."""
    releases = [read(environment) for environment in ENVIRONMENTS]  # all readable before any write
    # An environment with no release runs no model: its alias is dropped on the model params.yaml
    # registers, whatever name the unreleased file was generated with.
    models = {r.environment: r.model if r.version else params["mlflow"]["registered_model"] for r in releases}
    client = connect(params).MlflowClient()
    lines = []
    for model in sorted(set(models.values())):
        wanted = {r.environment: r.version for r in releases if models[r.environment] == model}
        for env, version in wanted.items():  # a version the registry lacks stops it before any write
            try:
                version and _version(client, model, version)
            except UserError as exc:
                raise UserError(
                    f"{path(env)} names version {version} of {model}, which the registry at "
                    f"{tracking_uri(params)} does not have; correct the overlay by pull request."
                ) from exc
        with _locked(client, model, params, None) as held:
            now = {env: _alias(client, model, env) for env in wanted}
            now = {env: str(found.version) if found else None for env, found in now.items()}
            move = {env: v for env, v in wanted.items() if v and now[env] != v}
            drop = [env for env, v in wanted.items() if v is None and now[env] is not None]
            if move or drop:
                held.write("deploy-aliases", move, drop, {})
        for env, version in wanted.items():
            if now[env] == version:
                lines.append(f"{model}@{env}: version {version or 'none'}, unchanged")
            elif version is None:
                lines.append(f"{model}@{env}: removed (was version {now[env]}); the overlay names no release")
            else:
                lines.append(f"{model}@{env}: version {version} (was {now[env] or 'none'})")
    return lines


def run(params: dict) -> int:
    """The `deploy aliases` command."""
    lines = sync(params)
    print("\n".join(lines) + f"\n\nregistry: {tracking_uri(params)}")
    add_summary("**Registry aliases, from deploy/overlays:**\n\n" + "\n".join(f"- `{x}`" for x in lines))
    set_outputs(changed=str(any("unchanged" not in line for line in lines)).lower())
    return 0
