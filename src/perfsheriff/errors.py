"""The one error hierarchy of perfsheriff.

Every error a user can cause is a :class:`PerfsheriffError`; the CLI prints its
message on one line and exits non-zero, the API maps it to one JSON envelope.
Anything else escaping is a bug in perfsheriff, never a user mistake::

    PerfsheriffError
    ├── InputError            bad input: says where (file, field or line) and what was expected
    │   ├── FormatError       a result file that does not parse as its format
    │   └── ConfigError       a settings or configuration value that is invalid
    ├── NotFoundError         a named thing (revision, machine, series, ...) does not exist
    ├── GitError              git refused or failed (not a repository, bad range, ...)
    └── StoreError            the database is unreachable or not migrated
"""

from __future__ import annotations

from typing import Self


class PerfsheriffError(Exception):
    """Base of every error perfsheriff reports to a user."""

    #: The request field the error is about, when there is one; the API reports it.
    field: str | None = None

    def about(self, name: str) -> Self:
        """Name the request field this error is about (returns the error, for ``raise``)."""
        self.field = name
        return self


class InputError(PerfsheriffError):
    """Input that perfsheriff cannot accept.

    ``source`` names the file (or ``-`` for standard input), ``where`` the field,
    line or key inside it, ``expected`` what would have been accepted.
    """

    def __init__(self, message: str, *, source: str | None = None, where: str | None = None) -> None:
        self.source = source
        self.where = where
        self.reason = message
        super().__init__(self._compose())

    def _compose(self) -> str:
        location = ""
        if self.source is not None:
            location = self.source
            if self.where:
                location += f", {self.where}"
            location += ": "
        elif self.where:
            location = f"{self.where}: "
        return location + self.reason

    def located(self, source: str) -> Self:
        """Return the same error with ``source`` filled in (parsers do not know file names)."""
        return type(self)(self.reason, source=source, where=self.where)


class FormatError(InputError):
    """A result file that is not valid in its format."""


class ConfigError(InputError):
    """An invalid setting or configuration entry."""


class NotFoundError(PerfsheriffError):
    """A named thing (revision, machine, series, alert) does not exist."""


class ConflictError(PerfsheriffError):
    """The request contradicts the current state: a job already done, a lease no longer held."""


class GitError(PerfsheriffError):
    """git failed or refused: not a repository, unknown revision, bad range."""


class StoreError(PerfsheriffError):
    """The database cannot be used: unreachable, or its schema is not migrated."""
