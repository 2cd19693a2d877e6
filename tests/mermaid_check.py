"""Mermaid charts in markdown, parsed by the real mermaid package from npm (pinned in
tests/mermaid/), the way GitHub reads them before drawing. Installed once into .cache/mermaid."""

import json
import re
import shutil
import subprocess
from pathlib import Path

SOURCE = Path(__file__).parent / "mermaid"
INSTALL = Path(__file__).resolve().parents[1] / ".cache" / "mermaid"
FILES = ("package.json", "package-lock.json", "check.mjs")


def mermaid_blocks(markdown: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)```", markdown, flags=re.DOTALL)


def install() -> Path:
    """`npm ci` of the pinned packages, again only when the lock file changed."""
    assert shutil.which("node") and shutil.which("npm"), "node and npm are needed to check Mermaid charts"
    lock = (SOURCE / "package-lock.json").read_bytes()
    installed = INSTALL / "node_modules" / ".installed-lock.json"
    if not installed.is_file() or installed.read_bytes() != lock:
        INSTALL.mkdir(parents=True, exist_ok=True)
        for name in FILES[:2]:
            shutil.copy(SOURCE / name, INSTALL / name)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=INSTALL, check=True)
        installed.write_bytes(lock)
    shutil.copy(SOURCE / "check.mjs", INSTALL / "check.mjs")
    return INSTALL


def parse(markdown: str) -> list[str]:
    """One line per Mermaid block of the markdown: "ok xychart", or "error <mermaid's message>"."""
    blocks = mermaid_blocks(markdown)
    result = subprocess.run(
        ["node", str(install() / "check.mjs")], input=json.dumps(blocks), capture_output=True, text=True
    )
    lines = result.stdout.splitlines()
    assert len(lines) == len(blocks), result.stderr
    return lines
