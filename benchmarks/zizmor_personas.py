"""Figures for the static gate: zizmor findings per persona over every workflow the template can
generate (all answer combinations) and its own, plus the Dependabot configs.

    uv run python benchmarks/zizmor_personas.py

The gate (tests/test_workflows_static.py) asserts none for the regular persona and exactly the
accepted set for pedantic; the auditor persona is printed here for the record.
"""

import contextlib
import io
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.conftest import TEMPLATE, bake
from tests.test_render import COMBINATIONS

ZIZMOR = Path(sys.executable).parent / "zizmor"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = sorted((TEMPLATE / ".github/workflows").glob("*.yml"))
        for index, answers in enumerate(COMBINATIONS):
            with contextlib.redirect_stdout(io.StringIO()):
                project = bake(Path(tmp) / f"combo{index}", **answers)
            files += sorted((project.path / ".github/workflows").glob("*.yml"))
            files.append(project.path / ".github/dependabot.yml")
        print(f"{len(files)} files from {len(COMBINATIONS)} combinations and the template's own workflows")
        for persona in ("regular", "pedantic", "auditor"):
            result = subprocess.run(
                [
                    ZIZMOR,
                    "--offline",
                    "--no-progress",
                    f"--persona={persona}",
                    "--format=json",
                    *map(str, files),
                ],
                check=False,
                capture_output=True,
                text=True,
            )
            findings = json.loads(result.stdout)
            by_audit = Counter(finding["ident"] for finding in findings)
            by_file = Counter(
                Path(f["locations"][0]["symbolic"]["key"]["Local"]["verbatim_path"]).name for f in findings
            )
            print(
                f"{persona:9} {len(findings):3} findings  by audit {dict(by_audit)}  by file {dict(by_file)}"
            )


if __name__ == "__main__":
    main()
