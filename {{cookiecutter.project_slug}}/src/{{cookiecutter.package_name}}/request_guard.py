"""The service's guard: a request the model cannot take is refused with a 4xx before BentoML reads it.

BentoML reads a body of any size and type, then parses and validates it whole in the event loop
that serves every request, and answers a body its parser trips on with a 500. This ASGI middleware,
in front of the JSON endpoints, refuses a client's mistake with one sentence and bounds the work a
request can cause before BentoML sees it:

- 415: a body that is not `application/json` (multipart, form, text, ...);
- 413: a body over the endpoint's byte limit, seen from Content-Length before anything is read,
  or while a chunked body is read;
- 400: a body that is not JSON (malformed, nested deeper than the parser's limit, raw control
  characters, not UTF-8), a batch of more rows than the endpoint takes, or a row with far more
  fields than the schema has features (each unknown field would cost its own validation error).

What passes is handed on unchanged; BentoML validates it against the request schema. Every 4xx,
the guard's and BentoML's, and every 503 the batcher sheds under overload, is logged as one
WARNING line, with what the client sent cut short.
"""

import json
import logging
import re
from dataclasses import dataclass

import pydantic_core
from bentoml.exceptions import ServiceUnavailable
from pydantic import ValidationError

CLIP = 200  # the longest piece of a request a log line or an error message repeats
JSON = b"application/json"
logger = logging.getLogger(__name__)


def clip(text: str, limit: int = CLIP) -> str:
    """`text` as one printable line of at most `limit` characters: a request cannot split or flood the log."""
    text = re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\x{ord(m[0]):02x}", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Endpoint:
    """What one endpoint takes: a body of at most `max_bytes`, rows of about `fields` fields, and for a
    batch endpoint a JSON array of at most `max_rows` rows (None: the body is one row)."""

    max_bytes: int
    fields: int
    max_rows: int | None = None


class Refused(Exception):
    """A client's mistake: the status to answer and one sentence that says what to change."""

    def __init__(self, status: int, sentence: str):
        super().__init__(sentence)
        self.status = status


def check_headers(headers: dict[bytes, bytes], endpoint: Endpoint) -> None:
    """Refuse a body that is not JSON, or is too large, from the headers alone (nothing read yet)."""
    # Without a Content-Type BentoML reads the body as JSON, and so does the guard.
    media_type = headers.get(b"content-type", JSON).split(b";")[0].strip().lower()
    if media_type != JSON:
        sent = clip(media_type.decode("latin-1"), 80)
        raise Refused(415, f"send the body as JSON with Content-Type: application/json, not {sent}.")
    length = headers.get(b"content-length", b"")
    if length.isdigit() and int(length) > endpoint.max_bytes:
        raise too_large(endpoint)


def too_large(endpoint: Endpoint) -> Refused:
    hint = f"; send at most {endpoint.max_rows} rows per request" if endpoint.max_rows else ""
    return Refused(413, f"the body is larger than the {endpoint.max_bytes} bytes this endpoint takes{hint}.")


def check_body(body: bytes, endpoint: Endpoint) -> None:
    """Refuse a body that is not JSON, or whose validation would cost far more than a valid body's."""
    if not body.strip():
        raise Refused(400, "the body is empty: send the row (or the batch of rows) as JSON.")
    try:
        parsed = pydantic_core.from_json(body)  # depth-limited, strict about bytes: no exception escapes
    except ValueError as exc:
        raise Refused(400, f"the body is not valid JSON: {clip(str(exc))}.") from None
    rows = [parsed]
    if endpoint.max_rows is not None and isinstance(parsed, list):
        if len(parsed) > endpoint.max_rows:
            sentence = f"a batch takes at most {endpoint.max_rows} rows, not {len(parsed)}: split it up."
            raise Refused(400, sentence)
        rows = parsed
    # A few extra or missing fields are named one by one by the request schema; thousands are refused whole.
    for i, row in enumerate(rows):
        if isinstance(row, dict) and len(row) > 2 * endpoint.fields:
            where = f"row {i}" if endpoint.max_rows is not None else "the row"
            sentence = f"{where} has {len(row)} fields; a row has one per feature, {endpoint.fields} in all."
            raise Refused(400, sentence)


async def read_body(receive, endpoint: Endpoint) -> bytes:
    """The whole body, refused as soon as it grows past the limit (a chunked body has no Content-Length)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refused(400, "the client closed the connection before the body was complete.")
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > endpoint.max_bytes:
            raise too_large(endpoint)
        if not message.get("more_body"):
            return b"".join(chunks)


def log_refusal(method: str, path: str, status: int, reason: str) -> None:
    logger.warning("%s %s answered %d: %s", method, path, status, clip(reason))


class RequestGuard:
    """ASGI middleware: the checks above for POSTs to `endpoints` ({path: Endpoint}); other requests pass."""

    def __init__(self, app, endpoints: dict[str, Endpoint]):
        self.app, self.endpoints = app, endpoints

    async def __call__(self, scope, receive, send) -> None:
        endpoint = self.endpoints.get(scope["path"]) if scope["type"] == "http" else None
        if endpoint is None or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        try:
            check_headers(dict(scope["headers"]), endpoint)
            body = await read_body(receive, endpoint)
            check_body(body, endpoint)
        except Refused as refused:
            log_refusal(scope["method"], scope["path"], refused.status, str(refused))
            answer = json.dumps({"error": str(refused)}).encode()
            headers = [(b"content-type", JSON), (b"content-length", str(len(answer)).encode())]
            await send({"type": "http.response.start", "status": refused.status, "headers": headers})
            return await send({"type": "http.response.body", "body": answer})

        replayed = False

        async def replay():  # the body as read, then whatever the server says next (a disconnect)
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class ClientErrorLog(logging.Filter):
    """BentoML logs a request it refuses as an exception: ERROR, a traceback, and the client's input in
    full. For a client's mistake (a 4xx), and for a request shed under overload (a 503 that says what
    happened, and would come by the hundred), this filter makes the record one WARNING line like the
    guard's. Any other 5xx keeps its traceback: it is a bug to fix."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        status = 400 if isinstance(error, ValidationError) else int(getattr(error, "error_code", 500))
        expected = status < 500 or isinstance(error, ServiceUnavailable)
        if expected and len(record.args or ()) == 2:
            path, method = record.args  # BentoML's "Exception on %s [%s]"
            if isinstance(error, ValidationError):
                first = error.errors(include_url=False)[0]
                where = clip(".".join(str(part) for part in first["loc"]), 80) or "body"
                reason = f"{error.error_count()} validation error(s), the first at {where}: {first['msg']}"
            else:
                reason = str(error)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args = "%s %s answered %d: %s", (method, path, status, clip(reason))
            record.exc_info = record.exc_text = None
        return True
