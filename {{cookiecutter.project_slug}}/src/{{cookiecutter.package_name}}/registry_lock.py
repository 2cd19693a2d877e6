"""One registry command at a time per registered model, and completion of one that was cut short.

MLflow has no transactions, but creating a registered model is atomic: of two creations of one
name, one fails. The lock is a registered model `<name>.lock` whose tags name its holder and when
it expires; its holder renews it at every step and checks it is still the holder after every
alias it writes (fencing). A holder that died frees it when it expires (`promotion.lock_seconds`).

Before moving aliases, the holder records on the registered model what it is about to write (tag
`registry.pending`); the next command that takes the lock completes an interrupted write first.
"""

import json
import os
import random
import socket
import time
import uuid

from .errors import UserError

HOLDER, EXPIRES, PENDING = "holder", "expires", "registry.pending"
DEFAULT_SECONDS = 60  # between two renewals a holder scores models at most: seconds, not minutes


class RegistryLock:
    def __init__(self, client, name: str, seconds: float | None = None):
        self.client, self.name, self.lock = client, name, f"{name}.lock"
        self.seconds = float(seconds or DEFAULT_SECONDS)
        self.wait = self.seconds * 3  # a live holder renews; three terms without one is a stuck registry
        self.me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, failed, *_):
        try:
            if self._holder()[0] == self.me:
                self.client.delete_registered_model(self.lock)
        except Exception:
            if failed is None:  # else the command's own error is the one to report
                raise

    def _holder(self) -> tuple[str | None, float]:
        from mlflow.exceptions import MlflowException

        try:
            tags = self.client.get_registered_model(self.lock).tags
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None, 0.0
            raise
        return tags.get(HOLDER), float(tags.get(EXPIRES, 0))

    def acquire(self) -> None:
        from mlflow.exceptions import MlflowException

        deadline = time.monotonic() + self.wait
        while True:
            try:
                self.client.create_registered_model(
                    self.lock,
                    tags={HOLDER: self.me, EXPIRES: str(time.time() + self.seconds)},
                    description=f"held while a registry command changes {self.name}; see registry_lock.py",
                )
                return
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
            holder, expires = self._holder()
            if holder == self.me:  # our own creation, whose answer was lost
                return
            if holder is not None and expires < time.time():  # its holder died: free it
                self._delete_quietly()
                continue
            if time.monotonic() > deadline:
                raise UserError(
                    f"{self.name} is locked by another registry command ({holder}) for "
                    f"{max(expires - time.time(), 0):.0f} s more; run this again when it is done."
                )
            time.sleep(0.2 + random.random() * 0.5)

    def _delete_quietly(self) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.delete_registered_model(self.lock)
        except MlflowException as exc:  # another waiter freed it first
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise

    def check(self) -> None:
        """Fencing and renewal: still the holder, for `seconds` more; else stop before writing more."""
        holder, _ = self._holder()
        if holder != self.me:
            raise UserError(
                f"this command lost the lock on {self.name} to {holder} (it stalled past "
                "promotion.lock_seconds); run it again: the next command completes what it started."
            )
        self.client.set_registered_model_tag(self.lock, EXPIRES, str(time.time() + self.seconds))

    # The journal of alias writes.
    def complete_pending(self) -> dict | None:
        """Finish the writes an interrupted command recorded; returns what they were, if any."""
        from mlflow.exceptions import MlflowException

        try:
            text = self.client.get_registered_model(self.name).tags.get(PENDING)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":  # nothing registered yet
                return None
            raise
        if not text:
            return None
        entry = json.loads(text)
        self.apply(entry)
        return entry

    def write(self, op: str, aliases: dict[str, str], drop: list[str], tags: dict[str, dict[str, str]]):
        """Record, then set `aliases` in order, delete `drop`, tag versions; a cut leaves it finishable."""
        entry = {"op": op, "aliases": aliases, "drop": drop, "tags": tags}
        self.check()
        self.client.set_registered_model_tag(self.name, PENDING, json.dumps(entry))
        self.apply(entry)

    def apply(self, entry: dict) -> None:
        from mlflow.exceptions import MlflowException

        for alias, version in entry["aliases"].items():
            self.client.set_registered_model_alias(self.name, alias, version)
            self.check()
        for alias in entry["drop"]:
            try:
                self.client.delete_registered_model_alias(self.name, alias)
            except MlflowException as exc:  # already gone: deleted before a cut
                if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise
        for version, tags in entry["tags"].items():
            for key, value in tags.items():
                self.client.set_model_version_tag(self.name, version, key, value)
        self.client.delete_registered_model_tag(self.name, PENDING)
