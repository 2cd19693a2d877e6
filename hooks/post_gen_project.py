"""After generation: what files cannot express. No network.

Initialise git so DVC can track the pipeline; a missing git is reported, not a crash.
"""

import shutil
import subprocess
import sys


def init_git() -> str:
    if shutil.which("git") is None:
        return "git was not found, so the project is not a git repository yet: install git, then run `git init`."
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main"], check=True)
    return "initialised a git repository on branch main."


def main() -> int:
    print(init_git())
    print(
        "Next: cd {{ cookiecutter.project_slug }} && make setup && make repro "
        "(see README.md for how the repository runs on GitHub)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
