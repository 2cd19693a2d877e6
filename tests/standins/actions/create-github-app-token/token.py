"""Stand-in for actions/create-github-app-token: check the inputs, output a token the test knows."""

import hashlib
import os
import re
import sys

PEM = re.compile(r"-----BEGIN (RSA )?PRIVATE KEY-----\s+[A-Za-z0-9+/=\s]+-----END (RSA )?PRIVATE KEY-----")


def fail(message: str) -> None:
    print(f"::error::{message}")
    sys.exit(1)


def main() -> None:
    env = os.environ
    app_id, key = env["INPUT_APP_ID"].strip(), env["INPUT_PRIVATE_KEY"].strip()
    if not app_id:
        fail("Input required and not supplied: app-id")
    if not key:
        fail("Input required and not supplied: private-key")
    if not PEM.fullmatch(key):
        fail("Invalid keyData: private-key is not a PEM-encoded private key")
    if env["INPUT_SKIP_TOKEN_REVOKE"] not in ("true", "false"):
        fail(f"Input skip-token-revoke must be true or false; got '{env['INPUT_SKIP_TOKEN_REVOKE']}'")
    if env["INPUT_REPOSITORIES"] and not env["INPUT_OWNER"]:
        print("::notice::repositories without owner: the owner defaults to the current repository's")
    for item in env["PERMISSIONS"].split():
        name, _, value = item.partition("=")
        if value and value not in ("read", "write", "admin"):
            fail(f"permission-{name} must be read, write or admin; got '{value}'")
    derived = "ghs_" + hashlib.sha256(f"{app_id}:{key}".encode()).hexdigest()[:36]
    token = env.get("STANDIN_APP_TOKEN") or derived
    print(f"::add-mask::{token}")
    with open(env["GITHUB_OUTPUT"], "a") as out:
        out.write(f"token={token}\ninstallation-id=1\napp-slug=standin-app\n")
    print(f"stand-in create-github-app-token: a token for app {app_id}")


if __name__ == "__main__":
    main()
