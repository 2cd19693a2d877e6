"""What a command hands to GitHub Actions (step outputs, the job summary; no-ops outside Actions),
and a small client of the GitHub REST API for the commands that open issues and pull requests."""

import json
import os
import urllib.error
import urllib.parse
import urllib.request

from .errors import UserError


def set_outputs(**values) -> None:
    """Write `name=value` lines to $GITHUB_OUTPUT so later steps can read `steps.<id>.outputs.<name>`."""
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.writelines(f"{name}={value}\n" for name, value in values.items())


def add_summary(markdown: str) -> None:
    """Append markdown to the job summary page ($GITHUB_STEP_SUMMARY)."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(markdown.rstrip("\n") + "\n\n")


def run_url() -> str:
    """The page of this workflow run, or "" outside Actions."""
    env = os.environ
    if not (env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY")):
        return ""
    server = env.get("GITHUB_SERVER_URL", "https://github.com")
    return f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"


HINTS = {
    401: "the token is missing, wrong or expired",
    403: "the token lacks a permission this needs (the job's `permissions:`), or a setting forbids it",
    404: "the repository or the item does not exist, or the token cannot see it",
    422: "GitHub rejected the request",
}


class GitHub:
    """One repository's REST API, as a workflow step sees it: $GITHUB_API_URL, $GITHUB_REPOSITORY
    and the token in $GITHUB_TOKEN (pass `github.token` to the step's env; it is not there by default)."""

    def __init__(
        self,
        api_url: str | None = None,
        repository: str | None = None,
        token: str | None = None,
        timeout: float = 30,
    ):
        env = os.environ
        self.api_url = (api_url or env.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/")
        self.repository = repository or env.get("GITHUB_REPOSITORY") or ""
        self.token = token or env.get("GITHUB_TOKEN") or ""
        self.timeout = timeout
        if not self.token:
            raise UserError(
                "GITHUB_TOKEN is not set; give the step an env GITHUB_TOKEN with the workflow's token "
                "(github.token) or another one."
            )
        if self.repository.count("/") != 1:
            raise UserError(
                f"GITHUB_REPOSITORY is {self.repository!r}; set it to owner/name (Actions sets it)."
            )

    @property
    def owner(self) -> str:
        return self.repository.split("/")[0]

    def request(self, method: str, path: str, body: dict | None = None, **options):
        """The JSON answer to `method /repos/<repository><path>`; see `api` (errors name `path`)."""
        return self.api(method, f"/repos/{self.repository}{path}", body, shown=path, **options)

    def api(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        *,
        query: dict | None = None,
        accept: tuple[int, ...] = (),
        shown: str | None = None,
    ):
        """The JSON answer to `method <api_url><path>`; None for a status listed in `accept`.
        Any other error status is a UserError naming the call, GitHub's message and the likely cause."""
        url = f"{self.api_url}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self.token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": __package__ or "github-client",
        }
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as error:
            if error.code in accept:
                return None
            call = f"{method} {shown or path}"
            raise UserError(f"GitHub answered {error.code} to {call}: {_message(error)}") from error
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise UserError(f"could not reach the GitHub API at {self.api_url} ({reason}).") from error
        return json.loads(text) if text.strip() else None

    def list(self, path: str, query: dict | None = None, pages: int = 10, key: str | None = None) -> list:
        """Every item of a list endpoint, 100 a page, up to `pages` pages; `key` names the list in
        answers that wrap it (`{"total_count": n, key: [...]}`)."""
        items: list = []
        for page in range(1, pages + 1):
            answer = self.request("GET", path, query={**(query or {}), "per_page": 100, "page": page})
            batch = ((answer or {}).get(key) if key else answer) or []
            items += batch
            if len(batch) < 100:
                break
        return items


def _message(error: urllib.error.HTTPError) -> str:
    try:
        answer = json.loads(error.read().decode() or "{}")
    except ValueError:
        answer = {}
    message = str(answer.get("message") or error.reason).strip().splitlines()[0]
    errors = [e for e in answer.get("errors") or [] if isinstance(e, dict)]
    details = [e.get("message") or f"{e.get('field')} {e.get('code')}" for e in errors]
    if details:
        message += f" ({'; '.join(details)})"
    hint = _missing_permission(error.headers) if error.code in (403, 404) else ""
    hint = hint or HINTS.get(error.code)
    return f"{message}; {hint}." if hint else f"{message}."


def _missing_permission(headers) -> str:
    """What GitHub says the call needs: a fine-grained permission, or a classic token's scope."""
    fine = (headers.get("X-Accepted-GitHub-Permissions") or "").strip()
    scopes = (headers.get("X-Accepted-OAuth-Scopes") or "").strip()
    if fine:
        wanted = " or ".join(part.replace("=", ": ") for part in fine.split(";"))
        classic = f" (a classic token: the scope {scopes})" if scopes else ""
        return f"the token needs the permission {wanted}{classic}"
    return f"the token needs the scope {scopes}" if scopes else ""
