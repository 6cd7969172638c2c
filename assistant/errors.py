"""The one error type meant for people.

The CLI prints it as ``Error: ...`` (exit 1), the web UI as a chat message and the HTTP
API as OpenAI-shaped JSON. The message always says what to do next.
"""

from __future__ import annotations


class AssistantError(Exception):
    """A problem the user can act on. ``hint`` is the next step, e.g. a command to run."""

    def __init__(self, message: str, hint: str | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.status = status

    def __str__(self) -> str:
        return f"{self.message}\n  {self.hint}" if self.hint else self.message


class ModelUnavailable(AssistantError):
    """The language model cannot answer now (its process died, or is stopped): the answer
    pipeline quotes the sources instead of failing the turn."""
