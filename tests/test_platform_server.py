"""The team's tracking server of platform/, run for real: `mlflow server` with the Dockerfile's command
and environment, basic-auth as platform/basic_auth.ini configures it, runs, registry and users in a
real PostgreSQL (pgserver), artifacts proxied to a real S3-compatible server (moto).

The project's `ci-user` creates the workflows' user as the admin; with that user's credentials the
project goes through its release history (tests/registry_history.py), builds its Bento and writes
its pull-request report, whose MLflow link must open on this server.
"""

import json
import re
import shlex
import shutil
import tempfile
import urllib.parse
from pathlib import Path

import pgserver
import pytest

from .conftest import bake, clean_env
from .registry_history import release_history
from .servers import S3_CREDENTIALS, Server, free_port, http, mlflow_command, s3_bucket, s3_keys, s3_server

pytestmark = pytest.mark.slow

BUCKET = "mlflow-artifacts"
ADMIN_PASSWORD = "admin-password-of-the-test"


def dockerfile_server(platform: Path) -> tuple[list[str], dict[str, str]]:
    """The command (CMD) and environment (ENV) platform/Dockerfile gives the server."""
    text = platform.joinpath("Dockerfile").read_text()
    (cmd,) = re.findall(r"^CMD (\[.*\])$", text, flags=re.MULTILINE)
    env = dict(re.findall(r"^ENV (\w+)=(\S+)$", text, flags=re.MULTILINE))
    return json.loads(cmd), env


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    work = tmp_path_factory.mktemp("platform")
    project = bake(work, project_name="platform demo")
    project.run("uv", "sync", "--quiet")
    version = project.run(
        "uv", "run", "python", "-c", "import mlflow; print(mlflow.__version__)"
    ).stdout.strip()
    requirements = project.path / "platform/requirements.txt"
    # What the Dockerfile adds to MLflow's image, into the project's environment.
    python = str(project.path / ".venv/bin/python")
    project.run(
        "uv",
        "pip",
        "install",
        "--quiet",
        "--python",
        python,
        f"mlflow[auth]=={version}",
        "-r",
        str(requirements),
    )
    # PostgreSQL runs as its own user, which must reach its data directory: not under pytest's 0700 tree.
    pg_dir = Path(tempfile.mkdtemp(prefix="platform-pg-"))
    pg_dir.chmod(0o755)
    database = pgserver.get_server(pg_dir / "data", cleanup_mode="stop")
    servers = []
    try:
        socket_dir = urllib.parse.parse_qs(urllib.parse.urlsplit(database.get_uri()).query)["host"][0]
        s3, endpoint = s3_server(work)
        servers.append(s3)
        s3_bucket(endpoint, BUCKET)
        command, image_env = dockerfile_server(project.path / "platform")
        port = free_port()
        uri = f"http://127.0.0.1:{port}"
        env = clean_env(
            **{**image_env, "MLFLOW_AUTH_CONFIG_PATH": str(project.path / "platform/basic_auth.ini")},
            **S3_CREDENTIALS,
            PGHOST=socket_dir, PGUSER="postgres", PGDATABASE="postgres",
            MLFLOW_ARTIFACTS_DESTINATION=f"s3://{BUCKET}",
            MLFLOW_S3_ENDPOINT_URL=endpoint,
            MLFLOW_AUTH_ADMIN_PASSWORD=ADMIN_PASSWORD,
            MLFLOW_FLASK_SERVER_SECRET_KEY="csrf-key-of-the-test",
        )  # fmt: skip
        assert command[:2] == ["mlflow", "server"]
        command = mlflow_command(project.path, command[2:], port)  # the image's, on loopback
        server = Server(command, cwd=work, env=env, log=work / "mlflow-server.log", ready_url=f"{uri}/health")
        servers.append(server)
        server.wait()
        yield {"project": project, "uri": uri, "endpoint": endpoint, "database": database, "work": work}
    finally:
        for server in reversed(servers):
            server.stop()
        database.cleanup()
        shutil.rmtree(pg_dir, ignore_errors=True)


def ci_user(platform, *args: str, password: str = ADMIN_PASSWORD, check: bool = True):
    project = platform["project"]
    return project.run(
        "uv", "run", project.package, "ci-user", *args, check=check,
        MLFLOW_TRACKING_URI=platform["uri"], MLFLOW_AUTH_ADMIN_PASSWORD=password,
    )  # fmt: skip


def store_line(output: str) -> tuple[dict[str, str], list[str]]:
    """The credentials on the line `ci-user` prints to store them, and that line's words."""
    (line,) = (line for line in output.splitlines() if "make github-setup" in line)
    words = shlex.split(line)
    return dict(word.split("=", 1) for word in words[:2]), words


@pytest.fixture(scope="module")
def credentials(platform) -> dict[str, str]:
    """The CI user's credentials, from the line `ci-user` prints to store them."""
    created = ci_user(platform).stdout
    found, words = store_line(created)
    line = " ".join(words)
    assert set(found) == {"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"}, line
    assert words[2:4] == ["make", "github-setup"], line
    assert f"--var MLFLOW_TRACKING_URI={platform['uri']}" in words[4], line
    return {**found, "created": created}


@pytest.fixture(scope="module")
def history(platform, credentials):
    creds = {k: v for k, v in credentials.items() if k.startswith("MLFLOW_")}
    return release_history(platform["project"], platform["uri"], **creds)


def auth_of(credentials) -> tuple[str, str]:
    return credentials["MLFLOW_TRACKING_USERNAME"], credentials["MLFLOW_TRACKING_PASSWORD"]


def test_ci_user_is_created_once_and_running_it_again_keeps_its_password(platform, credentials):
    assert credentials["created"].startswith("created user ci on ")
    again = ci_user(platform)
    assert again.stdout.startswith("kept the password of user ci"), again.stdout
    assert "MLFLOW_TRACKING_PASSWORD" not in again.stdout
    experiments = f"{platform['uri']}/api/2.0/mlflow/experiments/get-by-name?experiment_name=platform-demo"
    assert http("GET", experiments, auth=auth_of(credentials))[0] == 200  # the first password still works


def test_wrong_admin_credentials_are_said_in_one_sentence(platform):
    refused = ci_user(platform, password="not-the-admin-password", check=False)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.count("\n") == 1 and "refused admin and this password" in refused.stderr


def test_releases_run_with_the_ci_users_credentials(history):
    assert history["mediocre"]["gate"].returncode == 0, history["mediocre"]["gate"].stderr
    assert history["mediocre"]["state"]["aliases"] == {"champion": "1"}
    assert history["worse"]["gate"].returncode == 3, history["worse"]["gate"].stderr
    better = history["better"]["gate"]
    assert better.returncode == 0, better.stdout + better.stderr
    assert history["better"]["state"]["aliases"] == {
        "champion": "3",
        "previous-champion": "1",
        "challenger": "2",
    }
    assert history["rollback"]["run"].returncode == 0, history["rollback"]["run"].stderr
    assert history["rollback"]["state"]["aliases"]["champion"] == "1"
    assert history["show"].splitlines()[3].split()[:2] == ["1", "champion"]


def test_the_bento_is_built_from_the_champion_on_the_server(platform, credentials, history):
    project = platform["project"]
    creds = {k: v for k, v in credentials.items() if k.startswith("MLFLOW_")}
    built = project.run("uv", "run", project.package, "bento", MLFLOW_TRACKING_URI=platform["uri"], **creds)
    assert "serving model version 1" in built.stdout


def test_the_reports_mlflow_link_opens_the_run_on_the_server(platform, credentials, history):
    project, uri = platform["project"], platform["uri"]
    creds = {k: v for k, v in credentials.items() if k.startswith("MLFLOW_")}
    project.run("uv", "run", project.package, "report", "--base", "HEAD~1", MLFLOW_TRACKING_URI=uri, **creds)
    report = project.read("reports/pr/report.md")
    (link,) = re.findall(r"MLflow: \[run \w+\]\(([^)]+)\)", report)
    page, _, route = link.partition("#")
    experiment, run = re.fullmatch(r"/experiments/(\d+)/runs/(\w+)", route).groups()
    status, body = http("GET", page, auth=auth_of(credentials))
    assert status == 200 and "<html" in body.lower()
    status, body = http("GET", f"{uri}/api/2.0/mlflow/runs/get?run_id={run}", auth=auth_of(credentials))
    assert status == 200 and body["run"]["info"]["experiment_id"] == experiment
    assert http("GET", page)[0] == 401  # nobody reads it without credentials


def test_artifacts_land_in_the_bucket_and_runs_in_postgresql(platform, history):
    keys = s3_keys(platform["endpoint"], BUCKET)
    assert sum(key.endswith("/MLmodel") for key in keys) >= 3, keys  # one logged model per release
    assert not (platform["work"] / "mlartifacts").exists()  # nothing written beside the server
    database = platform["database"]
    runs = database.psql(
        "SELECT count(*) FROM runs r JOIN experiments e USING (experiment_id) WHERE e.name = 'platform-demo';"
    )
    assert re.search(r"^\s*3\s*$", runs, flags=re.MULTILINE), runs
    versions = database.psql("SELECT count(*) FROM model_versions WHERE name = 'platform-demo';")
    assert re.search(r"^\s*3\s*$", versions, flags=re.MULTILINE), versions
    users = database.psql("SELECT username, is_admin FROM users ORDER BY username;")
    assert re.search(r"admin\s*\|\s*t", users) and re.search(r"ci\s*\|\s*f", users), users


def test_the_server_refuses_requests_without_credentials_and_grants_nothing_by_default(platform, credentials):
    uri = platform["uri"]
    assert http("GET", f"{uri}/api/2.0/mlflow/experiments/search?max_results=1")[0] == 401
    created = f"{uri}/api/2.0/mlflow/experiments/create"
    status, body = http("POST", created, {"name": "another-team"}, auth=("admin", ADMIN_PASSWORD))
    assert status == 200, body
    other = f"{uri}/api/2.0/mlflow/experiments/get?experiment_id={body['experiment_id']}"
    status, _ = http("GET", other, auth=auth_of(credentials))
    assert status == 403  # default_permission: the CI user sees only what it was granted


def test_a_new_password_replaces_the_old_one_and_says_to_overwrite_the_secret(platform, credentials, history):
    """Last: the module's other tests sign in with the first password."""
    replaced = ci_user(platform, "--new-password").stdout
    assert replaced.startswith("replaced the password of user ci"), replaced
    found, words = store_line(replaced)
    new = found["MLFLOW_TRACKING_PASSWORD"]
    assert "--overwrite-secrets" in words[4] and new != credentials["MLFLOW_TRACKING_PASSWORD"]
    experiments = f"{platform['uri']}/api/2.0/mlflow/experiments/get-by-name?experiment_name=platform-demo"
    assert http("GET", experiments, auth=auth_of(credentials))[0] == 401
    assert http("GET", experiments, auth=("ci", new))[0] == 200
