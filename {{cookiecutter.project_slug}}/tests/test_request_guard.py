"""The request guard without a server: what it refuses, with which status, and what it lets through."""

import asyncio
import json
import logging

import pytest
from bentoml.exceptions import ServiceUnavailable
from pydantic import BaseModel, ConfigDict, ValidationError

from {{ cookiecutter.package_name }}.request_guard import (
    ClientErrorLog,
    Endpoint,
    Refused,
    RequestGuard,
    check_body,
    check_headers,
    clip,
)

BATCH = Endpoint(max_bytes=1000, fields=3, max_rows=5)
SINGLE = Endpoint(max_bytes=200, fields=3)
ROW = {"a": 1.0, "b": 2.0, "c": 3.0}


def status(check, *args) -> int | None:
    try:
        check(*args)
    except Refused as refused:
        assert refused.args[0].endswith(".") and "\n" not in refused.args[0]  # one sentence
        return refused.status
    return None


def test_headers_json_only_and_content_length_within_the_limit():
    assert status(check_headers, {b"content-type": b"application/json; charset=utf-8"}, BATCH) is None
    assert status(check_headers, {}, BATCH) is None  # no type: JSON, as BentoML reads it
    for media_type in (b"multipart/form-data", b"multipart/form-data; boundary=x", b"text/plain", b"x" * 999):
        assert status(check_headers, {b"content-type": media_type}, BATCH) == 415
    assert status(check_headers, {b"content-length": b"1000"}, BATCH) is None
    assert status(check_headers, {b"content-length": b"1001"}, BATCH) == 413


@pytest.mark.parametrize(
    "body",
    [b"", b" \n", b"hello", b"[" * 100_000, b'{"a\x00": 1}', b"\xff\xfe", json.dumps(ROW).encode() + b"{"],
    ids=["empty", "blank", "not JSON", "deep", "raw NUL", "not UTF-8", "trailing"],
)
def test_bodies_that_are_not_json_are_400(body):
    assert status(check_body, body, BATCH) == status(check_body, body, SINGLE) == 400


def test_rows_are_counted_before_they_are_validated():
    assert status(check_body, json.dumps([ROW] * 5).encode(), BATCH) is None
    assert status(check_body, json.dumps([{}] * 6).encode(), BATCH) == 400
    # A few wrong fields are the request schema's to name; a flood of them is refused whole.
    assert status(check_body, json.dumps([{**ROW, "d": 1, "e": 2}]).encode(), BATCH) is None
    crowded = {f"f{i}": 0 for i in range(7)}
    assert status(check_body, json.dumps([ROW, crowded]).encode(), BATCH) == 400
    assert status(check_body, json.dumps(crowded).encode(), SINGLE) == 400
    # Not a list, or a row not an object: the request schema says what is wrong with it.
    assert status(check_body, b'{"rows": []}', BATCH) is None
    assert status(check_body, b"[1, 2]", BATCH) is None


def test_clip_keeps_a_log_line_one_short_line():
    assert clip("a\nb\x00c") == "a\\x0ab\\x00c"
    assert len(clip("x" * 1_000_000)) == 200 and clip("x" * 1_000_000).endswith("...")


def through_guard(chunks: list[bytes], headers: dict | None = None) -> tuple[int, dict, list]:
    """One POST /predict_batch through the guard in front of an app that answers 200: the status, the
    JSON body, and what reached the app."""
    incoming = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    incoming[-1]["more_body"] = False
    sent, reached = [], []

    async def receive():
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):
        reached.append(await receive())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    headers = list((headers or {}).items())
    scope = {"type": "http", "method": "POST", "path": "/predict_batch", "headers": headers}
    asyncio.run(RequestGuard(app, {"/predict_batch": BATCH})(scope, receive, send))
    return sent[0]["status"], json.loads(sent[1]["body"]), reached


def test_the_guard_refuses_before_the_app_and_hands_on_a_good_body_whole():
    # A chunked body (no Content-Length) is refused as soon as it grows past the limit.
    code, body, reached = through_guard([b"[" + b" " * 600, b" " * 600, b"]"])
    assert (code, reached) == (413, []) and "1000 bytes" in body["error"]
    code, body, reached = through_guard([b"[]"], {b"content-type": b"multipart/form-data"})
    assert (code, reached) == (415, [])
    good = json.dumps([ROW, ROW]).encode()
    code, _, reached = through_guard([good[:10], good[10:]])
    assert (code, reached) == (200, [{"type": "http.request", "body": good, "more_body": False}])


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: float


def _overloaded():
    raise ServiceUnavailable("the service is overloaded; retry")


def test_a_refused_or_shed_request_is_logged_as_one_short_warning_and_a_server_error_is_not(caplog):
    logger = logging.getLogger("test.bentoml.http_app")
    logger.addFilter(ClientErrorLog())
    errors = (lambda: Row.model_validate({"a": 1.0, "x\n" * 100_000: 1}), _overloaded, lambda: 1 / 0)
    for error in errors:
        try:
            error()
        except (ValidationError, ServiceUnavailable, ZeroDivisionError):
            logger.error("Exception on %s [%s]", "/predict", "POST", exc_info=True)  # as BentoML logs
    refused, shed, failed = caplog.records
    assert refused.levelno == logging.WARNING and refused.exc_info is None
    message = refused.getMessage()
    assert message.startswith("POST /predict answered 400: 1 validation error(s), the first at x\\x0ax")
    assert "\n" not in message and len(message) < 300
    assert shed.levelno == logging.WARNING and shed.exc_info is None
    assert shed.getMessage() == "POST /predict answered 503: the service is overloaded; retry"
    assert failed.levelno == logging.ERROR and failed.exc_info
