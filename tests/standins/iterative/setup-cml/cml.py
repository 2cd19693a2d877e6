"""Stand-in for the CML command line (npm @dvcorg/cml): `cml comment create|update` and `cml runner launch`.

Command line, defaults and errors follow CML's bin/cml.js and bin/cml/comment/create.js;
the comment logic follows src/cml.js commentCreate, src/watermark.js and the GitHub
driver: the report gets CML's watermark, local images are uploaded to --publish-url,
and with `update` the last pull request comment carrying the same watermark is edited
instead of a new one being posted. Differences, on purpose: the REST API is the one at
GITHUB_API_URL (real CML derives it from the repository URL; on GitHub both are the same
host), only addresses on this machine are ever contacted, and every call is appended to
$STANDIN_OUTPUT_DIR/cml-calls.jsonl for the tests.

`cml runner launch` takes the options of bin/cml/runner/launch.js (types, defaults, choices,
conflicts, CML_RUNNER_* variables) and fails where CML does before an instance exists: no token,
no Terraform, and, with --cloud, none of that cloud's credentials in the environment (where the
iterative Terraform provider would fail; that message is the stand-in's own words). It launches
nothing and makes no REST call: it records the options, where the token came from and which
credential variables were set (names only), and logs what CML would, as CML's JSON lines.
"""

import base64
import ipaddress
import json
import mimetypes
import os
import random
import re
import shutil
import string
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

WATERMARK_IMAGE = "https://cml.dev/watermark.png"
GLOBAL = {"log": "string", "driver": "string", "repo": "string", "driver-token": "string"}
COMMENT = {
    "target": "string",
    "pr": "boolean",
    "commit-sha": "string",
    "watch": "boolean",
    "trigger-file": "string",
    "publish": "boolean",
    "publish-url": "string",
    "publish-native": "boolean",
    "update": "boolean",
    "rm-watermark": "boolean",
    "watermark-title": "string",
}
ALIASES = {"head-sha": "commit-sha", "native": "publish-native", "token": "driver-token"}
DEFAULTS = {"log": "info", "publish": True, "publish-url": "https://asset.cml.dev", "watermark-title": ""}
CHOICES = {"log": ("error", "warn", "info", "debug"), "driver": ("github", "gitlab", "bitbucket")}
USAGE = """cml comment <command>

Commands:
  cml comment create <markdown file>  Create a comment
  cml comment update <markdown file>  Update a comment

Global Options:
  --log, --driver, --repo, --driver-token (--token), --help
Options:
  --target, --watch, --publish, --publish-url, --publish-native (--native), --watermark-title"""


# bin/cml/runner/launch.js; `name` defaults to a random cml-<id>, --cloud-gpu=nogpu means none.
LAUNCH = {
    "labels": "string", "idle-timeout": "string", "name": "string", "no-retry": "boolean",
    "single": "boolean", "reuse": "boolean", "reuse-idle": "boolean", "workdir": "string",
    "docker-volumes": "array", "cloud": "string", "cloud-region": "string", "cloud-type": "string",
    "cloud-permission-set": "string", "cloud-metadata": "array", "cloud-gpu": "string",
    "cloud-hdd-size": "number", "cloud-ssh-private": "string", "cloud-spot": "boolean",
    "cloud-spot-price": "number", "cloud-startup-script": "string", "cloud-aws-security-group": "string",
    "cloud-aws-subnet": "string", "cloud-kubernetes-node-selector": "array", "cloud-image": "string",
    "tpi-version": "string", "cml-version": "string", "tf-resource": "string", "destroy-delay": "number",
}  # fmt: skip
LAUNCH_ALIASES = {"path": "workdir", "cloud-aws-subnet-id": "cloud-aws-subnet", "tf_resource": "tf-resource"}
LAUNCH_DEFAULTS = {
    "labels": "cml", "idle-timeout": "5 minutes", "docker-volumes": [], "cloud-region": "us-west",
    "cloud-permission-set": "", "cloud-metadata": [], "cloud-spot-price": -1, "cloud-aws-security-group": "",
    "cloud-aws-subnet": "", "cloud-kubernetes-node-selector": [], "tpi-version": ">= 0.9.10", "destroy-delay": 10,
}  # fmt: skip
LAUNCH_CHOICES = {"cloud": ("aws", "azure", "gcp", "kubernetes")}
LAUNCH_CONFLICTS = (("single", "reuse"), ("single", "reuse-idle"), ("reuse", "reuse-idle"))
# What the iterative Terraform provider reads for each cloud: any one group, every variable of it set.
CLOUD_CREDENTIALS = {
    "aws": (("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),),
    "azure": (("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_SUBSCRIPTION_ID", "AZURE_TENANT_ID"),),
    "gcp": (("GOOGLE_APPLICATION_CREDENTIALS_DATA",), ("GOOGLE_APPLICATION_CREDENTIALS",)),
    "kubernetes": (("KUBERNETES_CONFIGURATION",), ("KUBECONFIG_DATA",), ("KUBECONFIG",)),
}
CREDENTIAL_NAMES = sorted(
    {n for groups in CLOUD_CREDENTIALS.values() for g in groups for n in g} | {"AWS_SESSION_TOKEN"}
)
SENSITIVE = ("driver-token", "cloud-ssh-private", "cloud-startup-script")
SECONDS = {  # timestring's units, in seconds (a month is four weeks, a year 365.25 days)
    **dict.fromkeys(("ms", "milli", "millisecond", "milliseconds"), 0.001),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "week", "weeks"), 604800),
    **dict.fromkeys(("mon", "mth", "mths", "month", "months"), 2419200),
    **dict.fromkeys(("y", "yr", "yrs", "year", "years"), 31557600),
}
LAUNCH_USAGE = """cml runner launch

Launch and register a self-hosted runner
https://cml.dev/doc/ref/runner

Options:
  --labels, --idle-timeout, --name, --no-retry, --single, --reuse, --reuse-idle, --docker-volumes,
  --cloud, --cloud-region, --cloud-type, --cloud-permission-set, --cloud-metadata, --cloud-gpu,
  --cloud-hdd-size, --cloud-ssh-private, --cloud-spot, --cloud-spot-price, --cloud-startup-script,
  --cloud-aws-security-group, --cloud-aws-subnet, --cloud-kubernetes-node-selector
Global Options:
  --log, --driver, --repo, --driver-token (--token), --help"""


class CMLError(Exception):
    pass


def usage_error(message: str, usage: str = USAGE) -> None:
    """What yargs does on a bad command line: help, then the message, exit 1."""
    print(usage, file=sys.stderr)
    print("\n" + message, file=sys.stderr)
    sys.exit(1)


def kebab(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "-" + m.group(1).lower(), name)


def read_options(rest: list[str], spec: dict, aliases: dict, usage: str) -> tuple[dict, list[str], list[str]]:
    """yargs' reading of a command line: --name=value, --name value, --no-name, booleans and arrays."""
    opts: dict = {}
    positional, unknown = [], []
    i = 0
    while i < len(rest):
        arg = rest[i]
        i += 1
        if arg in ("--help", "-h"):
            print(usage)
            sys.exit(0)
        if not arg.startswith("--"):
            positional.append(arg)
            continue
        name, has_value, value = arg[2:].partition("=")
        name = aliases.get(kebab(name), kebab(name))
        negated = not has_value and name.startswith("no-") and name[3:] in spec
        if negated:
            name = name[3:]
        if name not in spec:
            unknown.append(arg[2:].partition("=")[0])
            continue
        if spec[name] == "boolean":
            if negated:
                opts[name] = False
            elif has_value:
                opts[name] = value.lower() not in ("false", "0", "")
            elif i < len(rest) and rest[i] in ("true", "false"):
                opts[name] = rest[i] == "true"
                i += 1
            else:
                opts[name] = True
        elif spec[name] == "array":
            values = [value] if has_value else []
            while not has_value and i < len(rest) and not rest[i].startswith("--"):
                values.append(rest[i])
                i += 1
            opts[name] = opts.get(name, []) + values
        elif has_value:
            opts[name] = value
        elif i < len(rest) and not rest[i].startswith("--"):
            opts[name] = rest[i]
            i += 1
        else:
            opts[name] = ""
    return opts, positional, unknown


def read_env(opts: dict, spec: dict, prefix: str, aliases: dict) -> None:
    """yargs .env(prefix) for the command's options (and their aliases); bin/cml.js's .env('CML') for the
    global ones."""
    for name, kind in spec.items():
        for key in (name, *(alias for alias, target in aliases.items() if target == name)):
            for variable in (
                f"{prefix}{key.upper().replace('-', '_')}",
                f"CML_{key.upper().replace('-', '_')}",
            ):
                if (
                    name not in opts
                    and variable in os.environ
                    and (variable.startswith(prefix) or name in GLOBAL)
                ):
                    raw = os.environ[variable]
                    opts[name] = (
                        raw.lower() not in ("false", "0", "")
                        if kind == "boolean"
                        else [raw]
                        if kind == "array"
                        else raw
                    )


def check_choices(opts: dict, choices: dict, usage: str) -> None:
    for name, allowed in choices.items():
        if name in opts and opts[name] not in allowed:
            usage_error(
                f'Invalid values:\n  Argument: {name}, Given: "{opts[name]}", '
                f"Choices: {', '.join(repr(c) for c in allowed)}",
                usage,
            )


def parse(argv: list[str]) -> tuple[str, dict, list[str]]:
    if argv[:1] in (["--help"], ["-h"], []):
        print(USAGE)
        sys.exit(0)
    if argv[0] != "comment" or len(argv) < 2 or argv[1] not in ("create", "update"):
        raise CMLError(
            f"stand-in implements only `cml comment create|update` and `cml runner launch`, not: cml {' '.join(argv)}"
        )
    command, rest = argv[1], argv[2:]
    spec = {**GLOBAL, **COMMENT}
    opts, positional, unknown = read_options(rest, spec, ALIASES, USAGE)
    unknown += positional[1:]
    if unknown:
        usage_error(f"Unknown argument{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
    if not positional:
        usage_error("Not enough non-option arguments: got 0, need at least 1")
    read_env(opts, spec, "CML_COMMENT_", ALIASES)  # global CML_* are aliased to it by bin/cml.js
    for name, value in DEFAULTS.items():
        opts.setdefault(name, value)
    check_choices(opts, CHOICES, USAGE)
    for a, b in (
        ("watermark-title", "rm-watermark"),
        ("pr", "target"),
        ("pr", "commit-sha"),
        ("commit-sha", "target"),
    ):
        explicit = a in opts and (a != "watermark-title" or opts[a] != "")
        if explicit and opts.get(b) not in (None, False):
            usage_error(f"Arguments {a} and {b} are mutually exclusive")
    if command == "update":
        opts["update"] = True
    return command, opts, positional[:1]


def loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise CMLError(f"Command failed: git {' '.join(args)}\n{result.stderr.strip()}")
    return result.stdout.strip()


class GitHub:
    """The few REST calls CML's GitHub driver makes for comments."""

    def __init__(self, repo_url: str, token: str):
        self.api = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
        if not loopback(self.api):
            raise CMLError(
                f"stand-in: GITHUB_API_URL {self.api} is not on this machine; point it at the test's API"
            )
        self.owner, self.name = urllib.parse.urlsplit(repo_url).path.strip("/").split("/")[:2]
        self.token = token

    def call(self, method: str, path: str, body: dict | None = None):
        request = urllib.request.Request(
            f"{self.api}/repos/{self.owner}/{self.name}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"token {self.token}",
                "Accept": "application/vnd.github.v3+json",
                "Content-Type": "application/json",
                "User-Agent": "cml-standin",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            detail = json.loads(err.read() or b"{}").get("message", err.reason)
            raise CMLError(f"{detail} - {method} {path} ({err.code})") from None


class Watermark:
    def __init__(self, label: str, sha: str):
        # JavaScript String.replace with a string pattern replaces the first occurrence only.
        label = label.replace("{workflow}", os.environ.get("GITHUB_WORKFLOW", "undefined"), 1)
        label = label.replace("{run}", os.environ.get("GITHUB_RUN_ID", "undefined"), 1)
        title = f"CML watermark {label}".strip()
        for char in "_*[<":
            title = title.replace(char, "\\" + char)
        self.title, self.sha = title, sha

    def __str__(self) -> str:
        return f'![]({WATERMARK_IMAGE}#{self.sha} "{self.title}")'

    def is_in(self, text: str) -> bool:
        pattern = rf"!\[\]\({re.escape(WATERMARK_IMAGE)}#[0-9a-fA-F]+ \"{re.escape(self.title)}\"\)"
        return re.search(pattern, text) is not None


def upload(publish_url: str, name: str, data: bytes, mime: str) -> str:
    if not loopback(publish_url):
        raise CMLError(
            f"stand-in: would upload {name} to {publish_url}, a host outside this machine; "
            "give --publish-url an address of the test's asset server"
        )
    request = urllib.request.Request(
        publish_url,
        data=data,
        method="POST",
        headers={
            "Content-Type": mime,
            "Content-Length": str(len(data)),
            "Content-Disposition": f'inline; filename="{name}"',
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        uri = response.read().decode().strip()
    if not uri:
        raise CMLError(f"Empty response from asset backend with status code {response.status}")
    parts = urllib.parse.urlsplit(uri)
    query = urllib.parse.parse_qsl(parts.query) + [
        ("cml", mime.split("/")[1]),
        ("cache-bypass", str(uuid.uuid4())),
    ]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


LINK = re.compile(r'(!?\[[^\]]*\]\()([^)\s]+)((?:\s+"[^"]*")?\))|^(\s*\[[^\]]+\]:\s*)(\S+)', re.MULTILINE)


def publish_local_files(report: str, markdown_file: Path, publish_url: str, uploaded: list) -> str:
    """Replace links to local files (and data: images) by their uploaded address, as CML does."""

    def replace(match: re.Match) -> str:
        head, url, tail = (
            (match.group(1), match.group(2), match.group(3))
            if match.group(1)
            else (match.group(4), match.group(5), "")
        )
        if (tail and '"CML watermark' in tail) or re.match(r"^[a-z][a-z0-9+.-]*://", url):
            return match.group(0)
        if url.startswith("data:image/"):
            mime = url[5 : url.index(";")]
            new = upload(
                publish_url, f"file.{mime.split('/')[1]}", base64.b64decode(url.split(",", 1)[1]), mime
            )
        else:
            path = (markdown_file.parent / urllib.parse.unquote(url)).resolve()
            if not path.is_file():
                return match.group(0)  # CML leaves links to missing files alone
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            new = upload(publish_url, path.name, path.read_bytes(), mime)
            uploaded.append({"file": str(path), "url": new})
        return f"{head}{new}{tail}"

    return LINK.sub(replace, report)


def event() -> dict:
    path = os.environ.get("GITHUB_EVENT_PATH")
    return json.loads(Path(path).read_text()) if path and Path(path).is_file() else {}


def forge(opts: dict) -> tuple[str, str, str | None]:
    """src/cml.js: the repository, the token and where it came from (inferToken), the GitHub driver."""
    source = "--token" if opts.get("driver-token") else None
    if not source:
        names = ("REPO_TOKEN", "repo_token", "GITHUB_TOKEN", "GITLAB_TOKEN", "BITBUCKET_TOKEN")
        source = next((name for name in names if os.environ.get(name)), None)
    token = opts.get("driver-token") or (os.environ[source] if source else "")
    repo = (opts.get("repo") or git("config", "--get", "remote.origin.url")).rstrip("/").removesuffix(".git")
    driver = opts.get("driver") or (
        "github"
        if urllib.parse.urlsplit(repo).hostname == "github.com" or os.environ.get("GITHUB_REPOSITORY")
        else None
    )
    if not driver:
        raise CMLError("driver not set")
    if driver != "github":
        raise CMLError(f"stand-in implements the github driver only, not {driver}")
    if not token:
        raise CMLError("token not found")
    return repo, token, source


def comment(opts: dict, markdown_file: Path) -> tuple[str, dict]:
    repo, token, _ = forge(opts)
    if opts.get("watch"):
        raise CMLError("stand-in: --watch waits for file changes forever; it is not supported here")
    if opts.get("rm-watermark") and opts.get("update"):
        raise CMLError("watermarks are mandatory for updatable comments")
    payload = event()
    is_pr = os.environ.get("GITHUB_EVENT_NAME") in ("pull_request", "pull_request_target")
    sha = (payload["pull_request"]["head"]["sha"] if is_pr else os.environ.get("GITHUB_SHA")) or git(
        "rev-parse", "HEAD"
    )
    try:
        report = markdown_file.read_text()
    except FileNotFoundError:
        raise CMLError(f"ENOENT: no such file or directory, open '{markdown_file}'") from None
    watermark = (
        None
        if opts.get("rm-watermark")
        else Watermark(opts["watermark-title"], opts.get("commit-sha") or sha)
    )
    if watermark:
        report = f"{report}\n\n{watermark}"
    uploaded: list = []
    if opts["publish"]:
        if opts.get("publish-native"):
            raise CMLError("Github does not support publish!")
        report = publish_local_files(report, markdown_file, opts["publish-url"], uploaded)

    api = GitHub(repo, token)
    target = (opts.get("target") or ("pr" if opts.get("pr") else "auto")).lower()
    if opts.get("commit-sha"):
        target = f"commit/{opts['commit-sha']}"
    if target in ("pr", "auto"):
        number = payload["pull_request"]["number"] if is_pr else None
        if not number:
            prs = api.call("GET", f"/commits/{sha}/pulls")
            number = int(prs[0]["html_url"].rsplit("/", 1)[1]) if prs else None
        if number:
            target = f"pr/{number}"
        elif target == "auto":
            target = f"commit/{sha}"
        else:
            raise CMLError(f'PR for commit sha "{sha}" not found')
    kind, _, ident = target.partition("/")
    if kind not in ("pr", "issue", "commit") or not ident:
        raise CMLError(f'unsupported comment target "{target}"')
    listing, create, edit = (
        (f"/commits/{ident}/comments", f"/commits/{ident}/comments", "/comments/{id}")
        if kind == "commit"
        else (f"/issues/{ident}/comments", f"/issues/{ident}/comments", "/issues/comments/{id}")
    )
    action, found = "created", None
    if opts.get("update"):
        found = next(
            (c for c in reversed(api.call("GET", listing)) if not watermark or watermark.is_in(c["body"])),
            None,
        )
    if found:
        result, action = api.call("PATCH", edit.format(id=found["id"]), {"body": report}), "updated"
    else:
        result = api.call("POST", create, {"body": report})
    return result["html_url"], {"target": target, "action": action, "report": report, "uploaded": uploaded}


def log(level: str, message: str) -> None:
    """CML's winston logger off a terminal: one JSON object per line, on stderr."""
    print(json.dumps({"level": level, "message": message}), file=sys.stderr)


def seconds(value: str) -> int | float:
    """The coerce of --idle-timeout: an integer is seconds, anything else goes through timestring."""
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    groups = re.findall(r"[-+]?[0-9.]+[a-z]+", re.sub(r"[^.\w+-]+", "", value.lower()))
    if not groups:
        raise CMLError(f"The string [{value}] could not be parsed by timestring")
    total = 0.0
    for number, unit in (re.fullmatch(r"([-+]?[0-9.]+)([a-z]+)", g).groups() for g in groups):
        if unit not in SECONDS:
            raise CMLError(f"The unit [{unit}] is not supported by timestring")
        total += float(number) * SECONDS[unit]
    return int(total) if total.is_integer() else total


def number(value) -> int | float | str:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return "NaN"  # what yargs makes of a number option it cannot read
    return int(result) if result.is_integer() else result


def terraform_version() -> str:
    """src/terraform.js checkMinVersion: `terraform version -json`, at least 0.14.0."""
    if not shutil.which("terraform"):
        raise CMLError("Command failed: terraform version\n/bin/sh: 1: terraform: not found")
    result = subprocess.run(
        ["terraform", "version", "-json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},  # no update check over the network
    )
    version = json.loads(result.stdout or "{}").get("terraform_version", "0")
    if tuple(int(x) for x in re.findall(r"\d+", version)[:3]) < (0, 14, 0):
        raise CMLError(f"Terraform version must be greater that 14: current {version}")
    return version


def runner_launch(argv: list[str], record: dict) -> None:
    """bin/cml/runner/launch.js up to the point where Terraform would create the instance."""
    spec = {**GLOBAL, **LAUNCH}
    opts, positional, unknown = read_options(argv, spec, {**ALIASES, **LAUNCH_ALIASES}, LAUNCH_USAGE)
    unknown += positional
    if unknown:
        usage_error(f"Unknown argument{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}", LAUNCH_USAGE)
    read_env(opts, spec, "CML_RUNNER_", {**ALIASES, **LAUNCH_ALIASES})
    for a, b in LAUNCH_CONFLICTS:  # yargs: both given, whatever their values; named as `conflicts` names them
        if a in opts and b in opts:
            camel = re.sub(r"-(\w)", lambda m: m.group(1).upper(), b)
            usage_error(f"Arguments {a} and {camel} are mutually exclusive", LAUNCH_USAGE)
    for name, value in {**DEFAULTS, **LAUNCH_DEFAULTS}.items():
        if name in spec:
            opts.setdefault(name, value)
    opts.setdefault("name", "cml-" + "".join(random.choices(string.ascii_lowercase + string.digits, k=8)))
    check_choices(opts, {**CHOICES, **LAUNCH_CHOICES}, LAUNCH_USAGE)
    if opts.get("cloud-gpu") == "nogpu":
        del opts["cloud-gpu"]
    for name in ("cloud-hdd-size", "cloud-spot-price", "destroy-delay"):
        if name in opts:
            opts[name] = number(opts[name])
    record["options"] = {k: ("***" if k in SENSITIVE else v) for k, v in sorted(opts.items())}
    record["credentials"] = [name for name in CREDENTIAL_NAMES if os.environ.get(name)]
    record["token_from"] = None
    opts["idle-timeout"] = record["options"]["idle-timeout"] = seconds(str(opts["idle-timeout"]))
    repo, _, record["token_from"] = forge(opts)  # CML's middleware, then repoTokenCheck
    if opts.get("reuse") or opts.get("reuse-idle"):
        raise CMLError(
            "stand-in: --reuse and --reuse-idle look up the repository's runners; not supported here"
        )
    cloud = opts.get("cloud")
    if not cloud:
        raise CMLError("stand-in: without --cloud CML runs the runner on this machine; not supported here")
    log("warn", "Github Actions timeout has been updated from 72h to 35 days. Update your workflow accordingly to be able to restart it automatically.")  # fmt: skip
    if os.environ.get("RUNNER_NAME"):
        log("warn", "ignoring RUNNER_NAME environment variable, use CML_RUNNER_NAME or --name instead")
    log("info", f"Preparing workdir {opts.get('workdir') or Path.home() / '.cml' / opts['name']}...")
    log("info", "Deploying cloud runner plan...")
    log("info", "Terraform apply...")
    record["terraform"] = terraform_version()
    if opts.get("cloud-gpu") == "tesla":
        log("warn", 'GPU model "tesla" has been deprecated; please use "v100" instead.')
    groups = CLOUD_CREDENTIALS[cloud]
    if not any(all(os.environ.get(name) for name in group) for group in groups):
        wanted = " or ".join(" and ".join(group) for group in groups)
        raise CMLError(f"terraform apply: the iterative provider found no {cloud} credentials: set {wanted}")
    log("info", json.dumps({
        "cloud": cloud, "driver": "github", "idleTimeout": opts["idle-timeout"],
        "instanceGpu": opts.get("cloud-gpu"), "instanceHddSize": opts.get("cloud-hdd-size"),
        "instanceType": opts.get("cloud-type"), "labels": opts["labels"], "name": opts["name"],
        "region": opts["cloud-region"], "repo": repo, "single": bool(opts.get("single")),
        "spot": bool(opts.get("cloud-spot")), "spotPrice": opts["cloud-spot-price"],
    }))  # fmt: skip
    print("stand-in: no instance was launched", file=sys.stderr)
    record["launched"] = False


def main(argv: list[str]) -> int:
    record: dict = {"argv": ["cml", *argv], "cwd": os.getcwd()}
    runner = argv[:2] == ["runner", "launch"]
    try:
        if runner:
            record["command"] = "runner launch"
            record["run"] = {
                "id": os.environ.get("GITHUB_RUN_ID"),
                "attempt": os.environ.get("GITHUB_RUN_ATTEMPT"),
            }
            runner_launch(argv[2:], record)
            record["returncode"] = 0
        else:
            _, opts, (markdown,) = parse(argv)
            url, details = comment(opts, Path(markdown))
            record.update(details, url=url, returncode=0)
            print(url)
    except CMLError as err:
        record.update(error=str(err), returncode=1)
        if runner:
            log("error", str(err))
        else:
            print(f"error: {err}", file=sys.stderr)
    except SystemExit as exit_:
        record["returncode"] = exit_.code
    out = os.environ.get("STANDIN_OUTPUT_DIR")
    if out:
        with open(Path(out) / "cml-calls.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
    return record["returncode"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
