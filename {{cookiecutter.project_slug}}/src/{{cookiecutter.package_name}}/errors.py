"""Errors a user can cause and fix: reported as one sentence, never a traceback."""


class UserError(Exception):
    """Bad input or configuration; the message says what was wrong and what to do."""

    exit_code = 2
