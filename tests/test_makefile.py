"""The generated Makefile's targets whose command exits non-zero on a result, not on a failure.

`drift` exits 1 when it finds drift, `promote` and `release` exit 3 when the gate keeps the champion:
scripts and CI call the commands and read those statuses. The make targets, for people, say the
result in a line and succeed; any other non-zero status stops make. A stand-in for `uv run` (the
Makefile's RUN) gives each status without installing the project.
"""

import subprocess

import pytest

from .conftest import bake, clean_env

RESULTS = {
    "drift": (1, "drift found: see the drift.md written above"),
    "promote": (3, "not promoted: the champion stays"),
    "release": (3, "not promoted: the champion stays"),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    work = tmp_path_factory.mktemp("makefile")
    fake = work / "fake-run"
    fake.write_text('#!/bin/sh\necho "ran: $*"\nexit "$FAKE_STATUS"\n')
    fake.chmod(0o755)
    return bake(work), fake


def make(project, target: str, status: int) -> subprocess.CompletedProcess:
    baked, fake = project
    return subprocess.run(
        ["make", "--no-print-directory", target, f"RUN={fake}"],
        cwd=baked.path, env=clean_env(FAKE_STATUS=str(status)), capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize("target", RESULTS)
def test_a_result_is_said_in_a_line_and_the_target_succeeds(project, target):
    status, line = RESULTS[target]
    result = make(project, target, status)
    assert result.returncode == 0, result.stderr
    _, ran, said = result.stdout.splitlines()  # the command as make echoes it, its output, the result
    assert (ran, said[: len(line)]) == (f"ran: {project[0].package} {target}", line)
    assert "Error" not in result.stdout + result.stderr


@pytest.mark.parametrize("target", RESULTS)
def test_success_says_nothing_more(project, target):
    result = make(project, target, 0)
    assert (result.returncode, result.stdout.splitlines()[1:]) == (0, [f"ran: {project[0].package} {target}"])


@pytest.mark.parametrize(("target", "status"), [("drift", 2), ("drift", 3), ("promote", 2), ("promote", 1)])
def test_an_error_stops_make(project, target, status):
    result = make(project, target, status)
    assert result.returncode != 0
    assert f"Error {status}" in result.stderr
    assert RESULTS[target][1] not in result.stdout
