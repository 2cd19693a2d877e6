"""`ci-user`: the workflows' own user on a tracking server with MLflow's basic-auth (platform/).

Signed in as the server's admin, it creates the user with a generated password and grants it what
a release needs and no more: logging runs in the project's experiment (EDIT) and changing its
registered model's versions and aliases (MANAGE). It creates the experiment and the registered
model if they do not exist yet. Run again, it keeps the user's password (`--new-password` replaces
it) and sets the grants again, so it never fails on what an earlier run did.
"""

import argparse
import getpass
import os
import secrets
import shlex
import sys

from .errors import UserError
from .tracking import CLIENT_DEFAULTS, tracking_uri

ADMIN_PASSWORD = "MLFLOW_AUTH_ADMIN_PASSWORD"  # the server's own variable (platform/.env)
GRANTS = (("experiment", "EDIT"), ("registered_model", "MANAGE"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", default="ci", help="the workflows' user (default: %(default)s)")
    parser.add_argument("--admin", default="admin", help="the server's admin user (default: %(default)s)")
    parser.add_argument(
        "--tracking-uri",
        help="the server (default: MLFLOW_TRACKING_URI, else params.yaml mlflow.tracking_uri)",
    )
    parser.add_argument(
        "--new-password", action="store_true", help="replace the password of a user that exists"
    )


def admin_password(admin: str) -> str:
    if os.environ.get(ADMIN_PASSWORD):
        return os.environ[ADMIN_PASSWORD]
    if sys.stdin.isatty():
        return getpass.getpass(f"password of the tracking server's {admin}: ")
    raise UserError(
        f"no admin password: set {ADMIN_PASSWORD} (platform/.env has it), or run this in a terminal."
    )


def run(params: dict, args) -> int:
    uri = (args.tracking_uri or tracking_uri(params)).rstrip("/")
    if not uri.startswith(("http://", "https://")):
        raise UserError(
            f"{uri} is not a tracking server: give its address with --tracking-uri or MLFLOW_TRACKING_URI."
        )
    _sign_in(uri, args.admin, admin_password(args.admin))
    from mlflow.server import get_app_client

    auth = get_app_client("basic-auth", tracking_uri=uri)
    experiment, model = params["mlflow"]["experiment"], params["mlflow"]["registered_model"]
    action, password = _user(auth, args.user, args.new_password)
    for (kind, permission), resource in zip(GRANTS, _resources(uri, experiment, model), strict=True):
        _grant(auth, args.user, kind, resource, permission)
    print(
        f"{action} user {args.user} on {uri}: EDIT on experiment {experiment} (its runs), "
        f"MANAGE on registered model {model} (its versions and aliases), nothing else."
    )
    if password is None:
        print("The workflows' secrets keep working; `--new-password` makes a new password to store.")
        return 0
    setup = (
        f"--var MLFLOW_TRACKING_URI={uri} --secret MLFLOW_TRACKING_USERNAME --secret MLFLOW_TRACKING_PASSWORD"
    )
    if action != "created":
        setup += " --overwrite-secrets"
    credentials = (
        f"MLFLOW_TRACKING_USERNAME={shlex.quote(args.user)} MLFLOW_TRACKING_PASSWORD={shlex.quote(password)}"
    )
    print("Store it as the workflows' secrets (the password is shown only this once):")
    print(f"  {credentials} make github-setup ARGS={shlex.quote(setup)}")
    return 0


def _user(auth, user: str, new_password: bool) -> tuple[str, str | None]:
    """(what was done, the new password or None): created, or an existing one's password kept or replaced."""
    from mlflow.exceptions import MlflowException

    password = secrets.token_urlsafe(24)
    try:
        auth.get_user(user)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        auth.create_user(user, password)
        return "created", password
    if not new_password:
        return "kept the password of", None
    auth.update_user_password(user, password)
    return "replaced the password of", password


def _resources(uri: str, experiment: str, model: str) -> tuple[str, str]:
    """The experiment's id and the registered model's name, each created if it does not exist yet."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    try:
        client.create_registered_model(model)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    return experiment_id, model


def _sign_in(uri: str, admin: str, password: str) -> None:
    """Every later call as the admin; wrong credentials said in one sentence, not as MLflow's 401."""
    import requests

    for name, value in CLIENT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    os.environ.pop("MLFLOW_TRACKING_TOKEN", None)  # a bearer token would be sent instead of the admin's
    os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = admin, password
    try:
        answer = requests.get(
            f"{uri}/api/2.0/mlflow/users/get",
            params={"username": admin},
            auth=(admin, password),
            timeout=float(os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"]),
        )
    except requests.RequestException as exc:
        raise UserError(f"cannot reach the tracking server at {uri} ({exc.__class__.__name__}).") from exc
    if answer.status_code == 401:
        raise UserError(
            f"the tracking server at {uri} refused {admin} and this password: give the admin's "
            f"({ADMIN_PASSWORD} in platform/.env, or --admin for another admin)."
        )
    if answer.status_code == 404:
        raise UserError(f"the tracking server at {uri} has no users: start it with `--app-name basic-auth`.")
    answer.raise_for_status()
    if not answer.json().get("user", {}).get("is_admin"):
        raise UserError(f"{admin} is not an admin of the tracking server at {uri}; sign in as one (--admin).")


def _grant(auth, user: str, kind: str, resource: str, permission: str) -> None:
    """Grant `permission`, replacing another one an earlier run or an admin gave."""
    from mlflow.exceptions import MlflowException

    try:
        auth.grant_user_permission(user, kind, resource, permission)
        return
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    if auth.get_user_permission(user, kind, resource).permission != permission:
        auth.revoke_user_permission(user, kind, resource)
        auth.grant_user_permission(user, kind, resource, permission)
