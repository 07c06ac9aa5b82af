"""The one error hierarchy. The CLI turns these into one-line messages and exit codes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


def shown_path(path: Path | str) -> str:
    """A path as the user would type it: relative to the current directory when inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input, pointing at the file and line of the offending key."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


class NewsletterError(Exception):
    """Root of every error the tool reports to a user. ``exit_code`` is what the CLI returns."""

    exit_code = 2

    def __init__(
        self, message: str, *, path: Path | str | None = None, line: int | None = None
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.path is None:
            return self.message
        return str(Problem(self.path, self.line, self.message))


class ValidationError(NewsletterError):
    """Input failed validation; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(sorted(set(problems), key=lambda p: (p.path, p.line or 0)))
        super().__init__("\n".join(str(p) for p in self.problems))

    def __str__(self) -> str:
        return self.message


class ConfigError(NewsletterError):
    """newsletter.toml or the environment is wrong."""


class TemplateError(NewsletterError):
    """A template in templates/ failed to load or render; names template and line."""


class RenderError(NewsletterError):
    """MJML or CSS inlining failed for an issue."""


class SubscriberError(NewsletterError):
    """A subscriber list is unreadable or has bad rows."""


class SendError(NewsletterError):
    """Sending could not start or had to stop (not a per-recipient failure: those are data)."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        recipient: str | None = None,
        code: int | None = None,
    ) -> None:
        self.recipient = recipient
        self.code = code
        super().__init__(message, path=path)


class PublishError(NewsletterError):
    """Publishing the archive could not start, or stopped part-way (``exit_code`` 1: what went
    up is recorded, and running the command again resumes)."""

    def __init__(self, message: str, *, path: Path | str | None = None,
                 partial: bool = False) -> None:
        super().__init__(message, path=path)
        if partial:
            self.exit_code = 1
