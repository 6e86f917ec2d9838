"""sfbkit's exceptions. Every one is an :class:`Error` and names, where it can, the stage, a short class and
what to do (``hint``). None ever carries a password, token, ticket or key."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .types import SignInReport

__all__ = [
    "CommandFailed",
    "ConfigurationError",
    "Error",
    "InternalError",
    "LabError",
    "NotSignedIn",
    "SignInFailed",
    "SignOutFailed",
    "WrongEventLoop",
]


class Error(Exception):
    """The base of every sfbkit exception."""

    stage: Optional[str]
    """The stage the failure belongs to (``Authentication``, ``Configuration``...), when there is one."""
    error_class: Optional[str]
    """A short, stable class for scripts (``refused``, ``untrusted-server``, ``not-signed-in``...)."""
    hint: Optional[str]
    """What a person can do about it."""

    def __init__(
        self,
        message: str,
        *,
        stage: Optional[str] = None,
        error_class: Optional[str] = None,
        hint: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.stage = stage
        self.error_class = error_class
        self.hint = hint

    @property
    def message(self) -> str:
        """The error in words."""
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        return self.message + (f" (hint: {self.hint})" if self.hint else "")


class ConfigurationError(Error):
    """The client's options are not usable (a bad SIP URI, server name, CA file, option value...)."""


class SignInFailed(Error):
    """A sign-in failed. ``report`` says what happened, stage by stage; ``stage``, ``error_class`` and ``hint``
    are the failed step's."""

    report: SignInReport
    """The full report of the failed sign-in."""

    def __init__(self, report: SignInReport) -> None:
        last = next((s for s in reversed(report.stages) if s.outcome == "Failure"), None)
        super().__init__(
            f"sign-in of {report.user} failed: {report.error or 'see the report'}",
            stage=last.stage if last else None,
            error_class=report.error_class,
            hint=report.hint or (last.hint if last else None),
        )
        self.report = report


class NotSignedIn(Error):
    """The client is not signed in (never was, signed out, or gave up after losing its registration)."""


class CommandFailed(Error):
    """The server refused a command, or it did not finish (``error_class``: ``refused``, ``timeout``,
    ``publication-conflict``, ``contact-list-fault``, ``contacts-in-exchange``, ``invalid-request``)."""

    code: Optional[str]
    """The SIP status code, for ``refused``."""

    def __init__(
        self,
        message: str,
        *,
        stage: Optional[str] = None,
        error_class: Optional[str] = None,
        hint: Optional[str] = None,
        code: Optional[str] = None,
    ) -> None:
        super().__init__(message, stage=stage, error_class=error_class, hint=hint)
        self.code = code


class SignOutFailed(Error):
    """Sign-out did not finish cleanly; the connection is closed anyway."""


class WrongEventLoop(Error):
    """The client was used from another thread or event loop than the one it belongs to, or after that loop
    closed. Build one client per event loop (``sfbkit.blocking.Client`` has a loop of its own)."""


class InternalError(Error):
    """sfbkit failed internally (a Rust panic). The interpreter goes on; build a new client."""


class LabError(Error):
    """The lab pool could not start, or a lab hook was used after it stopped."""
