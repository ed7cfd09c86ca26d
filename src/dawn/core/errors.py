"""The one error type users see: a problem and its fix, in one line."""

from __future__ import annotations


class DawnError(Exception):
    """An error caused by the user's input or environment, not by a bug in dawn.

    The message names the problem and, after ``fix``, what to do about it. The CLI prints it as one
    line and exits with status 2, without a traceback.

    Parameters
    ----------
    problem : str
        What went wrong, e.g. ``"unknown dataset 'corra'"``.
    fix : str, optional
        What to do, e.g. ``"run `dawn data list` to see the registered names"``.
    """

    exit_code = 2

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}; {fix}" if fix else problem)

    def one_line(self) -> str:
        """The message with newlines folded, for a terminal."""
        return " ".join(str(self).split())
