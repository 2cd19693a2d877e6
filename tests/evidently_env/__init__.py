"""Evidently 0.7 in an environment of its own, to check the generated drift check against it."""
