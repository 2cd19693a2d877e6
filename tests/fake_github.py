"""A recording stand-in for the GitHub REST API, for workflows run under act.

Implements only what the generated workflows and the `github` commands call (the repository, issue
and pull request comments, issues with labels, labels, pull requests, CML's asset upload, and the
settings in fake_github_settings.py), keeps state in memory, records every request, answers 401
without an Authorization header as GitHub does, and checks every API request against GitHub's REST
API description (github_rest_spec.py): a request GitHub would not take is answered 422 and kept
in `violations`.
Start it with `with FakeGitHub() as gh:` and give `gh.url` to the workflow as
GITHUB_API_URL.
"""

import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import parse_qs, unquote, urlsplit

from .fake_github_settings import SettingsRoutes
from .github_rest_spec import violation


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict
    body: object


@dataclass
class Repo:
    issues: dict = field(default_factory=dict)  # number -> issue or pull request (GitHub shares the numbers)
    comments: dict = field(default_factory=dict)  # id -> comment, with "issue_number"
    labels: dict = field(default_factory=dict)  # name -> label


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeGitHub(SettingsRoutes):
    def __init__(
        self,
        token: str | None = None,
        *,
        every_repo_exists: bool = True,
        git_root: Path | None = None,
        login: str = "your-github-user",
    ):
        self.token = token  # when set, any other token is "Bad credentials"
        self.every_repo_exists = every_repo_exists  # else only the repositories created through the API
        self._settings_init(git_root, login)
        self.requests: list[Request] = []
        self.violations: list[str] = []
        self.assets: dict[str, tuple[str, bytes]] = {}
        self.repos: dict[str, Repo] = {}
        self.description, self.license = "A demo model", "MIT"  # what GET /repos/{owner}/{repo} reports
        self._ids = itertools.count(1001)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def asset_url(self) -> str:
        """Where CML's --publish-url can point: uploads are kept in `assets`."""
        return f"{self.url}/cml-assets"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # State helpers for tests.
    def repo(self, full_name: str) -> Repo:
        return self.repos.setdefault(full_name, Repo())

    def add_pull(
        self,
        full_name: str,
        number: int,
        head: str,
        base: str = "main",
        title: str = "A change",
        head_sha: str = "",
    ) -> dict:
        pull = {
            "number": number,
            "title": title,
            "state": "open",
            "body": "",
            "labels": [],
            "head": {"ref": head, "sha": head_sha},
            "base": {"ref": base},
            "pull_request": {},
            "html_url": f"https://github.com/{full_name}/pull/{number}",
        }
        self.repo(full_name).issues[number] = pull
        return pull

    def comments(self, full_name: str, number: int) -> list[dict]:
        return [c for c in self.repo(full_name).comments.values() if c["issue_number"] == number]

    def issues(self, full_name: str) -> list[dict]:
        return [i for i in self.repo(full_name).issues.values() if "pull_request" not in i]

    def pulls(self, full_name: str) -> list[dict]:
        return [i for i in self.repo(full_name).issues.values() if "pull_request" in i]

    def calls(self, method: str, pattern: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]

    # HTTP.
    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet: the requests are recorded instead
                pass

            def _any(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                is_json = "json" in (self.headers.get("Content-Type") or "") or parts.path.startswith(
                    "/repos/"
                )
                try:
                    body = json.loads(raw) if raw and is_json else raw
                except json.JSONDecodeError:
                    return self._reply(400, {"message": "Problems parsing JSON"})
                request = Request(self.command, parts.path, parse_qs(parts.query), dict(self.headers), body)
                with fake._lock:
                    fake.requests.append(request)
                    status, payload, *headers = fake._route(request)
                self._reply(status, payload, *headers)

            def _reply(self, status, payload, headers=None):
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header(
                    "Content-Type", "text/plain" if isinstance(payload, bytes) else "application/json"
                )
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

        return Handler

    def _route(self, request: Request) -> tuple[int, object]:
        path = request.path.rstrip("/")
        if path.startswith("/cml-assets"):
            return self._assets(request)
        auth = request.headers.get("Authorization") or request.headers.get("authorization")
        if not auth:
            return 401, {"message": "Requires authentication"}
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("token", "bearer") or (self.token and token != self.token):
            return 401, {"message": "Bad credentials"}
        wrong = violation(request.method, path, request.query, request.body)
        if wrong:
            self.violations.append(wrong)
            return 422, {"message": f"Invalid request: {wrong}"}
        for method, pattern, handler in self._root_routes():
            found = re.fullmatch(pattern, path)
            if found and method == request.method:
                return handler(request, *found.groups())
        match = re.fullmatch(r"/repos/([^/]+/[^/]+)(/.*)?", path)
        if not match or not (self.every_repo_exists or match.group(1) in self.created):
            return 404, {"message": "Not Found"}
        full_name, rest = match.group(1), match.group(2) or ""
        routes = [(m, p, None, h) for m, p, h in self._routes()] + self._settings_routes()
        for method, pattern, kind, handler in routes:
            found = re.fullmatch(pattern, rest)
            if found and method == request.method:
                return self._denied(kind, method) or handler(full_name, request, *found.groups())
        return 404, {"message": "Not Found"}

    def _routes(self):
        return [
            ("GET", r"", self._get_repo),
            ("GET", r"/issues/(\d+)/comments", self._list_comments),
            ("POST", r"/issues/(\d+)/comments", self._create_comment),
            ("PATCH", r"/issues/comments/(\d+)", self._update_comment),
            ("GET", r"/issues", self._list_issues),
            ("POST", r"/issues", self._create_issue),
            ("PATCH", r"/issues/(\d+)", self._update_issue),
            ("GET", r"/labels/([^/]+)", self._get_label),
            ("POST", r"/labels", self._create_label),
            ("GET", r"/pulls", self._list_pulls),
            ("POST", r"/pulls", self._create_pull),
            ("PATCH", r"/pulls/(\d+)", self._update_pull),
            ("GET", r"/commits/([0-9a-f]+)/pulls", self._commit_pulls),
        ]

    @staticmethod
    def _page(items: list, query: dict) -> list:
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        return items[(page - 1) * per_page : page * per_page]

    def _get_repo(self, full_name, request):
        return 200, self._repo_json(full_name)

    def _repo_json(self, full_name: str) -> dict:
        owner, name = full_name.split("/")
        created = self.created.get(full_name, {})
        return {
            "name": name,
            "full_name": full_name,
            "owner": {"login": owner},
            "html_url": f"https://github.com/{full_name}",
            "clone_url": created.get("clone_url", f"https://github.com/{full_name}.git"),
            "private": created.get("private", False),
            "description": self.description,
            "license": {"spdx_id": self.license},
            "default_branch": "main",
        }

    def _issue(self, full_name: str, number: str) -> dict | None:
        return self.repo(full_name).issues.get(int(number))

    def _list_comments(self, full_name, request, number):
        if not self._issue(full_name, number):
            return 404, {"message": "Not Found"}
        return 200, self._page(self.comments(full_name, int(number)), request.query)

    def _create_comment(self, full_name, request, number):
        issue = self._issue(full_name, number)
        if not issue:
            return 404, {"message": "Not Found"}
        if not isinstance(request.body, dict) or not isinstance(request.body.get("body"), str):
            return 422, {"message": 'Invalid request.\n\n"body" wasn\'t supplied.'}
        comment_id = next(self._ids)
        comment = {
            "id": comment_id,
            "issue_number": int(number),
            "body": request.body["body"],
            "user": {"login": "github-actions[bot]"},
            "created_at": now(),
            "updated_at": now(),
            "html_url": f"{issue['html_url']}#issuecomment-{comment_id}",
        }
        self.repo(full_name).comments[comment_id] = comment
        return 201, comment

    def _update_comment(self, full_name, request, comment_id):
        comment = self.repo(full_name).comments.get(int(comment_id))
        if not comment:
            return 404, {"message": "Not Found"}
        if not isinstance(request.body, dict) or not isinstance(request.body.get("body"), str):
            return 422, {"message": 'Invalid request.\n\n"body" wasn\'t supplied.'}
        comment.update(body=request.body["body"], updated_at=now())
        return 200, comment

    def _list_issues(self, full_name, request):
        state = request.query.get("state", ["open"])[0]
        labels = {x for x in request.query.get("labels", [""])[0].split(",") if x}
        items = [
            i
            for i in self.repo(full_name).issues.values()
            if state in ("all", i["state"]) and labels <= {lb["name"] for lb in i["labels"]}
        ]
        return 200, self._page(sorted(items, key=lambda i: -i["number"]), request.query)

    def _new_number(self, full_name: str) -> int:
        return max(self.repo(full_name).issues, default=0) + 1

    def _create_issue(self, full_name, request):
        body = request.body if isinstance(request.body, dict) else {}
        if not body.get("title"):
            return 422, {
                "message": "Validation Failed",
                "errors": [{"field": "title", "code": "missing_field"}],
            }
        number = self._new_number(full_name)
        issue = {
            "number": number,
            "title": body["title"],
            "body": body.get("body") or "",
            "state": "open",
            "labels": [{"name": name} for name in body.get("labels", [])],
            "html_url": f"https://github.com/{full_name}/issues/{number}",
            "created_at": now(),
        }
        self.repo(full_name).issues[number] = issue
        return 201, issue

    def _update_issue(self, full_name, request, number):
        issue = self._issue(full_name, number)
        if not issue:
            return 404, {"message": "Not Found"}
        body = request.body if isinstance(request.body, dict) else {}
        for key in ("title", "body", "state"):
            if key in body:
                issue[key] = body[key]
        if "labels" in body:
            issue["labels"] = [{"name": name} for name in body["labels"]]
        return 200, issue

    @staticmethod
    def _invalid(name: str, code: str) -> tuple[int, dict]:
        return 422, {"message": "Validation Failed", "errors": [{"field": name, "code": code}]}

    def _get_label(self, full_name, request, name):
        label = self.repo(full_name).labels.get(unquote(name))
        return (200, label) if label else (404, {"message": "Not Found"})

    def _create_label(self, full_name, request):
        body = request.body if isinstance(request.body, dict) else {}
        name, color = body.get("name"), body.get("color", "ededed")
        if not name:
            return self._invalid("name", "missing_field")
        if not re.fullmatch(r"[0-9a-fA-F]{6}", str(color)):
            return self._invalid("color", "invalid")
        if name in self.repo(full_name).labels:
            return self._invalid("name", "already_exists")
        label = {"name": name, "color": color, "description": body.get("description") or ""}
        self.repo(full_name).labels[name] = label
        return 201, label

    def _list_pulls(self, full_name, request):
        state = request.query.get("state", ["open"])[0]
        head = request.query.get("head", [""])[0].partition(":")[2]
        items = [
            p
            for p in self.pulls(full_name)
            if state in ("all", p["state"]) and (not head or p["head"]["ref"] == head)
        ]
        return 200, self._page(items, request.query)

    def _create_pull(self, full_name, request):
        body = request.body if isinstance(request.body, dict) else {}
        missing = [k for k in ("title", "head", "base") if not body.get(k)]
        if missing:
            return 422, {
                "message": "Validation Failed",
                "errors": [{"field": k, "code": "missing_field"} for k in missing],
            }
        if any(p["head"]["ref"] == body["head"] and p["state"] == "open" for p in self.pulls(full_name)):
            return 422, {
                "message": "Validation Failed",
                "errors": [{"message": f"A pull request already exists for {body['head']}."}],
            }
        pull = self.add_pull(
            full_name, self._new_number(full_name), body["head"], body["base"], body["title"]
        )
        pull["body"] = body.get("body") or ""
        return 201, pull

    def _update_pull(self, full_name, request, number):
        pull = self._issue(full_name, number)
        if not pull or "pull_request" not in pull:
            return 404, {"message": "Not Found"}
        body = request.body if isinstance(request.body, dict) else {}
        if "state" in body and body["state"] not in ("open", "closed"):
            return self._invalid("state", "invalid")
        for key in ("title", "body", "state"):
            if key in body:
                pull[key] = body[key]
        if "base" in body:
            pull["base"] = {"ref": body["base"]}
        return 200, pull

    def _commit_pulls(self, full_name, request, sha):
        return 200, [p for p in self.pulls(full_name) if p["head"].get("sha") == sha]

    def _assets(self, request):
        if request.method == "POST":
            name = re.search(r'filename="([^"]+)"', request.headers.get("Content-Disposition", ""))
            key = f"{len(self.assets) + 1}-{name.group(1) if name else 'file'}"
            self.assets[key] = (request.headers.get("Content-Type", ""), request.body)
            return 200, f"{self.asset_url}/{key}".encode()
        key = request.path.rsplit("/", 1)[-1]
        return (200, self.assets[key][1]) if key in self.assets else (404, {"message": "Not Found"})
