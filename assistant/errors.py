"""The one error type meant for people.

The CLI prints it as ``Error: ...`` (exit 1), the web UI as a chat message and the HTTP
API as OpenAI-shaped JSON. The message always says what to do next.
"""

from __future__ import annotations


class AssistantError(Exception):
    """A problem the user can act on. ``hint`` is the next step, e.g. a command to run."""

    def __init__(self, message: str, hint: str | None = None, status: int = 400, *,
                 zh: tuple[str, str | None] | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.status = status
        self.zh = zh  # (message, hint) in Chinese, when the code raising it wrote them

    def words(self, lang: str) -> tuple[str, str | None]:
        """(message, hint) in ``lang``, "zh" or "en": the Chinese ones when given, else
        as raised (``assistant.app.i18n.error_text`` also knows some by their text)."""
        if lang == "zh" and self.zh:
            return self.zh
        return self.message, self.hint

    def __str__(self) -> str:
        return f"{self.message}\n  {self.hint}" if self.hint else self.message


class ModelUnavailable(AssistantError):
    """The language model cannot answer now (its process died, or is stopped): the answer
    pipeline quotes the sources instead of failing the turn."""
