"""Errors that end a run with one clear line instead of a traceback."""

from __future__ import annotations


class KubeproofError(Exception):
    """A problem the user or the environment must fix (bad option, unreachable cluster...).

    The message is one line that says what is wrong and what to do next; the plugin shows
    it without a traceback and exits non-zero.
    """

    exit_code = 4

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
