"""Registry states, as tests/registry_faults.py records them, compared as a user would audit them."""

VARYING_TAGS = {"run_id", "git.commit", "git.dirty"}  # differ between two equally correct runs


def comparable(state: dict) -> dict:
    """A registry state without what differs between two equally correct runs (ids, hashes, times)."""
    return {
        **state,
        "versions": {
            number: {**version, "tags": {k: v for k, v in version["tags"].items() if k not in VARYING_TAGS}}
            for number, version in state["versions"].items()
        },
    }
