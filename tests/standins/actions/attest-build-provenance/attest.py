"""actions/attest-build-provenance stand-in: check the subject as the real action does, record it."""

import json
import os
import re
import sys
import uuid
from pathlib import Path

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
NAME = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+")


def fail(message: str) -> None:
    print(f"::error::{message}")
    sys.exit(1)


def main() -> None:
    env = os.environ
    out = env.get("STANDIN_OUTPUT_DIR") or fail(
        "stand-in: STANDIN_OUTPUT_DIR must name the directory for records"
    )
    name, digest = env.get("INPUT_SUBJECT_NAME", ""), env.get("INPUT_SUBJECT_DIGEST", "")
    if not (env.get("INPUT_SUBJECT_PATH") or env.get("INPUT_SUBJECT_CHECKSUMS") or digest):
        fail("One of subject-path, subject-digest, or subject-checksums must be provided")
    if digest and not name:
        fail("subject-name must be provided when using subject-digest")
    if digest and not DIGEST.fullmatch(digest):
        fail(f"subject-digest must be in the format '<algorithm>:<digest>': {digest!r}")
    push = env.get("INPUT_PUSH_TO_REGISTRY") == "true"
    if push and not NAME.fullmatch(name):
        fail(f"subject-name {name!r} is not an image name without tag or digest; it cannot be pushed to")
    if not env.get("INPUT_GITHUB_TOKEN"):
        fail("Input required and not supplied: github-token")
    registry = name.split("/", 1)[0]
    logins = Path(out) / "docker/logins"
    logged = logins.is_file() and any(
        line.split(" ")[0] == registry for line in logins.read_text().splitlines()
    )
    if push and not logged:
        fail(f"push-to-registry: no credentials for {registry} (log in with docker/login-action first)")
    attestation = uuid.uuid4().int % 10**8
    repository = env.get("GITHUB_REPOSITORY", "")
    url = f"{env.get('GITHUB_SERVER_URL', 'https://github.com')}/{repository}/attestations/{attestation}"
    record = {"subject_name": name, "subject_digest": digest, "push_to_registry": push, "url": url}
    with open(Path(out) / "attestations.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
    bundle = Path(env.get("RUNNER_TEMP", out)) / f"attestation-{attestation}.jsonl"
    bundle.write_text(json.dumps({"subject": record}) + "\n")
    with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as handle:
        handle.write(f"bundle-path={bundle}\nattestation-id={attestation}\nattestation-url={url}\n")
    print(f"stand-in attest-build-provenance: attested {name}@{digest}")


if __name__ == "__main__":
    main()
