"""The Mermaid check the workflow tests rely on tells a chart mermaid reads from one it rejects."""

import pytest

from .mermaid_check import parse

pytestmark = pytest.mark.slow  # installs mermaid from npm once


def test_mermaid_parses_a_chart_and_rejects_a_broken_one():
    good = '```mermaid\nxychart-beta\n  x-axis ["a", "b"]\n  bar "this PR" [1, 2]\n```\n'
    broken = '```mermaid\nxychart-beta\n  x-axis ["a", "b"]\n  bar "this PR" [1, 2\n```\n'
    assert parse(good + broken)[0] == "ok xychart"
    assert parse(broken)[0].startswith("error Parse error on line 3")


@pytest.mark.parametrize("deploy", ["argocd", "flux", "kustomize"])
def test_the_generated_readmes_pictures_parse(baked, deploy):
    """The README's flow from merge to production is a Mermaid flowchart GitHub can draw."""
    results = parse(baked(deploy=deploy).read("README.md"))
    assert results == ["ok flowchart-v2"]
